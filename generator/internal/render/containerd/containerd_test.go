package containerd_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/internal/plantest"
	"github.com/ksgen/ksgen/generator/internal/render/containerd"
)

func TestRegistries(t *testing.T) {
	t.Parallel()
	c := plantest.Plan(t, plantest.HA(`  kubernetes: {version: v1.28.5}
  registry:
    privateRegistry: dockerhub.kubekey.local
    namespaceOverride: kubesphereio
    registryMirrors: ["https://mirror.example.com/"]
    insecureRegistries: ["10.0.0.50:5000"]
    auths:
      dockerhub.kubekey.local: {username: admin, password: Harbor12345}
`))
	_, files := plantest.Render(t, c, "w1", containerd.Render)
	cfg := files["/etc/containerd/config.toml"]
	for _, want := range []string{
		`sandbox_image = "dockerhub.kubekey.local/kubesphereio/pause:3.9"`, // kubeadm v1.28's pause, through the private registry
		"SystemdCgroup = true",
		`config_path = "/etc/containerd/certs.d"`,
		`[plugins."io.containerd.grpc.v1.cri".registry.configs."dockerhub.kubekey.local".auth]`,
		`password = "Harbor12345"`,
	} {
		if !strings.Contains(string(cfg.Content), want) {
			t.Errorf("config.toml lacks %q:\n%s", want, cfg.Content)
		}
	}
	if cfg.Mode != fileset.ModeSecret {
		t.Errorf("config.toml with credentials has mode %v, want 0600", cfg.Mode)
	}
	hub := string(files[containerd.CertsDir+"/docker.io/hosts.toml"].Content)
	if !strings.Contains(hub, `server = "https://registry-1.docker.io"`) || !strings.Contains(hub, `[host."https://mirror.example.com"]`) {
		t.Errorf("docker.io hosts.toml:\n%s", hub)
	}
	insecure := string(files[containerd.CertsDir+"/10.0.0.50:5000/hosts.toml"].Content)
	if !strings.Contains(insecure, "skip_verify = true") || !strings.Contains(insecure, `[host."http://10.0.0.50:5000"]`) {
		t.Errorf("insecure registry hosts.toml:\n%s", insecure)
	}
	if crictl := string(files["/etc/crictl.yaml"].Content); !strings.Contains(crictl, "runtime-endpoint: unix:///run/containerd/containerd.sock") {
		t.Errorf("crictl.yaml:\n%s", crictl)
	}
}

func TestNoCredentialsMeansPublicConfig(t *testing.T) {
	t.Parallel()
	c := plantest.Plan(t, plantest.HA(""))
	_, files := plantest.Render(t, c, "cp1", containerd.Render)
	if f := files["/etc/containerd/config.toml"]; f.Mode != fileset.ModePublic || strings.Contains(string(f.Content), ".auth]") {
		t.Errorf("config.toml mode %v:\n%s", f.Mode, f.Content)
	}
	// Ubuntu (the default OS) has no containerd of its own: the release
	// archive's unit runs the one in /usr/local/bin.
	if len(files) != 3 || !strings.Contains(string(files["/etc/systemd/system/containerd.service"].Content), "ExecStart=/usr/local/bin/containerd\n") {
		t.Errorf("files = %v, want config.toml, crictl.yaml and containerd.service only", len(files))
	}
}

// TestContainerdDataDir: KubeKey's registry.containerdDataDir becomes
// containerd's root, as the real containerd reads the rendered config
// (`containerd config dump`, which loads and prints the whole config).
func TestContainerdDataDir(t *testing.T) {
	t.Parallel()
	c := plantest.Plan(t, plantest.HA(`  registry: {containerdDataDir: /data/containerd}
`))
	_, files := plantest.Render(t, c, "w1", containerd.Render)
	cfg := files["/etc/containerd/config.toml"].Content
	if !strings.Contains(string(cfg), "\nroot = \"/data/containerd\"\n") {
		t.Errorf("config.toml has no root:\n%s", cfg)
	}
	bin, err := exec.LookPath("containerd")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("containerd not found; .ci/run installs it")
		}
		t.Skip("containerd not found (apt-get install containerd)")
	}
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--config", path, "config", "dump").CombinedOutput()
	if err != nil {
		t.Fatalf("containerd config dump: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "\nroot = \"/data/containerd\"\n") && !strings.HasPrefix(string(out), "root = \"/data/containerd\"\n") {
		t.Errorf("containerd reads another root:\n%s", out)
	}
	if !strings.Contains(string(out), "SystemdCgroup = true") {
		t.Errorf("containerd lost the runc options:\n%s", out)
	}
}
