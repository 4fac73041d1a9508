package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ksgen/ksgen/generator/internal/consumers"
)

// Names of what the booted e2e (TestBoot) makes on this machine, distinct
// from TestCluster's: a named network namespace with one bridge, a cgroup
// subtree in every hierarchy, and a state directory that outlives a killed
// run so the next start can clean up after it.
const (
	LabNetns  = "ksgen-boot"
	LabBridge = "kbootbr0"
	LabCgroup = "ksgen-boot"
	LabDir    = "/var/tmp/ksgen-boot"
)

// stopGrace is how long a machine may take to power off after SIGTERM: its
// systemd waits up to 90 s for a unit that ignores SIGTERM (kube-apiserver's
// container does).
const stopGrace = 150 * time.Second

// rebootGrace is how long a rebooting machine may take to exit: its
// systemd gives a stop job up to 3 min, and here a container's scope has
// held one that long, its processes beyond reach of systemd's kill
// (`Failed to kill control group …: Input/output error`, this host's
// hybrid cgroup v1 under nspawn; run 16).
const rebootGrace = 5 * time.Minute

// Lab is the network namespace and state directory every Machine lives in.
type Lab struct {
	Dir string
	// Sysctls are the kernel-wide keys saved before the first machine
	// starts: the machines write /proc/sys (SYSTEMD_NSPAWN_API_VFS_WRITABLE),
	// and what is not per network namespace reaches the host's kernel.
	Sysctls []string
	// Gateway is the bridge's address, each machine's default route: the
	// lab has no way out, but a node needs a route that covers Service
	// addresses for a connect() to reach kube-proxy's DNAT, as on a real
	// network.
	Gateway string
}

// hostSysctls are the kernel-wide keys kubelet and ksgen's sysctl.d may set.
var hostSysctls = []string{
	"vm.max_map_count", "vm.swappiness", "vm.overcommit_memory", "vm.panic_on_oom",
	"kernel.panic", "kernel.panic_on_oops", "kernel.pid_max", "kernel.keys.root_maxkeys",
	"kernel.keys.root_maxbytes", "fs.inotify.max_user_instances", "fs.inotify.max_user_watches",
	"fs.protected_fifos", "fs.protected_hardlinks", "fs.protected_regular", "fs.protected_symlinks",
}

