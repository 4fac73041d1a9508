// Package tree is the only code that writes ksgen's output to disk. A tree is
// built in memory, written to a temporary directory beside the target and
// swapped into place, so a failed render leaves the previous output intact.
package tree

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// IndexFile marks a directory as ksgen output: only such a directory is replaced.
const IndexFile = "index.json"

// File is one output file, at a slash-separated path relative to the tree root.
type File struct {
	Path    string
	Mode    fs.FileMode
	Content []byte
}

// Tree is a whole output directory.
type Tree struct {
	Files []File
}

// Add appends a file.
func (t *Tree) Add(path string, mode fs.FileMode, content []byte) {
	t.Files = append(t.Files, File{Path: path, Mode: mode, Content: content})
}

// Write writes the tree to dir atomically. Directories are 0700. An existing
// dir is replaced only when it is a previous ksgen output (it has index.json)
// or empty; anything else is refused so that no user file is ever lost.
func Write(dir string, t *Tree) error {
	dir = filepath.Clean(dir)
	if err := replaceable(dir); err != nil {
		return err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("create temporary output: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := writeFiles(tmp, t); err != nil {
		return err
	}
	return swap(tmp, dir)
}

func replaceable(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("output %s: %w", dir, err)
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, IndexFile)); err != nil {
		return fmt.Errorf("output %s exists and is not a ksgen output (no %s): refusing to replace it", dir, IndexFile)
	}
	return nil
}

func writeFiles(root string, t *Tree) error {
	files := append([]File(nil), t.Files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	made := map[string]bool{}
	for i, f := range files {
		if i > 0 && files[i-1].Path == f.Path {
			return fmt.Errorf("output: two files at %s", f.Path)
		}
		if f.Path == "" || strings.HasPrefix(f.Path, "/") || strings.Contains("/"+f.Path+"/", "/../") {
			return fmt.Errorf("output: bad path %q", f.Path)
		}
		full := filepath.Join(root, filepath.FromSlash(f.Path))
		if d := filepath.Dir(full); !made[d] {
			if err := os.MkdirAll(d, 0o700); err != nil {
				return fmt.Errorf("output: %w", err)
			}
			made[d] = true
		}
		if err := os.WriteFile(full, f.Content, f.Mode.Perm()); err != nil {
			return fmt.Errorf("output: %w", err)
		}
		// WriteFile's mode passes through the umask; set it exactly.
		if err := os.Chmod(full, f.Mode.Perm()); err != nil {
			return fmt.Errorf("output: %w", err)
		}
	}
	return os.Chmod(root, 0o700)
}

// swap puts tmp at dir. With an existing dir, both are exchanged in one
// renameat2(RENAME_EXCHANGE), so readers see the old or the new tree, never
// a mix; the old one is then removed with tmp.
func swap(tmp, dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(tmp, dir); err != nil {
			return fmt.Errorf("move output into place: %w", err)
		}
		return nil
	}
	err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dir, unix.RENAME_EXCHANGE)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) {
		return fmt.Errorf("swap output into place: %w", err)
	}
	// The filesystem cannot exchange: move the old tree aside, then the new in.
	old := tmp + ".old"
	if err := os.Rename(dir, old); err != nil {
		return fmt.Errorf("move previous output aside: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.Rename(old, dir)
		return fmt.Errorf("move output into place: %w", err)
	}
	return os.RemoveAll(old)
}

// WriteNew writes one file that must not exist yet (a secrets bundle, a new
// spec). The content appears whole or not at all, and an existing file is
// never replaced: the complete temporary file is hard-linked into place,
// which fails when the name is taken.
func WriteNew(path string, mode fs.FileMode, content []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode.Perm()); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists: not overwriting it", path)
		}
		return err
	}
	return nil
}
