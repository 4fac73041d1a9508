#!/bin/bash
# ksgen post-init steps (see ksgen's templates/addons.sh.tmpl)
set -euo pipefail

STATE_DIR="${KSGEN_STATE_DIR:-/var/lib/ksgen}"
KUBE_DIR="${KSGEN_KUBE_DIR:-/etc/kubernetes}"
ASSET_DIR="${KSGEN_ASSET_DIR:-/opt/ksgen/assets}"
# shellcheck source=/dev/null
. "${KSGEN_ADDONS_ENV:-/etc/ksgen/addons.env}"
: "${CNI:=none}" "${POD_CIDR_V4:=}" "${POD_CIDR_V6:=}" "${MTU:=0}" "${IMAGE_PREFIX:=}" "${IMAGE_REGISTRY:=}" "${IMAGE_PATH:=}"
export KUBECONFIG="$KUBE_DIR/admin.conf"
export PATH="$PATH:/usr/bin"
DONE_DIR="$STATE_DIR/addons"
WORK_DIR="$STATE_DIR/rendered"
mkdir -p "$DONE_DIR" "$WORK_DIR"

log() { echo "ksgen-addons: $*"; }

# retry TRIES DELAY WHAT CMD...: run CMD until it succeeds; the delay doubles up to 5 minutes.
retry() {
  local tries=$1 delay=$2 what=$3 n=1
  shift 3
  until "$@"; do
    if [ "$n" -ge "$tries" ]; then
      log "$what: failed after $n attempts"
      return 1
    fi
    log "$what: attempt $n failed; next in ${delay}s"
    sleep "$delay"
    n=$((n + 1))
    delay=$((delay * 2))
    if [ "$delay" -gt 300 ]; then delay=300; fi
  done
}

# step NAME CMD...: run CMD once per node lifetime.
step() {
  local name=$1
  shift
  if [ -e "$DONE_DIR/$name.done" ]; then
    log "$name: done before; skipping"
    return 0
  fi
  log "$name: starting"
  if [ -z "${API_READY:-}" ]; then
    retry 60 5 "wait for the API" api_ready
    API_READY=1
  fi
  "$@"
  touch "$DONE_DIR/$name.done"
  log "$name: done"
}

api_ready() { kubectl get --raw=/readyz >/dev/null; }

# images FILE: the baked manifest with every image through the registry override.
images() {
  if [ -n "$IMAGE_PREFIX" ]; then
    sed -E "s#^([[:space:]-]*image:[[:space:]]*)\"?([^\"[:space:]]*/)?([^/\"[:space:]]+)\"?[[:space:]]*\$#\\1$IMAGE_PREFIX/\\3#" "$1"
  else
    cat "$1"
  fi
}

render() {
  images "$1" | sed -e "s#\"Network\": \"10.244.0.0/16\"#\"Network\": \"$POD_CIDR_V4\"#" \
    -e "s#\"Type\": \"vxlan\"#\"Type\": \"$FLANNEL_BACKEND\"#" \
    -e "s#--healthz-port=8081#--healthz-port=$FLANNEL_HEALTH_PORT#" \
    -e "s#containerPort: 8081#containerPort: $FLANNEL_HEALTH_PORT#" > "$2"
}

apply_file() { kubectl apply --server-side --force-conflicts -f "$1"; }

calico() {
  local dir="$ASSET_DIR/calico/$CALICO_VERSION" pools
  if [ "${CALICO_SEPARATE_CRDS:-false}" = true ]; then
    retry 30 5 "apply the Calico operator CRDs" apply_file "$dir/operator-crds.yaml"
    retry 30 5 "wait for the Calico operator CRDs" kubectl wait --for condition=established --timeout=60s crd/installations.operator.tigera.io
  fi
  images "$dir/tigera-operator.yaml" > "$WORK_DIR/tigera-operator.yaml"
  retry 30 5 "apply tigera-operator" apply_file "$WORK_DIR/tigera-operator.yaml"
  retry 30 5 "wait for the Installation CRD" kubectl wait --for condition=established --timeout=60s crd/installations.operator.tigera.io
  pools="    - cidr: $POD_CIDR_V4
      encapsulation: $CALICO_ENCAPSULATION
      natOutgoing: $CALICO_NAT_OUTGOING
      blockSize: 26"
  if [ -n "$POD_CIDR_V6" ]; then
    pools="$pools
    - cidr: $POD_CIDR_V6
      encapsulation: $CALICO_ENCAPSULATION_V6
      natOutgoing: $CALICO_NAT_OUTGOING
      blockSize: 122"
  fi
  {
    echo "apiVersion: operator.tigera.io/v1"
    echo "kind: Installation"
    echo "metadata:"
    echo "  name: default"
    echo "spec:"
    if [ -n "$IMAGE_REGISTRY" ]; then
      echo "  registry: $IMAGE_REGISTRY/"
      echo "  imagePath: $IMAGE_PATH"
    fi
    echo "  calicoNetwork:"
    if [ "$MTU" -gt 0 ]; then echo "    mtu: $MTU"; fi
    echo "    ipPools:"
    echo "$pools"
  } > "$WORK_DIR/calico-installation.yaml"
  retry 30 5 "apply the calico Installation" apply_file "$WORK_DIR/calico-installation.yaml"
}

flannel() {
  render "$ASSET_DIR/flannel/$FLANNEL_VERSION/kube-flannel.yml" "$WORK_DIR/kube-flannel.yml"
  grep -q "\"Network\": \"$POD_CIDR_V4\"" "$WORK_DIR/kube-flannel.yml" || { log "flannel: the baked manifest has no net-conf.json to set the pod network in"; return 1; }
  grep -q -- "--healthz-port=$FLANNEL_HEALTH_PORT" "$WORK_DIR/kube-flannel.yml" || { log "flannel: the baked manifest has no --healthz-port=8081 to move"; return 1; }
  retry 30 5 "apply flannel" apply_file "$WORK_DIR/kube-flannel.yml"
}

