#!/bin/bash
# ksgen first boot: kubeadm join-control-plane (see ksgen's templates/bootstrap.sh.tmpl)
set -euo pipefail

KUBEADM='join'
ENDPOINT='lb.kubesphere.local:6443'
CRI_SOCKET='unix:///run/containerd/containerd.sock'
ETCD_DATA='/var/lib/etcd'
STATE_DIR="${KSGEN_STATE_DIR:-/var/lib/ksgen}"
RUN_DIR="${KSGEN_RUN_DIR:-/run/ksgen}"
KUBE_DIR="${KSGEN_KUBE_DIR:-/etc/kubernetes}"
HOOK_DIR="${KSGEN_HOOK_DIR:-/opt/ksgen}"
NODE_NAME=$(<"$HOOK_DIR/node-name")
FSTAB="${KSGEN_FSTAB:-/etc/fstab}"
MAX_ATTEMPTS="${KSGEN_MAX_ATTEMPTS:-0}"
SETTLE_WAIT="${KSGEN_SETTLE_WAIT:-300}"
BACKOFF_FIRST=5
BACKOFF_CAP=300
PHASES="$STATE_DIR/phases"
export PATH="$PATH:"'/usr/bin'

log() { echo "ksgen-bootstrap: $*"; }

if [ -e "$STATE_DIR/bootstrapped" ]; then
  log "$(hostname) is already bootstrapped; nothing to do"
  exit 0
fi
mkdir -p "$PHASES" "$RUN_DIR" "$STATE_DIR/attempts"
REPORT="$HOOK_DIR/report"
TEE_PID=
if [ -r "$REPORT" ]; then
  exec > >(tee -a "$RUN_DIR/bootstrap.log") 2>&1
  TEE_PID=$!
fi
ATTEMPT=0
report() { if [ -n "$TEE_PID" ]; then bash "$REPORT" "$CURRENT" "$ATTEMPT" "$@" || :; fi; }
mark() {
  touch "$1"
  sync "$1" "$(dirname "$1")"
}

CURRENT=setup
failed() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    echo $(($(cat "$RUN_DIR/failures" 2>/dev/null || echo 0) + 1)) > "$RUN_DIR/failures"
    log "phase $CURRENT failed (exit $rc); the next start resumes at this phase"
    report failed "$rc"
  fi
  if [ -n "$TEE_PID" ]; then
    exec >&- 2>&-
    wait "$TEE_PID" || :
  fi
}
trap failed EXIT
phase() {
  local name=$1
  shift
  if [ -e "$PHASES/$name.done" ]; then
    log "phase $name: done before"
    return 0
  fi
  CURRENT=$name
  ATTEMPT=$(($(cat "$STATE_DIR/attempts/$name" 2>/dev/null || echo 0) + 1))
  echo "$ATTEMPT" >"$STATE_DIR/attempts/$name"
  log "phase $name: starting"
  report start
  "$@"
  mark "$PHASES/$name.done"
  log "phase $name: done"
  report "done"
}
failures=$(cat "$RUN_DIR/failures" 2>/dev/null || echo 0)
if [ "$failures" -gt 0 ]; then
  delay=10
  for ((i = 1; i < failures && delay < BACKOFF_CAP; i++)); do delay=$((delay * 2)); done
  if [ "$delay" -gt "$BACKOFF_CAP" ]; then delay=$BACKOFF_CAP; fi
  log "start after $failures failure(s) in this boot: waiting ${delay}s"
  sleep "$delay"
fi

prep() {
  swapoff -a
  if [ -f "$FSTAB" ]; then sed -i -E 's|^([^#].*[[:space:]]swap[[:space:]].*)$|#\1|' "$FSTAB"; fi
  systemctl restart systemd-modules-load.service ||
    log "warning: some kernel modules did not load (journalctl -u systemd-modules-load); kubeadm's preflight decides whether that matters"
  sysctl --system >/dev/null ||
    log "warning: some sysctls could not be applied (see above); kubeadm's preflight decides whether that matters"
  systemctl enable containerd
  systemctl restart containerd
  systemctl enable kubelet
}

