package tree

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Replace writes content over the existing file at path (a rotated secrets
// bundle), atomically: the whole content goes to a temporary file beside it,
// with mode, synced, then renamed over path, and the directory is synced. A
// failure at any step leaves path as it was. A symlink is followed: the file
// it names is replaced and the link stays.
func Replace(path string, mode fs.FileMode, content []byte) error {
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(target); err != nil {
		return err
	} else if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	return WriteFile(target, mode, content)
}

// WriteFile puts content at path, with mode, whether or not a file is there:
// the whole content goes to a synced temporary file beside it, which is
// renamed over path, and the directory is synced. A failure at any step
// leaves path as it was.
func WriteFile(path string, mode fs.FileMode, content []byte) error {
	dir := filepath.Dir(path)
	tmp, err := writeTemp(dir, filepath.Base(path), mode, content)
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // a no-op once renamed
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	// The rename is durable once the directory is.
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// writeTemp writes content, with mode, to a new temporary file in dir named
// after base, synced to disk, and returns its path; on an error nothing is
// left behind.
func writeTemp(dir, base string, mode fs.FileMode, content []byte) (string, error) {
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-")
	if err != nil {
		return "", err
	}
	err = tmp.Chmod(mode.Perm())
	if err == nil {
		_, err = tmp.Write(content)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return tmp.Name(), nil
}
