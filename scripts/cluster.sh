#!/usr/bin/env bash
# Local Kubernetes control plane for ecs-operator dev, e2e tests and CI.
#
# Real kube-apiserver / kube-controller-manager / kube-scheduler / etcd built from the
# published Go modules (no Docker, no downloads other than the Go module proxy), with
# KWOK simulating the nodes and the kubelet, and metrics-server fed by KWOK's simulated usage.
#
#   scripts/cluster.sh build    build all binaries into the cache (idempotent, skips what is built),
#                               download the Gateway API module (its CRDs) into the Go module cache
#   scripts/cluster.sh up       start the cluster (builds first if needed), create nodes, stages, metrics,
#                               the Gateway API standard-channel CRDs (server-side apply, Established)
#   scripts/cluster.sh down     stop everything, keep the component logs
#   scripts/cluster.sh status   is it up? nodes with zone/arch/instance-type/capacity-provider labels
#   scripts/cluster.sh env      print `export KUBECONFIG=... PATH=...` (use: eval "$(scripts/cluster.sh env)")
#   scripts/cluster.sh logs [component]   list / print component logs of the running (or last) cluster
#   scripts/cluster.sh pid <component>     the pid of a running component (kube-apiserver, etcd, ...)
#   scripts/cluster.sh restart <component> [--flag=value ...]   stop a component (SIGTERM, then
#                               SIGKILL after 10 s) and start it again with the same command line
#                               (plus the extra flags), logging to the same file; waits until it
#                               serves again (the fault-injection tests use it)
#   scripts/cluster.sh compact   compact etcd's history up to its current revision (physical): every
#                               older resourceVersion is gone, so a watch resumed from one gets
#                               410 Gone and must relist (the fault-injection tests use it)
#   scripts/cluster.sh revive    start again every component that exited (from its recorded command line)
#   scripts/cluster.sh supervise revive exited components every second, as a kubelet does for
#                               static pods (kube-controller-manager and kube-scheduler exit when they
#                               lose their lease while the API server is down)
#
# Environment:
#   ECS_OPERATOR_CACHE   cache root (default ~/.cache/ecs-operator); binaries live in
#                        $ECS_OPERATOR_CACHE/<component>-<version>/bin, logs in $ECS_OPERATOR_CACHE/logs
#   ECS_CLUSTER_NAME     cluster name (default ecs-operator)
#   GO                   go binary (default: `go` on PATH, else /usr/local/go/bin/go)
#   ECS_KUBE_APISERVER_PORT  fixed apiserver port (default: a free port chosen by kwokctl)
#   ECS_CLUSTER_WAIT_METRICS=0  `up` does not wait for the first node metrics (saves ~20s)
#   ECS_CLUSTER_EXTRA_ARGS   extra component flags, space separated `component=flag=value` (each a
#                        kwokctl componentsPatches entry), e.g. "kube-controller-manager=kube-api-qps=500"
#   ECS_CLUSTER_AUDIT_POLICY  audit policy file: the apiserver writes <cluster logs>/audit.log
#   ECS_CLUSTER_EXTRA_NODES=K  K more plain nodes (ecs-bench-node-1..K: no taint, large cpu/memory)
#   ECS_CLUSTER_NODE_MAX_PODS  pods per extra node (default 110)
#
# Pinned versions: scripts/versions.env. Manifests applied by `up`: scripts/kwok/.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "${SCRIPT_DIR}/versions.env"
KWOK_MANIFESTS="${SCRIPT_DIR}/kwok"

CACHE="${ECS_OPERATOR_CACHE:-${HOME}/.cache/ecs-operator}"
CLUSTER_NAME="${ECS_CLUSTER_NAME:-ecs-operator}"

K8S_BIN="${CACHE}/k8s-${K8S_VERSION}/bin"
ETCD_BIN="${CACHE}/etcd-${ETCD_VERSION}/bin"
KWOK_BIN="${CACHE}/kwok-${KWOK_VERSION}/bin"
MS_BIN="${CACHE}/metrics-server-${METRICS_SERVER_VERSION}/bin"
HELM_BIN="${CACHE}/helm-${HELM_VERSION}/bin"

# kwokctl keeps its state (pki, kubeconfig, logs, pids) under $KWOK_WORKDIR/clusters/<name>.
export KWOK_WORKDIR="${CACHE}/kwok-workdir"
CLUSTER_DIR="${KWOK_WORKDIR}/clusters/${CLUSTER_NAME}"
KUBECONFIG_PATH="${CACHE}/kubeconfig-${CLUSTER_NAME}.yaml"
LOG_ROOT="${CACHE}/logs"

log() { printf '[cluster.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[cluster.sh] ERROR: %s\n' "$*" >&2; exit 1; }

need() {
  command -v "$1" >/dev/null 2>&1 || die "missing prerequisite '$1': $2"
}

find_go() {
  if [[ -n "${GO:-}" ]]; then
    command -v "${GO}" >/dev/null 2>&1 || die "GO=${GO} is not an executable"
  elif command -v go >/dev/null 2>&1; then
    GO="$(command -v go)"
  elif [[ -x /usr/local/go/bin/go ]]; then
    GO=/usr/local/go/bin/go
  else
    die "missing prerequisite 'go' (>= ${GO_MIN_VERSION}): install Go from the Go toolchain or put it on PATH / set GO=/path/to/go"
  fi
  local have
  have="$("${GO}" env GOVERSION)"; have="${have#go}"
  if [[ "$(printf '%s\n%s\n' "${GO_MIN_VERSION}" "${have}" | sort -V | head -n1)" != "${GO_MIN_VERSION}" ]]; then
    die "go ${have} is too old, need >= ${GO_MIN_VERSION}"
  fi
  # Never let the go command fetch another toolchain behind our back; static binaries.
  export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -buildvcs=false"
}

