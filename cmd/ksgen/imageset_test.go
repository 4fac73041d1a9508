package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	utilversion "k8s.io/apimachinery/pkg/util/version"
	"sigs.k8s.io/yaml"

	kubeadmapi "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm"
	kubeadmscheme "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme"
	kubeadmimages "k8s.io/kubernetes/cmd/kubeadm/app/images"
	kubeadmutil "k8s.io/kubernetes/cmd/kubeadm/app/util"

	"github.com/ksgen/ksgen/images"
)

// withRegistry puts the spec's images behind a private registry.
func withRegistry(t *testing.T, spec string) string {
	t.Helper()
	const reg = "  registry: {privateRegistry: dockerhub.kubekey.local, namespaceOverride: kubesphereio}\n"
	if i := strings.Index(spec, "  registry:\n"); i >= 0 {
		end := strings.Index(spec[i:], "  addons:")
		if end < 0 {
			t.Fatal("registry block with no addons after it")
		}
		return spec[:i] + reg + spec[i+end:]
	}
	return strings.Replace(spec, "  network:\n", reg+"  network:\n", 1)
}

// sandboxImage is the sandbox image line of a version 2 config (as the
// file and containerd 1.x's dump print it) and of a version 3 one
// (pinned_images' sandbox).
var sandboxImage = regexp.MustCompile(`(?m)^\s*(?:sandbox_image|sandbox) = "([^"]*)"$`)

