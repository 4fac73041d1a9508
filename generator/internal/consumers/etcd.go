package consumers

import (
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
		return modBuild(run, bin, []string{server + "@" + EtcdVersion, etcdctl + "@" + EtcdVersion}, map[string]string{"etcd": server, "etcdctl": etcdctl}, "")
	})
	if err != nil {
		return Etcd{}, err
	}
	return Etcd{Server: filepath.Join(dir, "etcd"), Etcdctl: filepath.Join(dir, "etcdctl")}, nil
}
