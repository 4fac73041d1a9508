package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ServiceCommand reads what systemd would run for a service: the unit and
// its drop-ins (sorted, as systemd orders them) from the node, Environment=
// and EnvironmentFile= (read at start, a leading - meaning optional), and the
// last ExecStart= after the last empty one, with $VAR split into words and
// ${VAR} kept whole, as systemd expands them. root is where the node's "/"
// is seen from the machine.
func ServiceCommand(root, unit string) ([]string, error) {
	read := func(path string) ([]byte, error) { return os.ReadFile(filepath.Join(root, path)) }
	files := []string{"/etc/systemd/system/" + unit}
	dropins, _ := filepath.Glob(filepath.Join(root, "etc/systemd/system", unit+".d", "*.conf"))
	slices.Sort(dropins)
	for _, d := range dropins {
		files = append(files, "/etc/systemd/system/"+unit+".d/"+filepath.Base(d))
	}
	env := map[string]string{}
	var execStart string
	for _, f := range files {
		b, err := read(f)
		if err != nil {
			return nil, err
		}
		section := ""
		s := bufio.NewScanner(bytes.NewReader(b))
		for s.Scan() {
			line := strings.TrimSpace(s.Text())
			if strings.HasPrefix(line, "[") {
				section = line
				continue
			}
			key, value, ok := strings.Cut(line, "=")
			if section != "[Service]" || !ok {
				continue
			}
			switch key {
			case "Environment":
				for _, word := range quotedWords(value) {
					if k, v, ok := strings.Cut(word, "="); ok {
						env[k] = v
					}
				}
			case "EnvironmentFile":
				optional := strings.HasPrefix(value, "-")
				b, err := read(strings.TrimPrefix(value, "-"))
				if err != nil {
					if optional {
						continue
					}
					return nil, err
				}
				for k, v := range envFile(b) {
					env[k] = v
				}
			case "ExecStart":
				execStart = value
			}
		}
	}
	if execStart == "" {
		return nil, fmt.Errorf("%s: no ExecStart", unit)
	}
	var argv []string
	for _, word := range strings.Fields(execStart) {
		switch {
		case strings.HasPrefix(word, "${") && strings.HasSuffix(word, "}"):
			argv = append(argv, env[word[2:len(word)-1]])
		case strings.HasPrefix(word, "$"):
			argv = append(argv, strings.Fields(env[word[1:]])...)
		default:
			argv = append(argv, word)
		}
	}
	return argv, nil
}

// quotedWords splits an Environment= value into its assignments, each
// possibly in double quotes.
func quotedWords(s string) []string {
	var words []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return append(words, s[1:])
			}
			words = append(words, s[1:end+1])
			s = s[end+2:]
			continue
		}
		word, rest, _ := strings.Cut(s, " ")
		words = append(words, word)
		s = rest
	}
	return words
}

// envFile parses KEY=VALUE lines, values optionally quoted.
func envFile(b []byte) map[string]string {
	env := map[string]string{}
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		env[strings.TrimSpace(k)] = v
	}
	return env
}
