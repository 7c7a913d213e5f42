#!/usr/bin/env bash
# GitOps health tests: the Argo CD health checks (config/gitops/argocd-health/*.lua) run in a
# real Lua interpreter — lua5.4, and lua5.1 too (Argo CD's gopher-lua has 5.1 semantics) —
# in Argo CD's own code (hack/argocd-lua: the argo-cd Go module's util/settings + util/lua, with
# its library restrictions; also the Service resource actions, tests/gitops/actions.tsv),
# and kstatus (sigs.k8s.io/cli-utils, what Flux uses), all against the status fixtures in
# tests/gitops/ with the expectations in tests/gitops/cases.tsv. Also checks that
# argocd-cm.yaml embeds the .lua files verbatim. No cluster needed.
#
#   scripts/test-gitops.sh            prints one line per check, then "N passed, N failed"
#
# Installs Debian's lua5.4 (and lua5.1) with apt-get when missing (as root), and builds
# hack/kstatus-check and hack/argocd-lua into $ECS_OPERATOR_CACHE/ (Go >= 1.26, Go module proxy).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CACHE="${ECS_OPERATOR_CACHE:-${HOME}/.cache/ecs-operator}"
KSTATUS_DIR="${CACHE}/kstatus-check"
KSTATUS="${KSTATUS_DIR}/kstatus-check"
HEALTH_DIR=config/gitops/argocd-health
CASES=tests/gitops/cases.tsv

log() { printf '[test-gitops] %s\n' "$*" >&2; }
die() { printf '[test-gitops] ERROR: %s\n' "$*" >&2; exit 1; }

# --- tools --------------------------------------------------------------------------------
apt_install() {
  [[ $(id -u) -eq 0 ]] || return 1
  command -v apt-get >/dev/null 2>&1 || return 1
  log "apt-get install -y $*"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 || return 1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1 || return 1
  fi
}
missing=()
command -v lua5.4 >/dev/null 2>&1 || missing+=(lua5.4)
command -v lua5.1 >/dev/null 2>&1 || missing+=(lua5.1)
if (( ${#missing[@]} )); then
  apt_install "${missing[@]}" || log "could not install ${missing[*]}"
fi
command -v lua5.4 >/dev/null 2>&1 || die "lua5.4 is required (apt-get install lua5.4)"
LUAS=(lua5.4)
if command -v lua5.1 >/dev/null 2>&1; then LUAS+=(lua5.1); else log "lua5.1 not found: Lua 5.1 (Argo CD) semantics not checked"; fi

find_go() {
  if [[ -n "${GO:-}" ]]; then echo "${GO}"; return; fi
  if command -v go >/dev/null 2>&1; then command -v go; return; fi
  [[ -x /usr/local/go/bin/go ]] && { echo /usr/local/go/bin/go; return; }
  return 1
}
stale=0
if [[ ! -x "${KSTATUS}" ]]; then
  stale=1
else
  for f in hack/kstatus-check/main.go hack/kstatus-check/go.mod hack/kstatus-check/go.sum; do
    [[ "$f" -nt "${KSTATUS}" ]] && stale=1
  done
fi
if (( stale )); then
  go_bin="$(find_go)" || die "Go >= 1.26 is needed to build hack/kstatus-check"
  log "building hack/kstatus-check -> ${KSTATUS}"
  mkdir -p "${KSTATUS_DIR}"
  (cd hack/kstatus-check && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
    "${go_bin}" build -trimpath -o "${KSTATUS}.tmp" .) || die "go build hack/kstatus-check failed"
  mv "${KSTATUS}.tmp" "${KSTATUS}"
fi

# Argo CD's own Lua environment: hack/argocd-lua (argo-cd v2.14's util/lua; see its go.mod).
ARGOCD_LUA_DIR="${CACHE}/argocd-lua"
ARGOCD_LUA="${ARGOCD_LUA_DIR}/argocd-lua"
stale=0
if [[ ! -x "${ARGOCD_LUA}" ]]; then
  stale=1
else
  for f in hack/argocd-lua/main.go hack/argocd-lua/go.mod hack/argocd-lua/go.sum; do
    [[ "$f" -nt "${ARGOCD_LUA}" ]] && stale=1
  done
fi
if (( stale )); then
  go_bin="$(find_go)" || die "Go >= 1.26 is needed to build hack/argocd-lua"
  log "building hack/argocd-lua (Argo CD's util/lua) -> ${ARGOCD_LUA} (a few minutes the first time)"
  mkdir -p "${ARGOCD_LUA_DIR}"
  (cd hack/argocd-lua && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
    nice -n 10 "${go_bin}" build -trimpath -o "${ARGOCD_LUA}.tmp" .) || die "go build hack/argocd-lua failed"
  mv "${ARGOCD_LUA}.tmp" "${ARGOCD_LUA}"
fi

# --- checks -------------------------------------------------------------------------------
passed=0
failed=0
pass() { passed=$((passed + 1)); printf 'ok    %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL  %s\n' "$*"; }

# Health checks and Service actions through Argo CD's util/lua: its ok/FAIL lines count here.
argo_version="$(sed -n 's#^[[:space:]]*github.com/argoproj/argo-cd/v2 \(v[^ ]*\)$#\1#p' hack/argocd-lua/go.mod)"
pinned="$(sed -n 's/^ARGOCD_VERSION=//p' scripts/versions.env)"
if [[ "${argo_version}" == "${pinned}" ]]; then
  pass "hack/argocd-lua/go.mod requires argo-cd ${argo_version} == ARGOCD_VERSION in scripts/versions.env"
else
  fail "hack/argocd-lua/go.mod requires argo-cd '${argo_version}', scripts/versions.env pins ARGOCD_VERSION=${pinned}"
fi
echo "argo-cd ${argo_version} util/lua (gopher-lua $(sed -n 's#^[[:space:]]*github.com/yuin/gopher-lua \(v[^ ]*\).*#\1#p' hack/argocd-lua/go.mod)):"
argo_status=0
argo_out="$("${ARGOCD_LUA}" "${HEALTH_DIR}/argocd-cm.yaml" "${CASES}" tests/gitops/actions.tsv tests/gitops \
  "${HEALTH_DIR}/service-actions" 2>&1)" || argo_status=$?
while IFS= read -r line; do
  case "${line}" in
    "ok    "*) pass "argo-cd ${argo_version}: ${line#ok    }" ;;
    "FAIL  "*) fail "argo-cd ${argo_version}: ${line#FAIL  }" ;;
    *" passed, "*" failed") ;;
    *) echo "${line}" ;;
  esac
