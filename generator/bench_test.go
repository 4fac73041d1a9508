package generator_test

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ksgen/ksgen/generator"
	"github.com/ksgen/ksgen/generator/input/pki"
	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/internal/plantest"
)

// clusterSpec is the bundled example grown to n hosts: 3 control-plane/etcd
// hosts behind the internal HAProxy, the rest workers (given as one range).
func clusterSpec(n int) []byte {
	var b strings.Builder
	b.WriteString("apiVersion: kubekey.kubesphere.io/v1alpha2\nkind: Cluster\nmetadata:\n  name: bench\nspec:\n  hosts:\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  - {name: node%d, address: 172.%d.%d.%d, internalAddress: 172.%d.%d.%d}\n",
			i, 16+i/65536, (i/256)%256, i%256, 16+i/65536, (i/256)%256, i%256)
	}
	fmt.Fprintf(&b, `  roleGroups:
    etcd: [node1, node2, node3]
    control-plane: [node1, node2, node3]
    worker: ["node[4:%d]"]
  controlPlaneEndpoint: {internalLoadbalancer: haproxy, domain: lb.kubesphere.local, port: 6443}
  kubernetes: {version: v1.36.3}
`, n)
	return []byte(b.String())
}

func testBundle(b testing.TB) *pki.Bundle { return plantest.Bundle(b) }

// BenchmarkRender measures renders of clusters of growing size: payload=none
// is plan, kubeadm configs, PKI and rootfs/; cloud-init adds each node's
// user-data (the default OS, ubuntu), ignition each node's config.bu and
// config.ign (every node on Fedora CoreOS); default is a render with the
// default formats (both payloads) of a cluster whose odd-numbered hosts run
// Fedora CoreOS and the others the default OS, so half the nodes get each.
func BenchmarkRender(b *testing.B) {
	bundle := testBundle(b)
	for _, hosts := range []int{100, 1000, 10000} {
		for _, payload := range []string{generator.FormatNone, generator.FormatCloudInit, generator.FormatIgnition, "default"} {
			raw := clusterSpec(hosts)
			opts := generator.Options{Formats: []string{payload}}
			switch payload {
			case generator.FormatIgnition:
				raw = append(raw, fcosNodes...)
			case "default":
				raw = append(raw, halfFCOS(hosts)...)
				opts.Formats = nil
			}
			b.Run(fmt.Sprintf("hosts=%d/payload=%s", hosts, payload), func(b *testing.B) {
				s, r := spec.Load(raw)
				if err := r.Err(false); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				var files int
				cpu := cpuTime(b)
				for b.Loop() {
					t, err := generator.Generate(s, bundle, opts)
					if err != nil {
						b.Fatal(err)
					}
					files = len(t.Files)
				}
				b.ReportMetric(float64(files), "files")
				b.ReportMetric(float64(cpuTime(b)-cpu)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// cpuTime is the process's user and system CPU time: on a shared machine
// a render's CPU varies far less than its wall time.
func cpuTime(b *testing.B) time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		b.Fatal(err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// halfFCOS is a ksgen document giving clusterSpec's odd-numbered hosts
// Fedora CoreOS.
func halfFCOS(hosts int) []byte {
	var b strings.Builder
	b.WriteString("---\napiVersion: ksgen.io/v1alpha1\nkind: Config\nspec:\n  hosts:\n")
	for i := 1; i <= hosts; i += 2 {
		fmt.Fprintf(&b, "    node%d: {os: fcos}\n", i)
	}
	return []byte(b.String())
}
