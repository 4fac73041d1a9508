// Package firstboot owns the first-boot protocol every kubeadm node follows:
// the bootstrap script and its unit, the phases it runs and their order, the
// hook directory, the slots renderers fill with hooks, and the markers that
// record each finished phase so a reboot or a failure resumes where it
// stopped. Renderers ask it for a hook in a slot; they never write paths
// under Dir themselves.
//
// Stage: render. It takes the plan (and the bundle's keys) and adds files and
// units to a node's fileset.Set; it must not import an encoder, the output or
// delivery, nor the raw spec (generator/layers_test.go checks).
package firstboot