// CleanLab undoes whatever an earlier run left, killed or not: machines
// still running (by the PIDs it recorded), their cgroups, the network
// namespace, host sysctls not yet restored, and the machines' directories.
func CleanLab() error {
	var errs []error
	pidFiles, _ := filepath.Glob(filepath.Join(LabDir, "machines", "*.pid"))
	for _, f := range pidFiles {
		b, _ := os.ReadFile(f)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && isNspawn(pid) {
			stopPID(pid, 30*time.Second)
		}
		os.Remove(f)
	}
	if err := removeCgroupTree(LabCgroup); err != nil {
		errs = append(errs, err)
	}
	if _, err := os.Stat(filepath.Join("/run/netns", LabNetns)); err == nil {
		if _, err := run(exec.Command("ip", "netns", "del", LabNetns)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := restoreSysctls(filepath.Join(LabDir, "host-sysctl.orig")); err != nil {
		errs = append(errs, err)
	}
	if leftMounts(LabDir) {
		errs = append(errs, fmt.Errorf("mounts under %s are left in the machine's namespace", LabDir))
	} else if err := os.RemoveAll(filepath.Join(LabDir, "machines")); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// NewLab cleans up after an earlier run, saves the host sysctls (keys plus
// hostSysctls) and makes the network namespace with its bridge, which holds
// the only address the lab adds (gw/24).
func NewLab(keys []string, gw string) (*Lab, error) {
	if err := CleanLab(); err != nil {
		return nil, fmt.Errorf("clean up after an earlier run: %w", err)
	}
	l := &Lab{Dir: LabDir, Gateway: gw}
	if err := os.MkdirAll(filepath.Join(l.Dir, "machines"), 0o755); err != nil {
		return nil, err
	}
	for _, k := range append(slices.Clone(hostSysctls), keys...) {
		if !slices.Contains(l.Sysctls, k) {
			l.Sysctls = append(l.Sysctls, k)
		}
	}
	var saved strings.Builder
	for _, k := range l.Sysctls {
		v, err := os.ReadFile(sysctlPath(k))
		if err != nil {
			continue // a key this kernel lacks cannot change either
		}
		fmt.Fprintf(&saved, "%s\t%s\n", k, strings.TrimSpace(string(v)))
	}
	if err := os.WriteFile(filepath.Join(l.Dir, "host-sysctl.orig"), []byte(saved.String()), 0o644); err != nil {
		return nil, err
	}
	for _, args := range [][]string{
		{"netns", "add", LabNetns},
		{"-n", LabNetns, "link", "set", "lo", "up"},
		{"-n", LabNetns, "link", "add", LabBridge, "type", "bridge"},
		{"-n", LabNetns, "addr", "add", gw + "/24", "dev", LabBridge},
		{"-n", LabNetns, "link", "set", LabBridge, "up"},
	} {
		if _, err := run(exec.Command("ip", args...)); err != nil {
			return l, err
		}
	}
	return l, nil
}

// Close removes the namespace and restores the host sysctls; the machines
// must be stopped first.
func (l *Lab) Close() error {
	return CleanLab()
}

func sysctlPath(key string) string {
	return filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
}

// restoreSysctls writes back every saved value that changed, then removes
// the file.
func restoreSysctls(file string) error {
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, ok := strings.Cut(line, "\t")
		if !ok {
			continue
		}
		now, err := os.ReadFile(sysctlPath(k))
		if err != nil || strings.TrimSpace(string(now)) == v {
			continue
		}
		if err := os.WriteFile(sysctlPath(k), []byte(v), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("restore %s=%s: %w", k, v, err))
		}
	}
	if len(errs) == 0 {
		errs = append(errs, os.Remove(file))
	}
	return errors.Join(errs...)
}

// Machine is one nspawn machine: a directory holding its root, booted with
// systemd as PID 1 and linked to the lab's bridge.
type Machine struct {
	Name string
	Root string // the machine's "/" on this machine's disk
	lab  *Lab
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// NewMachine copies image into the lab as the machine's root and seeds
// cloud-init's NoCloud source with its user-data (unchanged), meta-data and
// a static address on host0, nspawn's side of the veth, with the lab's
// gateway as default route.
func (l *Lab) NewMachine(name, image, userData, cidr string) (*Machine, error) {
	m := &Machine{Name: name, Root: filepath.Join(l.Dir, "machines", name), lab: l}
	if _, err := run(exec.Command("cp", "-a", "--reflink=auto", image, m.Root)); err != nil {
		return nil, err
	}
	seed := filepath.Join(m.Root, "var/lib/cloud/seed/nocloud")
	if err := os.MkdirAll(seed, 0o700); err != nil {
		return nil, err
	}
	ud, err := os.ReadFile(userData)
	if err != nil {
		return nil, err
	}
	files := map[string]string{
		"user-data": string(ud),
		// A stable instance-id: a reboot is the same instance.
		"meta-data":      fmt.Sprintf("instance-id: %s\nlocal-hostname: %s\n", name, name),
		"network-config": fmt.Sprintf("version: 2\nethernets:\n  host0:\n    addresses: [%s]\n    gateway4: %s\n", cidr, l.Gateway),
	}
	for f, content := range files {
		if err := os.WriteFile(filepath.Join(seed, f), []byte(content), 0o600); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// NewIgnitionMachine copies image into the lab as the machine's root and
// runs the real Ignition (ignition, the binary) on config into that root,
// stages fetch-offline and files, as a Flatcar initramfs does before the
// first boot. The copy is first made to look like a stock Flatcar image
// where the payload relies on it (flatcarLike); nothing of the payload is
// changed or added behind Ignition's back.
func (l *Lab) NewIgnitionMachine(name, image, ignition string, config []byte) (*Machine, error) {
	m := &Machine{Name: name, Root: filepath.Join(l.Dir, "machines", name), lab: l}
	if _, err := run(exec.Command("cp", "-a", "--reflink=auto", image, m.Root)); err != nil {
		return nil, err
	}
	if err := flatcarLike(m.Root); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := consumers.ApplyIgnitionTo(ctx, ignition, config, filepath.Join(l.Dir, "machines", name+".ignition"), m.Root)
	if err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", name, err, res.Log)
	}
	return m, nil
}

// flatcarLike changes a copy of the Debian test image where a stock
// Flatcar image differs in what an Ignition payload relies on:
//   - no cloud-init (Ignition is the first-boot agent);
//   - systemd-networkd configures the network, and network-online.target
//     waits for it;
//   - /etc/machine-id is "uninitialized", so that the first boot applies
//     the presets Ignition writes for the units it enables;
//   - the baked Kubernetes binaries are in /opt/bin, Flatcar's place for
//     them (an image the user baked, as ksgen's warning asks);
//   - the wheel group exists;
//   - SSH host keys exist (the Debian image leaves them to cloud-init;
//     Flatcar's sshd-keygen makes them at first boot).
func flatcarLike(root string) error {
	if err := os.WriteFile(filepath.Join(root, "etc/cloud/cloud-init.disabled"), nil, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "etc/machine-id"), []byte("uninitialized\n"), 0o444); err != nil {
		return err
	}
	for link, unit := range map[string]string{
		"multi-user.target.wants/systemd-networkd.service":                 "systemd-networkd.service",
		"sockets.target.wants/systemd-networkd.socket":                     "systemd-networkd.socket",
		"network-online.target.wants/systemd-networkd-wait-online.service": "systemd-networkd-wait-online.service",
	} {
		l := filepath.Join(root, "etc/systemd/system", link)
		if err := os.MkdirAll(filepath.Dir(l), 0o755); err != nil {
			return err
		}
		if err := os.Symlink("/lib/systemd/system/"+unit, l); err != nil && !os.IsExist(err) {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "opt/bin"), 0o755); err != nil {
		return err
	}
	for _, name := range []string{"kubeadm", "kubelet", "kubectl", "crictl", "etcd", "etcdctl"} {
		for _, dir := range []string{"usr/bin", "usr/local/bin"} {
			if _, err := os.Stat(filepath.Join(root, dir, name)); err == nil {
				if err := os.Symlink("/"+dir+"/"+name, filepath.Join(root, "opt/bin", name)); err != nil {
					return err
				}
				break
			}
		}
	}
	if _, err := run(exec.Command("groupadd", "--root", root, "-f", "wheel")); err != nil {
		return err
	}
	_, err := run(exec.Command("ssh-keygen", "-A", "-f", root))
	return err
}

func (m *Machine) cgroup() string { return filepath.Join(LabCgroup, m.Name) }

// Start boots the machine: systemd-nspawn, moved first into the machine's
// own cgroup in every hierarchy (so each machine's cgroup namespace is its
// own), runs in the lab's network namespace with a veth on its bridge. With
// no systemd on this machine nspawn must neither register nor ask for a
// scope (--register=no --keep-unit). The console goes to Root.console.
func (m *Machine) Start() error {
	if err := makeCgroup(m.cgroup()); err != nil {
		return err
	}
	script := `for h in /sys/fs/cgroup/*/; do echo $$ > "$h/` + m.cgroup() + `/cgroup.procs"; done
exec nsenter --net=/run/netns/` + LabNetns + ` systemd-nspawn -b -D "$1" -M "$2" --register=no --keep-unit \
  --network-bridge=` + LabBridge + ` --capability=all --drop-capability=CAP_SYS_MODULE,CAP_SYS_TIME \
  --system-call-filter="@keyring bpf" --bind=/dev/kmsg`
	cmd := exec.Command("sh", "-c", script, "sh", m.Root, m.Name)
	// nspawn makes /proc/sys writable: sysctl --system and the kubelet then
	// work as on a real machine, and the Lab restores the host's values.
	cmd.Env = append(os.Environ(), "SYSTEMD_NSPAWN_API_VFS_WRITABLE=yes")
	// If the test dies, nspawn gets SIGTERM: the machine powers off.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setsid: true}
	f, err := os.OpenFile(m.Root+".console", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start machine %s: %w", m.Name, err)
	}
	m.cmd, m.done, m.err = cmd, make(chan struct{}), nil
	if err := os.WriteFile(m.Root+".pid", []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		return err
	}
	go func() {
		m.err = cmd.Wait()
		f.Close()
		close(m.done)
	}()
	return nil
}

// Exited reports whether nspawn has exited, and its exit code.
func (m *Machine) Exited() (bool, int) {
	select {
	case <-m.done:
		return true, m.cmd.ProcessState.ExitCode()
	default:
		return false, 0
	}
}

// WaitExit waits up to limit for nspawn to exit and returns its exit code
// (133 after the machine rebooted).
func (m *Machine) WaitExit(limit time.Duration) (int, error) {
	select {
	case <-m.done:
		return m.cmd.ProcessState.ExitCode(), nil
	case <-time.After(limit):
		return 0, fmt.Errorf("machine %s still running after %s", m.Name, limit)
	}
}

// PID1 is the host PID of the machine's systemd: nspawn's descendant whose
// PID in its own namespace is 1.
func (m *Machine) PID1() (int, error) {
	if m.cmd == nil {
		return 0, fmt.Errorf("machine %s is not started", m.Name)
	}
	if done, _ := m.Exited(); done {
		return 0, fmt.Errorf("machine %s is not running", m.Name)
	}
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 1 {
			if ppid, err := strconv.Atoi(f[1]); err == nil {
				children[ppid] = append(children[ppid], pid)
			}
		}
	}
	queue := []int{m.cmd.Process.Pid}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(strings.TrimPrefix(line, "NSpid:")); strings.HasPrefix(line, "NSpid:") && len(f) > 1 && f[len(f)-1] == "1" {
				return pid, nil
			}
		}
		queue = append(queue, children[pid]...)
	}
	return 0, fmt.Errorf("machine %s: no PID 1 yet", m.Name)
}

