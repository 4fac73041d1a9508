// Package osprep renders what every machine needs before kubeadm runs:
// hostname, /etc/hosts, the kernel modules and sysctls kubelet and kube-proxy
// need, time sync, and the login users.
//
// Stage: render. It takes the plan (and the bundle's keys) and adds files and
// units to a node's fileset.Set; it must not import an encoder, the output or
// delivery, nor the raw spec (generator/layers_test.go checks).
package osprep
