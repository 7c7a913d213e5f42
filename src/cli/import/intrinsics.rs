//! CloudFormation's intrinsic functions, resolved the way CloudFormation would from what a
//! template carries offline: parameter values (`--parameter`, else the Parameters' defaults),
//! pseudo parameters given with `--parameter AWS::Region=…` (AWS::Partition and AWS::URLSuffix
//! default to the commercial partition's, with a note), Mappings, Conditions, and references to
//! the ECS resources of the same template (a TaskDefinition's family, a Cluster's or Service's
//! name). Everything else — a role's ARN, a resource only a deployed stack knows — is reported
//! with its path, and can be given as `--parameter LogicalId=value` (Ref) or
//! `--parameter LogicalId.Attribute=value` (Fn::GetAtt).
//! Source: the CloudFormation User Guide, "Intrinsic function reference" and "Pseudo parameters".

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// What resolution needs from the template and the command line.
pub struct Resolver<'a> {
    pub params: BTreeMap<String, Value>,
    pub resources: &'a Map<String, Value>,
    pub mappings: &'a Map<String, Value>,
    pub conditions: &'a Map<String, Value>,
    /// (path, what could not be resolved)
    pub unresolved: Vec<(String, String)>,
    /// (path, what was filled in)
    pub filled: Vec<(String, String)>,
    /// How deep references to other resources' properties go (a cycle is an error, not a crash).
    pub depth: u32,
}

const INTRINSICS: &[&str] = &[
    "Ref",
    "Fn::GetAtt",
    "Fn::Sub",
    "Fn::Join",
    "Fn::Select",
    "Fn::Split",
    "Fn::If",
    "Fn::FindInMap",
    "Fn::ImportValue",
    "Fn::Base64",
    "Fn::GetAZs",
    "Fn::Cidr",
    "Fn::Equals",
    "Fn::And",
    "Fn::Or",
    "Fn::Not",
    "Fn::Length",
    "Fn::ToJsonString",
    "Fn::Transform",
];

