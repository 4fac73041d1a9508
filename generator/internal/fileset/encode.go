package fileset

import (
	"bytes"
	"compress/gzip"
	"io"
	"sync"
	"unicode/utf8"

	kgzip "github.com/klauspost/compress/gzip"
)

// gzipWriter is what both compressors' writers do.
type gzipWriter interface {
	io.WriteCloser
	Reset(io.Writer)
}

// Pools of compressors: a new one costs far more than compressing a small
// file.
var (
	bestWriters = &sync.Pool{New: func() any {
		w, _ := gzip.NewWriterLevel(nil, gzip.BestCompression)
		return w
	}}
	payloadWriters = &sync.Pool{New: func() any {
		w, _ := kgzip.NewWriterLevel(nil, kgzip.DefaultCompression)
		return w
	}}
)

// Gzip compresses with Go's gzip at the best level, byte for byte as
// Butane does, deterministically (no name and no mtime in the header).
func Gzip(b []byte) []byte { return gzipWith(bestWriters, b) }

// GzipPayload compresses a whole payload, deterministically, with
// klauspost/compress at its default level: on a worker's user-data it took
// a quarter of the time of Go's gzip at level 6 for 2-3% more bytes, and
// a render gzips every payload once to measure it.
func GzipPayload(b []byte) []byte { return gzipWith(payloadWriters, b) }

func gzipWith(pool *sync.Pool, b []byte) []byte {
	// Text gzips to less than half; a larger output grows the buffer once.
	buf := bytes.NewBuffer(make([]byte, 0, 64+len(b)/2))
	w := pool.Get().(gzipWriter)
	defer pool.Put(w)
	w.Reset(buf)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

// gzipReaders pools decompressors, which are as costly to make.
var gzipReaders sync.Pool

// Gunzip returns what gzip stream b holds.
func Gunzip(b []byte) ([]byte, error) {
	zr, _ := gzipReaders.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(bytes.NewReader(b))
	} else {
		err = zr.Reset(bytes.NewReader(b))
	}
	if err != nil {
		return nil, err
	}
	defer gzipReaders.Put(zr)
	return io.ReadAll(zr)
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
