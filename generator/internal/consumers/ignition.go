package consumers

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
)

// IgnitionModule is the module whose pinned version is built, and
// IgnitionPackage its main package (the ignition binary the initramfs runs).
// go.mod names the package as a tool, so its dependencies stay in go.sum.
const (
	IgnitionModule  = "github.com/coreos/ignition/v2"
	IgnitionPackage = IgnitionModule + "/internal"
)

// IgnitionBuildTimeout bounds a cold build (Ignition pulls in the AWS, Azure
// and GCP SDKs: about a minute on two idle cores, several when loaded).
const IgnitionBuildTimeout = 20 * time.Minute

// IgnitionPrereqs reports what running the real Ignition needs and this
// machine lacks: root (the files stage writes root-owned files and runs
// useradd --root), the go command, and a C toolchain with libblkid's headers
// (Ignition uses cgo for blkid and for user lookups).
func IgnitionPrereqs() error {
	if err := requireRoot("Ignition's files stage writes root-owned files"); err != nil {
		return err
	}
	if err := lookPaths("install Go", "go"); err != nil {
		return err
	}
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "gcc"
	}
	if err := lookPaths("apt-get install gcc: Ignition needs cgo", cc); err != nil {
		return err
	}
	cmd := exec.Command(cc, "-E", "-x", "c", "-o", os.DevNull, "-")
	cmd.Stdin = strings.NewReader("#include <blkid/blkid.h>\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return missing("libblkid headers not found: "+strings.TrimSpace(tail(out, 3)), "apt-get install libblkid-dev")
	}
	return nil
}

var ignitionBinary = sync.OnceValues(buildIgnition)

// IgnitionBinary returns the path of the real ignition binary, built from the
// version go.mod pins with CGO on and SELinux relabelling off (a scratch root
// has no /etc/selinux). It builds at most once per process and keeps the
// binary in the user cache directory, keyed by go.mod, go.sum and the Go
// version, so later runs only hash two files.
func IgnitionBinary() (string, error) { return ignitionBinary() }

func buildIgnition() (string, error) {
	if err := IgnitionPrereqs(); err != nil {
		return "", err
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", err
	}
	gosum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		return "", err
	}
	version := requiredVersion(gomod, IgnitionModule)
	if version == "" {
		return "", fmt.Errorf("go.mod does not require %s", IgnitionModule)
	}
	if !bytes.Contains(gomod, []byte("tool "+IgnitionPackage)) {
		return "", fmt.Errorf("go.mod has no `tool %s` (go get -tool %s@%s)", IgnitionPackage, IgnitionPackage, version)
	}
	ldflags := strings.Join([]string{
		"-s", "-w",
		"-X", IgnitionModule + "/internal/version.Raw=" + version,
		"-X", IgnitionModule + "/internal/distro.selinuxRelabel=false",
	}, " ")

	h := sha256.New()
	for _, part := range [][]byte{[]byte(runtime.Version()), []byte(runtime.GOOS + "/" + runtime.GOARCH), []byte(ldflags), gomod, gosum} {
		fmt.Fprintf(h, "%d:", len(part))
		h.Write(part)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "ksgen-test")
	bin := filepath.Join(dir, "ignition-"+version+"-"+hex.EncodeToString(h.Sum(nil))[:16])
	if st, err := os.Stat(bin); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, ".ignition-build-*")
	if err != nil {
		return "", err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())

	ctx, cancel := context.WithTimeout(context.Background(), IgnitionBuildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", tmp.Name(), "-ldflags", ldflags, IgnitionPackage)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if _, err := combined(strings.Join(cmd.Args, " "), cmd); err != nil {
		return "", fmt.Errorf("build ignition: %w", err)
	}
	// Rename is atomic: a concurrent run sees the old state or a whole binary.
	if err := os.Rename(tmp.Name(), bin); err != nil {
		return "", err
	}
	pruneBuilds(dir, bin)
	return bin, nil
}

