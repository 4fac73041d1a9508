// Package generator compiles a validated spec and a secrets bundle into the
// output tree: per node, the kubeadm config, the rootfs it receives and its
// encoded payloads, plus index.json. It only orchestrates; the renderers,
// encoders and the tree writer do the work.
//
// Stage: output, and the pipeline's driver: it runs input, plan, render and
// encode for every node and streams the result to the tree; it must not
// import delivery.
package generator