hooks() {
  [ -d "$HOOK_DIR/$1.d" ] || return 0
  for hook in "$HOOK_DIR/$1.d"/*; do
    [ -x "$hook" ] || continue
    log "running $1 hook $(basename "$hook")"
    "$hook" || return 1
  done
}
api_ready() { curl -ksf --max-time 5 "https://$ENDPOINT/readyz" >/dev/null; }
restore_seed() {
  for d in pki manifests; do
    if [ -d "$STATE_DIR/seed-$d" ]; then
      mkdir -p "$KUBE_DIR/$d"
      cp -a "$STATE_DIR/seed-$d/." "$KUBE_DIR/$d/"
    fi
  done
}
leftovers() {
  [ -e "$KUBE_DIR/admin.conf" ] || [ -e "$KUBE_DIR/kubelet.conf" ] || [ -e "$KUBE_DIR/bootstrap-kubelet.conf" ] ||
    [ -d "$ETCD_DATA/member" ]
}
finished() {
  local out
  [ -e "$KUBE_DIR/kubelet.conf" ] || return 1
  out=$(kubectl --kubeconfig "$KUBE_DIR/kubelet.conf" --request-timeout=10s \
    get node "$NODE_NAME" --ignore-not-found -o 'jsonpath={.metadata.labels}') || return 2
  [[ $out == *'"node-role.kubernetes.io/control-plane"'* ]] || out=
  [ -n "$out" ]
}

reset_node() {
  kubeadm reset -f --cri-socket "$CRI_SOCKET" || true
  restore_seed
}
settle() {
  local waited=0 rc
  while :; do
    if finished; then rc=0; else rc=$?; fi
    case $rc in
    0)
      log "the earlier kubeadm $KUBEADM finished before it could be recorded: adopting it"
      return 0
      ;;
    1)
      log "the API shows the earlier kubeadm $KUBEADM did not finish: resetting what it made"
      reset_node
      return 2
      ;;
    esac
    if [ "$waited" -ge "$SETTLE_WAIT" ]; then break; fi
    sleep 10
    waited=$((waited + 10))
  done
  if [ -d "$ETCD_DATA/member" ]; then
    log "the API does not answer, so whether $ETCD_DATA belongs to a running cluster is unknown: not resetting (to start this node over on purpose: kubeadm reset -f)"
    return 1
  fi
  log "the API does not answer and this node holds no etcd data: resetting what the earlier run made"
  reset_node
  return 2
}

attempt() {
  hooks attempt || return 1
  if ! api_ready; then
    log "attempt $1: the API at $ENDPOINT does not answer yet"
    return 1
  fi
  if leftovers; then
    log "attempt $1: an earlier kubeadm $KUBEADM left state on this node"
    settle && return 0
    [ $? -eq 2 ] || return 1
  fi
  restore_seed
  if kubeadm "$KUBEADM" --config "$KUBE_DIR/kubeadm-config.yaml"; then
    return 0
  fi
  log "attempt $1: kubeadm $KUBEADM failed"
  if leftovers; then
    settle && return 0
  fi
  return 1
}

run_kubeadm() {
  for d in pki manifests; do
    if [ -d "$KUBE_DIR/$d" ] && [ ! -e "$STATE_DIR/seed-$d" ]; then
      cp -a "$KUBE_DIR/$d" "$STATE_DIR/seed-$d"
    fi
  done
  hooks pre
  local n=1 delay=$BACKOFF_FIRST
  until attempt "$n"; do
    if [ "$MAX_ATTEMPTS" -gt 0 ] && [ "$n" -ge "$MAX_ATTEMPTS" ]; then
      log "giving up after $n attempts"
      return 1
    fi
    log "attempt $n failed; next in ${delay}s"
    report retry 1
    sleep "$delay"
    n=$((n + 1))
    delay=$((delay * 2))
    if [ "$delay" -gt "$BACKOFF_CAP" ]; then delay=$BACKOFF_CAP; fi
  done
  log "kubeadm $KUBEADM succeeded after $n attempt(s)"
}

phase prep prep
phase kubeadm run_kubeadm

admin_kubeconfig() {
  local ROOT_HOME="${KSGEN_ROOT_HOME:-/root}"
  mkdir -p "$ROOT_HOME/.kube"
  install -m 0600 "$KUBE_DIR/admin.conf" "$ROOT_HOME/.kube/config"
}
phase admin-kubeconfig admin_kubeconfig

if [ -d "$HOOK_DIR/post.d" ]; then
  for hook in "$HOOK_DIR/post.d"/*; do
    [ -x "$hook" ] || continue
    phase "post-$(basename "$hook")" "$hook"
  done
fi
CURRENT=finish
mark "$STATE_DIR/bootstrapped"
rm -f "$RUN_DIR/failures"
log "done: every phase finished"
CURRENT=bootstrapped ATTEMPT=0
report "done"
