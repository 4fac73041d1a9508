package spec_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ksgen/ksgen/generator/input/spec"
)

// TestScriptValues checks the forms of the values that reach scripts, env
// files and one-line configs: what real files write loads without findings,
// and each value a shell, sed or a config line would read differently is
// refused at its own path (the invalid corpus has one file per check).
func TestScriptValues(t *testing.T) {
	t.Parallel()
	// Each case is appended to minimal: a Cluster spec section, or a ksgen
	// document.
	field := func(section, body string) string {
		if section == "kubernetes" {
			body = "    containerManager: containerd\n" + body
		}
		return "  " + section + ":\n" + body
	}
	ok := map[string]string{
		"timezones":       field("system", "    timezone: Asia/Shanghai\n"),
		"UTC":             field("system", "    timezone: UTC\n"),
		"Etc/GMT+8":       field("system", "    timezone: Etc/GMT+8\n"),
		"deep zone":       field("system", "    timezone: America/Argentina/Buenos_Aires\n"),
		"dashed zone":     field("system", "    timezone: America/Port-au-Prince\n"),
		"NTP servers":     field("system", "    ntpServers: [time1.cloud.tencent.com, ntp.aliyun.com, master1, 10.0.0.1, \"fd00::1\", NTP.Example.COM]\n"),
		"CRI socket":      field("kubernetes", "    containerRuntimeEndpoint: unix:///run/containerd/containerd.sock\n"),
		"CRI path":        field("kubernetes", "    containerRuntimeEndpoint: /run/containerd/containerd.sock\n"),
		"mirrors":         field("registry", "    registryMirrors: [\"https://mirror.example.com/\", \"http://10.0.0.1:5000\", \"https://[fd00::1]:5000/v2/proxy\", \"https://Mirror.Example.com\"]\n"),
		"insecure":        field("registry", "    insecureRegistries: [\"10.0.0.50:5000\", harbor.local, \"[fd00::1]:5000\", \"[fd00::2]\"]\n"),
		"private":         field("registry", "    privateRegistry: harbor.local:8443/library/sub\n    namespaceOverride: kubesphereio\n"),
		"private slash":   field("registry", "    privateRegistry: dockerhub.kubekey.local/\n"),
		"auths":           field("registry", "    auths:\n      \"harbor.local:8443\": {username: admin, password: \"it's $(not) a command\"}\n"),
		"addons":          field("addons", "  - name: nfs.client\n    namespace: storage\n    sources:\n      chart: {name: nfs, repo: \"https://charts.example.com/stable\", values: [\"a=it's $(id); `x` & y\"]}\n      yaml: {path: [\"https://example.com/x.yaml\", rel/x.yaml]}\n"),
		"flannel backend": field("network", "    plugin: flannel\n    flannel: {backendMode: host-gw}\n"),
		"interface":       "---\napiVersion: ksgen.io/v1alpha1\nkind: Config\nspec:\n  hosts:\n    node1: {interface: enp0s31f6.100}\n",
	}
	for name, extra := range ok {
		t.Run("ok/"+name, func(t *testing.T) {
			t.Parallel()
			if _, r := spec.Load([]byte(runtimeSpec(extra))); len(r.Entries) > 0 {
				t.Errorf("findings:\n%s", report(r))
			}
		})
	}
	bad := []struct{ name, extra, path string }{
		{"timezone with a space", field("system", "    timezone: \"Asia/Shanghai reboot\"\n"), "spec.system.timezone"},
		{"timezone with ..", field("system", "    timezone: ../../etc/passwd\n"), "spec.system.timezone"},
		{"timezone absolute", field("system", "    timezone: /usr/share/zoneinfo/UTC\n"), "spec.system.timezone"},
		{"timezone quote", field("system", "    timezone: \"UTC'\"\n"), "spec.system.timezone"},
		{"NTP newline", field("system", "    ntpServers: [\"ntp.example.com\\nserver evil\"]\n"), "spec.system.ntpServers[0]"},
		{"CRI socket tcp", field("kubernetes", "    containerRuntimeEndpoint: tcp://10.0.0.1:2375\n"), "spec.kubernetes.containerRuntimeEndpoint"},
		{"CRI socket space", field("kubernetes", "    containerRuntimeEndpoint: \"unix:///run/a b.sock\"\n"), "spec.kubernetes.containerRuntimeEndpoint"},
		{"CRI socket relative", field("kubernetes", "    containerRuntimeEndpoint: unix://run/containerd.sock\n"), "spec.kubernetes.containerRuntimeEndpoint"},
		{"mirror query", field("registry", "    registryMirrors: [\"https://mirror.example.com/?a=b\"]\n"), "spec.registry.registryMirrors[0]"},
		{"mirror user", field("registry", "    registryMirrors: [\"https://u:p@mirror.example.com\"]\n"), "spec.registry.registryMirrors[0]"},
		{"mirror quote", field("registry", "    registryMirrors: [\"https://mirror.example.com/a\\\"b\"]\n"), "spec.registry.registryMirrors[0]"},
		{"mirror host", field("registry", "    registryMirrors: [\"https://mirror;reboot\"]\n"), "spec.registry.registryMirrors[0]"},
		{"mirror port", field("registry", "    registryMirrors: [\"https://mirror.example.com:0\"]\n"), "spec.registry.registryMirrors[0]"},
		{"insecure path", field("registry", "    insecureRegistries: [harbor.local/library]\n"), "spec.registry.insecureRegistries[0]"},
		{"insecure bare IPv6", field("registry", "    insecureRegistries: [\"fd00::1\"]\n"), "spec.registry.insecureRegistries[0]"},
		{"insecure space", field("registry", "    insecureRegistries: [\"harbor local\"]\n"), "spec.registry.insecureRegistries[0]"},
		{"private uppercase path", field("registry", "    privateRegistry: harbor.local/Library\n"), "spec.registry.privateRegistry"},
		{"private port", field("registry", "    privateRegistry: \"harbor.local:x/library\"\n"), "spec.registry.privateRegistry"},
		{"private sed", field("registry", "    privateRegistry: \"harbor.local/a#b&c\"\n"), "spec.registry.privateRegistry"},
		{"namespace slash start", field("registry", "    namespaceOverride: /kubesphereio\n"), "spec.registry.namespaceOverride"},
		{"addon name empty", field("addons", "  - sources: {yaml: {path: [x.yaml]}}\n"), "spec.addons[0].name"},
		{"addon name slash", field("addons", "  - name: a/b\n"), "spec.addons[0].name"},
		{"addon yaml NUL", field("addons", "  - name: a\n    sources: {yaml: {path: [\"x\\0.yaml\"]}}\n"), "spec.addons[0].sources.yaml.path[0]"},
		{"chart repo query", field("addons", "  - name: a\n    sources: {chart: {name: a, repo: \"https://charts.example.com/?x\"}}\n"), "spec.addons[0].sources.chart.repo"},
		{"flannel backend space", field("network", "    flannel: {backendMode: \"vxlan udp\"}\n"), "spec.network.flannel.backendMode"},
		{"interface too long", "---\napiVersion: ksgen.io/v1alpha1\nkind: Config\nspec:\n  roles:\n    worker: {interface: a23456789012345x}\n", "ksgen.spec.roles.worker.interface"},
	}
	for _, c := range bad {
		t.Run("bad/"+c.name, func(t *testing.T) {
			t.Parallel()
			text := runtimeSpec(c.extra)
			_, r := spec.Load([]byte(text))
			if len(r.Entries) != 1 {
				t.Fatalf("want one finding at %s, got:\n%s", c.path, report(r))
			}
			e := r.Entries[0]
			if e.Path != c.path || e.Severity != spec.Error || !errors.Is(e.Err, spec.ErrInvalidValue) || e.Line == 0 {
				t.Errorf("finding %s (severity %s, line %d), want an invalid-value error at %s with a line", e, e.Severity, e.Line, c.path)
			}
			if e.Line > strings.Count(text, "\n") {
				t.Errorf("line %d is outside the file", e.Line)
			}
		})
	}
}

// runtimeSpec is minimal with extra appended and the runtime named, in
// extra's kubernetes section when it has one.
func runtimeSpec(extra string) string {
	if strings.HasPrefix(extra, "  kubernetes:") {
		return minimal + extra
	}
	return withRuntime + extra
}
