package generator

import (
	"os"
	"path"
	"strings"
	"testing"

	"github.com/ksgen/ksgen/generator/internal/consumers"
	"github.com/ksgen/ksgen/generator/internal/fileset"
)

// TestUnitsVerify has systemd judge every unit and drop-in ksgen writes, on
// every node of the bundled example and of the stacked-etcd, kube-vip and
// load-balancer cases: `systemd-analyze verify` in a root holding the
// node's files says nothing.
func TestUnitsVerify(t *testing.T) {
	for _, name := range []string{"ha-haproxy", "etcd-stacked", "lb-hosts", "ksgen-doc"} {
		out := renderOnce(t, goldenSpecs+"/valid-"+name+".yaml")
		nodes := map[string]map[string][]byte{}
		modes := map[string]map[string]os.FileMode{}
		for _, f := range out.Files {
			host, rest, ok := strings.Cut(f.Path, "/rootfs/")
			if !ok {
				continue
			}
			if nodes[host] == nil {
				nodes[host], modes[host] = map[string][]byte{}, map[string]os.FileMode{}
			}
			nodes[host]["/"+rest] = f.Content
			modes[host]["/"+rest] = f.Mode
		}
		for host, files := range nodes {
			var units []string
			for p := range files {
				if path.Dir(p) == fileset.UnitDir {
					units = append(units, path.Base(p))
				}
			}
			if len(units) == 0 {
				continue
			}
			t.Run(name+"/"+host, func(t *testing.T) {
				t.Parallel()
				err := consumers.VerifyUnits(files, modes[host], units...)
				if consumers.IsMissing(err) {
					if os.Getenv("CI") != "" {
						t.Fatal(err)
					}
					t.Skip(err)
				}
				if err != nil {
					t.Error(err)
				}
			})
		}
	}
}
