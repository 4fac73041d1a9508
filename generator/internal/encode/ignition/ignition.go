package ignition

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	butaneconfig "github.com/coreos/butane/config"
	"github.com/coreos/butane/config/common"
	fcos1_6 "github.com/coreos/butane/config/fcos/v1_6"
	flatcar1_1 "github.com/coreos/butane/config/flatcar/v1_1"
	ign3_4 "github.com/coreos/ignition/v2/config/v3_4"
	ign3_5 "github.com/coreos/ignition/v2/config/v3_5"
	"github.com/coreos/vcontext/report"
	"github.com/vincent-petithory/dataurl"
	"go.yaml.in/yaml/v3"

	"github.com/ksgen/ksgen/generator/internal/fileset"
)

// Variants Encode accepts.
const (
	VariantFCOS    = "fcos"
	VariantFlatcar = "flatcar"
)

// Options selects the Butane variant and an optional user snippet.
type Options struct {
	// Variant is "fcos" (Butane fcos 1.6.0 → Ignition 3.5.0, the default when
	// empty) or "flatcar" (Butane flatcar 1.1.0 → Ignition 3.4.0).
	Variant string
	// Snippet is optional user Butane YAML of the same variant (any version
	// Butane knows whose Ignition version is not newer than the target). It is
	// merged as the child of the generated config: its files and units replace
	// or extend the generated ones.
	Snippet []byte
}

// variant ties a Butane variant to the Ignition spec version it produces and
// to that version's parser and merge.
type variant struct {
	name          string
	butaneVersion string
	ignVersion    string
	// translate turns Butane YAML of exactly this variant and version into Ignition JSON.
	translate func([]byte, common.TranslateBytesOptions) ([]byte, report.Report, error)
	// parse parses Ignition JSON of exactly ignVersion.
	parse func([]byte) (report.Report, error)
	// merge merges child (any older compatible Ignition version) over parent
	// (ignVersion) and returns the merged JSON.
	merge func(parent, child []byte) ([]byte, error)
	// toButane converts the generated base config into this variant's Butane
	// type, ready to marshal.
	toButane func(baseConfig) (any, error)
	// toIgn translates what toButane returned with Butane's library, without
	// YAML, validating it as Butane and Ignition do.
	toIgn func(any, common.TranslateOptions) (any, report.Report, error)
}

var variants = map[string]variant{
	VariantFCOS: {
		name:          VariantFCOS,
		butaneVersion: "1.6.0",
		ignVersion:    "3.5.0",
		translate:     fcos1_6.ToIgn3_5Bytes,
		parse:         parseWith(ign3_5.Parse),
		merge:         mergeWith(ign3_5.Parse, ign3_5.ParseCompatibleVersion, ign3_5.Merge),
		toButane: func(b baseConfig) (any, error) {
			return fcos1_6.Config{Config: b}, nil
		},
		toIgn: func(c any, o common.TranslateOptions) (any, report.Report, error) {
			return c.(fcos1_6.Config).ToIgn3_5(o)
		},
	},
	VariantFlatcar: {
		name:          VariantFlatcar,
		butaneVersion: "1.1.0",
		ignVersion:    "3.4.0",
		translate:     flatcar1_1.ToIgn3_4Bytes,
		parse:         parseWith(ign3_4.Parse),
		merge:         mergeWith(ign3_4.Parse, ign3_4.ParseCompatibleVersion, ign3_4.Merge),
		toButane: func(b baseConfig) (any, error) {
			// Flatcar 1.1.0 uses the previous Butane base (v0_5), a strict
			// subset of v0_6 for everything ksgen writes: transcode through
			// YAML, refusing any field v0_5 does not have.
			var out flatcar1_1.Config
			if err := transcode(b, &out); err != nil {
				return nil, fmt.Errorf("convert to butane flatcar types: %w", err)
			}
			return out, nil
		},
		toIgn: func(c any, o common.TranslateOptions) (any, report.Report, error) {
			return c.(flatcar1_1.Config).ToIgn3_4(o)
		},
	},
}

func variantOf(name string) (variant, error) {
	if name == "" {
		name = VariantFCOS
	}
	v, ok := variants[name]
	if !ok {
		return variant{}, fmt.Errorf("unknown variant %q (want %q or %q)", name, VariantFCOS, VariantFlatcar)
	}
	return v, nil
}

// Encode returns the readable Butane source (config.bu) and the Ignition JSON
// (config.ign) for n. The Butane source is exactly what was translated:
// re-translating it with Butane gives the same Ignition unless a snippet was
// merged, which happens after translation.
// Errors name neither the node nor the format: the caller says both.
func Encode(n *fileset.Set, opts Options) (butane []byte, ign []byte, err error) {
	v, err := variantOf(opts.Variant)
	if err != nil {
		return nil, nil, err
	}

	base, files, err := build(n, v, encodeContents)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := v.toButane(base)
	if err != nil {
		return nil, nil, err
	}
	butane, err = marshalButane(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("marshal butane: %w", err)
	}

	// Compression is done in butaneFile; Butane must not redo it.
	ign, rpt, err := v.translate(butane, common.TranslateBytesOptions{TranslateOptions: common.TranslateOptions{NoResourceAutoCompression: true}})
	if err := strict("butane translation", rpt, err); err != nil {
		return nil, nil, err
	}
	if err := checkFiles(ign, files); err != nil {
		return nil, nil, err
	}

	if len(opts.Snippet) > 0 {
		child, err := translateSnippet(opts.Snippet, v)
		if err != nil {
			return nil, nil, err
		}
		if ign, err = v.merge(ign, child); err != nil {
			return nil, nil, fmt.Errorf("merge snippet: %w", err)
		}
	}

	rpt, err = v.parse(ign)
	if err := strict("ignition parse of the output", rpt, err); err != nil {
		return nil, nil, err
	}
	return butane, ign, nil
}

