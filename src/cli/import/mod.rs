//! `ecs-operator import`: what migrating teams have — AWS CLI/API JSON, describe dumps, console
//! skeletons, deploy-tool templates, CloudFormation/CDK templates, Terraform state — to custom
//! resources, with a migration report saying what became of every source field.
//!
//! The pipeline, one module per step: read and parse (`source`), recognise the format
//! (`aws_cli`, `cloudformation`, `terraform`, `copilot`; `ecspresso` expands a configuration into
//! the files it names), substitute placeholders (`placeholders`), fill in
//! the names deploy tools leave out, fit each spec to its CRD schema (`schema`), then check the
//! result with the translator itself (`check`) so the output renders.

pub mod aws_cli;
pub mod check;
pub mod cloudformation;
pub mod copilot;
pub mod defaults;
pub mod ecspresso;
pub mod fill;
pub mod intrinsics;
pub mod placeholders;
pub mod rename;
pub mod report;
pub mod scalars;
pub mod schema;
pub mod source;
pub mod terraform;

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::translate::names::dns_label;

pub use placeholders::{Vars, parse_env_file};
pub use report::{Entry, Fate, Report, Scope};

use super::manifest::Document;

/// The custom resource kinds `import` produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    TaskDefinition,
    Service,
    Task,
    Cluster,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::TaskDefinition => "TaskDefinition",
            Kind::Service => "Service",
            Kind::Task => "Task",
            Kind::Cluster => "Cluster",
        }
    }
}

/// A resource recognised in a source, before names are filled in and its spec is fitted.
#[derive(Clone, Debug)]
pub struct Raw {
    pub kind: Kind,
    /// metadata.name; None when the source leaves it to deploy time.
    pub name: Option<String>,
    pub spec: Map<String, Value>,
    /// Source path of the spec in its document.
    pub prefix: String,
    /// Top-level members that are read-only output (noted as such when stripped).
    pub read_only: &'static [&'static str],
    /// Findings of the format reader: (path relative to the spec, fate, detail).
    pub notes: Vec<(String, Fate, String)>,
}

impl Raw {
    pub fn new(
        kind: Kind,
        name: Option<String>,
        spec: Map<String, Value>,
        prefix: &str,
        read_only: &'static [&'static str],
    ) -> Self {
        Raw {
            kind,
            name,
            spec,
            prefix: prefix.into(),
            read_only,
            notes: Vec::new(),
        }
    }
}

/// What a format reader found in one document.
#[derive(Debug, Default)]
pub struct Converted {
    pub raws: Vec<Raw>,
    /// Intrinsic functions or unknown values with no value: (source path, what).
    pub unresolved: Vec<(String, String)>,
    /// Findings about the document outside any resource: (source path, fate, detail).
    pub notes: Vec<(String, Fate, String)>,
}

/// What the user told `import` on the command line.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Namespace for the resources.
    pub namespace: Option<String>,
    /// `--name`: the service name where the source has none.
    pub name: Option<String>,
    /// `--task-definition`: the task definition a service or task runs where the source has none.
    pub task_definition: Option<String>,
    /// `--cluster`: the cluster where the source has none.
    pub cluster: Option<String>,
    /// `--set` and `--env-file`: placeholder values.
    pub vars: Vars,
    /// `--parameter`: CloudFormation parameter values.
    pub parameters: BTreeMap<String, String>,
    /// `--environment`: the Copilot environment whose `environments.<env>` override applies.
    pub environment: Option<String>,
}

/// Custom resources, and the report of what became of every source field.
#[derive(Debug, Default)]
pub struct Imported {
    /// Empty when anything was refused.
    pub resources: Vec<Value>,
    /// The report's non-mapped entries as one line each (what the first `import` printed).
    pub notes: Vec<String>,
    pub report: Report,
}

