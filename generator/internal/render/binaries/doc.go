// Package binaries adds the files a node downloads at first boot when the
// ksgen document says binaries are not baked into the image: each is fetched
// from its pinned URL and refused unless its sha256 matches.
//
// Stage: render. It takes the plan (and the bundle's keys) and adds files and
// units to a node's fileset.Set; it must not import an encoder, the output or
// delivery, nor the raw spec unless generator/layers_test.go still lists it.
package binaries
