#!/usr/bin/env bash
# The chart's monitoring: its Grafana dashboard and PrometheusRule, rendered by `helm template`
# with both on, checked against the metrics the operator really exports.
#
#   scripts/test-monitoring.sh           build/cache promtool, then run every check
#   scripts/test-monitoring.sh build     only build promtool into $CACHE/promtool-<version>/bin
#
# Checks: `promtool check rules` on the rendered rule's spec; `promtool test rules` on
# tests/monitoring/*.test.yaml (each alert fires on its input series and stays silent on others);
# the dashboard ConfigMap's JSON parses; every metric the dashboard and the rules query is in
# tests/fixtures/metrics-names.txt (kept equal to what Metrics encodes by the unit test
# controller::metrics::tests::every_family_is_in_the_names_fixture). Needs no cluster.
#
# Environment:
#   ECS_OPERATOR_CACHE   cache root (default ~/.cache/ecs-operator)
#   GO                   go binary (default: `go` on PATH, else /usr/local/go/bin/go)
#   HELM                 helm binary (default: `helm` on PATH, else the one scripts/cluster.sh built)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${SCRIPT_DIR}/.." && pwd)"
# shellcheck source=versions.env
source "${SCRIPT_DIR}/versions.env"
CACHE="${ECS_OPERATOR_CACHE:-${HOME}/.cache/ecs-operator}"
MODULE=github.com/prometheus/prometheus
BIN_DIR="${CACHE}/promtool-${PROMTOOL_VERSION}/bin"
BIN="${BIN_DIR}/promtool"
CHART="${ROOT}/charts/ecs-operator"
FIXTURE="${ROOT}/tests/fixtures/metrics-names.txt"

log() { printf '[test-monitoring.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[test-monitoring.sh] ERROR: %s\n' "$*" >&2; exit 1; }

find_go() {
  if [[ -n "${GO:-}" ]]; then
    command -v "${GO}" >/dev/null 2>&1 || die "GO=${GO} is not an executable"
  elif command -v go >/dev/null 2>&1; then
    GO="$(command -v go)"
  elif [[ -x /usr/local/go/bin/go ]]; then
    GO=/usr/local/go/bin/go
  else
    die "Go is needed to build promtool: put go on PATH or set GO=/path/to/go"
  fi
  # Never fetch another toolchain; static binary; keep the caller's GOFLAGS (e.g. -p=1).
  export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -buildvcs=false"
}

# Bump RECIPE when the way the binary is built changes (the stamp then no longer matches).
RECIPE=1

