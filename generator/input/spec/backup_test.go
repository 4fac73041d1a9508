package spec_test

import (
	"testing"

	"github.com/ksgen/ksgen/generator/input/spec"
)

// TestBackupCalendar pins the OnCalendar of each kind of etcd.backupPeriod:
// KubeKey's expressions under a day, 02:00 for a day, and no calendar for
// periods a calendar cannot repeat evenly (generator/internal/render/etcd has systemd
// compute the elapses of every accepted one).
func TestBackupCalendar(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		minutes int
		want    string
	}{
		{1, "*-*-* *:00/1:00"},
		{30, "*-*-* *:00/30:00"},
		{60, "*-*-* 00/1:00:00"},
		{720, "*-*-* 00/12:00:00"},
		{1440, "*-*-* 02:00:00"},
		{0, ""}, {-30, ""}, {7, ""}, {45, ""}, {90, ""}, {300, ""}, {1439, ""}, {2880, ""},
	} {
		got, ok := spec.BackupCalendar(tc.minutes)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("BackupCalendar(%d) = %q, %v; want %q", tc.minutes, got, ok, tc.want)
		}
	}
	if got := spec.BackupPeriods(); got[len(got)-1] != spec.DefaultBackupPeriod {
		t.Errorf("BackupPeriods() = %v, want KubeKey's default last", got)
	}
}
