package main

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	k8sversion "k8s.io/apimachinery/pkg/util/version"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	kubeadmconstants "k8s.io/kubernetes/cmd/kubeadm/app/constants"

	"github.com/ksgen/ksgen/generator/input/pki"
	"github.com/ksgen/ksgen/generator/output/tree"
	"github.com/ksgen/ksgen/generator/plan"
)

type kubeconfigFlags struct {
	file    string
	secrets string
	ttl     time.Duration
	server  string
	out     string
	force   bool
}

func newKubeconfigCommand(stdout, stderr io.Writer) *cobra.Command {
	f := &kubeconfigFlags{}
	cmd := &cobra.Command{
		Use:   "kubeconfig -f FILE [-o FILE]",
		Short: "Write a short-lived admin kubeconfig signed by the bundle's cluster CA",
		Long: `kubeconfig issues an admin client certificate from the secrets bundle's
cluster CA, valid for --ttl, with a fresh key, and writes a kubeconfig for it
(mode 0600, atomically). Nothing is read from the cluster: it works before
any machine has booted, and from a machine that never logged into one.

The certificate's group is the one kubeadm gives admin.conf at the spec's
Kubernetes version: kubeadm:cluster-admins from v1.29 (kubeadm init binds it
to cluster-admin), system:masters before. The server defaults to the spec's
control-plane endpoint (https://lb.kubesphere.local:6443 style); the nodes
resolve that domain, your machine may not: then pass --server with a control
plane's or the load balancer's address.

An existing -o file is never overwritten unless --force is given. "-o -"
prints the kubeconfig instead.`,
		Example: `  ksgen kubeconfig -f config-sample.yaml
  ksgen kubeconfig -f config-sample.yaml --secrets prod-secrets.yaml --ttl 2h -o prod.kubeconfig
  ksgen kubeconfig -f config-sample.yaml --server https://172.16.0.2:6443 -o admin.kubeconfig --force
  kubectl --kubeconfig admin.kubeconfig get nodes`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return writeKubeconfig(f, time.Now(), stdout, stderr)
		},
	}
	cmd.Flags().StringVarP(&f.file, "file", "f", "", "cluster file (KubeKey config-sample.yaml)")
	cmd.Flags().StringVar(&f.secrets, "secrets", "", "secrets bundle the cluster was rendered with (default: ksgen-secrets.yaml beside FILE)")
	cmd.Flags().DurationVar(&f.ttl, "ttl", 24*time.Hour, "how long the certificate is valid")
	cmd.Flags().StringVar(&f.server, "server", "", "API server URL (default: https://<controlPlaneEndpoint domain>:<port>)")
	cmd.Flags().StringVarP(&f.out, "output", "o", "admin.kubeconfig", `kubeconfig file to write ("-": standard output)`)
	cmd.Flags().BoolVar(&f.force, "force", false, "replace an existing -o file")
	_ = cmd.MarkFlagRequired("file")
	_ = cmd.MarkFlagFilename("file", "yaml", "yml")
	_ = cmd.MarkFlagFilename("secrets", "yaml", "yml")
	return cmd
}

func writeKubeconfig(f *kubeconfigFlags, now time.Time, stdout, stderr io.Writer) error {
	c, a, server, err := admin(f.file, f.secrets, f.server, f.ttl, now, stderr)
	if err != nil {
		return err
	}
	raw, err := clientcmd.Write(*a.config)
	if err != nil {
		return fmt.Errorf("encode kubeconfig: %w", err)
	}
	if f.out == "-" {
		_, err = stdout.Write(raw)
	} else {
		err = writeSecretFile(f.out, raw, f.force)
	}
	if err != nil {
		return err
	}
	if f.server == "" {
		noteEndpointDomain(c, stderr)
	}
	if f.out == "-" {
		return nil
	}
	_, err = fmt.Fprintf(stdout, "wrote %s (mode 0600): %s in group %s, server %s, valid until %s\nuse it: kubectl --kubeconfig %s get nodes\n",
		f.out, adminUser, a.group, server, a.notAfter.UTC().Format(time.RFC3339), f.out)
	return err
}

// readBundle reads the secrets bundle at path, or, when path is "",
// ksgen-secrets.yaml beside the spec. It must exist: a credential from a new
// CA would be worthless.
func readBundle(specFile, path string) (*pki.Bundle, error) {
	if path == "" {
		path = filepath.Join(filepath.Dir(specFile), defaultBundle)
	}
	raw, err := readBundleBytes(path)
	if err != nil {
		return nil, err
	}
	b, err := pki.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("secrets bundle %s: %w", path, err)
	}
	return b, nil
}

// adminUser is the common name of the certificates ksgen issues; the
// apiserver's audit log shows it as the user.
const adminUser = "ksgen-admin"

// clusterAdminsSince is the Kubernetes version from which kubeadm's
// admin.conf is in kubeadm:cluster-admins (constants.
// ClusterAdminsGroupAndClusterRoleBinding, bound to cluster-admin by
// kubeadm init) rather than system:masters (constants.SystemPrivilegedGroup,
// kept since for super-admin.conf only).
var clusterAdminsSince = k8sversion.MustParseSemantic("v1.29.0")

