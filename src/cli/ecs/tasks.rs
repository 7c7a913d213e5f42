//! The task verbs: `describe-tasks`, `list-tasks`, `run-task` (a Task resource: the RunTask
//! request as its spec) and `stop-task`. Two kinds of task, as in ECS:
//!
//! - standalone tasks: Task resources, the task id the resource's name. stop-task sets the
//!   `ecs-operator.io/stop-task` annotation, its value the reason; the Task controller records
//!   stopCode UserInitiated and stops the pods;
//! - the tasks of ECS Services: their pods ([`service_tasks`]), the task id the pod's name.
//!   stop-task deletes the pod; the Service's workload then starts a replacement, as the ECS
//!   service scheduler does for a stopped service task.
//!
//! A name that is both a Task and a service's pod is the Task. An object of either kind that
//! cannot be read is left out with a warning ([`super::tolerant`]).

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Map, Value, json};

use super::paging::{self, Paging};
use super::service_tasks::{self, Owner};
use super::tolerant::{self, Unreadable};
use super::{FIELD_MANAGER, Response, Target, api_error, arn, now, services, shapes, table};
use crate::api::{Task, TaskSpec};
use crate::controller::task::lifecycle::STOP_TASK;
use crate::translate::names::{self, dns_label, label_value};
use crate::translate::refs::parse_task_definition_ref;

fn api(t: &Target) -> Api<Task> {
    Api::namespaced(t.client.clone(), &t.namespace)
}

/// One task of the target cluster, as it was found.
#[derive(Clone, Debug)]
pub enum Found {
    Task(Box<Task>),
    /// A service's pod, and its Service.
    Pod(Box<Pod>, Box<Owner>),
}

/// The tasks of the target cluster (the Task resources, the pods of its Services) and the
/// objects that could not be read.
#[derive(Clone, Debug, Default)]
pub struct Tasks {
    pub found: Vec<Found>,
    /// The nodes of each Task resource's pods (its containerInstanceArn when one).
    pub task_nodes: Vec<(String, Vec<String>)>,
    pub unreadable: Vec<Unreadable>,
}

/// Which tasks to read: every task, or those of one service (ListTasksRequest.serviceName).
async fn read(t: &Target, service_name: Option<&str>) -> Result<Tasks, String> {
    let mut out = Tasks::default();
    let (svcs, bad_services) = services::in_cluster(t).await?;
    out.unreadable.extend(bad_services);
    let owners: Vec<Owner> = match service_name {
        Some(wanted) => {
            let name = arn::name(wanted);
            let svc = svcs.iter().find(|s| s.service_name() == name).ok_or_else(|| {
                format!(
                    "ServiceNotFoundException: --service-name {wanted}: no service of that name in cluster {} (namespace {}); list-services shows them",
                    t.cluster, t.namespace
                )
            })?;
            vec![Owner::of(svc)]
        }
        None => svcs.iter().map(Owner::of).collect(),
    };
    let selector = match &owners[..] {
        [one] if service_name.is_some() => {
            format!("{}={}", names::SERVICE, label_value(&one.resource))
        }
        _ => names::SERVICE.to_string(),
    };
    if !owners.is_empty() {
        let (pods, bad_pods) = tolerant::list::<Pod>(t, Some(&selector), "pods").await?;
        out.unreadable.extend(bad_pods);
        for pod in pods {
            if let Some(owner) = owners.iter().find(|o| o.owns(&pod)) {
                out.found
                    .push(Found::Pod(Box::new(pod), Box::new(owner.clone())));
            }
        }
    }
    if service_name.is_none() {
        let (all, bad_tasks) = tolerant::list::<Task>(t, None, "tasks").await?;
        out.unreadable.extend(bad_tasks);
        let (task_pods, _) = tolerant::list::<Pod>(t, Some(names::TASK), "pods").await?;
        for task in all
            .into_iter()
            .filter(|x| t.in_cluster(x.spec.cluster.as_deref()))
        {
            let label = label_value(&task.name_any());
            let mut nodes: Vec<String> = task_pods
                .iter()
                .filter(|p| p.labels().get(names::TASK) == Some(&label))
                .filter_map(|p| p.spec.as_ref()?.node_name.clone())
                .collect();
            nodes.sort();
            nodes.dedup();
            out.task_nodes.push((task.name_any(), nodes));
            out.found.push(Found::Task(Box::new(task)));
        }
    }
    Ok(out)
}

