package spec

// The types below mirror KubeKey's kubekey.kubesphere.io/v1alpha2 Cluster
// field for field (json names as KubeKey writes them), so a kk user's file
// loads verbatim. Unknown fields are errors; see load.go.

// Cluster is the KubeKey cluster document.
type Cluster struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	Metadata   ObjectMeta  `json:"metadata,omitempty"`
	Spec       ClusterSpec `json:"spec"`
}

// ObjectMeta is the part of Kubernetes object metadata a spec file may carry.
type ObjectMeta struct {
	// Name names the document; the Cluster's seeds the VRRP router ID.
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"` // accepted and unused
	// Labels: the ClusterConfiguration's "version" picks KubeSphere's.
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"` // accepted and unused
}

// ClusterSpec is KubeKey's ClusterSpec.
type ClusterSpec struct {
	Hosts                []Host               `json:"hosts,omitempty"`
	RoleGroups           map[string][]string  `json:"roleGroups,omitempty"`
	ControlPlaneEndpoint ControlPlaneEndpoint `json:"controlPlaneEndpoint,omitempty"`
	System               System               `json:"system,omitempty"`
	Etcd                 Etcd                 `json:"etcd,omitempty"`
	DNS                  DNS                  `json:"dns,omitempty"`
	Kubernetes           Kubernetes           `json:"kubernetes,omitempty"`
	Network              Network              `json:"network,omitempty"`
	Storage              Storage              `json:"storage,omitempty"`
	Registry             Registry             `json:"registry,omitempty"`
	Addons               []Addon              `json:"addons,omitempty"`
	KubeSphere           KubeSphereFlag       `json:"kubesphere,omitempty"`
}