// pruneBuilds removes binaries built for other go.mod/go.sum states once
// they are a week old (each is about 40 MB).
func pruneBuilds(dir, keep string) {
	old, _ := filepath.Glob(filepath.Join(dir, "ignition-*"))
	for _, p := range old {
		if st, err := os.Stat(p); err == nil && p != keep && time.Since(st.ModTime()) > 7*24*time.Hour {
			os.Remove(p)
		}
	}
}

// requiredVersion returns the version go.mod requires of module, or "".
func requiredVersion(gomod []byte, module string) string {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if len(f) >= 2 && f[0] == module {
			return f[1]
		}
	}
	return ""
}

// IgnitionResult is what one Ignition run left behind.
type IgnitionResult struct {
	Root string // the scratch root the files stage wrote into
	Log  []byte // both stages' log
}

// Warnings returns the log's lines at level WARNING or above (Ignition logs
// config warnings, such as unused keys, and carries on).
func (r *IgnitionResult) Warnings() []string {
	var out []string
	for _, line := range strings.Split(string(r.Log), "\n") {
		for _, level := range []string{"WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY"} {
			if strings.HasPrefix(line, level) {
				out = append(out, line)
				break
			}
		}
	}
	return out
}

// PresetFile is where Ignition records `enabled:` for units: it writes
// "enable NAME" / "disable NAME" lines and leaves the .wants symlinks to
// systemd's first-boot preset run.
const PresetFile = "/etc/systemd/system-preset/20-ignition.preset"

// Presets returns the units Ignition's preset file enables and disables.
func (r *IgnitionResult) Presets() (enable, disable []string, err error) {
	b, err := os.ReadFile(filepath.Join(r.Root, PresetFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0 || strings.HasPrefix(f[0], "#"):
		case len(f) == 2 && f[0] == "enable":
			enable = append(enable, f[1])
		case len(f) == 2 && f[0] == "disable":
			disable = append(disable, f[1])
		default:
			return nil, nil, fmt.Errorf("%s: unexpected line %q", PresetFile, line)
		}
	}
	sort.Strings(enable)
	sort.Strings(disable)
	return enable, disable, nil
}

// skeleton is the minimal /etc a scratch root needs for useradd and
// groupadd --root: the accounts and groups payloads may name.
var skeleton = map[string]struct {
	mode    fs.FileMode
	content string
}{
	"etc/passwd": {0o644, "root:x:0:0:root:/root:/bin/bash\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"},
	"etc/group": {0o644, "root:x:0:\nadm:x:4:\nwheel:x:10:\nsudo:x:27:\nusers:x:100:\n" +
		"systemd-journal:x:190:\ndocker:x:998:\nnogroup:x:65534:\n"},
	"etc/shadow": {0o640, "root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n"},
	"etc/gshadow": {0o640, "root:*::\nadm:*::\nwheel:*::\nsudo:*::\nusers:*::\n" +
		"systemd-journal:*::\ndocker:*::\nnogroup:*::\n"},
	"etc/login.defs": {0o644, "USERGROUPS_ENAB yes\nUID_MIN 1000\nUID_MAX 60000\nGID_MIN 1000\nGID_MAX 60000\n"},
}

// ApplyIgnition runs the real Ignition on config the way the initramfs does,
// minus disks: stage fetch-offline (platform "file", which reads
// IGNITION_CONFIG_FILE, and no base configs: IGNITION_SYSTEM_CONFIG_DIR is
// empty), then stage files into dir/root, a fresh skeleton root. A config
// that needs the network fails. dir must be empty; it and the temporary
// directories above it are made traversable (o+x), because Ignition writes
// SSH keys as their user.
func ApplyIgnition(ctx context.Context, bin string, config []byte, dir string) (*IgnitionResult, error) {
	return applyIgnition(ctx, bin, config, dir, "", false)
}

