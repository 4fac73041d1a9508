// Package e2e runs a Kubernetes cluster from ksgen's output on one machine,
// for `make e2e`: each host of the spec becomes a node made of namespaces
// (network, mount, UTS) with the host's rootfs/ laid over the machine's file
// system, its own containerd, and a bounded loop in place of systemd's
// kubelet unit; the node's own generated bootstrap then runs kubeadm.
//
// Every node's network namespace is linked only to a bridge in one more
// namespace the test makes, so no packet can leave the machine, and every
// client of the cluster runs inside a node. Everything started is stopped by
// its PID and the namespaces, with their mounts, go away with their last
// process.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Overlaid are the directories of the machine a node sees through an
// overlay whose upper layer starts as the node's rootfs/ tree: the node
// writes its own copy and the machine's stays untouched.
var Overlaid = []string{"/etc", "/opt", "/root", "/usr/local", "/var"}

// StateDirs are bound from plain directories over the overlay: containerd's
// snapshotter cannot sit on overlayfs, and kubelet and etcd keep real state.
var StateDirs = []string{"/var/lib/containerd", "/var/lib/kubelet", "/var/lib/etcd"}

// CgroupHierarchies are the cgroup v1 controllers a node's kubelet uses,
// each under its own cgroup root so that kubelets on one machine do not
// share kubepods.
var CgroupHierarchies = []string{"blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "hugetlb", "memory", "net_cls", "net_prio", "perf_event", "pids", "systemd"}

// Proc is a long-running process the test started and must stop.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Wait returns once the process has exited.
func (p *Proc) Wait() error { <-p.done; return p.err }

// Stop sends SIGTERM to the process by its PID, then SIGKILL after grace.
func (p *Proc) Stop(grace time.Duration) {
	if p == nil || p.Cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(p.Cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(p.Cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Start starts cmd with its output appended to logFile and returns it as
// a Proc; exec's own goroutine reaps it. The process is killed if the test
// dies without its cleanup (go test's timeout panics).
func Start(name string, cmd *exec.Cmd, logFile string) (*Proc, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, Cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// Network is the namespace that holds the bridge every node is linked to.
type Network struct {
	holder *Proc
	Bridge string
}

// NewNetwork starts the namespace holder (an unshare'd sleep, bounded by
// life) and brings up its bridge.
func NewNetwork(dir string, life time.Duration) (*Network, error) {
	h, err := Start("network", exec.Command("unshare", "--net", "--", "sleep", strconv.Itoa(int(life.Seconds()))), filepath.Join(dir, "network.log"))
	if err != nil {
		return nil, err
	}
	n := &Network{holder: h, Bridge: "br-e2e"}
	if err := waitNamespace(h, "net"); err != nil {
		n.Close()
		return nil, err
	}
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", n.Bridge, "type", "bridge"},
		{"link", "set", n.Bridge, "up"},
	} {
		if _, err := n.IP(args...); err != nil {
			n.Close()
			return nil, err
		}
	}
	return n, nil
}

// IP runs ip(8) in the network's namespace.
func (n *Network) IP(args ...string) ([]byte, error) {
	return run(exec.Command("nsenter", append([]string{"-t", n.pid(), "-n", "ip"}, args...)...))
}

func (n *Network) pid() string { return strconv.Itoa(n.holder.Cmd.Process.Pid) }

// Close stops the holder; the namespace and its bridge go with it.
func (n *Network) Close() { n.holder.Stop(5 * time.Second) }

// Node is one machine of the cluster.
type Node struct {
	Name string
	IP   string // the spec's internalAddress
	Dir  string // everything of the node on the machine's disk
	// Rootfs is the node's rendered rootfs/.
	Rootfs string
	holder *Proc

	mu    sync.Mutex
	procs []*Proc
}

// NewNode makes the node's namespaces: a holder process in new network,
// mount and UTS namespaces, linked to net's bridge with ip/24 on eth0,
// named as /etc/hostname in its rootfs says.
func NewNode(name, ip, rootfs, dir string, net *Network, life time.Duration) (*Node, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	n := &Node{Name: name, IP: ip, Dir: dir, Rootfs: rootfs}
	h, err := Start(name+" holder", exec.Command("unshare", "--net", "--mount", "--uts", "--propagation", "private", "--", "sleep", strconv.Itoa(int(life.Seconds()))), filepath.Join(dir, "holder.log"))
	if err != nil {
		return nil, err
	}
	n.holder = h
	if err := waitNamespace(h, "mnt"); err != nil {
		return n, err
	}
	veth := "v-" + name
	if len(veth) > 15 {
		veth = veth[:15]
	}
	if _, err := net.IP("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", n.pid()); err != nil {
		return n, err
	}
	if _, err := net.IP("link", "set", veth, "master", net.Bridge, "up"); err != nil {
		return n, err
	}
	for _, args := range [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "addr", "add", ip + "/24", "dev", "eth0"},
		{"ip", "link", "set", "eth0", "up"},
		{"ip", "route", "add", "default", "dev", "eth0"},
	} {
		if _, err := n.Run(context.Background(), nil, args...); err != nil {
			return n, err
		}
	}
	hostname, err := os.ReadFile(filepath.Join(rootfs, "etc/hostname"))
	if err != nil {
		return n, err
	}
	if _, err := n.Run(context.Background(), nil, "hostname", strings.TrimSpace(string(hostname))); err != nil {
		return n, err
	}
	return n, nil
}

func (n *Node) pid() string { return strconv.Itoa(n.holder.Cmd.Process.Pid) }

// Path is where the node's file path is, seen from the machine.
func (n *Node) Path(path string) string {
	return filepath.Join("/proc", n.pid(), "root", path)
}

// Command is a command that runs inside the node's namespaces.
func (n *Node) Command(ctx context.Context, env []string, args ...string) *exec.Cmd {
	nsenter := append([]string{"-t", n.pid(), "-n", "-m", "-u", "--", "env", "-i"}, env...)
	if !slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, "PATH=") }) {
		nsenter = append(nsenter, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	cmd := exec.CommandContext(ctx, "nsenter", append(nsenter, args...)...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Run runs a command in the node and returns its standard output; an error
// carries the standard error.
func (n *Node) Run(ctx context.Context, env []string, args ...string) ([]byte, error) {
	out, err := run(n.Command(ctx, env, args...))
	if err != nil {
		return out, fmt.Errorf("%s: %w", n.Name, err)
	}
	return out, nil
}

// Start starts a long-running command in the node, logged to
// Dir/<name>.log, and keeps it to stop at Close.
func (n *Node) Start(ctx context.Context, name string, env []string, args ...string) (*Proc, error) {
	p, err := Start(n.Name+" "+name, n.Command(ctx, env, args...), filepath.Join(n.Dir, name+".log"))
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	n.procs = append(n.procs, p)
	n.mu.Unlock()
	return p, nil
}

// LayRootfs makes the node's file system: every Overlaid directory gets an
// overlay whose upper layer holds the node's rootfs/ files there (and extra,
// keyed by node path, e.g. the binaries a baked image carries); StateDirs are
// bound from plain directories; /run is a fresh tmpfs, as at boot.
func (n *Node) LayRootfs(extra map[string]string) error {
	err := filepath.WalkDir(n.Rootfs, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := "/" + strings.TrimPrefix(p, n.Rootfs+"/")
		if !slices.ContainsFunc(Overlaid, func(dir string) bool { return strings.HasPrefix(rel, dir+"/") }) {
			return fmt.Errorf("%s: rootfs%s is outside the overlaid directories %v", n.Name, rel, Overlaid)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var script strings.Builder
	script.WriteString("set -e\n")
	for _, d := range Overlaid {
		upper := filepath.Join(n.Dir, "upper"+d)
		work := filepath.Join(n.Dir, "work"+d)
		if err := os.MkdirAll(work, 0o755); err != nil {
			return err
		}
		if err := copyTree(filepath.Join(n.Rootfs, d), upper); err != nil {
			return err
		}
		fmt.Fprintf(&script, "mount -t overlay overlay -o lowerdir=%s,upperdir=%s,workdir=%s %s\n", d, upper, work, d)
	}
	for dst, src := range extra {
		if err := copyFile(src, filepath.Join(n.Dir, "upper", dst), 0o755); err != nil {
			return err
		}
	}
	for _, d := range StateDirs {
		src := filepath.Join(n.Dir, "state", filepath.Base(d))
		if err := os.MkdirAll(src, 0o755); err != nil {
			return err
		}
		fmt.Fprintf(&script, "mkdir -p %s\nmount --bind %s %s\n", d, src, d)
	}
	script.WriteString("mount -t tmpfs -o mode=0755 tmpfs /run\n")
	_, err = run(exec.Command("nsenter", "-t", n.pid(), "-m", "--", "sh", "-c", script.String()))
	if err != nil {
		return fmt.Errorf("%s: lay rootfs: %w", n.Name, err)
	}
	return nil
}

// MakeCgroups creates the node's cgroup root in every hierarchy; cpuset
// needs its cpus and mems before any process may join it.
func (n *Node) MakeCgroups(root string) error {
	for _, h := range CgroupHierarchies {
		base := filepath.Join("/sys/fs/cgroup", h)
		if _, err := os.Stat(base); err != nil {
			continue
		}
		dir := filepath.Join(base, root)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if h == "cpuset" {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				b, err := os.ReadFile(filepath.Join(base, f))
				if err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// RemoveCgroups kills every process left in the node's cgroup root (the
// containers, which live in mount namespaces of their own) and removes the
// cgroups, deepest first.
func RemoveCgroups(root string) error {
	var errs []error
	for range 3 {
		for _, h := range CgroupHierarchies {
			dir := filepath.Join("/sys/fs/cgroup", h, root)
			_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() && d.Name() == "cgroup.procs" {
					b, _ := os.ReadFile(p)
					for _, f := range strings.Fields(string(b)) {
						if pid, err := strconv.Atoi(f); err == nil {
							_ = syscall.Kill(pid, syscall.SIGKILL)
						}
					}
				}
				return nil
			})
		}
		time.Sleep(time.Second)
	}
	for _, h := range CgroupHierarchies {
		dir := filepath.Join("/sys/fs/cgroup", h, root)
		var dirs []string
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		slices.Reverse(dirs)
		for _, d := range dirs {
			if err := os.Remove(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Close stops every process started in the node by its PID, then any other
// process still in the node's mount namespace (containerd's shims, kubelet's
// children), then the holder: the namespaces and their mounts go with it.
func (n *Node) Close() {
	if n.holder == nil {
		return
	}
	n.mu.Lock()
	procs := slices.Clone(n.procs)
	n.mu.Unlock()
	slices.Reverse(procs)
	for _, p := range procs {
		p.Stop(10 * time.Second)
	}
	if mnt, err := os.Readlink(filepath.Join("/proc", n.pid(), "ns/mnt")); err == nil {
		for _, pid := range pidsInNamespace("mnt", mnt) {
			if pid != n.holder.Cmd.Process.Pid {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	n.holder.Stop(5 * time.Second)
}

// pidsInNamespace lists the processes whose namespace of kind is ns.
func pidsInNamespace(kind, ns string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns", kind)); err == nil && l == ns {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitNamespace waits until the holder runs in namespaces other than the
// test's own (unshare has switched before it execs sleep).
func waitNamespace(h *Proc, kind string) error {
	self, err := os.Readlink("/proc/self/ns/" + kind)
	if err != nil {
		return err
	}
	for range 100 {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", h.Cmd.Process.Pid, kind))
		if err == nil && l != self {
			if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", h.Cmd.Process.Pid)); strings.TrimSpace(string(comm)) == "sleep" {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s: namespaces not made within 5s", h.Name)
}

func run(cmd *exec.Cmd) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.Bytes(), nil
}

// copyTree copies src (if it exists) into dst, keeping modes.
func copyTree(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == src {
			return fs.SkipAll
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(target, info.Mode().Perm())
		}
		return copyFile(p, target, info.Mode().Perm())
	})
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}
