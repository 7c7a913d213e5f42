#!/usr/bin/env bash
# Wait (up to 60 s) until the CRDs named (kubectl's arguments: `crd/a crd/b`, or `crd --all`)
# are Established. `kubectl wait --for=condition=Established` right after an apply fails at once
# with ".status.conditions accessor error: <nil> is of the type <nil>" when a CRD has no status
# yet, instead of waiting (it failed a CI run so): retried here until it answers.
set -uo pipefail
deadline=$((SECONDS + 60))
until out="$(kubectl wait --for=condition=Established --timeout=10s "$@" 2>&1)"; do
  if (( SECONDS >= deadline )); then
    echo "CRDs not Established after 60s: ${out}" >&2
    exit 1
  fi
  sleep 1
done