# ---------------------------------------------------------------------------------------------
# build
# ---------------------------------------------------------------------------------------------

# step NAME CMD...: run CMD, print elapsed seconds.
step() {
  local name="$1"; shift
  local t0=$SECONDS
  log "build ${name}: start"
  "$@"
  log "build ${name}: done in $((SECONDS - t0))s"
}

# is_built DIR FINGERPRINT BIN...: true if DIR/.stamp matches FINGERPRINT and all binaries exist.
is_built() {
  local dir="$1" fp="$2"; shift 2
  [[ -f "${dir}/.stamp" && "$(cat "${dir}/.stamp")" == "${fp}" ]] || return 1
  local b
  for b in "$@"; do [[ -x "${dir}/${b}" ]] || return 1; done
}

# Fingerprint of a build recipe: bump RECIPE when the way a component is built changes.
RECIPE=1
fingerprint() { printf 'recipe=%s %s go=%s' "${RECIPE}" "$*" "$("${GO}" env GOVERSION)"; }

build_k8s() {
  local top="${CACHE}/k8s-${K8S_VERSION}" src fp
  src="${top}/src"
  fp="$(fingerprint "k8s=${K8S_VERSION} staging=${K8S_STAGING_VERSION}")"
  if is_built "${K8S_BIN}" "${fp}" kube-apiserver kube-controller-manager kube-scheduler kubectl; then
    log "build kubernetes ${K8S_VERSION}: already built in ${K8S_BIN}"; return 0
  fi
  mkdir -p "${src}" "${K8S_BIN}"
  # The module's own go.mod lists every staging module (replaced by ./staging/... there, which
  # does not apply to a consumer): replace each with its published v0.<minor>.<patch>.
  local gomod staging
  gomod="$(cd "${src}" && "${GO}" mod download -json "k8s.io/kubernetes@${K8S_VERSION}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  [[ -f "${gomod}" ]] || die "could not download k8s.io/kubernetes@${K8S_VERSION}"
  staging="$(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\) => \./staging/.*#\1#p' "${gomod}" | sort -u)"
  [[ -n "${staging}" ]] || die "no staging replaces found in ${gomod}"
  log "k8s.io/kubernetes ${K8S_VERSION}: $(wc -w <<<"${staging}") staging modules -> ${K8S_STAGING_VERSION}"
  {
    echo "// Generated by ecs-operator scripts/cluster.sh: builds Kubernetes ${K8S_VERSION} binaries."
    echo "module ecs-operator.local/k8s-build"
    echo
    echo "go 1.26.0"
    echo
    echo "require k8s.io/kubernetes ${K8S_VERSION}"
    echo
    echo "replace ("
    local m
    for m in ${staging}; do echo "	${m} => ${m} ${K8S_STAGING_VERSION}"; done
    echo ")"
  } >"${src}/go.mod"
  cat >"${src}/tools.go" <<'EOF'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
EOF
  rm -f "${src}/go.sum"
  step "kubernetes: go mod tidy (module downloads)" bash -c "cd '${src}' && '${GO}' mod tidy"
  local minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  local ldflags="-s -w" p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X ${p}.gitVersion=${K8S_VERSION} -X ${p}.gitMajor=1 -X ${p}.gitMinor=${minor} -X ${p}.gitTreeState=clean"
  done
  step "kubernetes ${K8S_VERSION}: go build kube-apiserver kube-controller-manager kube-scheduler kubectl" \
    bash -c "cd '${src}' && '${GO}' build -trimpath -ldflags '${ldflags}' -o '${K8S_BIN}/' \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl"
  local v
  v="$("${K8S_BIN}/kube-apiserver" --version)"
  [[ "${v}" == "Kubernetes ${K8S_VERSION}" ]] || die "kube-apiserver reports '${v}', expected 'Kubernetes ${K8S_VERSION}'"
  echo "${fp}" >"${K8S_BIN}/.stamp"
}

build_etcd() {
  local top="${CACHE}/etcd-${ETCD_VERSION}" src fp
  src="${top}/src"
  fp="$(fingerprint "etcd=${ETCD_VERSION}")"
  if is_built "${ETCD_BIN}" "${fp}" etcd; then
    log "build etcd ${ETCD_VERSION}: already built in ${ETCD_BIN}"; return 0
  fi
  mkdir -p "${src}" "${ETCD_BIN}"
  # go.etcd.io/etcd/server/v3 has replace directives, so `go install pkg@v` refuses it: wrapper module.
  cat >"${src}/go.mod" <<EOF
// Generated by ecs-operator scripts/cluster.sh: builds etcd ${ETCD_VERSION}.
module ecs-operator.local/etcd-build

go 1.26.0

require go.etcd.io/etcd/server/v3 ${ETCD_VERSION}
EOF
  cat >"${src}/tools.go" <<'EOF'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
EOF
  rm -f "${src}/go.sum"
  step "etcd: go mod tidy (module downloads)" bash -c "cd '${src}' && '${GO}' mod tidy"
  step "etcd ${ETCD_VERSION}: go build" \
    bash -c "cd '${src}' && '${GO}' build -trimpath -ldflags '-s -w' -o '${ETCD_BIN}/etcd' go.etcd.io/etcd/server/v3"
  # Read the whole output first: `cmd | grep -q` under pipefail fails at random when grep
  # exits at its match before the command has written its last line (SIGPIPE).
  local reported
  reported="$("${ETCD_BIN}/etcd" --version)"
  [[ "${reported}" == *"etcd Version: ${ETCD_VERSION#v}"* ]] \
    || die "etcd reports '${reported%%$'\n'*}', expected ${ETCD_VERSION}"
  echo "${fp}" >"${ETCD_BIN}/.stamp"
}

