//! `ecs-operator import`: raw AWS JSON (register-task-definition input, describe-task-definition
//! output, create-service input or output, describe-services output, run-task input) to custom
//! resources. Read-only and unknown members are stripped, each with a note.

use serde_json::{Map, Value, json};

use crate::api::ecs::model::{READ_ONLY, SHAPES};
use crate::translate::names::dns_label;

use super::render::{cluster_name, parse_task_definition_ref};

/// Custom resources and the notes on what was stripped.
#[derive(Debug, Default)]
pub struct Imported {
    pub resources: Vec<Value>,
    pub notes: Vec<String>,
}

fn request_members(shape: &str) -> Vec<&'static str> {
    SHAPES
        .iter()
        .find(|(s, _)| *s == shape)
        .map(|(_, m)| m.iter().map(|m| m.name).collect())
        .unwrap_or_default()
}

fn read_only(shape: &str) -> &'static [&'static str] {
    READ_ONLY
        .iter()
        .find(|(s, _)| *s == shape)
        .map(|(_, m)| *m)
        .unwrap_or(&[])
}

/// Convert one AWS JSON document.
pub fn import(value: &Value, namespace: Option<&str>) -> Result<Imported, String> {
    let mut out = Imported::default();
    let obj = value
        .as_object()
        .ok_or("expected a JSON object from the AWS CLI or API")?;
    if let Some(Value::Object(td)) = obj.get("taskDefinition") {
        // describe-task-definition output: {"taskDefinition": {...}, "tags": [...]}
        let mut td = td.clone();
        if let Some(tags) = obj
            .get("tags")
            .filter(|t| t.as_array().is_some_and(|a| !a.is_empty()))
        {
            td.insert("tags".into(), tags.clone());
        }
        out.resources
            .push(task_definition(td, namespace, &mut out.notes)?);
    } else if let Some(Value::Array(services)) = obj.get("services") {
        for s in services {
            let s = s.as_object().ok_or("services[] holds objects")?;
            out.resources
                .push(service(s.clone(), namespace, &mut out.notes)?);
        }
        if obj
            .get("failures")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty())
        {
            out.notes.push(
                "failures: the describe output lists failures; those services were not imported"
                    .into(),
            );
        }
    } else if let Some(Value::Object(s)) = obj.get("service") {
        out.resources
            .push(service(s.clone(), namespace, &mut out.notes)?);
    } else if obj.contains_key("containerDefinitions") {
        out.resources
            .push(task_definition(obj.clone(), namespace, &mut out.notes)?);
    } else if obj.contains_key("serviceName") {
        out.resources
            .push(service(obj.clone(), namespace, &mut out.notes)?);
    } else if obj.get("taskDefinition").is_some_and(Value::is_string) {
        out.resources
            .push(run_task(obj.clone(), namespace, &mut out.notes)?);
    } else {
        return Err("not recognized: expected register-task-definition input, describe-task-definition output, create-service input/output, describe-services output or run-task input".into());
    }
    Ok(out)
}

/// Keep the request members of `shape`; strip read-only ones and unknown ones with a note.
fn keep_request_members(
    mut obj: Map<String, Value>,
    shape: &str,
    what: &str,
    notes: &mut Vec<String>,
) -> Map<String, Value> {
    let members = request_members(shape);
    let ro = read_only(shape);
    let keys: Vec<String> = obj.keys().cloned().collect();
    for k in keys {
        if members.contains(&k.as_str()) {
            if obj[&k].is_null() {
                obj.remove(&k);
            }
            continue;
        }
        obj.remove(&k);
        if ro.contains(&k.as_str()) {
            notes.push(format!("{what}: stripped read-only field '{k}'"));
        } else {
            notes.push(format!(
                "{what}: stripped '{k}': not a member of the ECS {shape} this version knows"
            ));
        }
    }
    obj
}

fn metadata(name: &str, namespace: Option<&str>) -> Value {
    let mut m = json!({ "name": dns_label(name) });
    if let Some(ns) = namespace {
        m["namespace"] = json!(ns);
    }
    m
}