# As scripts/alertmanager.sh builds Alertmanager: the module from the Go module proxy, its go.mod's
# Go version checked, built in a writable copy, the version the binary reports checked.
build_promtool() {
  find_go
  local gover fp
  gover="$("${GO}" env GOVERSION)"
  fp="recipe=${RECIPE} promtool=${PROMTOOL_VERSION} go=${gover}"
  if [[ -x "${BIN}" && -f "${BIN_DIR}/.stamp" && "$(<"${BIN_DIR}/.stamp")" == "${fp}" ]]; then
    log "promtool ${PROMTOOL_VERSION}: already built (${BIN})"
    return 0
  fi
  local t0=$SECONDS out dir gomod need
  if ! out="$("${GO}" mod download -json "${MODULE}@${PROMTOOL_VERSION}" 2>&1)"; then
    die "could not download ${MODULE}@${PROMTOOL_VERSION} from the Go module proxy: ${out//$'\n'/ }"
  fi
  dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"${out}")"
  gomod="$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p' <<<"${out}")"
  [[ -d "${dir}/cmd/promtool" ]] || die "${MODULE}@${PROMTOOL_VERSION}: no cmd/promtool in ${dir}"
  need="$(sed -n 's/^go \([0-9.]*\).*/\1/p' "${gomod}")"
  if [[ -n "${need}" && "$(printf '%s\n%s\n' "${need}" "${gover#go}" | sort -V | head -n1)" != "${need}" ]]; then
    die "${MODULE}@${PROMTOOL_VERSION} needs go ${need}, this is ${gover}: pin an older PROMTOOL_VERSION in scripts/versions.env"
  fi
  # The module cache is read-only: build in a copy (go may need to write go.sum entries).
  local src="${CACHE}/promtool-src-${PROMTOOL_VERSION}"
  rm -rf "${src}"
  cp -r "${dir}" "${src}"
  chmod -R u+w "${src}"
  mkdir -p "${BIN_DIR}"
  local p=github.com/prometheus/common/version
  local ldflags="-s -w -X ${p}.Version=${PROMTOOL_VERSION#v} -X ${p}.Branch=HEAD -X ${p}.BuildUser=ecs-operator-scripts"
  log "building promtool ${PROMTOOL_VERSION} with ${gover} (GOFLAGS=${GOFLAGS})"
  # The zip carries the repository's go.work, whose other modules it omits: build this module alone.
  (cd "${src}" && GOWORK=off "${GO}" build -trimpath -ldflags "${ldflags}" -o "${BIN}.tmp" ./cmd/promtool) \
    || die "go build of ${MODULE}@${PROMTOOL_VERSION} ./cmd/promtool failed (see above)"
  # The whole output first: `cmd | grep -q` under pipefail fails at random (SIGPIPE).
  local reported
  reported="$("${BIN}.tmp" --version 2>&1)"
  [[ "${reported}" == *"version ${PROMTOOL_VERSION#v} "* ]] \
    || die "the built binary reports '${reported%%$'\n'*}', expected ${PROMTOOL_VERSION}"
  mv "${BIN}.tmp" "${BIN}"
  echo "${fp}" >"${BIN_DIR}/.stamp"
  rm -rf "${src}"
  log "built in $((SECONDS - t0))s: ${BIN}"
}

if [[ "${1:-}" == build ]]; then
  build_promtool
  exit 0
fi

find_helm() {
  if [[ -n "${HELM:-}" ]]; then
    command -v "${HELM}" >/dev/null 2>&1 || die "HELM=${HELM} is not an executable"
  elif [[ -x "${CACHE}/helm-${HELM_VERSION}/bin/helm" ]]; then
    # Where scripts/cluster.sh build puts it (its `env` puts this directory on PATH).
    HELM="${CACHE}/helm-${HELM_VERSION}/bin/helm"
  elif command -v helm >/dev/null 2>&1; then
    HELM="$(command -v helm)"
  else
    die "helm is needed: run scripts/cluster.sh build (it builds helm ${HELM_VERSION}) or set HELM"
  fi
}

build_promtool
find_helm
command -v python3 >/dev/null 2>&1 || die "python3 is needed (YAML/JSON extraction)"
echo "promtool: $("${BIN}" --version 2>&1 | head -n1)"
echo "helm: $("${HELM}" version --short 2>&1)"

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

# The chart with both on; the release name makes the job ecs-operator-metrics, as the tests expect.
echo "== helm template (grafanaDashboard.enabled, prometheusRule.enabled)"
"${HELM}" template ecs-operator "${CHART}" -n ecs-operator-system \
  --set grafanaDashboard.enabled=true --set prometheusRule.enabled=true \
  --show-only templates/prometheusrule.yaml --show-only templates/grafana-dashboard.yaml \
  >"${work}/rendered.yaml"

# The PrometheusRule's spec is a Prometheus rules file; the dashboard is the ConfigMap's JSON.
# Parsed with PyYAML (python3 -c 'import yaml' must work).
python3 - "${work}" <<'PY'
import json, pathlib, sys
import yaml
work = pathlib.Path(sys.argv[1])
docs = [d for d in yaml.safe_load_all((work / "rendered.yaml").read_text()) if d]
rules = [d for d in docs if d["kind"] == "PrometheusRule"]
maps = [d for d in docs if d["kind"] == "ConfigMap"]
assert len(rules) == 1 and len(maps) == 1, f"expected one PrometheusRule and one ConfigMap, got {[d['kind'] for d in docs]}"
assert maps[0]["metadata"]["labels"].get("grafana_dashboard") == "1", "the dashboard ConfigMap lacks grafana_dashboard: \"1\""
(work / "rules.yaml").write_text(yaml.safe_dump(rules[0]["spec"], sort_keys=False))
(data,) = maps[0]["data"].values()
dash = json.loads(data)  # fails here when the dashboard JSON does not parse
exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
exprs += [v["query"]["query"] for v in dash["templating"]["list"] if isinstance(v.get("query"), dict)]
(work / "dashboard.exprs").write_text("\n".join(exprs) + "\n")
(work / "rules.exprs").write_text("\n".join(r["expr"] for g in rules[0]["spec"]["groups"] for r in g["rules"]) + "\n")
print(f"dashboard JSON parses: {len(dash['panels'])} panels, {len(exprs)} queries; "
      f"{sum(len(g['rules']) for g in rules[0]['spec']['groups'])} alerting rules")
PY

echo "== promtool check rules"
"${BIN}" check rules "${work}/rules.yaml"

echo "== promtool test rules (tests/monitoring/*.test.yaml)"
shopt -s nullglob
tests=("${ROOT}"/tests/monitoring/*.test.yaml)
[[ ${#tests[@]} -gt 0 ]] || die "no tests/monitoring/*.test.yaml"
for t in "${tests[@]}"; do
  cp "${t}" "${work}/"
  "${BIN}" test rules "${work}/$(basename "${t}")"
done

# Every ecs_operator_* name (and up, Prometheus' own) queried must be one the operator exports.
echo "== metric names used vs tests/fixtures/metrics-names.txt"
python3 - "${work}" "${FIXTURE}" <<'PY'
import pathlib, re, sys
work, fixture = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
known = {l.strip() for l in fixture.read_text().splitlines() if l.strip() and not l.startswith("#")}
bad = 0
for src in ("dashboard", "rules"):
    used = set(re.findall(r"\becs_operator_[a-z0-9_]+", (work / f"{src}.exprs").read_text()))
    missing = sorted(used - known)
    print(f"{src}: {len(used)} operator metrics used, {len(missing)} not exported{': ' + ', '.join(missing) if missing else ''}")
    bad += len(missing)
sys.exit(1 if bad else 0)
PY
echo "test-monitoring: all checks passed"