// ApplyIgnitionTo is ApplyIgnition into root, an existing machine's root
// file system, instead of a fresh skeleton: what the initramfs does to the
// real root before a machine's first boot. dir keeps Ignition's run state.
func ApplyIgnitionTo(ctx context.Context, bin string, config []byte, dir, root string) (*IgnitionResult, error) {
	return applyIgnition(ctx, bin, config, dir, root, false)
}

// ApplyIgnitionOnline is ApplyIgnition for a config with remote resources
// (downloads): when stage fetch-offline says the config needs the network,
// stage fetch runs, as the initramfs does once the network is up, and stage
// files then fetches each file and checks its verification.hash. Tests
// serve the resources on loopback.
func ApplyIgnitionOnline(ctx context.Context, bin string, config []byte, dir string) (*IgnitionResult, error) {
	return applyIgnition(ctx, bin, config, dir, "", true)
}

func applyIgnition(ctx context.Context, bin string, config []byte, dir, root string, online bool) (*IgnitionResult, error) {
	if err := requireRoot("Ignition's files stage writes root-owned files"); err != nil {
		return nil, err
	}
	if err := traversable(dir); err != nil {
		return nil, err
	}
	res := &IgnitionResult{Root: root}
	run := filepath.Join(dir, "run")
	sysconf := filepath.Join(run, "system-config")
	if err := os.MkdirAll(sysconf, 0o755); err != nil {
		return nil, err
	}
	if root == "" {
		res.Root = filepath.Join(dir, "root")
		if err := writeSkeleton(res.Root); err != nil {
			return nil, err
		}
	}
	cfg := filepath.Join(run, "config.ign")
	if err := os.WriteFile(cfg, config, 0o600); err != nil {
		return nil, err
	}

	env := []string{"IGNITION_CONFIG_FILE=" + cfg, "IGNITION_SYSTEM_CONFIG_DIR=" + sysconf}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IGNITION_") {
			env = append(env, kv)
		}
	}
	neednet := filepath.Join(run, "neednet")
	args := []string{
		"-platform", "file",
		"-root", res.Root,
		"-config-cache", filepath.Join(run, "config-cache.json"),
		"-state-file", filepath.Join(run, "state"),
		"-neednet", neednet,
		"-log-to-stdout",
	}
	stages := []string{"fetch-offline", "files"}
	for i := 0; i < len(stages); i++ {
		stage := stages[i]
		cmd := exec.CommandContext(ctx, bin, append([]string{"-stage", stage}, args...)...)
		cmd.Env = env
		cmd.Dir = run
		out, err := combined("ignition -stage "+stage, cmd)
		res.Log = append(append(res.Log, "=== stage "+stage+"\n"...), out...)
		if err != nil {
			return res, fmt.Errorf("ignition stage %s: %w", stage, err)
		}
		if _, err := os.Stat(neednet); err == nil && stage == "fetch-offline" {
			if !online {
				return res, fmt.Errorf("ignition stage %s: the config needs the network (remote resources); this run is offline", stage)
			}
			stages = []string{"fetch-offline", "fetch", "files"}
		}
	}
	return res, nil
}

// writeSkeleton makes a fresh scratch root with the skeleton's /etc.
func writeSkeleton(root string) error {
	for _, d := range []string{"etc", "root", "home"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	for name, f := range skeleton {
		if err := os.WriteFile(filepath.Join(root, name), []byte(f.content), f.mode); err != nil {
			return err
		}
	}
	return nil
}

// traversable creates dir and gives o+x to it and to every directory above it
// that lies inside the temporary directory (tests' own scratch space), and
// checks that the rest of the path is already traversable.
func traversable(dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := filepath.Abs(os.TempDir())
	if err != nil {
		return err
	}
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		if st.Mode()&0o001 == 0 {
			if d == dir || strings.HasPrefix(d, tmp+string(filepath.Separator)) {
				if err := os.Chmod(d, st.Mode().Perm()|0o011); err != nil {
					return err
				}
			} else {
				return fmt.Errorf("%s is not traversable by others (o+x): Ignition writes SSH keys as their user", d)
			}
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}
