//! Reading what `import` is given: a file, a directory (every .json/.yaml/.yml/.template
//! file, as one input), or `-` for standard input. Templates parse before substitution (bare
//! placeholders are quoted, see `placeholders::quote_bare`), and YAML's CloudFormation short
//! forms (`!Ref`, `!Sub`, `!GetAtt`, …) become the long forms (`{"Ref": …}`, `{"Fn::Sub": …}`).

use std::path::Path;

use serde_json::{Map, Value};

use super::super::manifest::Document;
use super::placeholders::quote_bare;

/// Every document of `path`.
pub fn read(path: &str) -> Result<Vec<Document>, String> {
    if path == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| format!("reading standard input: {e}"))?;
        return parse(&text, "<stdin>");
    }
    let p = Path::new(path);
    if p.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(p)
            .map_err(|e| format!("{path}: {e}"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|f| {
                f.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| matches!(e, "yaml" | "yml" | "json" | "template"))
            })
            .collect();
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
