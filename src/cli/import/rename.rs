//! PascalCase (CloudFormation) and snake_case (Terraform) property names as the API's
//! camelCase members, through the CRD schema, so map keys (log options, docker labels) stay
//! as written and names that differ only in case or `_` need no table.

use serde_json::Value;

use super::schema::spec_schemas;

/// Rename PascalCase keys (CloudFormation's, Terraform's snake_case ones too) to the schema's
/// camelCase members — matched ignoring case and `_`, so `EFSVolumeConfiguration` becomes
/// `efsVolumeConfiguration` — leaving map keys (log options, docker labels) as written.
/// `renames` are members whose names differ beyond case (`ClusterSettings` → `settings`).
/// Returns how many keys were renamed.
pub fn camel_case(v: &mut Value, kind: &str, renames: &[(&str, &str)]) -> usize {
    match spec_schemas().get(kind) {
        Some(schema) => rename(v, schema, renames, false),
        None => 0,
    }
}

/// `camel_case` for Terraform: snake_case attributes, singular block names (`volume`,
/// `load_balancer`) for the API's plural lists, and nested blocks — lists of one object —
/// where the API takes an object.
pub fn camel_case_blocks(v: &mut Value, kind: &str, renames: &[(&str, &str)]) -> usize {
    match spec_schemas().get(kind) {
        Some(schema) => rename(v, schema, renames, true),
        None => 0,
    }
}

fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '_')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn rename(v: &mut Value, schema: &Value, renames: &[(&str, &str)], blocks: bool) -> usize {
    let mut n = 0;
    if blocks && schema.get("type").and_then(Value::as_str) == Some("object") {
        // A Terraform nested block: a list of (at most) one object.
        if let Value::Array(items) = v
            && items.len() <= 1
        {
            *v = items.pop().unwrap_or(Value::Null);
        }
    }
    match v {
        Value::Object(m) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            let entries: Vec<(String, Value)> = std::mem::take(m).into_iter().collect();
            for (k, mut item) in entries {
                let target = props.and_then(|p| {
                    if p.contains_key(&k) {
                        return Some(k.clone());
                    }
                    if let Some((_, to)) = renames.iter().find(|(from, _)| *from == k) {
                        return Some(to.to_string());
                    }
                    let sk = squash(&k);
                    p.keys()
                        .find(|p| squash(p) == sk)
                        .or_else(|| {
                            let plural = format!("{sk}s");
                            p.keys().find(|p| blocks && squash(p) == plural)
                        })
                        .cloned()
                });
                let key = target.clone().unwrap_or(k.clone());
                if key != k {
                    n += 1;
                }
                if let Some(sub) = target
                    .as_ref()
                    .and_then(|t| props.and_then(|p| p.get(t)))
                    .or(additional)
                {
                    n += rename(&mut item, sub, renames, blocks);
                }
                m.insert(key, item);
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items {
                    n += rename(item, item_schema, renames, blocks);
                }
            }
        }
        _ => {}
    }
    n
}
