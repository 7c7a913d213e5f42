//! Reading what `import` is given: a file, a directory (every .json/.yaml/.yml/.template
//! file, and each `<service>/manifest.yml` of a Copilot workspace, as one input), or `-` for
//! standard input — and recognising what each document is
//! (`detect`). Templates parse before substitution (bare
//! placeholders are quoted, see `placeholders::quote_bare`), and YAML's CloudFormation short
//! forms (`!Ref`, `!Sub`, `!GetAtt`, …) become the long forms (`{"Ref": …}`, `{"Fn::Sub": …}`).

use std::path::Path;

use serde_json::{Map, Value};

use super::super::manifest::Document;
use super::placeholders::quote_bare;

/// The formats `import` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A CloudFormation or CDK-synthesized template.
    CloudFormation,
    /// `terraform show -json` output.
    Terraform,
    /// An ecspresso configuration file naming a service and a task definition file.
    Ecspresso,
    /// An AWS Copilot workload manifest.
    Copilot,
    /// AWS CLI/API JSON: a task definition, service, task or cluster, or describe output.
    AwsCli,
}

/// What one document is.
pub fn detect(doc: &Document) -> Format {
    let v = &doc.value;
    if super::cloudformation::is_template(v) {
        Format::CloudFormation
    } else if super::terraform::is_show_json(v) {
        Format::Terraform
    } else if is_ecspresso_config(v, &doc.source) {
        Format::Ecspresso
    } else if is_copilot_manifest(v) {
        Format::Copilot
    } else {
        Format::AwsCli
    }
}

/// The names ecspresso looks for (ecspresso README, "Configuration file": YAML, JSON or
/// Jsonnet; `ecspresso.yml` is what `ecspresso init` writes and `--config` defaults to).
pub const ECSPRESSO_CONFIGS: [&str; 4] = [
    "ecspresso.yml",
    "ecspresso.yaml",
    "ecspresso.json",
    "ecspresso.jsonnet",
];

/// An ecspresso configuration: named like one, or an object naming a `task_definition` or a
/// `service_definition` file (ecspresso's Config: region, cluster, service,
/// service_definition, task_definition, timeout, plugins, …) and no task definition members.
pub fn is_ecspresso_config(v: &Value, source: &str) -> bool {
    let Some(m) = v.as_object() else { return false };
    let base = source.rsplit(['/', '\\']).next().unwrap_or(source);
    if ECSPRESSO_CONFIGS.contains(&base) {
        return true;
    }
    !m.contains_key("containerDefinitions")
        && ["task_definition", "service_definition"]
            .iter()
            .any(|k| m.get(*k).is_some_and(Value::is_string))
}

/// The workload types of an AWS Copilot manifest (Copilot manifest reference,
/// https://aws.github.io/copilot-cli/docs/manifest/overview/), and `Environment`.
pub const COPILOT_TYPES: [&str; 7] = [
    "Load Balanced Web Service",
    "Backend Service",
    "Worker Service",
    "Request-Driven Web Service",
    "Scheduled Job",
    "Static Site",
    "Environment",
];

/// An AWS Copilot manifest: its `type` is one of Copilot's.
pub fn is_copilot_manifest(v: &Value) -> bool {
    v.get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| COPILOT_TYPES.contains(&t))
}

/// The error for a Jsonnet file: no well-kept Rust crate evaluates Jsonnet with ecspresso's
/// native functions, so it is rendered first.
pub fn jsonnet_unsupported(path: &str) -> String {
    format!(
        "{path}: Jsonnet is not supported by import: render it to JSON first, e.g. `jsonnet {path} > {json}` (or `ecspresso render config|servicedef|taskdef` when it calls ecspresso's std.native functions such as must_env), and import the JSON",
        json = path.strip_suffix(".jsonnet").unwrap_or(path).to_string() + ".json"
    )
}

