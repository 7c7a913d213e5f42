#!/usr/bin/env bash
# Supply-chain checks (README.md "Supply chain"):
#   1. cargo deny check licenses bans sources   (deny.toml: license allow-list, no wildcards,
#                                                crates.io only; duplicates are warnings)
#   2. advisories: cargo audit and cargo deny check advisories, offline, against a local
#      RustSec advisory database (see "advisory database" below); first a self-test: a
#      synthetic advisory against `bytes`, converted from OSV, must be reported by both tools
#   3. SBOM: CycloneDX 1.5 JSON for the ecs-operator binary (cargo cyclonedx), written to
#      target/sbom/ecs-operator.cdx.json (scripts/build-image.sh puts it into the image)
#
#   scripts/supply-chain.sh [--require-advisories]
#   scripts/supply-chain.sh --sbom-only [--target TRIPLE]   (only 3.; used by build-image.sh)
#
# Tools: cargo-deny, cargo-audit, cargo-cyclonedx at the versions pinned in scripts/versions.env,
# built from crates.io (cargo install --locked) into ~/.cache/ecs-operator/tools/<name>-<version>
# the first time and reused after that.
#
# Advisory database, first found of:
#   ADVISORY_DB=DIR      a RustSec advisory-db checkout or copy (DIR/crates/<name>/RUSTSEC-*.md)
#   OSV_CRATES=ZIP|DIR   OSV's crates.io export (all.zip, or a directory of <ID>.json records),
#                        converted by scripts/osv-to-rustsec.py into the RustSec layout
#   ~/.cache/ecs-operator/advisory-db/db   the copy a previous run made from one of those (or
#                        from the clone below); its SOURCE file says where it came from
#   git clone --depth 1 of the RustSec advisory-db, when that host answers (30 s limit)
# Nothing found: the advisory checks are reported as NOT RUN and the script still passes,
# unless --require-advisories (or REQUIRE_ADVISORIES=1) is given.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=versions.env
source scripts/versions.env

log() { printf '[supply-chain] %s\n' "$*" >&2; }
die() { printf '[supply-chain] ERROR: %s\n' "$*" >&2; exit 1; }

require_advisories="${REQUIRE_ADVISORIES:-0}" sbom_only=0 sbom_target=x86_64-unknown-linux-gnu
while (( $# )); do
  case "$1" in
    --require-advisories) require_advisories=1 ;;
    --sbom-only) sbom_only=1 ;;
    --target) sbom_target="${2:?--target needs a triple}"; shift ;;
    -h|--help) sed -n '2,28p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done

