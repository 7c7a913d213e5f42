//! `--output text`: the AWS CLI's text output, so that `cut -f`/`awk` pipelines written for
//! `aws ecs ... --output text` work unchanged. A port of the AWS CLI's formatter
//! (aws/aws-cli `awscli/text.py`, `format_text`; the paginated case in `awscli/formatter.py`,
//! `TextFormatter`). Its rules:
//!
//! - a dict prints its scalar values on one line, tab-separated, in the order of its sorted
//!   keys, prefixed by the upper-cased key it sits under (none at the top level); then each of
//!   its lists and dicts, in sorted key order, under their own key;
//! - a list of scalars prints one `KEY\tvalue` line per element (`SERVICEARNS\tarn:…`); a bare
//!   list of scalars prints its elements on one tab-separated line;
//! - a list of dicts prints each dict with the scalar keys of all of them (sorted; a key a dict
//!   lacks is an empty cell), so the columns line up across the elements;
//! - scalars print as Python's `str`: `True`, `False`, `None`;
//! - when `--max-items` truncates, the CLI prints `NEXTTOKEN\t<token>` last (it formats
//!   `{"NextToken": {"NextToken": token}}` after the pages).
//!
//! Pure.

use serde_json::{Map, Value};

/// The text of a response body; a top-level `NextToken` (the CLI's, see [`super::paging`])
/// printed last, as the AWS CLI does.
pub fn format(body: &Value) -> String {
    let mut out = String::new();
    match body {
        Value::Object(m) if m.contains_key("NextToken") => {
            let mut rest = m.clone();
            let token = rest.remove("NextToken").unwrap_or(Value::Null);
            item(&Value::Object(rest), None, None, &mut out);
            let mut inner = Map::new();
            inner.insert("NextToken".into(), token);
            let mut outer = Map::new();
            outer.insert("NextToken".into(), Value::Object(inner));
            item(&Value::Object(outer), None, None, &mut out);
        }
        other => item(other, None, None, &mut out),
    }
    out
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_))
}

/// Python's `str()` of the value the AWS CLI parsed from the JSON.
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

fn item(v: &Value, identifier: Option<&str>, scalar_keys: Option<&[String]>, out: &mut String) {
    match v {
        Value::Object(m) => dict(m, identifier, scalar_keys, out),
        Value::Array(items) => list(items, identifier, out),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn list(items: &[Value], identifier: Option<&str>, out: &mut String) {
    if items.is_empty() {
        return;
    }
    if items.iter().any(Value::is_object) {
        let keys = all_scalar_keys(items);
        for element in items {
            item(element, identifier, Some(&keys), out);
        }
    } else if items.iter().any(Value::is_array) {
        let (scalars, nested): (Vec<&Value>, Vec<&Value>) =
            items.iter().partition(|v| is_scalar(v));
        if !scalars.is_empty() {
            scalar_list(&scalars, identifier, out);
        }
        for n in nested {
            item(n, identifier, None, out);
        }
    } else {
        scalar_list(&items.iter().collect::<Vec<_>>(), identifier, out);
    }
}

fn scalar_list(elements: &[&Value], identifier: Option<&str>, out: &mut String) {
    match identifier {
        Some(id) => {
            for e in elements {
                out.push_str(&format!("{}\t{}\n", id.to_uppercase(), scalar(e)));
            }
        }
        None => {
            let cells: Vec<String> = elements.iter().map(|e| scalar(e)).collect();
            out.push_str(&cells.join("\t"));
            out.push('\n');
        }
    }
}

fn dict(
    m: &Map<String, Value>,
    identifier: Option<&str>,
    scalar_keys: Option<&[String]>,
    out: &mut String,
) {
    let mut sorted: Vec<(&String, &Value)> = m.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut scalars: Vec<String> = Vec::new();
    let mut nested: Vec<(&String, &Value)> = Vec::new();
    match scalar_keys {
        None => {
            for (k, v) in sorted {
                if is_scalar(v) {
                    scalars.push(scalar(v));
                } else {
                    nested.push((k, v));
                }
            }
        }
        Some(keys) => {
            // The columns of the whole list; what is not one of them (even a scalar only
            // some elements have as a list) follows under its key.
            for k in keys {
                scalars.push(m.get(k).map(scalar).unwrap_or_default());
            }
            nested = sorted
                .into_iter()
                .filter(|(k, _)| !keys.contains(k))
                .collect();
        }
    }
    if !scalars.is_empty() {
        if let Some(id) = identifier {
            scalars.insert(0, id.to_uppercase());
        }
        out.push_str(&scalars.join("\t"));
        out.push('\n');
    }
    for (k, v) in nested {
        item(v, Some(k), None, out);
    }
}

fn all_scalar_keys(items: &[Value]) -> Vec<String> {
    let mut keys: Vec<String> = items
        .iter()
        .filter_map(Value::as_object)
        .flat_map(|m| {
            m.iter()
                .filter(|(_, v)| is_scalar(v))
                .map(|(k, _)| k.clone())
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_list_of_scalars_prints_one_upper_cased_line_each_like_aws_ecs_list_services() {
        let body = json!({"serviceArns": ["arn:aws:ecs:kubernetes:ns:service/prod/web",
            "arn:aws:ecs:kubernetes:ns:service/prod/api"]});
        assert_eq!(
            format(&body),
            "SERVICEARNS\tarn:aws:ecs:kubernetes:ns:service/prod/web\n\
             SERVICEARNS\tarn:aws:ecs:kubernetes:ns:service/prod/api\n"
        );
        assert_eq!(format(&json!({"taskArns": []})), "");
    }

    #[test]
    fn the_clis_next_token_prints_last_the_apis_among_the_scalars() {
        let cli = json!({"serviceArns": ["a"], "NextToken": "tok"});
        assert_eq!(format(&cli), "SERVICEARNS\ta\nNEXTTOKEN\ttok\n");
        // --max-results (pagination off): the raw response, its scalars on the first line.
        let api = json!({"serviceArns": ["a"], "nextToken": "tok"});
        assert_eq!(format(&api), "tok\nSERVICEARNS\ta\n");
    }

    #[test]
    fn nested_shapes_follow_the_aws_cli_rules() {
        // The shape of a describe-services answer, cut down: sorted scalar columns, lists of
        // dicts with the columns of all their elements, nested lists under their own key.
        let body = json!({
            "services": [{
                "serviceName": "web", "desiredCount": 2, "enableExecuteCommand": false,
                "deployments": [
                    {"id": "ecs-svc/1", "status": "PRIMARY", "rolloutState": "COMPLETED"},
                    {"id": "ecs-svc/0", "status": "ACTIVE"}
                ],
                "loadBalancers": [],
                "deploymentController": {"type": "ECS"}
            }],
            "failures": [{"arn": "arn:x", "reason": "MISSING"}]
        });
        assert_eq!(
            format(&body),
            "FAILURES\tarn:x\tMISSING\n\
             SERVICES\t2\tFalse\tweb\n\
             DEPLOYMENTCONTROLLER\tECS\n\
             DEPLOYMENTS\tecs-svc/1\tCOMPLETED\tPRIMARY\n\
             DEPLOYMENTS\tecs-svc/0\t\tACTIVE\n"
        );
        assert_eq!(format(&json!({"a": null, "b": true})), "None\tTrue\n");
        assert_eq!(format(&json!([[1, 2], 3])), "3\n1\t2\n");
        assert_eq!(format(&json!({"x": [[1, 2]]})), "X\t1\nX\t2\n");
    }
}
