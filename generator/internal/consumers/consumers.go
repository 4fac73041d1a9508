// Package consumers builds and runs the real programs that consume ksgen's
// payloads, for tests: the Ignition binary (built from the module's pinned
// github.com/coreos/ignition/v2, stages fetch-offline and files into a
// scratch root) and cloud-init's boot stages (in a sandbox that never touches
// the host: new mount, network, UTS, IPC and PID namespaces, an overlay of the
// host root with a tmpfs upper layer, and a chroot).
//
// Every function that needs something the machine may lack returns a
// *MissingError, so that tests can tell "cannot run here" from "failed".
package consumers

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// MissingError reports a prerequisite this machine lacks.
type MissingError struct {
	What string // what is missing
	Hint string // how to get it
}

func (e *MissingError) Error() string {
	if e.Hint == "" {
		return e.What
	}
	return e.What + " (" + e.Hint + ")"
}

// IsMissing reports whether err (or any error it wraps) is a *MissingError.
func IsMissing(err error) bool {
	var m *MissingError
	return errors.As(err, &m)
}

func missing(what, hint string) error { return &MissingError{What: what, Hint: hint} }

// requireRoot fails with a *MissingError unless the process runs as root.
func requireRoot(why string) error {
	if os.Geteuid() != 0 {
		return missing("not running as root", why)
	}
	return nil
}

// lookPaths finds every command or returns a *MissingError naming the first
// one that is absent.
func lookPaths(hint string, names ...string) error {
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			return missing(fmt.Sprintf("%s not found in PATH", n), hint)
		}
	}
	return nil
}

// moduleRoot returns the directory of the go.mod that encloses the working
// directory (tests run in their package's directory).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// combined runs cmd and returns its combined output with the error, which
// names the command (name) and its last lines of output.
func combined(name string, cmd *exec.Cmd) ([]byte, error) {
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s: %w\n%s", name, err, tail(out.Bytes(), 30))
	}
	return out.Bytes(), err
}

// tail returns the last n lines of b.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