/// The intrinsic function `v` is a call of, if any.
fn call(v: &Value) -> Option<(&str, &Value)> {
    let m = v.as_object()?;
    if m.len() != 1 {
        return None;
    }
    let (k, arg) = m.iter().next()?;
    INTRINSICS
        .contains(&k.as_str())
        .then_some((k.as_str(), arg))
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Resolver<'_> {
    fn fail(&mut self, path: &str, what: String) -> Value {
        self.unresolved.push((path.to_string(), what.clone()));
        Value::String(format!("<unresolved {what}>"))
    }

    /// Resolve every intrinsic in `v`; None for AWS::NoValue (the property is removed).
    pub fn resolve(&mut self, v: &Value, path: &str) -> Option<Value> {
        if let Some((f, arg)) = call(v) {
            return self.function(f, arg, path);
        }
        Some(match v {
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, item)| self.resolve(item, &format!("{path}[{i}]")))
                    .collect(),
            ),
            Value::Object(m) => Value::Object(
                m.iter()
                    .filter_map(|(k, item)| {
                        self.resolve(item, &super::report::join(path, k))
                            .map(|r| (k.clone(), r))
                    })
                    .collect(),
            ),
            other => other.clone(),
        })
    }

    fn function(&mut self, f: &str, arg: &Value, path: &str) -> Option<Value> {
        Some(match f {
            "Ref" => {
                let name = text(arg).unwrap_or_default();
                if name == "AWS::NoValue" {
                    return None;
                }
                self.reference(&name, None, path)
            }
            "Fn::GetAtt" => {
                let (res, attr) = match arg {
                    Value::Array(a) if a.len() == 2 => {
                        let attr = self.resolve(&a[1], path).and_then(|v| text(&v));
                        (text(&a[0]).unwrap_or_default(), attr.unwrap_or_default())
                    }
                    Value::String(s) => match s.split_once('.') {
                        Some((r, a)) => (r.to_string(), a.to_string()),
                        None => (s.clone(), String::new()),
                    },
                    _ => (String::new(), String::new()),
                };
                self.reference(&res, Some(&attr), path)
            }
            "Fn::Sub" => self.sub(arg, path),
            "Fn::Join" => {
                let parts = arg.as_array().filter(|a| a.len() == 2);
                let Some(parts) = parts else {
                    return Some(
                        self.fail(path, "Fn::Join (expected [delimiter, [values]])".into()),
                    );
                };
                let delim = text(&parts[0]).unwrap_or_default();
                let list = self
                    .resolve(&parts[1], path)
                    .unwrap_or(Value::Array(vec![]));
                let items: Vec<String> = list
                    .as_array()
                    .map(|a| a.iter().filter_map(text).collect())
                    .unwrap_or_default();
                Value::String(items.join(&delim))
            }
            "Fn::Select" => {
                let parts = arg.as_array().filter(|a| a.len() == 2);
                let Some(parts) = parts else {
                    return Some(self.fail(path, "Fn::Select (expected [index, list])".into()));
                };
                let index = self
                    .resolve(&parts[0], path)
                    .and_then(|i| text(&i))
                    .and_then(|i| i.parse::<usize>().ok());
                let list = self.resolve(&parts[1], path);
                match (index, list) {
                    (Some(i), Some(Value::Array(a))) if i < a.len() => a[i].clone(),
                    _ => self.fail(path, "Fn::Select (index out of range or not a list)".into()),
                }
            }
            "Fn::Split" => {
                let parts = arg.as_array().filter(|a| a.len() == 2);
                let Some(parts) = parts else {
                    return Some(
                        self.fail(path, "Fn::Split (expected [delimiter, string])".into()),
                    );
                };
                let delim = text(&parts[0]).unwrap_or_default();
                let s = self
                    .resolve(&parts[1], path)
                    .and_then(|v| text(&v))
                    .unwrap_or_default();
                if delim.is_empty() {
                    return Some(self.fail(path, "Fn::Split (empty delimiter)".into()));
                }
                Value::Array(s.split(delim.as_str()).map(Value::from).collect())
            }
            "Fn::If" => {
                let parts = arg.as_array().filter(|a| a.len() == 3);
                let Some(parts) = parts else {
                    return Some(
                        self.fail(path, "Fn::If (expected [condition, then, else])".into()),
                    );
                };
                let name = text(&parts[0]).unwrap_or_default();
                match self.condition_named(&name, path) {
                    Some(true) => return self.resolve(&parts[1], path),
                    Some(false) => return self.resolve(&parts[2], path),
                    None => self.fail(path, format!("Fn::If condition {name}")),
                }
            }
            "Fn::FindInMap" => {
                let keys: Option<Vec<String>> = arg.as_array().map(|a| {
                    a.iter()
                        .filter_map(|k| self.resolve(k, path).and_then(|k| text(&k)))
                        .collect()
                });
                let found = keys
                    .as_ref()
                    .filter(|k| k.len() == 3)
                    .and_then(|k| self.mappings.get(&k[0])?.get(&k[1])?.get(&k[2]).cloned());
                match found {
                    Some(v) => v,
                    None => self.fail(
                        path,
                        format!("Fn::FindInMap {}", Value::from(keys.unwrap_or_default())),
                    ),
                }
            }
            "Fn::ImportValue" => {
                let name = self
                    .resolve(arg, path)
                    .and_then(|n| text(&n))
                    .unwrap_or_default();
                match self.params.get(&name) {
                    Some(v) => v.clone(),
                    None => self.fail(path, format!("Fn::ImportValue {name} (an export of another stack; give --parameter {name}=VALUE)")),
                }
            }
            other => self.fail(path, format!("{other} (not resolvable offline)")),
        })
    }

    /// A Ref (attr None) or Fn::GetAtt of `name`.
    fn reference(&mut self, name: &str, attr: Option<&str>, path: &str) -> Value {
        let key = match attr {
            Some(a) => format!("{name}.{a}"),
            None => name.to_string(),
        };
        if let Some(v) = self.params.get(&key) {
            return v.clone();
        }
        let pseudo = match name {
            "AWS::Partition" => Some("aws"),
            "AWS::URLSuffix" => Some("amazonaws.com"),
            _ => None,
        };
        if let Some(p) = pseudo.filter(|_| attr.is_none()) {
            self.filled.push((path.into(), format!("{name} taken as '{p}' (the commercial partition; give --parameter {name}=VALUE for another)")));
            return Value::String(p.into());
        }
        let what = match attr {
            Some(a) => format!("Fn::GetAtt {name}.{a}"),
            None => format!("Ref {name}"),
        };
        let Some(res) = self.resources.get(name) else {
            return self.fail(path, format!("{what} (give --parameter {key}=VALUE)"));
        };
        let ty = res.get("Type").and_then(Value::as_str).unwrap_or_default();
        let props = res.get("Properties").cloned().unwrap_or(Value::Null);
        if self.depth > 16 {
            return self.fail(path, format!("{what} (references go round in a cycle)"));
        }
        self.depth += 1;
        let mut prop = |p: &str| {
            let v = props.get(p)?;
            self.resolve(v, path).and_then(|v| text(&v))
        };
        let id = crate::translate::names::dns_label(name);
        // AWS::ECS::* return values (CloudFormation User Guide, each resource's "Return values"):
        // resources of this template are named as `import` names their custom resources.
        let found = match (ty, attr) {
            ("AWS::ECS::TaskDefinition", None | Some("TaskDefinitionArn")) => {
                Some(prop("Family").unwrap_or(id))
            }
            ("AWS::ECS::Cluster", None | Some("Arn")) => Some(prop("ClusterName").unwrap_or(id)),
            ("AWS::ECS::Service", None | Some("Name") | Some("ServiceArn")) => {
                Some(prop("ServiceName").unwrap_or(id))
            }
            ("AWS::Logs::LogGroup", None) => prop("LogGroupName"),
            ("AWS::IAM::Role", None) => prop("RoleName"),
            _ => None,
        };
        self.depth -= 1;
        match found {
            Some(v) => Value::String(v),
            None => self.fail(path, format!("{what} ({ty}; give --parameter {key}=VALUE)")),
        }
    }

    fn sub(&mut self, arg: &Value, path: &str) -> Value {
        let (template, vars) = match arg {
            Value::String(s) => (s.clone(), Map::new()),
            Value::Array(a) if a.len() == 2 => (
                text(&a[0]).unwrap_or_default(),
                a[1].as_object().cloned().unwrap_or_default(),
            ),
            _ => {
                return self.fail(
                    path,
                    "Fn::Sub (expected a string or [string, {vars}])".into(),
                );
            }
        };
        let mut out = String::new();
        let mut rest = template.as_str();
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let name = &after[..end];
            if let Some(lit) = name.strip_prefix('!') {
                out.push_str(&format!("${{{lit}}}"));
            } else if let Some(v) = vars.get(name) {
                let v = self.resolve(v, path).unwrap_or_default();
                out.push_str(&text(&v).unwrap_or_default());
            } else {
                let v = match name.split_once('.') {
                    Some((r, a)) if !r.starts_with("AWS::") => self.reference(r, Some(a), path),
                    _ => self.reference(name, None, path),
                };
                out.push_str(&text(&v).unwrap_or_default());
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Value::String(out)
    }

    /// A condition of the Conditions section, by name.
    pub fn condition_named(&mut self, name: &str, path: &str) -> Option<bool> {
        let c = self.conditions.get(name)?.clone();
        self.condition(&c, path)
    }

    fn condition(&mut self, v: &Value, path: &str) -> Option<bool> {
        if let Some(name) = v.get("Condition").and_then(Value::as_str) {
            return self.condition_named(name, path);
        }
        let (f, arg) = call(v)?;
        let args = arg.as_array()?;
        match f {
            "Fn::Equals" if args.len() == 2 => {
                let a = self.resolve(&args[0], path)?;
                let b = self.resolve(&args[1], path)?;
                Some(text(&a)? == text(&b)?)
            }
            "Fn::And" => args
                .iter()
                .try_fold(true, |acc, c| Some(acc & self.condition(c, path)?)),
            "Fn::Or" => args
                .iter()
                .try_fold(false, |acc, c| Some(acc | self.condition(c, path)?)),
            "Fn::Not" if args.len() == 1 => self.condition(&args[0], path).map(|b| !b),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refs_subs_joins_ifs_and_maps_resolve_and_the_rest_is_reported() {
        let resources = json!({"TD": {"Type": "AWS::ECS::TaskDefinition", "Properties": {"Family": "web"}},
            "Role": {"Type": "AWS::IAM::Role", "Properties": {}}});
        let mappings = json!({"Env": {"prod": {"Count": 3}}});
        let conditions = json!({"IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}});
        let mut r = Resolver {
            params: [
                ("Stage".to_string(), json!("prod")),
                ("AWS::Region".to_string(), json!("eu-west-1")),
            ]
            .into(),
            resources: resources.as_object().unwrap(),
            mappings: mappings.as_object().unwrap(),
            conditions: conditions.as_object().unwrap(),
            unresolved: vec![],
            filled: vec![],
            depth: 0,
        };
        let v = json!({"td": {"Ref": "TD"}, "img": {"Fn::Sub": "acct.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/${!Literal}"},
            "j": {"Fn::Join": ["-", [{"Ref": "Stage"}, "x"]]}, "n": {"Fn::If": ["IsProd", {"Fn::FindInMap": ["Env", "prod", "Count"]}, 1]},
            "gone": {"Ref": "AWS::NoValue"}, "role": {"Fn::GetAtt": ["Role", "Arn"]}});
        let out = r.resolve(&v, "P").unwrap();
        assert_eq!(out["td"], "web");
        assert_eq!(
            out["img"],
            "acct.dkr.ecr.eu-west-1.amazonaws.com/${Literal}"
        );
        assert_eq!((&out["j"], &out["n"]), (&json!("prod-x"), &json!(3)));
        assert!(out.get("gone").is_none());
        assert_eq!(r.unresolved.len(), 1);
        assert_eq!(r.unresolved[0].0, "P.role");
        assert_eq!(r.filled.len(), 1);
    }
}
