// Package certrenew renews the certificates kubeadm issues on the control
// planes before they expire, as KubeKey's autoRenewCerts does: a weekly
// timer runs a script that, when any of them has fewer than 30 days left,
// runs `kubeadm certs renew all`, restarts the control-plane containers so
// they load the new certificates, waits until kube-apiserver serves its new
// one and refreshes root's kubeconfig. It also watches the etcd certificates
// ksgen or the user issued, which no node can renew, and fails loudly when
// one of them is about to expire.
//
// Stage: render. It takes the plan (and the bundle's keys) and adds files and
// units to a node's fileset.Set; it must not import an encoder, the output or
// delivery, nor the raw spec (generator/layers_test.go checks).
package certrenew
