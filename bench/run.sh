#!/usr/bin/env bash
# The side-by-side benchmark: ECS Services through the operator versus the very Deployments
# `ecs-operator render` makes of them, applied directly, on the project's own local control plane.
#
#   bench/run.sh                       sizes 100,1000,3000,10000, idle window 300s
#   bench/run.sh --sizes 10,100        other sizes
#   bench/run.sh --smoke               N=10, idle window 60s (a few minutes; .ci/run runs it)
#
# For each N, in one run and on one cluster:
#   1. native: the rendered Deployments applied to bench-native-N; apply → ReplicaSet, → Available;
#   2. operator: `ecs-operator run` (the release build, as a process, watching bench-op-N only)
#      and N Services + 2 TaskDefinitions applied to bench-op-N; apply → Deployment, → steady
#      (Ready, the one deployment COMPLETED, as the operator writes it);
#   3. rollout: a new revision of the family that min(N, 1000) of the Services follow, to all
#      COMPLETED on it;
#   4. idle: the operator's API requests over the idle window at steady state, from the API
#      server's audit log (the operator runs as its own ServiceAccount; apiserver_request_total has
#      no client label), per Service per hour; then a no-op reconcile of every Service
#      (an annotation touch) and the requests it caused;
#   5. the operator's peak RSS (VmHWM), steady RSS (VmRSS after idle) and CPU seconds, from /proc.
# Output: bench/results/<time>-n<sizes>.{md,json} (versions, machine facts, load averages).
#
# Environment: BENCH_CLUSTER_NAME (default ${ECS_CLUSTER_NAME:-ecs-operator}-bench),
# BENCH_PODS_PER_NODE (500), BENCH_KCM_QPS / BENCH_KCM_BURST (500/1000, controller-manager and
# scheduler), BENCH_APPLY_CONCURRENCY (16), BENCH_TIMEOUT_BASE (180s) + BENCH_TIMEOUT_PER_OBJECT
# (0.3s) per phase, BENCH_ROLLOUT_MAX (1000), BENCH_IDLE_SECONDS, BENCH_SETTLE_SECONDS (30);
# BENCH_BIN_DIR=dir skips the release build and takes both binaries from dir (testing the runner).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"

SIZES="100,1000,3000,10000"
IDLE="${BENCH_IDLE_SECONDS:-300}"
SMOKE=0
OUT_DIR="${ROOT}/bench/results"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --sizes) SIZES="$2"; shift 2 ;;
    --sizes=*) SIZES="${1#--sizes=}"; shift ;;
    --smoke) SMOKE=1; SIZES=10; IDLE="${BENCH_IDLE_SECONDS:-60}"; shift ;;
    --out) OUT_DIR="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/run.sh: unknown argument '$1' (see --help)" >&2; exit 64 ;;
  esac
done
IFS=, read -r -a SIZE_LIST <<<"${SIZES}"
for n in "${SIZE_LIST[@]}"; do
  [[ "${n}" =~ ^[1-9][0-9]*$ ]] || { echo "bench/run.sh: --sizes wants positive integers, got '${n}'" >&2; exit 64; }
done

for tool in cargo python3 curl; do
  command -v "${tool}" >/dev/null || { echo "bench/run.sh: '${tool}' is required" >&2; exit 1; }
done