// Command runs args inside the machine, in all its namespaces, with a
// clean environment, as `machinectl shell` would.
func (m *Machine) Command(ctx context.Context, args ...string) (*exec.Cmd, error) {
	pid, err := m.PID1()
	if err != nil {
		return nil, err
	}
	argv := append([]string{"-t", strconv.Itoa(pid), "-m", "-u", "-i", "-n", "-p", "-C", "-r", "-w", "--",
		"env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=dumb", "SYSTEMD_PAGER=", "HOME=/root"}, args...)
	cmd := exec.CommandContext(ctx, "nsenter", argv...)
	cmd.WaitDelay = 5 * time.Second
	return cmd, nil
}

// Run runs args in the machine (bounded by timeout) and returns its
// standard output; an error carries the standard error.
func (m *Machine) Run(timeout time.Duration, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd, err := m.Command(ctx, args...)
	if err != nil {
		return nil, err
	}
	out, err := run(cmd)
	if err != nil {
		return out, fmt.Errorf("%s: %w", m.Name, err)
	}
	return out, nil
}

// Stop powers the machine off (SIGTERM to nspawn), and past stopGrace
// kills its PID 1 and then nspawn; then it removes the machine's cgroups.
func (m *Machine) Stop() error {
	if m.cmd != nil {
		if done, _ := m.Exited(); !done {
			_ = syscall.Kill(m.cmd.Process.Pid, syscall.SIGTERM)
			if _, err := m.WaitExit(stopGrace); err != nil {
				if pid, err := m.PID1(); err == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
				time.Sleep(2 * time.Second)
				_ = syscall.Kill(m.cmd.Process.Pid, syscall.SIGKILL)
				<-m.done
			}
		}
	}
	os.Remove(m.Root + ".pid")
	os.RemoveAll(filepath.Join("/run/systemd/nspawn/propagate", m.Name))
	return removeCgroupTree(m.cgroup())
}

