//! Whether JSON has an ECS response shape: every key a member of its shape (recursively) and
//! every value of the member's type, against a table of shapes (member name → type: `string`,
//! `integer`, `long`, `boolean`, `double`, `float`, `timestamp`, `map`, a structure name, or
//! `[T]` for a list), as `scripts/gen-ecs-shapes.py` writes it from the ECS API model
//! (`tests/fixtures/ecs-shapes/shapes.json`). Pure; the tests pass the table in.

use serde_json::Value;

/// Every way `value` departs from `shape` in `shapes` (the fixture's `shapes` object), as
/// `path: problem` lines; empty when it conforms.
pub fn check(value: &Value, shape: &str, shapes: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    walk(value, shape, shapes, "", &mut problems);
    problems
}

fn walk(value: &Value, ty: &str, shapes: &Value, path: &str, out: &mut Vec<String>) {
    if let Some(inner) = ty.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        match value.as_array() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, inner, shapes, &format!("{path}[{i}]"), out);
                }
            }
            None => out.push(format!("{path}: expected a list of {inner}, got {value}")),
        }
        return;
    }
    let ok = match ty {
        "string" | "timestamp" => value.is_string(),
        "integer" | "long" => value.is_i64() || value.is_u64(),
        "double" | "float" => value.is_number(),
        "boolean" => value.is_boolean(),
        "map" => value.is_object(),
        "blob" => value.is_string(),
        _ => {
            let Some(members) = shapes.get(ty).and_then(Value::as_object) else {
                out.push(format!("{path}: shape {ty} is not in the table"));
                return;
            };
            let Some(obj) = value.as_object() else {
                out.push(format!("{path}: expected a {ty} object, got {value}"));
                return;
            };
            for (k, v) in obj {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match members.get(k).and_then(Value::as_str) {
                    Some(member_ty) => walk(v, member_ty, shapes, &p, out),
                    None => out.push(format!("{p}: not a member of {ty}")),
                }
            }
            true
        }
    };
    if !ok {
        out.push(format!("{path}: expected {ty}, got {value}"));
    }
}

/// The members of `required` that `value` (an object) lacks.
pub fn missing<'a>(value: &Value, required: &[&'a str]) -> Vec<&'a str> {
    required
        .iter()
        .filter(|k| value.get(**k).is_none())
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_members_and_wrong_types_are_named_with_their_path() {
        let shapes = json!({
            "R": {"items": "[I]", "failures": "[string]"},
            "I": {"name": "string", "count": "integer", "at": "timestamp", "tags": "map"}
        });
        let good = json!({"items": [{"name": "a", "count": 1, "at": "2026-01-01T00:00:00.000000+00:00"}], "failures": []});
        assert!(check(&good, "R", &shapes).is_empty());
        let bad = json!({"items": [{"name": 1, "extra": true, "count": "1"}], "failures": {}});
        let p = check(&bad, "R", &shapes);
        assert!(
            p.iter()
                .any(|l| l.starts_with("items[0].name: expected string"))
        );
        assert!(p.iter().any(|l| l == "items[0].extra: not a member of I"));
        assert!(
            p.iter()
                .any(|l| l.starts_with("items[0].count: expected integer"))
        );
        assert!(p.iter().any(|l| l.starts_with("failures: expected a list")));
        assert_eq!(missing(&good, &["items", "nextToken"]), ["nextToken"]);
    }
}
