package spec

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Severity of a report entry.
type Severity int

// Severities: errors stop a render; warnings stop it only under --strict.
const (
	Error Severity = iota
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Entry is one finding about the spec, with the field path and the line it
// came from (0 when the field is absent from the file).
type Entry struct {
	Severity Severity
	Path     string
	Line     int
	Err      error
}

func (e Entry) String() string {
	var b strings.Builder
	if e.Severity == Warning {
		b.WriteString("warning: ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	return b.String()
}

// Format is the entry as compilers print a finding, so editors can jump to
// it: "FILE:LINE: field.path: message", "FILE: …" when the line is unknown,
// and "warning: " after the position for a warning.
func (e Entry) Format(file string) string {
	var b strings.Builder
	b.WriteString(file)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Severity == Warning {
		b.WriteString("warning: ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Report collects findings in the order they were made.
type Report struct {
	Entries []Entry
}

// add appends a finding.
func (r *Report) add(sev Severity, path string, line int, err error) {
	r.Entries = append(r.Entries, Entry{Severity: sev, Path: path, Line: line, Err: err})
}

// HasErrors reports whether any entry is an error, or (strict) any entry at all.
func (r *Report) HasErrors(strict bool) bool {
	for _, e := range r.Entries {
		if e.Severity == Error || strict {
			return true
		}
	}
	return false
}

// Warnings returns the warning entries.
func (r *Report) Warnings() []Entry {
	var out []Entry
	for _, e := range r.Entries {
		if e.Severity == Warning {
			out = append(out, e)
		}
	}
	return out
}

// Fatal returns the findings that stop the run, sorted by line: the
// errors, and under strict the warnings too.
func (r *Report) Fatal(strict bool) []Entry {
	var fatal []Entry
	for _, e := range r.Entries {
		if e.Severity == Error || strict {
			fatal = append(fatal, e)
		}
	}
	sort.SliceStable(fatal, func(i, j int) bool { return fatal[i].Line < fatal[j].Line })
	return fatal
}

// Err returns the findings that stop the run as one error, sorted by line, or nil.
func (r *Report) Err(strict bool) error {
	var errs []error
	for _, e := range entryErrors(r.Fatal(strict)) {
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// ErrIn is Err for the file the spec was read from: a header naming the
// file, then one "FILE:LINE: field.path: message" line per finding.
func (r *Report) ErrIn(file string, strict bool) error {
	fatal := r.Fatal(strict)
	if len(fatal) == 0 {
		return nil
	}
	return &FileError{File: file, Errs: entryErrors(fatal)}
}

func entryErrors(entries []Entry) []*EntryError {
	errs := make([]*EntryError, len(entries))
	for i, e := range entries {
		errs[i] = &EntryError{Entry: e, Strict: e.Severity == Warning}
	}
	return errs
}

// FileError is the findings that stop a run on one file.
type FileError struct {
	File string
	Errs []*EntryError
}

func (e *FileError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is not valid:", e.File)
	for _, ee := range e.Errs {
		b.WriteString("\n")
		b.WriteString(ee.Format(e.File))
	}
	return b.String()
}

func (e *FileError) Unwrap() []error {
	errs := make([]error, len(e.Errs))
	for i, ee := range e.Errs {
		errs[i] = ee
	}
	return errs
}

// EntryError carries an Entry through error chains so callers can inspect it
// with errors.As and still match the named cause with errors.Is.
type EntryError struct {
	Entry Entry
	// Strict marks a warning that --strict made fatal: it reads as an
	// error, saying why it stops the run.
	Strict bool
}

// strictNote ends a warning that --strict made fatal.
const strictNote = " [a warning, fatal under --strict]"

func (e *EntryError) Error() string {
	if e.Strict {
		return strings.TrimPrefix(e.Entry.String(), "warning: ") + strictNote
	}
	return e.Entry.String()
}

// Format is Entry.Format, with a fatal warning printed as an error.
func (e *EntryError) Format(file string) string {
	if e.Strict {
		entry := e.Entry
		entry.Severity = Error
		return entry.Format(file) + strictNote
	}
	return e.Entry.Format(file)
}

func (e *EntryError) Unwrap() error { return e.Entry.Err }

// Named causes, so tests and callers can match a finding without parsing text.
var (
	ErrSyntax            = errors.New("invalid YAML")
	ErrUnknownField      = errors.New("unknown field")
	ErrDuplicateKey      = errors.New("duplicate key")
	ErrType              = errors.New("wrong type")
	ErrUnknownDocument   = errors.New("unknown document")
	ErrMissingCluster    = errors.New("no kubekey.kubesphere.io/v1alpha2 Cluster document")
	ErrDuplicateDocument = errors.New("document given twice")
	ErrUnknownHost       = errors.New("host is not in spec.hosts")
	ErrBadRange          = errors.New("bad host range")
	ErrDuplicateHost     = errors.New("duplicate host")
	ErrDuplicateAddress  = errors.New("duplicate address")
	ErrRequired          = errors.New("required")
	ErrInvalidIP         = errors.New("invalid IP address")
	ErrInvalidCIDR       = errors.New("invalid CIDR")
	ErrOverlap           = errors.New("networks overlap")
	ErrNoControlPlane    = errors.New("no control-plane host")
	ErrNoEtcd            = errors.New("no etcd host")
	ErrConflict          = errors.New("conflicting settings")
	ErrUnsupported       = errors.New("unsupported")
	ErrVersion           = errors.New("unsupported Kubernetes version")
	ErrPort              = errors.New("port out of range")
	ErrInvalidValue      = errors.New("invalid value")
	ErrEvenEtcd          = errors.New("even number of etcd members")
	ErrNoLoadBalancer    = errors.New("several control planes without a load balancer")
	ErrSSHPassword       = errors.New("SSH password is ignored by ksgen")
	ErrIgnored           = errors.New("setting has no effect in ksgen")
	ErrNoRenewal         = errors.New("certificate renewal is off")
	ErrDefaultRuntime    = errors.New("container runtime differs from KubeKey's default")
	ErrImagesElsewhere   = errors.New("baked images are not where containerd looks")
	ErrNoStorage         = errors.New("no StorageClass for persistent volumes")
	ErrTooSmall          = errors.New("hosts smaller than the components request")
	ErrNoPin             = errors.New("download has no sha256 pin")
	ErrNoBinaries        = errors.New("no Kubernetes binaries on the OS's image")
)

// detailed is a message that reads on its own yet still matches its named
// cause with errors.Is.
type detailed struct {
	msg   string
	cause error
}

func (e *detailed) Error() string { return e.msg }
func (e *detailed) Unwrap() error { return e.cause }

// fail states a finding in full words, tagged with its named cause.
func fail(cause error, format string, args ...any) error {
	return &detailed{msg: fmt.Sprintf(format, args...), cause: cause}
}

// NewEntry is a finding made outside this package (on the plan), at the
// line of path or of its nearest parent in s.
func NewEntry(s *Spec, sev Severity, path string, cause error, format string, args ...any) Entry {
	return Entry{Severity: sev, Path: path, Line: s.NearestLine(path), Err: fail(cause, format, args...)}
}