/// Convert one AWS JSON document (the library entry point the first `import` had).
pub fn import(value: &Value, namespace: Option<&str>) -> Result<Imported, String> {
    let options = Options {
        namespace: namespace.map(str::to_string),
        ..Options::default()
    };
    let doc = Document {
        source: "<input>".into(),
        value: value.clone(),
    };
    let out = import_documents(&[doc], &options);
    if out.report.is_ok() {
        Ok(out)
    } else {
        let refused: Vec<String> = out
            .report
            .of(Fate::Refused)
            .map(|e| {
                if e.path.is_empty() {
                    e.detail.clone()
                } else {
                    format!("{}: {}", e.path, e.detail)
                }
            })
            .collect();
        Err(refused.join("; "))
    }
}

/// Read `path` (a file, a directory, or `-`) and import everything in it as one input.
pub fn import_path(path: &str, options: &Options) -> Result<Imported, String> {
    let docs = source::read(path)?;
    Ok(import_documents(&docs, options))
}

/// Import every document as one input: one report, resources only when nothing is refused.
pub fn import_documents(docs: &[Document], options: &Options) -> Imported {
    let mut report = Report::default();
    let mut raws: Vec<(String, Raw)> = Vec::new();
    let mut unresolved = Vec::new();
    // Copilot predefines COPILOT_ENVIRONMENT_NAME for `${…}` in its manifests.
    let mut options = options.clone();
    if let Some(env) = options.environment.clone() {
        options
            .vars
            .entry("COPILOT_ENVIRONMENT_NAME".into())
            .or_insert(env);
    }
    let options = &options;
    let plan = ecspresso::plan(docs, options, &mut report);
    for doc in &plan.docs {
        let found = match source::detect(doc) {
            source::Format::CloudFormation => {
                cloudformation::convert(&doc.value, &options.parameters)
            }
            source::Format::Terraform => terraform::convert(&doc.value),
            source::Format::Copilot => copilot::convert(&doc.value, options.environment.as_deref()),
            // Expanded by ecspresso::plan; a configuration never reaches here.
            source::Format::Ecspresso => continue,
            source::Format::AwsCli => aws_cli::detect(&doc.value),
        };
        match found {
            Ok(found) => {
                let scope = Scope {
                    source: doc.source.clone(),
                    ..Scope::default()
                };
                for (path, fate, detail) in found.notes {
                    report.add(&scope, &path, fate, detail);
                }
                unresolved.extend(
                    found
                        .unresolved
                        .into_iter()
                        .map(|(path, what)| format!("{}: {path}: {what}", doc.source)),
                );
                raws.extend(found.raws.into_iter().map(|r| (doc.source.clone(), r)));
            }
            Err(e) => report.refuse(&doc.source, "", e),
        }
    }
    if !unresolved.is_empty() {
        report.refuse(
            "",
            "",
            format!(
                "{} intrinsic function(s) or value(s) that cannot be resolved offline (give them with --parameter NAME=VALUE, like placeholders):\n    {}",
                unresolved.len(),
                unresolved.join("\n    ")
            ),
        );
    }
    fill::substitute(&mut raws, options, plan.left, &mut report);
    if !report.is_ok() {
        return finish(Vec::new(), report);
    }
    ecspresso::apply(&plan.fills, &mut raws, options);
    fill::fill_in(&mut raws, options, &mut report);
    let mut resources = Vec::new();
    let mut scopes = Vec::new();
    for (source, mut raw) in raws {
        let name = raw.name.clone().unwrap_or_default();
        let scope = Scope {
            source,
            resource: format!("{}/{}", raw.kind.as_str(), dns_label(&name)),
            prefix: raw.prefix.clone(),
        };
        for (rel, fate, detail) in std::mem::take(&mut raw.notes) {
            report.add(&scope, &rel, fate, detail);
        }
        schema::fit(
            &mut raw.spec,
            raw.kind.as_str(),
            raw.read_only,
            &scope,
            &mut report,
        );
        let mut spec = Value::Object(std::mem::take(&mut raw.spec));
        defaults::strip(
            check::request_shape(raw.kind.as_str()),
            &mut spec,
            "",
            &scope,
            &mut report,
        );
        let mut metadata = json!({ "name": dns_label(&name) });
        if let Some(ns) = &options.namespace {
            metadata["namespace"] = json!(ns);
        }
        resources.push(json!({
            "apiVersion": "ecs-operator.io/v1alpha1",
            "kind": raw.kind.as_str(),
            "metadata": metadata,
            "spec": spec,
        }));
        scopes.push(scope);
    }
    if report.is_ok() {
        check::check(&resources, &scopes, &mut report);
    }
    if !report.is_ok() {
        resources.clear();
    }
    finish(resources, report)
}

