//! The custom resources as ECS's response shapes (botocore model 2014-11-13): a Service as
//! `Service` (with `Deployment` and `ServiceEvent`), a Task as `Task` (with `Container`), a
//! TaskDefinition revision as `TaskDefinition`, and `Failure`. Only members ECS has, in its
//! camelCase and with its types; timestamps as the AWS CLI prints them (ISO 8601, microseconds,
//! `+00:00`). Pure.

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use serde_json::{Map, Value, json};

use super::arn;
use crate::api::{Service, ServiceDeployment, Task, TaskContainerStatus};
use crate::controller::task::lifecycle::STOP_TASK;
use crate::translate::refs::{cluster_name, parse_task_definition_ref};

/// The cluster of resources that name none (ECS's `default`).
pub const DEFAULT_CLUSTER: &str = "default";

/// A timestamp as the AWS CLI prints one: `2026-01-02T03:04:05.000000+00:00`.
pub fn iso(t: Timestamp) -> String {
    format!(
        "{}.{:06}+00:00",
        t.strftime("%Y-%m-%dT%H:%M:%S"),
        t.subsec_microsecond()
    )
}

/// An RFC 3339 string (as the status has it) as the AWS CLI prints it; as it is when unparsable.
pub fn iso_str(s: &str) -> String {
    s.parse::<Timestamp>().map(iso).unwrap_or_else(|_| s.into())
}

/// The ECS cluster of a `spec.cluster` (a name or an ARN), `default` without one.
pub fn cluster_of(spec_cluster: Option<&str>) -> String {
    spec_cluster
        .filter(|c| !c.is_empty())
        .map(|c| cluster_name(c).to_string())
        .unwrap_or_else(|| DEFAULT_CLUSTER.into())
}

/// A task definition reference (`family`, `family:N`, ARN) as an ARN; without a revision the
/// ARN names the family only.
pub fn task_definition_arn(namespace: &str, reference: &str) -> String {
    match parse_task_definition_ref(reference) {
        (family, Some(n)) => arn::task_definition(namespace, &family, n),
        (family, None) => format!(
            "arn:aws:ecs:{}:{namespace}:task-definition/{family}",
            arn::REGION
        ),
    }
}

/// ECS `Failure`.
pub fn failure(arn: &str, reason: &str) -> Value {
    json!({"arn": arn, "reason": reason})
}

/// ECS `Failure` with its `detail`.
pub fn failure_with_detail(arn: &str, reason: &str, detail: &str) -> Value {
    json!({"arn": arn, "reason": reason, "detail": detail})
}

fn put(m: &mut Map<String, Value>, key: &str, v: Option<Value>) {
    if let Some(v) = v.filter(|v| !v.is_null()) {
        m.insert(key.into(), v);
    }
}