impl Tasks {
    /// The ECS `Task` of one found task.
    pub fn shape(&self, f: &Found, namespace: &str, include_tags: bool) -> Value {
        match f {
            Found::Pod(pod, owner) => {
                service_tasks::task(pod, owner, namespace, include_tags, now())
            }
            Found::Task(task) => {
                let mut v = shapes::task(task, namespace, include_tags);
                let nodes = self
                    .task_nodes
                    .iter()
                    .find(|(n, _)| *n == task.name_any())
                    .map(|(_, nodes)| nodes.as_slice())
                    .unwrap_or_default();
                // ECS's Task has one container instance: only when every copy runs on one node.
                if let ([node], Some(m)) = (nodes, v.as_object_mut()) {
                    let cluster = shapes::cluster_of(task.spec.cluster.as_deref());
                    m.insert(
                        "containerInstanceArn".into(),
                        json!(arn::container_instance(namespace, &cluster, node)),
                    );
                }
                v
            }
        }
    }

    /// The task a task id or ARN names: a Task resource first, else a service's pod.
    pub fn find(&self, id: &str) -> Option<&Found> {
        let name = arn::name(id);
        self.found
            .iter()
            .find(|f| matches!(f, Found::Task(x) if x.name_any() == name))
            .or_else(|| {
                self.found
                    .iter()
                    .find(|f| matches!(f, Found::Pod(p, _) if p.name_any() == name))
            })
    }
}

/// The error for a task asked for by id that cannot be read, if it is one.
fn unreadable(all: &Tasks, id: &str) -> Option<String> {
    let name = arn::name(id);
    all.unreadable
        .iter()
        .find(|u| u.name == name && (u.kind == "task" || u.kind == "pod"))
        .map(|u| {
            format!(
                "task {id}: {}/{} in namespace {} cannot be read: {}",
                u.kind, u.name, u.namespace, u.why
            )
        })
}

/// describe-tasks: `{"tasks": [...], "failures": [...]}` (MISSING for an unknown id; reason
/// `Undecodable`, its detail what is wrong, and a nonzero exit for one that cannot be read).
pub async fn describe(t: &Target, ids: &[String], include_tags: bool) -> Result<Response, String> {
    let all = read(t, None).await?;
    let mut tasks = Vec::new();
    let mut failures = Vec::new();
    let mut failed = false;
    for id in ids {
        let failure_arn = arn::task(&t.namespace, &t.cluster, arn::name(id));
        match (all.find(id), unreadable(&all, id)) {
            (Some(f), _) => tasks.push(all.shape(f, &t.namespace, include_tags)),
            (None, Some(why)) => {
                failed = true;
                failures.push(shapes::failure_with_detail(
                    &failure_arn,
                    crate::controller::poison::REASON,
                    &why,
                ));
            }
            (None, None) => failures.push(shapes::failure(&failure_arn, "MISSING")),
        }
    }
    let mut r = Response::new(
        json!({"tasks": tasks, "failures": failures}),
        table::tasks(&tasks, now()),
    );
    r.notes = table::failures(&failures);
    r.warnings = tolerant::warnings(&all.unreadable);
    r.failed = failed;
    Ok(r)
}

/// list-tasks filters (ECS ListTasksRequest).
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub family: Option<String>,
    pub started_by: Option<String>,
    /// RUNNING (default: every task not STOPPED, as ECS) or STOPPED.
    pub desired_status: Option<String>,
    /// The service's tasks only (ListTasksRequest.serviceName).
    pub service_name: Option<String>,
    /// A node name or container instance ARN (ListTasksRequest.containerInstance).
    pub container_instance: Option<String>,
    /// ListTasksRequest.launchType.
    pub launch_type: Option<String>,
}

