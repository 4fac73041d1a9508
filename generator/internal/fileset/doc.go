// Package fileset holds a node's file set: what one machine receives at first
// boot, independent of the format that carries it (Ignition or cloud-init).
// Renderers fill a Set; encoders turn it into bytes; the tree writer lays its
// files out under rootfs/.
//
// Shared by the render and encode stages: it imports nothing of ksgen.
package fileset