// translateSnippet translates the user's Butane snippet to Ignition, strictly.
func translateSnippet(snippet []byte, v variant) ([]byte, error) {
	var head struct {
		Variant string `yaml:"variant"`
		Version string `yaml:"version"`
	}
	if err := yaml.Unmarshal(snippet, &head); err != nil {
		return nil, fmt.Errorf("snippet: not Butane YAML: %w", err)
	}
	if head.Variant != v.name {
		return nil, fmt.Errorf("snippet: variant %q, want %q (version %s)", head.Variant, v.name, v.butaneVersion)
	}
	child, rpt, err := butaneconfig.TranslateBytes(snippet, common.TranslateBytesOptions{})
	if err := strict("snippet: butane translation", rpt, err); err != nil {
		return nil, err
	}
	return child, nil
}

// strict turns any report entry, not only fatal ones, into an error.
func strict(what string, rpt report.Report, err error) error {
	if len(rpt.Entries) > 0 {
		if err != nil {
			return fmt.Errorf("%s: %w:\n%s", what, err, rpt.String())
		}
		return fmt.Errorf("%s: report not empty (strict):\n%s", what, rpt.String())
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// parseWith adapts a version's Parse to the variant table.
func parseWith[C any](parse func([]byte) (C, report.Report, error)) func([]byte) (report.Report, error) {
	return func(b []byte) (report.Report, error) {
		_, r, err := parse(b)
		return r, err
	}
}

// mergeWith builds a strict merge for one Ignition version: the parent must be
// exactly that version, the child may be any older one (it is translated up).
func mergeWith[C any](parse, parseCompat func([]byte) (C, report.Report, error), merge func(C, C) C) func(parent, child []byte) ([]byte, error) {
	return func(parent, child []byte) ([]byte, error) {
		p, rpt, err := parse(parent)
		if err := strict("parse generated config", rpt, err); err != nil {
			return nil, err
		}
		c, rpt, err := parseCompat(child)
		if err := strict("parse snippet ignition", rpt, err); err != nil {
			return nil, err
		}
		return json.Marshal(merge(p, c))
	}
}

// checkFiles decodes every file of the translated config and compares it with
// the payload, so an encoding surprise (YAML escaping, compression) fails the
// render instead of a boot.
func checkFiles(ign []byte, want map[string]fileset.File) error {
	var cfg struct {
		Storage struct {
			Files []struct {
				Path     string `json:"path"`
				Mode     *int   `json:"mode"`
				Contents struct {
					Source      *string `json:"source"`
					Compression *string `json:"compression"`
				} `json:"contents"`
			} `json:"files"`
		} `json:"storage"`
	}
	if err := json.Unmarshal(ign, &cfg); err != nil {
		return fmt.Errorf("read back translated config: %w", err)
	}
	var errs []error
	seen := 0
	for _, f := range cfg.Storage.Files {
		p, ok := want[f.Path]
		if !ok {
			continue
		}
		seen++
		switch err := checkSource(f.Path, f.Contents.Source, f.Contents.Compression, p); {
		case err != nil:
			errs = append(errs, err)
		case !p.Remote() && (f.Mode == nil || *f.Mode != int(p.Mode.Perm())):
			errs = append(errs, fmt.Errorf("file %s: mode does not round-trip through butane", f.Path))
		}
	}
	if seen != len(want) {
		errs = append(errs, fmt.Errorf("translated config has %d of %d payload files", seen, len(want)))
	}
	return errors.Join(errs...)
}

// checkSource checks a translated file's contents against the payload's
// file want: a download keeps its URL, anything else must decode to the
// payload's bytes.
func checkSource(path string, source, compression *string, want fileset.File) error {
	if want.Remote() {
		if source == nil || *source != want.Source {
			return fmt.Errorf("file %s: source is not %s", path, want.Source)
		}
		return nil
	}
	got, err := decodeContents(source, compression)
	if err != nil {
		return fmt.Errorf("file %s: %w", path, err)
	}
	if !bytes.Equal(got, want.Content) {
		return fmt.Errorf("file %s: contents do not round-trip through butane", path)
	}
	return nil
}

// decodeContents returns the bytes an Ignition contents.source data URL (with
// optional gzip compression) carries; an absent source is an empty file.
func decodeContents(source, compression *string) ([]byte, error) {
	if source == nil {
		return []byte{}, nil
	}
	u, err := dataurl.DecodeString(*source)
	if err != nil {
		return nil, fmt.Errorf("decode data URL: %w", err)
	}
	data := u.Data
	switch c := deref(compression); c {
	case "":
	case "gzip":
		if data, err = fileset.Gunzip(data); err != nil {
			return nil, fmt.Errorf("gunzip: %w", err)
		}
	default:
		return nil, fmt.Errorf("unsupported compression %q", c)
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