export ECS_CLUSTER_NAME="${BENCH_CLUSTER_NAME:-${ECS_CLUSTER_NAME:-ecs-operator}-bench}"
CACHE="${ECS_OPERATOR_CACHE:-${HOME}/.cache/ecs-operator}"
CLUSTER_LOGS="${CACHE}/kwok-workdir/clusters/${ECS_CLUSTER_NAME}/logs"
PODS_PER_NODE="${BENCH_PODS_PER_NODE:-500}"
QPS="${BENCH_KCM_QPS:-500}"
BURST="${BENCH_KCM_BURST:-1000}"
CONCURRENCY="${BENCH_APPLY_CONCURRENCY:-16}"
TIMEOUT_BASE="${BENCH_TIMEOUT_BASE:-180}"
TIMEOUT_PER_OBJECT="${BENCH_TIMEOUT_PER_OBJECT:-0.3}"
ROLLOUT_MAX="${BENCH_ROLLOUT_MAX:-1000}"
SETTLE="${BENCH_SETTLE_SECONDS:-30}"
((SMOKE)) && SETTLE="${BENCH_SETTLE_SECONDS:-10}"
OPERATOR_SA=ecs-operator
OPERATOR_NS=ecs-bench-system
OPERATOR_USER="system:serviceaccount:${OPERATOR_NS}:${OPERATOR_SA}"
STAMP="$(date -u +%Y%m%d-%H%M%S)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/ecs-bench.XXXXXX")"
RELEASE="${CARGO_TARGET_DIR:-${ROOT}/target}/release"
START=${SECONDS}
# Phases in all: per size native, operator, rollout, idle.
PHASES_TOTAL=$((${#SIZE_LIST[@]} * 4))
PHASES_DONE=0

log() { printf '[bench %s +%ss] %s\n' "$(date +%H:%M:%S)" "$((SECONDS - START))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
phase() {
  log "== $* (phase $((PHASES_DONE + 1)) of ${PHASES_TOTAL}; ${PHASES_DONE} done)"
}

OPERATOR_PID=""
stop_operator() {
  [[ -n "${OPERATOR_PID}" ]] || return 0
  if kill -0 "${OPERATOR_PID}" 2>/dev/null; then
    kill "${OPERATOR_PID}" 2>/dev/null || true
    local i
    for i in $(seq 1 30); do kill -0 "${OPERATOR_PID}" 2>/dev/null || break; sleep 1; done
    kill -0 "${OPERATOR_PID}" 2>/dev/null && { log "operator did not stop in 30s: SIGKILL"; kill -9 "${OPERATOR_PID}" 2>/dev/null || true; }
  fi
  wait "${OPERATOR_PID}" 2>/dev/null || true
  OPERATOR_PID=""
}
cleanup() {
  local rc=$?
  stop_operator
  log "tearing down cluster '${ECS_CLUSTER_NAME}'"
  scripts/cluster.sh down || log "cluster.sh down failed (see its output)"
  log "work files: ${WORK}"
  exit "${rc}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------------------------------
if [[ -n "${BENCH_BIN_DIR:-}" ]]; then
  log "using the binaries in BENCH_BIN_DIR=${BENCH_BIN_DIR} (not a release build: figures are for testing the runner)"
  RELEASE="${BENCH_BIN_DIR}"
else
  log "building the release binaries (cargo build --release --locked)"
  cargo build --release --locked --bin ecs-operator --bin ecs-bench-recorder
fi
OPERATOR_BIN="${RELEASE}/ecs-operator"
RECORDER_BIN="${RELEASE}/ecs-bench-recorder"

max_n=0
for n in "${SIZE_LIST[@]}"; do ((n > max_n)) && max_n=${n}; done
rollout_of() { local n=$1; ((n < ROLLOUT_MAX)) && echo "${n}" || echo "${ROLLOUT_MAX}"; }
# Both namespaces of the largest size at once, plus the rollout's surge, plus 10%.
pods_needed=$(( (2 * max_n + $(rollout_of "${max_n}")) * 11 / 10 + 10 ))
NODES=$(( (pods_needed + PODS_PER_NODE - 1) / PODS_PER_NODE ))

cat >"${WORK}/audit-policy.yaml" <<EOF
# Only the operator's requests are logged: the benchmark counts them.
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  users: ["${OPERATOR_USER}"]
- level: None
EOF
extra_args=""
for c in kube-controller-manager kube-scheduler; do
  extra_args+=" ${c}=kube-api-qps=${QPS} ${c}=kube-api-burst=${BURST}"
done
log "cluster '${ECS_CLUSTER_NAME}': ${NODES} extra nodes x ${PODS_PER_NODE} pods (${pods_needed} pods needed at N=${max_n}); controller-manager and scheduler QPS ${QPS} burst ${BURST}"
ECS_CLUSTER_WAIT_METRICS=0 ECS_CLUSTER_EXTRA_ARGS="${extra_args}" ECS_CLUSTER_AUDIT_POLICY="${WORK}/audit-policy.yaml" \
  ECS_CLUSTER_EXTRA_NODES="${NODES}" ECS_CLUSTER_NODE_MAX_PODS="${PODS_PER_NODE}" scripts/cluster.sh up >/dev/null
eval "$(scripts/cluster.sh env)"

kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
scripts/wait-established.sh crd --all >/dev/null
# The operator runs as its own ServiceAccount so that the audit log can single out its requests.
kubectl create namespace "${OPERATOR_NS}" >/dev/null
kubectl create serviceaccount "${OPERATOR_SA}" -n "${OPERATOR_NS}" >/dev/null
kubectl create clusterrolebinding ecs-bench-operator --clusterrole=cluster-admin \
  --serviceaccount="${OPERATOR_NS}:${OPERATOR_SA}" >/dev/null
OP_KUBECONFIG="${WORK}/operator.kubeconfig"
kubectl config view --raw --minify >"${OP_KUBECONFIG}"
token="$(kubectl create token "${OPERATOR_SA}" -n "${OPERATOR_NS}" --duration=48h)"
KUBECONFIG="${OP_KUBECONFIG}" kubectl config set-credentials bench-operator --token="${token}" >/dev/null
KUBECONFIG="${OP_KUBECONFIG}" kubectl config set-context --current --user=bench-operator >/dev/null
KUBECONFIG="${OP_KUBECONFIG}" kubectl auth whoami -o jsonpath='{.status.userInfo.username}' | grep -qx "${OPERATOR_USER}" \
  || die "the operator's kubeconfig does not authenticate as ${OPERATOR_USER}"

python3 bench/report.py facts --root "${ROOT}" --cluster-nodes "$(kubectl get nodes --no-headers | wc -l)" \
  --qps "${QPS}" --burst "${BURST}" --idle "${IDLE}" --sizes "${SIZES}" >"${WORK}/facts.json"

timeout_for() { python3 -c "print(int(${TIMEOUT_BASE} + $1 * ${TIMEOUT_PER_OBJECT}))"; }
now() { date +%s.%N; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# /proc facts of the operator: peak and current RSS (KiB), CPU seconds (user + system).
proc_facts() {
  local pid=$1 hwm rss ticks
  hwm="$(awk '/^VmHWM:/ {print $2}' "/proc/${pid}/status")"
  rss="$(awk '/^VmRSS:/ {print $2}' "/proc/${pid}/status")"
  ticks="$(awk '{print $14 + $15}' "/proc/${pid}/stat")"
  python3 -c "import json,os; print(json.dumps({'peak_rss_kib': ${hwm}, 'rss_kib': ${rss}, 'cpu_s': ${ticks} / os.sysconf('SC_CLK_TCK')}))"
}

# run_recorder NAME ARGS...: the loader/recorder, with its summary in $WORK/<size>/NAME.json.
run_recorder() {
  local name=$1; shift
  local t0 rc=0
  t0="$(loadavg)"
  "${RECORDER_BIN}" --concurrency "${CONCURRENCY}" --out "${DIR}/${name}.json" "$@" >/dev/null || rc=$?
  python3 bench/report.py annotate "${DIR}/${name}.json" --load-before "${t0}" --load-after "$(loadavg)"
  [[ ${rc} -eq 0 ]] || die "${name}: the recorder failed or timed out (exit ${rc}; summary in ${DIR}/${name}.json)"
  log "${name}: $(python3 bench/report.py brief "${DIR}/${name}.json")"
}

wait_namespace_gone() {
  local ns=$1 timeout=$2 t0=${SECONDS}
  while kubectl get namespace "${ns}" >/dev/null 2>&1; do
    if ((SECONDS - t0 >= timeout)); then
      log "warning: namespace ${ns} still terminating after ${timeout}s; going on"
      return 0
    fi
    sleep 2
  done
}

for idx in "${!SIZE_LIST[@]}"; do
  N=${SIZE_LIST[$idx]}
  M=$(rollout_of "${N}")
  DIR="${WORK}/${N}"
  mkdir -p "${DIR}"
  left="${SIZE_LIST[*]:$((idx + 1))}"
  log "=== N=${N} (size $((idx + 1)) of ${#SIZE_LIST[@]}; after it: ${left:-nothing})"
  python3 bench/report.py inputs --n "${N}" --rollout "${M}" --out "${DIR}"
  "${OPERATOR_BIN}" render -f "${DIR}/services.yaml" >"${DIR}/native.yaml" 2>"${DIR}/render.stderr" \
    || die "render failed: $(cat "${DIR}/render.stderr")"
  rendered="$(grep -c '^kind: Deployment$' "${DIR}/native.yaml" || true)"
  [[ "${rendered}" -eq "${N}" ]] || die "render made ${rendered} Deployments of ${N} Services"
  timeout="$(timeout_for "${N}")"

  phase "N=${N} native: ${N} rendered Deployments applied directly (timeout ${timeout}s)"
  kubectl create namespace "bench-native-${N}" >/dev/null
  run_recorder native --mode native --namespace "bench-native-${N}" --apply "${DIR}/native.yaml" \
    --expect "${N}" --timeout "${timeout}"
  PHASES_DONE=$((PHASES_DONE + 1))

  phase "N=${N} operator: ${N} Services + 2 TaskDefinitions through the operator (timeout ${timeout}s)"
  kubectl create namespace "bench-op-${N}" >/dev/null
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  KUBECONFIG="${OP_KUBECONFIG}" "${OPERATOR_BIN}" run --namespace "bench-op-${N}" --leader-elect false \
    --http-addr "127.0.0.1:${port}" >"${DIR}/operator.log" 2>&1 &
  OPERATOR_PID=$!
  for _ in $(seq 1 60); do
    curl -fsS "http://127.0.0.1:${port}/readyz" >/dev/null 2>&1 && break
    kill -0 "${OPERATOR_PID}" 2>/dev/null || die "the operator exited: $(tail -20 "${DIR}/operator.log")"
    sleep 1
  done
  curl -fsS "http://127.0.0.1:${port}/readyz" >/dev/null || die "the operator was not ready in 60s: $(tail -20 "${DIR}/operator.log")"
  proc_facts "${OPERATOR_PID}" >"${DIR}/proc-start.json"
  run_recorder operator --mode operator --namespace "bench-op-${N}" --apply "${DIR}/services.yaml" \
    --expect "${N}" --timeout "${timeout}"
  proc_facts "${OPERATOR_PID}" >"${DIR}/proc-created.json"
  PHASES_DONE=$((PHASES_DONE + 1))

  rollout_timeout="$(timeout_for "${M}")"
  phase "N=${N} rollout: a new revision of bench-roll, followed by ${M} Services, to all COMPLETED (timeout ${rollout_timeout}s)"
  run_recorder rollout --mode rollout --namespace "bench-op-${N}" --apply "${DIR}/rollout.yaml" \
    --expect "${M}" --expect-task-definition bench-roll:2 --timeout "${rollout_timeout}"
  proc_facts "${OPERATOR_PID}" >"${DIR}/proc-rolled.json"
  PHASES_DONE=$((PHASES_DONE + 1))

  phase "N=${N} idle: settle ${SETTLE}s, count the operator's API requests for ${IDLE}s, then a no-op reconcile of every Service"
  sleep "${SETTLE}"
  i0="$(now)"; p0="$(proc_facts "${OPERATOR_PID}")"
  for ((s = 0; s < IDLE; s += 60)); do
    log "idle window: $((IDLE - s))s left"
    sleep $((IDLE - s < 60 ? IDLE - s : 60))
  done
  i1="$(now)"; p1="$(proc_facts "${OPERATOR_PID}")"
  kubectl annotate ecssvc --all -n "bench-op-${N}" --overwrite "bench.ecs-operator.io/touched=${STAMP}" >/dev/null
  noop_wait=$((20 + N / 100))
  log "no-op reconcile: every Service touched; counting requests for ${noop_wait}s"
  sleep "${noop_wait}"
  n1="$(now)"
  [[ -f "${CLUSTER_LOGS}/audit.log" ]] || die "the API server wrote no audit log (${CLUSTER_LOGS}/audit.log)"
  python3 bench/report.py audit --log "${CLUSTER_LOGS}/audit.log" --user "${OPERATOR_USER}" \
    --window "${i0}" "${i1}" --noop-window "${i1}" "${n1}" --services "${N}" \
    --proc-idle-start "${p0}" --proc-idle-end "${p1}" >"${DIR}/idle.json"
  log "idle: $(python3 bench/report.py brief "${DIR}/idle.json")"
  PHASES_DONE=$((PHASES_DONE + 1))

  stop_operator
  log "N=${N}: deleting the benchmark namespaces"
  kubectl delete namespace "bench-native-${N}" "bench-op-${N}" --wait=false >/dev/null
  wait_namespace_gone "bench-native-${N}" $((120 + N / 20))
  wait_namespace_gone "bench-op-${N}" $((120 + N / 20))
done

mkdir -p "${OUT_DIR}"
base="${OUT_DIR}/${STAMP}-n${SIZES//,/-}"
python3 bench/report.py report --work "${WORK}" --sizes "${SIZES}" --json "${base}.json" --markdown "${base}.md"
log "results: ${base}.md and ${base}.json"
cat "${base}.md"
