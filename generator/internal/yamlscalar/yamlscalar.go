// Package yamlscalar writes strings as go.yaml.in/yaml/v3's emitter lays
// them out, at a fraction of its cost, for the kinds of string it can tell
// apart safely: what the encoders type into their templates for each node,
// and the scalars of a node's kubeadm config.
package yamlscalar

import "strings"

// Literal is s as go.yaml.in/yaml/v3 writes it as a block mapping's value
// whose key is at column col (indent 2), from after the key's ": " through
// the value's last newline, without the emitter (most of a node's own
// encoding cost), for the text a node's own files and units mostly hold:
// lines of printable ASCII, none ending in a space, the first not empty or
// indented, ending in one newline. The emitter writes such text as a
// literal block with no hints ("|"), each line two columns past its key and
// empty lines empty; ok is false for anything else, left to the emitter.
func Literal(s string, col int) (string, bool) {
	if len(s) < 2 || s[0] == ' ' || s[0] == '\n' || s[len(s)-1] != '\n' || s[len(s)-2] == '\n' {
		return "", false
	}
	lines := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\n':
			if s[i-1] == ' ' {
				return "", false
			}
			lines++
		case c < 0x20 || c > 0x7e:
			return "", false
		}
	}
	indent := strings.Repeat(" ", col+2)
	var b strings.Builder
	b.Grow(len(s) + 2 + lines*len(indent))
	b.WriteString("|\n")
	for line := range strings.Lines(s) {
		if line != "\n" {
			b.WriteString(indent)
		}
		b.WriteString(line)
	}
	return b.String(), true
}

// Plain is s as the emitter writes it as a block mapping's value, a plain
// scalar and its newline, for a data URL of the characters base64 and
// percent-encoding use (see PlainWord); ok is false for anything else.
func Plain(s string) (string, bool) {
	if !strings.HasPrefix(s, "data:") || !PlainWord(s) {
		return "", false
	}
	return s + "\n", true
}

// PlainWord reports whether the emitter writes s as a plain scalar in
// block context (a mapping's key or value, a list item), for the kinds of
// string it can tell safely: names, paths, URLs, tokens, hashes, data URLs
// (a letter or '/' first, then letters, digits and "._/:=+-;,%", not
// ending in ':', not a word YAML 1.1 reads as a bool or null), and dotted
// numbers such as IPv4 addresses (digits and at least two dots: no YAML
// number, date or sexagesimal).
func PlainWord(s string) bool {
	if s == "" {
		return false
	}
	if c := s[0]; c >= '0' && c <= '9' {
		dots := 0
		for i := 0; i < len(s); i++ {
			switch {
			case s[i] == '.' && s[i-1] != '.':
				dots++
			case s[i] < '0' || s[i] > '9':
				return false
			}
		}
		return dots >= 2 && s[len(s)-1] != '.'
	}
	if !IsLetter(s[0]) && s[0] != '/' || s[len(s)-1] == ':' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !IsLetter(c) && (c < '0' || c > '9') && strings.IndexByte("._/:=+-;,%", c) < 0 {
			return false
		}
	}
	switch strings.ToLower(s) {
	case "y", "n", "yes", "no", "on", "off", "true", "false", "null":
		return false
	}
	return true
}

// IsLetter reports whether c is an ASCII letter.
func IsLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
