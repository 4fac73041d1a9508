package addons_test

import (
	"strings"
	"testing"

	"github.com/ksgen/ksgen/generator/input/spec"
)

// TestKubeSphereVersionMustSupportKubernetes checks the compatibility
// validation: KubeKey's K8sSupportVersions for v3, KubeSphere's prerequisites for v4.1.
func TestKubeSphereVersionMustSupportKubernetes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		k8s, ks, want string
	}{
		{"v1.26.15", "v3.4.1", ""},
		{"v1.22.10", "v3.3.2", ""},
		{"v1.30.4", "v4.1.3", ""},
		{"v1.27.4", "v3.4.1", "KubeSphere v3.4.1 supports Kubernetes v1.21 to v1.26, not v1.27.4 (line 16)"},
		{"v1.25.3", "v3.3.2", "KubeSphere v3.3.2 supports Kubernetes v1.19 to v1.24, not v1.25.3 (line 16)"},
		{"v1.31.1", "v4.1.3", "KubeSphere v4.1.3 supports Kubernetes v1.21 to v1.30, not v1.31.1 (line 16)"},
		{"v1.26.15", "v3.2.1", "KubeSphere v3.2.1: ksgen installs v3.3.0, v3.3.1, v3.3.2, v3.4.0, v3.4.1, v4.1.3 (line 16)"},
	} {
		t.Run(tc.k8s+"-"+tc.ks, func(t *testing.T) {
			t.Parallel()
			doc := `apiVersion: kubekey.kubesphere.io/v1alpha2
kind: Cluster
spec:
  hosts: [{name: a, address: 10.0.0.1}]
  roleGroups: {etcd: [a], control-plane: [a], worker: [a]}
  kubernetes: {version: ` + tc.k8s + `}
---
apiVersion: installer.kubesphere.io/v1alpha1
kind: ClusterConfiguration
metadata:
  name: ks-installer
  namespace: kubesphere-system
  labels:
    app: x
    other: y
    version: ` + tc.ks + `
spec: {}
`
			_, r := spec.Load([]byte(doc))
			err := r.Err(false)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("want valid: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), "kubesphere.metadata.labels.version: "+tc.want)):
				t.Fatalf("got %v\nwant kubesphere.metadata.labels.version: %s", err, tc.want)
			}
		})
	}
}
