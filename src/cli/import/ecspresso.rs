//! ecspresso configuration files (issue 9 item 12): `ecspresso.yml` / `.yaml` / `.json` names
//! the cluster, the service, and the service and task definition files (paths relative to the
//! configuration file). Importing the configuration imports the files it names and fills in
//! what ecspresso fills in at deploy time: the service's `serviceName` (the config's
//! `service`), `cluster` (the config's `cluster`, ecspresso's default `default`) and
//! `taskDefinition` (the task definition file's family, which ecspresso registers and deploys).
//! The rules are ecspresso's own (README, "Configuration file", "Template syntax", "Plugins",
//! and config.go: `DefaultClusterName = "default"`, "task_definition is not defined";
//! https://github.com/kayac/ecspresso). Jsonnet is refused with how to render it
//! (`source::jsonnet_unsupported`).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::super::manifest::Document;
use super::report::{Fate, Report, Scope};
use super::source::{self, Format};
use super::{Kind, Options, Raw, fill, placeholders};

/// What one configuration fills in.
#[derive(Clone, Debug)]
pub struct Fill {
    /// The configuration's source.
    pub config: String,
    /// The source of the service definition file, if the configuration names one.
    pub service_definition: Option<String>,
    /// The source of the task definition file.
    pub task_definition: String,
    /// The configuration's `service`.
    pub service: Option<String>,
    /// The configuration's `cluster`.
    pub cluster: Option<String>,
}

/// The documents to import once the configurations are expanded.
#[derive(Debug, Default)]
pub struct Plan {
    /// Every input document but the configurations, and the definition files they name.
    pub docs: Vec<Document>,
    pub fills: Vec<Fill>,
    /// Placeholders left in the configurations: lines of the one placeholder error.
    pub left: Vec<String>,
}

/// Whether two sources are the same file.
fn same_file(a: &str, b: &Path) -> bool {
    let a = Path::new(a);
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// The path of a file a configuration names: relative to the configuration's directory.
fn resolve(config: &str, rel: &str) -> PathBuf {
    let rel = Path::new(rel);
    if rel.is_absolute() || config.starts_with('<') {
        return rel.to_path_buf();
    }
    Path::new(config)
        .parent()
        .map_or_else(|| rel.to_path_buf(), |d| d.join(rel))
}

/// Config members and what becomes of them (ecspresso README, "Configuration file" and the
/// sections on CodeDeploy, plugins and version constraints).
fn member_fate(key: &str) -> (Fate, &'static str) {
    match key {
        "cluster" => (
            Fate::Converted,
            "→ the service's spec.cluster (filled in there)",
        ),
        "service" => (
            Fate::Converted,
            "→ the service's serviceName and name (filled in there)",
        ),
        "task_definition" | "service_definition" => (Fate::Converted, "imported"),
        "region" => (
            Fate::Stripped,
            "the AWS Region ecspresso calls: the operator acts in the Kubernetes cluster it runs in",
        ),
        "timeout" => (
            Fate::Stripped,
            "how long ecspresso waits for a stable service (default 10m); the operator's rollout deadline is spec.kubernetes.rolloutDeadlineSeconds (default 600 s)",
        ),
        "plugins" => (
            Fate::Stripped,
            "plugins add template functions (tfstate, cloudformation, …): give their values with --set 'FUNC:ARGS=VALUE'",
        ),
        "appspec" | "codedeploy" => (
            Fate::Warned,
            "CodeDeploy settings: no Kubernetes form here, not imported",
        ),
        "required_version" | "filter_command" | "ignore" => (
            Fate::Stripped,
            "ecspresso's own behaviour: no Kubernetes form",
        ),
        _ => (
            Fate::Stripped,
            "not a member of ecspresso's configuration file (a misspelling, or another tool's)",
        ),
    }
}

/// Expand every ecspresso configuration of the input into the files it names.
pub fn plan(docs: &[Document], options: &Options, report: &mut Report) -> Plan {
    let mut out = Plan::default();
    for doc in docs {
        if source::detect(doc) != Format::Ecspresso {
            if !out
                .docs
                .iter()
                .any(|d| d.source == doc.source && d.value == doc.value)
            {
                out.docs.push(doc.clone());
            }
            continue;
        }
        let mut config = doc.value.clone();
        for l in placeholders::substitute(&mut config, &options.vars, "") {
            out.left.push(fill::leftover_line(&doc.source, &l));
        }
        let scope = Scope {
            source: doc.source.clone(),
            ..Scope::default()
        };
        let m = config.as_object().cloned().unwrap_or_default();
        for k in m.keys() {
            let (fate, detail) = member_fate(k);
            report.add(&scope, k, fate, detail);
        }
        let text = |k: &str| -> Result<Option<String>, ()> {
            match m.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok((!s.is_empty()).then(|| s.clone())),
                Some(_) => Err(()),
            }
        };
        let mut get = |k: &str| match text(k) {
            Ok(v) => v,
            Err(()) => {
                report.refuse(
                    &doc.source,
                    k,
                    "expected a string (ecspresso's configuration file)",
                );
                None
            }
        };
        let (service, cluster) = (get("service"), get("cluster"));
        let (td, sd) = (get("task_definition"), get("service_definition"));
        let Some(td) = td else {
            report.refuse(&doc.source, "task_definition", "is required (ecspresso: \"task_definition is not defined\"): the path of the task definition file, relative to this file");
            continue;
        };
        let mut load = |key: &str, rel: &str| -> Option<String> {
            let path = resolve(&doc.source, rel);
            if let Some(d) = docs
                .iter()
                .chain(out.docs.iter())
                .find(|d| same_file(&d.source, &path))
            {
                let d = d.clone();
                if !out.docs.iter().any(|x| x.source == d.source) {
                    out.docs.push(d.clone());
                }
                return Some(d.source);
            }
            match source::read(&path.display().to_string()) {
                Ok(read) if !read.is_empty() => {
                    let name = read[0].source.clone();
                    out.docs.extend(read);
                    Some(name)
                }
                Ok(_) => {
                    report.refuse(&doc.source, key, format!("{}: empty file", path.display()));
                    None
                }
                Err(e) => {
                    let hint = if path.exists() {
                        ""
                    } else {
                        " (the path is relative to this file)"
                    };
                    report.refuse(&doc.source, key, format!("{e}{hint}"));
                    None
                }
            }
        };
        let Some(task_definition) = load("task_definition", &td) else {
            continue;
        };
        let service_definition = match &sd {
            Some(rel) => match load("service_definition", rel) {
                Some(s) => Some(s),
                None => continue,
            },
            None => {
                if service.is_some() {
                    report.add(&scope, "service_definition", Fate::Warned, "none: ecspresso deploys the task definition to the existing service; import that service's definition too (`ecspresso init` writes one)");
                }
                None
            }
        };
        out.fills.push(Fill {
            config: doc.source.clone(),
            service_definition,
            task_definition,
            service,
            cluster,
        });
    }
    // The task definition before the service that runs it, whatever the files' order.
    for f in &out.fills {
        let at = |s: &str| out.docs.iter().position(|d| d.source == s);
        if let (Some(sd), Some(td)) = (
            f.service_definition.as_deref().and_then(at),
            at(&f.task_definition),
        ) && sd < td
        {
            let d = out.docs.remove(td);
            out.docs.insert(sd, d);
        }
    }
    out
}

