#!/bin/sh
# bench-cli times `ksgen render` to disk, both payload formats plus rootfs/,
# for generated clusters of 1,000 and 10,000 hosts (the shape of
# BenchmarkRender's clusterSpec: 3 control-plane/etcd hosts behind the
# internal HAProxy, the rest workers), each into a fresh folder, with
# /usr/bin/time -v (Debian package "time"). Not run in CI: the figures
# depend on the machine; uptime is printed beside each so a reader can
# judge the load.
#
#   make bench-cli                       # builds bin/ksgen first
#   KSGEN=/tmp/ksgen-old HOSTS="1000" scripts/bench-cli.sh
set -eu

KSGEN=${KSGEN:-bin/ksgen}
HOSTS=${HOSTS:-"1000 10000"}
SECRETS=${SECRETS:-testdata/test-secrets.yaml}
work=$(mktemp -d "${TMPDIR:-/tmp}/ksgen-bench-cli.XXXXXX")
trap 'rm -rf "$work"' EXIT

# spec HOSTS writes a cluster of HOSTS hosts to stdout.
spec() {
	awk -v n="$1" 'BEGIN {
		print "apiVersion: kubekey.kubesphere.io/v1alpha2\nkind: Cluster\nmetadata:\n  name: bench\nspec:\n  hosts:"
		for (i = 1; i <= n; i++) {
			a = sprintf("172.%d.%d.%d", 16 + int(i / 65536), int(i / 256) % 256, i % 256)
			printf "  - {name: node%d, address: %s, internalAddress: %s}\n", i, a, a
		}
		print "  roleGroups:\n    etcd: [node1, node2, node3]\n    control-plane: [node1, node2, node3]"
		printf "    worker: [\"node[4:%d]\"]\n", n
		print "  controlPlaneEndpoint: {internalLoadbalancer: haproxy, domain: lb.kubesphere.local, port: 6443}"
		print "  kubernetes: {version: v1.36.3}"
	}'
}

for n in $HOSTS; do
	spec "$n" >"$work/cluster-$n.yaml"
	echo "== $n hosts, both formats, into a fresh folder ($("$KSGEN" version 2>/dev/null | head -n1))"
	echo "load before: $(uptime)"
	/usr/bin/time -v "$KSGEN" render -q -f "$work/cluster-$n.yaml" --secrets "$SECRETS" -o "$work/out-$n" \
		2>"$work/time-$n" >/dev/null || { cat "$work/time-$n"; exit 1; }
	grep -E 'Elapsed \(wall|Maximum resident|User time|System time|Percent of CPU|File system outputs' "$work/time-$n"
	echo "files: $(find "$work/out-$n" -type f | wc -l), bytes: $(du -sb "$work/out-$n" | cut -f1)"
	echo "load after: $(uptime)"
	rm -rf "$work/out-$n"
done
