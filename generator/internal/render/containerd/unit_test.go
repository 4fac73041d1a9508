package containerd

import (
	"os"
	"strings"
	"testing"
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
	if !strings.Contains(string(script), "<<'UNIT'\n"+releaseUnit+"UNIT\n") {
		t.Errorf("install-binaries.sh does not write containerd.service as the payload does:\n%s", releaseUnit)
	}
}
