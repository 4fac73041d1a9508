package consumers

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/version"
)

// KubernetesCommands are the programs a kubeadm cluster runs, built by
// KubernetesBinaries: kubeadm and kubelet on the host, the rest packed into
// the images kubeadm's static pods and add-ons name.
var KubernetesCommands = []string{
	"kubeadm", "kubelet", "kubectl",
	"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy",
}

// KubernetesBuildTimeout bounds a cold build (about 8 minutes on 2 cores,
// downloads included).
const KubernetesBuildTimeout = 30 * time.Minute

var (
	kubeBuildsMu sync.Mutex
	kubeBuilds   = map[string]func() (string, error){}
)

// KubernetesBinaries returns the directory holding KubernetesCommands at
// version (v1.36.3), built from the Go module proxy with CGO off in one `go
// build` (the programs share most of their packages) at most once per
// process, and kept in the user cache directory keyed by the version and
// the Go toolchain. k8s.io/kubernetes cannot be required without a replace
// for each of its staging modules; their list is read from its own go.mod,
// so any released version builds.
func KubernetesBinaries(v string) (string, error) {
	kubeBuildsMu.Lock()
	build, ok := kubeBuilds[v]
	if !ok {
		build = sync.OnceValues(func() (string, error) { return buildKubernetes(v) })
		kubeBuilds[v] = build
	}
	kubeBuildsMu.Unlock()
	return build()
}

func buildKubernetes(v string) (string, error) {
	sv, err := version.ParseSemantic(v)
	if err != nil {
		return "", fmt.Errorf("kubernetes version %q: %w", v, err)
	}
	key := v + " " + strings.Join(KubernetesCommands, ",")
	return cachedGoBuild("kubernetes-"+v, key, KubernetesCommands, KubernetesBuildTimeout, nil, func(run goRun, bin string) error {
		if _, err := run("mod", "init", "ksgen.test/kubernetes"); err != nil {
			return fmt.Errorf("build kubernetes: %w", err)
		}
		module := "k8s.io/kubernetes@" + v
		info, err := run("mod", "download", "-json", module)
		if err != nil {
			return &MissingError{What: "k8s.io/kubernetes " + v + " cannot be fetched: " + tail([]byte(err.Error()), 5), Hint: "needs the Go module proxy"}
		}
		var dl struct{ GoMod string }
		if err := json.Unmarshal(info, &dl); err != nil || dl.GoMod == "" {
			return fmt.Errorf("go mod download %s: no go.mod in %q", module, info)
		}
		staging, err := stagingModules(dl.GoMod)
		if err != nil {
			return err
		}
		edit := []string{"mod", "edit", "-require=" + module}
		stagingVersion := fmt.Sprintf("v0.%d.%d", sv.Minor(), sv.Patch())
		if pre := sv.PreRelease(); pre != "" {
			stagingVersion += "-" + pre
		}
		for _, m := range staging {
			edit = append(edit, "-replace="+m+"="+m+"@"+stagingVersion)
		}
		if _, err := run(edit...); err != nil {
			return fmt.Errorf("build kubernetes: %w", err)
		}
		if _, err := run("get", module); err != nil {
			return fmt.Errorf("build kubernetes: %w", err)
		}
		// The version kubeadm reads from its own binary decides which images
		// and configs it expects: stamp the real one.
		ldflags := fmt.Sprintf("-s -w -X k8s.io/component-base/version.gitVersion=%s -X k8s.io/component-base/version.gitMajor=%d -X k8s.io/component-base/version.gitMinor=%d -X k8s.io/component-base/version.gitTreeState=clean",
			v, sv.Major(), sv.Minor())
		args := []string{"build", "-trimpath", "-ldflags", ldflags, "-o", bin + "/"}
		for _, c := range KubernetesCommands {
			args = append(args, "k8s.io/kubernetes/cmd/"+c)
		}
		if _, err := run(args...); err != nil {
			return fmt.Errorf("build kubernetes: %w", err)
		}
		return nil
	})
}

// stagingModules lists the k8s.io modules k8s.io/kubernetes's go.mod
// replaces with its own staging directories.
func stagingModules(goMod string) ([]string, error) {
	f, err := os.Open(goMod)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var mods []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(s.Text()), "replace "))
		if len(fields) == 3 && fields[1] == "=>" && strings.HasPrefix(fields[2], "./staging/") {
			mods = append(mods, fields[0])
		}
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if len(mods) == 0 {
		return nil, fmt.Errorf("%s replaces no staging modules", goMod)
	}
	return mods, nil
}
