package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ksgen/ksgen/generator/internal/consumers"
	"github.com/ksgen/ksgen/images"
)

// ImagePackages are the Debian 12 packages of the test image: what a cloud
// image of a ksgen target has (systemd, cloud-init, networking, locales,
// ssh) plus runc from Debian, which the project's Packer template would
// install from its release (no internet here). containerd is not among
// them: the Packer scripts bake it from its release archive
// (containerdReleaseArchive), as for a user.
var ImagePackages = []string{
	"systemd", "systemd-sysv", "dbus", "cloud-init", "locales", "iproute2", "ifupdown", "netbase", "udev",
	"runc", "curl", "ca-certificates", "conntrack", "iptables", "ebtables", "socat", "ethtool",
	"kmod", "procps", "iputils-ping", "less", "openssh-server",
}

// BakedBinary is one line of the Packer template's `binaries` variable, as
// `ksgen images packer-vars` writes it.
type BakedBinary struct {
	Name, URL, Dest, Strip, SHA256 string
}

var packerBinary = regexp.MustCompile(`\{ name = "([^"]+)", url = "([^"]*)", dest = "([^"]+)", strip = (\d+), sha256 = "([0-9a-f]*)" \}`)

// BakedAsset is one line of the Packer template's `assets` variable: a
// manifest place-assets.sh puts under /opt/ksgen/assets/<Path>.
type BakedAsset struct {
	URL, Path, SHA256 string
}

var packerAsset = regexp.MustCompile(`\{ url = "([^"]*)", path = "([^"]+)", sha256 = "([0-9a-f]*)" \}`)

// ParsePackerAssets reads the assets of a packer-vars file.
func ParsePackerAssets(vars []byte) []BakedAsset {
	var as []BakedAsset
	for _, m := range packerAsset.FindAllStringSubmatch(string(vars), -1) {
		as = append(as, BakedAsset{URL: m[1], Path: m[2], SHA256: m[3]})
	}
	return as
}

// ParsePackerBinaries reads the binaries of a packer-vars file.
func ParsePackerBinaries(vars []byte) []BakedBinary {
	var bs []BakedBinary
	for _, m := range packerBinary.FindAllStringSubmatch(string(vars), -1) {
		bs = append(bs, BakedBinary{Name: m[1], URL: m[2], Dest: m[3], Strip: m[4], SHA256: m[5]})
	}
	return bs
}

// BootImage describes the test image: mmdebstrap's Debian 12 with the
// test-only adaptations in Files, the binaries and assets installed by the
// project's own images/packer/scripts/install-binaries.sh and
// place-assets.sh (each URL a file:// path inside the build, each pinned by
// sha256), the container image archives the pre-import unit loads, and the
// project's cleanup.sh run last.
type BootImage struct {
	Files    string            // directory synced into the image's /
	Scripts  string            // images/packer/scripts
	Binaries []BakedBinary     // URL is a file on this machine
	Assets   []BakedAsset      // URL is a file on this machine
	Archives map[string]string // name in /opt/ksgen-test/images → file on this machine
}

// baseKey hashes the inputs of the mmdebstrap base; key adds the baked
// binaries, the archives and the Packer scripts.
func (img BootImage) baseKey() (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "v1 bookworm %s\n", strings.Join(ImagePackages, ","))
	if err := hashTree(h, img.Files); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func (img BootImage) key(base string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "base %s\n", base)
	if err := hashTree(h, img.Scripts); err != nil {
		return "", err
	}
	for _, b := range img.Binaries {
		fmt.Fprintf(h, "binary %s %s %s %s\n", b.Name, b.Dest, b.Strip, b.SHA256)
	}
	for _, a := range img.Assets {
		fmt.Fprintf(h, "asset %s %s\n", a.Path, a.SHA256)
	}
	for _, n := range slices.Sorted(maps.Keys(img.Archives)) {
		fmt.Fprintf(h, "archive %s\n", n)
		if err := hashFile(h, img.Archives[n]); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// hashTree hashes the names, modes and contents under root.
func hashTree(w io.Writer, root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(w, "%s %v\n", rel, info.Mode())
		if info.Mode().IsRegular() {
			return hashFile(w, p)
		}
		return nil
	})
}