impl Filter {
    /// ListTasksRequest.startedBy: "When you specify startedBy as the filter, it must be the
    /// only filter that you use" (the desired status aside, which every list has).
    pub fn check(&self) -> Result<(), String> {
        let others: Vec<&str> = [
            ("--family", self.family.is_some()),
            ("--service-name", self.service_name.is_some()),
            ("--container-instance", self.container_instance.is_some()),
            ("--launch-type", self.launch_type.is_some()),
        ]
        .iter()
        .filter(|(_, given)| *given)
        .map(|(f, _)| *f)
        .collect();
        if self.started_by.is_some() && !others.is_empty() {
            return Err(format!(
                "InvalidParameterException: --started-by must be the only filter (as ECS requires), but {} was given too; leave one out",
                others.join(", ")
            ));
        }
        Ok(())
    }
}

/// Whether a task (as its ECS shape) passes the filter. Pure.
pub fn matches(task: &Value, f: &Filter) -> bool {
    let s = |k: &str| task.get(k).and_then(Value::as_str).unwrap_or_default();
    let family = parse_task_definition_ref(s("taskDefinitionArn")).0;
    f.family.as_ref().is_none_or(|want| *want == family)
        && f.started_by
            .as_ref()
            .is_none_or(|want| want == s("startedBy"))
        && f.container_instance.as_ref().is_none_or(|want| {
            task.get("containerInstanceArn").is_some()
                && arn::name(want) == arn::name(s("containerInstanceArn"))
        })
        && f.launch_type
            .as_ref()
            .is_none_or(|want| want == s("launchType"))
        && s("desiredStatus") == f.desired_status.as_deref().unwrap_or("RUNNING")
}

/// The order of list-tasks (oldest first, then by ARN) as a key that sorts as text: the AWS
/// CLI's timestamps have a fixed width.
fn sort_key(task: &Value) -> String {
    let s = |k: &str| task.get(k).and_then(Value::as_str).unwrap_or_default();
    format!("{}\u{1}{}", s("createdAt"), s("taskArn"))
}

/// list-tasks: `{"taskArns": [...]}`, Task resources and service tasks, oldest first, paged.
pub async fn list(t: &Target, f: &Filter, paging: &Paging) -> Result<Response, String> {
    f.check()?;
    let all = read(t, f.service_name.as_deref()).await?;
    let mut keyed: Vec<(String, Value)> = all
        .found
        .iter()
        .map(|x| all.shape(x, &t.namespace, false))
        .filter(|v| matches(v, f))
        .map(|v| (sort_key(&v), v["taskArn"].clone()))
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let (arns, token) = paging::page(keyed, paging, false, paging::Verb::ListTasks);
    let table = table::arns(&arns);
    let mut r = Response::new(paging::answer("taskArns", arns, token, paging), table);
    r.warnings = tolerant::warnings(&all.unreadable);
    Ok(r)
}

/// run-task flags over the `--cli-input-json` request.
#[derive(Clone, Debug, Default)]
pub struct Run {
    /// A RunTask request (`--cli-input-json`), or empty.
    pub input: Map<String, Value>,
    pub task_definition: Option<String>,
    pub count: Option<i32>,
    pub group: Option<String>,
    pub started_by: Option<String>,
    pub launch_type: Option<String>,
    /// `--overrides` (TaskOverride JSON).
    pub overrides: Option<Value>,
}

