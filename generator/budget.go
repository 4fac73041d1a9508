package generator

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ksgen/ksgen/generator/payload"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/generator/spec"
)

// Limit is a user-data size limit.
type Limit struct {
	Bytes int
	// AfterBase64 says the limit applies to the base64 text the API takes;
	// otherwise to the bytes before encoding.
	AfterBase64 bool
}

// CloudLimits are the documented user-data limits: AWS EC2 16 KiB "in raw
// form, before it is base64-encoded"; Azure custom data 64 KiB of base64;
// OpenStack Nova 65535 bytes of base64; GCE metadata values 256 KiB.
var CloudLimits = map[string]Limit{
	"aws":       {Bytes: 16384},
	"azure":     {Bytes: 65536, AfterBase64: true},
	"openstack": {Bytes: 65535, AfterBase64: true},
	"gcp":       {Bytes: 262144},
}

// budget is the limit every payload must fit; a zero limit means none.
type budget struct {
	name  string
	limit Limit
}

// budgetOf reads the ksgen document's budget; a plain byte count is taken
// after base64, the strictest reading.
func budgetOf(b spec.Budget) (budget, error) {
	switch {
	case b.Bytes > 0:
		return budget{name: fmt.Sprintf("%d-byte", b.Bytes), limit: Limit{Bytes: b.Bytes, AfterBase64: true}}, nil
	case b.Cloud != "":
		limit, ok := CloudLimits[b.Cloud]
		if !ok {
			return budget{}, fmt.Errorf("ksgen.spec.budget.cloud: unknown cloud %q", b.Cloud)
		}
		return budget{name: b.Cloud, limit: limit}, nil
	}
	return budget{}, nil
}

// Sent is the size of a payload as a cloud counts it: cloud-init user-data
// goes gzipped (cloud-init unpacks it), Ignition configs as they are.
func (l Limit) Sent(content []byte, gzipped bool) int {
	n := len(content)
	if gzipped {
		n = len(gzipBytes(content))
	}
	if l.AfterBase64 {
		n = base64.StdEncoding.EncodedLen(n)
	}
	return n
}

// check fails when a payload is over budget, naming the files that take the
// space.
func (b budget) check(name string, content []byte, gzipped bool, p *payload.Node) error {
	if b.limit.Bytes == 0 {
		return nil
	}
	size := b.limit.Sent(content, gzipped)
	if size <= b.limit.Bytes {
		return nil
	}
	files := slices.Clone(p.Files)
	slices.SortFunc(files, func(x, y payload.File) int { return len(y.Content) - len(x.Content) })
	var largest []string
	for _, f := range files[:min(5, len(files))] {
		largest = append(largest, fmt.Sprintf("%s (%d B)", f.Path, len(f.Content)))
	}
	return fmt.Errorf("%s is %d bytes as sent, over the %s budget of %d; largest files: %s",
		name, size, b.name, b.limit.Bytes, strings.Join(largest, ", "))
}

// readSnippets reads every user snippet the selected nodes use, once, from
// paths relative to the spec file.
func readSnippets(s *spec.Spec, nodes []*plan.Node) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, n := range nodes {
		for _, path := range []string{n.Settings.Snippets.Butane, n.Settings.Snippets.CloudConfig} {
			if path == "" || out[path] != nil {
				continue
			}
			full := path
			if !filepath.IsAbs(full) {
				full = filepath.Join(s.Dir, path)
			}
			raw, err := os.ReadFile(full)
			if err != nil {
				return nil, fmt.Errorf("snippet for node %s: %w", n.Name, err)
			}
			out[path] = raw
		}
	}
	return out, nil
}