func hashFile(w io.Writer, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// cached returns cacheDir/prefix-key, making it with make (into a
// temporary directory renamed into place) unless it is there; other
// versions of prefix are removed (each is about 1 GB).
func cached(cacheDir, prefix, key string, make func(dir string) error) (string, error) {
	dir := filepath.Join(cacheDir, prefix+"-"+key)
	if _, err := os.Stat(filepath.Join(dir, "etc/os-release")); err == nil {
		return dir, nil
	}
	old, _ := filepath.Glob(filepath.Join(cacheDir, prefix+"-*"))
	old2, _ := filepath.Glob(filepath.Join(cacheDir, "."+prefix+"-*"))
	for _, o := range append(old, old2...) {
		if err := os.RemoveAll(o); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}
	tmp := filepath.Join(cacheDir, "."+prefix+"-"+key)
	if err := make(tmp); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	return dir, os.Rename(tmp, dir)
}

// Base returns the mmdebstrap image with the test-only files, cached.
func (img BootImage) Base(cacheDir string, logf func(string, ...any)) (string, error) {
	key, err := img.baseKey()
	if err != nil {
		return "", err
	}
	return cached(cacheDir, "boot-base", key, func(root string) error {
		args := []string{"-n", "10", "mmdebstrap", "--variant=minbase", "--include=" + strings.Join(ImagePackages, ","),
			"--customize-hook=sync-in " + img.Files + " /",
			// Test-only units are enabled as `systemctl enable` would.
			`--customize-hook=ln -sf ../nspawn-cgroup-rw.service "$1/etc/systemd/system/sysinit.target.wants/nspawn-cgroup-rw.service" && ln -sf ../ksgen-test-images.service "$1/etc/systemd/system/multi-user.target.wants/ksgen-test-images.service"`,
			// A real cloud image has a generated locale (cloud-init's locale
			// module needs one) and no periodic jobs racing the test.
			`--customize-hook=sed -i "s/^# *en_US.UTF-8 UTF-8/en_US.UTF-8 UTF-8/" "$1/etc/locale.gen" && chroot "$1" locale-gen`,
			`--customize-hook=for u in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer; do ln -sf /dev/null "$1/etc/systemd/system/$u"; done`,
			"bookworm", root,
		}
		logf("building the test image's base with mmdebstrap (%d packages)", len(ImagePackages))
		t0 := time.Now()
		if out, err := exec.Command("nice", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("mmdebstrap: %w\n%s", err, tailLines(out, 40))
		}
		logf("base built in %.0fs", time.Since(t0).Seconds())
		return nil
	})
}

// Build returns the test image's root directory, cached under cacheDir:
// a copy of Base into which the Packer build's provisioners run in a
// chroot, install-binaries.sh and place-assets.sh with file:// URLs and the
// sha256 pins, then cleanup.sh; the image archives go to /opt/ksgen-test/images.
func (img BootImage) Build(cacheDir string, logf func(string, ...any)) (string, error) {
	base, err := img.Base(cacheDir, logf)
	if err != nil {
		return "", err
	}
	key, err := img.key(filepath.Base(base))
	if err != nil {
		return "", err
	}
	return cached(cacheDir, "boot-image", key, func(root string) error {
		t0 := time.Now()
		if _, err := run(exec.Command("cp", "-a", "--reflink=auto", base, root)); err != nil {
			return err
		}
		src := filepath.Join(root, "tmp/ksgen-src")
		var lines []string
		for _, b := range img.Binaries {
			// The file keeps its name, so install-binaries.sh sees an
			// archive by its suffix as it would in the URL.
			name := filepath.Base(b.URL)
			if err := copyFile(b.URL, filepath.Join(src, "bin", name), 0o755); err != nil {
				return err
			}
			lines = append(lines, strings.Join([]string{b.Name, "file:///tmp/ksgen-src/bin/" + name, b.Dest, b.Strip, b.SHA256}, " "))
		}
		var assets []string
		for _, a := range img.Assets {
			name := path.Base(a.Path)
			if err := copyFile(a.URL, filepath.Join(src, "assets", name), 0o644); err != nil {
				return err
			}
			assets = append(assets, strings.Join([]string{"file:///tmp/ksgen-src/assets/" + name, a.Path, a.SHA256}, " "))
		}
		for _, s := range []string{"lib.sh", "install-binaries.sh", "place-assets.sh", "cleanup.sh"} {
			if err := copyFile(filepath.Join(img.Scripts, s), filepath.Join(src, s), 0o755); err != nil {
				return err
			}
		}
		for name, file := range img.Archives {
			if err := copyFile(file, filepath.Join(root, "opt/ksgen-test/images", name), 0o644); err != nil {
				return err
			}
		}
		// The provisioners of node.pkr.hcl, with the environment it sets;
		// pull-images.sh needs a registry, so ksgen-test-images.service
		// imports the archives at first boot instead.
		script := `set -euo pipefail
export KSGEN_LIB=/tmp/ksgen-src/lib.sh KSGEN_BINARIES="$1" KSGEN_ASSETS="$2"
bash /tmp/ksgen-src/install-binaries.sh
bash /tmp/ksgen-src/place-assets.sh
bash /tmp/ksgen-src/cleanup.sh
`
		// /dev and /proc for the chroot, in a mount namespace that goes away
		// with the command: nothing stays mounted.
		chroot := `set -e; mount --bind /dev "$0/dev"; mount -t proc proc "$0/proc"; exec chroot "$0" bash -c "$1" bash "$2" "$3"`
		out, err := run(exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", chroot, root, script, strings.Join(lines, "\n"), strings.Join(assets, "\n")))
		if err != nil {
			return fmt.Errorf("bake the test image: %w\n%s", err, out)
		}
		logf("binaries baked by images/packer/scripts in %.0fs:\n%s", time.Since(t0).Seconds(), tailLines(out, 10))
		return nil
	})
}

// etcdReleaseArchive writes etcd and etcdctl as etcd's release archive
// lays them out (etcd-vX-linux-amd64/etcd), so the URL packer-vars names
// (strip 1) unpacks the same way.
func etcdReleaseArchive(file string, etcd consumers.Etcd) error {
	dir := "etcd-" + images.EtcdVersion + "-linux-amd64/"
	return writeTarGz(file, map[string]string{dir + "etcd": etcd.Server, dir + "etcdctl": etcd.Etcdctl})
}

// containerdReleaseArchive writes the containerd the boot spec's Kubernetes
// pairs (2.x: Debian's 1.6 cannot read config version 3), built from the
// Go module proxy, as containerd's release archive lays it out (bin/…,
// strip 0, unpacked into /usr/local): the daemon, its runc shim and ctr.
func containerdReleaseArchive(file string) error {
	ctrd, err := consumers.ContainerdBinaries()
	if err != nil {
		return err
	}
	return writeTarGz(file, map[string]string{
		"bin/containerd": ctrd.Containerd, "bin/containerd-shim-runc-v2": ctrd.Shim, "bin/ctr": ctrd.Ctr,
	})
}

// cniPluginsArchive writes the CNI plugins the nodes run as the
// containernetworking/plugins release archive lays them out (./bridge, …,
// strip 0): flannel's conflist delegates to bridge with host-local and
// chains portmap; flannel itself comes with its DaemonSet's init container.
func cniPluginsArchive(file string, cni consumers.CNI) error {
	files := map[string]string{}
	for _, name := range []string{"bridge", "host-local", "loopback", "portmap"} {
		files["./"+name] = filepath.Join(cni.Plugins, name)
	}
	return writeTarGz(file, files)
}

// writeTarGz writes files (archive name → file on this machine) as a
// gzipped tar with their directories, deterministically, so its sha256 is
// a stable pin.
func writeTarGz(file string, files map[string]string) error {
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	dirs := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if dir := path.Dir(name) + "/"; dir != "./" && !dirs[dir] {
			dirs[dir] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755}); err != nil {
				return err
			}
		}
		b, err := os.ReadFile(files[name])
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o755, Size: int64(len(b))}); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	return os.WriteFile(file, buf.Bytes(), 0o644)
}

func tailLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
