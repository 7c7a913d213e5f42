//! CloudFormation and CDK-synthesized templates (issue 9 item 10), JSON or YAML with the short
//! forms: every `AWS::ECS::TaskDefinition`, `AWS::ECS::Service` and `AWS::ECS::Cluster`, and
//! `AWS::ApplicationAutoScaling::ScalableTarget` / `ScalingPolicy` aimed at a service of the
//! template (→ its `spec.autoscaling`). Properties are the API's members in PascalCase
//! (CloudFormation User Guide, AWS::ECS::* resource pages), renamed through the CRD schema;
//! intrinsic functions are resolved by `intrinsics`. Other resource types are not ECS: each is
//! a report entry, never silently skipped.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::intrinsics::Resolver;
use super::report::Fate;
use super::{Converted, Kind, Raw, aws_cli, rename};

/// Whether `v` is a CloudFormation template.
pub fn is_template(v: &Value) -> bool {
    v.get("Resources").is_some_and(Value::is_object)
        && (v.get("AWSTemplateFormatVersion").is_some()
            || v["Resources"].as_object().is_some_and(|r| {
                r.values().any(|r| {
                    r.get("Type")
                        .and_then(Value::as_str)
                        .is_some_and(|t| t.contains("::"))
                })
            }))
}

fn parameters(template: &Value, given: &BTreeMap<String, String>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for (name, p) in template
        .get("Parameters")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let ty = p.get("Type").and_then(Value::as_str).unwrap_or("String");
        let raw = match given.get(name) {
            Some(v) => Value::String(v.clone()),
            None => match p.get("Default") {
                Some(d) => d.clone(),
                None => continue,
            },
        };
        // CommaDelimitedList and List<…> parameters are lists (User Guide, "Parameters").
        let value = match (&raw, ty.starts_with("List<") || ty == "CommaDelimitedList") {
            (Value::String(s), true) => {
                Value::Array(s.split(',').map(|x| Value::from(x.trim())).collect())
            }
            _ => raw,
        };
        out.insert(name.clone(), value);
    }
    for (k, v) in given {
        out.entry(k.clone())
            .or_insert_with(|| Value::String(v.clone()));
    }
    out
}

/// The logical IDs of the template's ECS services that `v` (unresolved) refers to.
fn services_referenced(v: &Value, services: &[String], out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let target = match (k.as_str(), x) {
                    ("Ref", Value::String(s)) => Some(s.clone()),
                    ("Fn::GetAtt", Value::Array(a)) => {
                        a.first().and_then(Value::as_str).map(str::to_string)
                    }
                    ("Fn::GetAtt", Value::String(s)) => s.split('.').next().map(str::to_string),
                    _ => None,
                };
                if let Some(t) = target.filter(|t| services.contains(t)) {
                    out.push(t);
                }
                services_referenced(x, services, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| services_referenced(x, services, out)),
        Value::String(s) => {
            for svc in services {
                if s.contains(&format!("${{{svc}.")) || s.contains(&format!("${{{svc}}}")) {
                    out.push(svc.clone());
                }
            }
        }
        _ => {}
    }
}

