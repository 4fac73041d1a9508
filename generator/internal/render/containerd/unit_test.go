package containerd

import (
	"os"
	"strings"
	"testing"

	"github.com/ksgen/ksgen/generator/internal/consumers"
)

// The baked image writes the same containerd.service as the payload, so
// the image's bake (pull-images.sh starts containerd) and first boot run
// the same unit.
func TestPackerRecipeWritesTheReleaseUnit(t *testing.T) {
	t.Parallel()
	script, err := os.ReadFile("../../../../images/packer/scripts/install-binaries.sh")
	if err != nil {
		t.Fatal(err)
	}
	if unit := releaseUnit("/usr/local"); !strings.Contains(string(script), "<<'UNIT'\n"+unit+"UNIT\n") {
		t.Errorf("install-binaries.sh does not write containerd.service as the payload does:\n%s", unit)
	}
}

// systemd-analyze verify loads the release unit for each OS's prefix with
// its containerd in place: /usr/local (systemd's default PATH finds the
// shim and runc) and Flatcar's /opt, whose unit sets PATH itself.
func TestReleaseUnitVerifies(t *testing.T) {
	t.Parallel()
	for _, prefix := range []string{"/usr/local", "/opt"} {
		unit := releaseUnit(prefix)
		files := map[string][]byte{"/etc/systemd/system/containerd.service": []byte(unit)}
		modes := map[string]os.FileMode{"/etc/systemd/system/containerd.service": 0o644}
		err := consumers.VerifyUnits(files, modes, "containerd.service")
		if consumers.IsMissing(err) {
			if os.Getenv("CI") != "" {
				t.Fatal(err)
			}
			t.Skip(err)
		}
		if err != nil {
			t.Errorf("prefix %s: %v", prefix, err)
		}
		if !strings.Contains(unit, "\nExecStart="+prefix+"/bin/containerd\n") {
			t.Errorf("prefix %s: unit does not run %s/bin/containerd:\n%s", prefix, prefix, unit)
		}
	}
}
