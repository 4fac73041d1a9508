package fileset

import (
	"fmt"
	"io/fs"
	"sort"
)

// Secret and public file modes.
const (
	ModeSecret fs.FileMode = 0o600
	ModePublic fs.FileMode = 0o644
	ModeExec   fs.FileMode = 0o755
)

// File is one regular file the machine receives, at an absolute path.
type File struct {
	Path    string
	Mode    fs.FileMode
	Owner   string // user name; empty means root
	Group   string // group name; empty means root
	Content []byte
	// Source, when set, is a URL the machine downloads the file from at first
	// boot instead of Content, checked against SHA256 (hex) before use.
	Source string
	SHA256 string
}

// Remote reports whether the file is downloaded at first boot.
func (f File) Remote() bool { return f.Source != "" }

// DropIn is a systemd drop-in for a unit (written to <unit>.d/<name>).
type DropIn struct {
	Name     string
	Contents string
}

// Unit is a systemd unit. Contents may be empty when only drop-ins are added
// to a unit the image already ships (kubelet.service, containerd.service).
type Unit struct {
	Name     string
	Enabled  bool
	Contents string
	DropIns  []DropIn
}

// User is a login user with its SSH authorized keys.
type User struct {
	Name              string
	Groups            []string
	SSHAuthorizedKeys []string
}

// Node is everything one machine receives.
type Set struct {
	Name  string
	Files []File
	Units []Unit
	Users []User
}

// AddFile adds a file; a second file at the same path is a programming error
// that Finish reports.
func (n *Set) AddFile(f File) { n.Files = append(n.Files, f) }

// AddUnit adds a unit, merging drop-ins and contents into an existing one of the same name.
func (n *Set) AddUnit(u Unit) {
	for i := range n.Units {
		if n.Units[i].Name == u.Name {
			n.Units[i].DropIns = append(n.Units[i].DropIns, u.DropIns...)
			n.Units[i].Enabled = n.Units[i].Enabled || u.Enabled
			if u.Contents != "" {
				n.Units[i].Contents = u.Contents
			}
			return
		}
	}
	n.Units = append(n.Units, u)
}

// Finish sorts everything by path/name so encoders emit byte-identical output for
// the same input, and rejects two files at one path.
func (n *Set) Finish() error {
	sort.SliceStable(n.Files, func(i, j int) bool { return n.Files[i].Path < n.Files[j].Path })
	for i := 1; i < len(n.Files); i++ {
		if n.Files[i].Path == n.Files[i-1].Path {
			return fmt.Errorf("node %s: two files at %s", n.Name, n.Files[i].Path)
		}
	}
	sort.SliceStable(n.Units, func(i, j int) bool { return n.Units[i].Name < n.Units[j].Name })
	for i := range n.Units {
		d := n.Units[i].DropIns
		sort.SliceStable(d, func(a, b int) bool { return d[a].Name < d[b].Name })
	}
	sort.SliceStable(n.Users, func(i, j int) bool { return n.Users[i].Name < n.Users[j].Name })
	return nil
}

// UnitDir is where systemd units and their drop-ins are written.
const UnitDir = "/etc/systemd/system"

// UnitFiles returns the units and drop-ins as the files systemd reads, so that
// rootfs/ and encoders without a native units section (cloud-init) agree on
// what lands on disk.
func (n *Set) UnitFiles() []File {
	var out []File
	for _, u := range n.Units {
		if u.Contents != "" {
			out = append(out, File{Path: UnitDir + "/" + u.Name, Mode: ModePublic, Content: []byte(u.Contents)})
		}
		for _, d := range u.DropIns {
			out = append(out, File{Path: UnitDir + "/" + u.Name + ".d/" + d.Name, Mode: ModePublic, Content: []byte(d.Contents)})
		}
	}
	return out
}
