//! The AWS CLI / API shapes: register-task-definition input, describe-task-definition output,
//! create-service input or output, describe-services output, run-task input, create-cluster
//! input — and service definitions as deploy tools keep them (ecspresso, CI pipelines), with no
//! `serviceName`, `taskDefinition` or `cluster`: a service is recognised by its members
//! (CreateServiceRequest members that RunTaskRequest does not have), never taken for a RunTask.

use serde_json::{Map, Value, json};

use crate::api::ecs::model::{READ_ONLY, SHAPES};

use super::report::Fate;
use super::{Converted, Kind, Raw};
use crate::translate::refs::{cluster_name, parse_task_definition_ref};

fn request_members(shape: &str) -> Vec<&'static str> {
    SHAPES
        .iter()
        .find(|(s, _)| *s == shape)
        .map(|(_, m)| m.iter().map(|m| m.name).collect())
        .unwrap_or_default()
}

/// Read-only members of a describe output (src/api/ecs/model.rs READ_ONLY).
pub fn read_only(shape: &str) -> &'static [&'static str] {
    READ_ONLY
        .iter()
        .find(|(s, _)| *s == shape)
        .map(|(_, m)| *m)
        .unwrap_or(&[])
}

/// How many members of `obj` only `shape` has, compared with `other`.
fn own_members(obj: &Map<String, Value>, shape: &str, other: &str) -> usize {
    let mine = request_members(shape);
    let theirs = request_members(other);
    obj.keys()
        .filter(|k| mine.contains(&k.as_str()) && !theirs.contains(&k.as_str()))
        .count()
}

/// Whether `obj` is a service definition: it names a service, or it has more members of its
/// own from CreateServiceRequest than from RunTaskRequest (desiredCount, loadBalancers,
/// deploymentConfiguration, schedulingStrategy, …).
fn is_service(obj: &Map<String, Value>) -> bool {
    if obj.contains_key("serviceName") {
        return true;
    }
    let service = own_members(obj, "CreateServiceRequest", "RunTaskRequest");
    let task = own_members(obj, "RunTaskRequest", "CreateServiceRequest");
    service > 0 && service >= task
}

const UNRECOGNIZED: &str = "not recognized: expected register-task-definition input, describe-task-definition output, create-service input/output or a service definition, describe-services output, run-task input, create-cluster input, a CloudFormation/CDK template or terraform show -json output";

/// Recognise one AWS JSON document.
pub fn detect(value: &Value) -> Result<Converted, String> {
    let obj = value
        .as_object()
        .ok_or("expected a JSON object from the AWS CLI or API, a template or a state file")?;
    let mut out = Vec::new();
    let mut notes = Vec::new();
    if let Some(Value::Object(td)) = obj.get("taskDefinition") {
        // describe-task-definition output: {"taskDefinition": {...}, "tags": [...]}
        let mut td = td.clone();
        if let Some(tags) = obj
            .get("tags")
            .filter(|t| t.as_array().is_some_and(|a| !a.is_empty()))
        {
            td.insert("tags".into(), tags.clone());
        }
        out.push(task_definition(td, "taskDefinition"));
    } else if let Some(Value::Array(services)) = obj.get("services") {
        for (i, s) in services.iter().enumerate() {
            let s = s
                .as_object()
                .ok_or(format!("services[{i}]: expected an object"))?;
            out.push(service(s.clone(), &format!("services[{i}]")));
        }
        if obj
            .get("failures")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty())
        {
            notes.push((
                "failures".to_string(),
                Fate::Warned,
                "the describe output lists failures: those services are not in it, so not imported"
                    .to_string(),
            ));
        }
    } else if let Some(Value::Object(s)) = obj.get("service") {
        out.push(service(s.clone(), "service"));
    } else if let Some(Value::Object(c)) = obj.get("cluster") {
        out.push(cluster(c.clone(), "cluster"));
    } else if obj.contains_key("containerDefinitions") {
        out.push(task_definition(obj.clone(), ""));
    } else if is_service(obj) {
        out.push(service(obj.clone(), ""));
    } else if obj.get("taskDefinition").is_some_and(Value::is_string) {
        out.push(run_task(obj.clone()));
    } else if obj.contains_key("clusterName") {
        out.push(cluster(obj.clone(), ""));
    } else {
        return Err(UNRECOGNIZED.into());
    }
    Ok(Converted {
        raws: out,
        notes,
        ..Converted::default()
    })
}