// PowerCut stops the machine as a power cut would: its PID 1 and with it
// every process of the machine get SIGKILL, nothing shuts down. Files
// already written stay, as on a disk (the host's page cache keeps them).
func (m *Machine) PowerCut() error {
	pid, err := m.PID1()
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("power cut %s: %w", m.Name, err)
	}
	if _, err := m.WaitExit(stopGrace); err != nil {
		return err
	}
	return m.Stop()
}

// isNspawn reports whether pid is a systemd-nspawn of this lab.
func isNspawn(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && bytes.Contains(b, []byte("systemd-nspawn")) && bytes.Contains(b, []byte(LabDir))
}

// stopPID sends SIGTERM, then SIGKILL after grace.
func stopPID(pid int, grace time.Duration) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for deadline := time.Now().Add(grace); time.Now().Before(deadline); time.Sleep(time.Second) {
		if syscall.Kill(pid, 0) != nil {
			return
		}
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// cgroupHierarchies are the mounted hierarchies under /sys/fs/cgroup (v1
// controllers, name=systemd and the unified one).
func cgroupHierarchies() []string {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/")
	var hs []string
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "cgroup.procs")); err == nil {
			hs = append(hs, d)
		}
	}
	return hs
}

// makeCgroup creates rel in every hierarchy; cpuset needs cpus and mems
// copied down before a process may join.
func makeCgroup(rel string) error {
	for _, h := range cgroupHierarchies() {
		dir := h
		for _, part := range strings.Split(rel, "/") {
			dir = filepath.Join(dir, part)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				if b, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f)); err == nil {
					cur, _ := os.ReadFile(filepath.Join(dir, f))
					if len(bytes.TrimSpace(cur)) == 0 {
						if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
							return err
						}
					}
				}
			}
		}
	}
	return nil
}

// removeCgroupTree kills any process left under rel in every hierarchy
// (what a killed run orphaned) and removes the cgroups, deepest first.
func removeCgroupTree(rel string) error {
	var dirs []string
	for _, h := range cgroupHierarchies() {
		_ = filepath.WalkDir(filepath.Join(h, rel), func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
	}
	if len(dirs) == 0 {
		return nil
	}
	for range 5 {
		alive := false
		for _, d := range dirs {
			b, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil {
					alive = true
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		if !alive {
			break
		}
		time.Sleep(time.Second)
	}
	slices.SortFunc(dirs, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	var errs []error
	for _, d := range dirs {
		if err := os.Remove(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// leftMounts reports whether any mount of this machine's namespace lies
// under dir.
func leftMounts(dir string) bool {
	mi, err := os.ReadFile("/proc/self/mountinfo")
	return err == nil && bytes.Contains(mi, []byte(" "+dir+"/"))
}