fn created(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Option<Value> {
    meta.creation_timestamp.as_ref().map(|t| json!(iso(t.0)))
}

/// Members of the spec (a CreateService request) that `Service` has under the same name, after
/// `createdAt` in the model's order.
const SERVICE_FROM_SPEC: &[&str] = &[
    "placementConstraints",
    "placementStrategy",
    "networkConfiguration",
    "healthCheckGracePeriodSeconds",
    "schedulingStrategy",
    "deploymentController",
    "enableECSManagedTags",
    "propagateTags",
    "enableExecuteCommand",
    "availabilityZoneRebalancing",
];

/// ECS `Service` (describe-services, update-service). `tags` only with `--include TAGS`.
pub fn service(svc: &Service, namespace: &str, include_tags: bool) -> Value {
    let cluster = cluster_of(svc.spec.cluster.as_deref());
    let name = svc.service_name();
    let st = svc.status.clone().unwrap_or_default();
    let spec = serde_json::to_value(&svc.spec).unwrap_or(Value::Null);
    let from_spec = |k: &str| spec.get(k).cloned();
    let service_arn = arn::service(namespace, &cluster, &name);
    let td = st
        .task_definition
        .clone()
        .or_else(|| svc.spec.task_definition.clone())
        .map(|r| task_definition_arn(namespace, &r));
    let mut m = Map::new();
    m.insert("serviceArn".into(), json!(service_arn));
    m.insert("serviceName".into(), json!(name));
    m.insert(
        "clusterArn".into(),
        json!(arn::cluster(namespace, &cluster)),
    );
    m.insert(
        "loadBalancers".into(),
        from_spec("loadBalancers").unwrap_or(json!([])),
    );
    m.insert(
        "serviceRegistries".into(),
        from_spec("serviceRegistries").unwrap_or(json!([])),
    );
    m.insert(
        "status".into(),
        json!(st.status.clone().unwrap_or_else(|| "ACTIVE".into())),
    );
    let desired = svc.spec.desired_count.unwrap_or(st.desired_count);
    m.insert("desiredCount".into(), json!(desired));
    m.insert("runningCount".into(), json!(st.running_count));
    m.insert("pendingCount".into(), json!(st.pending_count));
    for k in ["launchType", "capacityProviderStrategy", "platformVersion"] {
        put(&mut m, k, from_spec(k));
    }
    put(&mut m, "taskDefinition", td.map(Value::from));
    put(
        &mut m,
        "deploymentConfiguration",
        from_spec("deploymentConfiguration"),
    );
    let deployments: Vec<Value> = st
        .deployments
        .iter()
        .map(|d| deployment(d, namespace, &spec))
        .collect();
    m.insert("deployments".into(), Value::Array(deployments));
    put(&mut m, "roleArn", from_spec("role"));
    let events: Vec<Value> = st
        .events
        .iter()
        .map(|e| json!({"id": e.id, "createdAt": iso_str(&e.created_at), "message": e.message}))
        .collect();
    m.insert("events".into(), Value::Array(events));
    put(&mut m, "createdAt", created(&svc.metadata));
    if let Some(d) = &st.service_deployment {
        m.insert(
            "currentServiceDeployment".into(),
            json!(arn::service_deployment(namespace, &cluster, &name, &d.id)),
        );
    }
    for k in SERVICE_FROM_SPEC {
        // ECS's defaults, as describe-services shows them for a service created without.
        let default = match *k {
            "placementConstraints" | "placementStrategy" => Some(json!([])),
            "schedulingStrategy" => Some(json!("REPLICA")),
            "deploymentController" => Some(json!({"type": "ECS"})),
            "enableECSManagedTags" | "enableExecuteCommand" => Some(json!(false)),
            "propagateTags" => Some(json!("NONE")),
            _ => None,
        };
        put(&mut m, k, from_spec(k).or(default));
    }
    if include_tags {
        m.insert("tags".into(), from_spec("tags").unwrap_or(json!([])));
    }
    Value::Object(m)
}

/// ECS `Deployment`: the counts and rollout state of one deployment of the service, with the
/// launch settings of the service spec (ECS copies them into each deployment).
fn deployment(d: &ServiceDeployment, namespace: &str, spec: &Value) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(d.id));
    m.insert("status".into(), json!(d.status));
    m.insert(
        "taskDefinition".into(),
        json!(task_definition_arn(namespace, &d.task_definition)),
    );
    m.insert("desiredCount".into(), json!(d.desired_count));
    m.insert("pendingCount".into(), json!(d.pending_count));
    m.insert("runningCount".into(), json!(d.running_count));
    m.insert("failedTasks".into(), json!(d.failed_tasks));
    put(
        &mut m,
        "createdAt",
        d.created_at.as_deref().map(|t| json!(iso_str(t))),
    );
    put(
        &mut m,
        "updatedAt",
        d.updated_at.as_deref().map(|t| json!(iso_str(t))),
    );
    for k in [
        "capacityProviderStrategy",
        "launchType",
        "platformVersion",
        "networkConfiguration",
    ] {
        put(&mut m, k, spec.get(k).cloned());
    }
    put(
        &mut m,
        "rolloutState",
        d.rollout_state.clone().map(Value::from),
    );
    put(
        &mut m,
        "rolloutStateReason",
        d.rollout_state_reason.clone().map(Value::from),
    );
    Value::Object(m)
}

