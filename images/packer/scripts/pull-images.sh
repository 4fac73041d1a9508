#!/bin/bash
# Pre-pulls every image of `ksgen images list` into containerd's k8s.io
# namespace, so that first boot needs no registry.
set -euo pipefail
# lib.sh is uploaded to /tmp/ksgen-lib.sh by node.pkr.hcl (and checked on its own).
# shellcheck source=/dev/null
. "${KSGEN_LIB:-/tmp/ksgen-lib.sh}"

systemctl daemon-reload
systemctl enable --now containerd
while read -r image; do
  [ -n "$image" ] || continue
  log "pulling $image"
  for attempt in 1 2 3 4 5; do
    if ctr --namespace k8s.io images pull --all-platforms=false "$image" >/dev/null; then
      break
    fi
    if [ "$attempt" -eq 5 ]; then
      log "could not pull $image"
      exit 1
    fi
    sleep $((attempt * 5))
  done
done <<< "${KSGEN_IMAGES:-}"
