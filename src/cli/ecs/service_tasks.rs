//! The tasks of ECS Services: the pods the operator's workloads run for a Service, labelled
//! with [`names::SERVICE`] (the Service resource's name, `translate::service::selector`). Each
//! pod is one ECS task: its id is the pod's name (stable for the pod's life, and what `kubectl
//! get pod` takes), its ARN `task/<cluster>/<pod>`; `describe-tasks --tasks` and `stop-task
//! --task` take it back. ECS's own values where they map: `group` `service:<serviceName>`,
//! `startedBy` the id of the deployment that runs the pod's revision (ECS sets it to the
//! deployment id), `containerInstanceArn` the pod's node. Pure.

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use serde_json::{Map, Value, json};

use super::arn;
use super::shapes::{cluster_of, iso, task_definition_arn};
use crate::api::Service;
use crate::translate::names::{self, label_value};
use crate::translate::refs::parse_task_definition_ref;

/// What a service task's shape needs of its Service.
#[derive(Clone, Debug, Default)]
pub struct Owner {
    /// The Service resource's name (the pods' [`names::SERVICE`] label, as a label value).
    pub resource: String,
    /// The ECS service name.
    pub service_name: String,
    pub cluster: String,
    pub launch_type: Option<Value>,
    pub enable_execute_command: Option<Value>,
    /// Its deployments' (id, `family:N`).
    pub deployments: Vec<(String, String)>,
}

impl Owner {
    pub fn of(svc: &Service) -> Self {
        let spec = serde_json::to_value(&svc.spec).unwrap_or(Value::Null);
        Owner {
            resource: svc.name_any(),
            service_name: svc.service_name(),
            cluster: cluster_of(svc.spec.cluster.as_deref()),
            launch_type: spec.get("launchType").cloned(),
            enable_execute_command: spec.get("enableExecuteCommand").cloned(),
            deployments: svc
                .status
                .iter()
                .flat_map(|s| &s.deployments)
                .map(|d| (d.id.clone(), d.task_definition.clone()))
                .collect(),
        }
    }

    /// Whether `pod` is one of this Service's tasks.
    pub fn owns(&self, pod: &Pod) -> bool {
        pod.labels().get(names::SERVICE) == Some(&label_value(&self.resource))
    }
}

/// The ECS container instance of a pod: its node.
pub fn container_instance(namespace: &str, cluster: &str, pod: &Pod) -> Option<String> {
    let node = pod.spec.as_ref()?.node_name.as_deref()?;
    Some(arn::container_instance(namespace, cluster, node))
}

/// The `family:N` and deployment id of the revision the pod runs (its family and revision
/// labels matched against the Service's deployments; the family label alone else).
fn revision_of(pod: &Pod, owner: &Owner) -> (String, Option<String>) {
    let labels = pod.labels();
    let family = labels.get(names::FAMILY).cloned().unwrap_or_default();
    let revision: Option<i64> = labels.get(names::REVISION).and_then(|r| r.parse().ok());
    for (id, td) in &owner.deployments {
        let (f, n) = parse_task_definition_ref(td);
        if label_value(&f) == family && n == revision {
            return (td.clone(), Some(id.clone()));
        }
    }
    match revision {
        Some(n) => (format!("{family}:{n}"), None),
        None => (family, None),
    }
}

fn put(m: &mut Map<String, Value>, key: &str, v: Option<Value>) {
    if let Some(v) = v.filter(|v| !v.is_null()) {
        m.insert(key.into(), v);
    }
}

