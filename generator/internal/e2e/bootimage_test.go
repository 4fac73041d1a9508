package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestParsePackerBinaries reads the binaries of a packer-vars file as
// `ksgen images packer-vars` writes them.
func TestParsePackerBinaries(t *testing.T) {
	t.Parallel()
	vars := []byte(`binaries = [
  { name = "kubeadm", url = "https://dl.k8s.io/release/v1.36.3/bin/linux/amd64/kubeadm", dest = "/usr/bin/kubeadm", strip = 0, sha256 = "0123abcd" },
  { name = "etcd", url = "https://github.com/etcd-io/etcd/releases/download/v3.6.8/etcd-v3.6.8-linux-amd64.tar.gz", dest = "/usr/local/bin", strip = 1, sha256 = "" },
]`)
	got := ParsePackerBinaries(vars)
	want := []BakedBinary{
		{"kubeadm", "https://dl.k8s.io/release/v1.36.3/bin/linux/amd64/kubeadm", "/usr/bin/kubeadm", "0", "0123abcd"},
		{"etcd", "https://github.com/etcd-io/etcd/releases/download/v3.6.8/etcd-v3.6.8-linux-amd64.tar.gz", "/usr/local/bin", "1", ""},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

// TestHostSysctlKeys keeps the kernel-wide keys of a sysctl.d and leaves
// the per-network-namespace net.* ones.
func TestHostSysctlKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	conf := "# comment\nnet.ipv4.ip_forward = 1\nvm.max_map_count = 262144\nfs.inotify.max_user_watches=524288\n"
	if err := os.WriteFile(filepath.Join(dir, "99-kubernetes.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	got := hostSysctlKeys(t, dir)
	if want := []string{"vm.max_map_count", "fs.inotify.max_user_watches"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
