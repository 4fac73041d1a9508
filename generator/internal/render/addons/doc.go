// Package addons renders what the init node does after kubeadm init: the
// CNI, the spec's addons (yaml and Helm charts) and KubeSphere, as post
// hooks of the bootstrap script. The manifests and charts are versioned
// assets baked into the image (images.AssetDir); the payload carries only a
// small parameter file, the apply script and, with KubeSphere v3, the
// user's ClusterConfiguration.
//
// Stage: render. It takes the plan (and the bundle's keys) and adds files and
// units to a node's fileset.Set; it must not import an encoder, the output or
// delivery, nor the raw spec (generator/layers_test.go checks).
package addons