/// Every document of `path`.
pub fn read(path: &str) -> Result<Vec<Document>, String> {
    if path == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| format!("reading standard input: {e}"))?;
        return parse(&text, "<stdin>");
    }
    let p = Path::new(path);
    if path.ends_with(".jsonnet") {
        return Err(jsonnet_unsupported(path));
    }
    if p.is_dir() {
        let jsonnet = p.join("ecspresso.jsonnet");
        if jsonnet.is_file() {
            return Err(jsonnet_unsupported(&jsonnet.display().to_string()));
        }
        let mut files: Vec<_> = std::fs::read_dir(p)
            .map_err(|e| format!("{path}: {e}"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|f| {
                f.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| matches!(e, "yaml" | "yml" | "json" | "template"))
            })
            .collect();
        // A Copilot workspace (`copilot/`): each service's `<name>/manifest.yml`; environment
        // manifests (`environments/<env>/manifest.yml`) hold nothing to run (Copilot manifest
        // reference, overview).
        for sub in std::fs::read_dir(p).into_iter().flatten().flatten() {
            let manifest = sub.path().join("manifest.yml");
            if sub.file_name() != "environments" && manifest.is_file() {
                files.push(manifest);
            }
        }
        files.sort();
        let mut docs = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
            docs.extend(parse(&text, &f.display().to_string())?);
        }
        return Ok(docs);
    }
    let text = std::fs::read_to_string(p).map_err(|e| format!("{path}: {e}"))?;
    parse(&text, path)
}

/// The documents of one text: JSON (one value; a top-level list is one document per item)
/// or multi-document YAML.
pub fn parse(text: &str, source: &str) -> Result<Vec<Document>, String> {
    let text = quote_bare(text);
    let doc = |value| Document {
        source: source.into(),
        value,
    };
    if text.trim_start().starts_with(['{', '[']) {
        let value: Value =
            serde_json::from_str(&text).map_err(|e| format!("{source}: invalid JSON: {e}"))?;
        return Ok(match value {
            Value::Array(items) => items.into_iter().map(doc).collect(),
            value => vec![doc(value)],
        });
    }
    let mut docs = Vec::new();
    for (i, de) in serde_norway::Deserializer::from_str(&text).enumerate() {
        let value: serde_norway::Value = serde::Deserialize::deserialize(de)
            .map_err(|e| format!("{source}: document {}: invalid YAML: {e}", i + 1))?;
        let value = from_yaml(value);
        if !value.is_null() {
            docs.push(doc(value));
        }
    }
    Ok(docs)
}

/// A YAML value as JSON; tags as CloudFormation's long-form intrinsic functions.
pub fn from_yaml(v: serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(from_yaml).collect()),
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match from_yaml(k) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                out.insert(key, from_yaml(v));
            }
            Value::Object(out)
        }
        Y::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = tag.trim_start_matches('!').to_string();
            let value = from_yaml(t.value);
            let mut out = Map::new();
            match name.as_str() {
                "Ref" | "Condition" => {
                    out.insert(name, value);
                }
                // `!GetAtt Resource.Attribute` is the list form split at the first dot.
                "GetAtt" => {
                    let value = match value {
                        Value::String(s) => match s.split_once('.') {
                            Some((r, a)) => Value::Array(vec![r.into(), a.into()]),
                            None => Value::String(s),
                        },
                        other => other,
                    };
                    out.insert("Fn::GetAtt".into(), value);
                }
                _ => {
                    out.insert(format!("Fn::{name}"), value);
                }
            }
            Value::Object(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_short_forms_become_long_forms() {
        let docs = parse(
            "a: !Ref Image\nb: !GetAtt Role.Arn\nc: !Sub '${AWS::Region}-x'\nd: !Join ['', [a, b]]\n",
            "t.yaml",
        )
        .unwrap();
        assert_eq!(
            docs[0].value,
            json!({"a": {"Ref": "Image"}, "b": {"Fn::GetAtt": ["Role", "Arn"]},
                "c": {"Fn::Sub": "${AWS::Region}-x"}, "d": {"Fn::Join": ["", ["a", "b"]]}})
        );
    }

    #[test]
    fn templates_with_bare_placeholders_parse() {
        let docs = parse(
            "{\"family\": \"web\", \"cpu\": {{ must_env `CPU` }}}",
            "t.json",
        )
        .unwrap();
        assert_eq!(docs[0].value["cpu"], "{{ must_env `CPU` }}");
        assert!(parse("{\"a\": ", "t.json").is_err());
    }
}
