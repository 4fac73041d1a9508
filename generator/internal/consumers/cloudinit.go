//go:build linux

package consumers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
)

// CloudInitPrereqs reports what running cloud-init's boot stages in the
// sandbox needs and this machine lacks: root (namespaces, mounts, chroot),
// cloud-init itself, ssh-keygen, and the few tools the sandbox script runs.
func CloudInitPrereqs() error {
	if err := requireRoot("the cloud-init sandbox needs namespaces, mounts and chroot"); err != nil {
		return err
	}
	if err := lookPaths("apt-get install cloud-init", "cloud-init"); err != nil {
		return err
	}
	// The ssh module generates a host key (see sandboxConfig).
	if err := lookPaths("apt-get install openssh-client", "ssh-keygen"); err != nil {
		return err
	}
	return lookPaths("a Debian base system has it", "sh", "mount", "chroot", "cp", "mknod", "hostname")
}

// CloudInitOptions describe the instance the NoCloud seed presents.
type CloudInitOptions struct {
	// Hostname is the seed's local-hostname, the name the platform gives
	// the machine (set_hostname and update_hostname act on it).
	Hostname string
	// InstanceID is the seed's instance-id; empty means "ksgen-sandbox".
	InstanceID string
	// Bootcmd runs the bootcmd module. Off by default: bootcmd executes its
	// commands, and kernel-wide knobs (sysctl outside net.*, modprobe) are
	// not namespaced.
	Bootcmd bool
}

// CloudInitResult is what one sandboxed cloud-init run left behind.
type CloudInitResult struct {
	// Upper is a copy of the overlay's upper layer: every file cloud-init
	// created or changed, at its path (whiteouts are character devices).
	Upper string
	// Dir holds cloud-init.log, result.json and stages.log.
	Dir string
	// Errors lists result.json's v1.errors.
	Errors []string
	// Warnings lists cloud-init.log's WARNING, ERROR and CRITICAL lines and
	// tracebacks (an invalid cloud-config is only a warning).
	Warnings []string
}

