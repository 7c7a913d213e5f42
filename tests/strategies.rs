//! End-to-end tests of ECS's deployment strategies (BLUE_GREEN, LINEAR, CANARY) against the
//! live local control plane and the operator scripts/test.sh starts: the task count never
//! exceeds twice the desired count, the production selector moves only after the hooks before
//! it passed, LINEAR steps as configured, a PAUSE hook continued by annotation, a failing Job
//! hook, an HTTP hook answering FAILED, a stop during the bake that restores blue with no new
//! task, and an Alertmanager alert that rolls back (ECS Developer Guide: "Amazon ECS blue/green
//! service deployments", "Lifecycle hooks for Amazon ECS service deployments"). Bake times use
//! `spec.kubernetes.deploymentMinuteSeconds` (the same state machine, with seconds for minutes).
//! `#[ignore]`d without a cluster.

mod harness;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ecs_operator::api::{Service, ServiceDeploymentState, ServiceStatus};
use harness::{TestNamespace, apply_yaml, kubectl, wait_for};
use k8s_openapi::api::core::v1::{Pod, Service as KubeService};
use kube::api::ListParams;

fn task_definition(family: &str, image: &str) -> String {
    format!(
        r#"
apiVersion: ecs-operator.io/v1alpha1
kind: TaskDefinition
metadata: {{name: {family}}}
spec:
  family: {family}
  containerDefinitions:
  - name: app
    image: {image}
    cpu: 128
    memory: 128
    portMappings: [{{containerPort: 8080, name: http}}]
"#
    )
}

/// A strategy service of `desired` tasks with a load balancer on port 8080.
fn service(name: &str, desired: i32, deployment: &str, kubernetes: &str) -> String {
    format!(
        r#"
apiVersion: ecs-operator.io/v1alpha1
kind: Service
metadata: {{name: {name}}}
spec:
  serviceName: {name}
  taskDefinition: {name}
  desiredCount: {desired}
  loadBalancers: [{{containerName: app, containerPort: 8080}}]
  deploymentConfiguration:
{deployment}
  kubernetes:
    deploymentMinuteSeconds: 2
{kubernetes}
"#
    )
}

async fn status(ns: &TestNamespace, name: &str) -> Option<ServiceStatus> {
    ns.api::<Service>().get(name).await.ok()?.status
}

async fn deployment(ns: &TestNamespace, name: &str) -> Option<ServiceDeploymentState> {
    status(ns, name).await?.service_deployment
}

/// Wait until the service's deployment of `td` has `status` (and, if given, `stage`).
async fn wait_deployment(
    ns: &TestNamespace,
    name: &str,
    td: &str,
    want: &str,
    stage: Option<&str>,
    secs: u64,
) -> ServiceDeploymentState {
    wait_for(
        Duration::from_secs(secs),
        &format!("{name}: deployment of {td} {want} {stage:?}"),
        || async {
            let d = deployment(ns, name).await?;
            (d.target_service_revision.task_definition == td
                && d.status == want
                && stage.is_none_or(|s| d.lifecycle_stage == s))
            .then_some(d)
        },
    )
    .await
}

async fn pods(ns: &TestNamespace) -> Vec<Pod> {
    ns.api::<Pod>()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            p.metadata
                .labels
                .as_ref()
                .is_some_and(|l| l.contains_key("ecs-operator.io/service"))
        })
        .collect()
}

fn names(pods: &[Pod]) -> BTreeSet<String> {
    pods.iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect()
}

async fn selector(ns: &TestNamespace, svc: &str) -> std::collections::BTreeMap<String, String> {
    ns.api::<KubeService>()
        .get(svc)
        .await
        .unwrap()
        .spec
        .unwrap()
        .selector
        .unwrap_or_default()
}

fn new_revision(ns: &TestNamespace, family: &str, image: &str) {
    apply_yaml(&ns.name, &task_definition(family, image));
}

/// An HTTP hook endpoint on this machine (the operator runs as a process here): answers the
/// `hookStatus` currently set, and counts the calls.
struct HookEndpoint {
    url: String,
    answer: Arc<Mutex<serde_json::Value>>,
    calls: Arc<Mutex<Vec<serde_json::Value>>>,
}

