package fileset

import (
	"bytes"
	"compress/gzip"
	"sync"
	"unicode/utf8"
)

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestCompression)
	return w
}}

// Gzip compresses at the best level, deterministically (no name and no
// mtime in the header), with pooled compressors: a new one costs far more
// than compressing a small file.
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	w := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(w)
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