fn task_definition(
    obj: Map<String, Value>,
    namespace: Option<&str>,
    notes: &mut Vec<String>,
) -> Result<Value, String> {
    let family = obj
        .get("family")
        .and_then(Value::as_str)
        .ok_or("the task definition has no family")?
        .to_string();
    let spec = keep_request_members(
        obj,
        "RegisterTaskDefinitionRequest",
        &format!("TaskDefinition/{family}"),
        notes,
    );
    Ok(json!({
        "apiVersion": "ecs-operator.io/v1alpha1",
        "kind": "TaskDefinition",
        "metadata": metadata(&family, namespace),
        "spec": spec,
    }))
}

fn service(
    mut obj: Map<String, Value>,
    namespace: Option<&str>,
    notes: &mut Vec<String>,
) -> Result<Value, String> {
    let name = obj
        .get("serviceName")
        .and_then(Value::as_str)
        .ok_or("the service has no serviceName")?
        .to_string();
    let what = format!("Service/{name}");
    // describe-services output names the cluster by ARN in clusterArn.
    if let Some(arn) = obj
        .remove("clusterArn")
        .and_then(|v| v.as_str().map(str::to_string))
    {
        obj.insert("cluster".into(), json!(cluster_name(&arn)));
    }
    if let Some(td) = obj
        .get("taskDefinition")
        .and_then(Value::as_str)
        .map(str::to_string)
    {
        let (family, revision) = parse_task_definition_ref(&td);
        let short = match revision {
            Some(r) => format!("{family}:{r}"),
            None => family,
        };
        if short != td {
            notes.push(format!(
                "{what}: taskDefinition '{td}' written as '{short}'"
            ));
        }
        obj.insert("taskDefinition".into(), json!(short));
    }
    if let Some(Value::String(c)) = obj.get("cluster").cloned() {
        obj.insert("cluster".into(), json!(cluster_name(&c)));
    }
    let spec = keep_request_members(obj, "CreateServiceRequest", &what, notes);
    Ok(json!({
        "apiVersion": "ecs-operator.io/v1alpha1",
        "kind": "Service",
        "metadata": metadata(&name, namespace),
        "spec": spec,
    }))
}

fn run_task(
    obj: Map<String, Value>,
    namespace: Option<&str>,
    notes: &mut Vec<String>,
) -> Result<Value, String> {
    let td = obj
        .get("taskDefinition")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (family, _) = parse_task_definition_ref(td);
    let name = format!("{family}-task");
    let spec = keep_request_members(obj, "RunTaskRequest", &format!("Task/{name}"), notes);
    Ok(json!({
        "apiVersion": "ecs-operator.io/v1alpha1",
        "kind": "Task",
        "metadata": metadata(&name, namespace),
        "spec": spec,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_task_definition_output_is_unwrapped_and_stripped() {
        let v = json!({"taskDefinition": {"family": "web", "revision": 3, "status": "ACTIVE",
            "containerDefinitions": [{"name": "web", "image": "nginx"}], "taskDefinitionArn": "arn:x"},
            "tags": [{"key": "team", "value": "a"}]});
        let out = import(&v, None).unwrap();
        let spec = &out.resources[0]["spec"];
        assert!(spec.get("revision").is_none() && spec.get("status").is_none());
        assert_eq!(spec["tags"][0]["key"], "team");
        assert_eq!(out.notes.len(), 3, "{:?}", out.notes);
    }

    #[test]
    fn describe_services_output_becomes_services() {
        let v = json!({"services": [{"serviceName": "web", "clusterArn": "arn:aws:ecs:us-east-1:1:cluster/prod",
            "taskDefinition": "arn:aws:ecs:us-east-1:1:task-definition/web:7", "desiredCount": 2, "runningCount": 2,
            "events": []}], "failures": []});
        let out = import(&v, Some("apps")).unwrap();
        let r = &out.resources[0];
        assert_eq!(r["spec"]["taskDefinition"], "web:7");
        assert_eq!(r["spec"]["cluster"], "prod");
        assert_eq!(r["metadata"]["namespace"], "apps");
        assert!(r["spec"].get("runningCount").is_none());
    }

    #[test]
    fn unknown_input_is_an_error() {
        assert!(import(&json!({"hello": 1}), None).is_err());
        assert!(import(&json!([1]), None).is_err());
    }
}
