#!/usr/bin/env bash
# The main job: start the local real cluster, install the CRDs, apply the sample custom
# resources, and apply what the translator renders for them, then show the result.
# (The in-cluster operator is not built yet; until it is, the translator's output is applied
# directly, which is what the operator will do.) Leaves the cluster running: scripts/cluster.sh down.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/cluster.sh build
scripts/cluster.sh up
eval "$(scripts/cluster.sh env)"
cargo build --release --locked
bin=target/release/ecs-operator
kubectl apply --server-side -f crds/
kubectl wait --for=condition=Established --timeout=60s crd/taskdefinitions.ecs-operator.io crd/services.ecs-operator.io crd/tasks.ecs-operator.io crd/clusters.ecs-operator.io
kubectl create namespace demo --dry-run=client -o yaml | kubectl apply -f -
for f in tests/fixtures/render/web-alb.yaml tests/fixtures/render/envoy-sidecar.yaml tests/fixtures/render/gpu-batch-task.yaml; do
  kubectl apply -n demo -f "$f"
  "$bin" render -f "$f" 2>/dev/null | kubectl apply -n demo --server-side -f - \
    || echo "note: some rendered objects need CRDs this cluster lacks (TargetGroupBinding, ExternalSecret)"
done
kubectl get -n demo taskdefinitions,services.ecs-operator.io,tasks.ecs-operator.io
kubectl get -n demo deployments,pods,svc,hpa -o wide
echo "cluster left running: eval \"\$(scripts/cluster.sh env)\"; scripts/cluster.sh down when done"
