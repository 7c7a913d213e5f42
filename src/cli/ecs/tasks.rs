//! The task verbs: `describe-tasks`, `list-tasks`, `run-task` (a Task resource: the RunTask
//! request as its spec) and `stop-task` (the `ecs-operator.io/stop-task` annotation, its value
//! the reason; the Task controller records stopCode UserInitiated and stops the pods). A task's
//! id is its Task resource's name.

use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Map, Value, json};

use super::{FIELD_MANAGER, Response, Target, api_error, arn, now, shapes, table};
use crate::api::{Task, TaskSpec};
use crate::controller::task::lifecycle::STOP_TASK;
use crate::translate::names::dns_label;
use crate::translate::refs::parse_task_definition_ref;

fn api(t: &Target) -> Api<Task> {
    Api::namespaced(t.client.clone(), &t.namespace)
}

/// The Tasks of the target cluster, oldest first.
pub async fn in_cluster(t: &Target) -> Result<Vec<Task>, String> {
    let list = api(t)
        .list(&ListParams::default())
        .await
        .map_err(|e| api_error(&format!("listing tasks in namespace {}", t.namespace), e))?;
    let mut tasks: Vec<Task> = list
        .items
        .into_iter()
        .filter(|x| t.in_cluster(x.spec.cluster.as_deref()))
        .collect();
    tasks.sort_by_key(|x| (x.metadata.creation_timestamp.clone(), x.name_any()));
    Ok(tasks)
}

/// describe-tasks: `{"tasks": [...], "failures": [...]}` (MISSING for an unknown id).
pub async fn describe(t: &Target, ids: &[String], include_tags: bool) -> Result<Response, String> {
    let all = in_cluster(t).await?;
    let mut tasks = Vec::new();
    let mut failures = Vec::new();
    for id in ids {
        match all.iter().find(|x| x.name_any() == arn::name(id)) {
            Some(x) => tasks.push(shapes::task(x, &t.namespace, include_tags)),
            None => failures.push(shapes::failure(
                &arn::task(&t.namespace, &t.cluster, arn::name(id)),
                "MISSING",
            )),
        }
    }
    let mut r = Response::new(
        json!({"tasks": tasks, "failures": failures}),
        table::tasks(&tasks, now()),
    );
    r.notes = table::failures(&failures);
    Ok(r)
}

/// list-tasks filters (ECS ListTasksRequest).
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub family: Option<String>,
    pub started_by: Option<String>,
    /// RUNNING (default: every task not STOPPED, as ECS) or STOPPED.
    pub desired_status: Option<String>,
}

/// Whether a task (as its ECS shape) passes the filter. Pure.
pub fn matches(task: &Value, f: &Filter) -> bool {
    let s = |k: &str| task.get(k).and_then(Value::as_str).unwrap_or_default();
    let family = parse_task_definition_ref(s("taskDefinitionArn")).0;
    f.family.as_ref().is_none_or(|want| *want == family)
        && f.started_by
            .as_ref()
            .is_none_or(|want| want == s("startedBy"))
        && s("desiredStatus") == f.desired_status.as_deref().unwrap_or("RUNNING")
}

/// list-tasks: `{"taskArns": [...]}`.
pub async fn list(t: &Target, f: &Filter) -> Result<Response, String> {
    let arns: Vec<Value> = in_cluster(t)
        .await?
        .iter()
        .map(|x| shapes::task(x, &t.namespace, false))
        .filter(|v| matches(v, f))
        .map(|v| v["taskArn"].clone())
        .collect();
    Ok(Response::new(json!({"taskArns": arns}), table::arns(&arns)))
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

/// stop-task: `{"task": {...}}` with desiredStatus STOPPED.
pub async fn stop(t: &Target, id: &str, reason: Option<&str>) -> Result<Response, String> {
    let all = in_cluster(t).await?;
    let name = arn::name(id);
    let task = all.iter().find(|x| x.name_any() == name).ok_or_else(|| {
        format!(
            "InvalidParameterException: task {id} not found in cluster {} (namespace {})",
            t.cluster, t.namespace
        )
    })?;
    let patch =
        json!({"metadata": {"annotations": {STOP_TASK: reason.unwrap_or("Task stopped by user")}}});
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PatchParams::default()
    };
    let stopped = api(t)
        .patch(&task.name_any(), &params, &Patch::Merge(&patch))
        .await
        .map_err(|e| api_error(&format!("stopping task {}/{name}", t.namespace), e))?;
    let v = shapes::task(&stopped, &t.namespace, false);
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
}
