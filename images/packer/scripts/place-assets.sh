#!/bin/bash
# Places the versioned CNI, KubeSphere and addon assets where the first-boot
# script reads them: /opt/ksgen/assets/<component>/<version>/<file>.
set -euo pipefail
# lib.sh is uploaded to /tmp/ksgen-lib.sh by node.pkr.hcl (and checked on its own).
# shellcheck source=/dev/null
. "${KSGEN_LIB:-/tmp/ksgen-lib.sh}"

ASSET_DIR=/opt/ksgen/assets
while read -r url path sum; do
  [ -n "$url" ] || continue
  log "placing $path"
  fetch "$url" "$sum" "$ASSET_DIR/$path"
  chmod 0644 "$ASSET_DIR/$path"
done <<< "${KSGEN_ASSETS:-}"
