// Package cloudinit encodes a node payload as #cloud-config user-data for
// Ubuntu, Debian and RHEL-family images.
//
// Encode is pure and deterministic. Every payload file and every systemd unit
// and drop-in becomes a write_files entry; payload users are added next to the
// distro's default user, with locked passwords; runcmd only does what files
// cannot: reload systemd and enable units. An optional user #cloud-config
// snippet is merged as the child of the generated config.
//
// Stage: encode. It takes one node's fileset.Set and gives that node's payload
// bytes; of ksgen it imports only the file set.
package cloudinit
