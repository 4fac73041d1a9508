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

# containerd from its release archive lands in /usr/local/bin; its unit and
# the kubelet unit come from the payload's drop-ins and units.
mkdir -p /etc/containerd /etc/cni/net.d /opt/cni/bin /var/lib/ksgen