build_kwok() {
  local fp
  fp="$(fingerprint "kwok=${KWOK_VERSION}")"
  if is_built "${KWOK_BIN}" "${fp}" kwok kwokctl; then
    log "build kwok ${KWOK_VERSION}: already built in ${KWOK_BIN}"; return 0
  fi
  mkdir -p "${KWOK_BIN}"
  step "kwok ${KWOK_VERSION}: go install kwok kwokctl" \
    env GOBIN="${KWOK_BIN}" "${GO}" install -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" \
      "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}" "sigs.k8s.io/kwok/cmd/kwokctl@${KWOK_VERSION}"
  echo "${fp}" >"${KWOK_BIN}/.stamp"
}

build_metrics_server() {
  local fp
  fp="$(fingerprint "metrics-server=${METRICS_SERVER_VERSION}")"
  if is_built "${MS_BIN}" "${fp}" metrics-server; then
    log "build metrics-server ${METRICS_SERVER_VERSION}: already built in ${MS_BIN}"; return 0
  fi
  mkdir -p "${MS_BIN}"
  local p=k8s.io/client-go/pkg/version
  step "metrics-server ${METRICS_SERVER_VERSION}: go install" \
    env GOBIN="${MS_BIN}" "${GO}" install -trimpath \
      -ldflags "-s -w -X ${p}.gitVersion=${METRICS_SERVER_VERSION} -X ${p}.gitTreeState=clean" \
      "sigs.k8s.io/metrics-server/cmd/metrics-server@${METRICS_SERVER_VERSION}"
  echo "${fp}" >"${MS_BIN}/.stamp"
}

build_helm() {
  local fp
  fp="$(fingerprint "helm=${HELM_VERSION}")"
  if is_built "${HELM_BIN}" "${fp}" helm; then
    log "build helm ${HELM_VERSION}: already built in ${HELM_BIN}"; return 0
  fi
  mkdir -p "${HELM_BIN}"
  # helm's Makefile stamps the Kubernetes version its client libraries target (for .Capabilities).
  local gomod kmin
  gomod="$("${GO}" mod download -json "helm.sh/helm/v3@${HELM_VERSION}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  kmin="$(sed -n 's#^[[:space:]]*k8s\.io/client-go v0\.\([0-9]*\)\..*#\1#p' "${gomod}" | head -n1)"
  local ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION} -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  if [[ -n "${kmin}" ]]; then
    ldflags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=${kmin}"
    ldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=${kmin}"
  fi
  step "helm ${HELM_VERSION}: go install" \
    env GOBIN="${HELM_BIN}" "${GO}" install -trimpath -ldflags "${ldflags}" "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
  echo "${fp}" >"${HELM_BIN}/.stamp"
}

# Serialize build/up/down (parallel test runners may call `up` at the same time). The lock is fd 9;
# every command that leaves processes running (kwokctl create) is started with 9>&-, or the
# cluster's processes would inherit the fd and hold the lock for as long as they run.
LOCK_FILE="${CACHE}/locks/${CLUSTER_NAME}.lock"
with_lock() {
  if command -v flock >/dev/null 2>&1; then
    mkdir -p "$(dirname "${LOCK_FILE}")"
    exec 9>"${LOCK_FILE}"
    flock -w 900 9 || die "another cluster.sh build/up/down holds ${LOCK_FILE} (waited 900s)"
  fi
  "$@"
}

cmd_build() {
  find_go
  local t0=$SECONDS
  log "building into ${CACHE} with $("${GO}" env GOVERSION)"
  build_etcd
  build_kwok
  build_metrics_server
  build_helm
  build_k8s
  build_gateway_api
  log "build: all done in $((SECONDS - t0))s"
}

# ---------------------------------------------------------------------------------------------
# cluster lifecycle
# ---------------------------------------------------------------------------------------------
KUBECTL="${K8S_BIN}/kubectl"
KWOKCTL="${KWOK_BIN}/kwokctl"

kc() { "${KUBECTL}" --kubeconfig "${KUBECONFIG_PATH}" "$@"; }
kwokctl_() { "${KWOKCTL}" --name "${CLUSTER_NAME}" "$@"; }

cluster_exists() { [[ -f "${CLUSTER_DIR}/kwok.yaml" ]]; }

