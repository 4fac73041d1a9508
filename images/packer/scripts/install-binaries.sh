#!/bin/bash
# Installs every pinned binary: KSGEN_BINARIES has one "name url dest strip
# sha256" per line. Archives (.tar.gz, .tgz) are unpacked into dest without
# their first <strip> path elements; other files become executables at dest.
set -euo pipefail
# lib.sh is uploaded to /tmp/ksgen-lib.sh by node.pkr.hcl (and checked on its own).
# shellcheck source=/dev/null
. "${KSGEN_LIB:-/tmp/ksgen-lib.sh}"

while read -r name url dest strip sum; do
  [ -n "$name" ] || continue
  log "installing $name from $url"
  case "$url" in
    *.tar.gz | *.tgz)
      fetch "$url" "$sum" "/tmp/ksgen-$name.tgz"
      mkdir -p "$dest"
      tar -C "$dest" --strip-components="$strip" -xzf "/tmp/ksgen-$name.tgz"
      rm -f "/tmp/ksgen-$name.tgz"
      ;;
    *)
      fetch "$url" "$sum" "$dest"
      chmod 0755 "$dest"
      ;;
  esac
done <<< "${KSGEN_BINARIES:-}"

# containerd from its release archive lands in /usr/local/bin. Its unit is
# the one containerd publishes (the payload writes the same one at first
# boot); pull-images.sh starts it to pre-pull the images. The kubelet unit
# comes from the payload.
mkdir -p /etc/containerd /etc/cni/net.d /opt/cni/bin /var/lib/ksgen
if [ -x /usr/local/bin/containerd ] && [ ! -e /etc/systemd/system/containerd.service ]; then
  cat > /etc/systemd/system/containerd.service <<'UNIT'
[Unit]
Description=containerd container runtime
Documentation=https://containerd.io
After=network.target local-fs.target dbus.service

[Service]
ExecStartPre=-/sbin/modprobe overlay
ExecStart=/usr/local/bin/containerd
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
UNIT
fi
