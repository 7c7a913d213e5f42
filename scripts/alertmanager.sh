#!/usr/bin/env bash
# A real Alertmanager for the deployment-alarm tests (deploymentConfiguration.alarms): built from
# its published Go module (pinned in scripts/versions.env), run on a free 127.0.0.1 port with a
# single null receiver and cluster mode off.
#
#   scripts/alertmanager.sh build          build into $CACHE/alertmanager-<version>/bin (skips when built)
#   scripts/alertmanager.sh up             start it (builds first), wait for /-/ready; idempotent
#   scripts/alertmanager.sh down           stop it (TERM, then KILL after 10s); idempotent
#   scripts/alertmanager.sh env            print `export ECS_ALERTMANAGER_URL=http://127.0.0.1:<port>`
#   scripts/alertmanager.sh status         url, pid and the active alerts (exit 1 when not running)
#   scripts/alertmanager.sh fire NAME [LABEL=VALUE...]      POST an alert alertname=NAME (+labels), startsAt now
#   scripts/alertmanager.sh resolve NAME [LABEL=VALUE...]   POST the same alert with endsAt now (resolves it)
#
# Environment:
#   ECS_OPERATOR_CACHE      cache root (default ~/.cache/ecs-operator); the binary lives in
#                           $CACHE/alertmanager-<version>/bin, logs in $CACHE/logs/alertmanager-*.log
#   ECS_ALERTMANAGER_NAME   instance name (default: $ECS_CLUSTER_NAME, else ecs-operator): pid, url,
#                           config and storage live in $CACHE/alertmanager-state/<name>
#   GO                      go binary (default: `go` on PATH, else /usr/local/go/bin/go)
#
# Alerts posted without endsAt (fire) get endsAt = now + resolve_timeout (5m) from Alertmanager and
# are re-posted by real alert sources; `fire` again within 5 minutes to keep one active longer.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "${SCRIPT_DIR}/versions.env"
CACHE="${ECS_OPERATOR_CACHE:-${HOME}/.cache/ecs-operator}"
MODULE=github.com/prometheus/alertmanager
BIN_DIR="${CACHE}/alertmanager-${ALERTMANAGER_VERSION}/bin"
BIN="${BIN_DIR}/alertmanager"
NAME="${ECS_ALERTMANAGER_NAME:-${ECS_CLUSTER_NAME:-ecs-operator}}"
[[ "${NAME}" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || { echo "[alertmanager.sh] ERROR: bad instance name '${NAME}'" >&2; exit 2; }
STATE="${CACHE}/alertmanager-state/${NAME}"
LOCK_FILE="${CACHE}/locks/alertmanager-${NAME}.lock"

log() { printf '[alertmanager.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[alertmanager.sh] ERROR: %s\n' "$*" >&2; exit 1; }

find_go() {
  if [[ -n "${GO:-}" ]]; then
    command -v "${GO}" >/dev/null 2>&1 || die "GO=${GO} is not an executable"
  elif command -v go >/dev/null 2>&1; then
    GO="$(command -v go)"
  elif [[ -x /usr/local/go/bin/go ]]; then
    GO=/usr/local/go/bin/go
  else
    die "Go is needed to build Alertmanager: put go on PATH or set GO=/path/to/go"
  fi
  # Never fetch another toolchain; static binary; keep the caller's GOFLAGS (e.g. -p=1).
  export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -buildvcs=false"
}

# ---------------------------------------------------------------------------------------------
# build
# ---------------------------------------------------------------------------------------------

# Bump RECIPE when the way the binary is built changes (the stamp then no longer matches).
RECIPE=2

cmd_build() {
  find_go
  local gover fp
  gover="$("${GO}" env GOVERSION)"
  fp="recipe=${RECIPE} alertmanager=${ALERTMANAGER_VERSION} go=${gover}"
  if [[ -x "${BIN}" && -f "${BIN_DIR}/.stamp" && "$(<"${BIN_DIR}/.stamp")" == "${fp}" ]]; then
    log "alertmanager ${ALERTMANAGER_VERSION}: already built (${BIN})"
    return 0
  fi
  local t0=$SECONDS out dir gomod need
  if ! out="$("${GO}" mod download -json "${MODULE}@${ALERTMANAGER_VERSION}" 2>&1)"; then
    die "could not download ${MODULE}@${ALERTMANAGER_VERSION} from the Go module proxy: ${out//$'\n'/ }"
  fi
  dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"${out}")"
  gomod="$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p' <<<"${out}")"
  [[ -d "${dir}/cmd/alertmanager" ]] || die "${MODULE}@${ALERTMANAGER_VERSION}: no cmd/alertmanager in ${dir}"
  need="$(sed -n 's/^go \([0-9.]*\).*/\1/p' "${gomod}")"
  if [[ -n "${need}" && "$(printf '%s\n%s\n' "${need}" "${gover#go}" | sort -V | head -n1)" != "${need}" ]]; then
    die "${MODULE}@${ALERTMANAGER_VERSION} needs go ${need}, this is ${gover}: pin an older ALERTMANAGER_VERSION in scripts/versions.env"
  fi
  # The module zip has no ui/app/dist (built by npm, //go:embed'ed by ui/web.go): build in a copy
  # of the module with a placeholder page there. The HTTP API (/api/v2) needs no UI.
  local src="${CACHE}/alertmanager-src-${ALERTMANAGER_VERSION}"
  rm -rf "${src}"
  cp -r "${dir}" "${src}"
  chmod -R u+w "${src}"
  mkdir -p "${src}/ui/app/dist" "${BIN_DIR}"
  echo '<!doctype html><title>Alertmanager</title><p>UI not built: API only (scripts/alertmanager.sh)</p>' \
    >"${src}/ui/app/dist/index.html"
  local p=github.com/prometheus/common/version
  local ldflags="-s -w -X ${p}.Version=${ALERTMANAGER_VERSION#v} -X ${p}.Branch=HEAD -X ${p}.BuildUser=ecs-operator-scripts"
  log "building alertmanager ${ALERTMANAGER_VERSION} with ${gover} (GOFLAGS=${GOFLAGS})"
  (cd "${src}" && "${GO}" build -trimpath -ldflags "${ldflags}" -o "${BIN}.tmp" ./cmd/alertmanager) \
    || die "go build of ${MODULE}@${ALERTMANAGER_VERSION} failed (see above)"
  # The whole output first: `cmd | grep -q` under pipefail fails at random (SIGPIPE).
  local reported
  reported="$("${BIN}.tmp" --version 2>&1)"
  [[ "${reported}" == *"version ${ALERTMANAGER_VERSION#v} "* ]] \
    || die "the built binary reports '${reported%%$'\n'*}', expected ${ALERTMANAGER_VERSION}"
  mv "${BIN}.tmp" "${BIN}"
  echo "${fp}" >"${BIN_DIR}/.stamp"
  rm -rf "${src}"
  log "built in $((SECONDS - t0))s: ${BIN}"
}

# ---------------------------------------------------------------------------------------------
# lifecycle
# ---------------------------------------------------------------------------------------------

with_lock() {
  mkdir -p "$(dirname "${LOCK_FILE}")"
  exec 9>"${LOCK_FILE}"
  flock -w 120 9 || die "another alertmanager.sh up/down for '${NAME}' holds ${LOCK_FILE} (waited 120s)"
  "$@"
}

url() { [[ -f "${STATE}/url" ]] && cat "${STATE}/url"; }

# The recorded pid, if that process is alive and is our alertmanager (not a reused pid).
our_pid() {
  [[ -f "${STATE}/pid" ]] || return 1
  local pid
  pid="$(<"${STATE}/pid")"
  [[ "${pid}" =~ ^[0-9]+$ ]] && kill -0 "${pid}" 2>/dev/null || return 1
  [[ "$(tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null)" == "${BIN} "* ]] || return 1
  echo "${pid}"
}

ready() { curl -fsS --max-time 2 "$(url)/-/ready" >/dev/null 2>&1; }

running() { our_pid >/dev/null && ready; }

# alive PID: running (a zombie is gone for our purposes).
alive() { kill -0 "$1" 2>/dev/null && [[ "$(ps -o stat= -p "$1" 2>/dev/null)" != Z* ]]; }

# stop PID: TERM, wait up to 10s, then KILL and wait up to 5s more.
stop() {
  local pid="$1"
  kill "${pid}" 2>/dev/null || return 0
  for _ in $(seq 1 20); do
    alive "${pid}" || return 0
    sleep 0.5
  done
  log "pid ${pid} still running after 10s: SIGKILL"
  kill -9 "${pid}" 2>/dev/null || true
  for _ in $(seq 1 10); do
    alive "${pid}" || return 0
    sleep 0.5
  done
  die "pid ${pid} survived SIGKILL"
}

clean_state() {
  local d
  for d in "${STATE}"/storage.*; do [[ -d "${d}" ]] && rm -rf "${d}"; done
  rm -f "${STATE}/pid" "${STATE}/url"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cmd_up() {
  command -v curl >/dev/null 2>&1 || die "curl is needed"
  command -v python3 >/dev/null 2>&1 || die "python3 is needed (to pick a free port)"
  cmd_build
  local pid
  if pid="$(our_pid)"; then
    # Alive: give it 10s to answer (it may be starting), else replace it.
    local t0=$SECONDS
    while ((SECONDS - t0 < 10)); do
      if ready; then log "'${NAME}' already running at $(url) (pid ${pid})"; return 0; fi
      sleep 0.5
    done
    log "pid ${pid} is alive but $(url)/-/ready does not answer after 10s: restarting it"
    stop "${pid}"
  fi
  clean_state
  mkdir -p "${STATE}" "${CACHE}/logs"
  cat >"${STATE}/alertmanager.yml" <<'YAML'
# Generated by ecs-operator scripts/alertmanager.sh: every alert goes to a receiver that sends nothing.
route:
  receiver: "null"
receivers:
  - name: "null"
YAML
  local attempt port storage log_file
  for attempt in 1 2 3; do
    port="$(free_port)"
    storage="$(mktemp -d "${STATE}/storage.XXXXXX")"
    log_file="${CACHE}/logs/alertmanager-${NAME}-$(date +%Y%m%d-%H%M%S).log"
    # 9>&-: the daemon must not inherit (and hold) the lock.
    nohup "${BIN}" --config.file="${STATE}/alertmanager.yml" --storage.path="${storage}" \
      --web.listen-address="127.0.0.1:${port}" --cluster.listen-address="" \
      >"${log_file}" 2>&1 </dev/null 9>&- &
    pid=$!
    echo "${pid}" >"${STATE}/pid"
    echo "http://127.0.0.1:${port}" >"${STATE}/url"
    ln -sfn "${log_file}" "${STATE}/log"
    for _ in $(seq 1 60); do
      if ready; then
        log "'${NAME}' up at $(url) (pid ${pid}, log ${log_file})"
        return 0
      fi
      kill -0 "${pid}" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "${pid}" 2>/dev/null; then
      stop "${pid}"
      clean_state
      die "alertmanager did not answer $(url)/-/ready within 30s (log ${log_file})"
    fi
    log "alertmanager exited (attempt ${attempt}, port ${port}):"
    tail -n 5 "${log_file}" >&2
    clean_state
  done
  die "alertmanager did not start in 3 attempts (log ${log_file})"
}

cmd_down() {
  local pid
  if pid="$(our_pid)"; then
    stop "${pid}"
    log "'${NAME}' stopped (pid ${pid}, was $(url))"
  else
    log "'${NAME}' is not running"
  fi
  clean_state
}

cmd_env() {
  running || die "alertmanager '${NAME}' is not running: scripts/alertmanager.sh up"
  echo "export ECS_ALERTMANAGER_URL=$(url)"
}

cmd_status() {
  if ! running; then
    echo "alertmanager '${NAME}': down"
    return 1
  fi
  echo "alertmanager '${NAME}': up   url=$(url)   pid=$(our_pid)   version=${ALERTMANAGER_VERSION}"
  echo "active alerts:"
  curl -fsS --max-time 5 "$(url)/api/v2/alerts?active=true" \
    | jq -r '.[] | "  \(.labels | to_entries | map("\(.key)=\(.value)") | join(","))  \(.status.state)  startsAt=\(.startsAt) endsAt=\(.endsAt)"'
}

# post_alert FIELD NAME [LABEL=VALUE...]: POST one alert with FIELD (startsAt or endsAt) = now.
post_alert() {
  local field="$1" name="$2"; shift 2
  command -v jq >/dev/null 2>&1 || die "jq is needed"
  running || die "alertmanager '${NAME}' is not running: scripts/alertmanager.sh up"
  local labels kv
  labels="$(jq -nc --arg n "${name}" '{alertname: $n}')"
  for kv in "$@"; do
    [[ "${kv}" == *=* ]] || die "'${kv}' is not LABEL=VALUE"
    [[ "${kv%%=*}" =~ ^[a-zA-Z_][a-zA-Z0-9_]*$ ]] || die "'${kv%%=*}' is not a valid label name"
    labels="$(jq -c --arg k "${kv%%=*}" --arg v "${kv#*=}" '. + {($k): $v}' <<<"${labels}")"
  done
  local now body code
  now="$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)"
  body="$(jq -nc --argjson l "${labels}" --arg f "${field}" --arg t "${now}" '[{labels: $l, ($f): $t}]')"
  code="$(curl -sS --max-time 10 -o "${STATE}/last-response" -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' --data "${body}" "$(url)/api/v2/alerts")" || die "POST $(url)/api/v2/alerts failed"
  [[ "${code}" == 200 ]] || die "POST $(url)/api/v2/alerts: HTTP ${code}: $(cat "${STATE}/last-response")"
  log "${body}"
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

main() {
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "${cmd}" in
    build) cmd_build ;;
    up) with_lock cmd_up ;;
    down) with_lock cmd_down ;;
    env) cmd_env ;;
    status) cmd_status ;;
    fire) [[ $# -ge 1 ]] || die "usage: fire NAME [LABEL=VALUE...]"; post_alert startsAt "$@" ;;
    resolve) [[ $# -ge 1 ]] || die "usage: resolve NAME [LABEL=VALUE...]"; post_alert endsAt "$@" ;;
    -h|--help|help) usage ;;
    *) usage >&2; die "unknown subcommand '${cmd}'" ;;
  esac
}

main "$@"
