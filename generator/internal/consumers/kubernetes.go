package consumers

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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
	if err := lookPaths("install Go", "go"); err != nil {
		return "", err
	}
	h := sha256.Sum256([]byte(runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + " " + v + " " + strings.Join(KubernetesCommands, ",")))
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	parent := filepath.Join(cache, "ksgen-test")
	dir := filepath.Join(parent, "kubernetes-"+v+"-"+hex.EncodeToString(h[:])[:16])
	if allExecutable(dir, KubernetesCommands) {
		return dir, nil
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	work, err := os.MkdirTemp(parent, ".kubernetes-build-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)

	ctx, cancel := context.WithTimeout(context.Background(), KubernetesBuildTimeout)
	defer cancel()
	run := func(args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=mod -buildvcs=false")
		var out strings.Builder
		cmd.Stdout = &out
		stderr := &strings.Builder{}
		cmd.Stderr = stderr
		cmd.WaitDelay = 5 * time.Second
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, tail([]byte(stderr.String()), 30))
		}
		return []byte(out.String()), nil
	}
	if _, err := run("mod", "init", "ksgen.test/kubernetes"); err != nil {
		return "", fmt.Errorf("build kubernetes: %w", err)
	}
	module := "k8s.io/kubernetes@" + v
	info, err := run("mod", "download", "-json", module)
	if err != nil {
		return "", &MissingError{What: "k8s.io/kubernetes " + v + " cannot be fetched: " + tail([]byte(err.Error()), 5), Hint: "needs the Go module proxy"}
	}
	var dl struct{ GoMod string }
	if err := json.Unmarshal(info, &dl); err != nil || dl.GoMod == "" {
		return "", fmt.Errorf("go mod download %s: no go.mod in %q", module, info)
	}
	staging, err := stagingModules(dl.GoMod)
	if err != nil {
		return "", err
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
		return "", fmt.Errorf("build kubernetes: %w", err)
	}
	if _, err := run("get", module); err != nil {
		return "", fmt.Errorf("build kubernetes: %w", err)
	}
	// The version kubeadm reads from its own binary decides which images
	// and configs it expects: stamp the real one.
	ldflags := fmt.Sprintf("-s -w -X k8s.io/component-base/version.gitVersion=%s -X k8s.io/component-base/version.gitMajor=%d -X k8s.io/component-base/version.gitMinor=%d -X k8s.io/component-base/version.gitTreeState=clean",
		v, sv.Major(), sv.Minor())
	bin := filepath.Join(work, "bin")
	args := []string{"build", "-trimpath", "-ldflags", ldflags, "-o", bin + "/"}
	for _, c := range KubernetesCommands {
		args = append(args, "k8s.io/kubernetes/cmd/"+c)
	}
	if _, err := run(args...); err != nil {
		return "", fmt.Errorf("build kubernetes: %w", err)
	}
	// Rename is atomic: a concurrent run sees no directory or a whole one.
	if err := os.Rename(bin, dir); err != nil && !allExecutable(dir, KubernetesCommands) {
		return "", err
	}
	return dir, nil
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

func allExecutable(dir string, names []string) bool {
	for _, n := range names {
		if !executable(filepath.Join(dir, n)) {
			return false
		}
	}
	return true
}