async fn hook_endpoint(answer: serde_json::Value) -> HookEndpoint {
    let answer = Arc::new(Mutex::new(answer));
    let calls = Arc::new(Mutex::new(Vec::new()));
    let (a, c) = (answer.clone(), calls.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let (a, c) = (a.clone(), c.clone());
            async move {
                c.lock()
                    .unwrap()
                    .push(serde_json::from_str(&body).unwrap_or_default());
                let answer = a.lock().unwrap().to_string();
                ([(http::header::CONTENT_TYPE, "application/json")], answer)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    HookEndpoint { url, answer, calls }
}

/// BLUE_GREEN: green comes up beside blue (never more than 2× desired tasks), the production
/// Service moves to green only once the PRE_PRODUCTION_TRAFFIC_SHIFT hook answered SUCCEEDED,
/// the test Service selects green, and after the bake blue is removed.
#[tokio::test]
#[ignore = "needs the local cluster and the operator: scripts/test.sh"]
async fn blue_green_moves_production_only_after_the_hooks_passed() {
    let ns = TestNamespace::new("bg").await;
    let hook =
        hook_endpoint(serde_json::json!({"hookStatus": "IN_PROGRESS", "callBackDelay": 1})).await;
    let arn = "arn:aws:lambda:us-east-1:1:function:gate";
    let dc = format!(
        "    strategy: BLUE_GREEN\n    bakeTimeInMinutes: 2\n    lifecycleHooks:\n    - {{hookTargetArn: \"{arn}\", lifecycleStages: [PRE_PRODUCTION_TRAFFIC_SHIFT]}}"
    );
    let k8s = format!(
        "    lifecycleHookTargets:\n    - {{hookTargetArn: \"{arn}\", http: {{url: \"{}\"}}}}",
        hook.url
    );
    apply_yaml(
        &ns.name,
        &(task_definition("bg", "nginx:1") + "---" + &service("bg", 3, &dc, &k8s)),
    );
    wait_deployment(&ns, "bg", "bg:1", "SUCCESSFUL", None, 90).await;
    assert_eq!(
        selector(&ns, "bg")
            .await
            .get("ecs-operator.io/slot")
            .map(String::as_str),
        Some("main")
    );
    let blue = names(&pods(&ns).await);
    assert_eq!(blue.len(), 3);

    new_revision(&ns, "bg", "nginx:2");
    // Sample the task count while the hook holds the deployment before the production shift.
    // The peak task count seen (a static: the polling closures cannot hold a `&mut`).
    static MOST: AtomicUsize = AtomicUsize::new(0);
    let waiting = wait_for(
        Duration::from_secs(90),
        "the hook stage with green up",
        || async {
            MOST.fetch_max(pods(&ns).await.len(), Ordering::SeqCst);
            let d = deployment(&ns, "bg").await?;
            (d.target_service_revision.task_definition == "bg:2"
                && d.lifecycle_stage == "PRE_PRODUCTION_TRAFFIC_SHIFT"
                && d.target_service_revision.running_task_count == 3)
                .then_some(d)
        },
    )
    .await;
    assert_eq!(waiting.lifecycle_hook_details[0].status, "IN_PROGRESS");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let prod = selector(&ns, "bg").await;
    assert_eq!(
        prod.get("ecs-operator.io/slot").map(String::as_str),
        Some("main"),
        "production stays on blue while the hook is IN_PROGRESS"
    );
    assert_eq!(
        selector(&ns, "bg-test")
            .await
            .get("ecs-operator.io/slot")
            .map(String::as_str),
        Some("alt")
    );
    let calls = hook.calls.lock().unwrap().clone();
    assert!(calls.len() >= 2, "re-polled after callBackDelay: {calls:?}");
    assert_eq!(calls[0]["lifecycleStage"], "PRE_PRODUCTION_TRAFFIC_SHIFT");
    assert!(
        calls[0]["executionDetails"]["targetServiceRevisionArn"]
            .as_str()
            .unwrap()
            .contains("bg:2")
    );
    *hook.answer.lock().unwrap() = serde_json::json!({"hookStatus": "SUCCEEDED"});
    let baking = wait_for(
        Duration::from_secs(60),
        "BAKE_TIME with production on green",
        || async {
            MOST.fetch_max(pods(&ns).await.len(), Ordering::SeqCst);
            let d = deployment(&ns, "bg").await?;
            let on_green = selector(&ns, "bg")
                .await
                .get("ecs-operator.io/slot")
                .map(String::as_str)
                == Some("alt");
            (on_green && matches!(d.lifecycle_stage.as_str(), "BAKE_TIME" | "CLEAN_UP")
                || d.status == "SUCCESSFUL")
                .then_some(d)
        },
    )
    .await;
    assert_eq!(
        baking
            .target_service_revision
            .requested_production_traffic_weight,
        100.0
    );
    let done = wait_deployment(&ns, "bg", "bg:2", "SUCCESSFUL", None, 90).await;
    assert_eq!(done.lifecycle_hook_details[0].status, "SUCCEEDED");
    let st = wait_for(
        Duration::from_secs(60),
        "3 green tasks only, Ready",
        || async {
            let st = status(&ns, "bg").await?;
            let ready = st
                .conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            (ready && pods(&ns).await.len() == 3).then_some(st)
        },
    )
    .await;
    let most = MOST.load(Ordering::SeqCst);
    assert!(most <= 6, "task count exceeded 2× desired: {most}");
    assert!(
        names(&pods(&ns).await).is_disjoint(&blue),
        "blue is cleaned up"
    );
    assert_eq!(st.deployments[0].task_definition, "bg:2");
    assert!(
        st.events
            .iter()
            .any(|e| e.message.contains("deployment completed")),
        "{:?}",
        st.events
    );
    println!("FIGURE blue/green peak task count {most} for desired 3");
    ns.cleanup().await;
}

/// LINEAR with stepPercent 50: a PAUSE hook holds the deployment at POST_TEST_TRAFFIC_SHIFT
/// (Progressing, reason LifecycleHookPaused) until the continue annotation names it; then half
/// of the production endpoints are green, then all.
#[tokio::test]
#[ignore = "needs the local cluster and the operator: scripts/test.sh"]
async fn linear_steps_after_a_pause_hook_is_continued() {
    let ns = TestNamespace::new("linear").await;
    let dc = "    strategy: LINEAR\n    linearConfiguration: {stepPercent: 50, stepBakeTimeInMinutes: 3}\n    bakeTimeInMinutes: 1\n    lifecycleHooks:\n    - {targetType: PAUSE, lifecycleStages: [POST_TEST_TRAFFIC_SHIFT]}";
    apply_yaml(
        &ns.name,
        &(task_definition("lin", "nginx:1") + "---" + &service("lin", 2, dc, "")),
    );
    wait_deployment(&ns, "lin", "lin:1", "SUCCESSFUL", None, 90).await;
    new_revision(&ns, "lin", "nginx:2");
    let paused = wait_deployment(
        &ns,
        "lin",
        "lin:2",
        "IN_PROGRESS",
        Some("POST_TEST_TRAFFIC_SHIFT"),
        90,
    )
    .await;
    let hook = &paused.lifecycle_hook_details[0];
    assert_eq!(hook.status, "AWAITING_ACTION");
    let st = status(&ns, "lin").await.unwrap();
    let progressing = st
        .conditions
        .iter()
        .find(|c| c.type_ == "Progressing")
        .unwrap();
    assert_eq!(
        (progressing.status.as_str(), progressing.reason.as_str()),
        ("True", "LifecycleHookPaused")
    );
    kubectl(&[
        "annotate",
        "-n",
        &ns.name,
        "ecssvc/lin",
        &format!("ecs-operator.io/continue-deployment={}", hook.hook_id),
    ]);
    // The 50 % step: the production Service selects the labelled tasks, one of each colour.
    let labelled = wait_for(
        Duration::from_secs(60),
        "one blue and one green task in production",
        || async {
            let sel = selector(&ns, "lin").await;
            if sel
                .get("ecs-operator.io/production-traffic")
                .map(String::as_str)
                != Some("true")
            {
                return None;
            }
            let slots: Vec<String> = pods(&ns)
                .await
                .iter()
                .filter(|p| {
                    p.metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get("ecs-operator.io/production-traffic"))
                        .map(String::as_str)
                        == Some("true")
                })
                .filter_map(|p| {
                    p.metadata
                        .labels
                        .as_ref()?
                        .get("ecs-operator.io/slot")
                        .cloned()
                })
                .collect();
            (slots.len() == 2 && slots.contains(&"main".into()) && slots.contains(&"alt".into()))
                .then_some(slots)
        },
    )
    .await;
    assert_eq!(labelled.len(), 2);
    let step = deployment(&ns, "lin").await.unwrap();
    assert_eq!(
        step.target_service_revision
            .requested_production_traffic_weight,
        50.0
    );
    let done = wait_deployment(&ns, "lin", "lin:2", "SUCCESSFUL", None, 90).await;
    assert_eq!(done.lifecycle_hook_details[0].status, "SUCCEEDED");
    assert_eq!(
        selector(&ns, "lin")
            .await
            .get("ecs-operator.io/slot")
            .map(String::as_str),
        Some("alt")
    );
    ns.cleanup().await;
}

/// A Job hook that fails (its pod exits 1) rolls the deployment back: green goes, blue's
/// tasks are the same ones, and the failed revision is not retried.
#[tokio::test]
#[ignore = "needs the local cluster and the operator: scripts/test.sh"]
async fn a_failing_job_hook_rolls_back_to_the_same_blue_tasks() {
    let ns = TestNamespace::new("jobhook").await;
    let arn = "arn:aws:lambda:us-east-1:1:function:smoke";
    let dc = format!(
        "    strategy: BLUE_GREEN\n    bakeTimeInMinutes: 1\n    lifecycleHooks:\n    - {{hookTargetArn: \"{arn}\", lifecycleStages: [POST_SCALE_UP]}}"
    );
    let k8s = format!(
        "    lifecycleHookTargets:\n    - hookTargetArn: \"{arn}\"\n      job:\n        image: busybox\n        command: [sh, -c, \"exit 1\"]\n        podAnnotations: {{ecs-operator.io/simulate: exit, ecs-operator.io/simulate-exit-code: \"1\"}}"
    );
    apply_yaml(
        &ns.name,
        &(task_definition("jh", "nginx:1") + "---" + &service("jh", 2, &dc, &k8s)),
    );
    wait_deployment(&ns, "jh", "jh:1", "SUCCESSFUL", None, 90).await;
    let blue = names(&pods(&ns).await);
    new_revision(&ns, "jh", "nginx:2");
    let rolled = wait_deployment(&ns, "jh", "jh:2", "ROLLBACK_SUCCESSFUL", None, 120).await;
    assert!(
        rolled.status_reason.as_deref().unwrap().contains("failed"),
        "{rolled:?}"
    );
    assert_eq!(
        rolled
            .failed_service_revision
            .as_ref()
            .unwrap()
            .task_definition,
        "jh:2"
    );
    let hook = &rolled.lifecycle_hook_details[0];
    assert_eq!(hook.status, "FAILED");
    assert!(hook.job_name.is_some());
    wait_for(Duration::from_secs(60), "only blue's tasks", || async {
        (names(&pods(&ns).await) == blue).then_some(())
    })
    .await;
    let st = status(&ns, "jh").await.unwrap();
    let stalled = st.conditions.iter().find(|c| c.type_ == "Stalled").unwrap();
    assert_eq!(
        (stalled.status.as_str(), stalled.reason.as_str()),
        ("True", "RolledBack")
    );
    assert_eq!(
        selector(&ns, "jh")
            .await
            .get("ecs-operator.io/slot")
            .map(String::as_str),
        Some("main")
    );
    ns.cleanup().await;
}

/// An HTTP hook answering FAILED rolls back; a stop (`ecs-operator.io/stop-deployment`) during
/// the bake switches production back to blue, whose tasks never stopped: no task starts.
#[tokio::test]
#[ignore = "needs the local cluster and the operator: scripts/test.sh"]
async fn an_http_hook_answering_failed_and_a_stop_during_the_bake_roll_back() {
    let ns = TestNamespace::new("stop").await;
    let hook = hook_endpoint(serde_json::json!({"hookStatus": "FAILED"})).await;
    let arn = "arn:aws:lambda:us-east-1:1:function:check";
    let dc = format!(
        "    strategy: BLUE_GREEN\n    bakeTimeInMinutes: 600\n    lifecycleHooks:\n    - {{hookTargetArn: \"{arn}\", lifecycleStages: [POST_TEST_TRAFFIC_SHIFT]}}"
    );
    let k8s = format!(
        "    lifecycleHookTargets:\n    - {{hookTargetArn: \"{arn}\", http: {{url: \"{}\"}}}}",
        hook.url
    );
    apply_yaml(
        &ns.name,
        &(task_definition("st", "nginx:1") + "---" + &service("st", 2, &dc, &k8s)),
    );
    wait_deployment(&ns, "st", "st:1", "SUCCESSFUL", None, 90).await;
    new_revision(&ns, "st", "nginx:2");
    let failed = wait_deployment(&ns, "st", "st:2", "ROLLBACK_SUCCESSFUL", None, 90).await;
    assert!(
        failed
            .status_reason
            .as_deref()
            .unwrap()
            .contains("answered FAILED"),
        "{failed:?}"
    );
    // The endpoint now lets deployments through; a new revision reaches the long bake.
    *hook.answer.lock().unwrap() = serde_json::json!({"hookStatus": "SUCCEEDED"});
    new_revision(&ns, "st", "nginx:3");
    let baking = wait_deployment(&ns, "st", "st:3", "IN_PROGRESS", Some("BAKE_TIME"), 90).await;
    assert_eq!(
        selector(&ns, "st")
            .await
            .get("ecs-operator.io/slot")
            .map(String::as_str),
        Some("alt")
    );
    let before = names(&pods(&ns).await);
    assert_eq!(before.len(), 4, "blue and green run during the bake");
    // `ecs-operator deployment stop` (StopServiceDeployment) sets the stop annotation.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ecs-operator"))
        .args(["deployment", "stop", "st", "-n", &ns.name])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains(&format!("ecs-operator.io/stop-deployment={}", baking.id))
    );
    let stopped = wait_deployment(&ns, "st", "st:3", "ROLLBACK_SUCCESSFUL", None, 60).await;
    assert!(
        stopped
            .status_reason
            .as_deref()
            .unwrap()
            .contains("StopServiceDeployment")
    );
    assert_eq!(
        selector(&ns, "st")
            .await
            .get("ecs-operator.io/slot")
            .map(String::as_str),
        Some("main")
    );
    let after = wait_for(Duration::from_secs(60), "green's tasks gone", || async {
        let now = names(&pods(&ns).await);
        (now.len() == 2).then_some(now)
    })
    .await;
    assert!(
        after.is_subset(&before),
        "no new task: before {before:?}, after {after:?}"
    );
    ns.cleanup().await;
}