/// The ECS resources of a template.
pub fn convert(template: &Value, given: &BTreeMap<String, String>) -> Result<Converted, String> {
    let empty = Map::new();
    let resources = template
        .get("Resources")
        .and_then(Value::as_object)
        .ok_or("Resources: expected an object")?;
    let mut r = Resolver {
        params: parameters(template, given),
        resources,
        mappings: template
            .get("Mappings")
            .and_then(Value::as_object)
            .unwrap_or(&empty),
        conditions: template
            .get("Conditions")
            .and_then(Value::as_object)
            .unwrap_or(&empty),
        unresolved: Vec::new(),
        filled: Vec::new(),
        depth: 0,
    };
    let mut out = Converted::default();
    // Sections that hold no ECS resource, said once; a Transform's macros are not run here.
    for (k, _) in template.as_object().into_iter().flatten() {
        match k.as_str() {
            "Resources" | "Parameters" | "Mappings" | "Conditions" | "AWSTemplateFormatVersion" => {}
            "Transform" => out.notes.push((k.clone(), Fate::Warned, "macros (AWS::Serverless, AWS::Include, …) are not expanded: import the processed template (aws cloudformation get-template --template-stage Processed)".into())),
            _ => out.notes.push((k.clone(), Fate::Stripped, "not an ECS resource: not imported".into())),
        }
    }
    let of_type = |t: &str| -> Vec<String> {
        resources
            .iter()
            .filter(|(_, res)| res.get("Type").and_then(Value::as_str) == Some(t))
            .map(|(id, _)| id.clone())
            .collect()
    };
    let services = of_type("AWS::ECS::Service");
    // Application Auto Scaling, by the service it scales (pass 1).
    let mut scaling: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut target_of: BTreeMap<String, String> = BTreeMap::new();
    for id in of_type("AWS::ApplicationAutoScaling::ScalableTarget") {
        let path = format!("Resources.{id}.Properties");
        let mut props = resources[&id]
            .get("Properties")
            .cloned()
            .unwrap_or(json!({}));
        let mut refs = Vec::new();
        let resource_id = identification(&mut props);
        services_referenced(&resource_id, &services, &mut refs);
        let resolved = r.resolve(&props, &path).unwrap_or(json!({}));
        // Only when no reference names the service does the ResourceId need a value.
        let rid = if refs.is_empty() {
            r.resolve(&resource_id, &format!("{path}.ResourceId"))
        } else {
            None
        };
        let by_name = rid
            .as_ref()
            .and_then(Value::as_str)
            .and_then(|rid| rid.strip_prefix("service/"))
            .and_then(|rest| rest.rsplit('/').next().map(str::to_string))
            .and_then(|name| {
                services.iter().find(|s| {
                    let n = resources[*s]["Properties"]["ServiceName"]
                        .as_str()
                        .map(str::to_string);
                    n.unwrap_or_else(|| crate::translate::names::dns_label(s)) == name
                })
            })
            .cloned();
        let Some(svc) = refs.first().cloned().or(by_name) else {
            out.notes.push((
                format!("Resources.{id}"),
                Fate::Stripped,
                "a scalable target of no ECS service in this template: not imported".into(),
            ));
            continue;
        };
        if props_dimension(&resources[&id]).is_some_and(|d| d != "ecs:service:DesiredCount") {
            out.notes.push((
                format!("{path}.ScalableDimension"),
                Fate::Refused,
                "an ECS service scales ecs:service:DesiredCount only".into(),
            ));
        }
        let block = scaling.entry(svc.clone()).or_default();
        for k in ["MinCapacity", "MaxCapacity", "SuspendedState"] {
            if let Some(v) = resolved.get(k) {
                block.insert(k.into(), v.clone());
            }
        }
        for (k, fate, why) in [
            (
                "RoleARN",
                Fate::Stripped,
                "the HPA scales through the Service's scale subresource: no role",
            ),
            (
                "ScheduledActions",
                Fate::Warned,
                "scheduled scaling has no Kubernetes form here: not imported",
            ),
        ] {
            if resolved.get(k).is_some() {
                out.notes.push((format!("{path}.{k}"), fate, why.into()));
            }
        }
        out.notes.push((path, Fate::Converted, format!("ScalableTarget → the spec.autoscaling of Service {svc} (ResourceId, ScalableDimension and ServiceNamespace name the service)")));
        target_of.insert(id, svc);
    }
    for id in of_type("AWS::ApplicationAutoScaling::ScalingPolicy") {
        let path = format!("Resources.{id}.Properties");
        let props = resources[&id]
            .get("Properties")
            .cloned()
            .unwrap_or(json!({}));
        let svc = match props.get("ScalingTargetId") {
            Some(Value::Object(m)) => m
                .get("Ref")
                .and_then(Value::as_str)
                .and_then(|t| target_of.get(t))
                .cloned(),
            _ => None,
        }
        .or_else(|| {
            let mut refs = Vec::new();
            services_referenced(
                props.get("ResourceId").unwrap_or(&Value::Null),
                &services,
                &mut refs,
            );
            refs.first().cloned()
        });
        let Some(svc) = svc else {
            out.notes.push((
                format!("Resources.{id}"),
                Fate::Stripped,
                "a scaling policy of no ECS service in this template: not imported".into(),
            ));
            continue;
        };
        let mut props = props;
        identification(&mut props);
        let mut resolved = r.resolve(&props, &path).unwrap_or(json!({}));
        let name = resolved.get("PolicyName").cloned().unwrap_or(json!(id));
        let (list, config) = match resolved.get("PolicyType").and_then(Value::as_str) {
            Some("StepScaling") => ("StepScalingPolicies", "StepScalingPolicyConfiguration"),
            _ => (
                "TargetTrackingScalingPolicies",
                "TargetTrackingScalingPolicyConfiguration",
            ),
        };
        let mut policy = match resolved.get_mut(config).map(Value::take) {
            Some(Value::Object(m)) => m,
            _ => {
                out.notes.push((
                    format!("{path}.{config}"),
                    Fate::Refused,
                    "is required for this PolicyType".into(),
                ));
                continue;
            }
        };
        policy.insert("PolicyName".into(), name);
        let block = scaling.entry(svc.clone()).or_default();
        if let Value::Array(a) = block.entry(list).or_insert(json!([])) {
            a.push(Value::Object(policy));
        }
        out.notes.push((path, Fate::Converted, format!("ScalingPolicy → spec.autoscaling.{} of Service {svc} (ScalingTargetId or ResourceId names the service)", schema_name(list))));
        let rest: Vec<String> = resolved
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k.clone())
            .filter(|k| !["PolicyName", "PolicyType", config].contains(&k.as_str()))
            .collect();
        if !rest.is_empty() {
            out.notes.push((
                format!("Resources.{id}.Properties"),
                Fate::Stripped,
                format!("{}: no Kubernetes form here", rest.join(", ")),
            ));
        }
    }
    // The ECS resources (pass 2), and a note for everything else.
    for (id, res) in resources {
        let ty = res.get("Type").and_then(Value::as_str).unwrap_or_default();
        let prefix = format!("Resources.{id}.Properties");
        let (kind, name_prop, renames): (Kind, &str, &[(&str, &str)]) = match ty {
            "AWS::ECS::TaskDefinition" => (Kind::TaskDefinition, "Family", &[]),
            "AWS::ECS::Service" => (Kind::Service, "ServiceName", &[]),
            "AWS::ECS::Cluster" => (
                Kind::Cluster,
                "ClusterName",
                &[("ClusterSettings", "settings")],
            ),
            "AWS::ApplicationAutoScaling::ScalableTarget"
            | "AWS::ApplicationAutoScaling::ScalingPolicy" => continue,
            _ => {
                out.notes.push((
                    format!("Resources.{id}"),
                    Fate::Stripped,
                    format!("{ty} is not an ECS resource: not imported"),
                ));
                continue;
            }
        };
        if let Some(cond) = res.get("Condition").and_then(Value::as_str)
            && r.condition_named(cond, &prefix) == Some(false)
        {
            out.notes.push((
                format!("Resources.{id}"),
                Fate::Stripped,
                format!("its Condition {cond} is false: not created, not imported"),
            ));
            continue;
        }
        let mut props = res.get("Properties").cloned().unwrap_or(json!({}));
        if let (Value::Object(p), Some(block)) = (&mut props, scaling.remove(id)) {
            p.insert("Autoscaling".into(), Value::Object(block));
        }
        let mut props = r.resolve(&props, &prefix).unwrap_or(json!({}));
        let renamed = rename::camel_case(&mut props, kind.as_str(), renames);
        let Value::Object(spec) = props else { continue };
        let mut raw = match kind {
            Kind::TaskDefinition => aws_cli::task_definition(spec, &prefix),
            Kind::Service => aws_cli::service(spec, &prefix),
            _ => Raw::new(
                kind,
                spec.get("clusterName")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                spec,
                &prefix,
                &[],
            ),
        };
        if renamed > 0 {
            raw.notes.push((
                String::new(),
                Fate::Converted,
                format!(
                    "{renamed} PascalCase propert{} written as the API's camelCase members",
                    if renamed == 1 { "y" } else { "ies" }
                ),
            ));
        }
        if raw.name.is_none() {
            let name = crate::translate::names::dns_label(id);
            let member = schema_name(name_prop);
            raw.notes.push((
                member.clone(),
                Fate::FilledIn,
                format!("'{name}' from the logical ID {id} ({name_prop} not set)"),
            ));
            if kind != Kind::Cluster {
                raw.spec.insert(member, json!(name));
            }
            raw.name = Some(name);
        }
        out.raws.push(raw);
    }
    for (svc, _) in scaling {
        out.notes.push((
            format!("Resources.{svc}"),
            Fate::Refused,
            "scaling is aimed at it, but it is not an AWS::ECS::Service of this template".into(),
        ));
    }
    out.unresolved.extend(r.unresolved);
    for (path, detail) in r.filled {
        out.notes.push((path, Fate::FilledIn, detail));
    }
    Ok(out)
}

/// Remove the members that say which scalable target a resource is about (they are used to
/// find the service, not imported) and return its ResourceId.
fn identification(props: &mut Value) -> Value {
    let Some(m) = props.as_object_mut() else {
        return Value::Null;
    };
    for k in ["ScalingTargetId", "ScalableDimension", "ServiceNamespace"] {
        m.shift_remove(k);
    }
    m.shift_remove("ResourceId").unwrap_or(Value::Null)
}

/// A literal ScalableDimension.
fn props_dimension(res: &Value) -> Option<&str> {
    res.pointer("/Properties/ScalableDimension")
        .and_then(Value::as_str)
}

/// `ServiceName` as `serviceName`.
fn schema_name(pascal: &str) -> String {
    let mut c = pascal.chars();
    c.next()
        .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
        .unwrap_or_default()
}
