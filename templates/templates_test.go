package templates

import (
	"os/exec"
	"testing"
)

// Every value survives a real shell byte for byte, metacharacters included.
func TestShellQuoteRoundTrip(t *testing.T) {
	for _, v := range []string{"", "Asia/Shanghai", "a b", `it's`, `$(touch /tmp/x)`, "`id`", `"\"`, "x\ny", `'';'`, "*?[]{}~!#&|;<>"} {
		out, err := exec.Command("bash", "-c", `printf %s `+ShellQuote(v)).Output()
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if string(out) != v {
			t.Errorf("ShellQuote(%q) reads back as %q", v, out)
		}
	}
}
