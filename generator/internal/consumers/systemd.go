package consumers

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// VerifyUnits runs `systemd-analyze verify` on units (names under
// /etc/systemd/system) in a scratch root that holds the host's unit library
// and files (path → content, mode): what systemd itself says of them, with
// any output counted as a finding. A command a unit starts that files does
// not hold (kubelet, etcd: the image's binaries) is stood in for by an empty
// executable, as the image provides it.
func VerifyUnits(files map[string][]byte, modes map[string]os.FileMode, units ...string) error {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		return &MissingError{What: "systemd-analyze not found", Hint: "apt-get install systemd"}
	}
	var library string
	for _, dir := range []string{"/usr/lib/systemd/system", "/lib/systemd/system"} {
		if _, err := os.Stat(filepath.Join(dir, "multi-user.target")); err == nil {
			library = dir
			break
		}
	}
	if library == "" {
		return &MissingError{What: "no systemd unit library with multi-user.target", Hint: "apt-get install systemd"}
	}
	root, err := os.MkdirTemp("", "ksgen-units-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	lib := filepath.Join(root, "usr/lib/systemd")
	if err := os.MkdirAll(lib, 0o755); err != nil {
		return err
	}
	if out, err := exec.Command("cp", "-R", library, lib+"/").CombinedOutput(); err != nil {
		return fmt.Errorf("copy the unit library: %v: %s", err, out)
	}
	write := func(path string, content []byte, mode os.FileMode) error {
		full := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		return os.WriteFile(full, content, mode)
	}
	for path, content := range files {
		if err := write(path, content, modes[path]); err != nil {
			return err
		}
	}
	for path, content := range files {
		if !strings.HasSuffix(filepath.Dir(path), "systemd/system") && !strings.HasSuffix(filepath.Dir(path), ".d") {
			continue
		}
		for _, cmd := range execPaths(content) {
			if _, ok := files[cmd]; ok {
				continue
			}
			if _, err := os.Stat(filepath.Join(root, cmd)); err == nil {
				continue
			}
			if err := write(cmd, []byte("#!/bin/sh\n"), 0o755); err != nil {
				return err
			}
		}
	}
	args := append([]string{"verify", "--man=no", "--generators=no", "--root=" + root}, units...)
	out, err := exec.Command(sa, args...).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		return fmt.Errorf("systemd-analyze verify %s: %v\n%s", strings.Join(units, " "), err, out)
	}
	return nil
}

// execPaths are the absolute programs of a unit's Exec*= lines.
func execPaths(unit []byte) []string {
	var out []string
	s := bufio.NewScanner(bytes.NewReader(unit))
	for s.Scan() {
		key, value, ok := strings.Cut(strings.TrimSpace(s.Text()), "=")
		if !ok || !strings.HasPrefix(key, "Exec") {
			continue
		}
		value = strings.TrimLeft(value, "-@:+!")
		if f := strings.Fields(value); len(f) > 0 && strings.HasPrefix(f[0], "/") {
			out = append(out, f[0])
		}
	}
	return out
}
