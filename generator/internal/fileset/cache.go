package fileset

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
)

// Key identifies an encoder's input (a file, a unit, a whole shape) by the
// SHA-256 of its fields, each length-prefixed so that no two inputs share one.
type Key [sha256.Size]byte

// KeyBuilder accumulates the fields of a Key in a buffer, hashed at once
// by Sum (writing each small field to a hash.Hash moved it to the heap).
// Builders and their buffers are reused: one is done once Sum returns.
type KeyBuilder struct{ buf []byte }

var keyBuilders = sync.Pool{New: func() any { return &KeyBuilder{buf: make([]byte, 0, 1024)} }}

// NewKey starts a key.
func NewKey() *KeyBuilder { return keyBuilders.Get().(*KeyBuilder) }

// Str adds a string field.
func (k *KeyBuilder) Str(s string) *KeyBuilder {
	k.Int(len(s))
	k.buf = append(k.buf, s...)
	return k
}

// Bytes adds a byte field.
func (k *KeyBuilder) Bytes(b []byte) *KeyBuilder {
	k.Int(len(b))
	k.buf = append(k.buf, b...)
	return k
}

// Int adds an integer field.
func (k *KeyBuilder) Int(i int) *KeyBuilder {
	k.buf = binary.LittleEndian.AppendUint64(k.buf, uint64(i))
	return k
}

// Sum returns the key and puts the builder back for reuse.
func (k *KeyBuilder) Sum() Key {
	sum := sha256.Sum256(k.buf)
	k.buf = k.buf[:0]
	keyBuilders.Put(k)
	return sum
}

// Cache holds values an encoder derived from its inputs, for one render:
// encoders make one per render, never a global one, so renders neither
// share state nor grow it. A value is kept from the second time its key is
// met: what only one node has (its hostname, its kubeadm config) is encoded
// for that node and dropped, so memory follows what nodes share, not how
// many there are. Safe for concurrent use; a value two goroutines derive at
// once is derived twice, identically.
type Cache[V any] struct {
	mu   sync.Mutex
	seen map[Key]struct{}
	vals map[Key]V
}

// Get returns the value for key, calling derive when it is not held.
func (c *Cache[V]) Get(key Key, derive func() (V, error)) (V, error) {
	c.mu.Lock()
	v, ok := c.vals[key]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := derive()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, again := c.seen[key]; again {
		if c.vals == nil {
			c.vals = map[Key]V{}
		}
		c.vals[key] = v
		delete(c.seen, key)
	} else {
		if c.seen == nil {
			c.seen = map[Key]struct{}{}
		}
		c.seen[key] = struct{}{}
	}
	return v, nil
}

// Once runs check once per key and gives every caller its result: a check
// that holds for one input holds for every input of the same key.
type Once struct {
	mu     sync.Mutex
	checks map[Key]*onceResult
}

type onceResult struct {
	once sync.Once
	err  error
}

// Do runs check the first time key is met and returns its error to every
// caller with that key, waiting for it when it is still running.
func (o *Once) Do(key Key, check func() error) error {
	o.mu.Lock()
	if o.checks == nil {
		o.checks = map[Key]*onceResult{}
	}
	r, ok := o.checks[key]
	if !ok {
		r = &onceResult{}
		o.checks[key] = r
	}
	o.mu.Unlock()
	r.once.Do(func() { r.err = check() })
	return r.err
}
