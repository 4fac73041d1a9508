package spec_test

import (
	"testing"
	"time"

	"github.com/ksgen/ksgen/generator/input/spec"
)

func TestJoinWindowDuration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, window, ttl string
		want              time.Duration
		always, err       bool
	}{
		{"default", "", "24h", 0, true, false},
		{"always", "always", "24h", 0, true, false},
		{"always with a token that never expires", "always", "0s", 0, true, false},
		{"never is the token's TTL", "never", "24h", 24 * time.Hour, false, false},
		{"never with a short TTL", "never", "10m", 10 * time.Minute, false, false},
		{"a duration", "720h", "24h", 720 * time.Hour, false, false},
		{"shorter than the TTL", "1h", "24h", time.Hour, false, false},
		{"days", "30d", "24h", 0, false, true},
		{"zero", "0s", "24h", 0, false, true},
		{"negative", "-1h", "24h", 0, false, true},
		{"never without expiry", "never", "0s", 0, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, always, err := spec.ConfigSpec{JoinWindow: tc.window, BootstrapTokenTTL: tc.ttl}.JoinWindowDuration()
			if (err != nil) != tc.err || d != tc.want || always != tc.always {
				t.Errorf("JoinWindowDuration(%q, ttl %q) = %s, %v, %v; want %s, %v, error %v", tc.window, tc.ttl, d, always, err, tc.want, tc.always, tc.err)
			}
		})
	}
}
