package containerd_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ksgen/ksgen/generator/internal/consumers"
	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/internal/plantest"
	"github.com/ksgen/ksgen/generator/internal/render/containerd"
	"github.com/ksgen/ksgen/images"
)

// TestRegistries: the registry settings land where the config version of
// the Kubernetes minor's containerd reads them: version 2 (containerd 1.7)
// for v1.28, version 3 (containerd 2.x) for v1.36.
func TestRegistries(t *testing.T) {
	t.Parallel()
	for version, want := range map[string][]string{
		"v1.28.5": {
			"version = 2\n",
			`sandbox_image = "dockerhub.kubekey.local/kubesphereio/pause:3.9"`, // kubeadm v1.28's pause, through the private registry
			`[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]`,
			`[plugins."io.containerd.grpc.v1.cri".registry.configs."dockerhub.kubekey.local".auth]`,
		},
		"v1.36.3": {
			"version = 3\n",
			"[plugins.\"io.containerd.cri.v1.images\".pinned_images]\n    sandbox = \"dockerhub.kubekey.local/kubesphereio/pause:3.10.2\"",
			`[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]`,
			`[plugins."io.containerd.cri.v1.images".registry.configs."dockerhub.kubekey.local".auth]`,
		},
	} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			c := plantest.Plan(t, plantest.HA(`  kubernetes: {version: `+version+`}
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
			for _, want := range append(want, "SystemdCgroup = true", `config_path = "/etc/containerd/certs.d"`, `password = "Harbor12345"`) {
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
		})
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

// TestContainerdReadsItsConfig: the real containerd of each config version
// reads the rendered config.toml (`containerd config dump`, which loads,
// migrates and prints the whole config) with what a user set: KubeKey's
// registry.containerdDataDir as containerd's root, the pause image kubeadm
// expects as the CRI sandbox image, the kubelet's cgroup driver as runc's
// SystemdCgroup, certs.d as the registry config_path, and the registry
// credentials. Version 2 is read by the machine's containerd (Debian's
// 1.6.20, which .ci/run installs, standing in for 1.7), version 3 by the
// containerd the default Kubernetes pins, built from the Go module proxy:
// Debian's containerd reads a version 3 file without an error and drops
// every CRI setting in it.
func TestContainerdReadsItsConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, version, driver string
		config                int
	}{
		{"1.7 systemd", "v1.30.8", "", 2},
		{"2.x systemd", images.DefaultKubernetesVersion, "", 3},
		{"2.x cgroupfs", images.DefaultKubernetesVersion, "cgroupfs", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := plantest.Plan(t, plantest.HA(`  kubernetes: {version: `+tc.version+`}
  registry:
    privateRegistry: dockerhub.kubekey.local
    namespaceOverride: kubesphereio
    containerdDataDir: /data/containerd
    auths:
      dockerhub.kubekey.local: {username: admin, password: Harbor12345}
`))
			c.CgroupDriver = tc.driver
			_, files := plantest.Render(t, c, "w1", containerd.Render)
			cfg := files["/etc/containerd/config.toml"].Content
			if !strings.Contains(string(cfg), "\nroot = \"/data/containerd\"\n") {
				t.Errorf("config.toml has no root:\n%s", cfg)
			}
			bin := containerdFor(t, tc.config)
			path := filepath.Join(t.TempDir(), "config.toml")
			if err := os.WriteFile(path, cfg, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(bin, "--config", path, "config", "dump").Output()
			if err != nil {
				t.Fatalf("containerd config dump: %v\n%s", err, out)
			}
			read := tomlTables(string(out))
			// The CRI plugins of each version: one for both in 2, images and
			// runtime apart in 3, with the sandbox image among pinned images.
			cri := map[int]struct{ images, runtime, sandboxTable, sandboxKey string }{
				2: {`plugins."io.containerd.grpc.v1.cri"`, `plugins."io.containerd.grpc.v1.cri"`, `plugins."io.containerd.grpc.v1.cri"`, "sandbox_image"},
				3: {`plugins."io.containerd.cri.v1.images"`, `plugins."io.containerd.cri.v1.runtime"`, `plugins."io.containerd.cri.v1.images".pinned_images`, "sandbox"},
			}[tc.config]
			systemd := fmt.Sprint(tc.driver == "")
			for _, want := range []struct{ table, key, value string }{
				{"", "root", `"/data/containerd"`},
				{cri.sandboxTable, cri.sandboxKey, `"dockerhub.kubekey.local/kubesphereio/pause:` + images.PauseTag(c.Version.Minor()) + `"`},
				{cri.runtime + ".containerd.runtimes.runc.options", "SystemdCgroup", systemd},
				{cri.images + ".registry", "config_path", `"/etc/containerd/certs.d"`},
				{cri.images + `.registry.configs."dockerhub.kubekey.local".auth`, "username", `"admin"`},
				{cri.images + `.registry.configs."dockerhub.kubekey.local".auth`, "password", `"Harbor12345"`},
			} {
				if got, ok := read[want.table][want.key]; !ok || got != want.value {
					t.Errorf("containerd reads [%s] %s = %s, want %s", want.table, want.key, got, want.value)
				}
			}
			if t.Failed() {
				t.Logf("config.toml:\n%s\ncontainerd config dump:\n%s", cfg, out)
			}
		})
	}
}

// containerdFor is a containerd that reads config version v: the machine's
// for 2, the pinned 2.x built from the Go module proxy for 3.
func containerdFor(t *testing.T, v int) string {
	t.Helper()
	if v == 3 {
		b, err := consumers.ContainerdBinaries()
		if err != nil {
			if consumers.IsMissing(err) && os.Getenv("CI") == "" {
				t.Skipf("cannot build containerd here: %v", err)
			}
			t.Fatal(err)
		}
		return b.Containerd
	}
	bin, err := exec.LookPath("containerd")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("containerd not found; .ci/run installs it")
		}
		t.Skip("containerd not found (apt-get install containerd)")
	}
	return bin
}

// tomlTables reads `containerd config dump`'s TOML as table → key → value,
// quotes made double (1.x prints "…", 2.x '…'), the top-level keys under
// "". It reads what the dump prints: one key = value a line, table headers
// on lines of their own.
func tomlTables(dump string) map[string]map[string]string {
	out := map[string]map[string]string{"": {}}
	table := ""
	for _, line := range strings.Split(dump, "\n") {
		line = strings.ReplaceAll(strings.TrimSpace(line), "'", `"`)
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") && !strings.Contains(line, "=") {
			table = strings.Trim(line, "[]")
			if out[table] == nil {
				out[table] = map[string]string{}
			}
			continue
		}
		if k, v, ok := strings.Cut(line, " = "); ok {
			out[table][k] = v
		}
	}
	return out
}
