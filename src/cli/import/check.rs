//! The last step of `import`: the imported resources go through the translator itself (the
//! code path of `render`: typed parse, validation, translation), so what `import` prints
//! renders. Its findings join the report at their source paths: mapped fields (from the
//! field-fate table, `src/translate/field_fates.tsv`), warnings where Kubernetes cannot do what
//! ECS does, and refusals — every field ECS itself would refuse, all at once.

use serde_json::Value;

use crate::api::ecs::model::{Kind as Shape, SHAPES};
use crate::api::{Cluster, TaskDefinition};
use crate::translate::fates::{self, Fate as TableFate};
use crate::translate::refs::{cluster_name, parse_task_definition_ref};
use crate::translate::{
    Diagnostic, Options, SecurityPolicy, TaskDefinitionRef, family, service, task,
};

use super::super::manifest::{Document, Resource, resource};
use super::report::{Fate, Report, Scope};

/// A translator path (`spec.containerDefinitions[0].cpu`) as a source path.
fn source_path(scope: &Scope, path: &str) -> String {
    match path.strip_prefix("spec") {
        Some("") => scope.path(""),
        Some(rest) if rest.starts_with('.') => scope.path(&rest[1..]),
        Some(rest) if rest.starts_with('[') => scope.path(rest),
        _ => path.to_string(),
    }
}

fn record(
    report: &mut Report,
    scope: &Scope,
    fate: Fate,
    diags: &[Diagnostic],
    skip: &[Diagnostic],
) {
    for d in diags {
        if skip.iter().any(|s| s.message == d.message) {
            continue; // the task definition's own finding, reported there
        }
        let detail = match &d.hint {
            Some(h) => format!("{} ({h})", d.message),
            None => d.message.clone(),
        };
        report.entries.push(super::report::Entry {
            source: scope.source.clone(),
            resource: scope.resource.clone(),
            path: source_path(scope, &d.path),
            fate,
            detail,
        });
    }
}

/// Mapped members, from the field-fate table (warned ones come from the translator itself).
fn mapped(shape: &str, value: &Value, rel: &str, scope: &Scope, report: &mut Report) {
    let Value::Object(map) = value else { return };
    let members = SHAPES.iter().find(|(s, _)| *s == shape).map(|(_, m)| *m);
    for (key, v) in map {
        let path = super::report::join(rel, key);
        let Some(row) = fates::table().get(&format!("{shape}.{key}")) else {
            continue;
        };
        if row.fate != TableFate::Mapped {
            continue;
        }
        let kind = members
            .and_then(|m| m.iter().find(|m| m.name == key))
            .map(|m| m.kind)
            .unwrap_or(Shape::Scalar);
        match kind {
            Shape::Struct(inner) => mapped(inner, v, &path, scope, report),
            Shape::ListOf(inner) => {
                report.add(scope, &path, Fate::Mapped, row.note.clone());
                for (i, item) in v.as_array().into_iter().flatten().enumerate() {
                    mapped(inner, item, &format!("{path}[{i}]"), scope, report);
                }
            }
            Shape::Scalar => report.add(scope, &path, Fate::Mapped, row.note.clone()),
        }
    }
}

/// The ECS request shape a kind's spec is.
pub fn request_shape(kind: &str) -> &'static str {
    match kind {
        "TaskDefinition" => "RegisterTaskDefinitionRequest",
        "Service" => "CreateServiceRequest",
        "Task" => "RunTaskRequest",
        _ => "CreateClusterRequest",
    }
}

/// Check `resources` (each with its report scope) and add the findings to `report`.
pub fn check(resources: &[Value], scopes: &[Scope], report: &mut Report) {
    // The policy is `render`'s to apply (its --allow-* flags): here, only ECS's own rules.
    let options = Options {
        policy: SecurityPolicy::permissive(),
        ..Options::default()
    };
    let mut parsed = Vec::new();
    for (value, scope) in resources.iter().zip(scopes) {
        let doc = Document {
            source: scope.source.clone(),
            value: value.clone(),
        };
        match resource(&doc) {
            Ok(r) => {
                mapped(
                    request_shape(value["kind"].as_str().unwrap_or_default()),
                    &value["spec"],
                    "",
                    scope,
                    report,
                );
                parsed.push((r, scope));
            }
            Err(diags) => record(report, scope, Fate::Refused, &diags, &[]),
        }
    }
    let mut tds: Vec<(&TaskDefinition, Vec<Diagnostic>)> = Vec::new();
    let clusters: Vec<&Cluster> = parsed
        .iter()
        .filter_map(|(r, _)| match r {
            Resource::Cluster(c) => Some(c.as_ref()),
            _ => None,
        })
        .collect();
    for (r, scope) in &parsed {
        if let Resource::TaskDefinition(td) = r {
            let r = td_ref(td, None);
            let diags = match family::translate(&r, &options) {
                Ok((_, warnings)) => {
                    record(report, scope, Fate::Warned, &warnings, &[]);
                    warnings
                }
                Err(invalid) => {
                    record(report, scope, Fate::Refused, &invalid.0, &[]);
                    invalid.0
                }
            };
            tds.push((td.as_ref(), diags));
        }
    }
    let find_td = |raw: Option<&str>| {
        let (fam, rev) = parse_task_definition_ref(raw?);
        tds.iter()
            .find(|(td, _)| td.family() == fam)
            .map(|(td, d)| (td_ref(td, rev), d.clone()))
    };
    let find_cluster = |name: Option<&str>| {
        let n = cluster_name(name?);
        clusters
            .iter()
            .find(|c| {
                c.metadata.name.as_deref() == Some(n) || c.spec.cluster_name.as_deref() == Some(n)
            })
            .map(|c| &c.spec)
    };
    for (r, scope) in &parsed {
        let result = match r {
            Resource::Service(s) => {
                let Some((td, td_diags)) = find_td(s.spec.task_definition.as_deref()) else {
                    continue; // its task definition is not in the input: render checks it later
                };
                let cluster = find_cluster(s.spec.cluster.as_deref());
                service::translate(s, &td, cluster, &options)
                    .map(|(_, w)| w)
                    .map_err(|e| e.0)
                    .map(|w| (w, td_diags.clone()))
                    .map_err(|e| (e, td_diags))
            }
            Resource::Task(t) => {
                let Some((td, td_diags)) = find_td(t.spec.task_definition.as_deref()) else {
                    continue;
                };
                let cluster = find_cluster(t.spec.cluster.as_deref());
                task::translate(t, &td, cluster, &options)
                    .map(|(_, w)| w)
                    .map_err(|e| e.0)
                    .map(|w| (w, td_diags.clone()))
                    .map_err(|e| (e, td_diags))
            }
            _ => continue,
        };
        match result {
            Ok((warnings, skip)) => record(report, scope, Fate::Warned, &warnings, &skip),
            Err((errors, skip)) => record(report, scope, Fate::Refused, &errors, &skip),
        }
    }
}

fn td_ref(td: &TaskDefinition, revision: Option<i64>) -> TaskDefinitionRef {
    TaskDefinitionRef {
        family: td.family(),
        revision: revision.unwrap_or(1),
        namespace: td.metadata.namespace.clone(),
        spec: td.spec.clone(),
    }
}