// Host is one machine. user, password, privateKey, privateKeyPath, port and
// timeout are SSH settings: KubeKey needs them, ksgen ignores them.
type Host struct {
	Name            string            `json:"name,omitempty"`
	Address         string            `json:"address,omitempty"`
	InternalAddress string            `json:"internalAddress,omitempty"`
	Port            int               `json:"port,omitempty"`
	User            string            `json:"user,omitempty"`
	Password        string            `json:"password,omitempty"`
	PrivateKey      string            `json:"privateKey,omitempty"`
	PrivateKeyPath  string            `json:"privateKeyPath,omitempty"`
	Arch            string            `json:"arch,omitempty"`
	Timeout         *int64            `json:"timeout,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
}

// ControlPlaneEndpoint says how nodes reach the API servers.
type ControlPlaneEndpoint struct {
	InternalLoadbalancer string  `json:"internalLoadbalancer,omitempty"`
	Domain               string  `json:"domain,omitempty"`
	ExternalDNS          *bool   `json:"externalDNS,omitempty"`
	Address              string  `json:"address,omitempty"`
	Port                 int     `json:"port,omitempty"`
	KubeVip              KubeVip `json:"kubevip,omitempty"`
}

// KubeVip configures kube-vip (mode ARP or BGP).
type KubeVip struct {
	Mode string `json:"mode,omitempty"`
}

// CustomScript is a KubeKey pre/post install script.
type CustomScript struct {
	Name      string   `json:"name,omitempty"`
	Bash      string   `json:"bash,omitempty"`
	Role      string   `json:"role,omitempty"`
	Materials []string `json:"materials,omitempty"`
}

// System is the per-node OS configuration.
type System struct {
	NtpServers         []string       `json:"ntpServers,omitempty"`
	Timezone           string         `json:"timezone,omitempty"`
	Rpms               []string       `json:"rpms,omitempty"`
	Debs               []string       `json:"debs,omitempty"`
	PreInstall         []CustomScript `json:"preInstall,omitempty"`
	PostClusterInstall []CustomScript `json:"postClusterInstall,omitempty"`
	PostInstall        []CustomScript `json:"postInstall,omitempty"`
	SkipConfigureOS    bool           `json:"skipConfigureOS,omitempty"`
}

// Etcd selects and tunes the etcd topology: kubekey (systemd service on the
// etcd hosts), kubeadm (stacked) or external.
type Etcd struct {
	Type                    string            `json:"type,omitempty"`
	External                ExternalEtcd      `json:"external,omitempty"`
	Port                    *int              `json:"port,omitempty"`
	PeerPort                *int              `json:"peerPort,omitempty"`
	BackupDir               string            `json:"backupDir,omitempty"`
	BackupPeriod            int               `json:"backupPeriod,omitempty"` // minutes; see BackupCalendar
	KeepBackupNumber        int               `json:"keepBackupNumber,omitempty"`
	BackupScriptDir         string            `json:"backupScript,omitempty"`
	DataDir                 *string           `json:"dataDir,omitempty"`
	HeartbeatInterval       *int              `json:"heartbeatInterval,omitempty"`
	ElectionTimeout         *int              `json:"electionTimeout,omitempty"`
	SnapshotCount           *int              `json:"snapshotCount,omitempty"`
	AutoCompactionRetention *int              `json:"autoCompactionRetention,omitempty"`
	Metrics                 *string           `json:"metrics,omitempty"`
	QuotaBackendBytes       *int64            `json:"quotaBackendBytes,omitempty"`
	MaxRequestBytes         *int64            `json:"maxRequestBytes,omitempty"`
	MaxSnapshots            *int              `json:"maxSnapshots,omitempty"`
	MaxWals                 *int              `json:"maxWals,omitempty"`
	LogLevel                *string           `json:"logLevel,omitempty"`
	ExtraArgs               map[string]string `json:"extraArgs,omitempty"`
}

// ExternalEtcd points at an etcd cluster ksgen does not run.
type ExternalEtcd struct {
	Endpoints []string `json:"endpoints,omitempty"`
	CAFile    string   `json:"caFile,omitempty"`
	CertFile  string   `json:"certFile,omitempty"`
	KeyFile   string   `json:"keyFile,omitempty"`
}

// DNS holds extra /etc/hosts entries and CoreDNS / NodeLocalDNS settings.
type DNS struct {
	DNSEtcHosts  string       `json:"dnsEtcHosts,omitempty"`
	NodeEtcHosts string       `json:"nodeEtcHosts,omitempty"`
	CoreDNS      CoreDNS      `json:"coredns,omitempty"`
	NodeLocalDNS NodeLocalDNS `json:"nodelocaldns,omitempty"`
}

// CoreDNS is KubeKey's CoreDNS tuning.
type CoreDNS struct {
	AdditionalConfigs  string         `json:"additionalConfigs,omitempty"`
	ExternalZones      []ExternalZone `json:"externalZones,omitempty"`
	RewriteBlock       string         `json:"rewriteBlock,omitempty"`
	UpstreamDNSServers []string       `json:"upstreamDNSServers,omitempty"`
}

// NodeLocalDNS is KubeKey's NodeLocalDNS tuning.
type NodeLocalDNS struct {
	ExternalZones []ExternalZone `json:"externalZones,omitempty"`
}

// ExternalZone forwards zones to other name servers.
type ExternalZone struct {
	Zones       []string `json:"zones,omitempty"`
	Nameservers []string `json:"nameservers,omitempty"`
	Cache       int      `json:"cache,omitempty"`
	Rewrite     []string `json:"rewrite,omitempty"`
}

// Kubernetes is KubeKey's cluster-wide Kubernetes configuration.
type Kubernetes struct {
	Type                     string          `json:"type,omitempty"`
	Version                  string          `json:"version,omitempty"`
	ClusterName              string          `json:"clusterName,omitempty"`
	DNSDomain                string          `json:"dnsDomain,omitempty"`
	DisableKubeProxy         bool            `json:"disableKubeProxy,omitempty"`
	MasqueradeAll            bool            `json:"masqueradeAll,omitempty"`
	MaxPods                  int             `json:"maxPods,omitempty"`
	PodPidsLimit             int             `json:"podPidsLimit,omitempty"`
	NodeCidrMaskSize         int             `json:"nodeCidrMaskSize,omitempty"`
	ApiserverCertExtraSans   []string        `json:"apiserverCertExtraSans,omitempty"`
	ProxyMode                string          `json:"proxyMode,omitempty"`
	AutoRenewCerts           *bool           `json:"autoRenewCerts,omitempty"`
	Nodelocaldns             *bool           `json:"nodelocaldns,omitempty"`
	ContainerManager         string          `json:"containerManager,omitempty"`
	ContainerRuntimeEndpoint string          `json:"containerRuntimeEndpoint,omitempty"`
	NodeFeatureDiscovery     Toggle          `json:"nodeFeatureDiscovery,omitempty"`
	Kata                     Toggle          `json:"kata,omitempty"`
	ApiServerArgs            []string        `json:"apiserverArgs,omitempty"`
	ControllerManagerArgs    []string        `json:"controllerManagerArgs,omitempty"`
	SchedulerArgs            []string        `json:"schedulerArgs,omitempty"`
	KubeletArgs              []string        `json:"kubeletArgs,omitempty"`
	KubeProxyArgs            []string        `json:"kubeProxyArgs,omitempty"`
	FeatureGates             map[string]bool `json:"featureGates,omitempty"`
	KubeletConfiguration     map[string]any  `json:"kubeletConfiguration,omitempty"`
	KubeProxyConfiguration   map[string]any  `json:"kubeProxyConfiguration,omitempty"`
	Audit                    Toggle          `json:"audit,omitempty"`
}

// Toggle is KubeKey's {enabled: bool} switch.
type Toggle struct {
	Enabled *bool `json:"enabled,omitempty"` // absent: the default this field's parent names
}

// Network is the cluster network: CNI plugin and CIDRs. A dual-stack
// cluster writes "v4cidr,v6cidr" in kubePodsCIDR and kubeServiceCIDR.
type Network struct {
	Plugin          string    `json:"plugin,omitempty"`
	KubePodsCIDR    string    `json:"kubePodsCIDR,omitempty"`
	KubeServiceCIDR string    `json:"kubeServiceCIDR,omitempty"`
	Calico          Calico    `json:"calico,omitempty"`
	Flannel         Flannel   `json:"flannel,omitempty"`
	Kubeovn         Kubeovn   `json:"kubeovn,omitempty"`
	MultusCNI       Toggle    `json:"multusCNI,omitempty"`
	Hybridnet       Hybridnet `json:"hybridnet,omitempty"`
}

// Calico is KubeKey's calico tuning.
type Calico struct {
	IPIPMode        string `json:"ipipMode,omitempty"`
	VXLANMode       string `json:"vxlanMode,omitempty"`
	VethMTU         int    `json:"vethMTU,omitempty"`
	Ipv4NatOutgoing *bool  `json:"ipv4NatOutgoing,omitempty"`
	DefaultIPPOOL   *bool  `json:"defaultIPPOOL,omitempty"`
}

// Flannel is KubeKey's flannel tuning.
type Flannel struct {
	BackendMode   string `json:"backendMode,omitempty"`
	DirectRouting bool   `json:"directRouting,omitempty"`
}

// Kubeovn and Hybridnet are accepted so KubeKey files load; ksgen does not
// deploy them (validation says so when they are selected).
type Kubeovn map[string]any

// Hybridnet is accepted verbatim; see Kubeovn.
type Hybridnet map[string]any

// Storage is KubeKey's storage section.
type Storage struct {
	OpenEBS OpenEBS `json:"openebs,omitempty"`
}

// OpenEBS sets the local PV base path.
type OpenEBS struct {
	BasePath string `json:"basePath,omitempty"`
}

// Registry configures image pulls: mirrors, insecure registries, a private
// registry with optional namespace override, and per-registry auths.
type Registry struct {
	Type               string                  `json:"type,omitempty"`
	RegistryMirrors    []string                `json:"registryMirrors,omitempty"`
	InsecureRegistries []string                `json:"insecureRegistries,omitempty"`
	PrivateRegistry    string                  `json:"privateRegistry,omitempty"`
	DataRoot           string                  `json:"dataRoot,omitempty"`
	NamespaceOverride  string                  `json:"namespaceOverride,omitempty"`
	BridgeIP           string                  `json:"bridgeIP,omitempty"`
	Auths              map[string]RegistryAuth `json:"auths,omitempty"`
	NamespaceRewrite   *NamespaceRewrite       `json:"namespaceRewrite,omitempty"`
	// ContainerdDataDir is containerd's root (KubeKey v3.1); ksgen writes it
	// into containerd's config.
	ContainerdDataDir string `json:"containerdDataDir,omitempty"`
	// DockerDataDir, RegistryDataDir and RemoteMirrors are KubeKey's for
	// docker, the registry it installs on registry hosts and its registry
	// proxy; ksgen runs none of them and warns that they are ignored.
	DockerDataDir   string `json:"dockerDataDir,omitempty"`
	RegistryDataDir string `json:"registryDataDir,omitempty"`
	RemoteMirrors   any    `json:"remoteMirrors,omitempty"`
}

// RegistryAuth is one entry of registry.auths, keyed by registry host.
type RegistryAuth struct {
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	Auth          string `json:"auth,omitempty"`
	IdentityToken string `json:"identityToken,omitempty"`
	SkipTLSVerify bool   `json:"skipTLSVerify,omitempty"`
	PlainHTTP     bool   `json:"plainHTTP,omitempty"`
	CertsPath     string `json:"certsPath,omitempty"`
	CAFile        string `json:"caFile,omitempty"`
	CertFile      string `json:"certFile,omitempty"`
	KeyFile       string `json:"keyFile,omitempty"`
}

// NamespaceRewrite is KubeKey's image namespace rewrite policy.
type NamespaceRewrite struct {
	Policy string   `json:"policy,omitempty"`
	Src    []string `json:"src,omitempty"`
	Dest   string   `json:"dest,omitempty"`
}

// Addon is a yaml or Helm chart source applied after the CNI.
type Addon struct {
	Name      string  `json:"name,omitempty"`
	Namespace string  `json:"namespace,omitempty"`
	Sources   Sources `json:"sources,omitempty"`
	Retries   int     `json:"retries,omitempty"`
	Delay     int     `json:"delay,omitempty"`
}

// Sources is where an addon comes from.
type Sources struct {
	Chart Chart    `json:"chart,omitempty"`
	Yaml  YamlPath `json:"yaml,omitempty"`
}

// Chart is a Helm chart source.
type Chart struct {
	Name       string   `json:"name,omitempty"`
	Repo       string   `json:"repo,omitempty"`
	Path       string   `json:"path,omitempty"`
	Version    string   `json:"version,omitempty"`
	ValuesFile string   `json:"valuesFile,omitempty"`
	Values     []string `json:"values,omitempty"`
	Wait       bool     `json:"wait,omitempty"`
}

// YamlPath lists manifest files or URLs.
type YamlPath struct {
	Path []string `json:"path,omitempty"`
}

// KubeSphereFlag is the legacy spec.kubesphere switch; the ClusterConfiguration
// document is what turns KubeSphere on.
type KubeSphereFlag struct {
	Enabled        bool   `json:"enabled,omitempty"`
	Version        string `json:"version,omitempty"`
	Configurations string `json:"configurations,omitempty"`
}

// KubeSphere is the installer.kubesphere.io/v1alpha1 ClusterConfiguration.
// Its spec is ks-installer's and passed through verbatim.
type KubeSphere struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   ObjectMeta     `json:"metadata,omitempty"`
	Spec       map[string]any `json:"spec,omitempty"`
}

// Version is KubeSphere's version from metadata.labels.version.
func (k *KubeSphere) Version() string { return k.Metadata.Labels["version"] }
