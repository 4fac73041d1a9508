package consumers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/ksgen/ksgen/images"
)

// EtcdVersion is the etcd the tests run ksgen's kubekey-type members with
// (the one images pins), built from the Go module proxy. It is kept out of
// the project's go.mod: a throwaway module in the cache directory requires it.
const EtcdVersion = images.EtcdVersion

// EtcdBuildTimeout bounds a cold build (downloads included).
const EtcdBuildTimeout = 15 * time.Minute

// Etcd is a built etcd server and its etcdctl.
type Etcd struct {
	Server  string
	Etcdctl string
}

var etcdBinaries = sync.OnceValues(buildEtcd)

// EtcdBinaries returns etcd and etcdctl at EtcdVersion, built with CGO off
// at most once per process and kept in the user cache directory, keyed by
// the version and the Go toolchain, so later runs only stat two files. A
// machine without the go command or without the module proxy gets a
// *MissingError.
func EtcdBinaries() (Etcd, error) { return etcdBinaries() }

func buildEtcd() (Etcd, error) {
	if err := lookPaths("install Go", "go"); err != nil {
		return Etcd{}, err
	}
	h := sha256.Sum256([]byte(runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + " " + EtcdVersion))
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	parent := filepath.Join(cache, "ksgen-test")
	dir := filepath.Join(parent, "etcd-"+EtcdVersion+"-"+hex.EncodeToString(h[:])[:16])
	out := Etcd{Server: filepath.Join(dir, "etcd"), Etcdctl: filepath.Join(dir, "etcdctl")}
	if executable(out.Server) && executable(out.Etcdctl) {
		return out, nil
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return Etcd{}, err
	}
	work, err := os.MkdirTemp(parent, ".etcd-build-*")
	if err != nil {
		return Etcd{}, err
	}
	defer os.RemoveAll(work)

	ctx, cancel := context.WithTimeout(context.Background(), EtcdBuildTimeout)
	defer cancel()
	run := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = work
		// A module of its own: no workspace, no vendoring, nothing of the
		// project's go.mod.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=mod -buildvcs=false")
		_, err := combined("go "+strings.Join(args, " "), cmd)
		return err
	}
	if err := run("mod", "init", "ksgen.test/etcd"); err != nil {
		return Etcd{}, fmt.Errorf("build etcd: %w", err)
	}
	server, etcdctl := "go.etcd.io/etcd/server/v3", "go.etcd.io/etcd/etcdctl/v3"
	if err := run("get", server+"@"+EtcdVersion, etcdctl+"@"+EtcdVersion); err != nil {
		return Etcd{}, &MissingError{What: "etcd " + EtcdVersion + " cannot be fetched: " + tail([]byte(err.Error()), 5), Hint: "needs the Go module proxy"}
	}
	bin := filepath.Join(work, "bin")
	for _, b := range []struct{ pkg, name string }{{server, "etcd"}, {etcdctl, "etcdctl"}} {
		if err := run("build", "-trimpath", "-o", filepath.Join(bin, b.name), b.pkg); err != nil {
			return Etcd{}, fmt.Errorf("build etcd: %w", err)
		}
	}
	// Rename is atomic: a concurrent run sees no directory or a whole one.
	if err := os.Rename(bin, dir); err != nil && !(executable(out.Server) && executable(out.Etcdctl)) {
		return Etcd{}, err
	}
	return out, nil
}

func executable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}