fn finish(resources: Vec<Value>, report: Report) -> Imported {
    let notes = report
        .entries
        .iter()
        .filter(|e| e.fate != Fate::Mapped)
        .map(|e| {
            let what = if e.resource.is_empty() {
                &e.source
            } else {
                &e.resource
            };
            format!("{what}: {} {}: {}", e.fate.label(), e.path, e.detail)
        })
        .collect();
    Imported {
        resources,
        notes,
        report,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_task_definition_output_is_unwrapped_and_stripped() {
        let v = json!({"taskDefinition": {"family": "web", "revision": 3, "status": "ACTIVE",
            "containerDefinitions": [{"name": "web", "image": "nginx", "memory": 128}], "taskDefinitionArn": "arn:x"},
            "tags": [{"key": "team", "value": "a"}]});
        let out = import(&v, None).unwrap();
        let spec = &out.resources[0]["spec"];
        assert!(spec.get("revision").is_none() && spec.get("status").is_none());
        assert_eq!(spec["tags"][0]["key"], "team");
        let stripped: Vec<_> = out
            .report
            .of(Fate::Stripped)
            .map(|e| e.path.as_str())
            .collect();
        assert_eq!(
            stripped,
            [
                "taskDefinition.revision",
                "taskDefinition.status",
                "taskDefinition.taskDefinitionArn"
            ]
        );
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

    #[test]
    fn a_nameless_service_is_filled_in_from_flags_or_the_file_name() {
        let doc = |source: &str, value: Value| Document {
            source: source.into(),
            value,
        };
        let docs = [
            doc(
                "deploy/ecs-task-def.json",
                json!({"family": "api", "containerDefinitions": [{"name": "api", "image": "api:1", "memory": 256}]}),
            ),
            doc(
                "deploy/ecs-service-def.json",
                json!({"desiredCount": 2, "launchType": "FARGATE"}),
            ),
        ];
        let out = import_documents(&docs, &Options::default());
        assert!(out.report.is_ok(), "{:#?}", out.report);
        let svc = &out.resources[1];
        assert_eq!(
            (
                svc["metadata"]["name"].as_str(),
                svc["spec"]["taskDefinition"].as_str()
            ),
            (Some("ecs-service-def"), Some("api"))
        );
        let opts = Options {
            name: Some("web".into()),
            cluster: Some("prod".into()),
            ..Options::default()
        };
        let out = import_documents(
            &docs[1..],
            &Options {
                task_definition: Some("web:3".into()),
                ..opts
            },
        );
        let svc = &out.resources[0];
        assert_eq!(svc["spec"]["serviceName"], "web");
        assert_eq!(svc["spec"]["taskDefinition"], "web:3");
        assert_eq!(svc["spec"]["cluster"], "prod");
        assert_eq!(out.report.of(Fate::FilledIn).count(), 3);
    }

    #[test]
    fn unsubstituted_placeholders_are_one_error_naming_each_path() {
        let v = json!({"family": "web", "cpu": "{{ must_env `CPU` }}", "containerDefinitions": [{"name": "web", "image": "${IMAGE}"}]});
        let err = import(&v, None).unwrap_err();
        assert!(err.contains("2 template placeholder(s)"), "{err}");
        assert!(
            err.contains("cpu: {{ must_env `CPU` }}")
                && err.contains("containerDefinitions[0].image: ${IMAGE}"),
            "{err}"
        );
    }
}
