//! Reading custom resources from YAML or JSON documents: typed parsing whose errors name the
//! JSON path of the bad field, and unknown fields reported, never dropped silently.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api::{Cluster, Service, Task, TaskDefinition};
use crate::translate::Diagnostic;

/// One parsed custom resource.
#[derive(Clone, Debug)]
pub enum Resource {
    TaskDefinition(Box<TaskDefinition>),
    Service(Box<Service>),
    Task(Box<Task>),
    Cluster(Box<Cluster>),
}

/// Where a document came from, for messages.
#[derive(Clone, Debug)]
pub struct Document {
    pub source: String,
    pub value: Value,
}

/// Read every YAML/JSON document from `path` (a file, a directory of .yaml/.yml/.json files,
/// or `-` for standard input).
pub fn read_documents(path: &str) -> Result<Vec<Document>, String> {
    if path == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| format!("reading standard input: {e}"))?;
        return parse_documents(&text, "<stdin>");
    }
    let p = Path::new(path);
    if p.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(p)
            .map_err(|e| format!("{path}: {e}"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|f| {
                f.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
            })
            .collect();
        files.sort();
        let mut docs = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
            docs.extend(parse_documents(&text, &f.display().to_string())?);
        }
        return Ok(docs);
    }
    let text = std::fs::read_to_string(p).map_err(|e| format!("{path}: {e}"))?;
    parse_documents(&text, path)
}

/// Split `text` into documents: JSON (one value) or multi-document YAML.
pub fn parse_documents(text: &str, source: &str) -> Result<Vec<Document>, String> {
    if text.trim_start().starts_with(['{', '[']) {
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("{source}: invalid JSON: {e}"))?;
        return Ok(match value {
            Value::Array(items) => items
                .into_iter()
                .map(|value| Document {
                    source: source.into(),
                    value,
                })
                .collect(),
            value => vec![Document {
                source: source.into(),
                value,
            }],
        });
    }
    let mut docs = Vec::new();
    for (i, de) in serde_norway::Deserializer::from_str(text).enumerate() {
        let value: Value = serde::Deserialize::deserialize(de)
            .map_err(|e| format!("{source}: document {}: invalid YAML: {e}", i + 1))?;
        if !value.is_null() {
            docs.push(Document {
                source: source.into(),
                value,
            });
        }
    }
    Ok(docs)
}

/// Deserialize `value` as `T`: a type error names the path; unknown fields are returned.
pub fn typed<T: DeserializeOwned>(value: &Value) -> Result<(T, Vec<String>), Diagnostic> {
    let mut unknown = Vec::new();
    let mut track = serde_path_to_error::Track::new();
    let de = serde_path_to_error::Deserializer::new(value, &mut track);
    let typed: Result<T, _> =
        serde_ignored::deserialize(de, |path| unknown.push(json_path(&path.to_string())));
    match typed {
        Ok(t) => Ok((t, unknown)),
        Err(e) => {
            let path = track.path().to_string();
            Err(Diagnostic {
                path: if path == "." {
                    "(document)".into()
                } else {
                    path
                },
                message: e.to_string(),
                hint: None,
            })
        }
    }
}

/// serde_ignored's `a.?.0.b` (`?` for an Option) as the JSON path `a[0].b`.
fn json_path(raw: &str) -> String {
    let mut out = String::new();
    for seg in raw.split('.').filter(|s| *s != "?") {
        if seg.chars().all(|c| c.is_ascii_digit()) && !seg.is_empty() {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(seg);
        }
    }
    out
}

/// Parse a document as one of this operator's kinds. Unknown fields are errors, as with
/// `kubectl apply`'s strict field validation.
pub fn resource(doc: &Document) -> Result<Resource, Vec<Diagnostic>> {
    let api_version = doc
        .value
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = doc
        .value
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let expected = format!("{}/{}", crate::api::GROUP, crate::api::VERSION);
    if api_version != expected {
        return Err(vec![Diagnostic {
            path: "apiVersion".into(),
            message: format!("is '{api_version}', expected '{expected}'"),
            hint: Some("raw AWS JSON? convert it first: ecs-operator import FILE".into()),
        }]);
    }
    // The API server refuses an object without a name (and `kubectl apply` needs one); every
    // child is named after it, so without this the offline render named them "" (found by
    // tests/fuzz.rs, fixture tests/fixtures/fuzz/render/6fcd4481115a69af.json).
    let name = doc.value.pointer("/metadata/name");
    if name.and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err(vec![Diagnostic {
            path: "metadata.name".into(),
            message: match name {
                None | Some(Value::Null) => "is required".into(),
                Some(other) => format!("is {other}, expected a non-empty string"),
            },
            hint: Some(
                "name the resource (a DNS label, such as the ECS family or service name)".into(),
            ),
        }]);
    }
    fn finish<T: DeserializeOwned>(
        v: &Value,
        wrap: fn(Box<T>) -> Resource,
    ) -> Result<Resource, Vec<Diagnostic>> {
        let (t, mut unknown) = typed::<T>(v).map_err(|d| vec![d])?;
        // The generated root types check apiVersion and kind themselves rather than store them.
        unknown.retain(|p| p != "apiVersion" && p != "kind");
        if unknown.is_empty() {
            Ok(wrap(Box::new(t)))
        } else {
            Err(unknown
                .into_iter()
                .map(|path| Diagnostic {
                    path,
                    message: "unknown field".into(),
                    hint: Some("check the spelling; ECS fields are camelCase, Kubernetes-only settings go under spec.kubernetes".into()),
                })
                .collect())
        }
    }
    match kind {
        "TaskDefinition" => finish(&doc.value, Resource::TaskDefinition),
        "Service" => finish(&doc.value, Resource::Service),
        "Task" => finish(&doc.value, Resource::Task),
        "Cluster" => finish(&doc.value, Resource::Cluster),
        other => Err(vec![Diagnostic {
            path: "kind".into(),
            message: format!("'{other}' is not a kind of {expected}"),
            hint: Some("use TaskDefinition, Service, Task or Cluster".into()),
        }]),
    }
}
