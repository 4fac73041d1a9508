// Package lb renders the control-plane endpoint's load balancer for the
// nodes that run one: KubeKey's internal HAProxy as a static pod on every
// worker, kube-vip as a static pod on every control plane, or keepalived +
// HAProxy static pods on the load-balancer hosts (or, when the ksgen
// document asks, on the control planes). The ksgen document's
// loadBalancer.proxy puts nginx where HAProxy would run. With an external
// load balancer nothing runs; /etc/hosts (osprep) does the rest.
//
// Stage: render. It takes the plan (and the bundle's keys) and adds files and
// units to a node's fileset.Set; it must not import an encoder, the output or
// delivery, nor the raw spec (generator/layers_test.go checks).
package lb
