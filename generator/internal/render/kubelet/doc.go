// Package kubelet renders the kubelet unit and kubeadm's drop-in for it, with
// the node's IP and name fixed so kubelet never guesses them. Hosts that run
// no kubeadm (load balancers) get a standalone kubelet instead: no API
// server, only the static pods in the manifests directory.
//
// Stage: render. It takes the plan (and the bundle's keys) and adds files and
// units to a node's fileset.Set; it must not import an encoder, the output or
// delivery, nor the raw spec (generator/layers_test.go checks).
package kubelet
