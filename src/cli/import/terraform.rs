//! `terraform show -json` output, of a state or of a plan (issue 9 item 11): every
//! `aws_ecs_task_definition` (its `container_definitions` is a JSON string), `aws_ecs_service`,
//! `aws_ecs_cluster`, and `aws_appautoscaling_target` / `_policy` aimed at one of those
//! services (→ its `spec.autoscaling`), in the root module and every child module. Attribute
//! names are the provider's snake_case (Terraform AWS provider docs, resource pages), renamed
//! through the CRD schema; where the provider's shape differs from the API's, it is rewritten
//! here with a note. Values a plan does not know yet (`after_unknown`) are reported.

use serde_json::{Map, Value, json};

use super::report::Fate;
use super::{Converted, Kind, Raw, aws_cli, rename};

/// Whether `v` is `terraform show -json` output.
pub fn is_show_json(v: &Value) -> bool {
    v.get("format_version").is_some()
        && (v.get("values").is_some() || v.get("planned_values").is_some())
}

/// Provider attributes with no ECS member: computed, or Terraform's own behaviour.
const TERRAFORM_ONLY: &[&str] = &[
    "id",
    "arn",
    "arn_without_revision",
    "revision",
    "tags_all",
    "skip_destroy",
    "track_latest",
    "wait_for_steady_state",
    "force_new_deployment",
    "force_delete",
    "triggers",
    "timeouts",
];

struct Resource {
    address: String,
    ty: String,
    values: Map<String, Value>,
}

fn collect(module: &Value, base: &str, out: &mut Vec<Resource>) {
    for (i, r) in module
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if r.get("mode").and_then(Value::as_str) == Some("data") {
            continue;
        }
        out.push(Resource {
            address: r
                .get("address")
                .and_then(Value::as_str)
                .map_or_else(|| format!("{base}.resources[{i}]"), str::to_string),
            ty: r
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .into(),
            values: r
                .get("values")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
        });
    }
    for (i, child) in module
        .get("child_modules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        collect(child, &format!("{base}.child_modules[{i}]"), out);
    }
}

/// `{k: v}` tags as the API's `[{key, value}]`.
fn tags(v: Option<Value>) -> Option<Value> {
    let m = v?.as_object()?.clone();
    (!m.is_empty()).then(|| {
        Value::Array(
            m.into_iter()
                .map(|(k, v)| json!({"key": k, "value": v}))
                .collect(),
        )
    })
}

