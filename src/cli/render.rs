//! `ecs-operator render` and `validate`: custom resources in, Kubernetes objects out — the same
//! translation the operator runs, resolved against the task definitions given alongside.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::api::{Cluster, Service, Task, TaskDefinition};
pub use crate::translate::refs::{cluster_name, parse_task_definition_ref};
use crate::translate::service::Workload;
use crate::translate::{Diagnostic, Options, TaskDefinitionRef, family, service, task};

use super::manifest::{Document, Resource, resource};

/// The result of rendering a set of documents.
#[derive(Debug, Default)]
pub struct Rendered {
    /// Kubernetes objects, in apply order.
    pub objects: Vec<serde_json::Value>,
    /// Per resource: `Kind/name: diagnostic`.
    pub warnings: Vec<String>,
    pub errors: Vec<String>,
}

fn to_value<T: Serialize>(obj: &T) -> serde_json::Value {
    serde_json::to_value(obj).unwrap_or_default()
}

/// Render every resource in `docs`.
pub fn render(docs: &[Document], options: &Options) -> Rendered {
    let mut out = Rendered::default();
    let mut tds: Vec<TaskDefinition> = Vec::new();
    let mut services: Vec<Service> = Vec::new();
    let mut tasks: Vec<Task> = Vec::new();
    let mut clusters: Vec<Cluster> = Vec::new();
    for doc in docs {
        let label = format!(
            "{} {}/{}",
            doc.source,
            doc.value
                .get("kind")
                .and_then(|k| k.as_str())
                .unwrap_or("?"),
            doc.value
                .pointer("/metadata/name")
                .and_then(|k| k.as_str())
                .unwrap_or("?")
        );
        match resource(doc) {
            Ok(Resource::TaskDefinition(t)) => tds.push(*t),
            Ok(Resource::Service(s)) => services.push(*s),
            Ok(Resource::Task(t)) => tasks.push(*t),
            Ok(Resource::Cluster(c)) => clusters.push(*c),
            Err(diags) => out
                .errors
                .extend(diags.iter().map(|d| format!("{label}: {d}"))),
        }
    }
    let mut by_family: BTreeMap<String, &TaskDefinition> = BTreeMap::new();
    for td in &tds {
        let name = format!(
            "TaskDefinition/{}",
            td.metadata.name.as_deref().unwrap_or("?")
        );
        if td.metadata.name.as_deref().is_none_or(str::is_empty) {
            out.errors
                .push(format!("{name}: metadata.name: is required"));
            continue;
        }
        by_family.insert(td.family(), td);
        let r = TaskDefinitionRef {
            family: td.family(),
            revision: 1,
            namespace: td.metadata.namespace.clone(),
            spec: td.spec.clone(),
        };
        match family::translate(&r, options) {
            Ok(((_, objects), warnings)) => {
                note(&mut out.warnings, &name, &warnings);
                let family::FamilyObjects {
                    service_account,
                    persistent_volumes,
                    claims,
                    external_secrets,
                } = objects;
                out.objects.extend(service_account.iter().map(to_value));
                out.objects.extend(persistent_volumes.iter().map(to_value));
                out.objects.extend(claims.iter().map(to_value));
                out.objects.extend(external_secrets);
            }
            Err(invalid) => note(&mut out.errors, &name, &invalid.0),
        }
    }
    let find_cluster = |name: Option<&str>| -> Option<&Cluster> {
        let n = cluster_name(name?);
        clusters.iter().find(|c| {
            c.metadata.name.as_deref() == Some(n) || c.spec.cluster_name.as_deref() == Some(n)
        })
    };
    let resolve = |raw: Option<&str>,
                   who: &str,
                   errors: &mut Vec<String>|
     -> Option<TaskDefinitionRef> {
        let raw = raw.filter(|r| !r.is_empty())?;
        let (fam, rev) = parse_task_definition_ref(raw);
        match by_family.get(&fam) {
            Some(td) => Some(TaskDefinitionRef {
                family: fam,
                revision: rev.unwrap_or(1),
                namespace: td.metadata.namespace.clone(),
                spec: td.spec.clone(),
            }),
            None => {
                errors.push(format!("{who}: spec.taskDefinition: task definition family '{fam}' is not among the input documents (render needs it alongside)"));
                None
            }
        }
    };
    for svc in &services {
        let who = format!("Service/{}", svc.metadata.name.as_deref().unwrap_or("?"));
        if svc
            .spec
            .task_definition
            .as_deref()
            .is_none_or(str::is_empty)
        {
            out.errors
                .push(format!("{who}: spec.taskDefinition: is required"));
            continue;
        }
        let Some(td) = resolve(svc.spec.task_definition.as_deref(), &who, &mut out.errors) else {
            continue;
        };
        let cluster = find_cluster(svc.spec.cluster.as_deref());
        if svc.spec.cluster.is_some() && cluster.is_none() {
            out.warnings.push(format!("{who}: spec.cluster: cluster not among the input documents; capacity providers follow the label convention"));
        }
        match service::translate(svc, &td, cluster.map(|c| &c.spec), options) {
            Ok((objects, warnings)) => {
                note(&mut out.warnings, &who, &warnings);
                let service::ServiceObjects {
                    workloads,
                    networking,
                    hpa,
                    selector: _,
                    desired_count: _,
                    plan: _,
                } = objects;
                for w in &workloads {
                    out.objects.push(match w {
                        Workload::Deployment(d) => to_value(d),
                        Workload::DaemonSet(d) => to_value(d),
                    });
                }
                out.objects.extend(networking.services.iter().map(to_value));
                out.objects.extend(networking.target_group_bindings);
                out.objects.extend(hpa.iter().map(to_value));
            }
            Err(invalid) => note(&mut out.errors, &who, &invalid.0),
        }
    }
    for t in &tasks {
        let who = format!("Task/{}", t.metadata.name.as_deref().unwrap_or("?"));
        let Some(td) = resolve(t.spec.task_definition.as_deref(), &who, &mut out.errors) else {
            if t.spec.task_definition.as_deref().is_none_or(str::is_empty) {
                out.errors
                    .push(format!("{who}: spec.taskDefinition: is required"));
            }
            continue;
        };
        let cluster = find_cluster(t.spec.cluster.as_deref());
        match task::translate(t, &td, cluster.map(|c| &c.spec), options) {
            Ok((pods, warnings)) => {
                note(&mut out.warnings, &who, &warnings);
                out.objects.extend(pods.iter().map(to_value));
            }
            Err(invalid) => note(&mut out.errors, &who, &invalid.0),
        }
    }
    out.warnings.dedup();
    out
}

/// Record `diags` for `who`, once: a service or task repeats its task definition's findings,
/// which are already reported for the TaskDefinition.
fn note(into: &mut Vec<String>, who: &str, diags: &[Diagnostic]) {
    for d in diags {
        let tail = format!(": {d}");
        if !into.iter().any(|l| l.ends_with(&tail)) {
            into.push(format!("{who}{tail}"));
        }
    }
}

/// Objects as a multi-document YAML stream.
pub fn to_yaml(objects: &[serde_json::Value]) -> String {
    let mut out = String::new();
    for o in objects {
        out.push_str("---\n");
        out.push_str(&serde_norway::to_string(o).unwrap_or_default());
    }
    out
}
