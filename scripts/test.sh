#!/usr/bin/env bash
# The whole test suite, from a fresh machine: builds the local control plane (cached under
# ~/.cache/ecs-operator), starts it, runs the unit, snapshot and property tests and the e2e
# tests against it, and always tears the cluster down (its logs are kept; see cluster.sh logs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

for tool in cargo go; do
  command -v "$tool" >/dev/null 2>&1 || [[ -x /usr/local/go/bin/go && $tool == go ]] || {
    echo "error: '$tool' is required (Rust via rustup, Go >= 1.26)" >&2
    exit 1
  }
done

start=$(date +%s)
scripts/cluster.sh build
scripts/cluster.sh up
trap 'scripts/cluster.sh down' EXIT
eval "$(scripts/cluster.sh env)"
echo "cluster ready after $(( $(date +%s) - start ))s"

# Unit, snapshot, field-coverage, CRD-drift and no-panic property tests (no cluster needed).
cargo test --locked
# The e2e tests, against the live cluster: here a missing cluster fails them.
cargo test --locked --test e2e -- --ignored --test-threads=2
echo "all tests passed in $(( $(date +%s) - start ))s"
