//! Fitting an imported spec to the schema of its CRD — the very schema `render` and the API
//! server enforce, generated from the Rust types — so `render` and the CRDs stay strict while
//! `import` accepts what real files hold: explicit nulls (describe dumps), `""` for enums
//! (consoles, `--generate-cli-skeleton`), scalars where ECS takes strings, strings where it takes
//! numbers (after placeholder substitution), and members unknown at any depth (other ECS
//! versions). Each change is a report entry naming its source path; what cannot be fitted is
//! refused, one entry per field, all at once.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use super::report::{Fate, Report, Scope, join};
use super::scalars;

/// The `spec` schema of each kind, from the generated CRDs.
pub fn spec_schemas() -> &'static BTreeMap<String, Value> {
    static SCHEMAS: OnceLock<BTreeMap<String, Value>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        crate::crdgen::all()
            .into_iter()
            .filter_map(|(_, crd)| {
                let kind = crd.spec.names.kind.clone();
                let v = serde_json::to_value(&crd).ok()?;
                let spec = v
                    .pointer("/spec/versions/0/schema/openAPIV3Schema/properties/spec")?
                    .clone();
                Some((kind, spec))
            })
            .collect()
    })
}

/// The walk's context.
pub(super) struct Cx<'a> {
    scope: &'a Scope,
    report: &'a mut Report,
}

impl Cx<'_> {
    pub(super) fn note(&mut self, rel: &str, fate: Fate, detail: String) {
        self.report.add(self.scope, rel, fate, detail);
    }
}

/// Fit `spec` (a `kind`'s spec, paths relative to it) to the CRD schema. `read_only` names
/// top-level members of the describe output that are not request members (src/api/ecs/model.rs
/// READ_ONLY), so their note says so.
pub fn fit(
    spec: &mut Map<String, Value>,
    kind: &str,
    read_only: &[&str],
    scope: &Scope,
    report: &mut Report,
) {
    let Some(schema) = spec_schemas().get(kind) else {
        report.add(
            scope,
            "",
            Fate::Refused,
            format!("no schema for kind {kind}"),
        );
        return;
    };
    let mut cx = Cx { scope, report };
    fit_object(spec, schema, "", read_only, &mut cx);
}

pub(super) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn fit_object(
    m: &mut Map<String, Value>,
    schema: &Value,
    rel: &str,
    read_only: &[&str],
    cx: &mut Cx,
) {
    let props = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties").filter(|a| a.is_object());
    let preserve = schema
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let keys: Vec<String> = m.keys().cloned().collect();
    for k in keys {
        let path = join(rel, &k);
        let (sub, in_map) = match props.and_then(|p| p.get(&k)) {
            Some(s) => (Some(s), false),
            None => (additional, additional.is_some()),
        };
        // The CRDs accept read-only output members (and warn); `import` strips them.
        let read_only_member = read_only.contains(&k.as_str());
        let keep = match (sub, m.get_mut(&k)) {
            _ if read_only_member => {
                cx.note(
                    &path,
                    Fate::Stripped,
                    "read-only: a member of the describe output, not of the request (ECS API model)"
                        .into(),
                );
                false
            }
            (Some(s), Some(v)) => fit_value(v, s, &path, &k, in_map, cx),
            (None, _) if preserve => true,
            (None, _) => {
                cx.note(&path, Fate::Stripped, "not a member of the ECS shape at this path in the API version this operator knows (a field of another ECS version, or a misspelling); the CRD would refuse it".into());
                false
            }
            (_, None) => true,
        };
        if !keep {
            m.shift_remove(&k);
        }
    }
}

/// Fit one value; false when it is to be removed (its entry already recorded).
fn fit_value(
    v: &mut Value,
    schema: &Value,
    rel: &str,
    key: &str,
    in_map: bool,
    cx: &mut Cx,
) -> bool {
    if v.is_null() {
        cx.note(
            rel,
            Fate::Stripped,
            "explicit null: treated as absent, as ECS does".into(),
        );
        return false;
    }
    let ty = schema.get("type").and_then(Value::as_str);
    match (ty, &mut *v) {
        (None, _) => true,
        (Some("object"), Value::Object(m)) => {
            fit_object(m, schema, rel, &[], cx);
            true
        }
        (Some("array"), Value::Array(items)) => {
            fit_array(items, schema, rel, cx);
            // A skeleton's `[""]`: a list of nothing.
            if !items.is_empty() && items.iter().all(|i| i.as_str() == Some("")) {
                cx.note(rel, Fate::Stripped, "a list of empty strings (as `--generate-cli-skeleton` writes): treated as absent".into());
                return false;
            }
            true
        }
        (Some("string"), _) => fit_string(v, schema, rel, key, in_map, cx),
        (Some("integer"), _) => scalars::fit_integer(v, schema, rel, cx),
        (Some("number"), _) => scalars::fit_number(v, rel, cx),
        (Some("boolean"), _) => scalars::fit_boolean(v, rel, cx),
        (Some(t), other) => {
            let t = match t {
                "object" => "an object",
                "array" => "a list",
                other => other,
            };
            let found = kind_of(other);
            cx.note(rel, Fate::Refused, format!("expected {t}, found {found}"));
            true
        }
    }
}

