//! End-to-end smoke tests against the live local control plane (`scripts/cluster.sh up`):
//! they prove the cluster is real (Deployments get ReplicaSets and Ready pods, Services get
//! EndpointSlices, HPAs read metrics, failure simulation works) and that every rendered
//! snapshot case and the CRDs pass server-side dry-run.
//!
//! They are `#[ignore]`d so a plain `cargo test` lists them as ignored — visibly — when no
//! cluster is up. `.ci/run` starts the cluster and runs them with `--ignored`; there, a missing
//! cluster is a failure, never a skip.

mod harness;

use std::time::Duration;

use harness::{TestNamespace, kubectl, wait_for};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{ListParams, PostParams};
use serde_json::json;

fn deployment(name: &str, replicas: i32, annotations: serde_json::Value) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": annotations},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27",
                    "ports": [{"containerPort": 80, "name": "http"}],
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}
            }
        }
    }))
    .expect("valid deployment")
}

#[tokio::test]
#[ignore = "needs the local cluster: scripts/cluster.sh up, then cargo test --test e2e -- --ignored"]
async fn deployment_gets_a_replicaset_and_ready_pods() {
    let ns = TestNamespace::new("smoke-deploy").await;
    ns.api::<Deployment>()
        .create(&PostParams::default(), &deployment("web", 3, json!({})))
        .await
        .unwrap();
    wait_for(
        Duration::from_secs(60),
        "3 ready replicas of deployment web",
        || async {
            let d = ns.api::<Deployment>().get("web").await.ok()?;
            (d.status?.ready_replicas? == 3).then_some(())
        },
    )
    .await;
    let rs = ns
        .api::<ReplicaSet>()
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap();
    assert_eq!(rs.items.len(), 1, "one ReplicaSet for the Deployment");
    let pods = ns
        .api::<Pod>()
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap();
    assert_eq!(pods.items.len(), 3);
    for p in &pods.items {
        let status = p.status.as_ref().unwrap();
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert!(status.pod_ip.is_some(), "KWOK gives pods an IP");
        assert!(
            p.spec.as_ref().unwrap().node_name.is_some(),
            "the scheduler bound the pod"
        );
    }
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: scripts/cluster.sh up, then cargo test --test e2e -- --ignored"]
async fn service_gets_endpoint_slices() {
    let ns = TestNamespace::new("smoke-svc").await;
    ns.api::<Deployment>()
        .create(&PostParams::default(), &deployment("api", 2, json!({})))
        .await
        .unwrap();
    let svc: k8s_openapi::api::core::v1::Service = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"},
        "spec": {"selector": {"app": "api"}, "ports": [{"port": 80, "targetPort": "http"}]}
    }))
    .unwrap();
    ns.api().create(&PostParams::default(), &svc).await.unwrap();
    wait_for(
        Duration::from_secs(60),
        "2 ready endpoints for service api",
        || async {
            let slices = ns
                .api::<EndpointSlice>()
                .list(&ListParams::default().labels("kubernetes.io/service-name=api"))
                .await
                .ok()?;
            let ready = slices
                .items
                .iter()
                .flat_map(|s| s.endpoints.iter().flatten())
                .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) == Some(true))
                .count();
            (ready == 2).then_some(())
        },
    )
    .await;
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: scripts/cluster.sh up, then cargo test --test e2e -- --ignored"]
async fn hpa_reads_metrics_and_scales() {
    let ns = TestNamespace::new("smoke-hpa").await;
    // 100m requested, 400m used: 400% utilization against a 50% target.
    let annotations =
        json!({"kwok.x-k8s.io/usage-cpu": "400m", "kwok.x-k8s.io/usage-memory": "32Mi"});
    ns.api::<Deployment>()
        .create(&PostParams::default(), &deployment("busy", 1, annotations))
        .await
        .unwrap();
    let hpa: HorizontalPodAutoscaler = serde_json::from_value(json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "busy"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "busy"},
            "minReplicas": 1, "maxReplicas": 4,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}],
            "behavior": {"scaleUp": {"stabilizationWindowSeconds": 0}}
        }
    }))
    .unwrap();
    ns.api().create(&PostParams::default(), &hpa).await.unwrap();
    wait_for(
        Duration::from_secs(180),
        "the HPA to read CPU utilization and scale busy above 1",
        || async {
            let h = ns.api::<HorizontalPodAutoscaler>().get("busy").await.ok()?;
            let status = h.status?;
            let current = status.current_metrics.unwrap_or_default();
            let utilization = current
                .first()?
                .resource
                .as_ref()?
                .current
                .average_utilization?;
            (utilization > 50 && status.desired_replicas > 1).then_some(())
        },
    )
    .await;
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: scripts/cluster.sh up, then cargo test --test e2e -- --ignored"]
async fn failure_simulation_annotations_fail_pods() {
    let ns = TestNamespace::new("smoke-fail").await;
    let pods = ns.api::<Pod>();
    for (name, mode, extra) in [
        ("crash", "crashloop", json!({})),
        ("pull", "image-pull-error", json!({})),
        (
            "exit",
            "exit",
            json!({"ecs-operator.io/simulate-exit-code": "3"}),
        ),
    ] {
        let mut annotations = json!({"ecs-operator.io/simulate": mode});
        annotations
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let pod: Pod = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "annotations": annotations},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "app", "image": "busybox"}]}
        }))
        .unwrap();
        pods.create(&PostParams::default(), &pod).await.unwrap();
    }
    let waiting_reason = |p: &Pod| -> Option<String> {
        p.status
            .as_ref()?
            .container_statuses
            .as_ref()?
            .first()?
            .state
            .as_ref()?
            .waiting
            .as_ref()?
            .reason
            .clone()
    };
    wait_for(
        Duration::from_secs(60),
        "pod crash in CrashLoopBackOff",
        || async {
            (waiting_reason(&pods.get("crash").await.ok()?)? == "CrashLoopBackOff").then_some(())
        },
    )
    .await;
    wait_for(
        Duration::from_secs(60),
        "pod pull in ErrImagePull/ImagePullBackOff",
        || async {
            waiting_reason(&pods.get("pull").await.ok()?)?
                .contains("Image")
                .then_some(())
        },
    )
    .await;
    wait_for(
        Duration::from_secs(60),
        "pod exit Failed with exit code 3",
        || async {
            let p = pods.get("exit").await.ok()?;
            let status = p.status?;
            let code = status
                .container_statuses?
                .first()?
                .state
                .as_ref()?
                .terminated
                .as_ref()?
                .exit_code;
            (status.phase.as_deref() == Some("Failed") && code == 3).then_some(())
        },
    )
    .await;
    ns.cleanup().await;
}