/// Fill in what ecspresso sets at deploy time on the service its configuration names.
pub fn apply(fills: &[Fill], raws: &mut [(String, Raw)], options: &Options) {
    for f in fills {
        // The task definition file's family (named like fill::fill_in names a nameless one).
        let mut family = None;
        for (source, raw) in raws.iter_mut() {
            if *source != f.task_definition || raw.kind != Kind::TaskDefinition {
                continue;
            }
            if raw.name.is_none() {
                let (name, from) = match &options.task_definition {
                    Some(t) => (t.clone(), "the command line"),
                    None => (fill::file_stem(source), "the file name"),
                };
                raw.notes.push((
                    "family".into(),
                    Fate::FilledIn,
                    format!("'{name}' from {from}"),
                ));
                raw.spec.insert("family".into(), json!(name));
                raw.name = Some(name);
            }
            family = raw.name.clone();
            break;
        }
        let Some(sd) = &f.service_definition else {
            continue;
        };
        let Some((_, raw)) = raws
            .iter_mut()
            .find(|(s, r)| s == sd && r.kind == Kind::Service)
        else {
            continue;
        };
        let mut set = |member: &str, value: String, from: String| {
            let old = raw
                .spec
                .get(member)
                .and_then(Value::as_str)
                .filter(|o| !o.is_empty() && *o != value)
                .map(|o| format!(" (replaces '{o}': ecspresso uses its configuration's)"));
            raw.notes.push((
                member.into(),
                Fate::FilledIn,
                format!("'{value}' from {from}{}", old.unwrap_or_default()),
            ));
            raw.spec.insert(member.into(), json!(value));
        };
        if let Some(s) = &f.service {
            set(
                "serviceName",
                s.clone(),
                format!(
                    "{} service (ecspresso sets the service definition's serviceName from it)",
                    f.config
                ),
            );
            raw.name = Some(s.clone());
        }
        let cluster = match (&f.cluster, &options.cluster) {
            (Some(c), _) => Some((c.clone(), format!("{} cluster", f.config))),
            (None, Some(_)) => None, // fill::fill_in: from the command line
            (None, None) => Some((
                "default".to_string(),
                format!("ecspresso's default cluster ({} names none)", f.config),
            )),
        };
        if let Some((c, from)) = cluster {
            set(
                "cluster",
                crate::translate::refs::cluster_name(&c).to_string(),
                from,
            );
        }
        if let Some(family) = family {
            set(
                "taskDefinition",
                family,
                format!(
                    "{} (ecspresso registers that task definition file and deploys its new revision)",
                    f.task_definition
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Fate, Options, import_documents};
    use super::*;

    fn doc(source: &str, value: Value) -> Document {
        Document {
            source: source.into(),
            value,
        }
    }

    fn td() -> Document {
        doc(
            "deploy/ecs-task-def.json",
            json!({"family": "api", "containerDefinitions": [{"name": "api", "image": "api:1", "memory": 256}]}),
        )
    }

    fn sd(extra: Value) -> Document {
        let mut v = json!({"desiredCount": 1, "launchType": "FARGATE"});
        for (k, x) in extra.as_object().into_iter().flatten() {
            v[k] = x.clone();
        }
        doc("deploy/ecs-service-def.json", v)
    }

    /// config.go: `DefaultClusterName = "default"` when the configuration names no cluster.
    #[test]
    fn no_cluster_is_ecspressos_default_unless_the_command_line_gives_one() {
        let config = doc(
            "deploy/ecspresso.yml",
            json!({"service": "web", "service_definition": "ecs-service-def.json", "task_definition": "ecs-task-def.json"}),
        );
        let docs = [config, sd(json!({"serviceName": "old"})), td()];
        let out = import_documents(&docs, &Options::default());
        assert!(out.report.is_ok(), "{}", out.report.to_text());
        assert_eq!(out.resources.len(), 2, "each file imported once");
        let svc = out
            .resources
            .iter()
            .find(|r| r["kind"] == "Service")
            .unwrap();
        assert_eq!(svc["metadata"]["name"], "web");
        assert_eq!(svc["spec"]["cluster"], "default");
        assert_eq!(svc["spec"]["taskDefinition"], "api");
        let filled = |path: &str| {
            out.report
                .of(Fate::FilledIn)
                .find(|e| e.path == path)
                .map(|e| e.detail.clone())
                .unwrap_or_default()
        };
        assert!(filled("cluster").contains("ecspresso's default"));
        assert!(filled("serviceName").contains("replaces 'old'"));
        let opts = Options {
            cluster: Some("prod".into()),
            ..Options::default()
        };
        let out = import_documents(&docs, &opts);
        let svc = out
            .resources
            .iter()
            .find(|r| r["kind"] == "Service")
            .unwrap();
        assert_eq!(svc["spec"]["cluster"], "prod");
    }

    /// config.go Validate: "task_definition is not defined".
    #[test]
    fn a_configuration_without_task_definition_or_a_missing_file_is_refused() {
        let out = import_documents(
            &[doc(
                "deploy/ecspresso.yml",
                json!({"service": "web", "cluster": "c"}),
            )],
            &Options::default(),
        );
        let e = out.report.of(Fate::Refused).next().unwrap();
        assert_eq!(e.path, "task_definition");
        assert!(
            e.detail.contains("task_definition is not defined"),
            "{}",
            e.detail
        );
        let out = import_documents(
            &[doc(
                "nowhere/ecspresso.yml",
                json!({"task_definition": "missing.json", "timeout": "5m", "colour": 1}),
            )],
            &Options::default(),
        );
        let e = out.report.of(Fate::Refused).next().unwrap();
        assert!(e.detail.contains("relative to this file"), "{}", e.detail);
        assert!(out.report.of(Fate::Stripped).any(|e| e.path == "colour"));
    }

    /// README "Template syntax": the configuration is a template too.
    #[test]
    fn placeholders_in_the_configuration_are_in_the_one_placeholder_error() {
        let config = doc(
            "deploy/ecspresso.yml",
            json!({"cluster": "{{ must_env `CLUSTER` }}", "service_definition": "ecs-service-def.json", "task_definition": "ecs-task-def.json"}),
        );
        let out = import_documents(&[config, sd(json!({})), td()], &Options::default());
        let refused: Vec<_> = out.report.of(Fate::Refused).collect();
        assert_eq!(refused.len(), 1);
        assert!(
            refused[0]
                .detail
                .contains("deploy/ecspresso.yml: cluster: {{ must_env `CLUSTER` }}")
        );
    }
}