// AdminGroup is the group kubeadm gives its admin credential at v.
func AdminGroup(v *k8sversion.Version) string {
	if v.AtLeast(clusterAdminsSince) {
		return kubeadmconstants.ClusterAdminsGroupAndClusterRoleBinding
	}
	return kubeadmconstants.SystemPrivilegedGroup
}

// adminKubeconfig is a kubeconfig with an admin client certificate.
// admin is what kubeconfig and status share: the spec's plan, and an admin
// kubeconfig valid from now for ttl from the spec's bundle, for server (the
// endpoint when "").
func admin(file, secrets, server string, ttl time.Duration, now time.Time, stderr io.Writer) (*plan.Cluster, *adminKubeconfig, string, error) {
	c, err := loadPlan(file, false, stderr)
	if err != nil {
		return nil, nil, "", err
	}
	b, err := readBundle(file, secrets)
	if err != nil {
		return nil, nil, "", err
	}
	if server, err = apiServer(c, server); err != nil {
		return nil, nil, "", err
	}
	a, err := newAdminKubeconfig(c, b, server, ttl, now)
	if err != nil {
		return nil, nil, "", err
	}
	return c, a, server, nil
}

type adminKubeconfig struct {
	config   *clientcmdapi.Config
	group    string
	notAfter time.Time
}

// newAdminKubeconfig issues an admin certificate valid from now (backdated
// as kubeadm backdates, never before the CA) for ttl, and wraps it in a
// kubeconfig for server that trusts the bundle's cluster CA.
func newAdminKubeconfig(c *plan.Cluster, b *pki.Bundle, server string, ttl time.Duration, now time.Time) (*adminKubeconfig, error) {
	if ttl <= 0 {
		return nil, fmt.Errorf("--ttl %s: must be positive", ttl)
	}
	ca, err := pki.ParseCert(b.CA.Cert)
	if err != nil {
		return nil, fmt.Errorf("secrets bundle: %w", err)
	}
	notBefore := now.Add(-kubeadmconstants.CertificateBackdate)
	if notBefore.Before(ca.NotBefore) {
		notBefore = ca.NotBefore
	}
	notAfter := now.Add(ttl)
	if notAfter.After(ca.NotAfter) {
		return nil, fmt.Errorf("--ttl %s: the certificate would outlive the cluster CA, which expires %s", ttl, ca.NotAfter.UTC().Format(time.RFC3339))
	}
	group := AdminGroup(c.Version)
	kp, err := b.IssueClientCert(b.CA, pki.ClientCertSpec{
		CommonName: adminUser, Organization: []string{group}, NotBefore: notBefore, NotAfter: notAfter,
	})
	if err != nil {
		return nil, err
	}
	cluster := clusterName(c)
	name := adminUser + "@" + cluster
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[cluster] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: b.CA.Cert}
	cfg.AuthInfos[adminUser] = &clientcmdapi.AuthInfo{ClientCertificateData: kp.Cert, ClientKeyData: kp.Key}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: cluster, AuthInfo: adminUser}
	cfg.CurrentContext = name
	return &adminKubeconfig{config: cfg, group: group, notAfter: notAfter}, nil
}

// apiServer is the --server URL, checked, or the control-plane endpoint.
func apiServer(c *plan.Cluster, server string) (string, error) {
	if server == "" {
		return "https://" + net.JoinHostPort(c.Endpoint.Domain, strconv.Itoa(c.Endpoint.Port)), nil
	}
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return "", fmt.Errorf("--server %q: want https://HOST:PORT", server)
	}
	return server, nil
}

// reachableAddress is an address of the API the operator can try when the
// endpoint's domain does not resolve: the VIP or load balancer, else the
// first control plane. Both are in the apiserver certificate's SANs.
func reachableAddress(c *plan.Cluster) string {
	addr := c.Endpoint.Address
	if addr == "" && len(c.ControlPlanes) > 0 {
		addr = c.ControlPlanes[0].Address
	}
	if addr == "" {
		return ""
	}
	return "https://" + net.JoinHostPort(addr, strconv.Itoa(c.Endpoint.Port))
}

// noteEndpointDomain tells the operator, on stderr, that the default server
// is the endpoint's domain, which the nodes resolve from their /etc/hosts
// and this machine may not. It does not look the name up: the advice holds
// for wherever the kubeconfig is used, and a render stays offline.
func noteEndpointDomain(c *plan.Cluster, stderr io.Writer) {
	if net.ParseIP(c.Endpoint.Domain) != nil {
		return
	}
	hint := "https://<a control plane's or the load balancer's address>:" + strconv.Itoa(c.Endpoint.Port)
	if a := reachableAddress(c); a != "" {
		hint = a
	}
	fmt.Fprintf(stderr, "note: the server is the endpoint's domain %s, which the nodes resolve from their /etc/hosts; where it does not resolve, pass --server %s\n", c.Endpoint.Domain, hint)
}

// writeSecretFile writes content with mode 0600 atomically: a temporary
// file in the same directory, then a link (never replacing a file) or, with
// force, a rename over it.
func writeSecretFile(path string, content []byte, force bool) error {
	if !force {
		if err := tree.WriteNew(path, tree.ModeSecret, content); err != nil {
			return fmt.Errorf("write %s: %w (pass --force to replace it)", path, err)
		}
		return nil
	}
	if err := tree.WriteFile(path, tree.ModeSecret, content); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
