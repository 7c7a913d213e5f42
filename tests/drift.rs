//! Drift correction, end to end against the live local cluster and the running operator: a
//! child edited by hand (image, env, an owned label, a probe, replicas) is put back within
//! seconds, while what the operator does not own (a label or annotation another tool adds)
//! is left alone. `#[ignore]`d without a cluster; `scripts/test.sh` runs it.

mod harness;

use std::time::{Duration, Instant};

use harness::{TestNamespace, apply_yaml, kubectl, wait_for};
use k8s_openapi::api::apps::v1::Deployment;

const MANIFESTS: &str = r#"
apiVersion: ecs-operator.io/v1alpha1
kind: TaskDefinition
metadata: {name: drift}
spec:
  family: drift
  networkMode: awsvpc
  containerDefinitions:
  - name: app
    image: nginx:1.27
    cpu: 64
    memory: 64
    essential: true
    environment: [{name: MODE, value: prod}]
    portMappings: [{containerPort: 8080, name: http}]
    healthCheck: {command: ["CMD-SHELL", "curl -f http://localhost:8080/ || exit 1"], interval: 10, timeout: 5, retries: 3}
---
apiVersion: ecs-operator.io/v1alpha1
kind: Service
metadata: {name: drift}
spec:
  serviceName: drift
  taskDefinition: drift
  desiredCount: 2
"#;

async fn deployment(ns: &TestNamespace) -> Deployment {
    ns.api::<Deployment>()
        .get("drift")
        .await
        .expect("the Deployment exists")
}

fn container(d: &Deployment) -> k8s_openapi::api::core::v1::Container {
    d.spec.clone().unwrap().template.spec.unwrap().containers[0].clone()
}

/// Wait until `check` holds for the Deployment; print how long the operator took.
async fn reverted(ns: &TestNamespace, what: &str, check: impl Fn(&Deployment) -> bool) {
    let start = Instant::now();
    wait_for(Duration::from_secs(30), what, || async {
        let d = deployment(ns).await;
        check(&d).then_some(())
    })
    .await;
    println!(
        "FIGURE drift reverted ({what}) in {:.2}s",
        start.elapsed().as_secs_f64()
    );
}

#[tokio::test]
#[ignore = "needs the local cluster and the operator: scripts/test.sh"]
async fn hand_edits_of_owned_fields_are_reverted_and_foreign_fields_are_kept() {
    let ns = TestNamespace::new("drift").await;
    apply_yaml(&ns.name, MANIFESTS);
    wait_for(Duration::from_secs(60), "deployment drift", || async {
        ns.api::<Deployment>().get("drift").await.ok()
    })
    .await;
    let original = deployment(&ns).await;
    let probe = container(&original)
        .readiness_probe
        .expect("a readiness probe");
    let n = ns.name.as_str();

    // image (`kubectl set image` is an update by another field manager)
    kubectl(&[
        "set",
        "image",
        "-n",
        n,
        "deployment/drift",
        "app=nginx:hacked",
    ]);
    reverted(&ns, "image", |d| {
        container(d).image.as_deref() == Some("nginx:1.27")
    })
    .await;

    // env
    kubectl(&["set", "env", "-n", n, "deployment/drift", "MODE=debug"]);
    reverted(&ns, "env", |d| {
        container(d)
            .env
            .unwrap_or_default()
            .iter()
            .any(|e| e.name == "MODE" && e.value.as_deref() == Some("prod"))
    })
    .await;

    // a label the operator owns, and one it does not: the first comes back, the second stays
    kubectl(&[
        "label",
        "-n",
        n,
        "deployment/drift",
        "--overwrite",
        "ecs-operator.io/family=tampered",
        "team=payments",
    ]);
    reverted(&ns, "owned label", |d| {
        d.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("ecs-operator.io/family"))
            .map(String::as_str)
            == Some("drift")
    })
    .await;

    // a probe
    kubectl(&[
        "patch",
        "-n",
        n,
        "deployment/drift",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/template/spec/containers/0/readinessProbe/periodSeconds","value":99}]"#,
    ]);
    reverted(&ns, "probe", |d| {
        container(d).readiness_probe.and_then(|p| p.period_seconds) == probe.period_seconds
    })
    .await;

    // replicas: without autoscaling, the Deployment's replicas are the ECS desiredCount
    kubectl(&["scale", "-n", n, "deployment/drift", "--replicas=5"]);
    reverted(&ns, "replicas", |d| {
        d.spec.as_ref().and_then(|s| s.replicas) == Some(2)
    })
    .await;

    // an annotation another tool adds is not the operator's: it stays
    kubectl(&[
        "annotate",
        "-n",
        n,
        "deployment/drift",
        "example.com/owner=team-a",
    ]);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let d = deployment(&ns).await;
    assert_eq!(
        d.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("example.com/owner"))
            .map(String::as_str),
        Some("team-a"),
        "a foreign annotation must be left alone"
    );
    assert_eq!(
        d.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("team"))
            .map(String::as_str),
        Some("payments"),
        "a foreign label must be left alone"
    );
    ns.cleanup().await;
}