cache="${HOME}/.cache/ecs-operator"
tools="${cache}/tools"
target_dir="${CARGO_TARGET_DIR:-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# --- tools --------------------------------------------------------------------------------
install_tool() { # name version
  local name="$1" version="$2" dir="${tools}/$1-$2"
  if [[ -x "${dir}/bin/${name}" ]]; then
    log "${name} ${version}: cached (${dir})"
  else
    local start=$SECONDS
    log "${name} ${version}: building from crates.io (cargo install --locked, ${CARGO_BUILD_JOBS:-all} jobs) ..."
    rm -rf "${dir}.partial"
    # A build directory of its own (kept: a later version bump rebuilds only what changed).
    CARGO_TARGET_DIR="${tools}/build-target" \
      cargo install --locked --quiet --version "=${version}" --root "${dir}.partial" "${name}"
    rm -f "${dir}.partial/.crates.toml" "${dir}.partial/.crates2.json"
    rm -rf "${dir}"
    mv "${dir}.partial" "${dir}"
    log "${name} ${version}: built in $((SECONDS - start))s"
  fi
  PATH="${dir}/bin:${PATH}"
}
# --- SBOM -----------------------------------------------------------------------------------
write_sbom() {
  local sbom_dir="${target_dir}/sbom" summary
  sbom="${sbom_dir}/ecs-operator.cdx.json"
  mkdir -p "${sbom_dir}"
  log "cargo cyclonedx: CycloneDX 1.5 JSON for the ecs-operator binary (${sbom_target}, no dev/build deps)"
  # cargo-cyclonedx writes <bin>_bin.cdx.json next to Cargo.toml: moved out of the work tree.
  cargo cyclonedx --quiet --format json --spec-version 1.5 --describe binaries \
    --target "${sbom_target}" --no-build-deps
  mv ecs-operator_bin.cdx.json "${sbom}"
  rm -f ./*_bin.cdx.json
  summary="$(python3 -c '
import json, sys
b = json.load(open(sys.argv[1]))
names = {c["name"] for c in b.get("components", [])}
assert b.get("bomFormat") == "CycloneDX" and "kube" in names, "not CycloneDX, or no kube component"
n, spec, name = len(b["components"]), b["specVersion"], b["metadata"]["component"]["name"]
print(f"{n} components, CycloneDX {spec}, for {name}")
' "${sbom}")" || die "SBOM ${sbom}: check failed"
  log "SBOM: ${sbom} (${summary})"
}

if (( sbom_only )); then
  install_tool cargo-cyclonedx "${CARGO_CYCLONEDX_VERSION}"
  export PATH
  write_sbom
  exit 0
fi
install_tool cargo-deny "${CARGO_DENY_VERSION}"
install_tool cargo-audit "${CARGO_AUDIT_VERSION}"
install_tool cargo-cyclonedx "${CARGO_CYCLONEDX_VERSION}"
export PATH

# --- licenses, bans, sources ----------------------------------------------------------------
log "cargo deny check licenses bans sources"
deny_out="$(mktemp)"
work="$(mktemp -d "${TMPDIR:-/tmp}/ecs-supply-chain.XXXXXX")"
trap 'rm -rf "${deny_out}" "${work}"' EXIT
if ! cargo deny --color never check --hide-inclusion-graph licenses bans sources >"${deny_out}" 2>&1; then
  cat "${deny_out}" >&2
  die "cargo deny check licenses bans sources failed"
fi
grep -E '^(warning|error)\[' "${deny_out}" >&2 || true
tail -n1 "${deny_out}" >&2
licenses="$(cargo deny --color never list --layout license 2>/dev/null | grep -cE '^[A-Za-z].* \([0-9]+\):' || true)"
crates="$(grep -c '^name = ' Cargo.lock)"
log "licenses in the tree: ${licenses} (all in deny.toml's allow-list); ${crates} packages in Cargo.lock"

# --- advisories -----------------------------------------------------------------------------
# cargo-deny reads a database from <db-path>/<name>-<hash of the db-url>, a git repository (it
# asks git for HEAD's date): the directory name for deny.toml's db-url, as cargo-deny
# ${CARGO_DENY_VERSION} derives it. A different name after a version bump shows up as a failed
# self-test below, not as a silent pass.
DENY_DB_DIRNAME=advisory-db-3157b0e258782691

# run_advisories DB_DIR: both tools, offline, against a RustSec-layout directory.
# Prints their output; returns non-zero when either reports a finding.
run_advisories() {
  local db="$1" rc=0 deny_db="${work}/deny-db"
  rm -rf "${deny_db}" && mkdir -p "${deny_db}"
  cp -a "${db}" "${deny_db}/${DENY_DB_DIRNAME}"
  if [[ ! -d "${deny_db}/${DENY_DB_DIRNAME}/.git" ]]; then
    local date
    date="$(sed -n 's/^version=.* modified \(.*\)$/\1/p' "${db}/SOURCE" 2>/dev/null | head -n1)"
    (cd "${deny_db}/${DENY_DB_DIRNAME}" && git init -q && git add -A &&
      GIT_AUTHOR_DATE="${date:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}" GIT_COMMITTER_DATE="${date:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}" \
        git -c user.name=supply-chain -c user.email=supply-chain@localhost commit -qm snapshot)
  fi
  sed "s|^db-urls = .*|&\ndb-path = \"${deny_db}\"|" deny.toml >"${work}/deny.toml"
  cargo audit --color never --db "${db}" --no-fetch --deny warnings 2>&1 || rc=1
  cargo deny --offline --color never --config "${work}/deny.toml" check --hide-inclusion-graph advisories 2>&1 || rc=1
  return "${rc}"
}

# Self-test: a synthetic OSV record (scripts/testdata/osv) against a crate that is in
# Cargo.lock goes through the converter; both tools must report it.
log "advisory self-test: synthetic RUSTSEC-2099-0001 (bytes) converted from OSV, both tools must flag it"
python3 scripts/osv-to-rustsec.py scripts/testdata/osv "${work}/selftest-db" >/dev/null
if out="$(run_advisories "${work}/selftest-db")"; then
  printf '%s\n' "${out}" >&2
  die "advisory self-test: a synthetic advisory was not reported"
fi
hits="$(grep -c 'RUSTSEC-2099-0001' <<<"${out}" || true)"
[[ $(grep -c 'ID: *RUSTSEC-2099-0001' <<<"${out}") -ge 1 ]] || { printf '%s\n' "${out}" >&2; die "cargo audit did not report the synthetic advisory"; }
grep -q 'advisories FAILED' <<<"${out}" || { printf '%s\n' "${out}" >&2; die "cargo deny did not report the synthetic advisory"; }
log "advisory self-test: ok (reported by cargo audit and cargo deny; ${hits} mentions)"

dbcache="${cache}/advisory-db"
db="" source_desc=""
if [[ -n "${ADVISORY_DB:-}" ]]; then
  [[ -d "${ADVISORY_DB}/crates" ]] || die "ADVISORY_DB=${ADVISORY_DB}: no crates/ directory"
  rev="$(git -C "${ADVISORY_DB}" log -1 --format='%H %cI' 2>/dev/null || echo 'not a git checkout')"
  source_desc="ADVISORY_DB=${ADVISORY_DB} (${rev})"
  mkdir -p "${dbcache}" && rm -rf "${dbcache}/db.new" && cp -a "${ADVISORY_DB}" "${dbcache}/db.new"
elif [[ -n "${OSV_CRATES:-}" ]]; then
  [[ -e "${OSV_CRATES}" ]] || die "OSV_CRATES=${OSV_CRATES}: not found"
  mkdir -p "${dbcache}" && rm -rf "${dbcache}/db.new"
  read -r n modified < <(python3 scripts/osv-to-rustsec.py "${OSV_CRATES}" "${dbcache}/db.new")
  sum="$( [[ -f "${OSV_CRATES}" ]] && sha256sum "${OSV_CRATES}" | cut -c1-16 || echo dir)"
  source_desc="OSV crates.io export ${OSV_CRATES} (sha256 ${sum}), converted: ${n} RUSTSEC records, newest modified ${modified}"
elif [[ -d "${dbcache}/db/crates" ]]; then
  db="${dbcache}/db"
  source_desc="cached: $(sed -n 's/^source=//p' "${db}/SOURCE" 2>/dev/null)"
elif command -v git >/dev/null 2>&1 && mkdir -p "${dbcache}" && rm -rf "${dbcache}/db.new" &&
  timeout 30 git clone -q --depth 1 https://github.com/rustsec/advisory-db "${dbcache}/db.new" >/dev/null 2>&1; then
  source_desc="git clone of the RustSec advisory-db ($(git -C "${dbcache}/db.new" log -1 --format='%H %cI'))"
else
  rm -rf "${dbcache}/db.new"
fi
if [[ -z "${db}" && -d "${dbcache}/db.new/crates" ]]; then
  modified="$(git -C "${dbcache}/db.new" log -1 --format=%cI 2>/dev/null || true)"
  [[ -n "${modified}" ]] || modified="$(sed -n 's/.*newest modified \(.*\)$/\1/p' <<<"${source_desc}")"
  printf 'source=%s\nversion=taken %s, modified %s\n' "${source_desc}" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${modified}" \
    >"${dbcache}/db.new/SOURCE"
  rm -rf "${dbcache}/db" && mv "${dbcache}/db.new" "${dbcache}/db"
  db="${dbcache}/db"
fi

if [[ -z "${db}" ]]; then
  msg="advisories: NOT RUN: no RustSec advisory database here (ADVISORY_DB and OSV_CRATES unset, none cached in ${dbcache}, git clone of the RustSec advisory-db failed or timed out)"
  (( require_advisories )) && die "${msg}"
  log "${msg}"
else
  count="$(find "${db}/crates" -name 'RUSTSEC-*.md' | wc -l)"
  log "advisory database: ${source_desc}"
  log "advisory database: ${count} advisories; $(sed -n 's/^version=//p' "${db}/SOURCE" 2>/dev/null)"
  if ! out="$(run_advisories "${db}")"; then
    printf '%s\n' "${out}" >&2
    die "advisories: findings (fix in Cargo.lock, or a justified ignore in deny.toml and .cargo/audit.toml)"
  fi
  printf '%s\n' "${out}" | grep -E 'Loaded|Scanning|advisories ok' >&2 || true
  log "advisories: ok (cargo audit, cargo deny check advisories; ${count} advisories)"
fi

# --- SBOM -----------------------------------------------------------------------------------
write_sbom
echo "supply-chain: licenses/bans/sources ok; advisories $([[ -n "${db}" ]] && echo "ok (${count:-0} advisories)" || echo "NOT RUN (no database)"); SBOM ${sbom}"
