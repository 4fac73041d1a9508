package consumers

import (
	"path/filepath"
	"sync"
	"time"

	"github.com/ksgen/ksgen/images"
)

// ContainerdVersion is the containerd the tests read and run ksgen's
// version-3 configs with: the one images pins for the default Kubernetes.
const ContainerdVersion = images.ContainerdVersion

// ContainerdBuildTimeout bounds a cold build of containerd (downloads included).
const ContainerdBuildTimeout = 20 * time.Minute

// Containerd is a built containerd: its daemon, the runc shim it starts
// containers with, and ctr, in one directory laid out like the release
// archive's bin/.
type Containerd struct {
	Dir        string
	Containerd string
	Shim       string
	Ctr        string
}

var containerdBinaries = sync.OnceValues(buildContainerd)

// ContainerdBinaries returns containerd, containerd-shim-runc-v2 and ctr at
// ContainerdVersion, built from the Go module proxy with CGO off at most once
// per process and kept in the user cache directory like EtcdBinaries. CGO off
// leaves out the btrfs snapshotter (which needs libbtrfs headers) as its
// build constraint says; the overlayfs and native snapshotters ksgen's nodes
// use are pure Go.
func ContainerdBinaries() (Containerd, error) { return containerdBinaries() }

func buildContainerd() (Containerd, error) {
	const mod = "github.com/containerd/containerd/v2"
	v := "v" + ContainerdVersion
	names := []string{"containerd", "containerd-shim-runc-v2", "ctr"}
	dir, err := cachedGoBuild("containerd-"+v, v, names, ContainerdBuildTimeout, nil, func(run goRun, bin string) error {
		return modBuild(run, bin, []string{mod + "@" + v}, map[string]string{
			"containerd":              mod + "/cmd/containerd",
			"containerd-shim-runc-v2": mod + "/cmd/containerd-shim-runc-v2",
			"ctr":                     mod + "/cmd/ctr",
		}, "-s -w -X "+mod+"/version.Version="+v)
	})
	if err != nil {
		return Containerd{}, err
	}
	return Containerd{Dir: dir, Containerd: filepath.Join(dir, "containerd"), Shim: filepath.Join(dir, "containerd-shim-runc-v2"), Ctr: filepath.Join(dir, "ctr")}, nil
}
