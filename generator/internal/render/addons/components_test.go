package addons_test

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/ksgen/ksgen/generator/internal/render/addons"
)

// TestPluggableComponentsReachKsInstallerUnchanged renders the golden case
// with most components enabled and checks that the ClusterConfiguration
// fake-kubectl applies is the document in the spec file, field for field.
func TestPluggableComponentsReachKsInstallerUnchanged(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../../../testdata/specs/valid-kubesphere-components.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc string
	for _, d := range strings.Split(string(raw), "\n---\n") {
		if strings.Contains(d, "kind: ClusterConfiguration") {
			doc = d
		}
	}
	var want map[string]any
	if err := yaml.Unmarshal([]byte(doc), &want); err != nil {
		t.Fatal(err)
	}
	sb := newSandbox(t, string(raw))
	if out, err := sb.run("addons.sh", "kubesphere"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var got map[string]any
	if err := yaml.Unmarshal(sb.applied()["kubesphere-cluster-configuration.yaml"], &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(want, got) {
		t.Errorf("the ClusterConfiguration changed on the way:\nwant %v\ngot  %v", want, got)
	}
	spec := got["spec"].(map[string]any)
	for _, c := range []string{"alerting", "auditing", "devops", "events", "logging", "metrics_server", "servicemesh", "edgeruntime", "gatekeeper"} {
		if on, _ := spec[c].(map[string]any)["enabled"].(bool); !on {
			t.Errorf("%s is not enabled in what ks-installer receives", c)
		}
	}
	// The golden tree holds the same bytes the node applies.
	golden, err := os.ReadFile("../../../../testdata/golden/kubesphere-components/master1/rootfs" + addons.CCFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(golden) != string(sb.applied()["kubesphere-cluster-configuration.yaml"]) {
		t.Error("the golden tree's ClusterConfiguration differs from what the node applies")
	}
}
