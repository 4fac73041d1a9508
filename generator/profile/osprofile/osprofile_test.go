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
		if p.Name != name || p.Display == "" || p.AdminGroup == "" || (p.Ignition() != (p.IgnitionVariant != "")) {
			t.Errorf("%s: incomplete profile %+v", name, p)
		}
		for _, dir := range []string{p.BinDir, p.EtcdBinDir} {
			if !path.IsAbs(dir) {
				t.Errorf("%s: binary directory %q is not absolute", name, dir)
			}
		}
		if (p.TimeDaemon == osprofile.Chronyd) != path.IsAbs(p.Chrony) || (p.TimeDaemon != osprofile.Chronyd && p.TimeDaemon != osprofile.Timesyncd) {
			t.Errorf("%s: time daemon %q, chrony config %q", name, p.TimeDaemon, p.Chrony)
		}
		if p.Ignition() != (name == osprofile.FCOS || name == osprofile.Flatcar) || p.PXE != p.Ignition() {
			t.Errorf("%s: format %s, PXE %t", name, p.Format, p.PXE)
		}
	}
	if !osprofile.Known(osprofile.Default) || osprofile.Known("windows") {
		t.Errorf("Known is wrong")
	}
}
