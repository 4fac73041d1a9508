package consumers

import "testing"

func TestBuildCNITmp(t *testing.T) {
	c, err := CNIBinaries()
	t.Log(c, err)
	d, err := CoreDNSBinary("v1.14.2")
	t.Log(d, err)
}
