package generator

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/generator/profile/clouds"
)

// Limit and CloudLimits are the clouds table (package clouds), under the
// names the renderer's API has always used.
type Limit = clouds.Limit

// CloudLimits are the clouds' user-data limits.
var CloudLimits = clouds.Limits

// Clouds lists the clouds of CloudLimits, sorted.
var Clouds = clouds.Names

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

// measured is a payload with its gzip, compressed once for every size and
// encoding that needs it (index, budget, cloud fits, cloud user-data): the
// gzip sizes ksgen reports are those of the gzip it writes.
type measured struct {
	raw, gz   []byte
	cloudInit bool // cloud-init unpacks gzip user-data; Ignition does not
}

// measure compresses with the fast payload compressor, not the best
// level: gzip's best took a quarter of a large render's CPU to save at
// most 0.4% of the bytes (testdata/golden), and Go's level 6 was still a
// third of it.
func measure(raw []byte, cloudInit bool) measured {
	return measured{raw: raw, gz: fileset.GzipPayload(raw), cloudInit: cloudInit}
}

// as is the payload as l's cloud receives it, before any base64: cloud-init
// user-data gzipped unless the cloud takes text only, Ignition as it is.
func (m measured) as(l Limit) []byte {
	if m.cloudInit && !l.Text {
		return m.gz
	}
	return m.raw
}

// Sent is the size of a payload as a cloud counts it (see measured.as).
func Sent(l Limit, content []byte, gzipped bool) int { return size(l, measure(content, gzipped)) }

func size(l Limit, m measured) int { return l.Counted(len(m.as(l))) }

// encode is the exact user-data to pass to the cloud's API: the payload as
// the cloud receives it, then base64 when the API takes base64.
func encode(l Limit, m measured) []byte { return l.Encode(m.as(l)) }

// CloudFit is how one payload measures against one cloud's limit.
type CloudFit struct {
	Bytes int  `json:"bytes"` // as the cloud counts it (Sent)
	Limit int  `json:"limit"`
	Fits  bool `json:"fits"`
}

// fits measures a payload against every cloud's limit.
func fits(m measured) map[string]CloudFit {
	out := make(map[string]CloudFit, len(CloudLimits))
	for name, l := range CloudLimits {
		n := size(l, m)
		out[name] = CloudFit{Bytes: n, Limit: l.Bytes, Fits: n <= l.Bytes}
	}
	return out
}

// check fails when a payload is over budget, naming the files that take the
// space.
func (b budget) check(name string, m measured, p *fileset.Set) error {
	if b.limit.Bytes == 0 {
		return nil
	}
	sent := size(b.limit, m)
	if sent <= b.limit.Bytes {
		return nil
	}
	files := slices.Clone(p.Files)
	slices.SortFunc(files, func(x, y fileset.File) int { return len(y.Content) - len(x.Content) })
	var largest []string
	for _, f := range files[:min(5, len(files))] {
		largest = append(largest, fmt.Sprintf("%s (%d B)", f.Path, len(f.Content)))
	}
	return fmt.Errorf("%s is %d bytes as sent, over the %s budget of %d (serve it with a pointer config: render --serve-url, or use cloud-init, which goes gzipped); largest files: %s",
		name, sent, b.name, b.limit.Bytes, strings.Join(largest, ", "))
}

// readSnippets reads every user snippet the selected nodes use, once, from
// paths relative to the spec file.
func readSnippets(dir string, nodes []*plan.Node) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, n := range nodes {
		for _, path := range []string{n.Settings.Snippets.Butane, n.Settings.Snippets.CloudConfig} {
			if path == "" || out[path] != nil {
				continue
			}
			full := path
			if !filepath.IsAbs(full) {
				full = filepath.Join(dir, path)
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
