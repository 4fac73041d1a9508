package consumers

import (
	"fmt"
	"path/filepath"
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
	server, etcdctl := "go.etcd.io/etcd/server/v3", "go.etcd.io/etcd/etcdctl/v3"
	dir, err := cachedGoBuild("etcd-"+EtcdVersion, EtcdVersion, []string{"etcd", "etcdctl"}, EtcdBuildTimeout, nil, func(run goRun, bin string) error {
		if _, err := run("mod", "init", "ksgen.test/etcd"); err != nil {
			return fmt.Errorf("build etcd: %w", err)
		}
		if _, err := run("get", server+"@"+EtcdVersion, etcdctl+"@"+EtcdVersion); err != nil {
			return &MissingError{What: "etcd " + EtcdVersion + " cannot be fetched: " + tail([]byte(err.Error()), 5), Hint: "needs the Go module proxy"}
		}
		for _, b := range []struct{ pkg, name string }{{server, "etcd"}, {etcdctl, "etcdctl"}} {
			if _, err := run("build", "-trimpath", "-o", filepath.Join(bin, b.name), b.pkg); err != nil {
				return fmt.Errorf("build etcd: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return Etcd{}, err
	}
	return Etcd{Server: filepath.Join(dir, "etcd"), Etcdctl: filepath.Join(dir, "etcdctl")}, nil
}
