// Package roles gives nodes KubeKey's role labels. kubeadm labels control
// planes itself; the worker label (node-role.kubernetes.io/worker) is one a
// kubelet may not set on its own node, so every control plane labels the
// nodes that register without a role, from a systemd timer.
//
// Stage: render. It takes the plan (and the bundle's keys) and adds files and
// units to a node's fileset.Set; it must not import an encoder, the output or
// delivery, nor the raw spec (generator/layers_test.go checks).
package roles
