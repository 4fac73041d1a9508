package main

import (
	_ "github.com/coreos/butane/config"
	_ "github.com/coreos/ignition/v2/config"
	_ "github.com/spf13/cobra"
	_ "go.yaml.in/yaml/v3"
	_ "k8s.io/cluster-bootstrap/token/util"
	_ "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/v1beta3"
	_ "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/v1beta4"
	_ "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme"
	_ "k8s.io/kubernetes/cmd/kubeadm/app/util/config"
	_ "k8s.io/kubernetes/cmd/kubeadm/app/util/pkiutil"
	_ "k8s.io/kubernetes/cmd/kubeadm/app/util/pubkeypin"
	_ "k8s.io/kubernetes/cmd/kubeadm/app/images"
	_ "k8s.io/kubelet/config/v1beta1"
	_ "k8s.io/kube-proxy/config/v1alpha1"
	_ "sigs.k8s.io/yaml"
)

func main() {}
