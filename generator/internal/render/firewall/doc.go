// Package firewall opens, on hosts whose firewalld or ufw is active, exactly
// the ports the node's roles need, at every boot before kubelet and etcd
// start. KubeKey stops and disables both firewalls instead; ksgen keeps the
// host's firewall and opens what the cluster needs. A host without an
// active firewall is left as it is.
//
// Stage: render. It takes the plan (and the bundle's keys) and adds files and
// units to a node's fileset.Set; it must not import an encoder, the output or
// delivery, nor the raw spec (generator/layers_test.go checks).
package firewall