/// The Task resource run-task creates (pure): the request as its spec (the flags win), the
/// cluster when `--cluster` was given, a generated name from the family.
pub fn task_object(r: &Run, cluster: Option<&str>) -> Result<Value, String> {
    let mut spec = r.input.clone();
    let mut set = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            spec.insert(k.into(), v);
        }
    };
    set("taskDefinition", r.task_definition.clone().map(Value::from));
    set("count", r.count.map(Value::from));
    set("group", r.group.clone().map(Value::from));
    set("startedBy", r.started_by.clone().map(Value::from));
    set("launchType", r.launch_type.clone().map(Value::from));
    set("overrides", r.overrides.clone());
    set("cluster", cluster.map(Value::from));
    let reference = spec
        .get("taskDefinition")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or("run-task: --task-definition is required")?
        .to_string();
    if spec
        .get("count")
        .and_then(Value::as_i64)
        .is_some_and(|n| !(1..=10).contains(&n))
    {
        return Err("run-task: --count must be between 1 and 10 (as ECS requires)".into());
    }
    let spec_value = Value::Object(spec);
    let _: TaskSpec = serde_path_to_error::deserialize(spec_value.clone())
        .map_err(|e| format!("run-task: {}: {}", e.path(), e.inner()))?;
    let family = parse_task_definition_ref(&reference).0;
    let prefix = dns_label(&family);
    let prefix: String = prefix.chars().take(50).collect();
    Ok(json!({
        "apiVersion": "ecs-operator.io/v1alpha1", "kind": "Task",
        "metadata": {"generateName": format!("{}-", prefix.trim_end_matches('-'))},
        "spec": spec_value,
    }))
}

/// run-task: creates the Task; `{"tasks": [...], "failures": []}`.
pub async fn run(t: &Target, r: &Run) -> Result<Response, String> {
    let object = task_object(r, t.cluster_given.then_some(t.cluster.as_str()))?;
    let task: Task = serde_json::from_value(object).map_err(|e| format!("run-task: {e}"))?;
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PostParams::default()
    };
    let created = api(t)
        .create(&params, &task)
        .await
        .map_err(|e| api_error(&format!("creating a task in namespace {}", t.namespace), e))?;
    let v = shapes::task(&created, &t.namespace, false);
    let table = table::tasks(std::slice::from_ref(&v), now());
    Ok(Response::new(json!({"tasks": [v], "failures": []}), table))
}