/// `deploymentConfiguration.alarms` with rollback: an alert that starts firing in the
/// Alertmanager the operator reads (scripts/alertmanager.sh, flag --alertmanager-url) during
/// the bake rolls the deployment back.
#[tokio::test]
#[ignore = "needs the local cluster, the operator and Alertmanager: scripts/test.sh"]
async fn a_firing_alertmanager_alert_rolls_back() {
    let url = std::env::var("ECS_ALERTMANAGER_URL").unwrap_or_else(|_| {
        panic!("ECS_ALERTMANAGER_URL is not set: run scripts/test.sh (it starts Alertmanager and the operator with --alertmanager-url)")
    });
    let ns = TestNamespace::new("alarm").await;
    let alarm = format!("EcsE2eErrors{}", harness::short_id());
    let dc = format!(
        "    strategy: BLUE_GREEN\n    bakeTimeInMinutes: 600\n    alarms: {{alarmNames: [{alarm}], enable: true, rollback: true}}"
    );
    apply_yaml(
        &ns.name,
        &(task_definition("al", "nginx:1") + "---" + &service("al", 2, &dc, "")),
    );
    wait_deployment(&ns, "al", "al:1", "SUCCESSFUL", None, 90).await;
    new_revision(&ns, "al", "nginx:2");
    wait_deployment(&ns, "al", "al:2", "IN_PROGRESS", Some("BAKE_TIME"), 90).await;
    let fire = serde_json::json!([{"labels": {"alertname": alarm, "service": "al"}}]);
    let client = ecs_operator::controller::strategy::http::JsonClient::default();
    let (code, _) = client
        .request(
            http::Method::POST,
            &format!("{url}/api/v2/alerts"),
            &[],
            Some(&fire),
        )
        .await
        .unwrap();
    assert_eq!(code, 200);
    let rolled = wait_deployment(&ns, "al", "al:2", "ROLLBACK_SUCCESSFUL", None, 60).await;
    let alarms = rolled.alarms.unwrap();
    assert_eq!(
        (alarms.status.as_str(), alarms.triggered_alarm_names),
        ("TRIGGERED", vec![alarm.clone()])
    );
    assert_eq!(
        selector(&ns, "al")
            .await
            .get("ecs-operator.io/slot")
            .map(String::as_str),
        Some("main")
    );
    ns.cleanup().await;
}