fn at(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> Value {
    json!(iso(t.0))
}

/// The containers that decide the task's health (`name:seconds` each, see
/// [`names::HEALTH_CHECKED`]).
fn health_checked(pod: &Pod) -> Vec<(String, i64)> {
    pod.annotations()
        .get(names::HEALTH_CHECKED)
        .map(|v| {
            v.split(',')
                .filter_map(|e| {
                    let (n, s) = e.split_once(':').unwrap_or((e, "0"));
                    Some((n.to_string(), s.parse().ok()?))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A container's ECS health: HEALTHY once ready; UNHEALTHY when running unready past its
/// grace seconds; UNKNOWN before (and without a health check).
fn container_health(cs: &ContainerStatus, grace: Option<i64>, now: Timestamp) -> &'static str {
    let Some(grace) = grace else {
        return "UNKNOWN";
    };
    let running_since = cs
        .state
        .as_ref()
        .and_then(|s| s.running.as_ref())
        .and_then(|r| r.started_at.as_ref());
    match (cs.ready, running_since) {
        (true, _) => "HEALTHY",
        (false, Some(t)) if now.as_second() - t.0.as_second() > grace => "UNHEALTHY",
        _ => "UNKNOWN",
    }
}

/// ECS `Task` of a service's pod. `desiredStatus` is STOPPED once the pod is being deleted or
/// has ended (ECS replaces such a task).
pub fn task(
    pod: &Pod,
    owner: &Owner,
    namespace: &str,
    include_tags: bool,
    now: Timestamp,
) -> Value {
    let cluster = &owner.cluster;
    let id = pod.name_any();
    let task_arn = arn::task(namespace, cluster, &id);
    let (reference, deployment) = revision_of(pod, owner);
    let status = pod.status.clone().unwrap_or_default();
    let phase = status.phase.as_deref().unwrap_or("Pending");
    let deleting = pod.metadata.deletion_timestamp.as_ref();
    let ended = matches!(phase, "Succeeded" | "Failed");
    let checked = health_checked(pod);
    let spec_images: Vec<(String, String)> = pod
        .spec
        .iter()
        .flat_map(|s| &s.containers)
        .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
        .collect();
    let statuses = status.container_statuses.clone().unwrap_or_default();
    let mut containers = Vec::new();
    let mut health = Vec::new();
    for (name, image) in &spec_images {
        let cs = statuses.iter().find(|c| &c.name == name);
        let state = cs.and_then(|c| c.state.as_ref());
        let terminated = state.and_then(|s| s.terminated.as_ref());
        let last = match state {
            Some(s) if s.running.is_some() => "RUNNING",
            Some(s) if s.terminated.is_some() => "STOPPED",
            _ => "PENDING",
        };
        let grace = checked.iter().find(|(n, _)| n == name).map(|(_, g)| *g);
        let h = cs.map_or("UNKNOWN", |c| container_health(c, grace, now));
        if grace.is_some() {
            health.push(h);
        }
        let mut c = Map::new();
        c.insert(
            "containerArn".into(),
            json!(arn::container(namespace, cluster, &id, &id, name)),
        );
        c.insert("taskArn".into(), json!(task_arn));
        c.insert("name".into(), json!(name));
        c.insert("image".into(), json!(image));
        put(
            &mut c,
            "imageDigest",
            cs.and_then(|c| c.image_id.rsplit_once('@'))
                .map(|(_, d)| json!(d)),
        );
        c.insert("runtimeId".into(), json!(format!("{id}/{name}")));
        c.insert("lastStatus".into(), json!(last));
        put(&mut c, "exitCode", terminated.map(|t| json!(t.exit_code)));
        put(
            &mut c,
            "reason",
            terminated.and_then(|t| t.reason.clone()).map(Value::from),
        );
        c.insert("networkInterfaces".into(), json!([]));
        c.insert("healthStatus".into(), json!(h));
        containers.push(Value::Object(c));
    }
    let last_status = match () {
        _ if ended => "STOPPED",
        _ if deleting.is_some() => "STOPPING",
        _ if phase == "Running" => "RUNNING",
        _ if pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_ref())
            .is_none() =>
        {
            "PROVISIONING"
        }
        _ => "PENDING",
    };
    let task_health = if health.contains(&"UNHEALTHY") {
        "UNHEALTHY"
    } else if !health.is_empty() && health.iter().all(|h| *h == "HEALTHY") {
        "HEALTHY"
    } else {
        "UNKNOWN"
    };
    let started = statuses
        .iter()
        .filter_map(|c| c.state.as_ref()?.running.as_ref()?.started_at.as_ref())
        .max_by_key(|t| t.0)
        .or(status.start_time.as_ref())
        .filter(|_| last_status == "RUNNING" || last_status == "STOPPING" || ended);
    let stopped = statuses
        .iter()
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref())
        .max_by_key(|t| t.0)
        .filter(|_| ended);
    let mut m = Map::new();
    m.insert("attachments".into(), json!([]));
    m.insert("clusterArn".into(), json!(arn::cluster(namespace, cluster)));
    put(
        &mut m,
        "capacityProviderName",
        pod.labels().get(names::CAPACITY_PROVIDER).map(|c| json!(c)),
    );
    put(
        &mut m,
        "containerInstanceArn",
        container_instance(namespace, cluster, pod).map(Value::from),
    );
    m.insert("containers".into(), Value::Array(containers));
    put(
        &mut m,
        "createdAt",
        pod.metadata.creation_timestamp.as_ref().map(at),
    );
    let desired = if ended || deleting.is_some() {
        "STOPPED"
    } else {
        "RUNNING"
    };
    m.insert("desiredStatus".into(), json!(desired));
    m.insert(
        "enableExecuteCommand".into(),
        owner.enable_execute_command.clone().unwrap_or(json!(false)),
    );
    m.insert(
        "group".into(),
        json!(format!("service:{}", owner.service_name)),
    );
    m.insert("healthStatus".into(), json!(task_health));
    m.insert("lastStatus".into(), json!(last_status));
    put(&mut m, "launchType", owner.launch_type.clone());
    m.insert(
        "overrides".into(),
        json!({"containerOverrides": [], "inferenceAcceleratorOverrides": []}),
    );
    put(&mut m, "startedAt", started.map(at));
    put(&mut m, "startedBy", deployment.map(Value::from));
    if ended {
        m.insert("stopCode".into(), json!("EssentialContainerExited"));
        put(&mut m, "stoppedAt", stopped.map(at));
        m.insert(
            "stoppedReason".into(),
            json!("Essential container in task exited"),
        );
    } else if let Some(d) = deleting {
        // The pod's deletion was asked for its grace period before this deadline.
        let grace = pod.metadata.deletion_grace_period_seconds.unwrap_or(0);
        let asked =
            d.0.checked_sub(k8s_openapi::jiff::SignedDuration::from_secs(grace));
        put(&mut m, "stoppingAt", asked.ok().map(|t| json!(iso(t))));
    }
    if include_tags {
        m.insert("tags".into(), json!([]));
    }
    m.insert("taskArn".into(), json!(task_arn));
    m.insert(
        "taskDefinitionArn".into(),
        json!(task_definition_arn(namespace, &reference)),
    );
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-01-02T00:10:00Z".parse().unwrap()
    }

    fn owner() -> Owner {
        Owner {
            resource: "web".into(),
            service_name: "web_app".into(),
            cluster: "prod".into(),
            launch_type: Some(json!("EC2")),
            deployments: vec![
                ("ecs-svc/2".into(), "web:2".into()),
                ("ecs-svc/1".into(), "web:1".into()),
            ],
            ..Owner::default()
        }
    }

    pub(crate) fn pod(name: &str, revision: &str, phase: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "shop", "creationTimestamp": "2026-01-02T00:00:00Z",
                "labels": {names::SERVICE: "web", names::FAMILY: "web", names::REVISION: revision},
                "annotations": {names::HEALTH_CHECKED: "app:30"}},
            "spec": {"nodeName": "node-1", "containers": [
                {"name": "app", "image": "nginx:1"}, {"name": "log", "image": "busybox"}]},
            "status": {"phase": phase, "startTime": "2026-01-02T00:00:01Z", "containerStatuses": [
                {"name": "app", "image": "nginx:1", "imageID": "docker.io/nginx@sha256:abc", "ready": true,
                 "restartCount": 0, "state": {"running": {"startedAt": "2026-01-02T00:00:05Z"}}},
                {"name": "log", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0,
                 "state": {"waiting": {"reason": "ContainerCreating"}}}]}
        }))
        .unwrap()
    }

    fn shapes() -> Value {
        let text = include_str!("../../../tests/fixtures/ecs-shapes/shapes.json");
        serde_json::from_str::<Value>(text).unwrap()["shapes"].clone()
    }

    #[test]
    fn a_service_pod_is_an_ecs_task_of_the_model_shape() {
        let p = pod("web-7d9f-abcde", "2", "Running");
        assert!(owner().owns(&p));
        let t = task(&p, &owner(), "shop", true, now());
        let problems = super::super::conform::check(&t, "Task", &shapes());
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            t["taskArn"],
            "arn:aws:ecs:kubernetes:shop:task/prod/web-7d9f-abcde"
        );
        assert_eq!(
            t["taskDefinitionArn"],
            "arn:aws:ecs:kubernetes:shop:task-definition/web:2"
        );
        assert_eq!(t["startedBy"], "ecs-svc/2");
        assert_eq!(t["group"], "service:web_app");
        assert_eq!(t["lastStatus"], "RUNNING");
        assert_eq!(t["desiredStatus"], "RUNNING");
        assert_eq!(t["healthStatus"], "HEALTHY");
        assert_eq!(t["launchType"], "EC2");
        assert_eq!(
            t["containerInstanceArn"],
            "arn:aws:ecs:kubernetes:shop:container-instance/prod/node-1"
        );
        assert_eq!(t["startedAt"], "2026-01-02T00:00:05.000000+00:00");
        assert_eq!(t["containers"][0]["imageDigest"], "sha256:abc");
        assert_eq!(t["containers"][1]["lastStatus"], "PENDING");
        assert_eq!(t["containers"][1]["healthStatus"], "UNKNOWN");
    }

    #[test]
    fn ended_and_deleted_pods_are_stopped_tasks() {
        let t = task(&pod("web-x", "1", "Failed"), &owner(), "shop", false, now());
        assert_eq!(
            (t["lastStatus"].as_str(), t["desiredStatus"].as_str()),
            (Some("STOPPED"), Some("STOPPED"))
        );
        assert_eq!(t["stopCode"], "EssentialContainerExited");
        assert_eq!(t["startedBy"], "ecs-svc/1");
        let mut p = pod("web-y", "2", "Running");
        p.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            "2026-01-02T00:10:30Z".parse().unwrap(),
        ));
        p.metadata.deletion_grace_period_seconds = Some(30);
        let t = task(&p, &owner(), "shop", false, now());
        assert_eq!(
            (t["lastStatus"].as_str(), t["desiredStatus"].as_str()),
            (Some("STOPPING"), Some("STOPPED"))
        );
        assert_eq!(t["stoppingAt"], "2026-01-02T00:10:00.000000+00:00");
        // A revision no deployment runs any longer: its family:N from the labels.
        let t = task(
            &pod("web-z", "7", "Pending"),
            &owner(),
            "shop",
            false,
            now(),
        );
        assert_eq!(
            t["taskDefinitionArn"],
            "arn:aws:ecs:kubernetes:shop:task-definition/web:7"
        );
        assert!(t.get("startedBy").is_none());
        assert_eq!(t["lastStatus"], "PENDING");
    }
}
