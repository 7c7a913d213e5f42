#!/usr/bin/env bash
# Flux end to end on the local cluster: Flux's own source-controller, kustomize-controller and
# helm-controller, built from their published Go modules (pinned in scripts/versions.env:
# source-controller v1.9.6, kustomize-controller v1.9.6, helm-controller v1.6.4; cached under
# ~/.cache/ecs-operator), run as processes against the cluster in KUBECONFIG, with a Git
# repository served over loopback (git http-backend) and a Helm repository (helm repo index,
# python3 -m http.server) on 127.0.0.1.
#
#   scripts/flux.sh build    build the controllers (idempotent)
#   scripts/flux.sh up       build, install their CRDs (from the modules' config/crd), start the
#                            Git and Helm servers and the controllers
#   scripts/flux.sh down     stop what `up` started (by pid), delete the test objects
#   scripts/flux.sh test     up, the end-to-end tests, down; prints "N passed, N failed"
#   scripts/flux.sh status   what runs, with versions and ports
#
# `test` needs a cluster (scripts/cluster.sh up; eval "$(scripts/cluster.sh env)") with the
# ecs-operator CRDs and a running operator that watches the namespaces flux-e2e and flux-e2e-helm
# (README, "Run the operator"). HelmReleases (helm.toolkit.fluxcd.io/v2): the repository's chart
# (charts/ecs-operator, from the loopback Helm repository) installed with its operator Deployment
# on a KWOK node (a simulated pod: no second operator runs beside the one under test), and a chart
# of the ECS samples (made from config/samples in the Git repository) whose HelmRelease is Ready
# only once the ECS Service is steady (helm-controller's kstatus wait, with healthCheckExprs),
# through an install, an upgrade to a new image, and an upgrade to a failing image (UpgradeFailed).
#
# Environment: ECS_OPERATOR_CACHE (default ~/.cache/ecs-operator), ECS_CLUSTER_NAME (state dir
# name), KUBECONFIG, FLUX_KEEP=1 (`test` leaves everything running), GO.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/.." && pwd)"
# shellcheck source=versions.env
source "${SCRIPT_DIR}/versions.env"
CACHE="${ECS_OPERATOR_CACHE:-${HOME}/.cache/ecs-operator}"
CLUSTER_NAME="${ECS_CLUSTER_NAME:-ecs-operator}"
STATE="${CACHE}/flux-state-${CLUSTER_NAME}"
SC_BIN="${CACHE}/flux-source-controller-${FLUX_SOURCE_CONTROLLER_VERSION}/bin/source-controller"
KC_BIN="${CACHE}/flux-kustomize-controller-${FLUX_KUSTOMIZE_CONTROLLER_VERSION}/bin/kustomize-controller"
HC_BIN="${CACHE}/flux-helm-controller-${FLUX_HELM_CONTROLLER_VERSION}/bin/helm-controller"
FLUX_NS=flux-system
TEST_NS=flux-e2e
# The HelmReleases' target namespace (created by helm-controller: install.createNamespace).
HELM_NS=flux-e2e-helm

log() { printf '[flux.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[flux.sh] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# build
# ---------------------------------------------------------------------------------------------
find_go() {
  if [[ -n "${GO:-}" ]]; then :
  elif command -v go >/dev/null 2>&1; then GO="$(command -v go)"
  elif [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go
  else die "Go >= ${GO_MIN_VERSION} is needed to build the Flux controllers"; fi
  export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-buildvcs=false"
}

# build_controller NAME VERSION: github.com/fluxcd/NAME@VERSION -> $CACHE/flux-NAME-VERSION/bin/NAME.
# The module's go.mod replaces github.com/fluxcd/NAME/api with ./api, a nested module that the
# published module zip does not contain (so `go install NAME@VERSION` refuses it): build in a copy
# of the module with that one replace pointed at the published api module of the same version.
build_controller() {
  local name="$1" version="$2" replaces="$3" top bin src dir fp r
  top="${CACHE}/flux-${name}-${version}"; bin="${top}/bin"; src="${top}/src"
  fp="recipe=1 ${name}=${version} replaces=${replaces} go=$("${GO}" env GOVERSION)"
  if [[ -x "${bin}/${name}" && -f "${bin}/.stamp" && "$(cat "${bin}/.stamp")" == "${fp}" ]]; then
    log "build ${name} ${version}: already built in ${bin}"; return 0
  fi
  local t0=$SECONDS
  log "build ${name} ${version}: go mod download"
  dir="$("${GO}" mod download -json "github.com/fluxcd/${name}@${version}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -f "${dir}/go.mod" ]] || die "could not download github.com/fluxcd/${name}@${version}"
  rm -rf "${src}"; mkdir -p "${top}" "${bin}"
  cp -r "${dir}" "${src}"; chmod -R u+w "${src}"
  (cd "${src}" && "${GO}" mod edit -replace "github.com/fluxcd/${name}/api=github.com/fluxcd/${name}/api@${version}" \
    && "${GO}" mod download "github.com/fluxcd/${name}/api@${version}")
  for r in ${replaces}; do
    log "build ${name} ${version}: replace ${r} (see scripts/versions.env)"
    (cd "${src}" && "${GO}" mod edit -replace "${r}")
  done
  log "build ${name} ${version}: go build (nice -n 10; several minutes on 2 cores)"
  (cd "${src}" && nice -n 10 "${GO}" build -mod=mod -trimpath -ldflags "-s -w" -o "${bin}/${name}.tmp" .) \
    || die "go build ${name} ${version} failed"
  mv "${bin}/${name}.tmp" "${bin}/${name}"
  echo "${fp}" >"${bin}/.stamp"
  log "build ${name} ${version}: done in $((SECONDS - t0))s"
}

