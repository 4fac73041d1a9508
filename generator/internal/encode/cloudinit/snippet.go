package cloudinit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// knownKeys are the top-level keys cloud-init 22.4 reads: the properties of
// its cloud-config JSON schema plus the base-config keys that schema does not
// describe. 22.4's `cloud-init schema` accepts any other key silently (a
// `write_file:` typo would be ignored at boot), so the snippet may use only these.
var knownKeys = setOf(
	// cloudinit.config.schema.get_schema() of cloud-init 22.4.2
	"allow_public_ssh_keys", "ansible", "apk_repos", "apt", "apt_pipelining",
	"apt_reboot_if_required", "apt_update", "apt_upgrade", "authkey_hash", "autoinstall",
	"bootcmd", "byobu_by_default", "ca-certs", "ca_certs", "chef", "chpasswd",
	"cloud_config_modules", "cloud_final_modules", "cloud_init_modules", "device_aliases",
	"disable_ec2_metadata", "disable_root", "disable_root_opts", "disk_setup", "drivers",
	"fan", "final_message", "fqdn", "fs_setup", "groups", "growpart", "grub-dpkg",
	"grub_dpkg", "hostname", "keyboard", "landscape", "locale", "locale_configfile", "lxd",
	"manage_etc_hosts", "manage_resolv_conf", "mcollective", "migrate",
	"mount_default_fields", "mounts", "no_ssh_fingerprints", "ntp",
	"package_reboot_if_required", "package_update", "package_upgrade", "packages",
	"password", "phone_home", "power_state", "prefer_fqdn_over_hostname",
	"preserve_hostname", "puppet", "random_seed", "reporting", "resize_rootfs",
	"resolv_conf", "rh_subscription", "rsyslog", "runcmd", "salt_minion", "snap",
	"spacewalk", "ssh", "ssh_authorized_keys", "ssh_deletekeys", "ssh_fp_console_blacklist",
	"ssh_genkeytypes", "ssh_import_id", "ssh_key_console_blacklist", "ssh_keys",
	"ssh_publish_hostkeys", "ssh_pwauth", "ssh_quiet_keygen", "swap", "timezone",
	"ubuntu_advantage", "updates", "user", "users", "vendor_data", "wireguard",
	"write_files", "yum_repo_dir", "yum_repos", "zypper",
	// base config, read by cloud-init's core
	"merge_how", "merge_type", "system_info", "datasource", "datasource_list", "network",
	"output", "log_cfg", "log_cfgs", "def_log_file", "syslog_fix_perms",
	"manual_cache_clean", "vendor_data2", "debug", "launch-index",
)

func setOf(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// parseSnippet checks the header and YAML of a user #cloud-config fragment
// and returns its top-level mapping (nil when it is empty), with comments
// dropped and aliases expanded so it can be spliced into the generated tree.
func parseSnippet(b []byte) (*yaml.Node, error) {
	first, _, _ := bytes.Cut(b, []byte("\n"))
	if string(bytes.TrimRight(first, " \t\r")) != Header {
		return nil, fmt.Errorf("snippet: first line must be %q, got %q", Header, truncate(string(first), 40))
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, fmt.Errorf("snippet: bad YAML: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, fmt.Errorf("snippet: bad YAML: %w", err)
		}
		return nil, errors.New("snippet: more than one YAML document")
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("snippet: line %d: top level must be a mapping", root.Line)
	}
	var unknown []string
	for i := 0; i+1 < len(root.Content); i += 2 {
		if k := root.Content[i]; !knownKeys[k.Value] {
			unknown = append(unknown, fmt.Sprintf("%q (line %d)", k.Value, k.Line))
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("snippet: top-level key(s) cloud-init 22.4 does not know: %s", strings.Join(unknown, ", "))
	}
	budget := maxNodes
	return expand(root, &budget)
}

// maxNodes bounds alias expansion, so a "billion laughs" snippet is an
// error instead of an out-of-memory.
const maxNodes = 100_000

// expand returns a deep copy of n without comments, anchors or aliases.
func expand(n *yaml.Node, budget *int) (*yaml.Node, error) {
	if *budget--; *budget < 0 {
		return nil, fmt.Errorf("snippet: more than %d YAML nodes once aliases are expanded", maxNodes)
	}
	if n.Kind == yaml.AliasNode {
		return expand(n.Alias, budget)
	}
	c := &yaml.Node{Kind: n.Kind, Style: n.Style, Tag: n.Tag, Value: n.Value, Line: n.Line, Column: n.Column}
	for _, child := range n.Content {
		e, err := expand(child, budget)
		if err != nil {
			return nil, err
		}
		c.Content = append(c.Content, e)
	}
	return c, nil
}

// mergeMapping merges src into dst: new keys are appended in src order,
// sequences are appended after dst's items, mappings merge recursively and
// src's scalars win. Anything else (a list meeting a scalar) is an error
// rather than a silent loss of generated content.
func mergeMapping(dst, src *yaml.Node, at string) error {
	seen := map[string]bool{}
	for i := 0; i+1 < len(src.Content); i += 2 {
		k, v := src.Content[i], src.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: %s: keys must be scalars", k.Line, strings.TrimSuffix(at, ".")+"(key)")
		}
		key := at + k.Value
		if seen[k.Value] {
			return fmt.Errorf("line %d: %s: duplicate key", k.Line, key)
		}
		seen[k.Value] = true
		j := find(dst, k.Value)
		if j < 0 {
			dst.Content = append(dst.Content, k, v)
			continue
		}
		d := dst.Content[j]
		switch {
		case d.Kind == yaml.SequenceNode && v.Kind == yaml.SequenceNode:
			d.Content = append(d.Content, v.Content...)
		case d.Kind == yaml.MappingNode && v.Kind == yaml.MappingNode:
			if err := mergeMapping(d, v, key+"."); err != nil {
				return err
			}
		case d.Kind == yaml.ScalarNode && v.Kind == yaml.ScalarNode:
			dst.Content[j] = v
		default:
			return fmt.Errorf("line %d: %s: cannot merge a %s into the generated %s", k.Line, key, kind(v), kind(d))
		}
	}
	return nil
}

// find returns the index of key's value in mapping m, or -1.
func find(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i + 1
		}
	}
	return -1
}

func kind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return "scalar"
	}
	return "node"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
