package plan_test

import (
	"slices"
	"testing"

	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/plan"
)

// The plan's etcd facts are what both the kubeadm config and the etcd
// renderer read: endpoints of every member, and where the client files are.
func TestEtcdFacts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		c     cluster
		want  plan.Etcd
		nodes map[string]bool // node → runs kubelet
	}{
		{
			name: "kubekey on dedicated hosts",
			c:    cluster{controlPlanes: 1, etcdOnly: 3, workers: 1, etcd: "    dataDir: /data/etcd\n    port: 12379\n    peerPort: 12380\n"},
			want: plan.Etcd{Type: plan.EtcdKubeKey, Port: 12379, PeerPort: 12380, DataDir: "/data/etcd",
				Endpoints: []string{"https://10.1.0.2:12379", "https://10.1.0.3:12379", "https://10.1.0.4:12379"},
				CAFile:    "/etc/ssl/etcd/ssl/ca.pem", CertFile: "/etc/ssl/etcd/ssl/apiserver-etcd-client.pem", KeyFile: "/etc/ssl/etcd/ssl/apiserver-etcd-client-key.pem"},
			nodes: map[string]bool{"cp1": true, "etcd1": false, "etcd2": false, "etcd3": false, "worker1": true},
		},
		{
			name: "stacked",
			c:    cluster{controlPlanes: 3, etcd: "    type: kubeadm\n"},
			want: plan.Etcd{Type: plan.EtcdKubeadm, Port: 2379, PeerPort: 2380, DataDir: "/var/lib/etcd"},
		},
		{
			name: "external over http needs no files",
			c:    cluster{controlPlanes: 1, etcd: "    type: external\n    external:\n      endpoints: [\"http://10.9.0.1:2379\"]\n"},
			want: plan.Etcd{Type: plan.EtcdExternal, Port: 2379, PeerPort: 2380, DataDir: "/var/lib/etcd", Endpoints: []string{"http://10.9.0.1:2379"}},
		},
		{
			name: "external with files",
			c:    cluster{controlPlanes: 1, etcd: "    type: external\n    external:\n      endpoints: [\"https://10.9.0.1:2379\"]\n      caFile: ca.pem\n      certFile: c.pem\n      keyFile: k.pem\n"},
			want: plan.Etcd{Type: plan.EtcdExternal, Port: 2379, PeerPort: 2380, DataDir: "/var/lib/etcd", Endpoints: []string{"https://10.9.0.1:2379"},
				CAFile: "/etc/ssl/etcd/ssl/external-ca.pem", CertFile: "/etc/ssl/etcd/ssl/external-client.pem", KeyFile: "/etc/ssl/etcd/ssl/external-client-key.pem"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newPlan(t, tc.c)
			got := p.Etcd
			if got.Type != tc.want.Type || got.Port != tc.want.Port || got.PeerPort != tc.want.PeerPort || got.DataDir != tc.want.DataDir ||
				!slices.Equal(got.Endpoints, tc.want.Endpoints) || got.CAFile != tc.want.CAFile || got.CertFile != tc.want.CertFile || got.KeyFile != tc.want.KeyFile {
				t.Errorf("etcd plan\n%+v\nwant\n%+v", got, tc.want)
			}
			for name, kubelet := range tc.nodes {
				n := node(t, p, name)
				if n.Kubelet != kubelet || (!kubelet && n.Action != plan.None) {
					t.Errorf("%s: kubelet %t action %s", name, n.Kubelet, n.Action)
				}
			}
		})
	}
}

// An IPv6 member's URLs put the address in brackets.
func TestEtcdURLsIPv6(t *testing.T) {
	t.Parallel()
	src := `apiVersion: kubekey.kubesphere.io/v1alpha2
kind: Cluster
metadata: {name: v6}
spec:
  hosts:
  - {name: cp1, address: "fd00::1", internalAddress: "fd00::1"}
  roleGroups:
    etcd: [cp1]
    control-plane: [cp1]
  network:
    kubePodsCIDR: "fd00:10:233::/56"
    kubeServiceCIDR: "fd00:10:96::/112"
`
	s, r := spec.Load([]byte(src))
	if err := r.Err(false); err != nil {
		t.Skipf("an IPv6-only cluster does not validate: %v", err)
	}
	p, err := plan.New(s)
	if err != nil {
		t.Fatal(err)
	}
	n := node(t, p, "cp1")
	if got := p.Etcd.ClientURL(n); got != "https://[fd00::1]:2379" {
		t.Errorf("client URL %s", got)
	}
	if got := p.Etcd.PeerURL(n); got != "https://[fd00::1]:2380" {
		t.Errorf("peer URL %s", got)
	}
}