fn fit_array(items: &mut Vec<Value>, schema: &Value, rel: &str, cx: &mut Cx) {
    let Some(item_schema) = schema.get("items") else {
        return;
    };
    let mut i = 0;
    let mut source_index = 0;
    while i < items.len() {
        let path = format!("{rel}[{source_index}]");
        source_index += 1;
        if fit_value(&mut items[i], item_schema, &path, "", false, cx) {
            i += 1;
        } else {
            items.remove(i);
        }
    }
}

fn enum_values(schema: &Value) -> Option<Vec<&str>> {
    schema
        .get("enum")
        .and_then(Value::as_array)
        .map(|e| e.iter().filter_map(Value::as_str).collect())
}

fn fit_string(
    v: &mut Value,
    schema: &Value,
    rel: &str,
    key: &str,
    in_map: bool,
    cx: &mut Cx,
) -> bool {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => {
            let n = n.clone();
            let s = n.to_string();
            cx.note(rel, Fate::Converted, format!("the API takes a string here (ECS API model type String): the number {n} written as \"{s}\""));
            *v = Value::String(s.clone());
            s
        }
        Value::Bool(b) => {
            let b = *b;
            cx.note(rel, Fate::Converted, format!("the API takes a string here (ECS API model type String): the boolean {b} written as \"{b}\""));
            *v = Value::String(b.to_string());
            b.to_string()
        }
        other => {
            let found = kind_of(other);
            cx.note(
                rel,
                Fate::Refused,
                format!("expected a string, found {found}"),
            );
            return true;
        }
    };
    if let Some(allowed) = enum_values(schema) {
        if s.is_empty() {
            cx.note(rel, Fate::Stripped, "empty string for an enum (as consoles and `--generate-cli-skeleton` write): treated as absent".into());
            return false;
        }
        if key == "networkMode" && s == "default" {
            // RegisterTaskDefinitionRequest.networkMode: "If no network mode is specified, the
            // default is bridge"; `<default>` is the Windows name of that same default.
            cx.note(rel, Fate::Stripped, "networkMode \"default\": Docker's default network mode, which is what an absent networkMode means (RegisterTaskDefinitionRequest.networkMode: the default is bridge)".into());
            return false;
        }
        if !allowed.contains(&s.as_str()) {
            cx.note(
                rel,
                Fate::Refused,
                format!("'{s}' is not one of {}", allowed.join(", ")),
            );
        }
        return true;
    }
    // An empty optional string is absent (RegisterTaskDefinition's official example has
    // "taskRoleArn": ""); values (environment, tags, map entries) keep "" as a real value.
    if s.is_empty() && !in_map && key != "value" && !key.is_empty() {
        cx.note(
            rel,
            Fate::Stripped,
            "empty string: treated as absent".into(),
        );
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(kind: &str, spec: Value) -> (Value, Report) {
        let mut m = spec.as_object().cloned().unwrap();
        let mut r = Report::default();
        fit(&mut m, kind, &["revision"], &Scope::default(), &mut r);
        (Value::Object(m), r)
    }

    #[test]
    fn nulls_empty_enums_default_network_mode_and_unknown_nested_members() {
        let (spec, r) = run(
            "TaskDefinition",
            json!({"family": "web", "revision": 3, "networkMode": "default", "ipcMode": "", "pidMode": null,
              "taskRoleArn": "",
              "containerDefinitions": [{"name": "web", "image": "nginx", "cpu": "256",
                 "dockerLabels": {"port": 8080, "debug": true, "empty": ""},
                 "environment": [{"name": "A", "value": 1.5}, {"name": "B", "value": ""}],
                 "portMappings": [{"containerPort": 80.0, "appProtocol": ""}]}],
              "volumes": [{"name": "data", "readOnly": true}]}),
        );
        assert!(r.is_ok(), "{r:#?}");
        assert_eq!(
            spec,
            json!({"family": "web",
              "containerDefinitions": [{"name": "web", "image": "nginx", "cpu": 256,
                 "dockerLabels": {"port": "8080", "debug": "true", "empty": ""},
                 "environment": [{"name": "A", "value": "1.5"}, {"name": "B", "value": ""}],
                 "portMappings": [{"containerPort": 80}]}],
              "volumes": [{"name": "data"}]})
        );
        let paths: Vec<_> = r.of(Fate::Stripped).map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "revision",
                "networkMode",
                "ipcMode",
                "pidMode",
                "taskRoleArn",
                "containerDefinitions[0].portMappings[0].appProtocol",
                "volumes[0].readOnly"
            ]
        );
        assert_eq!(r.of(Fate::Converted).count(), 5);
    }

    #[test]
    fn what_cannot_fit_is_refused_once_per_field() {
        let (_, r) = run(
            "TaskDefinition",
            json!({"family": "web", "networkMode": "Bridge", "containerDefinitions": [
                {"name": "web", "memory": "lots", "essential": "yes", "command": "npm start", "cpu": 1e12}]}),
        );
        let refused: Vec<_> = r.of(Fate::Refused).map(|e| e.path.as_str()).collect();
        assert_eq!(
            refused,
            [
                "networkMode",
                "containerDefinitions[0].memory",
                "containerDefinitions[0].essential",
                "containerDefinitions[0].command",
                "containerDefinitions[0].cpu"
            ]
        );
    }
}
