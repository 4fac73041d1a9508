package fileset

import (
	"bytes"
	"compress/gzip"
	"sync"
	"unicode/utf8"
)

// gzipWriters pools compressors by level: a new one costs far more than
// compressing a small file.
var gzipWriters = map[int]*sync.Pool{
	gzip.BestCompression:    gzipPool(gzip.BestCompression),
	gzip.DefaultCompression: gzipPool(gzip.DefaultCompression),
}

func gzipPool(level int) *sync.Pool {
	return &sync.Pool{New: func() any {
		w, _ := gzip.NewWriterLevel(nil, level)
		return w
	}}
}

// Gzip compresses at the best level, as Butane does, deterministically (no
// name and no mtime in the header).
func Gzip(b []byte) []byte { return gzipAt(gzip.BestCompression, b) }

// GzipDefault compresses at gzip's default level (6, as the gzip command and
// Go's gzip.NewWriter), deterministically: for whole payloads, where the
// best level costs twice the time to save at most 0.4% (testdata/golden).
func GzipDefault(b []byte) []byte { return gzipAt(gzip.DefaultCompression, b) }

func gzipAt(level int, b []byte) []byte {
	var buf bytes.Buffer
	pool := gzipWriters[level]
	w := pool.Get().(*gzip.Writer)
	defer pool.Put(w)
	w.Reset(&buf)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

// IsText reports whether b can be carried as a YAML string and read back
// byte for byte by Go's YAML and by cloud-init's PyYAML: valid UTF-8, no
// carriage returns (YAML normalises line breaks), and only characters PyYAML
// accepts as printable, excluding the ones YAML treats as line breaks or BOM.
func IsText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		switch {
		case r == '\n' || r == '\t':
		case r < 0x20 || r == 0x7f:
			return false
		case r >= 0x80 && r < 0xa0: // C1 controls, NEL
			return false
		case r == 0x2028 || r == 0x2029 || r == 0xfeff: // YAML line breaks, BOM
			return false
		case r >= 0xd800 && r < 0xe000 || r == 0xfffe || r == 0xffff:
			return false
		}
	}
	return true
}