// Log returns cloud-init's own log and the stages' output, for failure reports.
func (r *CloudInitResult) Log() string {
	var b strings.Builder
	for _, name := range []string{"stages.log", "cloud-init.log"} {
		data, err := os.ReadFile(filepath.Join(r.Dir, name))
		if err != nil {
			fmt.Fprintf(&b, "--- %s: %v\n", name, err)
			continue
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", name, tail(data, 60))
	}
	return b.String()
}

// InstanceFile returns the path, inside Upper, of a file of the seeded
// instance's directory (/var/lib/cloud/instances/<id>/name). The
// /var/lib/cloud/instance symlink is absolute, so it cannot be followed in
// the copy.
func (r *CloudInitResult) InstanceFile(id, name string) string {
	if id == "" {
		id = defaultInstanceID
	}
	return filepath.Join(r.Upper, "var/lib/cloud/instances", id, name)
}

const defaultInstanceID = "ksgen-sandbox"

// sandboxConfig narrows cloud-init to the NoCloud seed, no network and the
// modules that write files, users and hostnames. runcmd renders its script
// (instances/<id>/scripts/runcmd) but scripts_user, which would run it, is
// not listed. No disk, package, apt or network module ever runs. The ssh
// module generates only an ed25519 host key (RSA takes seconds and writes
// nothing a payload asks for; the schema wants at least one type).
// User-data still overrides every setting here, as on a real image.
const sandboxConfig = `# ksgen test sandbox
datasource_list: [NoCloud, None]
network: {config: disabled}
growpart: {mode: "off"}
resize_rootfs: false
ssh_genkeytypes: [ed25519]
cloud_init_modules:
%s  - write_files
  - set_hostname
  - update_hostname
  - update_etc_hosts
  - users_groups
  - ssh
cloud_config_modules:
  - runcmd
cloud_final_modules:
  - write_files_deferred
`

// sandboxScript runs as PID 1 of new mount, network, UTS, IPC and PID
// namespaces (ApplyCloudInit creates them), so when it exits every process
// it started dies and every mount it made disappears. $S is the staging
// directory on the host: inputs in, results out.
const sandboxScript = `set -eu
# Mounts below must not propagate to the host's mount table.
mount --make-rprivate /
m=$S/mnt
mount -t tmpfs -o mode=0700,size=512m ksgen-sandbox "$m"
mkdir "$m/upper" "$m/work" "$m/root"
# The host root, read-only underneath; every write lands in the tmpfs upper.
mount -t overlay -o "lowerdir=/,upperdir=$m/upper,workdir=$m/work" ksgen-sandbox "$m/root"
r=$m/root
mount -t proc proc "$r/proc"
mount -t sysfs -o ro sysfs "$r/sys"
mount -t tmpfs -o mode=0755 tmpfs "$r/run"
mount -t tmpfs -o mode=1777 tmpfs "$r/tmp"
# A /dev without block devices: nothing to partition, grow or mount.
mount -t tmpfs -o mode=0755 tmpfs "$r/dev"
mknod -m 0666 "$r/dev/null" c 1 3
mknod -m 0666 "$r/dev/zero" c 1 5
mknod -m 0666 "$r/dev/random" c 1 8
mknod -m 0666 "$r/dev/urandom" c 1 9
ln -s /proc/self/fd "$r/dev/fd"
mkdir "$r/dev/pts" "$r/dev/shm"
hostname localhost
# A machine cloud-init has never seen, seeded with NoCloud.
rm -rf "$r/var/lib/cloud" "$r/var/log/cloud-init.log" "$r/var/log/cloud-init-output.log"
mkdir -p "$r/var/lib/cloud/seed/nocloud"
cp "$S/in/user-data" "$S/in/meta-data" "$r/var/lib/cloud/seed/nocloud/"
cp "$S/in/sandbox.cfg" "$r/etc/cloud/cloud.cfg.d/99-ksgen-sandbox.cfg"
status=0
for stage in "init --local" "init" "modules --mode=config" "modules --mode=final"; do
	echo "=== cloud-init $stage" >>"$S/out/stages.log"
	rc=0
	chroot "$r" cloud-init $stage >>"$S/out/stages.log" 2>&1 || rc=$?
	echo "=== exit status $rc" >>"$S/out/stages.log"
	[ "$rc" = 0 ] || status=1
done
cp "$r/var/log/cloud-init.log" "$S/out/" || true
cp "$r/run/cloud-init/result.json" "$S/out/" || true
# Keep only what cloud-init wrote: not the seed and config put in above.
rm -rf "$m/upper/var/lib/cloud/seed" "$m/upper/etc/cloud/cloud.cfg.d/99-ksgen-sandbox.cfg"
cp -a "$m/upper" "$S/out/upper"
exit $status
`

// ApplyCloudInit runs cloud-init's boot stages (init --local, init, modules
// config, modules final) against a NoCloud seed holding userData, in a
// sandbox that leaves the host untouched: new mount, network (loopback only,
// down), UTS, IPC and PID namespaces; an overlay of the host root whose
// upper layer is a tmpfs; /proc, /sys (read-only), /run, /tmp and a /dev
// without block devices; a chroot. The upper layer is copied to dir/out/upper.
// It fails when a stage exits non-zero or result.json lists errors; the
// result is returned even then, for its logs.
func ApplyCloudInit(ctx context.Context, userData []byte, dir string, opts CloudInitOptions) (*CloudInitResult, error) {
	if err := CloudInitPrereqs(); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	id := opts.InstanceID
	if id == "" {
		id = defaultInstanceID
	}
	host := opts.Hostname
	if host == "" {
		host = "ksgen-sandbox"
	}
	bootcmd := ""
	if opts.Bootcmd {
		bootcmd = "  - bootcmd\n"
	}
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	for _, d := range []string{in, out, filepath.Join(dir, "mnt")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	inputs := map[string]string{
		"user-data":   string(userData),
		"meta-data":   fmt.Sprintf("instance-id: %s\nlocal-hostname: %s\n", id, host),
		"sandbox.cfg": fmt.Sprintf(sandboxConfig, bootcmd),
	}
	for name, content := range inputs {
		if err := os.WriteFile(filepath.Join(in, name), []byte(content), 0o600); err != nil {
			return nil, err
		}
	}

	cmd := exec.CommandContext(ctx, "sh", "-c", sandboxScript)
	cmd.Env = append(os.Environ(), "S="+dir)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWNET | syscall.CLONE_NEWUTS |
			syscall.CLONE_NEWIPC | syscall.CLONE_NEWPID,
		// The script is PID 1 of its namespace: killing it (on timeout,
		// or when the test dies) kills everything cloud-init started.
		Pdeathsig: syscall.SIGKILL,
	}
	res := &CloudInitResult{Upper: filepath.Join(out, "upper"), Dir: out}
	// Pdeathsig fires when the forking thread exits: keep it until Wait.
	runtime.LockOSThread()
	_, runErr := combined("cloud-init sandbox", cmd)
	runtime.UnlockOSThread()
	if errors.Is(runErr, syscall.EPERM) || errors.Is(runErr, syscall.EINVAL) {
		return nil, missing("cannot create namespaces: "+runErr.Error(), "run as root outside a restricted container")
	}

	if log, err := os.ReadFile(filepath.Join(out, "cloud-init.log")); err == nil {
		for _, line := range strings.Split(string(log), "\n") {
			for _, mark := range []string{"[WARNING]", "[ERROR]", "[CRITICAL]", "Traceback"} {
				if strings.Contains(line, mark) {
					res.Warnings = append(res.Warnings, line)
					break
				}
			}
		}
	}
	raw, err := os.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		return res, errors.Join(runErr, fmt.Errorf("cloud-init wrote no result.json: %w", err))
	}
	var result struct {
		V1 struct {
			Errors []any `json:"errors"`
		} `json:"v1"`
	}
	if err := json.Unmarshal(raw, &result); err != nil {
		return res, errors.Join(runErr, fmt.Errorf("result.json: %w", err))
	}
	for _, e := range result.V1.Errors {
		res.Errors = append(res.Errors, fmt.Sprint(e))
	}
	if len(res.Errors) > 0 {
		runErr = errors.Join(runErr, fmt.Errorf("result.json lists errors: %s", strings.Join(res.Errors, "; ")))
	}
	if runErr != nil {
		return res, fmt.Errorf("cloud-init: %w", runErr)
	}
	return res, nil
}