/// ECS `Task` (describe-tasks, run-task, stop-task): one Task resource, its id the resource's
/// name. `desiredStatus` is STOPPED once a stop was asked for (`stop-task`), as ECS answers
/// StopTask before the task has stopped. `tags` only with `--include TAGS`.
pub fn task(task: &Task, namespace: &str, include_tags: bool) -> Value {
    let cluster = cluster_of(task.spec.cluster.as_deref());
    let id = task.name_any();
    let st = task.status.clone().unwrap_or_default();
    let spec = serde_json::to_value(&task.spec).unwrap_or(Value::Null);
    let task_arn = arn::task(namespace, &cluster, &id);
    let reference = st
        .task_definition
        .clone()
        .or_else(|| task.spec.task_definition.clone())
        .unwrap_or_default();
    let family = parse_task_definition_ref(&reference).0;
    let stop_asked = task.annotations().contains_key(STOP_TASK);
    let mut m = Map::new();
    m.insert("attachments".into(), json!([]));
    m.insert(
        "clusterArn".into(),
        json!(arn::cluster(namespace, &cluster)),
    );
    let containers: Vec<Value> = st
        .containers
        .iter()
        .map(|c| container(c, namespace, &cluster, &id, &task_arn))
        .collect();
    m.insert("containers".into(), Value::Array(containers));
    put(&mut m, "createdAt", created(&task.metadata));
    let desired = if stop_asked {
        "STOPPED".to_string()
    } else {
        st.desired_status
            .clone()
            .unwrap_or_else(|| "RUNNING".into())
    };
    m.insert("desiredStatus".into(), json!(desired));
    m.insert(
        "enableExecuteCommand".into(),
        spec.get("enableExecuteCommand")
            .cloned()
            .unwrap_or(json!(false)),
    );
    m.insert(
        "group".into(),
        spec.get("group")
            .cloned()
            .unwrap_or_else(|| json!(format!("family:{family}"))),
    );
    put(
        &mut m,
        "healthStatus",
        st.health_status.clone().map(Value::from),
    );
    m.insert(
        "lastStatus".into(),
        json!(
            st.last_status
                .clone()
                .unwrap_or_else(|| "PROVISIONING".into())
        ),
    );
    put(&mut m, "launchType", spec.get("launchType").cloned());
    m.insert(
        "overrides".into(),
        spec.get("overrides").cloned().unwrap_or_else(
            || json!({"containerOverrides": [], "inferenceAcceleratorOverrides": []}),
        ),
    );
    put(
        &mut m,
        "platformVersion",
        spec.get("platformVersion").cloned(),
    );
    put(
        &mut m,
        "startedAt",
        st.started_at.as_deref().map(|t| json!(iso_str(t))),
    );
    put(&mut m, "startedBy", spec.get("startedBy").cloned());
    put(&mut m, "stopCode", st.stop_code.clone().map(Value::from));
    put(
        &mut m,
        "stoppedAt",
        st.stopped_at.as_deref().map(|t| json!(iso_str(t))),
    );
    put(
        &mut m,
        "stoppedReason",
        st.stopped_reason.clone().map(Value::from),
    );
    if include_tags {
        m.insert(
            "tags".into(),
            spec.get("tags").cloned().unwrap_or(json!([])),
        );
    }
    m.insert("taskArn".into(), json!(task_arn));
    m.insert(
        "taskDefinitionArn".into(),
        json!(task_definition_arn(namespace, &reference)),
    );
    Value::Object(m)
}