cilium() {
  local args=(upgrade --install cilium "$ASSET_DIR/cilium/$CILIUM_VERSION/cilium-$CILIUM_VERSION.tgz"
    --namespace kube-system --set ipam.mode=kubernetes --set routingMode=tunnel --set tunnelProtocol=vxlan)
  if [ "$MTU" -gt 0 ]; then args+=(--set "mtu=$MTU"); fi
  if [ -n "$IMAGE_PREFIX" ]; then
    args+=(--set "image.repository=$IMAGE_PREFIX/cilium" --set image.useDigest=false
      --set "operator.image.repository=$IMAGE_PREFIX/operator" --set operator.image.useDigest=false)
  fi
  retry 30 5 "install cilium" helm "${args[@]}"
}

cni() {
  case "$CNI" in
    calico) calico ;;
    flannel) flannel ;;
    cilium) cilium ;;
    *) log "network plugin $CNI: nothing to apply" ;;
  esac
}

storage() {
  local src="$ASSET_DIR/openebs/$OPENEBS_VERSION/hostpath-operator.yaml" dst="$WORK_DIR/openebs-hostpath-operator.yaml"
  images "$src" | sed -E \
    -e "/name: OPENEBS_IO_BASE_PATH/{n;s#value: .*#value: \"$OPENEBS_BASE_PATH\"#}" \
    -e "s#(value: \")openebs/(linux-utils:[^\"]*\")#\1${IMAGE_PREFIX:-openebs}/\2#" > "$dst"
  grep -q "value: \"$OPENEBS_BASE_PATH\"" "$dst" || { log "storage: the baked manifest has no OPENEBS_IO_BASE_PATH to set"; return 1; }
  retry 30 5 "apply the OpenEBS local PV provisioner" apply_file "$dst"
  retry 30 5 "apply the OpenEBS StorageClass" apply_file "$KUBE_DIR/addons/openebs-local-storageclass.yaml"
}
nodelocaldns() { retry 30 5 "apply NodeLocalDNS" apply_file "$KUBE_DIR/addons/nodelocaldns.yaml"; }

addons() {
  local i name tries delay
  for ((i = 0; i < ${ADDON_COUNT:-0}; i++)); do
    name="ADDON_${i}_NAME"; tries="ADDON_${i}_RETRIES"; delay="ADDON_${i}_DELAY"
    local -n cmd="ADDON_${i}_CMD"
    step "addon-$i-${!name}" retry "${!tries}" "${!delay}" "addon ${!name}" "${cmd[@]}"
    unset -n cmd
  done
}

console_ready() { kubectl -n kubesphere-system rollout status deploy/ks-console --timeout=10s; }

progress() {
  if console_ready; then return 0; fi
  kubectl -n kubesphere-system logs deploy/ks-installer --tail=5 2>/dev/null | sed 's/^/ks-installer: /' || true
  return 1
}
etcd_client_secret() {
  local files=()
  if [ -n "$KS_ETCD_CA" ]; then files+=("--from-file=etcd-client-ca.crt=$KS_ETCD_CA"); fi
  if [ -n "$KS_ETCD_CERT" ]; then files+=("--from-file=etcd-client.crt=$KS_ETCD_CERT" "--from-file=etcd-client.key=$KS_ETCD_KEY"); fi
  kubectl create namespace kubesphere-monitoring-system --dry-run=client -o yaml | kubectl apply --server-side -f - &&
    kubectl -n kubesphere-monitoring-system create secret generic kube-etcd-client-certs "${files[@]}" --dry-run=client -o yaml |
    kubectl apply --server-side --force-conflicts -f -
}

kubesphere() {
  local dir="$ASSET_DIR/kubesphere/$KS_VERSION"
  if [ "$KS_HELM" = true ]; then
    local args=(upgrade --install ks-core "$dir/ks-core.tgz" --namespace kubesphere-system --create-namespace)
    if [ -n "$IMAGE_REGISTRY" ]; then args+=(--set "global.imageRegistry=$IMAGE_REGISTRY"); fi
    retry 30 5 "install ks-core" helm "${args[@]}"
  else
    if [ "$KS_ETCD_MONITORING" = true ]; then
      retry 30 5 "create the etcd client Secret" etcd_client_secret
    fi
    images "$dir/kubesphere-installer.yaml" > "$WORK_DIR/kubesphere-installer.yaml"
    retry 30 5 "apply ks-installer" apply_file "$WORK_DIR/kubesphere-installer.yaml"
    retry 30 5 "wait for the ClusterConfiguration CRD" kubectl wait --for condition=established --timeout=60s crd/clusterconfigurations.installer.kubesphere.io
    retry 30 5 "apply the ClusterConfiguration" apply_file "$KUBE_DIR/addons/kubesphere-cluster-configuration.yaml"
  fi
  retry "$KS_WAIT_TRIES" 30 "wait for the KubeSphere console" progress
  echo "$KS_CONSOLE_URL" > "$STATE_DIR/kubesphere-console-url"
  log "KubeSphere is ready: console at $KS_CONSOLE_URL"
}

case "${1:-}" in
  cni) step cni cni ;;
  nodelocaldns) step nodelocaldns nodelocaldns ;;
  storage) step storage storage ;;
  addons) addons ;;
  kubesphere) step kubesphere kubesphere ;;
  *) echo "usage: $0 cni|nodelocaldns|storage|addons|kubesphere" >&2; exit 2 ;;
esac
