#!/bin/bash
# ksgen first boot: kubeadm join (see ksgen's templates/bootstrap.sh.tmpl)
set -euo pipefail

ACTION=join
ENDPOINT=lb.kubesphere.local:6443
CRI_SOCKET=unix:///run/containerd/containerd.sock
STATE_DIR="${KSGEN_STATE_DIR:-/var/lib/ksgen}"
KUBE_DIR="${KSGEN_KUBE_DIR:-/etc/kubernetes}"
HOOK_DIR="${KSGEN_HOOK_DIR:-/opt/ksgen}"
ROOT_HOME="${KSGEN_ROOT_HOME:-/root}"
FSTAB="${KSGEN_FSTAB:-/etc/fstab}"
MAX_ATTEMPTS="${KSGEN_MAX_ATTEMPTS:-0}"
BACKOFF_FIRST=5
BACKOFF_CAP=300
export PATH="$PATH:/usr/local/bin"

log() { echo "ksgen-bootstrap: $*"; }

if [ -e "$STATE_DIR/bootstrapped" ]; then
  log "$(hostname) is already bootstrapped; nothing to do"
  exit 0
fi
mkdir -p "$STATE_DIR"
for d in pki manifests; do
  if [ -d "$KUBE_DIR/$d" ] && [ ! -e "$STATE_DIR/seed-$d" ]; then
    cp -a "$KUBE_DIR/$d" "$STATE_DIR/seed-$d"
  fi
done

swapoff -a
if [ -f "$FSTAB" ]; then sed -i -E 's|^([^#].*[[:space:]]swap[[:space:]].*)$|#\1|' "$FSTAB"; fi
systemctl restart systemd-modules-load.service
sysctl --system >/dev/null
systemctl enable containerd
systemctl restart containerd
systemctl enable kubelet

hooks() {
  [ -d "$HOOK_DIR/$1.d" ] || return 0
  for hook in "$HOOK_DIR/$1.d"/*; do
    [ -x "$hook" ] || continue
    log "running $1 hook $(basename "$hook")"
    "$hook"
  done
}

api_ready() { curl -ksf --max-time 5 "https://$ENDPOINT/readyz" >/dev/null; }

attempt() {
  hooks attempt
  if [ "$ACTION" != init ] && ! api_ready; then
    log "attempt $1: the API at $ENDPOINT does not answer yet"
    return 1
  fi
  if kubeadm "${ACTION%%-*}" --config "$KUBE_DIR/kubeadm-config.yaml"; then
    return 0
  fi
  log "attempt $1: kubeadm ${ACTION%%-*} failed; resetting this node"
  kubeadm reset -f --cri-socket "$CRI_SOCKET" || true
  for d in pki manifests; do
    if [ -d "$STATE_DIR/seed-$d" ]; then
      mkdir -p "$KUBE_DIR/$d"
      cp -a "$STATE_DIR/seed-$d/." "$KUBE_DIR/$d/"
    fi
  done
  return 1
}

hooks pre
n=1
delay=$BACKOFF_FIRST
until attempt "$n"; do
  if [ "$MAX_ATTEMPTS" -gt 0 ] && [ "$n" -ge "$MAX_ATTEMPTS" ]; then
    log "giving up after $n attempts"
    exit 1
  fi
  log "attempt $n failed; next in ${delay}s"
  sleep "$delay"
  n=$((n + 1))
  delay=$((delay * 2))
  if [ "$delay" -gt "$BACKOFF_CAP" ]; then delay=$BACKOFF_CAP; fi
done
log "kubeadm ${ACTION%%-*} succeeded after $n attempt(s)"
hooks post
touch "$STATE_DIR/bootstrapped"
log "done"
