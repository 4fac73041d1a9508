#!/bin/bash
# Shared by the provisioning scripts: download with a pinned sha256.
set -euo pipefail

log() { echo "ksgen-image: $*"; }

# fetch URL SHA256 DEST: download URL to DEST and refuse it unless its sha256
# matches. An empty SHA256 is refused unless KSGEN_ALLOW_UNPINNED=true.
fetch() {
  local url=$1 sum=$2 dest=$3 tmp
  if [ -z "$sum" ] && [ "${KSGEN_ALLOW_UNPINNED:-false}" != true ]; then
    log "$url has no sha256 pin; set it (or allow_unpinned for a development build)"
    return 1
  fi
  mkdir -p "$(dirname "$dest")"
  tmp=$(mktemp "$dest.XXXXXX")
  curl -fsSL --retry 5 --retry-delay 3 -o "$tmp" "$url"
  if [ -n "$sum" ]; then
    echo "$sum  $tmp" | sha256sum -c --quiet - || { rm -f "$tmp"; log "sha256 mismatch for $url"; return 1; }
  else
    log "WARNING: $url is unpinned; its sha256 is $(sha256sum "$tmp" | cut -d' ' -f1)"
  fi
  mv "$tmp" "$dest"
}