done <<<"${argo_out}"
if (( argo_status != 0 )) && ! grep -q '^FAIL  ' <<<"${argo_out}"; then
  fail "hack/argocd-lua exited ${argo_status}"
fi

# argocd-cm.yaml embeds each script verbatim (4-space indented block scalar).
for pair in Service:service Task:task TaskDefinition:taskdefinition; do
  kind="${pair%%:*}"; file="${HEALTH_DIR}/${pair#*:}.lua"
  key="resource.customizations.health.ecs-operator.io_${kind}"
  embedded="$(awk -v key="  ${key}: |" '
    $0 == key { on = 1; next }
    on && /^  [^ ]/ { exit }
    on { sub(/^    /, ""); print }' "${HEALTH_DIR}/argocd-cm.yaml")"
  if [[ "${embedded}" == "$(cat "${file}")" ]]; then
    pass "argocd-cm.yaml ${key} == ${file}"
  else
    fail "argocd-cm.yaml ${key} differs from ${file}"
  fi
done

# kstatus of every fixture, in one run.
declare -A KSTATUS_OF KMSG_OF
mapfile -t fixtures < <(grep -v '^#' "${CASES}" | grep -v '^[[:space:]]*$' | cut -f1)
while IFS=$'\t' read -r file st msg; do
  KSTATUS_OF["${file#tests/gitops/}"]="$st"
  KMSG_OF["${file#tests/gitops/}"]="$msg"
done < <("${KSTATUS}" "${fixtures[@]/#/tests/gitops/}")

while IFS=$'\t' read -r fixture want_argo want_kstatus _rest; do
  [[ -z "${fixture}" || "${fixture}" == \#* ]] && continue
  path="tests/gitops/${fixture}"
  [[ -f "${path}" ]] || { fail "${fixture}: fixture missing"; continue; }
  if [[ "${want_argo}" != "-" ]]; then
    script="${HEALTH_DIR}/${fixture%%/*}.lua"
    for lua in "${LUAS[@]}"; do
      if out="$("${lua}" tests/gitops/health.lua "${script}" "${path}" 2>&1)"; then
        got="${out%%$'\t'*}"; msg="${out#*$'\t'}"
        if [[ "${got}" == "${want_argo}" ]]; then
          pass "${fixture}: argo-cd (${lua}) ${got}: ${msg}"
        else
          fail "${fixture}: argo-cd (${lua}) ${got}, want ${want_argo}: ${msg}"
        fi
      else
        fail "${fixture}: argo-cd (${lua}) script error: ${out}"
      fi
    done
  fi
  if [[ "${want_kstatus}" != "-" ]]; then
    got="${KSTATUS_OF[${fixture}]:-<none>}"
    if [[ "${got}" == "${want_kstatus}" ]]; then
      pass "${fixture}: kstatus ${got}: ${KMSG_OF[${fixture}]:-}"
    else
      fail "${fixture}: kstatus ${got}, want ${want_kstatus}: ${KMSG_OF[${fixture}]:-}"
    fi
  fi
done < "${CASES}"

echo "${passed} passed, ${failed} failed"
(( failed == 0 ))
