#!/usr/bin/env bash
# A real Alertmanager for the deployment-alarm tests (deploymentConfiguration.alarms): built from
# its published Go module (pinned in scripts/versions.env), run on a free local port.
#
#   scripts/alertmanager.sh build          build into $CACHE/alertmanager-<version>/bin (skips when built)
#   scripts/alertmanager.sh up             start it (builds first), wait for /-/ready; idempotent
#   scripts/alertmanager.sh down           stop it
#   scripts/alertmanager.sh env            print `export ECS_ALERTMANAGER_URL=http://127.0.0.1:<port>`
#   scripts/alertmanager.sh fire NAME [LABEL=VALUE...]   POST an alert alertname=NAME (startsAt now)
#   scripts/alertmanager.sh resolve NAME   POST the same alert with endsAt now
#
# Environment: ECS_OPERATOR_CACHE (default ~/.cache/ecs-operator), GO (default `go` on PATH).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "${SCRIPT_DIR}/versions.env"
CACHE="${ECS_OPERATOR_CACHE:-${HOME}/.cache/ecs-operator}"
BIN="${CACHE}/alertmanager-${ALERTMANAGER_VERSION}/bin/alertmanager"
STATE="${CACHE}/alertmanager-state"
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"

log() { printf '[alertmanager.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[alertmanager.sh] ERROR: %s\n' "$*" >&2; exit 1; }

cmd_build() {
  if [[ -x "${BIN}" ]]; then
    log "alertmanager ${ALERTMANAGER_VERSION}: already built (${BIN})"
    return 0
  fi
  [[ -x "${GO}" ]] || die "Go is needed to build Alertmanager (GO=${GO})"
  local t0=$SECONDS dir src
  dir="$("${GO}" mod download -json "github.com/prometheus/alertmanager@${ALERTMANAGER_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -d "${dir}/cmd/alertmanager" ]] || die "github.com/prometheus/alertmanager@${ALERTMANAGER_VERSION} not in the module cache"
  # The module zip has no ui/app/dist (an npm build, embedded): a placeholder page stands in.
  src="${CACHE}/alertmanager-src-${ALERTMANAGER_VERSION}"
  rm -rf "${src}"
  cp -r "${dir}" "${src}"
  chmod -R u+w "${src}"
  mkdir -p "${src}/ui/app/dist"
  echo '<!doctype html><title>Alertmanager</title><p>UI not built: API only (scripts/alertmanager.sh)</p>' >"${src}/ui/app/dist/index.html"
  mkdir -p "$(dirname "${BIN}")"
  log "building alertmanager ${ALERTMANAGER_VERSION}"
  (cd "${src}" && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-buildvcs=false" "${GO}" build -trimpath -o "${BIN}.tmp" ./cmd/alertmanager)
  mv "${BIN}.tmp" "${BIN}"
  log "built in $((SECONDS - t0))s: ${BIN}"
}

url() { [[ -f "${STATE}/url" ]] && cat "${STATE}/url"; }

running() {
  [[ -f "${STATE}/pid" ]] && kill -0 "$(<"${STATE}/pid")" 2>/dev/null && curl -fsS "$(url)/-/ready" >/dev/null 2>&1
}

cmd_up() {
  cmd_build
  if running; then
    log "already running at $(url)"
    return 0
  fi
  mkdir -p "${STATE}/data" "${CACHE}/logs"
  cat >"${STATE}/alertmanager.yml" <<'YAML'
route:
  receiver: "null"
receivers:
  - name: "null"
YAML
  local port
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  local log_file="${CACHE}/logs/alertmanager-$(date +%Y%m%d-%H%M%S).log"
  "${BIN}" --config.file="${STATE}/alertmanager.yml" --storage.path="${STATE}/data" \
    --web.listen-address="127.0.0.1:${port}" --cluster.listen-address="" >"${log_file}" 2>&1 &
  echo $! >"${STATE}/pid"
  echo "http://127.0.0.1:${port}" >"${STATE}/url"
  local i
  for i in $(seq 1 60); do
    if curl -fsS "$(url)/-/ready" >/dev/null 2>&1; then
      log "up at $(url) (log ${log_file})"
      return 0
    fi
    kill -0 "$(<"${STATE}/pid")" 2>/dev/null || { tail -20 "${log_file}" >&2; die "alertmanager exited"; }
    sleep 0.5
  done
  die "alertmanager did not become ready (log ${log_file})"
}

cmd_down() {
  if [[ -f "${STATE}/pid" ]]; then
    kill "$(<"${STATE}/pid")" 2>/dev/null || true
    rm -f "${STATE}/pid" "${STATE}/url"
    log "stopped"
  fi
}

post_alert() {
  local name="$1" field="$2"; shift 2
  running || die "not running: scripts/alertmanager.sh up"
  local labels="\"alertname\":\"${name}\"" kv
  for kv in "$@"; do labels+=",\"${kv%%=*}\":\"${kv#*=}\""; done
  local now; now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  curl -fsS -X POST -H 'Content-Type: application/json' "$(url)/api/v2/alerts" \
    -d "[{\"labels\":{${labels}},\"${field}\":\"${now}\"}]"
  log "${name}: ${field} ${now}"
}

case "${1:-}" in
  build) cmd_build ;;
  up) cmd_up ;;
  down) cmd_down ;;
  env) running || die "not running: scripts/alertmanager.sh up"; echo "export ECS_ALERTMANAGER_URL=$(url)" ;;
  fire) shift; [[ $# -ge 1 ]] || die "usage: fire NAME [LABEL=VALUE...]"; post_alert "$1" startsAt "${@:2}" ;;
  resolve) shift; [[ $# -ge 1 ]] || die "usage: resolve NAME"; post_alert "$1" endsAt "${@:2}" ;;
  *) sed -n '2,12p' "${BASH_SOURCE[0]}"; exit 2 ;;
esac
