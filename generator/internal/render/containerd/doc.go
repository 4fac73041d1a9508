// Package containerd renders the container runtime's configuration:
// config.toml (systemd cgroups, pause image, credentials), one hosts.toml per
// registry under certs.d (mirrors, insecure registries), and crictl.yaml.
//
// Stage: render. It takes the plan (and the bundle's keys) and adds files and
// units to a node's fileset.Set; it must not import an encoder, the output or
// delivery, nor the raw spec (generator/layers_test.go checks).
package containerd
