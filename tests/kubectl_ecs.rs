//! End-to-end tests of the `kubectl ecs` plugin (the built `kubectl-ecs` binary) against the
//! live local cluster with the operator running (scripts/test.sh starts both): the sample
//! TaskDefinition and Service through describe-services (its JSON checked member by member
//! against the ECS API model's DescribeServicesResponse, tests/fixtures/ecs-shapes), the default
//! table, list-services, update-service (--desired-count, --force-new-deployment), the task
//! definition verbs (register from --cli-input-json file://, describe, list, deregister) and
//! run-task / describe-tasks / list-tasks / stop-task, continue- and stop-service-deployment on
//! a BLUE_GREEN service with a PAUSE hook, and the errors (a bad flag, a missing service, an
//! unknown context, a ServiceAccount without RBAC). `#[ignore]`d without a cluster.

mod harness;

use std::time::Duration;

use ecs_operator::api::Service;
use ecs_operator::cli::ecs::conform;
use harness::{TestNamespace, apply_yaml, wait_for};
use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use serde_json::Value;

/// The member names and types of ECS's shapes (scripts/gen-ecs-shapes.py, from the API model).
fn model() -> Value {
    let text = include_str!("fixtures/ecs-shapes/shapes.json");
    serde_json::from_str::<Value>(text).unwrap()["shapes"].clone()
}

