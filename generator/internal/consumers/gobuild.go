package consumers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// goRun runs the go command in a build's scratch module and returns its
// standard output; an error carries the command and its last lines of
// standard error.
type goRun func(args ...string) ([]byte, error)

// cachedGoBuild returns the directory holding the executables names, built
// by build from the Go module proxy with CGO off at most once per machine:
// the directory, under the user cache directory's ksgen-test, is named
// after name and a hash of key and the Go toolchain, so later runs only
// stat the files. build runs in a scratch module of its own (no workspace,
// nothing of the project's go.mod) and writes the executables into bin,
// which is renamed into place whole. env is added to the go command's
// environment (CGO_ENABLED=1 for a program that needs cgo). A machine
// without the go command gets a *MissingError.
func cachedGoBuild(name, key string, names []string, timeout time.Duration, env []string, build func(run goRun, bin string) error) (string, error) {
	if err := lookPaths("install Go", "go"); err != nil {
		return "", err
	}
	for _, e := range env {
		key += " " + e
	}
	h := sha256.Sum256([]byte(runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + " " + key))
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	parent := filepath.Join(cache, "ksgen-test")
	dir := filepath.Join(parent, name+"-"+hex.EncodeToString(h[:])[:16])
	if allExecutable(dir, names) {
		return dir, nil
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	work, err := os.MkdirTemp(parent, "."+name+"-build-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	run := func(args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = work
		cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=mod -buildvcs=false"), env...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.WaitDelay = 5 * time.Second
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, tail([]byte(stderr.String()), 30))
		}
		return []byte(stdout.String()), nil
	}
	bin := filepath.Join(work, "bin")
	if err := build(run, bin); err != nil {
		return "", err
	}
	// Rename is atomic: a concurrent run sees no directory or a whole one.
	if err := os.Rename(bin, dir); err != nil && !allExecutable(dir, names) {
		return "", err
	}
	return dir, nil
}

func allExecutable(dir string, names []string) bool {
	for _, n := range names {
		if !executable(filepath.Join(dir, n)) {
			return false
		}
	}
	return true
}

func executable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// modBuild is a cachedGoBuild's usual body: a scratch module (unless the
// caller made one first, e.g. to add a replace), the modules of get
// (module@version) fetched from the proxy, and each program (name →
// package) built into bin with ldflags. A module the proxy refuses gives a
// *MissingError.
func modBuild(run goRun, bin string, get []string, programs map[string]string, ldflags string) error {
	if _, err := os.Stat(filepath.Join(filepath.Dir(bin), "go.mod")); err != nil {
		if _, err := run("mod", "init", "ksgen.test/build"); err != nil {
			return err
		}
	}
	if _, err := run(append([]string{"get"}, get...)...); err != nil {
		return &MissingError{What: strings.Join(get, ", ") + " cannot be fetched: " + tail([]byte(err.Error()), 5), Hint: "needs the Go module proxy"}
	}
	for _, name := range slices.Sorted(maps.Keys(programs)) {
		args := []string{"build", "-trimpath", "-o", filepath.Join(bin, name), programs[name]}
		if ldflags != "" {
			args = slices.Insert(args, 2, "-ldflags", ldflags)
		}
		if _, err := run(args...); err != nil {
			return fmt.Errorf("build %s: %w", name, err)
		}
	}
	return nil
}
