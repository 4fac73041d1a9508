package consumers

import (
	"path/filepath"
	"sync"
	"time"
)

// CrictlVersion is the crictl the end-to-end nodes carry, to restart
// containers as the certificate renewal does. images pins v1.35.0 for baked
// images, which the module proxy here refuses (403); crictl speaks the same
// CRI v1 API to containerd either way.
const CrictlVersion = "v1.34.0"

// CrictlBuildTimeout bounds a cold build of crictl (downloads included).
const CrictlBuildTimeout = 15 * time.Minute

var crictlBinary = sync.OnceValues(buildCrictl)

// CrictlBinary returns crictl at CrictlVersion, built from the Go module
// proxy with CGO off at most once per process and kept in the user cache
// directory like EtcdBinaries.
func CrictlBinary() (string, error) { return crictlBinary() }

func buildCrictl() (string, error) {
	const pkg = "sigs.k8s.io/cri-tools/cmd/crictl"
	dir, err := cachedGoBuild("crictl-"+CrictlVersion, CrictlVersion, []string{"crictl"}, CrictlBuildTimeout, nil, func(run goRun, bin string) error {
		return modBuild(run, bin, []string{"sigs.k8s.io/cri-tools@" + CrictlVersion}, map[string]string{"crictl": pkg}, "-s -w")
	})
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "crictl"), nil
}