# PIDs of the cluster's component processes: kwokctl's pid files (no trailing newline), plus any
# process still running a binary from this cluster's private bin dir.
cluster_pids() {
  local f pid
  {
    for f in "${CLUSTER_DIR}"/pids/*.pid; do
      [[ -f "${f}" ]] || continue
      pid="$(<"${f}")"; pid="${pid//[!0-9]/}"
      [[ -n "${pid}" ]] && echo "${pid}"
    done
    pgrep -f "^${CLUSTER_DIR}/bin/" 2>/dev/null || true
  } | sort -un
}

# Healthy = every component process alive and the apiserver answers /readyz.
cluster_healthy() {
  cluster_exists || return 1
  [[ -f "${KUBECONFIG_PATH}" && -x "${KUBECTL}" ]] || return 1
  local pid n=0
  for pid in $(cluster_pids); do
    kill -0 "${pid}" 2>/dev/null || return 1
    n=$((n + 1))
  done
  [[ ${n} -gt 0 ]] || return 1
  kc get --raw=/readyz --request-timeout=5s >/dev/null 2>&1
}

# wait_for DESCRIPTION TIMEOUT_SECONDS CMD...: retry CMD every second until it succeeds.
wait_for() {
  local what="$1" timeout="$2"; shift 2
  local t0=$SECONDS
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS - t0 >= timeout)); then
      log "timed out after ${timeout}s waiting for ${what}; last attempt:"
      "$@" >&2 || true
      return 1
    fi
    sleep 1
  done
  log "${what}: ok after $((SECONDS - t0))s"
}

metrics_server_manifests() {
  local dir
  dir="$("${GO}" mod download -json "sigs.k8s.io/metrics-server@${METRICS_SERVER_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -d "${dir}/manifests/base" ]] || die "metrics-server manifests not found in the module cache (${dir}/manifests/base)"
  echo "${dir}/manifests/base"
}

# metrics-server v0.9.0 panics at start-up when the apiserver does not answer yet, and kwokctl
# starts all components at once: start it through a launcher that waits for /readyz first.
write_metrics_server_launcher() {
  local launcher="${KWOK_WORKDIR}/launchers/metrics-server"
  mkdir -p "$(dirname "${launcher}")"
  cat >"${launcher}.tmp" <<LAUNCHER
#!/usr/bin/env bash
# Generated by ecs-operator scripts/cluster.sh: wait (up to 60s) until the apiserver named in
# --kubeconfig answers /readyz, then exec metrics-server with the same arguments and PID.
kubeconfig=""
for a in "\$@"; do case "\$a" in --kubeconfig=*) kubeconfig="\${a#--kubeconfig=}" ;; esac; done
if [[ -n "\$kubeconfig" ]]; then
  for _ in \$(seq 1 120); do
    "${KUBECTL}" --kubeconfig "\$kubeconfig" get --raw=/readyz --request-timeout=2s >/dev/null 2>&1 && break
    sleep 0.5
  done
fi
exec "${MS_BIN}/metrics-server" "\$@"
LAUNCHER
  chmod 755 "${launcher}.tmp"
  mv "${launcher}.tmp" "${launcher}"
  echo "${launcher}"
}

render_kwokctl_config() {
  local out="$1" ms launcher
  ms="$(metrics_server_manifests)"
  launcher="$(write_metrics_server_launcher)"
  mkdir -p "$(dirname "${out}")"
  sed -e "s#@METRICS_SERVER_MANIFESTS@#${ms}#g" \
      -e "s#@METRICS_SERVER_LAUNCHER@#${launcher}#g" \
      -e "s#@KWOK_CACHE_DIR@#${CACHE}/kwok-cache#g" \
      -e "s#@K8S_BIN@#${K8S_BIN}#g" \
      -e "s#@ETCD_BIN@#${ETCD_BIN}#g" \
      -e "s#@KWOK_BIN@#${KWOK_BIN}#g" \
      -e "s#@MS_BIN@#${MS_BIN}#g" \
      "${KWOK_MANIFESTS}/kwokctl.yaml" >"${out}"
  # ECS_CLUSTER_EXTRA_ARGS: one more componentsPatches entry each (kwokctl v0.8.0's --extra-args
  # panics when two components get several flags each).
  local a component flag
  for a in ${ECS_CLUSTER_EXTRA_ARGS:-}; do
    component="${a%%=*}"; flag="${a#*=}"
    [[ "${flag}" == *=* ]] || die "ECS_CLUSTER_EXTRA_ARGS: '${a}' is not component=flag=value"
    printf -- '- name: %s\n  extraArgs:\n  - key: %s\n    value: "%s"\n' "${component}" "${flag%%=*}" "${flag#*=}" >>"${out}"
  done
  if grep -v '^[[:space:]]*#' "${out}" | grep -q '@[A-Z_]*@'; then die "unrendered placeholder in ${out}"; fi
}

# Copy the component logs (and kwokctl's config) out of the cluster dir before it is deleted.
save_logs() {
  [[ -d "${CLUSTER_DIR}/logs" ]] || return 0
  local dest
  dest="${LOG_ROOT}/${CLUSTER_NAME}-$(date +%Y%m%d-%H%M%S)"
  mkdir -p "${dest}"
  cp -a "${CLUSTER_DIR}/logs/." "${dest}/" 2>/dev/null || true
  cp -a "${CLUSTER_DIR}/kwok.yaml" "${dest}/kwokctl-config.yaml" 2>/dev/null || true
  ln -sfn "${dest}" "${LOG_ROOT}/${CLUSTER_NAME}-last"
  # keep the 10 newest log dirs per cluster name
  ls -1dt "${LOG_ROOT}/${CLUSTER_NAME}"-2* 2>/dev/null | tail -n +11 | xargs -r rm -rf
  log "component logs saved in ${dest} (also ${LOG_ROOT}/${CLUSTER_NAME}-last)"
}

# Listening TCP sockets owned by PIDS (space separated), one line each.
listening_of() {
  local pids="$1" p out=""
  [[ -n "${pids// /}" ]] || return 0
  for p in ${pids}; do
    out+="$(ss -Hltnp 2>/dev/null | grep -E "pid=${p}([^0-9]|$)" || true)"
  done
  [[ -n "${out}" ]] && echo "${out}"
  return 0
}

teardown() {
  local pids p alive out
  # No revival from here on (a running `supervise` stops reviving once the records are gone).
  rm -rf "${CLUSTER_DIR}/argv"
  pids="$(cluster_pids | tr '\n' ' ')"
  save_logs
  if [[ -x "${KWOKCTL}" ]]; then
    if ! out="$(kwokctl_ delete cluster --kubeconfig "${KUBECONFIG_PATH}" 2>&1)"; then
      log "kwokctl delete cluster failed (cleaning up by pid):"
      echo "${out}" >&2
    fi
  fi
  # Anything still alive: end exactly the PIDs of this cluster (TERM, then KILL after 15s).
  alive="$(alive_of "${pids}")"
  if [[ -n "${alive}" ]]; then
    log "still running after kwokctl delete: ${alive}; sending SIGTERM"
    for p in ${alive}; do kill "${p}" 2>/dev/null || true; done
    local i
    for i in $(seq 1 15); do
      alive="$(alive_of "${alive}")"
      [[ -z "${alive}" ]] && break
      sleep 1
    done
    if [[ -n "${alive}" ]]; then
      log "still running after 15s: ${alive}; sending SIGKILL"
      for p in ${alive}; do kill -9 "${p}" 2>/dev/null || true; done
      sleep 1
    fi
  fi
  rm -rf "${CLUSTER_DIR}"
  rm -f "${KUBECONFIG_PATH}"
  # Verify: no process and no listening port left.
  local ports
  alive="$(alive_of "${pids}")"
  ports="$(listening_of "${pids}")"
  if [[ -n "${alive}" || -n "${ports}" ]]; then
    die "teardown incomplete: alive pids: ${alive:-none}; listening: ${ports:-none}"
  fi
  if [[ -n "${pids// /}" ]]; then
    log "stopped pids: ${pids}- none alive, no listening port left"
  fi
  return 0
}

# The PIDs of the list (space separated) that are still alive.
alive_of() {
  local p out=""
  for p in $1; do
    # a zombie is gone for our purposes
    if kill -0 "${p}" 2>/dev/null && [[ "$(ps -o stat= -p "${p}" 2>/dev/null)" != Z* ]]; then out+="${p} "; fi
  done
  echo "${out% }"
}

# The Gateway API's standard-channel CRDs (HTTPRoute for LINEAR / CANARY traffic weights), from
# the pinned sigs.k8s.io/gateway-api module (config/crd/standard/*.yaml, every CRD of the
# channel; its ValidatingAdmissionPolicy that guards upgrades is not applied). `build` downloads
# the module into the Go module cache; `up` reads it from there with GOPROXY=off (no network).
GATEWAY_API_REQUIRED_CRDS="gatewayclasses gateways httproutes referencegrants"

# gateway_api_dir [PROXY]: the module's config/crd/standard directory. PROXY=off: cache only.
gateway_api_dir() {
  local proxy="${1:-}" out dir
  if ! out="$(GOPROXY="${proxy:-$("${GO}" env GOPROXY)}" "${GO}" mod download -json "sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION}" 2>&1)"; then
    local err
    err="$(sed -n 's/^[[:space:]]*"Error": "\(.*\)"$/\1/p' <<<"${out}")"
    err="${err:-${out//$'\n'/ }}"
    if [[ "${proxy}" == off ]]; then
      die "sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION} is not in the Go module cache ($("${GO}" env GOMODCACHE)): run scripts/cluster.sh build (${err})"
    fi
    die "could not download sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION} from the Go module proxy: ${err}"
  fi
  dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"${out}")/config/crd/standard"
  local c
  for c in ${GATEWAY_API_REQUIRED_CRDS}; do
    [[ -f "${dir}/gateway.networking.k8s.io_${c}.yaml" ]] \
      || die "sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION} has no standard-channel CRD ${c} (${dir}/gateway.networking.k8s.io_${c}.yaml)"
  done
  echo "${dir}"
}

build_gateway_api() {
  local dir
  dir="$(gateway_api_dir)" || exit 1
  log "gateway-api ${GATEWAY_API_VERSION}: standard-channel CRDs in ${dir}"
}

# The CRD files of the standard channel (one CRD each), space separated.
gateway_api_crd_files() {
  local dir f files=""
  dir="$(gateway_api_dir off)" || exit 1
  for f in "${dir}"/gateway.networking.k8s.io_*.yaml; do
    grep -q '^kind: CustomResourceDefinition$' "${f}" && files+="${f} "
  done
  echo "${files% }"
}

# crd/<plural>.gateway.networking.k8s.io for every standard-channel CRD file.
gateway_api_crd_names() {
  local f n names="" files
  files="$(gateway_api_crd_files)" || exit 1
  for f in ${files}; do
    n="$(basename "${f}" .yaml)"; n="${n#gateway.networking.k8s.io_}"
    names+="crd/${n}.gateway.networking.k8s.io "
  done
  echo "${names% }"
}

apply_gateway_api_crds() {
  local files f args=() out
  files="$(gateway_api_crd_files)" || exit 1
  for f in ${files}; do args+=(-f "${f}"); done
  # Server-side: the HTTPRoute CRD is too large for client-side apply's last-applied annotation.
  if ! out="$(kc apply --server-side --force-conflicts --field-manager=ecs-operator-cluster-sh "${args[@]}" 2>&1)"; then
    echo "${out}" >&2
    die "applying the Gateway API ${GATEWAY_API_VERSION} CRDs failed (see above)"
  fi
  log "Gateway API ${GATEWAY_API_VERSION} standard-channel CRDs applied ($(wc -w <<<"${files}") CRDs)"
}

apply_manifests() {
  apply_gateway_api_crds
  # Stages first: nodes created before their stages would sit NotReady until the next event.
  kc apply -f "${KWOK_MANIFESTS}/stages-default.yaml" -f "${KWOK_MANIFESTS}/stages-simulate.yaml" >/dev/null
  kc apply -f "${KWOK_MANIFESTS}/nodes.yaml" -f "${KWOK_MANIFESTS}/node-agent.yaml" >/dev/null
  local i n="${ECS_CLUSTER_EXTRA_NODES:-0}"
  if [[ "${n}" -gt 0 ]]; then
    for ((i = 1; i <= n; i++)); do
      sed -e "s/@NAME@/ecs-bench-node-${i}/g" -e "s/@MAX_PODS@/${ECS_CLUSTER_NODE_MAX_PODS:-110}/g" \
        "${KWOK_MANIFESTS}/extra-node.yaml"
    done | kc apply -f - >/dev/null
  fi
}

wait_ready() {
  wait_for "apiserver /readyz" 60 kc get --raw=/readyz || return 1
  wait_for "nodes Ready" 60 kc wait --for=condition=Ready node --all --timeout=2s || return 1
  wait_for "default ServiceAccount" 60 kc get serviceaccount default -n default || return 1
  local gw_crds
  gw_crds="$(gateway_api_crd_names)" || exit 1
  # shellcheck disable=SC2086 # one argument per CRD
  wait_for "Gateway API CRDs Established ($(wc -w <<<"${gw_crds}") CRDs)" 60 \
    kc wait --for=condition=Established ${gw_crds} --timeout=2s || return 1
  wait_for "metrics API (v1beta1.metrics.k8s.io Available)" 90 \
    kc wait --for=condition=Available apiservice/v1beta1.metrics.k8s.io --timeout=2s || return 1
  wait_for "node agents (DaemonSet kube-system/kwok-node-agent)" 60 \
    kc rollout status daemonset/kwok-node-agent -n kube-system --timeout=2s || return 1
  # metrics-server reports a node after two scrapes (10s resolution); ECS_CLUSTER_WAIT_METRICS=0 skips this.
  if [[ "${ECS_CLUSTER_WAIT_METRICS:-1}" != 0 ]]; then
    wait_for "node metrics (kubectl top node)" 90 kc top node ecs-node-a-m5 || return 1
  fi
}

# One attempt: kwokctl create, kubeconfig, manifests, readiness. Fails if a component died.
create_cluster() {
  local conf="$1" create_args=() t1=$SECONDS
  [[ -n "${ECS_KUBE_APISERVER_PORT:-}" ]] && create_args=(--kube-apiserver-port "${ECS_KUBE_APISERVER_PORT}")
  [[ -n "${ECS_CLUSTER_AUDIT_POLICY:-}" ]] && create_args+=(--kube-audit-policy "${ECS_CLUSTER_AUDIT_POLICY}")
  log "creating cluster '${CLUSTER_NAME}' (kwokctl ${KWOK_VERSION}, Kubernetes ${K8S_VERSION}, etcd ${ETCD_VERSION})"
  if ! "${KWOKCTL}" --config "${conf}" create cluster --name "${CLUSTER_NAME}" --runtime binary \
      --kubeconfig "" --wait 120s --timeout 300s "${create_args[@]}" >&2 9>&-; then
    log "kwokctl create cluster failed"
    return 1
  fi
  log "control plane started in $((SECONDS - t1))s"
  kwokctl_ get kubeconfig >"${KUBECONFIG_PATH}.tmp" || return 1
  chmod 600 "${KUBECONFIG_PATH}.tmp"
  mv "${KUBECONFIG_PATH}.tmp" "${KUBECONFIG_PATH}"
  apply_manifests || return 1
  wait_ready || return 1
  if ! cluster_healthy; then
    log "a component is not running:"
    print_components >&2
    return 1
  fi
}

cmd_up() {
  local t0=$SECONDS
  need ss "iproute2 (ss) is needed to verify ports on 'down'"
  cmd_build
  if cluster_healthy; then
    log "cluster '${CLUSTER_NAME}' is already running: re-applying manifests"
    apply_manifests
    wait_ready
  else
    if cluster_exists; then
      log "cluster '${CLUSTER_NAME}' exists but is not healthy: recreating it"
      teardown
    fi
    local conf="${KWOK_WORKDIR}/${CLUSTER_NAME}-kwokctl.yaml"
    render_kwokctl_config "${conf}"
    local attempt
    for attempt in 1 2 3; do
      if create_cluster "${conf}"; then break; fi
      if [[ ${attempt} -eq 3 ]]; then
        save_logs
        die "cluster '${CLUSTER_NAME}' did not become ready in 3 attempts (logs saved; 'cluster.sh down' to clean up)"
      fi
      log "attempt ${attempt} failed: tearing down (logs are kept) and retrying"
      teardown
    done
  fi
  record_components
  log "cluster '${CLUSTER_NAME}' is up in $((SECONDS - t0))s ($(kc get nodes --no-headers | wc -l) nodes)"
  log "KUBECONFIG=${KUBECONFIG_PATH}   (eval \"\$(${BASH_SOURCE[0]} env)\")"
  echo "${KUBECONFIG_PATH}"
}

cmd_down() {
  local t0=$SECONDS
  if ! cluster_exists; then
    log "cluster '${CLUSTER_NAME}' is not running"
    rm -f "${KUBECONFIG_PATH}"
    return 0
  fi
  need ss "iproute2 (ss) is needed to verify that no port is left listening"
  teardown
  log "cluster '${CLUSTER_NAME}' is down ($((SECONDS - t0))s)"
}

print_components() {
  local f pid
  for f in "${CLUSTER_DIR}"/pids/*.pid; do
    [[ -f "${f}" ]] || continue
    pid="$(<"${f}")"; pid="${pid//[!0-9]/}"
    printf '  %-24s pid %-8s %s\n' "$(basename "${f}" .pid)" "${pid}" \
      "$(kill -0 "${pid}" 2>/dev/null && echo running || echo DEAD)"
  done
}

cmd_status() {
  if ! cluster_exists; then
    echo "cluster '${CLUSTER_NAME}': down"
    return 1
  fi
  if ! cluster_healthy; then
    echo "cluster '${CLUSTER_NAME}': NOT HEALTHY (exists in ${CLUSTER_DIR}; 'cluster.sh up' recreates it, 'cluster.sh logs' shows the logs)"
    print_components
    return 1
  fi
  echo "cluster '${CLUSTER_NAME}': up   KUBECONFIG=${KUBECONFIG_PATH}   server=$(kc config view -o jsonpath='{.clusters[0].cluster.server}')"
  echo "versions: kubernetes ${K8S_VERSION}, etcd ${ETCD_VERSION}, kwok ${KWOK_VERSION}, metrics-server ${METRICS_SERVER_VERSION}, gateway-api ${GATEWAY_API_VERSION}"
  print_components
  echo
  kc get nodes -L topology.kubernetes.io/zone -L node.kubernetes.io/instance-type -L kubernetes.io/arch \
    -L ecs-operator.io/capacity-provider
  echo
  kc get apiservice v1beta1.metrics.k8s.io
}

cmd_env() {
  echo "export KUBECONFIG=${KUBECONFIG_PATH}"
  echo "export PATH=${K8S_BIN}:${HELM_BIN}:${KWOK_BIN}:\$PATH"
}

cmd_logs() {
  local dir
  if [[ -d "${CLUSTER_DIR}/logs" ]]; then
    dir="${CLUSTER_DIR}/logs"
  elif [[ -d "${LOG_ROOT}/${CLUSTER_NAME}-last" ]]; then
    dir="$(readlink -f "${LOG_ROOT}/${CLUSTER_NAME}-last")"
  else
    die "no logs for cluster '${CLUSTER_NAME}'"
  fi
  if [[ $# -eq 0 ]]; then
    echo "logs in ${dir}:"
    ls -l "${dir}"
  else
    local f="${dir}/$1.log"
    [[ -f "${f}" ]] || f="${dir}/$1"
    [[ -f "${f}" ]] || die "no log '$1' in ${dir}"
    cat "${f}"
  fi
}

component_pid() {
  local f="${CLUSTER_DIR}/pids/$1.pid" pid
  [[ -f "${f}" ]] || die "no component '$1' in cluster '${CLUSTER_NAME}' (see: cluster.sh status)"
  pid="$(<"${f}")"; pid="${pid//[!0-9]/}"
  kill -0 "${pid}" 2>/dev/null || die "component '$1' (pid ${pid}) is not running"
  echo "${pid}"
}

cmd_pid() {
  [[ $# -eq 1 ]] || die "usage: cluster.sh pid <component>"
  component_pid "$1"
}

# Serving again: the apiserver answers /readyz; etcd answers /health; others are alive 2 s later.
wait_serving() {
  local name=$1 pid=$2 i
  for i in $(seq 1 120); do
    kill -0 "${pid}" 2>/dev/null || die "${name} exited after its restart (log: ${CLUSTER_DIR}/logs/${name}.log)"
    case "${name}" in
      kube-apiserver) kc get --raw /readyz >/dev/null 2>&1 && return 0 ;;
      etcd) curl -fsS "http://127.0.0.1:$(etcd_client_port)/health" 2>/dev/null | grep -q '"health":"true"' && return 0 ;;
      *) ((i >= 4)) && return 0 ;;
    esac
    sleep 0.5
  done
  die "${name} did not serve within 60 s of its restart"
}

etcd_client_port() {
  tr '\0' '\n' <"/proc/$(component_pid etcd)/cmdline" | sed -n 's|^--listen-client-urls=http://127.0.0.1:||p'
}

# Each component's command line and working directory, recorded while it runs (`up` records them),
# so that a component can be started again after it stopped: by `restart`, or by `supervise` when
# it exited on its own (kube-controller-manager and kube-scheduler exit when they lose their
# leader lease, e.g. while the API server is down; on a real node the kubelet restarts them).
record_components() {
  local f name pid
  mkdir -p "${CLUSTER_DIR}/argv"
  for f in "${CLUSTER_DIR}"/pids/*.pid; do
    [[ -f "${f}" ]] || continue
    name="$(basename "${f}" .pid)"
    [[ -f "${CLUSTER_DIR}/argv/${name}.argv" ]] && continue
    pid="$(<"${f}")"; pid="${pid//[!0-9]/}"
    kill -0 "${pid}" 2>/dev/null || continue
    cp "/proc/${pid}/cmdline" "${CLUSTER_DIR}/argv/${name}.argv"
    readlink "/proc/${pid}/cwd" >"${CLUSTER_DIR}/argv/${name}.cwd"
  done
}

# start_component NAME [--flag=value ...]: from its recorded command line; a flag given again
# replaces the recorded one (same --name=).
start_component() {
  local name=$1 a extra replaced cwd
  shift
  [[ -f "${CLUSTER_DIR}/argv/${name}.argv" ]] || die "no recorded command line for '${name}'"
  local -a argv=() kept=()
  mapfile -d '' -t argv <"${CLUSTER_DIR}/argv/${name}.argv"
  for a in "${argv[@]}"; do
    replaced=0
    for extra in "$@"; do [[ "${a}" == --* && "${a%%=*}" == "${extra%%=*}" ]] && replaced=1; done
    ((replaced)) || kept+=("${a}")
  done
  cwd="$(<"${CLUSTER_DIR}/argv/${name}.cwd")"
  (cd "${cwd}" && exec setsid "${kept[@]}" "$@" </dev/null >>"${CLUSTER_DIR}/logs/${name}.log" 2>&1) &
  printf '%s' "$!" >"${CLUSTER_DIR}/pids/${name}.pid"
  echo "$!"
}

cmd_restart() {
  [[ $# -ge 1 ]] || die "usage: cluster.sh restart <component> [--flag=value ...]"
  local name=$1 pid new i t0=$SECONDS
  shift
  record_components
  pid="$(component_pid "${name}")"
  kill -TERM "${pid}"
  for i in $(seq 1 100); do kill -0 "${pid}" 2>/dev/null || break; sleep 0.1; done
  kill -0 "${pid}" 2>/dev/null && { kill -KILL "${pid}"; sleep 0.5; }
  new="$(start_component "${name}" "$@")"
  wait_serving "${name}" "${new}"
  log "restarted ${name}: pid ${pid} -> ${new}, serving after $((SECONDS - t0))s"
}

# etcd's v3 HTTP gateway: the current revision (from any range's response header), then a
# physical compaction up to it.
cmd_compact() {
  local url rev
  url="http://127.0.0.1:$(etcd_client_port)"
  rev="$(curl -fsS -X POST "${url}/v3/kv/range" -d '{"key":"AA==","limit":1}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')" \
    || die "etcd at ${url} did not answer a range request"
  curl -fsS -X POST "${url}/v3/kv/compaction" -d "{\"revision\":\"${rev}\",\"physical\":true}" >/dev/null \
    || die "etcd at ${url} refused the compaction to revision ${rev}"
  log "compacted etcd to revision ${rev}"
  echo "${rev}"
}

# Start again every recorded component that is not running; print what was started.
cmd_revive() {
  local f name pid
  record_components
  for f in "${CLUSTER_DIR}"/argv/*.argv; do
    [[ -f "${f}" ]] || continue
    name="$(basename "${f}" .argv)"
    pid="$(cat "${CLUSTER_DIR}/pids/${name}.pid" 2>/dev/null || true)"; pid="${pid//[!0-9]/}"
    if [[ -z "${pid}" ]] || ! kill -0 "${pid}" 2>/dev/null; then
      log "${name} (pid ${pid:-none}) is not running: starting it again (pid $(start_component "${name}"))"
    fi
  done
}

# What a kubelet does for static pods: revive exited components every second, until the cluster
# is torn down (or this process is stopped).
cmd_supervise() {
  record_components
  while cluster_exists && [[ -d "${CLUSTER_DIR}/argv" ]]; do
    cmd_revive
    sleep 1
  done
}

# ---------------------------------------------------------------------------------------------
# dispatch
# ---------------------------------------------------------------------------------------------
usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

main() {
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "${cmd}" in
    build) with_lock cmd_build "$@" ;;
    up) with_lock cmd_up "$@" ;;
    down) with_lock cmd_down "$@" ;;
    status) cmd_status "$@" ;;
    env) cmd_env "$@" ;;
    logs) cmd_logs "$@" ;;
    pid) cmd_pid "$@" ;;
    restart) cmd_restart "$@" ;;
    revive) cmd_revive "$@" ;;
    compact) cmd_compact "$@" ;;
    supervise) cmd_supervise "$@" ;;
    -h|--help|help) usage ;;
    *) usage >&2; die "unknown subcommand '${cmd}'" ;;
  esac
}

main "$@"