/// stop-task: `{"task": {...}}` with desiredStatus STOPPED. A service's task: its pod
/// deleted (the Service's workload starts a replacement).
pub async fn stop(t: &Target, id: &str, reason: Option<&str>) -> Result<Response, String> {
    let all = read(t, None).await?;
    let reason = reason.unwrap_or("Task stopped by user");
    let found = match all.find(id) {
        Some(f) => f,
        None => {
            return Err(unreadable(&all, id).unwrap_or_else(|| {
                format!(
                    "InvalidParameterException: task {id} not found in cluster {} (namespace {}); list-tasks shows them",
                    t.cluster, t.namespace
                )
            }));
        }
    };
    let v = match found {
        Found::Task(task) => {
            let name = task.name_any();
            let patch = json!({"metadata": {"annotations": {STOP_TASK: reason}}});
            let params = PatchParams {
                field_manager: Some(FIELD_MANAGER.into()),
                ..PatchParams::default()
            };
            let stopped = api(t)
                .patch(&name, &params, &Patch::Merge(&patch))
                .await
                .map_err(|e| api_error(&format!("stopping task {}/{name}", t.namespace), e))?;
            shapes::task(&stopped, &t.namespace, false)
        }
        Found::Pod(pod, owner) => {
            let name = pod.name_any();
            let pods: Api<Pod> = Api::namespaced(t.client.clone(), &t.namespace);
            let deleted = pods
                .delete(&name, &DeleteParams::default())
                .await
                .map_err(|e| {
                    api_error(
                        &format!(
                            "stopping task {name} of service {} (deleting pod {}/{name})",
                            owner.service_name, t.namespace
                        ),
                        e,
                    )
                })?;
            let pod = deleted.left().unwrap_or_else(|| (**pod).clone());
            let mut v = service_tasks::task(&pod, owner, &t.namespace, false, now());
            // As ECS answers StopTask: the stop asked for, with its code and reason.
            v["desiredStatus"] = json!("STOPPED");
            v["stopCode"] = json!("UserInitiated");
            v["stoppedReason"] = json!(reason);
            v
        }
    };
    let table = table::tasks(std::slice::from_ref(&v), now());
    Ok(Response::new(json!({"task": v}), table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_task_flags_override_the_input_and_name_the_task_after_the_family() {
        let r = Run {
            input: json!({"taskDefinition": "other", "group": "g", "startedBy": "ci"})
                .as_object()
                .cloned()
                .unwrap(),
            task_definition: Some("arn:aws:ecs:kubernetes:ns:task-definition/web_app:2".into()),
            count: Some(2),
            overrides: Some(json!({"containerOverrides": [{"name": "web", "command": ["true"]}]})),
            ..Run::default()
        };
        let o = task_object(&r, Some("prod")).unwrap();
        assert_eq!(o["metadata"]["generateName"], "web-app-");
        assert_eq!(
            o["spec"]["taskDefinition"],
            "arn:aws:ecs:kubernetes:ns:task-definition/web_app:2"
        );
        assert_eq!(o["spec"]["count"], 2);
        assert_eq!(o["spec"]["group"], "g");
        assert_eq!(o["spec"]["cluster"], "prod");
        assert!(
            task_object(&Run::default(), None)
                .unwrap_err()
                .contains("--task-definition")
        );
        let bad = Run {
            task_definition: Some("web".into()),
            count: Some(11),
            ..Run::default()
        };
        assert!(task_object(&bad, None).is_err());
        let wrong = Run {
            input: json!({"taskDefinition": "web", "count": "two"})
                .as_object()
                .cloned()
                .unwrap(),
            ..Run::default()
        };
        assert!(task_object(&wrong, None).unwrap_err().contains("count"));
    }

    #[test]
    fn list_filters_by_family_started_by_and_desired_status() {
        let t = json!({"taskDefinitionArn": "arn:aws:ecs:kubernetes:ns:task-definition/web:2",
            "startedBy": "ci", "desiredStatus": "RUNNING"});
        assert!(matches(&t, &Filter::default()));
        assert!(matches(
            &t,
            &Filter {
                family: Some("web".into()),
                started_by: Some("ci".into()),
                ..Filter::default()
            }
        ));
        assert!(!matches(
            &t,
            &Filter {
                family: Some("api".into()),
                ..Filter::default()
            }
        ));
        assert!(!matches(
            &t,
            &Filter {
                desired_status: Some("STOPPED".into()),
                ..Filter::default()
            }
        ));
    }

    #[test]
    fn container_instance_is_the_node_by_name_or_arn_and_started_by_stands_alone() {
        let on_node = json!({"taskDefinitionArn": "arn:aws:ecs:kubernetes:ns:task-definition/web:2",
            "desiredStatus": "RUNNING", "launchType": "EC2",
            "containerInstanceArn": "arn:aws:ecs:kubernetes:ns:container-instance/prod/node-1"});
        let f = |ci: &str| Filter {
            container_instance: Some(ci.into()),
            ..Filter::default()
        };
        assert!(matches(&on_node, &f("node-1")));
        assert!(matches(
            &on_node,
            &f("arn:aws:ecs:kubernetes:ns:container-instance/prod/node-1")
        ));
        assert!(!matches(&on_node, &f("node-2")));
        // A task on no node (or on several) is on none of them.
        let nowhere = json!({"desiredStatus": "RUNNING"});
        assert!(!matches(&nowhere, &f("node-1")));
        let fargate = Filter {
            launch_type: Some("FARGATE".into()),
            ..Filter::default()
        };
        assert!(!matches(&on_node, &fargate));
        // ListTasksRequest.startedBy: "it must be the only filter that you use".
        let both = Filter {
            started_by: Some("ci".into()),
            family: Some("web".into()),
            desired_status: Some("STOPPED".into()),
            ..Filter::default()
        };
        let e = both.check().unwrap_err();
        assert!(e.contains("--started-by") && e.contains("--family"), "{e}");
        let alone = Filter {
            started_by: Some("ci".into()),
            desired_status: Some("STOPPED".into()),
            ..Filter::default()
        };
        assert!(alone.check().is_ok());
        assert!(
            sort_key(&json!({"createdAt": "2026-01-01T00:00:00.000000+00:00", "taskArn": "b"}))
                < sort_key(
                    &json!({"createdAt": "2026-01-01T00:00:01.000000+00:00", "taskArn": "a"})
                )
        );
    }
}