cmd_build() {
  find_go
  build_controller kustomize-controller "${FLUX_KUSTOMIZE_CONTROLLER_VERSION}" "${FLUX_KUSTOMIZE_CONTROLLER_REPLACES}"
  build_controller source-controller "${FLUX_SOURCE_CONTROLLER_VERSION}" "${FLUX_SOURCE_CONTROLLER_REPLACES}"
  build_controller helm-controller "${FLUX_HELM_CONTROLLER_VERSION}" "${FLUX_HELM_CONTROLLER_REPLACES}"
}

# ---------------------------------------------------------------------------------------------
# up / down
# ---------------------------------------------------------------------------------------------
need() { command -v "$1" >/dev/null 2>&1 || die "missing prerequisite '$1': $2"; }

prereqs() {
  [[ -n "${KUBECONFIG:-}" && -f "${KUBECONFIG}" ]] \
    || die "KUBECONFIG is not set to a file: scripts/cluster.sh up && eval \"\$(scripts/cluster.sh env)\""
  need kubectl "eval \"\$(scripts/cluster.sh env)\" puts the cluster's kubectl on PATH"
  need helm "eval \"\$(scripts/cluster.sh env)\" puts helm on PATH"
  need python3 "the Git and Helm repositories are served by python3"
  if ! command -v git >/dev/null 2>&1 || [[ ! -x "$(git --exec-path)/git-http-backend" ]]; then
    [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1 || die "git (with git-http-backend) is required"
    log "apt-get install -y git"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q git >/dev/null 2>&1 \
      || { DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 \
           && DEBIAN_FRONTEND=noninteractive apt-get install -y -q git >/dev/null 2>&1; } \
      || die "could not install git"
  fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start NAME CMD...: run CMD in the background (own session), log to $STATE/logs/NAME.log.
start() {
  local name="$1"; shift
  mkdir -p "${STATE}/logs" "${STATE}/pids"
  setsid "$@" >"${STATE}/logs/${name}.log" 2>&1 < /dev/null &
  echo $! >"${STATE}/pids/${name}.pid"
}

pid_of() { [[ -f "${STATE}/pids/$1.pid" ]] && cat "${STATE}/pids/$1.pid"; }
alive() { local p; p="$(pid_of "$1")" && kill -0 "${p}" 2>/dev/null; }

wait_http() {
  local what="$1" url="$2" name="$3" i
  for i in $(seq 1 120); do
    if curl -fsS -o /dev/null "${url}" 2>/dev/null; then log "${what}: ready (${url})"; return 0; fi
    alive "${name}" || { tail -20 "${STATE}/logs/${name}.log" >&2; die "${what} exited (log: ${STATE}/logs/${name}.log)"; }
    sleep 0.5
  done
  tail -20 "${STATE}/logs/${name}.log" >&2
  die "${what} not ready after 60s (log: ${STATE}/logs/${name}.log)"
}

install_crds() {
  local d
  for d in "${SC_BIN%/bin/*}/src/config/crd/bases" "${KC_BIN%/bin/*}/src/config/crd/bases" "${HC_BIN%/bin/*}/src/config/crd/bases"; do
    [[ -d "${d}" ]] || die "no CRDs in ${d} (scripts/flux.sh build)"
    kubectl apply --server-side --force-conflicts -f "${d}" >/dev/null
  done
  "${SCRIPT_DIR}/wait-established.sh" \
    crd/gitrepositories.source.toolkit.fluxcd.io crd/helmrepositories.source.toolkit.fluxcd.io \
    crd/helmcharts.source.toolkit.fluxcd.io crd/kustomizations.kustomize.toolkit.fluxcd.io \
    crd/helmreleases.helm.toolkit.fluxcd.io >/dev/null
}

# The Git repository (bare, served) and its working copy with the samples; the Helm repository
# with the chart of this worktree.
init_repos() {
  rm -rf "${STATE}/git" "${STATE}/work" "${STATE}/helm-repo"
  mkdir -p "${STATE}/git" "${STATE}/helm-repo"
  git init -q --bare -b main "${STATE}/git/ecs.git"
  git -C "${STATE}/git/ecs.git" config http.receivepack false
  git init -q -b main "${STATE}/work"
  mkdir -p "${STATE}/work/samples"
  cp "${REPO_ROOT}"/config/samples/*.yaml "${STATE}/work/samples/"
  # The BLUE_GREEN sample bakes 5 minutes, and the Kustomization (CEL health: Progressing is
  # in progress) rightly waits for the bake: run its minutes as 2 s here, the same state machine.
  sed -i 's/^  serviceName: web-canary$/&\n  kubernetes: {deploymentMinuteSeconds: 2}/' \
    "${STATE}/work/samples/service-blue-green.yaml"
  grep -q 'deploymentMinuteSeconds: 2' "${STATE}/work/samples/service-blue-green.yaml" \
    || die "could not shorten the BLUE_GREEN sample's bake"
  # A chart of the ECS samples for a HelmRelease (the repository's chart carries no ECS objects):
  # the Cluster, TaskDefinition and Service of config/samples as its templates (plain YAML).
  mkdir -p "${STATE}/work/charts/ecs-samples/templates"
  printf 'apiVersion: v2\nname: ecs-samples\nversion: 0.1.0\ndescription: The ECS samples of config/samples (flux.sh)\n' \
    >"${STATE}/work/charts/ecs-samples/Chart.yaml"
  cp "${REPO_ROOT}"/config/samples/{cluster,taskdefinition,service}.yaml "${STATE}/work/charts/ecs-samples/templates/"
  commit "samples from config/samples"
  helm package "${REPO_ROOT}/charts/ecs-operator" -d "${STATE}/helm-repo" >/dev/null
}

# commit MESSAGE: commit everything in the working copy and push it to the served repository.
commit() {
  git -C "${STATE}/work" add -A
  git -C "${STATE}/work" -c user.name=flux-e2e -c user.email=flux-e2e@example.invalid commit -q -m "$1"
  git -C "${STATE}/work" push -q "${STATE}/git/ecs.git" HEAD:main
  git -C "${STATE}/work" rev-parse HEAD
}

cmd_up() {
  prereqs
  cmd_build
  if alive source-controller && alive kustomize-controller && alive helm-controller && alive git-server && alive helm-server; then
    log "already running (scripts/flux.sh status)"; return 0
  fi
  cmd_down_processes
  install_crds
  kubectl create namespace "${FLUX_NS}" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  init_repos >/dev/null

  rm -f "${STATE}/git-port"
  start git-server python3 "${SCRIPT_DIR}/flux/git-http-server.py" "${STATE}/git" "${STATE}/git-port"
  local i; for i in $(seq 1 40); do [[ -s "${STATE}/git-port" ]] && break; sleep 0.25; done
  [[ -s "${STATE}/git-port" ]] || die "git server did not start: $(cat "${STATE}/logs/git-server.log")"
  local git_port helm_port sc_storage sc_metrics sc_health kc_metrics kc_health hc_metrics hc_health
  git_port="$(cat "${STATE}/git-port")"
  helm_port="$(free_port)"; sc_storage="$(free_port)"; sc_metrics="$(free_port)"; sc_health="$(free_port)"
  kc_metrics="$(free_port)"; kc_health="$(free_port)"; hc_metrics="$(free_port)"; hc_health="$(free_port)"
  helm repo index "${STATE}/helm-repo" --url "http://127.0.0.1:${helm_port}"
  start helm-server python3 -m http.server "${helm_port}" --bind 127.0.0.1 --directory "${STATE}/helm-repo"
  wait_http "git server (git http-backend)" "http://127.0.0.1:${git_port}/ecs.git/info/refs?service=git-upload-pack" git-server
  wait_http "Helm repository (python3 -m http.server)" "http://127.0.0.1:${helm_port}/index.yaml" helm-server

  mkdir -p "${STATE}/storage"
  # Out of the cluster: no leader election, no events receiver, artifacts served and advertised
  # on loopback (kustomize-controller downloads them from there).
  start source-controller env KUBECONFIG="${KUBECONFIG}" RUNTIME_NAMESPACE="${FLUX_NS}" "${SC_BIN}" \
    --watch-all-namespaces=true --enable-leader-election=false \
    --storage-path="${STATE}/storage" --storage-addr="127.0.0.1:${sc_storage}" \
    --storage-adv-addr="127.0.0.1:${sc_storage}" --metrics-addr="127.0.0.1:${sc_metrics}" \
    --health-addr="127.0.0.1:${sc_health}" --log-level=info --log-encoding=json
  start kustomize-controller env KUBECONFIG="${KUBECONFIG}" RUNTIME_NAMESPACE="${FLUX_NS}" "${KC_BIN}" \
    --watch-all-namespaces=true --enable-leader-election=false \
    --metrics-addr="127.0.0.1:${kc_metrics}" --health-addr="127.0.0.1:${kc_health}" \
    --no-remote-bases=true --log-level=info --log-encoding=json
  # helm-controller fetches the charts from source-controller's loopback storage (the artifact URL).
  start helm-controller env KUBECONFIG="${KUBECONFIG}" RUNTIME_NAMESPACE="${FLUX_NS}" "${HC_BIN}" \
    --watch-all-namespaces=true --enable-leader-election=false \
    --metrics-addr="127.0.0.1:${hc_metrics}" --health-addr="127.0.0.1:${hc_health}" \
    --log-level=info --log-encoding=json
  wait_http "source-controller ${FLUX_SOURCE_CONTROLLER_VERSION}" "http://127.0.0.1:${sc_health}/readyz" source-controller
  wait_http "kustomize-controller ${FLUX_KUSTOMIZE_CONTROLLER_VERSION}" "http://127.0.0.1:${kc_health}/readyz" kustomize-controller
  wait_http "helm-controller ${FLUX_HELM_CONTROLLER_VERSION}" "http://127.0.0.1:${hc_health}/readyz" helm-controller
  cat >"${STATE}/ports" <<PORTS
GIT_URL=http://127.0.0.1:${git_port}/ecs.git
HELM_URL=http://127.0.0.1:${helm_port}
SC_STORAGE=127.0.0.1:${sc_storage}
PORTS
  log "Flux is up: source-controller ${FLUX_SOURCE_CONTROLLER_VERSION}, kustomize-controller ${FLUX_KUSTOMIZE_CONTROLLER_VERSION}, helm-controller ${FLUX_HELM_CONTROLLER_VERSION}; logs in ${STATE}/logs"
}

# Stop what `up` started: exactly the recorded pids (TERM, then KILL after 10s).
cmd_down_processes() {
  local name p i
  for name in helm-controller kustomize-controller source-controller helm-server git-server; do
    p="$(pid_of "${name}")" || continue
    if kill -0 "${p}" 2>/dev/null; then
      kill "${p}" 2>/dev/null || true
      for i in $(seq 1 20); do kill -0 "${p}" 2>/dev/null || break; sleep 0.5; done
      kill -0 "${p}" 2>/dev/null && { log "${name} (pid ${p}) ignored SIGTERM: SIGKILL"; kill -9 "${p}" 2>/dev/null || true; }
      log "stopped ${name} (pid ${p})"
    fi
    rm -f "${STATE}/pids/${name}.pid"
  done
}

cmd_down() {
  if [[ -n "${KUBECONFIG:-}" && -f "${KUBECONFIG}" ]] && command -v kubectl >/dev/null 2>&1 \
      && kubectl get --raw=/readyz --request-timeout=3s >/dev/null 2>&1; then
    # Delete the HelmReleases and the Kustomization while helm-controller and kustomize-controller
    # run, so that they uninstall / prune what they applied.
    kubectl -n "${FLUX_NS}" delete helmreleases.helm.toolkit.fluxcd.io --all --timeout=120s >/dev/null 2>&1 || true
    kubectl -n "${FLUX_NS}" delete kustomizations.kustomize.toolkit.fluxcd.io --all --timeout=60s >/dev/null 2>&1 || true
    kubectl -n "${FLUX_NS}" delete helmcharts.source.toolkit.fluxcd.io,helmrepositories.source.toolkit.fluxcd.io,gitrepositories.source.toolkit.fluxcd.io --all --timeout=30s >/dev/null 2>&1 || true
    kubectl delete namespace "${TEST_NS}" "${HELM_NS}" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  fi
  cmd_down_processes
}

cmd_status() {
  local name
  for name in git-server helm-server source-controller kustomize-controller helm-controller; do
    printf '  %-22s %s\n' "${name}" "$(alive "${name}" && echo "running (pid $(pid_of "${name}"))" || echo stopped)"
  done
  echo "versions: source-controller ${FLUX_SOURCE_CONTROLLER_VERSION}, kustomize-controller ${FLUX_KUSTOMIZE_CONTROLLER_VERSION}, helm-controller ${FLUX_HELM_CONTROLLER_VERSION}"
  [[ -f "${STATE}/ports" ]] && cat "${STATE}/ports"
  return 0
}

# ---------------------------------------------------------------------------------------------
# test
# ---------------------------------------------------------------------------------------------
PASSED=0
FAILED=0
SKIPPED=0
pass() { PASSED=$((PASSED + 1)); printf 'ok    %s\n' "$*"; }
fail() { FAILED=$((FAILED + 1)); printf 'FAIL  %s\n' "$*"; }
skip() { SKIPPED=$((SKIPPED + 1)); printf 'skip  %s\n' "$*"; }

kget() { kubectl get "$@" 2>/dev/null || true; }
# cond NS KIND NAME TYPE [FIELD]: a condition's status (or FIELD: reason, message).
cond() { kget -n "$1" "$2" "$3" -o jsonpath="{.status.conditions[?(@.type==\"$4\")].${5:-status}}"; }
ks() { kget -n "${FLUX_NS}" kustomization "$1" -o jsonpath="$2"; }

# until_true TIMEOUT CMD...: run CMD every second until it succeeds (then 0) or TIMEOUT seconds pass.
until_true() {
  local timeout="$1" t0=$SECONDS; shift
  until "$@"; do
    ((SECONDS - t0 >= timeout)) && return 1
    sleep 1
  done
}

request_reconcile() { kubectl -n "${FLUX_NS}" annotate --overwrite "$1" "reconcile.fluxcd.io/requestedAt=$(date +%s%N)" >/dev/null; }

# The PRIMARY deployment of the Service (in TEST_NS or NAMESPACE), as "taskDefinition rolloutState running/desired".
primary() { # primary NAME [NAMESPACE]
  kget -n "${2:-${TEST_NS}}" services.ecs-operator.io "$1" \
    -o jsonpath='{range .status.deployments[?(@.status=="PRIMARY")]}{.taskDefinition} {.rolloutState} {.runningCount}/{.desiredCount}{end}'
}

ks_ready_at() { # ks_ready_at NAME SHA: Ready=True and applied the commit SHA
  [[ "$(cond "${FLUX_NS}" kustomization "$1" Ready)" == True && "$(ks "$1" '{.status.lastAppliedRevision}')" == *"$2" ]]
}

apply_flux_objects() {
  # shellcheck disable=SC1091
  source "${STATE}/ports"
  kubectl apply -f - >/dev/null <<YAML
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: ecs-samples, namespace: ${FLUX_NS}}
spec:
  interval: 10m
  url: ${GIT_URL}
  ref: {branch: main}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: ecs-operator-charts, namespace: ${FLUX_NS}}
spec:
  interval: 10m
  url: ${HELM_URL}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmChart
metadata: {name: ecs-operator, namespace: ${FLUX_NS}}
spec:
  interval: 10m
  chart: ecs-operator
  version: "*"
  sourceRef: {kind: HelmRepository, name: ecs-operator-charts}
YAML
}

apply_kustomization() {
  kubectl apply -f - >/dev/null <<YAML
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: ecs-samples, namespace: ${FLUX_NS}}
spec:
  interval: 10m
  retryInterval: 5s
  path: ./samples
  prune: true
  # Ready only when every applied object is Current by kstatus: the Service steady.
  wait: true
  timeout: 4m
  # kstatus alone calls an object without a status Current (the Service or TaskDefinition
  # the operator has not seen yet), so the ECS kinds get CEL health checks (Flux RFC 0009):
  # without a status the expressions cannot be evaluated and Flux keeps waiting.
  healthCheckExprs:
  - apiVersion: ecs-operator.io/v1alpha1
    kind: Service
    inProgress: "status.conditions.exists(c, c.type == 'Progressing' && c.status == 'True')"
    failed: "status.conditions.exists(c, c.type == 'Stalled' && c.status == 'True')"
    current: "status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')"
  - apiVersion: ecs-operator.io/v1alpha1
    kind: TaskDefinition
    failed: "status.conditions.exists(c, c.type == 'Stalled' && c.status == 'True')"
    current: "status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')"
  - apiVersion: ecs-operator.io/v1alpha1
    kind: Task
    failed: "status.conditions.exists(c, c.type == 'Stalled' && c.status == 'True')"
    current: "status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')"
  targetNamespace: ${TEST_NS}
  sourceRef: {kind: GitRepository, name: ecs-samples}
YAML
}

# t_rollout NAME SHA TIMEOUT WANT_TD: after commit SHA, the Kustomization turns Ready at SHA only
# once the Service's PRIMARY deployment of WANT_TD (a regex) is COMPLETED with all tasks running
# (and is not the revision NOT_TD, when given).
t_rollout() {
  local what="$1" sha="$2" timeout="$3" want_td="$4" not_td="${5:-}" t0=$SECONDS seen_not_ready=0 p
  request_reconcile gitrepository/ecs-samples
  while ((SECONDS - t0 < timeout)); do
    p="$(primary web)"
    if ks_ready_at ecs-samples "${sha}"; then
      if [[ "${p}" =~ ^${want_td}\ COMPLETED\ ([0-9]+)/([0-9]+)$ && "${BASH_REMATCH[1]}" == "${BASH_REMATCH[2]}" \
            && ( -z "${not_td}" || "${p}" != "${not_td} "* ) ]]; then
        pass "${what}: Kustomization Ready at ${sha:0:7} after $((SECONDS - t0))s, only once the ECS Service was steady (PRIMARY ${p}; seen not Ready while rolling: ${seen_not_ready}x)"
      else
        fail "${what}: Kustomization Ready at ${sha:0:7} while the Service is not steady (PRIMARY ${p:-none}, want ${want_td} COMPLETED)"
      fi
      return
    fi
    [[ "$(ks ecs-samples '{.status.lastAttemptedRevision}')" == *"${sha}" ]] && seen_not_ready=$((seen_not_ready + 1))
    sleep 1
  done
  fail "${what}: Kustomization not Ready at ${sha:0:7} after ${timeout}s: $(cond "${FLUX_NS}" kustomization ecs-samples Ready message) (Service PRIMARY: $(primary web))"
}

# The HelmReleases (helm-controller). hr NAME JSONPATH: a field of a HelmRelease in FLUX_NS.
hr() { kget -n "${FLUX_NS}" helmrelease "$1" -o jsonpath="$2"; }
# hr_deployed NAME VERSION: Ready=True and the newest release is the chart VERSION, deployed.
hr_deployed() {
  [[ "$(cond "${FLUX_NS}" helmrelease "$1" Ready)" == True \
     && "$(hr "$1" '{.status.history[0].chartVersion} {.status.history[0].status}')" == "$2 deployed" ]]
}

# apply_helmrelease_chart: the repository's chart; apply_helmrelease_samples: the samples chart.
apply_helmrelease_chart() {
  kubectl apply -f - >/dev/null <<YAML
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: ecs-operator, namespace: ${FLUX_NS}}
spec:
  interval: 10m
  timeout: 3m
  releaseName: ecs-operator-flux
  targetNamespace: ${HELM_NS}
  # The HelmChart of the loopback Helm repository (charts/ecs-operator, packaged by init_repos).
  chartRef: {kind: HelmChart, name: ecs-operator}
  # The CRDs (the chart's crds/, byte-identical to crds/) are already installed for the operator
  # under test: Create leaves existing CRDs alone.
  install: {createNamespace: true, crds: Create}
  # The chart cannot leave its Deployment out, nor scale it to 0 (values.schema.json: replicas
  # >= 1). Its one pod lands on a KWOK node, where it is simulated (Running and Ready, no
  # container): no second operator runs to fight the one under test. helm-controller waits
  # (kstatus) for the Deployment to be available, the RBAC and the metrics Service.
  values:
    replicas: 1
YAML
}

apply_helmrelease_samples() {
  kubectl apply -f - >/dev/null <<YAML
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: ecs-samples, namespace: ${FLUX_NS}}
spec:
  interval: 10m
  timeout: 3m
  releaseName: ecs-samples
  targetNamespace: ${HELM_NS}
  # The samples chart in the Git repository (init_repos: charts/ecs-samples); a new chart version
  # there upgrades the release.
  chart:
    spec:
      chart: ./charts/ecs-samples
      interval: 1m
      sourceRef: {kind: GitRepository, name: ecs-samples}
  install: {createNamespace: true}
  # helm-controller waits for every object of the release to be Current (waitStrategy poller,
  # kstatus); as in the Kustomization, the ECS kinds get CEL health checks so that a Service the
  # operator has not seen yet, or one still rolling, is not taken for Current.
  healthCheckExprs:
  - apiVersion: ecs-operator.io/v1alpha1
    kind: Service
    inProgress: "status.conditions.exists(c, c.type == 'Progressing' && c.status == 'True')"
    failed: "status.conditions.exists(c, c.type == 'Stalled' && c.status == 'True')"
    current: "status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')"
  - apiVersion: ecs-operator.io/v1alpha1
    kind: TaskDefinition
    failed: "status.conditions.exists(c, c.type == 'Stalled' && c.status == 'True')"
    current: "status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')"
YAML
}

# t_hr_rollout WHAT VERSION TIMEOUT WANT_TD: the HelmRelease ecs-samples turns Ready with the chart
# VERSION deployed only once the Service's PRIMARY deployment of WANT_TD (a regex) is COMPLETED
# with all tasks running.
t_hr_rollout() {
  local what="$1" version="$2" timeout="$3" want_td="$4" t0=$SECONDS seen_not_ready=0 p
  while ((SECONDS - t0 < timeout)); do
    p="$(primary web "${HELM_NS}")"
    if hr_deployed ecs-samples "${version}"; then
      if [[ "${p}" =~ ^${want_td}\ COMPLETED\ ([0-9]+)/([0-9]+)$ && "${BASH_REMATCH[1]}" == "${BASH_REMATCH[2]}" ]]; then
        pass "${what}: HelmRelease Ready with chart ${version} deployed after $((SECONDS - t0))s, only once the ECS Service was steady (PRIMARY ${p}; seen not Ready while rolling: ${seen_not_ready}x)"
      else
        fail "${what}: HelmRelease Ready with chart ${version} while the Service is not steady (PRIMARY ${p:-none}, want ${want_td} COMPLETED)"
      fi
      return
    fi
    [[ "$(hr ecs-samples '{.status.lastAttemptedRevision}')" == "${version}" ]] && seen_not_ready=$((seen_not_ready + 1))
    sleep 1
  done
  fail "${what}: HelmRelease not Ready with chart ${version} after ${timeout}s: $(cond "${FLUX_NS}" helmrelease ecs-samples Ready reason) $(cond "${FLUX_NS}" helmrelease ecs-samples Ready message) (Service PRIMARY: $(primary web "${HELM_NS}"))"
}

t_helmreleases() {
  local chart_version="$1" t0=$SECONDS node deploy td_rev
  apply_helmrelease_chart
  # The repository's chart from the Helm repository.
  if until_true 180 hr_deployed ecs-operator "${chart_version}"; then
    deploy="$(kget -n "${HELM_NS}" deployment ecs-operator-flux -o jsonpath='{.status.readyReplicas}/{.spec.replicas}')"
    node="$(kget -n "${HELM_NS}" pods -l app.kubernetes.io/instance=ecs-operator-flux -o jsonpath='{.items[0].spec.nodeName}')"
    if [[ "${deploy}" == 1/1 && "$(kget node "${node}" -o jsonpath='{.metadata.annotations.kwok\.x-k8s\.io/node}')" == fake ]]; then
      pass "HelmRelease installs charts/ecs-operator ${chart_version} (release $(hr ecs-operator '{.status.history[0].name} v{.status.history[0].version}') in ${HELM_NS}) and is Ready after $((SECONDS - t0))s: Deployment ${deploy} ready, its pod simulated on KWOK node ${node}"
    else
      fail "HelmRelease ecs-operator Ready, but Deployment ecs-operator-flux ready ${deploy:-?}, pod on node ${node:-none} (want 1/1 on a KWOK node)"
    fi
  else
    fail "HelmRelease ecs-operator (charts/ecs-operator ${chart_version}) not Ready after 180s: $(cond "${FLUX_NS}" helmrelease ecs-operator Ready reason) $(cond "${FLUX_NS}" helmrelease ecs-operator Ready message) (history: $(hr ecs-operator '{.status.history[0].chartVersion} {.status.history[0].status}'))"
  fi
  # The ECS samples as a chart from Git: Ready only once the ECS Service is steady.
  apply_helmrelease_samples
  t_hr_rollout "HelmRelease installs the ECS samples chart (Git, charts/ecs-samples 0.1.0)" 0.1.0 180 'web:[0-9]+'
  td_rev="$(kget -n "${HELM_NS}" taskdefinitions.ecs-operator.io web -o jsonpath='{.status.revision}')"
  # A new chart version with a new image: helm upgrade, a new TaskDefinition revision rolls.
  sed -i 's#image: public.ecr.aws/nginx/nginx:1.27-alpine#image: public.ecr.aws/nginx/nginx:1.28-alpine#' \
    "${STATE}/work/charts/ecs-samples/templates/taskdefinition.yaml"
  sed -i 's/^version: 0.1.0$/version: 0.2.0/' "${STATE}/work/charts/ecs-samples/Chart.yaml"
  commit "ecs-samples chart 0.2.0: nginx 1.28" >/dev/null
  request_reconcile gitrepository/ecs-samples
  t_hr_rollout "chart 0.2.0 with a new image -> helm upgrade, revision web:$((td_rev + 1)) rolls" 0.2.0 180 "web:$((td_rev + 1))"
  # A chart version with a failing image: the circuit breaker trips (Stalled), and the upgrade's
  # wait fails (the failed expression) instead of timing out or passing: HelmRelease not Ready.
  sed -i 's#image: public.ecr.aws/nginx/nginx:1.28-alpine#image: public.ecr.aws/nginx/nginx:broken#' \
    "${STATE}/work/charts/ecs-samples/templates/taskdefinition.yaml"
  printf '  kubernetes:\n    annotations:\n      ecs-operator.io/simulate: crashloop\n' \
    >>"${STATE}/work/charts/ecs-samples/templates/taskdefinition.yaml"
  sed -i 's/^version: 0.2.0$/version: 0.3.0/' "${STATE}/work/charts/ecs-samples/Chart.yaml"
  commit "ecs-samples chart 0.3.0: broken image" >/dev/null
  request_reconcile gitrepository/ecs-samples
  t0=$SECONDS
  if until_true 240 eval '[[ "$(cond ${HELM_NS} services.ecs-operator.io web Stalled)" == True && "$(cond ${FLUX_NS} helmrelease ecs-samples Ready)" == False && "$(hr ecs-samples "{.status.history[0].chartVersion} {.status.history[0].status}")" == "0.3.0 failed" ]]'; then
    pass "chart 0.3.0 with a failing image -> circuit breaker after $((SECONDS - t0))s: Service Stalled ($(cond "${HELM_NS}" services.ecs-operator.io web Stalled reason)); HelmRelease Ready=False ($(cond "${FLUX_NS}" helmrelease ecs-samples Ready reason)): $(cond "${FLUX_NS}" helmrelease ecs-samples Ready message)"
  else
    fail "chart 0.3.0 with a failing image: after 240s Service Stalled=$(cond "${HELM_NS}" services.ecs-operator.io web Stalled), HelmRelease Ready=$(cond "${FLUX_NS}" helmrelease ecs-samples Ready) ($(cond "${FLUX_NS}" helmrelease ecs-samples Ready reason): $(cond "${FLUX_NS}" helmrelease ecs-samples Ready message)), history: $(hr ecs-samples '{.status.history[0].chartVersion} {.status.history[0].status}')"
  fi
}

run_tests() {
  local sha t0 msg td_rev
  printf 'Flux controllers: source-controller %s (github.com/fluxcd/source-controller), kustomize-controller %s (github.com/fluxcd/kustomize-controller), helm-controller %s (github.com/fluxcd/helm-controller)\n' \
    "${FLUX_SOURCE_CONTROLLER_VERSION}" "${FLUX_KUSTOMIZE_CONTROLLER_VERSION}" "${FLUX_HELM_CONTROLLER_VERSION}"
  printf 'binaries: %s, %s, %s\n' "${SC_BIN}" "${KC_BIN}" "${HC_BIN}"
  kubectl get crd services.ecs-operator.io >/dev/null 2>&1 || die "the ecs-operator CRDs are not installed (kubectl apply -f crds/)"
  kubectl delete namespace "${TEST_NS}" --ignore-not-found --wait=true --timeout=60s >/dev/null
  kubectl create namespace "${TEST_NS}" >/dev/null
  kubectl delete namespace "${HELM_NS}" --ignore-not-found --wait=true --timeout=60s >/dev/null
  apply_flux_objects
  sha="$(git -C "${STATE}/work" rev-parse HEAD)"

  # 1. GitRepository over git http-backend on loopback.
  if until_true 60 eval '[[ "$(cond ${FLUX_NS} gitrepository ecs-samples Ready)" == True ]]'; then
    pass "GitRepository Ready: artifact $(kget -n "${FLUX_NS}" gitrepository ecs-samples -o jsonpath='{.status.artifact.revision}') from ${GIT_URL}"
  else
    fail "GitRepository not Ready: $(cond "${FLUX_NS}" gitrepository ecs-samples Ready message)"
  fi
  # 2. The chart through a Helm repository (helm repo index, python3 -m http.server).
  local chart_version
  chart_version="$(sed -n 's/^version:[[:space:]]*//p' "${REPO_ROOT}/charts/ecs-operator/Chart.yaml" | tr -d '"')"
  if until_true 60 eval '[[ "$(cond ${FLUX_NS} helmchart ecs-operator Ready)" == True ]]'; then
    msg="$(kget -n "${FLUX_NS}" helmchart ecs-operator -o jsonpath='{.status.artifact.revision}')"
    if [[ "${msg}" == "${chart_version}" ]]; then
      pass "HelmRepository + HelmChart Ready: chart ecs-operator ${msg} fetched from ${HELM_URL}"
    else
      fail "HelmChart revision ${msg}, want the chart's version ${chart_version}"
    fi
  else
    fail "HelmChart not Ready: $(cond "${FLUX_NS}" helmchart ecs-operator Ready message)"
  fi
  # 2b. HelmReleases (helm-controller): the repository's chart, and the ECS samples as a chart.
  t_helmreleases "${chart_version}"
  sha="$(git -C "${STATE}/work" rev-parse HEAD)" # the samples chart's commit came on top

  # 3. The samples with wait: true.
  apply_kustomization
  t_rollout "Kustomization applies config/samples (wait: true)" "${sha}" 180 'web:[0-9]+'
  td_rev="$(kget -n "${TEST_NS}" taskdefinitions.ecs-operator.io web -o jsonpath='{.status.revision}')"

  # 4. A new image: a new TaskDefinition revision rolls; Ready only once the Service is steady.
  sed -i 's#image: public.ecr.aws/nginx/nginx:1.27-alpine#image: public.ecr.aws/nginx/nginx:1.28-alpine#' "${STATE}/work/samples/taskdefinition.yaml"
  sha="$(commit "web: nginx 1.28")"
  t_rollout "commit with a new image -> revision web:$((td_rev + 1)) rolls" "${sha}" 180 "web:$((td_rev + 1))"

  # 5. A failing image: the circuit breaker trips and rolls back; the Kustomization is not Ready
  #    and says why, in the operator's words.
  local good_sha="${sha}"
  sed -i 's#image: public.ecr.aws/nginx/nginx:1.28-alpine#image: public.ecr.aws/nginx/nginx:broken#' "${STATE}/work/samples/taskdefinition.yaml"
  printf '  kubernetes:\n    annotations:\n      ecs-operator.io/simulate: crashloop\n' >>"${STATE}/work/samples/taskdefinition.yaml"
  sha="$(commit "web: broken image")"
  request_reconcile gitrepository/ecs-samples
  t0=$SECONDS
  local stalled_msg=""
  if until_true 240 eval '[[ "$(cond ${TEST_NS} services.ecs-operator.io web Stalled)" == True && "$(cond ${FLUX_NS} kustomization ecs-samples Ready)" == False && "$(ks ecs-samples "{.status.lastAttemptedRevision}")" == *"${sha}" && "$(cond ${FLUX_NS} kustomization ecs-samples Ready message)" == *Service/${TEST_NS}/web* ]]'; then
    stalled_msg="$(cond "${TEST_NS}" services.ecs-operator.io web Stalled message)"
    msg="$(cond "${FLUX_NS}" kustomization ecs-samples Ready message)"
    pass "commit with a failing image -> circuit breaker after $((SECONDS - t0))s: Service Stalled ($(cond "${TEST_NS}" services.ecs-operator.io web Stalled reason)): ${stalled_msg}"
    pass "... Kustomization Ready=False ($(cond "${FLUX_NS}" kustomization ecs-samples Ready reason)): ${msg}"
  else
    fail "commit with a failing image: no circuit breaker / not-Ready Kustomization after 240s: Service Stalled=$(cond "${TEST_NS}" services.ecs-operator.io web Stalled) $(cond "${TEST_NS}" services.ecs-operator.io web Stalled message); Kustomization: $(cond "${FLUX_NS}" kustomization ecs-samples Ready reason) $(cond "${FLUX_NS}" kustomization ecs-samples Ready message)"
  fi

  # 6. Reverting the commit heals it: a new revision of the good image rolls out.
  git -C "${STATE}/work" -c user.name=flux-e2e -c user.email=flux-e2e@example.invalid revert --no-edit HEAD >/dev/null
  git -C "${STATE}/work" push -q "${STATE}/git/ecs.git" HEAD:main
  sha="$(git -C "${STATE}/work" rev-parse HEAD)"
  td_rev="$(kget -n "${TEST_NS}" taskdefinitions.ecs-operator.io web -o jsonpath='{.status.revision}')"
  # Back to the good image, as a new revision or the earlier one: either way not the failing web:N.
  t_rollout "git revert of the failing commit heals (off the failing web:${td_rev})" "${sha}" 180 'web:[0-9]+' "web:${td_rev}"

  # 7. spec.autoscaling: the HPA owns desiredCount (Git has none), Flux never writes it back.
  t_autoscaling
}

# kustomize-controller must not own spec.desiredCount, and its reconciles must not change the
# Service (generation and desiredCount stay what the HPA/scale subresource made them).
t_autoscaling() {
  local managers gen0 dc0 gen1 dc1 token
  if ! kget -n "${TEST_NS}" hpa web -o name | grep -q .; then
    fail "spec.autoscaling: no HPA web in ${TEST_NS}"; return
  fi
  # What the HPA (through the scale subresource) sets, as a user or the HPA would.
  kubectl -n "${TEST_NS}" scale services.ecs-operator.io web --replicas=3 >/dev/null
  gen0="$(kget -n "${TEST_NS}" services.ecs-operator.io web -o jsonpath='{.metadata.generation}')"
  dc0="$(kget -n "${TEST_NS}" services.ecs-operator.io web -o jsonpath='{.spec.desiredCount}')"
  token="$(date +%s%N)"
  kubectl -n "${FLUX_NS}" annotate --overwrite kustomization/ecs-samples "reconcile.fluxcd.io/requestedAt=${token}" >/dev/null
  until_true 60 eval '[[ "$(ks ecs-samples "{.status.lastHandledReconcileAt}")" == "${token}" ]]' \
    || { fail "spec.autoscaling: Kustomization did not handle the reconcile request in 60s"; return; }
  gen1="$(kget -n "${TEST_NS}" services.ecs-operator.io web -o jsonpath='{.metadata.generation}')"
  dc1="$(kget -n "${TEST_NS}" services.ecs-operator.io web -o jsonpath='{.spec.desiredCount}')"
  managers="$(kget -n "${TEST_NS}" services.ecs-operator.io web -o json | python3 -c '
import json, sys
o = json.load(sys.stdin)
print(" ".join(sorted({m["manager"] for m in o["metadata"].get("managedFields", [])
                       if "f:desiredCount" in m.get("fieldsV1", {}).get("f:spec", {})})))')"
  if [[ " ${managers} " == *" kustomize-controller "* ]]; then
    fail "spec.autoscaling: kustomize-controller owns spec.desiredCount (managers: ${managers})"
  elif [[ "${dc1}" != "${dc0}" && "${dc1}" != "$(kget -n "${TEST_NS}" hpa web -o jsonpath='{.status.desiredReplicas}')" ]]; then
    fail "spec.autoscaling: desiredCount ${dc0} -> ${dc1} after a Flux reconcile (generation ${gen0} -> ${gen1})"
  else
    pass "spec.autoscaling: no fight over desiredCount: a Flux reconcile kept desiredCount=${dc1} (scaled to ${dc0}; generation ${gen0} -> ${gen1}); its managers: ${managers:-none}, not kustomize-controller; Kustomization Ready=$(cond "${FLUX_NS}" kustomization ecs-samples Ready)"
  fi
}

cmd_test() {
  local t0=$SECONDS
  cmd_up
  if [[ "${FLUX_KEEP:-0}" != 1 ]]; then trap 'cmd_down' EXIT; fi
  run_tests
  echo "flux e2e: $((SECONDS - t0))s; controller logs in ${STATE}/logs"
  echo "${PASSED} passed, ${FAILED} failed, ${SKIPPED} skipped"
  ((FAILED == 0))
}

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }

case "${1:-}" in
  build) cmd_build ;;
  up) cmd_up ;;
  down) cmd_down ;;
  test) cmd_test ;;
  status) cmd_status ;;
  -h|--help|help) usage ;;
  *) usage >&2; die "unknown subcommand '${1:-}'" ;;
esac