/// CANARY through a Gateway API HTTPRoute (`spec.kubernetes.httpRoute`): the route's backends
/// are weighted 75 / 25 between the production (blue) and test (green) Services during the
/// canary, Service Connect's test header rule sends matching requests to green, and at the end
/// the production Service selects green with the route back to one backend at full weight.
#[tokio::test]
#[ignore = "needs the local cluster (with the Gateway API CRDs) and the operator: scripts/test.sh"]
async fn canary_shifts_httproute_weights_and_routes_test_headers_to_green() {
    let ns = TestNamespace::new("canary").await;
    let route = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop}
spec:
  parentRefs: [{name: edge}]
  rules:
  - backendRefs: [{name: can, port: 8080}]
"#;
    apply_yaml(&ns.name, route);
    let dc = "    strategy: CANARY\n    canaryConfiguration: {canaryPercent: 25, canaryBakeTimeInMinutes: 4}\n    bakeTimeInMinutes: 1";
    let connect = "  serviceConnectConfiguration:\n    enabled: true\n    services:\n    - portName: http\n      clientAliases: [{port: 8080, testTrafficRules: {header: {name: x-canary, value: {exact: \"1\"}}}}]\n";
    let svc = service("can", 4, dc, "    httpRoute: shop") + connect;
    apply_yaml(
        &ns.name,
        &(task_definition("can", "nginx:1") + "---" + &svc),
    );
    wait_deployment(&ns, "can", "can:1", "SUCCESSFUL", None, 90).await;
    new_revision(&ns, "can", "nginx:2");
    let routes: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        ns.client.clone(),
        &ns.name,
        &kube::core::ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "HTTPRoute"),
            "httproutes",
        ),
    );
    let weights = |rules: &serde_json::Value| -> Vec<(String, i64)> {
        rules
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| {
                r.get("matches").is_none_or(|m| {
                    m.as_array()
                        .is_none_or(|m| m.iter().all(|m| m.get("headers").is_none()))
                })
            })
            .flat_map(|r| r["backendRefs"].as_array().cloned().unwrap_or_default())
            .map(|b| {
                (
                    b["name"].as_str().unwrap_or_default().to_string(),
                    b["weight"].as_i64().unwrap_or(1),
                )
            })
            .collect()
    };
    let during = wait_for(
        Duration::from_secs(90),
        "the canary weights on the route",
        || async {
            let r = routes.get("shop").await.ok()?;
            let rules = r.data["spec"]["rules"].clone();
            (weights(&rules) == vec![("can".to_string(), 750), ("can-test".to_string(), 250)])
                .then_some(rules)
        },
    )
    .await;
    let header = during
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["matches"][0]["headers"][0]["name"] == "x-canary")
        .unwrap_or_else(|| panic!("no header rule: {during:#}"));
    assert_eq!(header["backendRefs"][0]["name"], "can-test");
    assert_eq!(
        selector(&ns, "can")
            .await
            .get("ecs-operator.io/slot")
            .map(String::as_str),
        Some("main")
    );
    assert_eq!(
        selector(&ns, "can-test")
            .await
            .get("ecs-operator.io/slot")
            .map(String::as_str),
        Some("alt")
    );
    let d = deployment(&ns, "can").await.unwrap();
    assert_eq!(
        d.target_service_revision
            .requested_production_traffic_weight,
        25.0
    );
    wait_deployment(&ns, "can", "can:2", "SUCCESSFUL", None, 90).await;
    let after = routes.get("shop").await.unwrap().data["spec"]["rules"].clone();
    assert_eq!(
        weights(&after),
        vec![("can".to_string(), 1000), ("can-test".to_string(), 0)],
        "{after:#}"
    );
    assert_eq!(
        after.as_array().unwrap().len(),
        1,
        "the header rule is gone: {after:#}"
    );
    assert_eq!(
        selector(&ns, "can")
            .await
            .get("ecs-operator.io/slot")
            .map(String::as_str),
        Some("alt")
    );
    ns.cleanup().await;
}
