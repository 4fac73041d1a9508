// Package binaries adds the files a node downloads at first boot when the
// ksgen document says binaries.source: download: every binary the node
// needs that its OS's stock image lacks, from the pinned URL (or the
// mirror), refused unless its sha256 matches the pin table. Archives are
// unpacked by ksgen-binaries.service, which the container runtime, the
// kubelet, etcd and the bootstrap require: a download that failed its check
// starts none of them.
//
// Stage: render. It takes the plan (and the bundle's keys) and adds files and
// units to a node's fileset.Set; it must not import an encoder, the output or
// delivery, nor the raw spec (generator/layers_test.go checks).
package binaries