/// Run `kubectl-ecs ARGS`: (exit code, stdout, stderr).
fn ecs(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-ecs"))
        .args(args)
        .output()
        .expect("kubectl-ecs runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Run `kubectl-ecs ARGS` with `KUBECONFIG` set to `kubeconfig`: (exit code, stderr).
fn ecs_as(kubeconfig: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-ecs"))
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .output()
        .expect("kubectl-ecs runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// A kubeconfig for ServiceAccount `nobody` of the namespace (no RBAC bindings).
fn kubeconfig_of_nobody(ns: &str) -> std::path::PathBuf {
    harness::kubectl(&["-n", ns, "create", "serviceaccount", "nobody"]);
    let token = harness::kubectl(&["-n", ns, "create", "token", "nobody"]);
    let current: Value = serde_json::from_str(&harness::kubectl(&[
        "config", "view", "--raw", "--minify", "-o", "json",
    ]))
    .unwrap();
    let cluster = current["clusters"][0]["cluster"].clone();
    let config = serde_json::json!({
        "apiVersion": "v1", "kind": "Config", "current-context": "nobody",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "nobody", "user": {"token": token.trim()}}],
        "contexts": [{"name": "nobody", "context": {"cluster": "c", "user": "nobody", "namespace": ns}}],
    });
    let path = std::env::temp_dir().join(format!("kubectl-ecs-{ns}-nobody.kubeconfig"));
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

/// Run `kubectl-ecs -n NS ARGS -o json`, expect exit 0, parse the JSON.
fn ecs_json(ns: &str, args: &[&str]) -> Value {
    let mut all = vec!["-n", ns];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    let (code, stdout, stderr) = ecs(&all);
    assert_eq!(code, 0, "kubectl-ecs {}: {stdout}{stderr}", all.join(" "));
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("kubectl-ecs {}: not JSON ({e}): {stdout}", all.join(" ")))
}

/// The response has the shape: every key a member (recursively), of the member's type.
fn assert_shape(v: &Value, shape: &str) {
    let problems = conform::check(v, shape, &model());
    assert!(
        problems.is_empty(),
        "not a {shape}:\n{}\n{v:#}",
        problems.join("\n")
    );
}

fn assert_has(v: &Value, what: &str, required: &[&str]) {
    let missing = conform::missing(v, required);
    assert!(missing.is_empty(), "{what} lacks {missing:?}: {v:#}");
}

/// The sample Service without spec.autoscaling (an HPA would own desiredCount) and with
/// desiredCount 2.
fn sample_service() -> String {
    let yaml = include_str!("../config/samples/service.yaml");
    let head = yaml.split("  autoscaling:").next().unwrap();
    format!("{head}  desiredCount: 2\n")
}

async fn primary(ns: &TestNamespace) -> Option<(String, i32, Vec<String>)> {
    let svc = ns.api::<Service>().get("web").await.ok()?;
    let st = svc.status?;
    let ids = st.deployments.iter().map(|d| d.id.clone()).collect();
    let p = st.deployments.iter().find(|d| d.status == "PRIMARY")?;
    (p.rollout_state.as_deref() == Some("COMPLETED")).then(|| (p.id.clone(), st.running_count, ids))
}

#[tokio::test]
#[ignore = "needs the local cluster and the operator: scripts/test.sh"]
async fn describe_services_has_ecs_shape_and_update_service_acts() {
    let ns = TestNamespace::new("kubectl-ecs-svc").await;
    let n = ns.name.clone();
    apply_yaml(&n, include_str!("../config/samples/cluster.yaml"));
    apply_yaml(&n, include_str!("../config/samples/taskdefinition.yaml"));
    apply_yaml(&n, &sample_service());
    let (first, _, _) = wait_for(
        Duration::from_secs(90),
        "the sample service steady with 2 tasks",
        || async { primary(&ns).await.filter(|(_, running, _)| *running == 2) },
    )
    .await;

    // describe-services: ECS's shape, a missing service a MISSING failure, exit 0.
    let out = ecs_json(
        &n,
        &[
            "--cluster",
            "prod",
            "describe-services",
            "--services",
            "web",
            "nope",
            "--include",
            "TAGS",
        ],
    );
    assert_shape(&out, "DescribeServicesResponse");
    let s = &out["services"][0];
    assert_has(
        s,
        "services[0]",
        &[
            "serviceArn",
            "serviceName",
            "clusterArn",
            "status",
            "desiredCount",
            "runningCount",
            "pendingCount",
            "taskDefinition",
            "deployments",
            "events",
            "createdAt",
            "deploymentConfiguration",
            "capacityProviderStrategy",
            "schedulingStrategy",
            "tags",
        ],
    );
    assert_eq!(
        s["serviceArn"],
        format!("arn:aws:ecs:kubernetes:{n}:service/prod/web")
    );
    assert_eq!(
        s["clusterArn"],
        format!("arn:aws:ecs:kubernetes:{n}:cluster/prod")
    );
    assert_eq!(
        s["taskDefinition"],
        format!("arn:aws:ecs:kubernetes:{n}:task-definition/web:1")
    );
    assert_eq!(
        (s["desiredCount"].as_i64(), s["runningCount"].as_i64()),
        (Some(2), Some(2))
    );
    let d = &s["deployments"][0];
    assert_has(
        d,
        "deployments[0]",
        &[
            "id",
            "status",
            "taskDefinition",
            "desiredCount",
            "pendingCount",
            "runningCount",
            "failedTasks",
            "createdAt",
            "updatedAt",
            "rolloutState",
        ],
    );
    assert_eq!(d["id"], first.as_str());
    let e = &s["events"][0];
    assert_has(e, "events[0]", &["id", "createdAt", "message"]);
    assert!(
        s["createdAt"].as_str().unwrap().ends_with("+00:00"),
        "timestamps as the AWS CLI prints them: {}",
        s["createdAt"]
    );
    assert_eq!(out["failures"][0]["reason"], "MISSING");
    assert_eq!(
        out["failures"][0]["arn"],
        format!("arn:aws:ecs:kubernetes:{n}:service/prod/nope")
    );

    // The default output: a table like kubectl get; the failure on stderr.
    let (code, table, stderr) = ecs(&[
        "-n",
        &n,
        "--cluster",
        "prod",
        "describe-services",
        "--services",
        "web",
        "nope",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        [
            "NAME", "STATUS", "DESIRED", "RUNNING", "PENDING", "TASKDEF", "ROLLOUT", "AGE"
        ]
    );
    assert_eq!(
        lines[1][..7],
        ["web", "ACTIVE", "2", "2", "0", "web:1", "COMPLETED"]
    );
    assert!(
        stderr.contains("MISSING: arn:aws:ecs:kubernetes:"),
        "{stderr}"
    );

    // list-services, per cluster.
    let list = ecs_json(&n, &["--cluster", "prod", "list-services"]);
    assert_shape(&list, "ListServicesResponse");
    assert_eq!(list["serviceArns"], serde_json::json!([s["serviceArn"]]));
    let none = ecs_json(&n, &["list-services"]);
    assert_eq!(none["serviceArns"], serde_json::json!([]));

    // update-service --desired-count: the spec changes, the status follows.
    let up = ecs_json(
        &n,
        &[
            "--cluster",
            "prod",
            "update-service",
            "--service",
            "web",
            "--desired-count",
            "3",
        ],
    );
    assert_shape(&up, "UpdateServiceResponse");
    assert_eq!(up["service"]["desiredCount"], 3);
    let svc = ns.api::<Service>().get("web").await.unwrap();
    assert_eq!(svc.spec.desired_count, Some(3));
    wait_for(
        Duration::from_secs(60),
        "3 running tasks after update-service --desired-count 3",
        || async { primary(&ns).await.filter(|(_, running, _)| *running == 3) },
    )
    .await;

    // update-service --force-new-deployment: a new deployment takes over.
    let forced = ecs_json(
        &n,
        &[
            "--cluster",
            "prod",
            "update-service",
            "--service",
            "web",
            "--force-new-deployment",
        ],
    );
    assert_shape(&forced, "UpdateServiceResponse");
    let (second, _, _) = wait_for(
        Duration::from_secs(90),
        "a new PRIMARY deployment after --force-new-deployment",
        || async {
            primary(&ns)
                .await
                .filter(|(id, running, _)| *id != first && *running == 3)
        },
    )
    .await;
    let after = ecs_json(
        &n,
        &[
            "--cluster",
            "prod",
            "describe-services",
            "--services",
            "web",
        ],
    );
    assert_shape(&after, "DescribeServicesResponse");
    let ids: Vec<&str> = after["services"][0]["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["id"].as_str())
        .collect();
    assert!(ids.contains(&second.as_str()), "{ids:?}");
    assert!(
        after["services"][0]["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["message"].as_str().is_some_and(|m| m.contains(&second)))
    );

    // update-service --task-definition (an ARN, stored as family:N).
    let td_arn = format!("arn:aws:ecs:kubernetes:{n}:task-definition/web:1");
    let pinned = ecs_json(
        &n,
        &[
            "--cluster",
            "prod",
            "update-service",
            "--service",
            "web",
            "--task-definition",
            &td_arn,
        ],
    );
    assert_eq!(pinned["service"]["taskDefinition"], td_arn.as_str());
    let svc = ns.api::<Service>().get("web").await.unwrap();
    assert_eq!(svc.spec.task_definition.as_deref(), Some("web:1"));
    let (code, yaml, _) = ecs(&["-n", &n, "--cluster", "prod", "list-services", "-o", "yaml"]);
    assert_eq!(code, 0);
    assert!(
        yaml.starts_with("serviceArns:\n- arn:aws:ecs:kubernetes:"),
        "{yaml}"
    );

    // Errors: a bad flag, a service that is not there, a kubeconfig context that is not.
    let (code, _, stderr) = ecs(&["-n", &n, "describe-services"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("--services"), "{stderr}");
    let (code, _, stderr) = ecs(&[
        "-n",
        &n,
        "update-service",
        "--service",
        "nope",
        "--desired-count",
        "1",
    ]);
    assert_eq!(code, 1);
    assert!(stderr.contains("ServiceNotFoundException"), "{stderr}");
    let (code, _, stderr) = ecs(&["--context", "no-such-context", "list-services"]);
    assert_eq!(code, 1);
    assert!(stderr.starts_with("error: "), "{stderr}");
    // The user's RBAC applies: a ServiceAccount with no bindings is refused, in words.
    let nobody = kubeconfig_of_nobody(&n);
    let (code, stderr) = ecs_as(&nobody, &["list-services"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("forbidden (RBAC)"), "{stderr}");
    let (code, stderr) = ecs_as(
        &nobody,
        &[
            "--cluster",
            "prod",
            "update-service",
            "--service",
            "web",
            "--desired-count",
            "1",
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("forbidden (RBAC)"), "{stderr}");
    let _ = std::fs::remove_file(nobody);
    ns.cleanup().await;
}

fn register_input(family: &str, memory: i32) -> String {
    format!(
        r#"{{
    "family": "{family}",
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["EC2"],
    "cpu": "256",
    "memory": "512",
    "containerDefinitions": [
        {{"name": "job", "image": "public.ecr.aws/docker/library/busybox:1.37", "essential": true,
          "command": ["sh", "-c", "sleep 3600"], "memory": {memory}}}
    ],
    "tags": [{{"key": "team", "value": "batch"}}]
}}"#
    )
}

#[tokio::test]
#[ignore = "needs the local cluster and the operator: scripts/test.sh"]
async fn task_definition_and_task_verbs() {
    let ns = TestNamespace::new("kubectl-ecs-task").await;
    let n = ns.name.clone();
    let dir = std::env::temp_dir().join(format!("kubectl-ecs-{n}"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        format!("file://{}", p.display())
    };

    // register-task-definition --cli-input-json file://: what aws ecs takes; revisions count up.
    let one = file("batch-1.json", &register_input("batch", 128));
    let reg = ecs_json(&n, &["register-task-definition", "--cli-input-json", &one]);
    assert_shape(&reg, "RegisterTaskDefinitionResponse");
    assert_eq!(
        reg["taskDefinition"]["taskDefinitionArn"],
        format!("arn:aws:ecs:kubernetes:{n}:task-definition/batch:1")
    );
    assert_eq!(reg["tags"][0]["key"], "team");
    let two = file("batch-2.json", &register_input("batch", 256));
    let reg = ecs_json(&n, &["register-task-definition", "--cli-input-json", &two]);
    assert_eq!(reg["taskDefinition"]["revision"], 2);

    // describe-task-definition family:N and family (the latest).
    let d = ecs_json(
        &n,
        &[
            "describe-task-definition",
            "--task-definition",
            "batch:1",
            "--include",
            "TAGS",
        ],
    );
    assert_shape(&d, "DescribeTaskDefinitionResponse");
    let td = &d["taskDefinition"];
    assert_has(
        td,
        "taskDefinition",
        &[
            "taskDefinitionArn",
            "containerDefinitions",
            "family",
            "revision",
            "status",
            "compatibilities",
            "requiresCompatibilities",
            "cpu",
            "memory",
            "registeredAt",
        ],
    );
    assert_eq!(
        (td["revision"].as_i64(), td["status"].as_str()),
        (Some(1), Some("ACTIVE"))
    );
    assert_eq!(td["containerDefinitions"][0]["memory"], 128);
    let latest = ecs_json(
        &n,
        &["describe-task-definition", "--task-definition", "batch"],
    );
    assert_eq!(latest["taskDefinition"]["revision"], 2);
    let (code, table, _) = ecs(&[
        "-n",
        &n,
        "describe-task-definition",
        "--task-definition",
        "batch:2",
    ]);
    assert_eq!(code, 0);
    assert!(
        table.starts_with("FAMILY") && table.lines().nth(1).unwrap().starts_with("batch "),
        "{table}"
    );
    let (code, _, stderr) = ecs(&[
        "-n",
        &n,
        "describe-task-definition",
        "--task-definition",
        "batch:9",
    ]);
    assert_eq!(code, 1);
    assert!(stderr.contains("ClientException"), "{stderr}");

    // list-task-definitions, deregister-task-definition.
    let arn = |r: i64| {
        Value::from(format!(
            "arn:aws:ecs:kubernetes:{n}:task-definition/batch:{r}"
        ))
    };
    let list = ecs_json(&n, &["list-task-definitions"]);
    assert_shape(&list, "ListTaskDefinitionsResponse");
    assert_eq!(
        list["taskDefinitionArns"],
        serde_json::json!([arn(1), arn(2)])
    );
    let dereg = ecs_json(
        &n,
        &["deregister-task-definition", "--task-definition", "batch:1"],
    );
    assert_shape(&dereg, "DeregisterTaskDefinitionResponse");
    assert_eq!(dereg["taskDefinition"]["status"], "INACTIVE");
    assert_eq!(
        ecs_json(&n, &["list-task-definitions"])["taskDefinitionArns"],
        serde_json::json!([arn(2)])
    );
    assert_eq!(
        ecs_json(&n, &["list-task-definitions", "--status", "INACTIVE"])["taskDefinitionArns"],
        serde_json::json!([arn(1)])
    );

    // run-task → describe-tasks (live) → list-tasks → stop-task.
    let run = ecs_json(
        &n,
        &[
            "run-task",
            "--task-definition",
            "batch",
            "--started-by",
            "e2e",
        ],
    );
    assert_shape(&run, "RunTaskResponse");
    let task_arn = run["tasks"][0]["taskArn"].as_str().unwrap().to_string();
    assert!(
        task_arn.starts_with(&format!("arn:aws:ecs:kubernetes:{n}:task/default/batch-")),
        "{task_arn}"
    );
    let running = wait_for(Duration::from_secs(60), "the task RUNNING", || async {
        let d = ecs_json(&n, &["describe-tasks", "--tasks", &task_arn]);
        (d["tasks"][0]["lastStatus"] == "RUNNING").then_some(d)
    })
    .await;
    assert_shape(&running, "DescribeTasksResponse");
    let t = &running["tasks"][0];
    assert_has(
        t,
        "tasks[0]",
        &[
            "taskArn",
            "clusterArn",
            "taskDefinitionArn",
            "lastStatus",
            "desiredStatus",
            "containers",
            "createdAt",
            "startedAt",
            "startedBy",
            "group",
            "overrides",
        ],
    );
    assert_eq!(t["taskDefinitionArn"], arn(2));
    assert_has(
        &t["containers"][0],
        "containers[0]",
        &["containerArn", "taskArn", "name", "lastStatus"],
    );
    let list = ecs_json(&n, &["list-tasks", "--started-by", "e2e"]);
    assert_shape(&list, "ListTasksResponse");
    assert_eq!(list["taskArns"], serde_json::json!([task_arn]));
    let (code, table, _) = ecs(&["-n", &n, "describe-tasks", "--tasks", &task_arn]);
    assert_eq!(code, 0);
    assert!(
        table.lines().nth(1).unwrap().contains(" RUNNING "),
        "{table}"
    );

    let stop = ecs_json(
        &n,
        &["stop-task", "--task", &task_arn, "--reason", "e2e done"],
    );
    assert_shape(&stop, "StopTaskResponse");
    assert_eq!(stop["task"]["desiredStatus"], "STOPPED");
    let stopped = wait_for(
        Duration::from_secs(60),
        "the task STOPPED by the user",
        || async {
            let d = ecs_json(&n, &["describe-tasks", "--tasks", &task_arn]);
            (d["tasks"][0]["lastStatus"] == "STOPPED").then_some(d)
        },
    )
    .await;
    assert_shape(&stopped, "DescribeTasksResponse");
    assert_eq!(stopped["tasks"][0]["stopCode"], "UserInitiated");
    assert_eq!(stopped["tasks"][0]["stoppedReason"], "e2e done");
    wait_for(
        Duration::from_secs(60),
        "the stopped task's pods gone",
        || async {
            let pods = ns
                .api::<Pod>()
                .list(&ListParams::default().labels("ecs-operator.io/task"))
                .await
                .ok()?;
            pods.items
                .iter()
                .all(|p| p.metadata.deletion_timestamp.is_some())
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        ecs_json(&n, &["list-tasks"])["taskArns"],
        serde_json::json!([])
    );
    assert_eq!(
        ecs_json(&n, &["list-tasks", "--desired-status", "STOPPED"])["taskArns"],
        serde_json::json!([task_arn])
    );
    let missing = ecs_json(&n, &["describe-tasks", "--tasks", "nope"]);
    assert_eq!(missing["failures"][0]["reason"], "MISSING");
    let _ = std::fs::remove_dir_all(&dir);
    ns.cleanup().await;
}

/// Wait until the Service's BLUE_GREEN deployment of `td` has `status` (and `stage`).
async fn wait_deployment(ns: &TestNamespace, td: &str, want: &str, stage: Option<&str>) {
    wait_for(
        Duration::from_secs(90),
        &format!("the deployment of {td} {want} {stage:?}"),
        || async {
            let svc = ns.api::<Service>().get("bg").await.ok()?;
            let d = svc.status?.service_deployment?;
            (d.target_service_revision.task_definition == td
                && d.status == want
                && stage.is_none_or(|s| d.lifecycle_stage == s))
            .then_some(())
        },
    )
    .await
}

fn bg_input(image: &str) -> String {
    format!(
        r#"{{"family": "bg", "containerDefinitions": [{{"name": "app", "image": "{image}", "cpu": 128, "memory": 128,
            "portMappings": [{{"containerPort": 8080, "name": "http"}}]}}]}}"#
    )
}

/// continue-service-deployment past a PAUSE hook, stop-service-deployment rolling back, with the
/// ARN describe-services prints as currentServiceDeployment.
#[tokio::test]
#[ignore = "needs the local cluster and the operator: scripts/test.sh"]
async fn continue_and_stop_service_deployment() {
    let ns = TestNamespace::new("kubectl-ecs-bg").await;
    let n = ns.name.clone();
    let register = |image: &str| {
        let out = ecs_json(
            &n,
            &[
                "register-task-definition",
                "--cli-input-json",
                &bg_input(image),
            ],
        );
        out["taskDefinition"]["revision"].as_i64().unwrap()
    };
    assert_eq!(register("nginx:1"), 1);
    apply_yaml(
        &n,
        r#"
apiVersion: ecs-operator.io/v1alpha1
kind: Service
metadata: {name: bg}
spec:
  serviceName: bg
  taskDefinition: bg
  desiredCount: 2
  loadBalancers: [{containerName: app, containerPort: 8080}]
  deploymentConfiguration:
    strategy: BLUE_GREEN
    bakeTimeInMinutes: 1
    lifecycleHooks:
    - {targetType: PAUSE, lifecycleStages: [POST_TEST_TRAFFIC_SHIFT]}
  kubernetes:
    deploymentMinuteSeconds: 2
"#,
    );
    wait_deployment(&ns, "bg:1", "SUCCESSFUL", None).await;
    let (code, _, stderr) = ecs(&[
        "-n",
        &n,
        "continue-service-deployment",
        "--service-deployment-arn",
        &format!("arn:aws:ecs:kubernetes:{n}:service-deployment/default/bg/ecs-svc/0"),
    ]);
    assert_eq!(code, 1);
    assert!(stderr.contains("not IN_PROGRESS"), "{stderr}");

    assert_eq!(register("nginx:2"), 2);
    wait_deployment(&ns, "bg:2", "IN_PROGRESS", Some("POST_TEST_TRAFFIC_SHIFT")).await;
    let d = ecs_json(&n, &["describe-services", "--services", "bg"]);
    assert_shape(&d, "DescribeServicesResponse");
    let arn = d["services"][0]["currentServiceDeployment"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        arn.starts_with(&format!(
            "arn:aws:ecs:kubernetes:{n}:service-deployment/default/bg/ecs-svc/"
        )),
        "{arn}"
    );
    let cont = ecs_json(
        &n,
        &[
            "continue-service-deployment",
            "--service-deployment-arn",
            &arn,
        ],
    );
    assert_shape(&cont, "ContinueServiceDeploymentResponse");
    assert_eq!(cont["serviceDeploymentArn"], arn.as_str());
    wait_deployment(&ns, "bg:2", "SUCCESSFUL", None).await;

    assert_eq!(register("nginx:3"), 3);
    wait_deployment(&ns, "bg:3", "IN_PROGRESS", Some("POST_TEST_TRAFFIC_SHIFT")).await;
    let d = ecs_json(&n, &["describe-services", "--services", "bg"]);
    let arn = d["services"][0]["currentServiceDeployment"]
        .as_str()
        .unwrap()
        .to_string();
    let stop = ecs_json(
        &n,
        &["stop-service-deployment", "--service-deployment-arn", &arn],
    );
    assert_shape(&stop, "StopServiceDeploymentResponse");
    wait_deployment(&ns, "bg:3", "ROLLBACK_SUCCESSFUL", None).await;
    let d = ecs_json(&n, &["describe-services", "--services", "bg"]);
    assert_eq!(
        d["services"][0]["taskDefinition"],
        format!("arn:aws:ecs:kubernetes:{n}:task-definition/bg:2")
    );
    ns.cleanup().await;
}

/// Run `kubectl-ecs -n NS ARGS`, expect a nonzero exit; its stderr.
fn ecs_fails(ns: &str, args: &[&str]) -> String {
    let mut all = vec!["-n", ns];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = ecs(&all);
    assert_ne!(code, 0, "kubectl-ecs {}: {stdout}{stderr}", all.join(" "));
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

fn arns(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// The tasks of an ECS Service (its pods) through list-tasks (ListTasksRequest serviceName,
/// family, containerInstance, startedBy), describe-tasks and stop-task (the pod deleted, a
/// replacement started); the AWS CLI's pagination (--max-items/--starting-token and
/// --max-results/--next-token) and --output text.
#[tokio::test]
#[ignore = "needs the local cluster and the operator: scripts/test.sh"]
async fn service_tasks_pagination_and_text_output() {
    let ns = TestNamespace::new("kubectl-ecs-svctask").await;
    let n = ns.name.clone();
    apply_yaml(&n, include_str!("../config/samples/cluster.yaml"));
    apply_yaml(&n, include_str!("../config/samples/taskdefinition.yaml"));
    apply_yaml(&n, &sample_service());
    let (deployment, _, _) = wait_for(
        Duration::from_secs(90),
        "the sample service steady with 2 tasks",
        || async { primary(&ns).await.filter(|(_, running, _)| *running == 2) },
    )
    .await;
    let pod_names = || async {
        let pods = ns
            .api::<Pod>()
            .list(&ListParams::default().labels("ecs-operator.io/service=web"))
            .await
            .unwrap();
        let mut names: Vec<(String, String)> = pods
            .items
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .map(|p| {
                let node = p.spec.as_ref().and_then(|s| s.node_name.clone());
                (p.metadata.name.clone().unwrap(), node.unwrap_or_default())
            })
            .collect();
        names.sort();
        names
    };
    let pods = pod_names().await;
    assert_eq!(pods.len(), 2, "{pods:?}");
    let task_arn = |pod: &str| format!("arn:aws:ecs:kubernetes:{n}:task/prod/{pod}");

    // list-tasks --service-name: the service's pods, an ARN each (oldest first).
    let list = ecs_json(
        &n,
        &["--cluster", "prod", "list-tasks", "--service-name", "web"],
    );
    assert_shape(&list, "ListTasksResponse");
    let mut listed = arns(&list["taskArns"]);
    listed.sort();
    let mut want: Vec<String> = pods.iter().map(|(p, _)| task_arn(p)).collect();
    want.sort();
    assert_eq!(listed, want);
    let every = ecs_json(&n, &["--cluster", "prod", "list-tasks"]);
    assert_eq!(arns(&every["taskArns"]).len(), 2, "{every}");
    assert_eq!(
        ecs_json(&n, &["list-tasks"])["taskArns"],
        serde_json::json!([]),
        "the default cluster has none"
    );

    // describe-tasks takes the ARNs back: ECS's Task shape, group and startedBy as ECS sets
    // them for a service's task.
    let d = ecs_json(
        &n,
        &[
            "--cluster",
            "prod",
            "describe-tasks",
            "--tasks",
            &want[0],
            &want[1],
        ],
    );
    assert_shape(&d, "DescribeTasksResponse");
    assert_eq!(d["failures"], serde_json::json!([]));
    for t in d["tasks"].as_array().unwrap() {
        assert_has(
            t,
            "tasks[]",
            &[
                "taskArn",
                "clusterArn",
                "taskDefinitionArn",
                "containerInstanceArn",
                "lastStatus",
                "desiredStatus",
                "containers",
                "createdAt",
                "startedAt",
                "startedBy",
                "group",
            ],
        );
        assert_eq!(t["group"], "service:web");
        assert_eq!(t["startedBy"], deployment.as_str());
        assert_eq!(t["lastStatus"], "RUNNING");
        assert_eq!(
            t["taskDefinitionArn"],
            format!("arn:aws:ecs:kubernetes:{n}:task-definition/web:1")
        );
    }
    // The id alone works as well as the ARN.
    let by_id = ecs_json(
        &n,
        &["--cluster", "prod", "describe-tasks", "--tasks", &pods[0].0],
    );
    assert_eq!(by_id["tasks"][0]["taskArn"], want[0].as_str());

    // The other ListTasksRequest filters.
    let (pod, node) = &pods[0];
    let on_node = ecs_json(
        &n,
        &[
            "--cluster",
            "prod",
            "list-tasks",
            "--container-instance",
            node,
        ],
    );
    assert!(
        arns(&on_node["taskArns"]).contains(&task_arn(pod)),
        "{on_node}"
    );
    let fam = ecs_json(&n, &["--cluster", "prod", "list-tasks", "--family", "web"]);
    assert_eq!(arns(&fam["taskArns"]).len(), 2);
    let none = ecs_json(&n, &["--cluster", "prod", "list-tasks", "--family", "nope"]);
    assert_eq!(none["taskArns"], serde_json::json!([]));
    let started = ecs_json(
        &n,
        &[
            "--cluster",
            "prod",
            "list-tasks",
            "--started-by",
            &deployment,
        ],
    );
    assert_eq!(arns(&started["taskArns"]).len(), 2);
    let e = ecs_fails(
        &n,
        &["--cluster", "prod", "list-tasks", "--service-name", "nope"],
    );
    assert!(
        e.contains("ServiceNotFoundException") && e.contains("--service-name"),
        "{e}"
    );
    let e = ecs_fails(&n, &["list-tasks", "--started-by", "x", "--family", "web"]);
    assert!(e.contains("--started-by must be the only filter"), "{e}");

    // CLI-level paging: --max-items, NextToken, --starting-token.
    let page1 = ecs_json(&n, &["--cluster", "prod", "list-tasks", "--max-items", "1"]);
    let token = page1["NextToken"].as_str().expect("NextToken").to_string();
    let mut body = page1.clone();
    body.as_object_mut().unwrap().remove("NextToken");
    assert_shape(&body, "ListTasksResponse");
    let page2 = ecs_json(
        &n,
        &[
            "--cluster",
            "prod",
            "list-tasks",
            "--max-items",
            "1",
            "--starting-token",
            &token,
        ],
    );
    assert!(page2.get("NextToken").is_none(), "{page2}");
    let mut both = arns(&page1["taskArns"]);
    both.extend(arns(&page2["taskArns"]));
    assert_eq!(
        both,
        arns(&every["taskArns"]),
        "the pages, in order, are the list"
    );
    // API-level paging: --max-results, nextToken (a ListTasksResponse member), --next-token.
    let api1 = ecs_json(
        &n,
        &["--cluster", "prod", "list-tasks", "--max-results", "1"],
    );
    assert_shape(&api1, "ListTasksResponse");
    let next = api1["nextToken"].as_str().expect("nextToken").to_string();
    let api2 = ecs_json(
        &n,
        &["--cluster", "prod", "list-tasks", "--next-token", &next],
    );
    assert_eq!(arns(&api2["taskArns"]), arns(&page2["taskArns"]));
    assert!(api2.get("nextToken").is_none());
    // --page-size: the Kubernetes list limit of each read (here a page per pod, following
    // `continue`); the output is the same.
    let small_pages = ecs_json(&n, &["--cluster", "prod", "list-tasks", "--page-size", "1"]);
    assert_eq!(small_pages["taskArns"], every["taskArns"]);
    let services_page = ecs_json(
        &n,
        &[
            "--cluster",
            "prod",
            "list-services",
            "--max-items",
            "1",
            "--page-size",
            "1",
        ],
    );
    assert_eq!(arns(&services_page["serviceArns"]).len(), 1);
    assert!(services_page.get("NextToken").is_none());
    // Bad paging input: the flag named, a nonzero exit.
    let e = ecs_fails(&n, &["list-tasks", "--starting-token", "not-a-token"]);
    assert!(
        e.contains("--starting-token not-a-token: not a token"),
        "{e}"
    );
    let e = ecs_fails(&n, &["list-services", "--next-token", &next]);
    assert!(
        e.contains("--next-token") && e.contains("list-tasks"),
        "{e}"
    );
    let e = ecs_fails(&n, &["list-tasks", "--max-results", "101"]);
    assert!(e.contains("--max-results 101"), "{e}");
    let e = ecs_fails(
        &n,
        &["list-tasks", "--max-results", "1", "--max-items", "1"],
    );
    assert!(e.contains("--max-items"), "{e}");
    let e = ecs_fails(&n, &["list-task-definitions", "--max-items", "0"]);
    assert!(e.contains("--max-items 0"), "{e}");

    // --output text, as the AWS CLI prints it.
    let (code, text, stderr) = ecs(&["-n", &n, "--cluster", "prod", "list-services", "-o", "text"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        text,
        format!("SERVICEARNS\tarn:aws:ecs:kubernetes:{n}:service/prod/web\n")
    );
    let (code, text, _) = ecs(&[
        "-n",
        &n,
        "--cluster",
        "prod",
        "list-tasks",
        "--max-items",
        "1",
        "-o",
        "text",
    ]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with("TASKARNS\tarn:aws:ecs:kubernetes:"),
        "{text}"
    );
    assert!(lines[1].starts_with("NEXTTOKEN\t"), "{text}");
    let (code, text, _) = ecs(&[
        "-n",
        &n,
        "--cluster",
        "prod",
        "describe-services",
        "--services",
        "web",
        "-o",
        "text",
    ]);
    assert_eq!(code, 0);
    assert!(text.starts_with("SERVICES\t"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("DEPLOYMENTS\t")),
        "{text}"
    );

    // stop-task of a service's task: its pod deleted; the service starts a replacement.
    let stop = ecs_json(
        &n,
        &[
            "--cluster",
            "prod",
            "stop-task",
            "--task",
            &want[0],
            "--reason",
            "e2e",
        ],
    );
    assert_shape(&stop, "StopTaskResponse");
    assert_eq!(stop["task"]["desiredStatus"], "STOPPED");
    assert_eq!(stop["task"]["stopCode"], "UserInitiated");
    let stopped_pod = arn_name(&want[0]);
    wait_for(
        Duration::from_secs(90),
        "a replacement for the stopped service task",
        || async {
            let now = pod_names().await;
            (now.len() == 2 && now.iter().all(|(p, _)| *p != stopped_pod)).then_some(())
        },
    )
    .await;
    let running = ecs_json(
        &n,
        &["--cluster", "prod", "list-tasks", "--service-name", "web"],
    );
    assert!(!arns(&running["taskArns"]).contains(&want[0]), "{running}");
    ns.cleanup().await;
}

fn arn_name(arn: &str) -> String {
    arn.rsplit('/').next().unwrap().to_string()
}

/// JSON nested `levels` deep: past serde_json's 128, which the typed structs cannot read.
fn nested(levels: usize) -> Value {
    let mut v = serde_json::json!("leaf");
    for _ in 0..levels {
        v = serde_json::json!({ "x": v });
    }
    v
}

/// Apply JSON documents with kubectl (server-side), from a file: YAML tools may not take the
/// depth.
fn apply_json(ns: &str, docs: &[Value]) {
    let path = std::env::temp_dir().join(format!("kubectl-ecs-{ns}-{}.json", docs.len()));
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": docs});
    std::fs::write(&path, list.to_string()).unwrap();
    harness::kubectl(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "-n",
        ns,
        "-f",
        path.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_file(path);
}

/// One object the typed structs cannot read (a TaskDefinition with spec.kubernetes
/// .podTemplatePatch, a Service with a lifecycle hook's hookDetails, each nested 300 levels
/// deep) breaks no list or describe of its kind: it is skipped with a warning that names it and
/// the path; described by name it is a failure and a nonzero exit.
#[tokio::test]
#[ignore = "needs the local cluster and the operator: scripts/test.sh"]
async fn an_unreadable_object_is_skipped_with_a_warning() {
    let ns = TestNamespace::new("kubectl-ecs-poison").await;
    let n = ns.name.clone();
    let dir = std::env::temp_dir().join(format!("kubectl-ecs-{n}"));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("batch.json");
    std::fs::write(&input, register_input("batch", 128)).unwrap();
    let file = format!("file://{}", input.display());
    ecs_json(&n, &["register-task-definition", "--cli-input-json", &file]);
    apply_json(
        &n,
        &[
            serde_json::json!({
                "apiVersion": "ecs-operator.io/v1alpha1", "kind": "TaskDefinition",
                "metadata": {"name": "nested"},
                "spec": {"family": "nested",
                    "containerDefinitions": [{"name": "app", "image": "nginx", "memory": 32}],
                    "kubernetes": {"podTemplatePatch": {"metadata": {"annotations": {"deep": nested(300)}}}}}
            }),
            serde_json::json!({
                "apiVersion": "ecs-operator.io/v1alpha1", "kind": "Service",
                "metadata": {"name": "deep"},
                "spec": {"serviceName": "deep", "taskDefinition": "batch", "desiredCount": 0,
                    "deploymentConfiguration": {"lifecycleHooks": [{"hookTargetArn": "arn:aws:lambda:us-east-1:1:function:f",
                        "lifecycleStages": ["POST_SCALE_UP"], "hookDetails": nested(300)}]}}
            }),
        ],
    );

    // list-task-definitions: the readable revisions, a warning naming the object and the path.
    let (code, stdout, stderr) = ecs(&["-n", &n, "list-task-definitions", "-o", "json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let list: Value = serde_json::from_str(&stdout).unwrap();
    assert_shape(&list, "ListTaskDefinitionsResponse");
    assert_eq!(
        list["taskDefinitionArns"],
        serde_json::json!([format!(
            "arn:aws:ecs:kubernetes:{n}:task-definition/batch:1"
        )])
    );
    assert!(
        stderr.contains(&format!(
            "warning: skipping taskdefinition/nested in namespace {n}: it cannot be read: spec.kubernetes.podTemplatePatch"
        )),
        "{stderr}"
    );
    // describe of that very object: a clear error, a nonzero exit.
    let e = ecs_fails(
        &n,
        &["describe-task-definition", "--task-definition", "nested"],
    );
    assert!(
        e.contains("taskdefinition/nested") && e.contains("nested more than 128 levels"),
        "{e}"
    );
    // Registering another family is not blocked by it.
    let other = dir.join("other.json");
    std::fs::write(&other, register_input("other", 64)).unwrap();
    let reg = ecs_json(
        &n,
        &[
            "register-task-definition",
            "--cli-input-json",
            &format!("file://{}", other.display()),
        ],
    );
    assert_eq!(reg["taskDefinition"]["revision"], 1);

    // list-services, list-tasks: exit 0, the warning; describe-services of it: a failure.
    let (code, stdout, stderr) = ecs(&["-n", &n, "list-services", "-o", "json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).unwrap()["serviceArns"],
        serde_json::json!([])
    );
    assert!(
        stderr.contains("warning: skipping service/deep")
            && stderr.contains("spec.deploymentConfiguration.lifecycleHooks[0].hookDetails")
            && stderr.contains("kubectl edit services.ecs-operator.io deep"),
        "{stderr}"
    );
    let (code, _, stderr) = ecs(&["-n", &n, "list-tasks"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("service/deep"), "{stderr}");
    let (code, stdout, stderr) = ecs(&[
        "-n",
        &n,
        "describe-services",
        "--services",
        "deep",
        "-o",
        "json",
    ]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let d: Value = serde_json::from_str(&stdout).unwrap();
    assert_shape(&d, "DescribeServicesResponse");
    assert_eq!(d["failures"][0]["reason"], "Undecodable");
    assert!(
        d["failures"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("nested more than 128 levels"),
        "{d}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    ns.cleanup().await;
}
