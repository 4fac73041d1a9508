package osprofile_test

import (
	"path"
	"testing"

	"github.com/ksgen/ksgen/generator/profile/osprofile"
)

// Every OS has a whole profile: where its binaries live, how it syncs
// time, who may sudo, and which Butane variant its config.ign uses.
func TestEveryOSHasAWholeProfile(t *testing.T) {
	for _, name := range osprofile.Names {
		p := osprofile.Of(name)
		if p.Name != name || p.Display == "" || p.AdminGroup == "" || p.IgnitionVariant == "" {
			t.Errorf("%s: incomplete profile %+v", name, p)
		}
		for _, dir := range []string{p.BinDir, p.EtcdBinDir} {
			if !path.IsAbs(dir) {
				t.Errorf("%s: binary directory %q is not absolute", name, dir)
			}
		}
		if p.Chrony != "" && !path.IsAbs(p.Chrony) {
			t.Errorf("%s: chrony config %q", name, p.Chrony)
		}
		if p.Ignition != (name == osprofile.FCOS || name == osprofile.Flatcar) {
			t.Errorf("%s: Ignition = %t", name, p.Ignition)
		}
	}
	if !osprofile.Known(osprofile.Default) || osprofile.Known("windows") {
		t.Errorf("Known is wrong")
	}
}
