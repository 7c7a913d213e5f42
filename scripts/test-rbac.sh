#!/usr/bin/env bash
# RBAC proven by use: install the Helm chart into the live cluster, then run the operator
# process with the chart's ServiceAccount token (not the admin certificate) against the
# samples, so a missing permission fails here; and show that permissions the operator must
# not have are refused. Needs the cluster from scripts/cluster.sh up and its env.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

release_ns=ecs-operator-system
samples_ns=rbac-e2e
addr=127.0.0.1:18083
sa="system:serviceaccount:${release_ns}:ecs-operator"
work=$(mktemp -d)
operator_pid=""
cleanup() {
  [[ -n "$operator_pid" ]] && kill "$operator_pid" 2>/dev/null && wait "$operator_pid" 2>/dev/null || true
  kubectl delete namespace "$samples_ns" --wait=false >/dev/null 2>&1 || true
  helm uninstall ecs-operator -n "$release_ns" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "RBAC test FAILED: $*" >&2; [[ -f "$work/operator.log" ]] && tail -80 "$work/operator.log" | cut -c1-400 >&2; exit 1; }

# 1. The chart, installed for real (KWOK runs its pods; the image never needs to exist).
helm upgrade --install ecs-operator charts/ecs-operator -n "$release_ns" --create-namespace --wait --timeout 120s >/dev/null
echo "chart installed: $(kubectl -n "$release_ns" get deploy ecs-operator -o jsonpath='{.status.readyReplicas}') ready replica(s)"

# 2. A kubeconfig that authenticates as the chart's ServiceAccount.
token=$(kubectl -n "$release_ns" create token ecs-operator --duration=1h)
kubectl config view --raw --minify --flatten > "$work/admin.yaml"
server=$(kubectl --kubeconfig "$work/admin.yaml" config view -o jsonpath='{.clusters[0].cluster.server}')
kubectl --kubeconfig "$work/admin.yaml" config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d > "$work/ca.crt"
export SA_KUBECONFIG="$work/sa.yaml"
KUBECONFIG="$SA_KUBECONFIG" kubectl config set-cluster local --server="$server" --certificate-authority="$work/ca.crt" --embed-certs=true >/dev/null
KUBECONFIG="$SA_KUBECONFIG" kubectl config set-credentials operator --token="$token" >/dev/null
KUBECONFIG="$SA_KUBECONFIG" kubectl config set-context operator --cluster=local --user=operator >/dev/null
KUBECONFIG="$SA_KUBECONFIG" kubectl config use-context operator >/dev/null

# 3. What it must not be able to do is refused.
refused=0
for check in "get secrets -A" "list secrets -n kube-system" "delete nodes" "create clusterroles" "patch taskdefinitions.ecs-operator.io -n default" "create pods --subresource=exec -n default" "get configmaps -n kube-system"; do
  # shellcheck disable=SC2086
  answer=$(kubectl auth can-i $check --as="$sa" 2>/dev/null || true)
  [[ "$answer" == "no" ]] || fail "the operator's ServiceAccount may '$check' ($answer)"
  refused=$((refused + 1))
done
out=$(KUBECONFIG="$SA_KUBECONFIG" kubectl get secrets -n kube-system 2>&1 || true)
[[ "$out" == *Forbidden* ]] || fail "reading secrets with the operator's token was not refused: $out"
echo "refused as expected: $refused permission checks and a real secrets read"

# 4. The operator, with only that token, reconciles the samples.
KUBECONFIG="$SA_KUBECONFIG" RUST_LOG=info,ecs_operator=debug target/debug/ecs-operator run --http-addr "$addr" \
  --lease-namespace "$release_ns" --lease-name ecs-operator-rbac-e2e >"$work/operator.log" 2>&1 &
operator_pid=$!
for _ in $(seq 1 30); do curl -fsS "http://$addr/readyz" >/dev/null 2>&1 && break; sleep 1; done
curl -fsS "http://$addr/readyz" >/dev/null || fail "operator with the chart's RBAC never became ready"
kubectl create namespace "$samples_ns" >/dev/null
kubectl apply -n "$samples_ns" -k config/samples >/dev/null
deadline=$((SECONDS + 120))
until [[ "$(kubectl -n "$samples_ns" get taskdefinition web -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True \
      && "$(kubectl -n "$samples_ns" get services.ecs-operator.io web -o jsonpath='{.status.deployments[0].rolloutState}' 2>/dev/null)" == COMPLETED \
      && -n "$(kubectl -n "$samples_ns" get tasks.ecs-operator.io web-migrate-001 -o jsonpath='{.status.lastStatus}' 2>/dev/null)" \
      && -n "$(kubectl -n "$samples_ns" get clusters.ecs-operator.io prod -o jsonpath='{.status.status}' 2>/dev/null)" ]]; do
  (( SECONDS < deadline )) || fail "samples did not reconcile under the chart's RBAC: $(kubectl -n "$samples_ns" get td,ecssvc,ecstask,ecscluster 2>&1)"
  sleep 2
done
if grep -qi "forbidden" "$work/operator.log"; then
  fail "the operator hit a forbidden call: $(grep -i forbidden "$work/operator.log" | head -3)"
fi
kubectl -n "$samples_ns" get td,ecssvc,ecstask,ecscluster
echo "RBAC e2e: the samples reconciled with the chart's ServiceAccount only; no forbidden call"
