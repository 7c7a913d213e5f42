#!/usr/bin/env bash
# Fails when a copy of the CRDs differs in any byte from the generated ones in crds/ (the
# source of truth: `ecs-operator crd --out-dir crds`). The copies:
#   charts/ecs-operator/crds/   Helm's crds/ directory (Helm only reads CRDs from inside the chart)
#   config/crd/bases/           kustomize (it refuses files outside a kustomization's directory)
#
# Also, when helm and python3 with PyYAML are there: the operator ClusterRole rendered by the
# chart grants exactly the rules of config/rbac/role.yaml (the two installs stay in step).
#
#   scripts/check-chart-crds.sh          check (exit 1 with a diff on drift)
#   scripts/check-chart-crds.sh --fix    copy crds/*.yaml into both places
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

src=crds
count() { local n=0 f; for f in "$1"/*.yaml; do [[ -e "$f" ]] && n=$((n + 1)); done; echo "$n"; }
copies=(charts/ecs-operator/crds config/crd/bases)

if [[ "${1:-}" == "--fix" ]]; then
  for dst in "${copies[@]}"; do
    mkdir -p "${dst}"
    rm -f "${dst}"/*.yaml
    cp "${src}"/*.yaml "${dst}/"
    echo "copied $(count "${src}") CRDs into ${dst}"
  done
  exit 0
fi

fail=0
for dst in "${copies[@]}"; do
  for f in "${src}"/*.yaml; do
    name="$(basename "$f")"
    if [[ ! -f "${dst}/${name}" ]]; then
      echo "missing: ${dst}/${name}" >&2; fail=1
    elif ! cmp -s "$f" "${dst}/${name}"; then
      echo "differs: ${dst}/${name} vs ${f}" >&2
      diff -u "$f" "${dst}/${name}" | head -40 >&2 || true
      fail=1
    fi
  done
  for f in "${dst}"/*; do
    [[ -e "$f" ]] || continue
    [[ -f "${src}/$(basename "$f")" ]] || { echo "extra (not in ${src}/): $f" >&2; fail=1; }
  done
done
if (( fail )); then
  echo "CRD copies are out of date: run scripts/check-chart-crds.sh --fix" >&2
  exit 1
fi
echo "CRD copies match ${src}/ ($(count "${src}") files in ${copies[*]})"

HELM="${HELM:-$(command -v helm || echo "${ECS_OPERATOR_CACHE:-${HOME}/.cache/ecs-operator}/helm-v3.22.0/bin/helm")}"
if [[ -x "${HELM}" ]] && python3 -c 'import yaml' 2>/dev/null; then
  "${HELM}" template ecs-operator charts/ecs-operator --show-only templates/rbac.yaml |
    python3 -c '
import sys, yaml
def norm(rules):
    return sorted((tuple(sorted(r.get("apiGroups", []))), tuple(sorted(r.get("resources", []))),
                   tuple(sorted(r.get("verbs", [])))) for r in rules)
chart = [d for d in yaml.safe_load_all(sys.stdin) if d and d["kind"] == "ClusterRole"]
config = yaml.safe_load(open("config/rbac/role.yaml"))
a, b = norm(chart[0]["rules"]), norm(config["rules"])
if a != b:
    print("RBAC drift between the chart ClusterRole and config/rbac/role.yaml:", file=sys.stderr)
    for r in sorted(set(a) ^ set(b)):
        print("  only in", "chart " if r in a else "config", r, file=sys.stderr)
    sys.exit(1)
print("chart ClusterRole rules == config/rbac/role.yaml (%d rules)" % len(a))
'
else
  echo "skipped the RBAC comparison (needs helm and python3 with PyYAML)"
  # CI has both (scripts/cluster.sh builds helm; Debian's python3-yaml): never skip there.
  if [[ "${CI:-}" == "true" ]]; then exit 1; fi
fi
