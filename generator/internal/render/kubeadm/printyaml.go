package kubeadm

import (
	"bytes"
	"slices"
	"strconv"
	"strings"

	"github.com/ksgen/ksgen/generator/internal/yamlscalar"
)

// printYAML writes v, a JSON object as encoding/json decodes it into any,
// byte for byte as go.yaml.in/yaml/v3's Encoder with indent 2 writes it,
// without the emitter (most of a kubeadm config's cost), for the documents
// a node's config mostly is: keys without digits (see sortsAsBytes),
// strings that are plain scalars of a safe kind (yamlscalar.PlainWord),
// lists whose items are not lists, no empty list or mapping inside a list.
// ok is false for anything else, left to the emitter.
func printYAML(v any) (out []byte, ok bool) {
	m, isMap := v.(map[string]any)
	if !isMap || len(m) == 0 {
		return nil, false
	}
	var b bytes.Buffer
	if !printMap(&b, m, 0, false) {
		return nil, false
	}
	return b.Bytes(), true
}

// printMap writes m's keys, sorted, at column col; in a list item (item),
// the first key follows the item's "- " instead of the indent.
func printMap(b *bytes.Buffer, m map[string]any, col int, item bool) bool {
	keys := make([]string, 0, len(m))
	for k := range m {
		if !sortsAsBytes(k) || !yamlscalar.PlainWord(k) {
			return false
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i == 0 && item {
			indent(b, col-2)
			b.WriteString("- ")
		} else {
			indent(b, col)
		}
		b.WriteString(k)
		b.WriteByte(':')
		switch val := m[k].(type) {
		case map[string]any:
			if len(val) == 0 {
				b.WriteString(" {}\n")
				continue
			}
			b.WriteByte('\n')
			if !printMap(b, val, col+2, false) {
				return false
			}
		case []any:
			if len(val) == 0 {
				b.WriteString(" []\n")
				continue
			}
			b.WriteByte('\n')
			if !printList(b, val, col+2) {
				return false
			}
		default:
			b.WriteByte(' ')
			if !printScalar(b, val) {
				return false
			}
		}
	}
	return true
}

// printList writes l's items at column col, each after "- ".
func printList(b *bytes.Buffer, l []any, col int) bool {
	for _, it := range l {
		switch val := it.(type) {
		case map[string]any:
			if len(val) == 0 {
				return false
			}
			if !printMap(b, val, col+2, true) {
				return false
			}
		case []any:
			return false
		default:
			indent(b, col)
			b.WriteString("- ")
			if !printScalar(b, val) {
				return false
			}
		}
	}
	return true
}

// printScalar writes a JSON scalar and its newline as yaml.v3 does.
func printScalar(b *bytes.Buffer, v any) bool {
	switch val := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(val))
	case float64:
		s := strconv.FormatFloat(val, 'g', -1, 64)
		if strings.ContainsAny(s, "IN") { // ±Inf, NaN: JSON has none
			return false
		}
		b.WriteString(s)
	case string:
		if !yamlscalar.PlainWord(val) {
			return false
		}
		b.WriteString(val)
	default:
		return false
	}
	b.WriteByte('\n')
	return true
}

// sortsAsBytes reports whether yaml.v3 orders key s among others like it
// as Go orders strings: it compares digits as numbers, and puts any other
// character before a letter, which byte order does too for "-./" (not for
// '_', between the upper and the lower case).
func sortsAsBytes(s string) bool {
	for i := 0; i < len(s); i++ {
		if !yamlscalar.IsLetter(s[i]) && !strings.ContainsRune("-./", rune(s[i])) {
			return false
		}
	}
	return true
}

func indent(b *bytes.Buffer, col int) {
	for range col {
		b.WriteByte(' ')
	}
}
