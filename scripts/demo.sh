#!/usr/bin/env bash
# The main job: start the local real cluster, install the CRDs, start the operator, apply the
# samples (config/samples) and show what the operator made of them. Leaves the cluster and the
# operator running: scripts/cluster.sh down (and kill the operator) when done.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/cluster.sh build
scripts/cluster.sh up
eval "$(scripts/cluster.sh env)"
cargo build --release --locked
bin=target/release/ecs-operator
kubectl apply --server-side -f crds/
scripts/wait-established.sh crd/taskdefinitions.ecs-operator.io crd/services.ecs-operator.io crd/tasks.ecs-operator.io crd/clusters.ecs-operator.io
log=${ECS_OPERATOR_CACHE:-$HOME/.cache/ecs-operator}/demo-operator.log
pkill -f "ecs-operator run --http-addr 127.0.0.1:18090" 2>/dev/null || true
nohup "$bin" run --http-addr 127.0.0.1:18090 --lease-namespace default >"$log" 2>&1 &
for _ in $(seq 1 30); do curl -fsS http://127.0.0.1:18090/readyz >/dev/null 2>&1 && break; sleep 1; done
kubectl create namespace demo --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -n demo -k config/samples
echo "waiting for the samples to settle..."
sleep 20
kubectl get -n demo taskdefinitions,services.ecs-operator.io,tasks.ecs-operator.io,clusters.ecs-operator.io
kubectl get -n demo deployments,daemonsets,pods,svc,hpa -o wide
echo "operator log: $log (pid $(pgrep -f 'ecs-operator run --http-addr 127.0.0.1:18090'))"
echo "cluster left running: eval \"\$(scripts/cluster.sh env)\"; scripts/cluster.sh down when done"