/// ECS `Container`: one container of one copy (pod) of the task; `runtimeId` is `pod/container`.
fn container(
    c: &TaskContainerStatus,
    namespace: &str,
    cluster: &str,
    task: &str,
    task_arn: &str,
) -> Value {
    let mut m = Map::new();
    m.insert(
        "containerArn".into(),
        json!(arn::container(namespace, cluster, task, &c.pod, &c.name)),
    );
    m.insert("taskArn".into(), json!(task_arn));
    m.insert("name".into(), json!(c.name));
    m.insert("runtimeId".into(), json!(format!("{}/{}", c.pod, c.name)));
    m.insert("lastStatus".into(), json!(c.last_status));
    put(&mut m, "exitCode", c.exit_code.map(Value::from));
    put(&mut m, "reason", c.reason.clone().map(Value::from));
    m.insert("networkInterfaces".into(), json!([]));
    put(
        &mut m,
        "healthStatus",
        c.health_status.clone().map(Value::from),
    );
    Value::Object(m)
}

/// ECS `TaskDefinition` members in the model's order.
const TASK_DEFINITION_MEMBERS: &[&str] = &[
    "taskDefinitionArn",
    "containerDefinitions",
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "revision",
    "volumes",
    "status",
    "requiresAttributes",
    "placementConstraints",
    "compatibilities",
    "runtimePlatform",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "inferenceAccelerators",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "registeredAt",
    "deregisteredAt",
    "deleteRequestedAt",
    "registeredBy",
    "ephemeralStorage",
    "enableFaultInjection",
    "trustedExecutionConfiguration",
];

/// One revision of a task definition.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Revision {
    pub family: String,
    pub revision: i64,
    /// The stored (normalized) spec: a RegisterTaskDefinition request plus `kubernetes`.
    pub spec: Value,
    /// RFC 3339.
    pub registered_at: Option<String>,
    /// RFC 3339; set once deregistered (INACTIVE).
    pub deregistered_at: Option<String>,
}