/// The CRDs install, and every snapshot case's custom resources and rendered objects pass the
/// API server's own validation (schemas, CEL rules, defaults) in a server-side dry run.
#[tokio::test]
#[ignore = "needs the local cluster: scripts/cluster.sh up, then cargo test --test e2e -- --ignored"]
async fn crds_and_rendered_objects_pass_server_side_dry_run() {
    let root = env!("CARGO_MANIFEST_DIR");
    kubectl(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        &format!("{root}/crds"),
    ]);
    kubectl(&[
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd",
        "taskdefinitions.ecs-operator.io",
        "services.ecs-operator.io",
        "tasks.ecs-operator.io",
        "clusters.ecs-operator.io",
    ]);
    let ns = TestNamespace::new("smoke-dryrun").await;
    let bin = env!("CARGO_BIN_EXE_ecs-operator");
    for case in [
        "web-alb",
        "envoy-sidecar",
        "migration-logrouter",
        "daemon-agent",
        "gpu-batch-task",
        "efs-and-host-volumes",
        "secrets",
    ] {
        let fixture = format!("{root}/tests/fixtures/render/{case}.yaml");
        // The custom resources themselves, through the CRD schemas and CEL rules.
        kubectl(&["apply", "--dry-run=server", "-n", &ns.name, "-f", &fixture]);
        let out = std::process::Command::new(bin)
            .args(["render", "-f", &fixture])
            .output()
            .expect("run ecs-operator render");
        assert!(
            out.status.success(),
            "render {case}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Objects of CRDs this cluster does not have (ExternalSecret, TargetGroupBinding) are
        // checked by the unit tests; everything else goes to the API server.
        let docs = ecs_operator::cli::manifest::parse_documents(
            &String::from_utf8_lossy(&out.stdout),
            case,
        )
        .unwrap();
        let core: Vec<_> = docs
            .into_iter()
            .map(|d| d.value)
            .filter(|v| {
                !matches!(
                    v["kind"].as_str(),
                    Some("ExternalSecret" | "TargetGroupBinding")
                )
            })
            .collect();
        assert!(!core.is_empty(), "{case} rendered nothing");
        // Pods are admitted only if their ServiceAccount exists: create those for real first.
        let (accounts, rest): (Vec<_>, Vec<_>) = core
            .into_iter()
            .partition(|v| v["kind"] == "ServiceAccount");
        for (suffix, objects, dry_run) in [("sa", accounts, false), ("rest", rest, true)] {
            if objects.is_empty() {
                continue;
            }
            let path =
                std::env::temp_dir().join(format!("ecs-operator-dryrun-{case}-{suffix}.yaml"));
            std::fs::write(&path, ecs_operator::cli::render::to_yaml(&objects)).unwrap();
            let mut args = vec![
                "apply",
                "-n",
                ns.name.as_str(),
                "-f",
                path.to_str().unwrap(),
            ];
            if dry_run {
                args.push("--dry-run=server");
            }
            kubectl(&args);
        }
    }
    ns.cleanup().await;
}
