package containerd

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/internal/render/binaries"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/generator/profile/osprofile"
	"github.com/ksgen/ksgen/images"
	"github.com/ksgen/ksgen/templates"
)

// CertsDir is containerd's registry host configuration directory.
const CertsDir = "/etc/containerd/certs.d"

type configData struct {
	KubernetesVersion string
	// PauseImage is the CRI sandbox image (sandbox_image in version 2,
	// pinned_images.sandbox in version 3).
	PauseImage string
	// SystemdCgroup agrees with the kubelet's cgroup driver.
	SystemdCgroup bool
	// Root is registry.containerdDataDir, "" for containerd's own.
	Root  string
	Auths []auth
}

type auth struct {
	Host, Username, Password, Auth, IdentityToken string
}

type hostsData struct {
	Server  string
	Mirrors []mirror
}

type mirror struct {
	URL        string
	SkipVerify bool
}

// Render adds containerd's and crictl's configuration to p.
func Render(c *plan.Cluster, n *plan.Node, p *fileset.Set) error {
	if !n.Kubelet {
		return nil
	}
	files, err := plan.Shared(c, sharedConfig{}, func(sharedConfig) ([]fileset.File, error) { return configFiles(c) })
	if err != nil {
		return err
	}
	for _, f := range files {
		p.AddFile(f)
	}
	unit := fileset.Unit{Name: "containerd.service", Enabled: true}
	prof := osprofile.Of(n.OS)
	switch {
	case binaries.PinnedRuntime(c, n):
		unit.Contents = releaseUnit(prof.RuntimePrefix)
	case prof.ContainerdEnv:
		unit.DropIns = []fileset.DropIn{{Name: "10-ksgen.conf", Contents: "[Service]\nEnvironment=CONTAINERD_CONFIG=/etc/containerd/config.toml\n"}}
	}
	p.AddUnit(unit)
	return nil
}

// releaseUnit is containerd.service for containerd from its release
// archive unpacked under prefix: the unit containerd publishes with the
// archive, which the baked image (images/packer) installs for /usr/local.
// Under another prefix (Flatcar's /opt) the unit puts prefix/bin first in
// PATH, where containerd looks for its shim and the shim for runc.
func releaseUnit(prefix string) string {
	env := ""
	if prefix != "/usr/local" {
		env = "Environment=PATH=" + prefix + "/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
	}
	return fmt.Sprintf(releaseUnitFormat, env, prefix)
}

const releaseUnitFormat = `[Unit]
Description=containerd container runtime
Documentation=https://containerd.io
After=network.target local-fs.target dbus.service

[Service]
%sExecStartPre=-/sbin/modprobe overlay
ExecStart=%s/bin/containerd
Type=notify
Delegate=yes
KillMode=process
Restart=always
RestartSec=5
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
OOMScoreAdjust=-999

[Install]
WantedBy=multi-user.target
`

// configTemplate is the config.toml template for each config version: the
// one the containerd paired with the Kubernetes version reads natively (2
// for containerd 1.x, 3 for 2.x, which reads 2 only through a migration it
// logs as deprecated). Registry credentials stay in the CRI registry's
// configs.<host>.auth in both: containerd 2.x still reads them (its
// RELEASES.md marks configs deprecated, for removal in 2.4, and recommends
// the kubelet's ImagePullSecrets); hosts.toml has no credentials, only
// static headers, which a registry's token challenge does not take.
var configTemplate = map[int]string{2: "containerd-config.toml.tmpl", 3: "containerd-config-v3.toml.tmpl"}

// sharedConfig keys configFiles, which depends on the cluster alone.
type sharedConfig struct{}

// configFiles renders the files every node shares, sorted by path.
func configFiles(c *plan.Cluster) ([]fileset.File, error) {
	reg := c.Registry
	data := configData{
		KubernetesVersion: c.KubernetesVersion(),
		PauseImage:        images.Repository(reg.PrivateRegistry, reg.NamespaceOverride) + "/pause:" + images.PauseTag(c.Version.Minor()),
		SystemdCgroup:     c.CgroupDriver == "" || c.CgroupDriver == "systemd",
		Root:              reg.ContainerdDataDir,
	}
	for _, host := range slices.Sorted(maps.Keys(reg.Auths)) {
		a := reg.Auths[host]
		data.Auths = append(data.Auths, auth{Host: host, Username: a.Username, Password: a.Password, Auth: a.Auth, IdentityToken: a.IdentityToken})
	}
	cfg, err := templates.Execute(configTemplate[images.ContainerdFor(data.KubernetesVersion).ConfigVersion()], data)
	if err != nil {
		return nil, fmt.Errorf("containerd config: %w", err)
	}
	mode := fileset.ModePublic
	if len(data.Auths) > 0 {
		mode = fileset.ModeSecret // registry credentials
	}
	files := []fileset.File{{Path: "/etc/containerd/config.toml", Mode: mode, Content: cfg}}
	hosts := registryHosts(c)
	for _, host := range slices.Sorted(maps.Keys(hosts)) {
		b, err := templates.Execute("hosts.toml.tmpl", hosts[host])
		if err != nil {
			return nil, fmt.Errorf("containerd hosts.toml for %s: %w", host, err)
		}
		files = append(files, fileset.File{Path: CertsDir + "/" + host + "/hosts.toml", Mode: fileset.ModePublic, Content: b})
	}
	socket := c.CRISocket
	files = append(files, fileset.File{Path: "/etc/crictl.yaml", Mode: fileset.ModePublic,
		Content: fmt.Appendf(nil, "runtime-endpoint: %s\nimage-endpoint: %s\ntimeout: 10\n", socket, socket)})
	return files, nil
}

// registryHosts maps each registry host to its hosts.toml: KubeKey's
// registryMirrors serve docker.io; insecure registries are tried over HTTPS
// without verification, then plain HTTP; auths may ask for either too.
func registryHosts(c *plan.Cluster) map[string]hostsData {
	reg := c.Registry
	out := map[string]hostsData{}
	if len(reg.RegistryMirrors) > 0 {
		h := hostsData{Server: "https://registry-1.docker.io"}
		for _, m := range reg.RegistryMirrors {
			h.Mirrors = append(h.Mirrors, mirror{URL: strings.TrimSuffix(m, "/")})
		}
		out["docker.io"] = h
	}
	insecure := func(host string, plainHTTP bool) {
		h := hostsData{Server: "https://" + host, Mirrors: []mirror{{URL: "https://" + host, SkipVerify: true}}}
		if plainHTTP {
			h.Mirrors = append(h.Mirrors, mirror{URL: "http://" + host})
		}
		out[host] = h
	}
	for _, host := range reg.InsecureRegistries {
		insecure(host, true)
	}
	for _, host := range slices.Sorted(maps.Keys(reg.Auths)) {
		if a := reg.Auths[host]; a.SkipTLSVerify || a.PlainHTTP {
			insecure(host, a.PlainHTTP)
		}
	}
	return out
}
