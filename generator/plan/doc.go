// Package plan derives per-node facts from a validated spec: roles, whether
// a node runs kubeadm init or join, its addresses, what the control-plane
// endpoint resolves to on it, and the cluster-wide values every renderer
// shares. Renderers read a plan; they never look at the spec's raw form.
//
// Stage: plan. It takes the loaded spec and the secrets bundle and gives every
// cluster and node decision as a typed field; it must not import a renderer, an
// encoder, the output or delivery.
package plan
