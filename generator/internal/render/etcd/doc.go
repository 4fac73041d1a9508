// Package etcd renders etcd in KubeKey's default topology (etcd.type
// kubekey): on every etcd host, etcd runs as the systemd service etcd.service
// with KubeKey's environment file /etc/etcd.env, plus KubeKey's snapshot
// backup (a script, backup-etcd.service and backup-etcd.timer, on the
// calendar of etcd.backupPeriod: daily at 02:00 by default). It also holds
// the etcd key material of a render (Secrets): member and kube-apiserver
// certificates issued from the bundle's etcd CA, or the user's external etcd
// files, which the plan carries (plan.ReadExternalEtcd). For etcd.type
// kubeadm, kubeadm runs etcd itself.
//
// Stage: render. It takes the plan (and the bundle's keys) and adds files and
// units to a node's fileset.Set; it must not import an encoder, the output or
// delivery, nor the raw spec (generator/layers_test.go checks).
package etcd