/// The ECS resources of a state or plan.
pub fn convert(doc: &Value) -> Result<Converted, String> {
    let (root, key) = match doc.get("values") {
        Some(v) => (v, "values"),
        None => (&doc["planned_values"], "planned_values"),
    };
    let mut resources = Vec::new();
    collect(
        &root["root_module"],
        &format!("{key}.root_module"),
        &mut resources,
    );
    let mut out = Converted::default();
    // Values a plan cannot know yet.
    for change in doc
        .get("resource_changes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let ty = change
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !ty.starts_with("aws_ecs_") && !ty.starts_with("aws_appautoscaling_") {
            continue;
        }
        let address = change
            .get("address")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if let Some(Value::Object(unknown)) = change.pointer("/change/after_unknown") {
            for (k, v) in unknown {
                if v == &Value::Bool(true) && !TERRAFORM_ONLY.contains(&k.as_str()) {
                    out.unresolved.push((format!("{address}.{k}"), "known after apply (terraform plan): give the value in the configuration, or import the state after apply".into()));
                }
            }
        }
    }
    let service_names: Vec<(String, String)> = resources
        .iter()
        .filter(|r| r.ty == "aws_ecs_service")
        .filter_map(|r| {
            Some((
                r.address.clone(),
                r.values.get("name")?.as_str()?.to_string(),
            ))
        })
        .collect();
    let mut scaling: std::collections::BTreeMap<String, Map<String, Value>> = Default::default();
    let aimed_at = |v: &Map<String, Value>| {
        let rid = v.get("resource_id").and_then(Value::as_str)?;
        let name = rid.strip_prefix("service/")?.rsplit('/').next()?;
        service_names
            .iter()
            .find(|(_, n)| n == name)
            .map(|(a, _)| a.clone())
    };
    for r in &resources {
        let prefix = format!("{}.values", r.address);
        match r.ty.as_str() {
            "aws_appautoscaling_target" | "aws_appautoscaling_policy" => {
                let Some(svc) = aimed_at(&r.values) else {
                    out.notes.push((
                        r.address.clone(),
                        Fate::Stripped,
                        "aimed at no aws_ecs_service of this state: not imported".into(),
                    ));
                    continue;
                };
                let block = scaling.entry(svc.clone()).or_default();
                if r.ty == "aws_appautoscaling_target" {
                    for k in ["min_capacity", "max_capacity", "suspended_state"] {
                        if let Some(v) = r.values.get(k) {
                            block.insert(k.into(), v.clone());
                        }
                    }
                    if r.values.get("scheduled_action").is_some() {
                        out.notes.push((
                            format!("{prefix}.scheduled_action"),
                            Fate::Warned,
                            "scheduled scaling has no Kubernetes form here: not imported".into(),
                        ));
                    }
                } else {
                    let step =
                        r.values.get("policy_type").and_then(Value::as_str) == Some("StepScaling");
                    let (list, config) = if step {
                        ("step_scaling_policies", "step_scaling_policy_configuration")
                    } else {
                        (
                            "target_tracking_scaling_policies",
                            "target_tracking_scaling_policy_configuration",
                        )
                    };
                    let mut policy = match r.values.get(config) {
                        Some(Value::Array(a)) => a
                            .first()
                            .and_then(Value::as_object)
                            .cloned()
                            .unwrap_or_default(),
                        Some(Value::Object(m)) => m.clone(),
                        _ => Map::new(),
                    };
                    policy.insert(
                        "policy_name".into(),
                        r.values.get("name").cloned().unwrap_or(json!(r.address)),
                    );
                    if let Value::Array(a) = block.entry(list).or_insert(json!([])) {
                        a.push(Value::Object(policy));
                    }
                }
                out.notes.push((r.address.clone(), Fate::Converted, format!("→ the spec.autoscaling of {svc} (resource_id, scalable_dimension and service_namespace name the service)")));
                const USED: &[&str] = &[
                    "resource_id",
                    "scalable_dimension",
                    "service_namespace",
                    "min_capacity",
                    "max_capacity",
                    "suspended_state",
                    "scheduled_action",
                    "name",
                    "policy_type",
                    "target_tracking_scaling_policy_configuration",
                    "step_scaling_policy_configuration",
                ];
                let rest: Vec<&str> = r
                    .values
                    .keys()
                    .map(String::as_str)
                    .filter(|k| !USED.contains(k))
                    .collect();
                if !rest.is_empty() {
                    out.notes.push((
                        r.address.clone(),
                        Fate::Stripped,
                        format!(
                            "{}: computed, or no Kubernetes form (the HPA needs no role or alarm)",
                            rest.join(", ")
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    for r in resources {
        let prefix = format!("{}.values", r.address);
        let kind = match r.ty.as_str() {
            "aws_ecs_task_definition" => Kind::TaskDefinition,
            "aws_ecs_service" => Kind::Service,
            "aws_ecs_cluster" => Kind::Cluster,
            "aws_appautoscaling_target" | "aws_appautoscaling_policy" => continue,
            other => {
                out.notes.push((
                    r.address.clone(),
                    Fate::Stripped,
                    format!("{other} is not an ECS resource: not imported"),
                ));
                continue;
            }
        };
        let mut notes = Vec::new();
        let mut v = r.values;
        for k in TERRAFORM_ONLY {
            if v.shift_remove(*k).is_some() {
                notes.push((k.to_string(), Fate::Stripped, "a Terraform attribute with no ECS request member (computed, or Terraform's own behaviour)".to_string()));
            }
        }
        if let Some(t) = tags(v.shift_remove("tags")) {
            v.insert("tags".into(), t);
            notes.push((
                "tags".into(),
                Fate::Converted,
                "the provider's tag map written as the API's [{key, value}]".into(),
            ));
        }
        let renames: &[(&str, &str)] = match kind {
            Kind::TaskDefinition => task_definition(&mut v, &mut notes)?,
            Kind::Service => {
                service(&mut v, &mut notes);
                if let Some(block) = scaling.remove(&r.address) {
                    v.insert("autoscaling".into(), Value::Object(block));
                }
                &[
                    ("name", "serviceName"),
                    ("iam_role", "role"),
                    ("ordered_placement_strategy", "placementStrategy"),
                    ("load_balancer", "loadBalancers"),
                    ("capacity_provider_strategy", "capacityProviderStrategy"),
                ]
            }
            _ => &[("name", "clusterName"), ("setting", "settings")],
        };
        let mut spec = Value::Object(v);
        let renamed = rename::camel_case_blocks(&mut spec, kind.as_str(), renames);
        let Value::Object(spec) = spec else { continue };
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
            notes.push((
                String::new(),
                Fate::Converted,
                format!("{renamed} provider attribute(s) written as the API's camelCase members"),
            ));
        }
        raw.notes.extend(notes);
        out.raws.push(raw);
    }
    Ok(out)
}

fn task_definition(
    v: &mut Map<String, Value>,
    notes: &mut Vec<(String, Fate, String)>,
) -> Result<&'static [(&'static str, &'static str)], String> {
    // container_definitions is the API's JSON, as a string (provider docs).
    if let Some(Value::String(s)) = v.shift_remove("container_definitions") {
        let parsed: Value = serde_json::from_str(&s).map_err(|e| {
            format!("container_definitions: not the JSON list of container definitions: {e}")
        })?;
        v.insert("containerDefinitions".into(), parsed);
        notes.push((
            "container_definitions".into(),
            Fate::Converted,
            "the JSON string parsed as containerDefinitions".into(),
        ));
    }
    // volume { host_path = "…" } is the API's host.sourcePath.
    if let Some(Value::Array(vols)) = v.get_mut("volume") {
        for (i, vol) in vols.iter_mut().enumerate() {
            if let Some(obj) = vol.as_object_mut()
                && let Some(p) = obj.shift_remove("host_path")
            {
                let path = format!("volume[{i}].host_path");
                if p.as_str().is_some_and(|s| !s.is_empty()) {
                    obj.insert("host".into(), json!({"sourcePath": p}));
                    notes.push((path, Fate::Converted, "written as host.sourcePath".into()));
                } else {
                    notes.push((path, Fate::Stripped, "empty: no host path".into()));
                }
            }
        }
    }
    Ok(&[
        ("volume", "volumes"),
        ("inference_accelerator", "inferenceAccelerators"),
        ("configure_at_launch", "configuredAtLaunch"),
    ])
}

fn service(v: &mut Map<String, Value>, notes: &mut Vec<(String, Fate, String)>) {
    // The provider flattens deploymentConfiguration into three attributes.
    let mut dc = Map::new();
    for (from, to) in [
        ("deployment_maximum_percent", "maximumPercent"),
        (
            "deployment_minimum_healthy_percent",
            "minimumHealthyPercent",
        ),
        ("deployment_circuit_breaker", "deploymentCircuitBreaker"),
        ("alarms", "alarms"),
    ] {
        if let Some(x) = v.shift_remove(from).filter(|x| !x.is_null()) {
            notes.push((
                from.into(),
                Fate::Converted,
                format!("written as deploymentConfiguration.{to}"),
            ));
            dc.insert(to.into(), x);
        }
    }
    if !dc.is_empty() {
        v.insert("deploymentConfiguration".into(), Value::Object(dc));
    }
    // network_configuration { assign_public_ip = bool } is awsvpcConfiguration's ENABLED/DISABLED.
    if let Some(nc) = v.shift_remove("network_configuration") {
        let mut nc = match nc {
            Value::Array(mut a) if !a.is_empty() => a.remove(0),
            other => other,
        };
        if let Some(obj) = nc.as_object_mut() {
            if let Some(Value::Bool(b)) = obj.get("assign_public_ip").cloned() {
                obj.insert(
                    "assign_public_ip".into(),
                    json!(if b { "ENABLED" } else { "DISABLED" }),
                );
            }
            notes.push((
                "network_configuration".into(),
                Fate::Converted,
                "written as networkConfiguration.awsvpcConfiguration".into(),
            ));
            v.insert(
                "network_configuration".into(),
                json!({"awsvpc_configuration": nc}),
            );
        }
    }
    // The provider writes a cluster ARN and a task definition ARN.
    if let Some(Value::String(c)) = v.get("cluster").cloned()
        && c.is_empty()
    {
        v.shift_remove("cluster");
    }
    // A DAEMON service has no desired_count, the provider stores 0.
    if v.get("scheduling_strategy").and_then(Value::as_str) == Some("DAEMON")
        && v.get("desired_count") == Some(&json!(0))
    {
        v.shift_remove("desired_count");
        notes.push((
            "desired_count".into(),
            Fate::Stripped,
            "0 for a DAEMON service is the provider's placeholder".into(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_reports_what_is_known_after_apply() {
        let plan = json!({"format_version": "1.2", "planned_values": {"root_module": {"resources": [
            {"address": "aws_ecs_service.web", "mode": "managed", "type": "aws_ecs_service",
             "values": {"name": "web", "desired_count": 1, "task_definition": "web"}}]}},
            "resource_changes": [{"address": "aws_ecs_service.web", "type": "aws_ecs_service",
             "change": {"after_unknown": {"cluster": true, "id": true, "desired_count": false}}}]});
        assert!(is_show_json(&plan));
        let out = convert(&plan).unwrap();
        assert_eq!(out.raws.len(), 1);
        assert_eq!(out.raws[0].spec["serviceName"], "web");
        assert_eq!(out.unresolved.len(), 1, "{:?}", out.unresolved);
        assert_eq!(out.unresolved[0].0, "aws_ecs_service.web.cluster");
    }
}
