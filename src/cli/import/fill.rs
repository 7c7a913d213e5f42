//! Before fitting: placeholders substituted in every spec (one error for all that are left),
//! and the names deploy tools leave to deploy time filled in (a service's name, task
//! definition and cluster; a task definition's family) from the flags or the file name, each
//! a report entry.

use serde_json::{Map, Value, json};

use crate::translate::names::dns_label;

use super::report::{Fate, Report};
use super::{Kind, Options, Raw, aws_cli, placeholders};

/// The file name without its extensions: the default name of what a source leaves unnamed.
pub(super) fn file_stem(source: &str) -> String {
    let base = source.rsplit(['/', '\\']).next().unwrap_or(source);
    let stem = base.split('.').next().unwrap_or(base);
    let stem = if stem.is_empty() || stem.starts_with('<') {
        "imported"
    } else {
        stem
    };
    dns_label(stem)
}

/// Substitute placeholders in every spec; what is left is ONE error listing each with its
/// path — `${VAR}` in a command may be the container's own shell variable: a warning only.
pub fn substitute(
    raws: &mut [(String, Raw)],
    options: &Options,
    left: Vec<String>,
    report: &mut Report,
) {
    let mut left = left;
    for (source, raw) in raws.iter_mut() {
        let mut spec = Value::Object(std::mem::take(&mut raw.spec));
        for l in placeholders::substitute(&mut spec, &options.vars, &raw.prefix) {
            if l.maybe_shell {
                // Noted on the resource, under the name it ends up with.
                let rel = l.path.strip_prefix(raw.prefix.as_str()).unwrap_or(&l.path);
                let rel = rel.strip_prefix('.').unwrap_or(rel).to_string();
                raw.notes.push((rel, Fate::Warned, format!("{} left as is: the container's shell expands it at run time; if it is a template placeholder, give it with --set", l.placeholder)));
            } else {
                left.push(leftover_line(source, &l));
            }
        }
        raw.spec = match spec {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        if let Some(n) = raw.name.as_mut() {
            let mut v = Value::String(n.clone());
            if placeholders::substitute(&mut v, &options.vars, "").is_empty() {
                *n = v.as_str().unwrap_or_default().to_string();
            }
        }
    }
    if !left.is_empty() {
        report.refuse(
            "",
            "",
            format!(
                "{} template placeholder(s) without a value (give them with --set VAR=value or --env-file FILE):\n    {}",
                left.len(),
                left.join("\n    ")
            ),
        );
    }
}

/// One line of the placeholder error: where, what, and for a lookup the `--set` that gives it.
pub fn leftover_line(source: &str, l: &placeholders::Leftover) -> String {
    match &l.key {
        Some(key) => {
            let q = if key.contains('\'') { '"' } else { '\'' };
            format!(
                "{source}: {}: {} (--set {q}{key}=VALUE{q})",
                l.path, l.placeholder
            )
        }
        None => format!("{source}: {}: {}", l.path, l.placeholder),
    }
}

/// Fill in what deploy tools leave to deploy time: a task definition's family, a service's
/// name, task definition and cluster; each filled value is a report entry.
pub fn fill_in(raws: &mut [(String, Raw)], options: &Options, report: &mut Report) {
    let stem_or = |source: &str, flag: &Option<String>| {
        flag.clone().map_or_else(
            || (file_stem(source), "the file name".to_string()),
            |f| (f, "the command line".to_string()),
        )
    };
    for (source, raw) in raws.iter_mut() {
        if raw.kind == Kind::TaskDefinition && raw.name.is_none() {
            let (family, from) = stem_or(source, &options.task_definition);
            raw.notes.push((
                "family".into(),
                Fate::FilledIn,
                format!("'{family}' from {from}"),
            ));
            raw.spec.insert("family".into(), json!(family));
            raw.name = Some(family);
        }
    }
    let families: Vec<String> = raws
        .iter()
        .filter(|(_, r)| r.kind == Kind::TaskDefinition)
        .filter_map(|(_, r)| r.name.clone())
        .collect();
    for (source, raw) in raws.iter_mut() {
        if raw.kind == Kind::Service && raw.name.is_none() {
            let (name, from) = stem_or(source, &options.name);
            raw.notes.push((
                "serviceName".into(),
                Fate::FilledIn,
                format!("'{name}' from {from}"),
            ));
            raw.spec.insert("serviceName".into(), json!(name));
            raw.name = Some(name);
        }
        if matches!(raw.kind, Kind::Service | Kind::Task) {
            let empty = raw
                .spec
                .get("taskDefinition")
                .is_none_or(|t| t.as_str().is_none_or(str::is_empty));
            if empty {
                let (td, from) = match (&options.task_definition, families.as_slice()) {
                    (Some(t), _) => (
                        aws_cli::short_task_definition(t),
                        "the command line".to_string(),
                    ),
                    (None, [only]) => (
                        only.clone(),
                        "the only task definition in the input".to_string(),
                    ),
                    (None, _) => (file_stem(source), "the file name".to_string()),
                };
                raw.notes.push((
                    "taskDefinition".into(),
                    Fate::FilledIn,
                    format!("'{td}' from {from}"),
                ));
                raw.spec.insert("taskDefinition".into(), json!(td));
            }
            if let Some(c) = &options.cluster
                && raw
                    .spec
                    .get("cluster")
                    .is_none_or(|c| c.as_str().is_none_or(str::is_empty))
            {
                raw.notes.push((
                    "cluster".into(),
                    Fate::FilledIn,
                    format!("'{c}' from the command line"),
                ));
                raw.spec.insert(
                    "cluster".into(),
                    json!(crate::translate::refs::cluster_name(c)),
                );
            }
        }
        if raw.kind == Kind::Task && raw.name.is_none() {
            let td = raw
                .spec
                .get("taskDefinition")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let (family, _) = crate::translate::refs::parse_task_definition_ref(td);
            raw.name = Some(format!("{family}-task"));
        }
        if raw.kind == Kind::Cluster && raw.name.is_none() {
            let (name, from) = stem_or(source, &options.cluster);
            raw.notes.push((
                "clusterName".into(),
                Fate::FilledIn,
                format!("'{name}' from {from}"),
            ));
            raw.name = Some(name);
        }
    }
    let _ = report;
}
