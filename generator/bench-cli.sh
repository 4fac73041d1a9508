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
#   KSGEN=/tmp/ksgen-old HOSTS="1000" generator/bench-cli.sh
#   KSGEN="/tmp/ksgen-old bin/ksgen" generator/bench-cli.sh   # before, after
#
# After the renders of each size, it copies the last output with cp -r and
# syncs it: the time the disk alone takes for that tree, a floor under any
# render's wall time there (it runs on a filesystem already holding the
# renders' trees, as each render after the first does).
#
# Outputs are removed only when the script ends, so that no render starts
# right after a removal (see the loop below). Render into tmpfs with
# TMPDIR=/dev/shm to take the disk out of the figure.
#
# With BUTANE set to a butane binary (go build -o /tmp/butane
# github.com/coreos/butane/internal, the version go.mod pins), it also
# compares, in the same run, ksgen's Ignition cost per node (a 1,000-host
# render with --format ignition minus one with --format none, divided by
# the hosts) with one `butane --strict` process on a worker's config.bu.
set -eu
cd "$(dirname "$0")/.." # the repository: bin/ksgen and testdata/ are relative to it

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

i=0
for n in $HOSTS; do
	spec "$n" >"$work/cluster-$n.yaml"
	for bin in $KSGEN; do
		i=$((i + 1))
		out="$work/out-$i"
		echo "== $n hosts, both formats, into a fresh folder ($("$bin" version 2>/dev/null | head -n1), $bin)"
		echo "load before: $(uptime)"
		/usr/bin/time -v "$bin" render -q -f "$work/cluster-$n.yaml" --secrets "$SECRETS" -o "$out" \
			2>"$work/time-$i" >/dev/null || { cat "$work/time-$i"; exit 1; }
		grep -E 'Elapsed \(wall|Maximum resident|User time|System time|Percent of CPU|File system outputs' "$work/time-$i"
		echo "files: $(find "$out" -type f | wc -l), bytes: $(du -sb "$out" | cut -f1)"
		echo "load after: $(uptime)"
		# Not removed until the end: ext4 then allocates the next render's
		# inodes past the ones just freed (recently_deleted), which took most of
		# a render's system time here.
	done
	# The disk's own floor for this tree: copying the rendered tree, already
	# in memory, to a fresh folder on the same filesystem and syncing it
	# (the render syncs too), with no rendering at all.
	echo "== $n hosts: the disk alone, cp -r of that output + sync -f"
	/usr/bin/time -f 'Elapsed (wall clock) time: %e s, user %U s, system %S s' \
		sh -c 'cp -r "$1" "$2" && sync -f "$2"' sh "$out" "$work/copy-$n" 2>&1
done
KSGEN=${KSGEN##* } # the Ignition comparison below runs the last binary

[ -n "${BUTANE:-}" ] || exit 0
n=1000
# Every node on Fedora CoreOS, so that --format ignition renders them all.
{ spec "$n"; printf -- '---\napiVersion: ksgen.io/v1alpha1\nkind: Config\nspec:\n  os: fcos\n'; } >"$work/cluster-$n.yaml"
# cpu FORMAT: user+sys seconds and wall seconds of one render.
cpu() {
	/usr/bin/time -f '%U %S %e' -o "$work/t" "$KSGEN" render -q -f "$work/cluster-$n.yaml" --secrets "$SECRETS" \
		-o "$work/out-$1" --format "$1" >/dev/null 2>&1
	awk '{ printf "%.3f %.3f", $1 + $2, $3 }' "$work/t"
}
echo "== Ignition per node vs a butane --strict process (load: $(uptime))"
set -- $(cpu none)
none_cpu=$1 none_wall=$2
set -- $(cpu ignition)
ign_cpu=$1 ign_wall=$2
bu="$work/out-ignition/node500/config.bu"
runs=50
/usr/bin/time -f '%U %S %e' -o "$work/t" sh -c "i=0; while [ \$i -lt $runs ]; do \"$BUTANE\" --strict \"$bu\" >/dev/null || exit 1; i=\$((i+1)); done"
set -- $(awk -v r=$runs '{ printf "%.6f %.6f", ($1 + $2) / r, $3 / r }' "$work/t")
bt_cpu=$1 bt_wall=$2
awk -v n=$n -v nc="$none_cpu" -v nw="$none_wall" -v ic="$ign_cpu" -v iw="$ign_wall" -v bc="$bt_cpu" -v bw="$bt_wall" 'BEGIN {
	kc = (ic - nc) / n; kw = (iw - nw) / n
	printf "ksgen render --format none:     %.2f s cpu, %.2f s wall (%d hosts)\n", nc, nw, n
	printf "ksgen render --format ignition: %.2f s cpu, %.2f s wall\n", ic, iw
	printf "ksgen Ignition per node:        %.3f ms cpu, %.3f ms wall\n", kc * 1000, kw * 1000
	printf "butane --strict per process:    %.3f ms cpu, %.3f ms wall (mean of %d on node500/config.bu)\n", bc * 1000, bw * 1000, '"$runs"'
	printf "ratio ksgen/butane:             %.3f cpu, %.3f wall\n", kc / bc, kw / bw
}'
echo "load after: $(uptime)"