/// A raw task definition: named by its family (filled in later when absent).
pub fn task_definition(spec: Map<String, Value>, prefix: &str) -> Raw {
    let name = spec
        .get("family")
        .and_then(Value::as_str)
        .filter(|f| !f.is_empty())
        .map(str::to_string);
    Raw::new(
        Kind::TaskDefinition,
        name,
        spec,
        prefix,
        read_only("RegisterTaskDefinitionRequest"),
    )
}

/// A raw service: ARNs written the way the custom resources reference things.
pub fn service(mut spec: Map<String, Value>, prefix: &str) -> Raw {
    let mut notes = Vec::new();
    // describe-services output names the cluster by ARN in clusterArn.
    if !spec.contains_key("cluster")
        && let Some(arn) = spec
            .get("clusterArn")
            .and_then(Value::as_str)
            .map(str::to_string)
    {
        spec.shift_remove("clusterArn");
        let short = cluster_name(&arn).to_string();
        notes.push((
            "clusterArn".to_string(),
            Fate::Converted,
            format!("written as cluster '{short}'"),
        ));
        spec.insert("cluster".into(), json!(short));
    }
    if let Some(td) = spec
        .get("taskDefinition")
        .and_then(Value::as_str)
        .map(str::to_string)
    {
        let short = short_task_definition(&td);
        if short != td {
            notes.push((
                "taskDefinition".into(),
                Fate::Converted,
                format!("'{td}' written as '{short}' (family[:revision])"),
            ));
            spec.insert("taskDefinition".into(), json!(short));
        }
    }
    if let Some(c) = spec
        .get("cluster")
        .and_then(Value::as_str)
        .map(str::to_string)
    {
        let short = cluster_name(&c).to_string();
        if short != c {
            notes.push((
                "cluster".into(),
                Fate::Converted,
                format!("'{c}' written as '{short}'"),
            ));
            spec.insert("cluster".into(), json!(short));
        }
    }
    let name = spec
        .get("serviceName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    let mut raw = Raw::new(
        Kind::Service,
        name,
        spec,
        prefix,
        read_only("CreateServiceRequest"),
    );
    raw.notes = notes;
    raw
}

/// `family`, `family:N` or a task definition ARN as `family[:N]`.
pub fn short_task_definition(td: &str) -> String {
    let (family, revision) = parse_task_definition_ref(td);
    match revision {
        Some(r) => format!("{family}:{r}"),
        None => family,
    }
}

fn run_task(spec: Map<String, Value>) -> Raw {
    let td = spec
        .get("taskDefinition")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (family, _) = parse_task_definition_ref(td);
    let name = (!family.is_empty()).then(|| format!("{family}-task"));
    Raw::new(Kind::Task, name, spec, "", &[])
}

fn cluster(spec: Map<String, Value>, prefix: &str) -> Raw {
    let name = spec
        .get("clusterName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    Raw::new(Kind::Cluster, name, spec, prefix, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_without_a_name_is_a_service_and_a_bare_run_task_input_is_a_task() {
        let svc =
            json!({"desiredCount": 2, "launchType": "FARGATE", "deploymentConfiguration": {}});
        assert_eq!(detect(&svc).unwrap().raws[0].kind, Kind::Service);
        let svc = json!({"taskDefinition": "web", "cluster": "prod", "desiredCount": 1});
        assert_eq!(detect(&svc).unwrap().raws[0].kind, Kind::Service);
        let task = json!({"taskDefinition": "web", "count": 2, "cluster": "prod"});
        assert_eq!(detect(&task).unwrap().raws[0].kind, Kind::Task);
        assert!(detect(&json!({"hello": 1})).is_err());
        assert!(detect(&json!([1])).is_err());
    }

    #[test]
    fn describe_services_arns_become_short_references() {
        let v = json!({"services": [{"serviceName": "web", "clusterArn": "arn:aws:ecs:us-east-1:1:cluster/prod",
            "taskDefinition": "arn:aws:ecs:us-east-1:1:task-definition/web:7"}]});
        let raw = &detect(&v).unwrap().raws[0];
        assert_eq!(raw.spec["taskDefinition"], "web:7");
        assert_eq!(raw.spec["cluster"], "prod");
        assert_eq!(raw.prefix, "services[0]");
        assert_eq!(raw.notes.len(), 2);
    }
}