/// ECS `TaskDefinition` of a revision, and its tags (DescribeTaskDefinitionResponse.tags):
/// the request members as registered, with ARN, revision, status (ACTIVE, or INACTIVE once
/// deregistered), compatibilities and registeredAt; the `kubernetes` settings left out.
pub fn task_definition(r: &Revision, namespace: &str) -> (Value, Value) {
    let mut from: Map<String, Value> = r.spec.as_object().cloned().unwrap_or_default();
    let tags = from.remove("tags").unwrap_or(json!([]));
    from.insert(
        "taskDefinitionArn".into(),
        json!(arn::task_definition(namespace, &r.family, r.revision)),
    );
    from.insert("family".into(), json!(r.family));
    from.insert("revision".into(), json!(r.revision));
    let status = if r.deregistered_at.is_some() {
        "INACTIVE"
    } else {
        "ACTIVE"
    };
    from.insert("status".into(), json!(status));
    from.entry("containerDefinitions").or_insert(json!([]));
    from.entry("volumes").or_insert(json!([]));
    from.entry("placementConstraints").or_insert(json!([]));
    from.insert("requiresAttributes".into(), json!([]));
    let compatibilities = from
        .get("requiresCompatibilities")
        .cloned()
        .unwrap_or(json!(["EC2"]));
    from.insert("compatibilities".into(), compatibilities);
    for (k, v) in [
        ("registeredAt", &r.registered_at),
        ("deregisteredAt", &r.deregistered_at),
    ] {
        match v {
            Some(t) => from.insert(k.into(), json!(iso_str(t))),
            None => from.remove(k),
        };
    }
    let mut out = Map::new();
    for k in TASK_DEFINITION_MEMBERS {
        if let Some(v) = from.remove(*k) {
            out.insert((*k).into(), v);
        }
    }
    (Value::Object(out), tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Value {
        let text = include_str!("../../../tests/fixtures/ecs-shapes/shapes.json");
        serde_json::from_str::<Value>(text).unwrap()["shapes"].clone()
    }

    fn sample_service() -> Service {
        serde_json::from_value(json!({
            "apiVersion": "ecs-operator.io/v1alpha1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "shop", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"cluster": "arn:aws:ecs:us-east-1:1:cluster/prod", "taskDefinition": "web", "desiredCount": 3,
                "capacityProviderStrategy": [{"capacityProvider": "spot", "weight": 1}],
                "deploymentConfiguration": {"maximumPercent": 200, "minimumHealthyPercent": 100,
                    "deploymentCircuitBreaker": {"enable": true, "rollback": true}},
                "role": "svc-role", "tags": [{"key": "team", "value": "a"}],
                "autoscaling": {"minCapacity": 1, "maxCapacity": 3}, "kubernetes": {}},
            "status": {"status": "ACTIVE", "desiredCount": 3, "runningCount": 2, "pendingCount": 1,
                "taskDefinition": "web:2", "selector": "x=y", "warnings": ["w"], "observedGeneration": 4,
                "deployments": [{"id": "ecs-svc/1", "status": "PRIMARY", "taskDefinition": "web:2",
                    "desiredCount": 3, "runningCount": 2, "pendingCount": 1, "rolloutState": "IN_PROGRESS",
                    "rolloutStateReason": "ECS deployment ecs-svc/1 in progress.",
                    "createdAt": "2026-01-01T00:01:00Z", "updatedAt": "2026-01-01T00:02:00Z",
                    "forceNewDeployment": "x", "lifecycleStage": "SCALE_UP"}],
                "events": [{"id": "e1", "createdAt": "2026-01-01T00:03:00Z", "message": "(service web) has started 1 tasks."}],
                "serviceDeployment": {"id": "ecs-svc/1", "strategy": "BLUE_GREEN", "status": "IN_PROGRESS",
                    "lifecycleStage": "SCALE_UP", "stageStartedAt": "", "createdAt": "", "updatedAt": "",
                    "targetServiceRevision": {"taskDefinition": "web:2", "slot": "alt"}}}
        }))
        .unwrap()
    }

    #[test]
    fn a_service_has_the_describe_services_shape_with_ecs_arns_and_timestamps() {
        let s = service(&sample_service(), "shop", true);
        let resp = json!({"services": [s.clone()], "failures": [failure("arn:x", "MISSING")]});
        assert_eq!(
            check(&resp, "DescribeServicesResponse"),
            Vec::<String>::new()
        );
        assert_eq!(
            s["serviceArn"],
            "arn:aws:ecs:kubernetes:shop:service/prod/web"
        );
        assert_eq!(s["clusterArn"], "arn:aws:ecs:kubernetes:shop:cluster/prod");
        assert_eq!(
            s["taskDefinition"],
            "arn:aws:ecs:kubernetes:shop:task-definition/web:2"
        );
        assert_eq!(s["desiredCount"], 3);
        assert_eq!(s["roleArn"], "svc-role");
        assert_eq!(s["createdAt"], "2026-01-01T00:00:00.000000+00:00");
        assert_eq!(
            s["deployments"][0]["createdAt"],
            "2026-01-01T00:01:00.000000+00:00"
        );
        assert_eq!(
            s["deployments"][0]["capacityProviderStrategy"][0]["capacityProvider"],
            "spot"
        );
        assert_eq!(s["events"][0]["id"], "e1");
        assert_eq!(
            s["currentServiceDeployment"],
            "arn:aws:ecs:kubernetes:shop:service-deployment/prod/web/ecs-svc/1"
        );
        assert_eq!(s["tags"][0]["key"], "team");
        assert!(
            service(&sample_service(), "shop", false)
                .get("tags")
                .is_none()
        );
    }

    #[test]
    fn a_service_without_status_still_has_the_required_members() {
        let mut svc = sample_service();
        svc.status = None;
        let s = service(&svc, "shop", false);
        assert_eq!(check(&s, "Service"), Vec::<String>::new());
        for k in [
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
        ] {
            assert!(s.get(k).is_some(), "{k}");
        }
        assert_eq!(
            s["taskDefinition"],
            "arn:aws:ecs:kubernetes:shop:task-definition/web"
        );
    }

    #[test]
    fn the_sample_services_have_the_describe_services_shape() {
        for yaml in [
            include_str!("../../../config/samples/service.yaml"),
            include_str!("../../../config/samples/service-blue-green.yaml"),
        ] {
            let svc: Service = serde_norway::from_str(yaml).unwrap();
            let resp = json!({"services": [service(&svc, "default", true)], "failures": []});
            assert_eq!(
                check(&resp, "DescribeServicesResponse"),
                Vec::<String>::new()
            );
        }
    }

    fn check(v: &Value, shape: &str) -> Vec<String> {
        super::super::conform::check(v, shape, &model())
    }

    #[test]
    fn a_task_has_the_describe_tasks_shape() {
        let t: Task = serde_json::from_value(json!({
            "apiVersion": "ecs-operator.io/v1alpha1", "kind": "Task",
            "metadata": {"name": "migrate-x1", "namespace": "shop", "creationTimestamp": "2026-01-01T00:00:00Z",
                "annotations": {STOP_TASK: "done"}},
            "spec": {"taskDefinition": "web", "startedBy": "me", "count": 1,
                "overrides": {"containerOverrides": [{"name": "web", "command": ["true"]}]}},
            "status": {"lastStatus": "RUNNING", "desiredStatus": "RUNNING", "taskDefinition": "web:3",
                "healthStatus": "UNKNOWN", "startedAt": "2026-01-01T00:00:05Z",
                "containers": [{"pod": "migrate-x1-0", "name": "web", "lastStatus": "RUNNING", "essential": true, "exitCode": 0}]}
        }))
        .unwrap();
        let v = task(&t, "shop", true);
        let resp = json!({"tasks": [v.clone()], "failures": []});
        assert_eq!(check(&resp, "DescribeTasksResponse"), Vec::<String>::new());
        assert_eq!(
            check(&json!({"task": v.clone()}), "StopTaskResponse"),
            Vec::<String>::new()
        );
        assert_eq!(
            v["taskArn"],
            "arn:aws:ecs:kubernetes:shop:task/default/migrate-x1"
        );
        assert_eq!(v["desiredStatus"], "STOPPED");
        assert_eq!(v["group"], "family:web");
        assert_eq!(
            v["taskDefinitionArn"],
            "arn:aws:ecs:kubernetes:shop:task-definition/web:3"
        );
        assert_eq!(v["containers"][0]["runtimeId"], "migrate-x1-0/web");
        assert_eq!(v["startedAt"], "2026-01-01T00:00:05.000000+00:00");
    }

    #[test]
    fn a_revision_has_the_describe_task_definition_shape() {
        let r = Revision {
            family: "web".into(),
            revision: 2,
            spec: json!({"family": "web", "cpu": "256", "memory": "512", "networkMode": "awsvpc",
                "containerDefinitions": [{"name": "web", "image": "nginx", "essential": true,
                    "portMappings": [{"containerPort": 80}], "healthCheck": {"command": ["CMD", "true"], "interval": 5}}],
                "tags": [{"key": "team", "value": "a"}], "kubernetes": {"serviceAccountName": "x"}}),
            registered_at: Some("2026-01-01T00:00:00Z".into()),
            deregistered_at: None,
        };
        let (td, tags) = task_definition(&r, "shop");
        let resp = json!({"taskDefinition": td.clone(), "tags": tags.clone()});
        assert_eq!(
            check(&resp, "DescribeTaskDefinitionResponse"),
            Vec::<String>::new()
        );
        let keys: Vec<&str> = td.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys[0], "taskDefinitionArn");
        assert!(td.get("kubernetes").is_none() && td.get("tags").is_none());
        assert_eq!(td["status"], "ACTIVE");
        assert_eq!(td["revision"], 2);
        assert_eq!(tags[0]["key"], "team");
        let gone = Revision {
            deregistered_at: Some("2026-01-02T00:00:00Z".into()),
            ..r
        };
        let (td, _) = task_definition(&gone, "shop");
        assert_eq!(td["status"], "INACTIVE");
        assert_eq!(td["deregisteredAt"], "2026-01-02T00:00:00.000000+00:00");
    }
}