// TestOneImageSet: for v1.22.10, v1.30 and v1.36.3 clusters, with and
// without a private registry, the images kubeadm pulls (kubeadm's own image
// code on the rendered ClusterConfiguration), containerd's sandbox image
// (as containerd reads its rendered config), `ksgen images list` and the
// images packer-vars bakes are one set: the list is what the image holds,
// and everything kubeadm and containerd ask for is in it, under the same
// names. No rendered file names k8s.gcr.io, kubeadm's default before v1.25.
func TestOneImageSet(t *testing.T) {
	t.Parallel()
	containerd, err := exec.LookPath("containerd")
	if err != nil && os.Getenv("CI") != "" {
		t.Fatal("containerd is not installed (.ci/run installs it)")
	}
	for _, src := range []string{
		"../../testdata/images/seed-kubesphere-v3.3.1.yaml",
		"../../testdata/specs/valid-v1.30.yaml",
		"../../testdata/config-sample.yaml",
	} {
		for _, mirrored := range []bool{false, true} {
			name := filepath.Base(src)
			if mirrored {
				name += "/private-registry"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				raw, err := os.ReadFile(src)
				if err != nil {
					t.Fatal(err)
				}
				spec := string(raw)
				if mirrored {
					spec = withRegistry(t, spec)
				}
				dir := t.TempDir()
				file := filepath.Join(dir, "cluster.yaml")
				if err := os.WriteFile(file, []byte(spec), 0o644); err != nil {
					t.Fatal(err)
				}
				out := filepath.Join(dir, "out")
				if _, stderr, err := ksgen(t, "render", "-f", file, "-o", out, "--format", "cloud-init"); err != nil {
					t.Fatalf("render: %v\n%s", err, stderr)
				}
				text, _, err := ksgen(t, "images", "list", "-f", file)
				if err != nil {
					t.Fatal(err)
				}
				list := strings.Fields(text)
				vars, _, err := ksgen(t, "images", "packer-vars", "-f", file, "--allow-unpinned")
				if err != nil {
					t.Fatal(err)
				}
				if baked := bakedImages(t, vars); !slices.Equal(baked, list) {
					t.Errorf("packer bakes %v\nimages list %v", baked, list)
				}

				kubeadmSet, pause := kubeadmPulls(t, filepath.Join(out, initNode(t, out), "kubeadm.yaml"), mirrored)
				// kubeadm's images are in the list, and the list holds no
				// other reference to them (another registry or tag).
				kubeadmNames := map[string]bool{}
				for _, img := range kubeadmSet {
					kubeadmNames[imageName(img)] = true
					if !slices.Contains(list, img) {
						t.Errorf("kubeadm pulls %s; images list:\n%s", img, text)
					}
				}
				for _, img := range list {
					if kubeadmNames[imageName(img)] && !slices.Contains(kubeadmSet, img) {
						t.Errorf("images list names %s, which kubeadm does not pull (it pulls %v)", img, kubeadmSet)
					}
				}

				nodes, _ := filepath.Glob(filepath.Join(out, "*", "rootfs", "etc", "containerd", "config.toml"))
				if len(nodes) == 0 {
					t.Fatal("no containerd config rendered")
				}
				for _, cfg := range nodes {
					got := sandboxOf(t, containerd, cfg)
					if got != pause {
						t.Errorf("%s: sandbox image %q, kubeadm's pause is %q", cfg, got, pause)
					}
				}

				if err := filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
					if err != nil || d.IsDir() {
						return err
					}
					b, err := os.ReadFile(p)
					if err == nil && bytes.Contains(b, []byte("k8s.gcr.io")) {
						t.Errorf("%s names k8s.gcr.io", p)
					}
					return err
				}); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// imageName is an image reference without registry, path and tag.
func imageName(ref string) string {
	name := ref[strings.LastIndex(ref, "/")+1:]
	name, _, _ = strings.Cut(name, ":")
	return name
}

// bakedImages reads the images list of packer-vars' HCL.
func bakedImages(t *testing.T, vars string) []string {
	t.Helper()
	_, block, ok := strings.Cut(vars, "\nimages = [\n")
	block, _, ok2 := strings.Cut(block, "\n]\n")
	if !ok || !ok2 {
		t.Fatalf("no images block in:\n%s", vars)
	}
	var out []string
	for _, l := range strings.Split(block, "\n") {
		out = append(out, strings.Trim(strings.TrimSpace(l), `",`))
	}
	return out
}

// initNode is the node whose kubeadm.yaml holds the ClusterConfiguration
// (the one kubeadm init uploads for every other node).
func initNode(t *testing.T, out string) string {
	t.Helper()
	configs, _ := filepath.Glob(filepath.Join(out, "*", "kubeadm.yaml"))
	for _, c := range configs {
		b, err := os.ReadFile(c)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("kind: ClusterConfiguration")) {
			return filepath.Base(filepath.Dir(c))
		}
	}
	t.Fatalf("no ClusterConfiguration under %s", out)
	return ""
}

// kubeadmPulls returns the images kubeadm's own image code derives from the
// rendered ClusterConfiguration, and its pause image. The configuration
// must name its repositories itself: kubeadm v1.22's defaults are not the
// linked v1.36 library's. Tags the configuration leaves to kubeadm (CoreDNS,
// etcd, pause) are those of the cluster's kubeadm release, which the linked
// library knows only for its own: the pairing table holds the others.
func kubeadmPulls(t *testing.T, path string, mirrored bool) ([]string, string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := kubeadmutil.SplitConfigDocuments(b)
	if err != nil {
		t.Fatal(err)
	}
	for gvk, doc := range docs {
		if gvk.Kind != "ClusterConfiguration" {
			continue
		}
		var raw struct {
			ImageRepository string `json:"imageRepository"`
			DNS             struct {
				ImageRepository string `json:"imageRepository"`
			} `json:"dns"`
		}
		if err := yaml.Unmarshal(doc, &raw); err != nil {
			t.Fatal(err)
		}
		if raw.ImageRepository == "" || (!mirrored && raw.DNS.ImageRepository == "") {
			t.Errorf("%s: imageRepository %q, dns.imageRepository %q: left to the kubeadm release's default", path, raw.ImageRepository, raw.DNS.ImageRepository)
		}
		obj, err := runtime.Decode(kubeadmscheme.Codecs.UniversalDecoder(), doc)
		if err != nil {
			t.Fatal(err)
		}
		cc := obj.(*kubeadmapi.ClusterConfiguration)
		minor := utilversion.MustParseSemantic(cc.KubernetesVersion).Minor()
		if cc.DNS.ImageTag == "" {
			cc.DNS.ImageTag = images.CoreDNSTag(minor)
		}
		if cc.Etcd.Local != nil && cc.Etcd.Local.ImageTag == "" {
			cc.Etcd.Local.ImageTag = images.EtcdTag(minor)
		}
		ownPause := kubeadmimages.GetPauseImage(cc)
		pause := kubeadmimages.GetGenericImage(cc.ImageRepository, "pause", images.PauseTag(minor))
		var out []string
		for _, img := range kubeadmimages.GetControlPlaneImages(cc) {
			if img == ownPause {
				img = pause
			}
			out = append(out, img)
		}
		slices.Sort(out)
		return slices.Compact(out), pause
	}
	t.Fatalf("%s: no ClusterConfiguration", path)
	return nil, ""
}

// sandboxOf is the sandbox image containerd takes from a config: as
// `containerd config dump` reads a version 2 config where containerd (1.x,
// Debian's) is installed, else from the file's line. A version 3 config is
// for containerd 2.x, which this package does not build: the containerd
// renderer's TestContainerdReadsItsConfig runs it on the same template.
func sandboxOf(t *testing.T, containerd, cfg string) string {
	t.Helper()
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if containerd != "" && bytes.HasPrefix(b, []byte("version = 2\n")) {
		cmd := exec.Command(containerd, "--config", cfg, "config", "dump")
		if b, err = cmd.Output(); err != nil {
			t.Fatalf("containerd config dump %s: %v", cfg, err)
		}
	}
	m := sandboxImage.FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s: no sandbox_image", cfg)
	}
	return string(m[1])
}
