package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
	"time"
)

// Image is a single-layer container image made of files from this machine,
// for clusters that cannot pull: the test packs the programs it built under
// the exact names kubeadm and ksgen's manifests use.
type Image struct {
	Ref        string            // e.g. registry.k8s.io/kube-apiserver:v1.36.3
	Files      map[string]string // path in the image → file on this machine
	Entrypoint []string
	Cmd        []string
}

// WriteArchive writes img as a `docker save` archive, which `ctr images
// import` reads: manifest.json, the config and one layer.
func (img Image) WriteArchive(file string) error {
	layer, err := img.layer()
	if err != nil {
		return err
	}
	layerSum := sha256.Sum256(layer)
	diffID := "sha256:" + hex.EncodeToString(layerSum[:])
	config, err := json.Marshal(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"created":      time.Unix(0, 0).UTC(),
		"config": map[string]any{
			"Env":        []string{"PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin"},
			"Entrypoint": img.Entrypoint,
			"Cmd":        img.Cmd,
		},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{diffID}},
		"history": []map[string]any{{"created_by": "ksgen e2e: files packed from the test machine"}},
	})
	if err != nil {
		return err
	}
	configSum := sha256.Sum256(config)
	configName := hex.EncodeToString(configSum[:]) + ".json"
	layerName := hex.EncodeToString(layerSum[:]) + "/layer.tar"
	manifest, err := json.Marshal([]map[string]any{{
		"Config":   configName,
		"RepoTags": []string{img.Ref},
		"Layers":   []string{layerName},
	}})
	if err != nil {
		return err
	}
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for _, e := range []struct {
		name string
		data []byte
	}{{configName, config}, {layerName, layer}, {"manifest.json", manifest}} {
		if dir := path.Dir(e.name); dir != "." {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755}); err != nil {
				return err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: 0o644, Size: int64(len(e.data))}); err != nil {
			return err
		}
		if _, err := tw.Write(e.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return os.WriteFile(file, out.Bytes(), 0o644)
}

// layer is the image's file system as a tar: the files, their parent
// directories and the directories every container needs to exist.
func (img Image) layer() ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	mkdirs := func(dir string) error {
		var missing []string
		for d := dir; d != "/" && d != "." && !dirs[d]; d = path.Dir(d) {
			missing = append(missing, d)
		}
		slices.Reverse(missing)
		for _, d := range missing {
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(d, "/") + "/", Mode: 0o755}); err != nil {
				return err
			}
		}
		return nil
	}
	for _, d := range []string{"/dev", "/etc", "/proc", "/run", "/sys", "/tmp", "/var/run"} {
		if err := mkdirs(d); err != nil {
			return nil, err
		}
	}
	for _, dst := range slices.Sorted(maps.Keys(img.Files)) {
		b, err := os.ReadFile(img.Files[dst])
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", img.Ref, err)
		}
		if err := mkdirs(path.Dir(dst)); err != nil {
			return nil, err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(dst, "/"), Mode: 0o755, Size: int64(len(b))}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(b); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
