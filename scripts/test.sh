#!/usr/bin/env bash
# The whole test suite, from a fresh machine: builds the local control plane (cached under
# ~/.cache/ecs-operator), starts it, runs the unit, snapshot and property tests and the e2e
# tests against it, and always tears the cluster down (its logs are kept; see cluster.sh logs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

for tool in cargo go curl python3; do
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

# Packaging: chart and kustomize CRD copies in step with crds/, chart lint, the chart and the
# kustomize config through the API server's dry run, and the GitOps health checks (Argo CD Lua
# in a real Lua interpreter, Flux's kstatus library) against captured status objects.
kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
scripts/wait-established.sh crd/taskdefinitions.ecs-operator.io crd/services.ecs-operator.io crd/tasks.ecs-operator.io crd/clusters.ecs-operator.io >/dev/null
scripts/check-chart-crds.sh
scripts/test-gitops.sh
scripts/test-monitoring.sh
helm lint --strict charts/ecs-operator
kubectl create namespace ecs-operator-system --dry-run=client -o yaml | kubectl apply -f - >/dev/null
helm template ecs-operator charts/ecs-operator -n ecs-operator-system --include-crds | kubectl apply --dry-run=server -f - >/dev/null
kubectl apply -k config/default --dry-run=server >/dev/null
kubectl create namespace samples-check --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -n samples-check -k config/samples --dry-run=server
kubectl delete namespace samples-check ecs-operator-system --wait=false >/dev/null

# Unit, snapshot, field-coverage, CRD-drift and no-panic property tests (no cluster needed).
cargo test --locked
# The chart installed, and the operator run with nothing but the chart's ServiceAccount token.
cargo build --locked --bin ecs-operator
scripts/test-rbac.sh

# A real Alertmanager (built from its Go module): the alarm source of the deployment strategies.
scripts/alertmanager.sh up
trap 'scripts/alertmanager.sh down; scripts/cluster.sh down' EXIT
eval "$(scripts/alertmanager.sh env)"

# The operator under test runs as a process against the cluster.
log_dir="${ECS_OPERATOR_CACHE:-$HOME/.cache/ecs-operator}/logs"
mkdir -p "$log_dir"
operator_log="$log_dir/operator-$(date +%Y%m%d-%H%M%S).log"
export ECS_OPERATOR_METRICS_ADDR=127.0.0.1:18080
target/debug/ecs-operator run --http-addr "$ECS_OPERATOR_METRICS_ADDR" --lease-namespace default \
  --alertmanager-url "$ECS_ALERTMANAGER_URL" >"$operator_log" 2>&1 &
operator_pid=$!
trap 'kill $operator_pid 2>/dev/null; wait $operator_pid 2>/dev/null; scripts/alertmanager.sh down; scripts/cluster.sh down' EXIT
for _ in $(seq 1 60); do
  curl -fsS "http://$ECS_OPERATOR_METRICS_ADDR/readyz" >/dev/null 2>&1 && break
  sleep 1
done
curl -fsS "http://$ECS_OPERATOR_METRICS_ADDR/readyz" >/dev/null || { echo "operator never became ready; log:"; tail -50 "$operator_log"; exit 1; }
# The e2e tests (and every import fixture through a server-side dry run; the deployment
# strategies with a real Alertmanager and the Gateway API CRDs; the kubectl-ecs plugin), against the live cluster: here a missing cluster fails them. The zero-writes test counts the operator's
# writes, so it runs alone after the others.
status=0
cargo test --locked --test e2e --test operator --test kubectl_ecs --test drift --test import --test strategies --test scheduler --test tenancy -- --ignored --test-threads=2 --nocapture --skip no_op || status=$?
if [[ $status -eq 0 ]]; then
  cargo test --locked --test operator -- --ignored --exact no_op_reapply_of_100_services_writes_nothing --nocapture || status=$?
fi
# Flux end to end: Flux's own source-controller, kustomize-controller and helm-controller (built from their Go
# modules, pinned in scripts/versions.env) apply the samples from a loopback Git repository and
# wait on the ECS kinds' health (README: GitOps, for real). It prints the controllers and versions.
if [[ $status -eq 0 ]]; then
  scripts/flux.sh test || status=$?
fi
if [[ $status -ne 0 ]]; then
  echo "e2e failed; last lines of the operator log ($operator_log):"
  tail -80 "$operator_log"
  exit $status
fi
echo "all tests passed in $(( $(date +%s) - start ))s"
