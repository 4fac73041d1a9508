package addons_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/internal/plantest"
	"github.com/ksgen/ksgen/generator/internal/render/addons"
)

// hostile is a value the shell would read as several words, commands,
// expansions and globs if it were pasted unquoted.
const hostile = "it's $(touch pwned); `touch pwned` & | > < * ? ~ # ! \\ \" {b,c} ${HOME} $1\ttab  two  spaces "

// TestSpecValuesArriveByteExact is the quoting proof of issue 13: a spec
// whose timezone, mirror URL and names carry shell metacharacters is refused
// with a path and a line wherever the value's form is fixed, and where any
// text is allowed (addon sources, chart values) the value passes shellcheck
// and reaches the program byte for byte: through addons.env sourced by bash,
// and through addons.sh into kubectl's and helm's argv.
func TestSpecValuesArriveByteExact(t *testing.T) {
	t.Parallel()
	refused := []struct{ name, extra, value, path string }{
		{"timezone", "  system:\n    timezone: \"%s\"\n", "Asia/Shanghai;touch pwned", "spec.system.timezone"},
		{"mirror URL", "  registry:\n    registryMirrors: [\"%s\"]\n", "https://mirror.example.com/$(touch pwned)", "spec.registry.registryMirrors[0]"},
		{"mirror host", "  registry:\n    registryMirrors: [\"%s\"]\n", "https://mirror`touch pwned`", "spec.registry.registryMirrors[0]"},
		{"private registry", "  registry:\n    privateRegistry: \"%s\"\n", "harbor.local/x#y&z", "spec.registry.privateRegistry"},
		{"NTP server", "  system:\n    ntpServers: [\"%s\"]\n", "ntp.example.com iburst; touch pwned", "spec.system.ntpServers[0]"},
		{"CRI socket", "  kubernetes:\n    containerManager: containerd\n    containerRuntimeEndpoint: \"%s\"\n", "unix:///run/x.sock'$(touch pwned)'", "spec.kubernetes.containerRuntimeEndpoint"},
		{"addon name", "  addons:\n  - name: \"%s\"\n", "nfs;touch pwned", "spec.addons[0].name"},
		{"addon namespace", "  addons:\n  - name: nfs\n    namespace: \"%s\"\n", "$(touch pwned)", "spec.addons[0].namespace"},
		// w3's entry in the hosts list gets the label (host names: the
		// corpus's host-invalid-name).
		{"host label", "labels: {a: \"%s\"}", "$(touch pwned)", "spec.hosts[5].labels.a"},
	}
	for _, c := range refused {
		text := plantest.HA(fmt.Sprintf(c.extra, c.value))
		if strings.HasPrefix(c.path, "spec.hosts[5].") {
			entry := "{name: w3, address: 10.0.0.13, internalAddress: 10.0.0.13"
			text = strings.Replace(plantest.HA(""), entry, entry+", "+fmt.Sprintf(c.extra, c.value), 1)
		}
		if !strings.Contains(text, "containerManager") {
			text += "  kubernetes: {containerManager: containerd}\n" // as kk create config writes it
		}
		_, r := spec.Load([]byte(text))
		want := 1 + slices.IndexFunc(strings.Split(text, "\n"), func(l string) bool { return strings.Contains(l, c.value) })
		if len(r.Entries) != 1 || r.Entries[0].Path != c.path || r.Entries[0].Line != want || r.Entries[0].Severity != spec.Error ||
			!errors.Is(r.Entries[0].Err, spec.ErrInvalidValue) {
			var got []string
			for _, e := range r.Entries {
				got = append(got, e.String())
			}
			t.Errorf("%s %q: findings %q, want one error at %s (line %d)", c.name, c.value, got, c.path, want)
		}
	}

	// Accepted: the forms are fixed (timezone, mirror, registry) or any text
	// is allowed and quoted (sources, chart values).
	values := []string{hostile, "glob=*", "multi=\nline", "plain=1"}
	var list strings.Builder
	for _, v := range values {
		fmt.Fprintf(&list, "        - %q\n", v)
	}
	specYAML := plantest.HA(`  system:
    timezone: America/Port-au-Prince
  registry:
    privateRegistry: harbor.local:8443
    namespaceOverride: library
    registryMirrors: ["https://mirror.example.com:5000/v2"]
  addons:
  - name: metrics
    namespace: kube-system
    sources:
      yaml: {path: ["https://example.com/x.yaml?a=1&b=$(touch pwned)", "dir with space/m'e $x.yaml"]}
  - name: nfs
    namespace: storage
    sources:
      chart:
        name: nfs-subdir-external-provisioner
        repo: https://charts.example.com
        version: 4.0.18
        valuesFile: "my values;.yaml"
        values:
` + list.String())
	sb := newSandbox(t, specYAML)
	wantCmds := [][]string{
		{"kubectl", "apply", "-f", "https://example.com/x.yaml?a=1&b=$(touch pwned)", "--namespace", "kube-system"},
		{"kubectl", "apply", "-f", "/opt/ksgen/assets/addons/metrics/dir with space/m'e $x.yaml", "--namespace", "kube-system"},
		append([]string{"helm", "upgrade", "--install", "nfs", "nfs-subdir-external-provisioner",
			"--repo", "https://charts.example.com", "--version", "4.0.18", "--namespace", "storage", "--create-namespace",
			"--values", "/opt/ksgen/assets/addons/nfs/my values;.yaml"}, setFlags(values)...),
	}

	// addons.env, sourced by bash: every variable holds the value, byte for byte.
	env := filepath.Join(sb.dir, "root", addons.EnvFile)
	read := `set -euo pipefail; . "$1"
printf '%s\0' "$IMAGE_PREFIX" "$ADDON_COUNT" "$ADDON_0_NAME" "$ADDON_2_NAME"
for i in 0 1 2; do declare -n cmd="ADDON_${i}_CMD"; printf '%s\0' "${#cmd[@]}" "${cmd[@]}"; unset -n cmd; done`
	cmd := exec.Command("bash", "-c", read, "read", env)
	cmd.Dir = sb.dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("source addons.env: %v\n%s", err, sb.read("root"+addons.EnvFile))
	}
	want := []string{"harbor.local:8443/library", "3", "metrics", "nfs"}
	for _, c := range wantCmds {
		want = append(want, fmt.Sprint(len(c)))
		want = append(want, c...)
	}
	if got := split0(out); !slices.Equal(got, want) {
		t.Errorf("addons.env read back by bash:\n got %q\nwant %q\n%s", got, want, sb.read("root"+addons.EnvFile))
	}

	// addons.sh: the programs get the same argv; nothing was executed from a value.
	record := `n=$(find "$FAKE_DIR" -name 'argv.*' | wc -l); printf '%s\0' "$(basename "$0")" "$@" > "$FAKE_DIR/argv.$(printf %02d "$n")"`
	sb.write("bin/kubectl", "#!/bin/bash\n[ \"$1\" = get ] && exit 0\n"+record+"\n", 0o755)
	sb.write("bin/helm", "#!/bin/bash\n"+record+"\n", 0o755)
	if out, err := sb.run("addons.sh", "addons"); err != nil {
		t.Fatalf("addons.sh addons: %v\n%s", err, out)
	}
	for i, w := range wantCmds {
		raw, err := os.ReadFile(filepath.Join(sb.dir, "bin", fmt.Sprintf("argv.%02d", i)))
		if err != nil {
			t.Fatalf("command %d did not run: %v", i, err)
		}
		if got := split0(raw); !slices.Equal(got, w) {
			t.Errorf("command %d argv:\n got %q\nwant %q", i, got, w)
		}
	}
	for _, dir := range []string{sb.dir, filepath.Join(sb.dir, "hooks"), filepath.Join(sb.dir, "bin")} {
		if fileExists(filepath.Join(dir, "pwned")) {
			t.Errorf("a value ran as a command: %s/pwned exists", dir)
		}
	}

	// shellcheck passes on the scripts and on the env file, which names its
	// shell and says that its values are literal.
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("shellcheck is not installed (CI installs it)")
		}
		t.Skip("shellcheck is not installed")
	}
	for _, f := range sb.p.Files {
		if f.Path != addons.EnvFile && (f.Mode != fileset.ModeExec || !bytes.HasPrefix(f.Content, []byte("#!"))) {
			continue
		}
		c := exec.Command(sc, "-")
		c.Stdin = bytes.NewReader(f.Content)
		if out, err := c.CombinedOutput(); err != nil {
			t.Errorf("%s: shellcheck: %v\n%s", f.Path, err, out)
		}
	}
}

func setFlags(values []string) []string {
	var out []string
	for _, v := range values {
		out = append(out, "--set", v)
	}
	return out
}

// split0 splits NUL-terminated fields.
func split0(b []byte) []string {
	s := strings.Split(string(b), "\x00")
	return s[:len(s)-1]
}
