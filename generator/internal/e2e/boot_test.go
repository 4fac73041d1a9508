package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/internal/consumers"
	"github.com/ksgen/ksgen/generator/internal/render/firstboot"
	"github.com/ksgen/ksgen/internal/upstream"
)

// Budgets of the booted e2e's phases.
const (
	bootBootstrapTimeout = 20 * time.Minute
	bootSettleTimeout    = 5 * time.Minute
	bootLabGateway       = "10.250.8.1"
)

// bootEnabled skips unless make e2e-boot asked for the booted e2e.
func bootEnabled(t *testing.T) {
	t.Helper()
	if os.Getenv("KSGEN_E2E_BOOT") == "" {
		t.Skip("the booted end-to-end test runs with make e2e-boot (KSGEN_E2E_BOOT=1, root, about 15 minutes)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("make e2e-boot needs root: it makes a network namespace, cgroups and nspawn machines")
	}
	for _, c := range []string{"mmdebstrap", "systemd-nspawn", "nsenter", "ip", "haproxy", "ldd", "cp", "ssh-keygen", "groupadd"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Fatalf("%s not found: apt-get install mmdebstrap systemd-container iproute2 haproxy", c)
		}
	}
}

// bootInputs is what the booted e2e builds and renders before any machine
// starts.
type bootInputs struct {
	work, specFile, out string
	ksgen, bundle       string
	hosts               []e2eHost
	image               string
	sysctls             []string
	// ignition is the real Ignition binary, when a host boots config.ign.
	ignition string
}

// prepareBoot builds Kubernetes, etcd, ksgen and pause, renders the boot
// spec, and builds (or finds cached) the test image with the binaries
// baked by the project's Packer scripts and the images `ksgen images list`
// names.
func prepareBoot(t *testing.T, phase func(string, time.Time)) bootInputs {
	t.Helper()
	in := bootInputs{work: t.TempDir()}
	var err error
	spec := "testdata/boot/seed.yaml"
	if f := os.Getenv("KSGEN_E2E_BOOT_SPEC"); f != "" {
		spec = f // e.g. testdata/boot/cluster.yaml, the quick case
	}
	if in.specFile, err = filepath.Abs(spec); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	version, hosts := loadCluster(t, in.specFile)
	in.hosts = hosts
	kube, err := consumers.KubernetesBinaries(version)
	if err != nil {
		t.Fatal(err)
	}
	etcd, err := consumers.EtcdBinaries()
	if err != nil {
		t.Fatal(err)
	}
	cni, err := consumers.CNIBinaries()
	if err != nil {
		t.Fatal(err)
	}
	ksgen := filepath.Join(in.work, "ksgen")
	goBuild(t, ksgen, "github.com/ksgen/ksgen/cmd/ksgen", "")
	pause := filepath.Join(in.work, "pause")
	goBuild(t, pause, ".", "testdata/pause")
	netcheck := filepath.Join(in.work, "netcheck")
	goBuild(t, netcheck, ".", "testdata/netcheck")
	phase("build", t0)

	t0 = time.Now()
	in.out = filepath.Join(in.work, "out")
	bundle := filepath.Join(in.work, "ksgen-secrets.yaml")
	in.ksgen, in.bundle = ksgen, bundle
	ksgenRun(t, ksgen, "secrets", "gen", "-o", bundle)
	ksgenRun(t, ksgen, "validate", "-f", in.specFile)
	// Each host gets the payload its OS boots: user-data, or config.ign
	// for the Flatcar-profile worker.
	ksgenRun(t, ksgen, "render", "-f", in.specFile, "--secrets", bundle, "-o", in.out)
	imageList := strings.Fields(string(ksgenRun(t, ksgen, "images", "list", "-f", in.specFile)))
	// The sha256 pins of the built kubeadm, kubelet and kubectl, handed to
	// packer-vars as a user pins a version no public table lists.
	pinArgs := []string{"images", "packer-vars", "-f", in.specFile}
	local := map[string]string{}
	for _, c := range []string{"kubeadm", "kubelet", "kubectl"} {
		local[c] = filepath.Join(kube, c)
	}
	if etcdType(t, in.specFile) == "kubekey" {
		// etcd's release archive, remade from the built etcd with the
		// layout the URL packer-vars names has (strip 1).
		local["etcd"] = filepath.Join(in.work, "etcd-release.tar.gz")
		if err := etcdReleaseArchive(local["etcd"], etcd); err != nil {
			t.Fatal(err)
		}
	}
	// crictl's release archive (crictl at its root), remade from the built
	// crictl: the certificate renewal restarts the control plane with it.
	crictl, err := consumers.CrictlBinary()
	if err != nil {
		t.Fatal(err)
	}
	local["crictl"] = filepath.Join(in.work, "crictl.tar.gz")
	if err := writeTarGz(local["crictl"], map[string]string{"crictl": crictl}); err != nil {
		t.Fatal(err)
	}
	// containerd's release archive, remade from the built containerd.
	local["containerd"] = filepath.Join(in.work, "containerd.tar.gz")
	if err := containerdReleaseArchive(local["containerd"]); err != nil {
		t.Fatal(err)
	}
	// The CNI plugins' release archive, remade from the built plugins.
	local["cni-plugins"] = filepath.Join(in.work, "cni-plugins.tgz")
	if err := cniPluginsArchive(local["cni-plugins"], cni); err != nil {
		t.Fatal(err)
	}
	for _, name := range slices.Sorted(maps.Keys(local)) {
		pinArgs = append(pinArgs, "--sha256", name+"="+fileSHA256(t, local[name]))
	}
	vars := ksgenRun(t, ksgen, pinArgs...)
	// Assets (the CNI's manifest) are pinned by ksgen's table: served from
	// the stored upstream copies, whose sums must match it.
	assets := ParsePackerAssets(vars)
	for i, a := range assets {
		stored := upstream.AssetFile(a.Path)
		if stored == "" {
			t.Fatalf("packer-vars names asset %s, which ../shared/upstream does not keep", a.Path)
		}
		assets[i].URL = upstream.File(t, stored)
	}
	var baked []BakedBinary
	for _, b := range ParsePackerBinaries(vars) {
		if file, ok := local[b.Name]; ok {
			if b.SHA256 == "" {
				t.Fatalf("packer-vars left %s unpinned", b.Name)
			}
			b.URL = file // served to the build as file://
			baked = append(baked, b)
		}
	}
	if len(baked) != len(local) {
		t.Fatalf("packer-vars: want %v, got %v", slices.Sorted(maps.Keys(local)), baked)
	}
	for _, h := range in.hosts {
		in.sysctls = append(in.sysctls, hostSysctlKeys(t, filepath.Join(in.out, h.name, "rootfs/etc/sysctl.d"))...)
		if exists(filepath.Join(in.out, h.name, "config.ign")) && in.ignition == "" {
			if in.ignition, err = consumers.IgnitionBinary(); err != nil {
				t.Fatal(err)
			}
		}
	}
	phase("render", t0)

	t0 = time.Now()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	cache = filepath.Join(cache, "ksgen-test")
	scripts, err := filepath.Abs("../../../images/packer/scripts")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Abs("testdata/boot/image")
	if err != nil {
		t.Fatal(err)
	}
	img := BootImage{Files: files, Scripts: scripts, Binaries: baked, Assets: assets, Archives: map[string]string{}}
	base, err := img.Base(cache, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	progs := programs{kube: kube, etcd: etcd, pause: pause, base: base}
	if slices.ContainsFunc(imageList, func(ref string) bool { return strings.Contains(ref, "/flannel:") }) {
		progs.cni = &cni
	}
	for _, ref := range imageList {
		if name, tag, _ := strings.Cut(path.Base(ref), ":"); name == "coredns" {
			if progs.coreDNS, err = consumers.CoreDNSBinary(tag); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, a := range packImages(t, in.work, imageList, progs) {
		img.Archives[filepath.Base(a)] = a
	}
	// The test's own workload, imported with the rest.
	img.Archives["netcheck.tar"] = filepath.Join(in.work, "images", "netcheck.tar")
	if err := (Image{Ref: netcheckImage, Files: map[string]string{"/netcheck": netcheck}}).WriteArchive(img.Archives["netcheck.tar"]); err != nil {
		t.Fatal(err)
	}
	if in.image, err = img.Build(cache, t.Logf); err != nil {
		t.Fatal(err)
	}
	phase("image", t0)
	return in
}

// TestBootImage only builds (or finds) the booted e2e's test image, so a
// cache can be warmed without taking the e2e lock: it starts no machine.
func TestBootImage(t *testing.T) {
	bootEnabled(t)
	start := time.Now()
	in := prepareBoot(t, func(name string, since time.Time) {
		t.Logf("phase %-10s %6.1fs (total %6.1fs)", name, time.Since(since).Seconds(), time.Since(start).Seconds())
	})
	t.Logf("image %s", in.image)
}

// TestBoot boots every host of testdata/boot/seed.yaml as an nspawn
// machine with real systemd as PID 1, whose only input is its own rendered
// user-data through cloud-init's NoCloud seed: the real ksgen-bootstrap.service
// runs kubeadm init on master1 and the joins elsewhere, flannel and CoreDNS
// carry pod traffic and names, every machine reaches `running`, rebooted
// machines come back with nothing to do, and the cluster survives
// master1's apiserver and etcd stopping.
func TestBoot(t *testing.T) {
	bootEnabled(t)
	start := time.Now()
	phase := func(name string, since time.Time) {
		t.Logf("phase %-10s %6.1fs (total %6.1fs)", name, time.Since(since).Seconds(), time.Since(start).Seconds())
	}
	in := prepareBoot(t, phase)

	// Machines: a copy of the image each, seeded with its own user-data.
	t0 := time.Now()
	lab, err := NewLab(in.sysctls, bootLabGateway)
	if err != nil {
		t.Fatal(err)
	}
	machines := map[string]*Machine{}
	t.Cleanup(func() {
		if t.Failed() {
			for _, h := range in.hosts {
				if m := machines[h.name]; m != nil {
					dumpMachine(t, m)
				}
			}
		}
		var wg sync.WaitGroup
		for _, m := range machines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := m.Stop(); err != nil {
					t.Errorf("%s: stop: %v", m.Name, err)
				}
			}()
		}
		wg.Wait()
		if err := lab.Close(); err != nil {
			t.Errorf("lab: %v", err)
		}
		if leftMounts(LabDir) {
			t.Errorf("mounts under %s are left", LabDir)
		}
	})
	ignited := map[string]bool{}
	for _, h := range in.hosts {
		var m *Machine
		if ign, err := os.ReadFile(filepath.Join(in.out, h.name, "config.ign")); err == nil {
			ignited[h.name] = true
			m, err = lab.NewIgnitionMachine(h.name, in.image, in.ignition, ign)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: the real Ignition applied config.ign to its root", h.name)
		} else {
			userData := filepath.Join(in.out, h.name, "user-data")
			if commit := os.Getenv(oldBootstrapEnv); commit != "" && h.name == "master1" {
				if userData, err = oldBootstrapUserData(commit, userData, in.work); err != nil {
					t.Fatal(err)
				}
				t.Logf("master1 boots the bootstrap.sh of %s", commit)
			}
			if m, err = lab.NewMachine(h.name, in.image, userData, h.ip+"/24"); err != nil {
				t.Fatal(err)
			}
		}
		machines[h.name] = m
	}
	phase("seed", t0)

	// Boot: every machine at once, as machines powered on together.
	t0 = time.Now()
	for _, h := range in.hosts {
		if err := machines[h.name].Start(); err != nil {
			t.Fatal(err)
		}
	}
	done := map[string]time.Duration{}
	deadline := time.Now().Add(bootBootstrapTimeout)
	lastReport := time.Now()
	// The interrupted first boot: master1 loses power once its kubeadm
	// init and admin kubeconfig are done and its post steps (the CNI, …)
	// run, then boots again and must resume them without a second init.
	m1 := machines["master1"]
	cutDone := filepath.Join(m1.Root, "var/lib/ksgen/phases", firstboot.PhaseAdmin+".done")
	if os.Getenv(oldBootstrapEnv) != "" {
		// The old bootstrap keeps no phases: it copies admin.conf there
		// right after kubeadm init succeeds, then runs the post hooks.
		cutDone = filepath.Join(m1.Root, "root/.kube/config")
	}
	// Without a CNI the post steps take well under a second: no window.
	wantCut, cut := networkPlugin(t, in.specFile) != "none", false
	for len(done) < len(in.hosts) {
		if wantCut && !cut && exists(cutDone) && !exists(filepath.Join(m1.Root, "var/lib/ksgen/bootstrapped")) {
			cut = true
			phases, _ := filepath.Glob(filepath.Join(m1.Root, "var/lib/ksgen/phases/*.done"))
			for i := range phases {
				phases[i] = strings.TrimSuffix(filepath.Base(phases[i]), ".done")
			}
			if err := m1.PowerCut(); err != nil {
				t.Fatal(err)
			}
			t.Logf("master1: power cut %.1fs after power-on, its finished phases %v; booting it again", time.Since(t0).Seconds(), phases)
			if err := m1.Start(); err != nil {
				t.Fatal(err)
			}
		}
		for _, h := range in.hosts {
			m := machines[h.name]
			if _, ok := done[h.name]; ok {
				continue
			}
			if exited, code := m.Exited(); exited {
				t.Fatalf("%s: nspawn exited (%d) during first boot", h.name, code)
			}
			if exists(filepath.Join(m.Root, "var/lib/ksgen/bootstrapped")) {
				done[h.name] = time.Since(t0)
				t.Logf("%s: bootstrapped %.1fs after power-on", h.name, done[h.name].Seconds())
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for every bootstrap; done: %v", bootBootstrapTimeout, done)
		}
		if time.Since(lastReport) > time.Minute {
			lastReport = time.Now()
			for _, h := range in.hosts {
				if _, ok := done[h.name]; !ok {
					b, _ := machines[h.name].Run(30*time.Second, "journalctl", "-b", "-o", "cat", "-n", "2", "-u", "ksgen-bootstrap")
					t.Logf("%s: %s", h.name, strings.Join(strings.Fields(string(b)), " "))
				}
			}
		}
		time.Sleep(250 * time.Millisecond) // the cut must land inside master1's post steps
	}
	if wantCut && !cut {
		t.Errorf("master1 was never seen between its %s phase and the end of its bootstrap", firstboot.PhaseAdmin)
	}
	phase("boot", t0)

	// Each bootstrap ran its kubeadm once, under systemd, from the unit.
	t0 = time.Now()
	for _, h := range in.hosts {
		m := machines[h.name]
		// Every boot's journal: master1 booted twice.
		journal, err := m.Run(time.Minute, "journalctl", "-o", "cat", "-u", "ksgen-bootstrap")
		if err != nil {
			t.Fatal(err)
		}
		verb := "join"
		if h.name == "master1" {
			verb = "init"
		}
		if n := bytes.Count(journal, []byte("kubeadm "+verb+" succeeded after")); n != 1 {
			t.Errorf("%s: want one \"kubeadm %s succeeded\" in the bootstrap's journal, got %d:\n%s", h.name, verb, n, tailLines(journal, 30))
		}
		if h.name == "master1" && cut {
			second, _ := m.Run(time.Minute, "journalctl", "-b", "-o", "cat", "-u", "ksgen-bootstrap")
			for _, p := range []string{firstboot.PhaseKubeadm, firstboot.PhaseAdmin} {
				if !bytes.Contains(second, []byte("phase "+p+": done before")) {
					t.Errorf("master1: after the power cut the bootstrap should skip phase %s as done before:\n%s", p, tailLines(second, 30))
				}
			}
			t.Logf("master1's second boot resumed:\n%s", tailLines(second, 12))
		}
		if !bytes.Contains(journal, []byte("done: every phase finished")) {
			t.Errorf("%s: the bootstrap did not log that every phase finished:\n%s", h.name, tailLines(journal, 30))
		}
		if ignited[h.name] {
			// Its address came from the networkd file Ignition wrote.
			if out, err := m.Run(time.Minute, "networkctl", "status", "host0"); err != nil || !bytes.Contains(out, []byte("00-ksgen.network")) {
				t.Errorf("%s: host0 is not configured by ksgen's networkd file: %v\n%s", h.name, err, out)
			}
			continue
		}
		status, err := m.Run(time.Minute, "cloud-init", "status", "--long")
		if err != nil || !bytes.Contains(status, []byte("status: done")) {
			t.Errorf("%s: cloud-init status: %v\n%s", h.name, err, status)
		}
	}
	kubectl := func(args ...string) ([]byte, error) {
		return m1.Run(time.Minute, append([]string{"kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf"}, args...)...)
	}
	// The worker label comes from ksgen-node-roles.timer on the control
	// planes, a minute after boot and every minute: every worker gets it,
	// the last to register included.
	for _, h := range in.hosts {
		if h.role != "worker" {
			continue
		}
		waitFor(t, bootSettleTimeout, "ksgen-node-roles.timer to label "+h.name+" a worker", func() error {
			out, err := kubectl("get", "node", h.name, "-o", "jsonpath={.metadata.labels}")
			if err == nil && !bytes.Contains(out, []byte(`"node-role.kubernetes.io/worker"`)) {
				err = fmt.Errorf("labels %s", out)
			}
			return err
		})
	}
	checkNodes(t, in.hosts, func() ([]byte, error) { return kubectl("get", "nodes", "-o", "json") })
	checkSystemPods(t, in, kubectl, machines["node1"])
	if etcdType(t, in.specFile) == "kubekey" {
		for _, h := range in.hosts {
			if h.role != "control-plane" {
				continue
			}
			if out, err := machines[h.name].Run(time.Minute, "systemctl", "is-active", "etcd.service"); err != nil {
				t.Errorf("%s: etcd.service (kubekey etcd) is not active: %s %v", h.name, out, err)
			}
		}
	}
	phase("cluster", t0)

	// The pod network and DNS, as a user checks them.
	var workers []string
	for _, h := range in.hosts {
		if h.role == "worker" {
			workers = append(workers, h.name)
		}
	}
	withCNI := networkPlugin(t, in.specFile) != "none"
	if withCNI {
		t0 = time.Now()
		checkNetwork(t, kubectl, workers, netPods(t, m1, kubectl, workers))
		phase("network", t0)

		// The operator's finish line: ksgen status, from the bundle alone,
		// on the lab's network as an operator's machine would be.
		t0 = time.Now()
		out, err := ksgenStatus(in, in.specFile, "https://10.250.8.11:6443", "--wait", "--timeout", "5m")
		if err != nil {
			t.Errorf("ksgen status --wait with every node Ready: %v\n%s", err, out)
		}
		t.Logf("ksgen status --wait:\n%s", out)
		phase("status", t0)
	}

	// systemd reaches running on every machine: no failed unit, and the
	// bootstrap holds no job of multi-user.target.
	t0 = time.Now()
	for _, h := range in.hosts {
		m := machines[h.name]
		state, err := systemRunning(t, m)
		if got := strings.TrimSpace(string(state)); got != "running" {
			failed, _ := m.Run(time.Minute, "systemctl", "list-units", "--failed", "--no-legend")
			jobs, _ := m.Run(time.Minute, "systemctl", "list-jobs", "--no-legend")
			// The first second of the boot, where units have failed at
			// step CGROUP (ENOENT) on this machine, and the cgroups as the
			// machine sees them: what finding that cause needs.
			early, _ := m.Run(time.Minute, "sh", "-c", "journalctl -b -o short-monotonic --no-pager | head -80; grep cgroup /proc/self/mountinfo")
			t.Errorf("%s: is-system-running %q (%v); failed units:\n%s\njobs:\n%s\nearly boot:\n%s", h.name, got, err, failed, jobs, early)
		}
	}
	phase("running", t0)

	// Reboot a worker and a joining control plane, one after the other:
	// nspawn exits 133, the machine boots again from its disk, the bootstrap
	// is skipped by its condition, /etc/kubernetes is unchanged and the
	// kubelet renews its lease again.
	// With 2 stacked etcd members a rebooting master2 takes the quorum
	// with it, so only with 3 control planes does master2 reboot too.
	cps := 0
	for _, h := range in.hosts {
		if h.role == "control-plane" {
			cps++
		}
	}
	t0 = time.Now()
	// The rebooted worker is the Ignition one when there is one: its
	// second boot must not apply anything again.
	reboot := []string{"node1"}
	for _, h := range in.hosts {
		if ignited[h.name] && h.role == "worker" {
			reboot[0] = h.name
		}
	}
	if cps >= 3 {
		reboot = append(reboot, "master2")
	}
	for _, name := range reboot {
		rebootMachine(t, machines[name], kubectl)
	}
	phase("reboot", t0)

	// Failover, with 3 control planes: master1's apiserver and etcd member
	// stop; through each worker's HAProxy the API still answers, the
	// workers' kubelets renew their Leases, and writes succeed.
	if cps < 3 {
		return
	}
	t0 = time.Now()
	manifests := filepath.Join(m1.Root, "etc/kubernetes/manifests")
	stopped := []string{"kube-apiserver.yaml"}
	kubekey := etcdType(t, in.specFile) == "kubekey"
	if !kubekey {
		stopped = append(stopped, "etcd.yaml")
	}
	for _, f := range stopped {
		if err := os.Rename(filepath.Join(manifests, f), filepath.Join(m1.Root, "etc/kubernetes", f+".stopped")); err != nil {
			t.Fatal(err)
		}
	}
	if kubekey {
		if _, err := m1.Run(2*time.Minute, "systemctl", "stop", "etcd.service"); err != nil {
			t.Fatal(err)
		}
	}
	stoppedAt := time.Now()
	waitFor(t, bootSettleTimeout, "master1's apiserver to stop", func() error {
		if _, err := m1.Run(10*time.Second, "curl", "-ksf", "--max-time", "2", "https://127.0.0.1:6443/readyz"); err == nil {
			return fmt.Errorf("still answers")
		}
		return nil
	})
	time.Sleep(6 * time.Second) // HAProxy marks a server down after two failed checks 2 s apart
	m2 := machines["master2"]
	for _, h := range in.hosts {
		if h.role != "worker" {
			continue
		}
		w := machines[h.name]
		for i := range 10 {
			out, err := w.Run(time.Minute, "kubectl", "--kubeconfig", "/etc/kubernetes/kubelet.conf", "get", "--raw", "/readyz")
			if err != nil || strings.TrimSpace(string(out)) != "ok" {
				t.Errorf("%s: /readyz %d through HAProxy with master1 down: %q %v", h.name, i+1, out, err)
				break
			}
		}
		waitFor(t, bootSettleTimeout, h.name+"'s kubelet to renew its Lease with master1 down", func() error {
			renew, err := leaseRenewed(m2.Run(time.Minute, "kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "-n", "kube-node-lease", "get", "lease", h.name, "-o", "json"))
			if err != nil {
				return err
			}
			if !renew.After(stoppedAt) {
				return fmt.Errorf("renewTime %s, master1 stopped at %s", renew, stoppedAt)
			}
			return nil
		})
	}
	kubectl2 := func(args ...string) ([]byte, error) {
		return m2.Run(time.Minute, append([]string{"kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf"}, args...)...)
	}
	for i := range 5 {
		if out, err := kubectl2("-n", "default", "create", "configmap", fmt.Sprintf("failover-%d", i)); err != nil {
			t.Errorf("write %d with master1 down: %s %v", i+1, out, err)
		}
	}
	// kube-proxy programs a Service made while master1 is down, and a pod
	// on another node reaches it by name.
	if withCNI {
		applyManifest(t, m2, kubectl2, "net-after-stop.yaml", netService("net-after-stop", workers[0]))
		checkService(t, kubectl2, "net-after-stop", workers)
	}
	phase("failover", t0)

	t0 = time.Now()
	lateJoin(t, in, lab, machines, kubectl2, filepath.Join(m1.Root, "var/lib/ksgen/phases", firstboot.PhaseKubeadm+".done"))
	phase("late-join", t0)

	t0 = time.Now()
	renewCerts(t, machines["master3"], "10.250.8.13")
	phase("renewal", t0)
}

// renewCerts starts the real ksgen-renew-certs.service on m under systemd
// with its threshold forced above a year (KSGEN_RENEW_DAYS=400 in the
// manager's environment, which services inherit): it must succeed, and
// kube-apiserver at addr must then serve a certificate with a new serial.
func renewCerts(t *testing.T, m *Machine, addr string) {
	t.Helper()
	served := func() (string, error) {
		b, err := m.Run(time.Minute, "sh", "-c", "openssl s_client -connect "+addr+":6443 </dev/null 2>/dev/null | openssl x509 -noout -serial")
		return strings.TrimSpace(string(b)), err
	}
	before, err := served()
	if err != nil || !strings.HasPrefix(before, "serial=") {
		t.Fatalf("%s: the serial kube-apiserver serves: %q %v", m.Name, before, err)
	}
	for _, args := range [][]string{
		{"systemctl", "set-environment", "KSGEN_RENEW_DAYS=400"},
		{"systemctl", "start", "ksgen-renew-certs.service"},
		{"systemctl", "unset-environment", "KSGEN_RENEW_DAYS"},
	} {
		if out, err := m.Run(10*time.Minute, args...); err != nil {
			journal, _ := m.Run(time.Minute, "journalctl", "-b", "-o", "cat", "-u", "ksgen-renew-certs")
			t.Fatalf("%s: %s: %v\n%s\n%s", m.Name, strings.Join(args, " "), err, out, tailLines(journal, 40))
		}
	}
	journal, _ := m.Run(time.Minute, "journalctl", "-b", "-o", "cat", "-u", "ksgen-renew-certs")
	if result, _ := m.Run(time.Minute, "systemctl", "show", "-P", "Result", "ksgen-renew-certs.service"); strings.TrimSpace(string(result)) != "success" {
		t.Fatalf("%s: ksgen-renew-certs.service result %q:\n%s", m.Name, result, tailLines(journal, 40))
	}
	waitFor(t, bootSettleTimeout, m.Name+"'s kube-apiserver to serve the renewed certificate", func() error {
		after, err := served()
		if err != nil || after == before || !strings.HasPrefix(after, "serial=") {
			return fmt.Errorf("serves %q (before renewal %q): %v", after, before, err)
		}
		t.Logf("%s: kube-apiserver served %s before renewal, %s after", m.Name, before, after)
		return nil
	})
	t.Logf("%s: ksgen-renew-certs.service:\n%s", m.Name, tailLines(journal, 15))
}

// lateHost is the host the late-join check adds to the seed's spec.
const lateHost = "  - {name: node4, address: 10.250.8.24, internalAddress: 10.250.8.24}\n"

// lateJoin adds a 4th worker to the spec, renders it with the same
// secrets bundle into a new folder, as "Adding a node later" says, and
// boots it once the bootstrap token's TTL has passed since kubeadm init
// created it (initDone's time): the join window's keeper must have kept
// the token alive for it to join. It must bootstrap with one kubeadm join
// and come up Ready.
func lateJoin(t *testing.T, in bootInputs, lab *Lab, machines map[string]*Machine, kubectl func(...string) ([]byte, error), initDone string) {
	t.Helper()
	b, err := os.ReadFile(in.specFile)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	lastHost := "  - {name: node3, address: 10.250.8.23, internalAddress: 10.250.8.23}\n"
	if !strings.Contains(text, lastHost) || !strings.Contains(text, "worker: [node1, node2, node3]") {
		t.Fatalf("%s: the late join adds node4 after node3's host line and worker list", in.specFile)
	}
	text = strings.Replace(text, lastHost, lastHost+lateHost, 1)
	text = strings.Replace(text, "worker: [node1, node2, node3]", "worker: [node1, node2, node3, node4]", 1)
	specFile := filepath.Join(in.work, "seed-node4.yaml")
	if err := os.WriteFile(specFile, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(in.work, "out-node4")
	ksgenRun(t, in.ksgen, "render", "-f", specFile, "--secrets", in.bundle, "-o", out)

	// Held back: the spec names node4, which has not booted (master1's
	// API server is still stopped from the failover: ask master2's).
	if out, err := ksgenStatus(in, specFile, "https://10.250.8.12:6443"); err == nil || !strings.Contains(err.Error(), "node4") {
		t.Errorf("ksgen status with node4 not booted: want a non-zero exit naming node4, got %v\n%s", err, out)
	} else {
		t.Logf("ksgen status before node4 boots: %v", err)
	}

	ttl := bootstrapTokenTTL(t, in.specFile)
	st, err := os.Stat(initDone)
	if err != nil {
		t.Fatal(err)
	}
	if wait := time.Until(st.ModTime().Add(ttl + 10*time.Second)); wait > 0 {
		t.Logf("node4: waiting %.0fs until the token's %s TTL has passed since kubeadm init", wait.Seconds(), ttl)
		time.Sleep(wait)
	}
	m, err := lab.NewMachine("node4", in.image, filepath.Join(out, "node4", "user-data"), "10.250.8.24/24")
	if err != nil {
		t.Fatal(err)
	}
	machines["node4"] = m
	started := time.Now()
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	t.Logf("node4: booted %.0fs after kubeadm init (token TTL %s)", time.Since(st.ModTime()).Seconds(), ttl)
	waitFor(t, bootBootstrapTimeout, "node4 to bootstrap", func() error {
		if exited, code := m.Exited(); exited {
			return fmt.Errorf("nspawn exited (%d)", code)
		}
		if !exists(filepath.Join(m.Root, "var/lib/ksgen/bootstrapped")) {
			return fmt.Errorf("not bootstrapped")
		}
		return nil
	})
	journal, err := m.Run(time.Minute, "journalctl", "-o", "cat", "-u", "ksgen-bootstrap")
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(journal, []byte("kubeadm join succeeded after")); n != 1 {
		t.Errorf("node4: want one kubeadm join succeeded, got %d:\n%s", n, tailLines(journal, 30))
	}
	waitFor(t, bootSettleTimeout, "node4 Ready", func() error {
		out, err := kubectl("get", "node", "node4", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		if err != nil || string(out) != "True" {
			return fmt.Errorf("Ready=%q %v", out, err)
		}
		return nil
	})
	t.Logf("node4: joined and Ready %.0fs after power-on", time.Since(started).Seconds())
}

// ksgenStatus runs ksgen status for specFile with the bundle, in the lab's
// network namespace, against server (an API server's URL); an error carries its
// standard error.
func ksgenStatus(in bootInputs, specFile, server string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	argv := append([]string{"--net=/run/netns/" + LabNetns, in.ksgen, "status", "-f", specFile, "--secrets", in.bundle,
		"--server", server}, args...)
	cmd := exec.CommandContext(ctx, "nsenter", argv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%w: %s", err, stderr.Bytes())
	}
	return stdout.Bytes(), nil
}

// bootstrapTokenTTL is the ksgen document's bootstrapTokenTTL.
func bootstrapTokenTTL(t *testing.T, file string) time.Duration {
	t.Helper()
	s := loadSpec(t, file)
	if s.Config.Spec.BootstrapTokenTTL == "" {
		t.Fatalf("%s: the late join needs a short bootstrapTokenTTL in the ksgen document", file)
	}
	d, err := time.ParseDuration(s.Config.Spec.BootstrapTokenTTL)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// rebootMachine reboots m with systemctl reboot and checks it comes back
// with nothing to do: nspawn exits 133 and starts again on the same disk,
// systemd reaches running, the bootstrap is skipped by its condition and
// runs no phase, /etc/kubernetes is unchanged, and the kubelet renews its
// Lease after the reboot.
func rebootMachine(t *testing.T, m *Machine, kubectl func(...string) ([]byte, error)) {
	t.Helper()
	t0 := time.Now()
	before := treeSum(t, filepath.Join(m.Root, "etc/kubernetes"))
	if _, err := m.Run(time.Minute, "systemctl", "reboot"); err != nil {
		t.Logf("%s: systemctl reboot: %v", m.Name, err)
	}
	code, err := m.WaitExit(rebootGrace)
	if err != nil {
		t.Fatal(err)
	}
	if code != 133 {
		t.Fatalf("%s: nspawn exited %d after a reboot, want 133", m.Name, code)
	}
	rebooted := time.Now()
	if err := m.Stop(); err != nil { // its cgroups, before they are made again
		t.Fatal(err)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, bootSettleTimeout, m.Name+" to come back to running", func() error {
		state, err := systemRunning(t, m)
		if got := strings.TrimSpace(string(state)); got != "running" {
			return fmt.Errorf("is-system-running %q: %v", got, err)
		}
		return nil
	})
	journal, err := m.Run(time.Minute, "journalctl", "-b", "-o", "cat", "-u", "ksgen-bootstrap")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(journal, []byte("ConditionPathExists=!/var/lib/ksgen/bootstrapped")) || bytes.Contains(journal, []byte("phase ")) {
		t.Errorf("%s: after the reboot the bootstrap should be skipped by its condition and run no phase:\n%s", m.Name, journal)
	}
	if after := treeSum(t, filepath.Join(m.Root, "etc/kubernetes")); after != before {
		t.Errorf("%s: /etc/kubernetes changed across the reboot", m.Name)
	}
	waitFor(t, bootSettleTimeout, m.Name+"'s kubelet to renew its lease after the reboot", func() error {
		renew, err := leaseRenewed(kubectl("-n", "kube-node-lease", "get", "lease", m.Name, "-o", "json"))
		if err != nil {
			return err // the API may be settling after the reboot
		}
		if !renew.After(rebooted) {
			return fmt.Errorf("renewTime %s, rebooted at %s", renew, rebooted)
		}
		return nil
	})
	t.Logf("%s: rebooted and back in %.1fs", m.Name, time.Since(t0).Seconds())
}

// leaseRenewed reads a Lease's renewTime from kubectl's JSON output.
func leaseRenewed(b []byte, err error) (time.Time, error) {
	var lease struct {
		Spec struct {
			RenewTime time.Time `json:"renewTime"`
		} `json:"spec"`
	}
	if err == nil {
		err = json.Unmarshal(b, &lease)
	}
	return lease.Spec.RenewTime, err
}

// checkSystemPods waits until the system pods are Running: HAProxy on
// each worker, kube-proxy on each node when the spec runs it, and with a
// CNI its pods on each node, CoreDNS's two and every node Ready. It then
// checks that kube-proxy programmed its iptables chains on a worker.
func checkSystemPods(t *testing.T, in bootInputs, kubectl func(...string) ([]byte, error), worker *Machine) {
	t.Helper()
	workers := 0
	for _, h := range in.hosts {
		if h.role == "worker" {
			workers++
		}
	}
	want := map[string]int{"kube-system/haproxy-": workers}
	cs := clusterSpec(t, in.specFile)
	proxy := !cs.Kubernetes.DisableKubeProxy
	if proxy {
		want["kube-system/kube-proxy-"] = len(in.hosts)
	}
	cni := cs.Network.Plugin
	switch cni {
	case "none", "":
	case "flannel":
		want["kube-flannel/kube-flannel-ds-"] = len(in.hosts)
		want["kube-system/coredns-"] = 2
	default:
		t.Fatalf("the booted e2e does not run network plugin %s", cni)
	}
	waitFor(t, bootSettleTimeout, fmt.Sprintf("system pods Running: %v", want), func() error {
		out, err := kubectl("get", "pods", "-A", "-o", `jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name} {.status.phase}{"\n"}{end}`)
		if err != nil {
			return err
		}
		running := map[string]int{}
		for _, line := range strings.Split(string(out), "\n") {
			name, status, _ := strings.Cut(line, " ")
			for prefix := range want {
				if strings.HasPrefix(name, prefix) && status == "Running" {
					running[prefix]++
				}
			}
		}
		for prefix, n := range want {
			if running[prefix] != n {
				return fmt.Errorf("%d %s pods Running, want %d:\n%s", running[prefix], prefix, n, out)
			}
		}
		return nil
	})
	if cni != "none" && cni != "" {
		waitFor(t, bootSettleTimeout, "every node Ready", func() error {
			out, err := kubectl("get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status} {end}`)
			if err != nil {
				return err
			}
			if f := strings.Fields(string(out)); len(f) != len(in.hosts) || slices.ContainsFunc(f, func(s string) bool { return !strings.HasSuffix(s, "=True") }) {
				return fmt.Errorf("nodes %s", out)
			}
			return nil
		})
	}
	if !proxy {
		return
	}
	waitFor(t, bootSettleTimeout, "kube-proxy's iptables chains on "+worker.Name, func() error {
		_, err := worker.Run(time.Minute, "iptables", "-t", "nat", "-S", "KUBE-SERVICES")
		return err
	})
}

// iptablesFiles is iptables (nft), ip6tables and conntrack from the test
// image's root base, with the xtables extensions they load by name;
// withLibraries adds the shared libraries.
func iptablesFiles(t *testing.T, base string) map[string]string {
	t.Helper()
	files := map[string]string{}
	multi := filepath.Join(base, "usr/sbin/xtables-nft-multi")
	for _, name := range []string{"iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save", "ip6tables-restore",
		"iptables-nft", "iptables-nft-save", "iptables-nft-restore", "ip6tables-nft", "ip6tables-nft-save", "ip6tables-nft-restore", "xtables-nft-multi"} {
		files["/usr/sbin/"+name] = multi // it picks its applet by its name
	}
	files["/usr/sbin/conntrack"] = filepath.Join(base, "usr/sbin/conntrack")
	exts, _ := filepath.Glob(filepath.Join(base, "usr/lib/x86_64-linux-gnu/xtables/*.so"))
	if len(exts) == 0 {
		t.Fatal("the test image has no xtables extensions")
	}
	for _, e := range exts {
		files[strings.TrimPrefix(e, base)] = e
	}
	return files
}

// withLibraries adds to an image's files the shared libraries each one
// loads, as ldd names them: for the test image's own files (under base,
// when it is set) ldd runs chrooted in base and the libraries come from
// there; for programs of this machine (Debian 12 as well: haproxy, the
// programs the test built) they come from this machine.
func withLibraries(t *testing.T, base string, files map[string]string) {
	t.Helper()
	seen := map[string]bool{}
	for _, src := range slices.Sorted(maps.Values(files)) {
		if seen[src] {
			continue
		}
		seen[src] = true
		cmd, root := exec.Command("ldd", src), ""
		if rel, ok := strings.CutPrefix(src, base+"/"); ok && base != "" {
			cmd, root = exec.Command("chroot", base, "ldd", "/"+rel), base
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			if bytes.Contains(out, []byte("not a dynamic executable")) {
				continue // static, as the Go programs built with CGO off
			}
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			lib := ""
			switch {
			case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
				lib = f[2]
			case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
				lib = f[0]
			default:
				continue
			}
			if _, ok := files[lib]; !ok {
				files[lib] = filepath.Join(root, lib)
			}
		}
	}
}

// hostSysctlKeys are the keys of a node's sysctl.d that are not per network
// namespace, so reach the host's kernel from a machine.
func hostSysctlKeys(t *testing.T, dir string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.conf"))
	var keys []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := bufio.NewScanner(bytes.NewReader(b))
		for s.Scan() {
			k, _, ok := strings.Cut(s.Text(), "=")
			k = strings.TrimSpace(k)
			if ok && k != "" && !strings.HasPrefix(k, "#") && !strings.HasPrefix(k, "net.") {
				keys = append(keys, k)
			}
		}
	}
	return keys
}

func exists(file string) bool {
	_, err := os.Stat(file)
	return err == nil
}

// etcdType is the spec's etcd.type.
func etcdType(t *testing.T, file string) string { return clusterSpec(t, file).Etcd.Type }

// networkPlugin is the spec's network.plugin.
func networkPlugin(t *testing.T, file string) string { return clusterSpec(t, file).Network.Plugin }

func clusterSpec(t *testing.T, file string) spec.ClusterSpec { return loadSpec(t, file).Cluster.Spec }

func loadSpec(t *testing.T, file string) *spec.Spec {
	t.Helper()
	s, _, err := spec.LoadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func fileSHA256(t *testing.T, file string) string {
	t.Helper()
	h := sha256.New()
	if err := hashFile(h, file); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// dumpMachine logs what explains a failed machine: cloud-init's status,
// failed units and the journal of the bootstrap, kubelet and containerd.
func dumpMachine(t *testing.T, m *Machine) {
	for _, args := range [][]string{
		{"cloud-init", "status", "--long"},
		{"systemctl", "list-units", "--failed", "--no-legend"},
		{"sh", "-c", "journalctl -b -o short-monotonic --no-pager -u ksgen-bootstrap | tail -60"},
		{"sh", "-c", "journalctl -b -o short-monotonic --no-pager -u kubelet | tail -30"},
		{"sh", "-c", "journalctl -b -o short-monotonic --no-pager -u containerd -u ksgen-test-images | tail -20"},
	} {
		out, err := m.Run(time.Minute, args...)
		t.Logf("=== %s: %s (%v)\n%s", m.Name, strings.Join(args, " "), err, out)
	}
	if b, err := os.ReadFile(m.Root + ".console"); err == nil {
		t.Logf("=== %s console (last lines)\n%s", m.Name, tailLines(b, 40))
	}
}

// systemRunning waits for the machine's systemd to settle and returns
// `systemctl is-system-running`. Under this host's hybrid cgroup v1, nspawn
// machines have seen an early unit of the image (systemd-remount-fs,
// systemd-tmpfiles-setup-dev, networking, systemd-sysctl) fail before it
// ran anything: "Failed at step CGROUP spawning …: No such file or
// directory", status 219. That is the test machine's failure, not the
// payload's: such a unit, shipped by the image (its unit file under
// /lib/systemd/system, no drop-in) is logged and restarted once, and
// systemd must then reach running. Any other failed unit, or a unit of
// ksgen's failing at step CGROUP, is left failed for the caller to see.
func systemRunning(t *testing.T, m *Machine) ([]byte, error) {
	t.Helper()
	state, err := m.Run(bootSettleTimeout, "systemctl", "is-system-running", "--wait")
	if strings.TrimSpace(string(state)) != "degraded" {
		return state, err
	}
	failed, ferr := m.Run(time.Minute, "systemctl", "list-units", "--failed", "--no-legend", "--plain")
	if ferr != nil {
		return state, err
	}
	var lab []string
	for _, line := range strings.Split(strings.TrimSpace(string(failed)), "\n") {
		unit, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		show, serr := m.Run(time.Minute, "systemctl", "show", "-p", "Result,ExecMainStatus,FragmentPath,DropInPaths", unit)
		props := string(show)
		if serr != nil || !strings.Contains(props, "Result=exit-code\n") || !strings.Contains(props, "ExecMainStatus=219\n") ||
			!strings.Contains(props, "FragmentPath=/lib/systemd/system/") && !strings.Contains(props, "FragmentPath=/usr/lib/systemd/system/") ||
			strings.Contains(props, "DropInPaths=/") {
			return state, err // a failure that is not the lab's
		}
		lab = append(lab, unit)
	}
	for _, unit := range lab {
		journal, _ := m.Run(time.Minute, "journalctl", "-b", "-o", "short-monotonic", "--no-pager", "-u", unit)
		t.Logf("%s: lab: the image's %s failed at step CGROUP (status 219); restarting it once:\n%s", m.Name, unit, tailLines(journal, 6))
		if out, rerr := m.Run(bootSettleTimeout, "systemctl", "restart", unit); rerr != nil {
			t.Logf("%s: restart %s: %v\n%s", m.Name, unit, rerr, out)
		}
	}
	return m.Run(bootSettleTimeout, "systemctl", "is-system-running", "--wait")
}
