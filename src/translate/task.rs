//! A standalone Task (`RunTask`) to its pods: the revision with `overrides` applied, `count`
//! pods that never restart, placement and capacity like a service. The essential-container
//! semantics (stop the task when one exits) live in the Task controller, which reads the
//! essential-containers annotation this sets.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::api::ecs::{KeyValuePair, LaunchType, PropagateTags};
use crate::api::{ClusterSpec, Task};

use super::diagnostics::{Diagnostic, Invalid, Report};
use super::names::{self, label_value, sanitize};
use super::{Context, Options, TaskDefinitionRef, capacity, fates, placement, service::apply_tags};

/// Apply `RunTask` overrides to a task definition revision (a copy).
pub fn with_overrides(
    task: &Task,
    td: &TaskDefinitionRef,
    report: &mut Report,
) -> TaskDefinitionRef {
    let mut td = td.clone();
    let Some(o) = &task.spec.overrides else {
        return td;
    };
    let spec = &mut td.spec;
    if let Some(cpu) = o.cpu.clone().filter(|c| !c.is_empty()) {
        spec.cpu = Some(cpu);
    }
    if let Some(memory) = o.memory.clone().filter(|m| !m.is_empty()) {
        spec.memory = Some(memory);
    }
    if let Some(role) = o.task_role_arn.clone() {
        spec.task_role_arn = Some(role);
    }
    if let Some(e) = &o.ephemeral_storage {
        spec.ephemeral_storage = Some(e.clone());
    }
    let defs = spec.container_definitions.get_or_insert_with(Vec::new);
    for (i, co) in o.container_overrides.iter().flatten().enumerate() {
        let path = format!("spec.overrides.containerOverrides[{i}]");
        let Some(def) = co
            .name
            .as_deref()
            .and_then(|n| defs.iter_mut().find(|d| d.name.as_deref() == Some(n)))
        else {
            report.error(
                format!("{path}.name"),
                format!(
                    "names no container of {}: '{}'",
                    td.family,
                    co.name.as_deref().unwrap_or("")
                ),
                None,
            );
            continue;
        };
        if let Some(cmd) = &co.command {
            def.command = Some(cmd.clone());
        }
        if let Some(env) = &co.environment {
            // Overrides win over the definition's variables of the same name.
            let mut merged: Vec<KeyValuePair> = def.environment.clone().unwrap_or_default();
            for kv in env {
                merged.retain(|e| e.name != kv.name);
                merged.push(kv.clone());
            }
            def.environment = Some(merged);
        }
        if let Some(files) = &co.environment_files {
            def.environment_files
                .get_or_insert_with(Vec::new)
                .extend(files.clone());
        }
        if co.cpu.is_some() {
            def.cpu = co.cpu;
        }
        if co.memory.is_some() {
            def.memory = co.memory;
        }
        if co.memory_reservation.is_some() {
            def.memory_reservation = co.memory_reservation;
        }
        if let Some(r) = &co.resource_requirements {
            def.resource_requirements = Some(r.clone());
        }
    }
    td
}

/// Translate `task` running revision `td`: its pods.
pub fn translate(
    task: &Task,
    td: &TaskDefinitionRef,
    cluster: Option<&ClusterSpec>,
    options: &Options,
) -> Result<(Vec<Pod>, Vec<Diagnostic>), Invalid> {
    let spec = &task.spec;
    let name = task.metadata.name.clone().unwrap_or_default();
    let mut report = Report::default();
    let value = serde_json::to_value(spec).unwrap_or_default();
    fates::walk("RunTaskRequest", &value, "spec", &mut report);
    let count = spec.count.unwrap_or(1);
    if !(1..=10).contains(&count) {
        report.error(
            "spec.count",
            format!("is {count}; ECS runs 1 to 10 tasks per RunTask"),
            None,
        );
    }
    let td = with_overrides(task, td, &mut report);
    super::family::check(&td, &mut report);
    let mut ctx = Context::new(&td, options);
    ctx.standalone_task = true;
    for vc in spec.volume_configurations.iter().flatten() {
        if let (Some(n), Some(size)) = (
            &vc.name,
            vc.managed_ebs_volume.as_ref().and_then(|m| m.size_in_gi_b),
        ) {
            ctx.launch_volumes.insert(n.clone(), size);
        }
    }
    let plan = super::pod::pod_template(&td, &ctx, &mut report);
    let mut template = plan.template;
    let own = BTreeMap::from([(names::TASK.to_string(), label_value(&name))]);
    let pod_spec = template.spec.get_or_insert_with(Default::default);
    pod_spec.restart_policy = Some("Never".into());
    placement::constraints(
        spec.placement_constraints.as_deref().unwrap_or_default(),
        "spec.placementConstraints",
        &own,
        pod_spec,
        &mut report,
    );
    placement::strategies(
        spec.placement_strategy.as_deref().unwrap_or_default(),
        "spec.placementStrategy",
        &own,
        None,
        pod_spec,
        &mut report,
    );
    let meta = template.metadata.get_or_insert_with(Default::default);
    let labels = meta.labels.get_or_insert_with(BTreeMap::new);
    labels.extend(own);
    if let Some(group) = spec.group.as_deref().filter(|g| !g.is_empty()) {
        labels.insert(names::GROUP.into(), label_value(group));
    }
    if let Some(by) = spec.started_by.as_deref().filter(|s| !s.is_empty()) {
        meta.annotations
            .get_or_insert_with(BTreeMap::new)
            .insert("ecs-operator.io/started-by".into(), by.into());
    }
    // RunTaskRequest.propagateTags (ECS API model): TASK_DEFINITION copies the task
    // definition's tags to the task; the task's own tags come after and win.
    if spec.propagate_tags == Some(PropagateTags::TaskDefinition) {
        apply_tags(td.spec.tags.as_deref().unwrap_or_default(), meta);
    }
    apply_tags(spec.tags.as_deref().unwrap_or_default(), meta);
    if let Some(k) = &spec.kubernetes {
        meta.labels
            .get_or_insert_with(BTreeMap::new)
            .extend(k.labels.clone());
        meta.annotations
            .get_or_insert_with(BTreeMap::new)
            .extend(k.annotations.clone());
    }
    let shares = match (&spec.capacity_provider_strategy, spec.launch_type) {
        (Some(s), _) if !s.is_empty() => {
            capacity::split(count, s, "spec.capacityProviderStrategy", &mut report)
        }
        (_, Some(LaunchType::Fargate)) => vec![capacity::Share {
            provider: "FARGATE".into(),
            replicas: count,
        }],
        _ => match cluster
            .and_then(|c| c.default_capacity_provider_strategy.clone())
            .filter(|s| !s.is_empty() && spec.launch_type.is_none())
        {
            Some(s) => capacity::split(count, &s, "spec.capacityProviderStrategy", &mut report),
            None => vec![capacity::Share {
                provider: String::new(),
                replicas: count,
            }],
        },
    };
    let mut pods = Vec::new();
    for share in shares {
        for _ in 0..share.replicas.max(0) {
            let mut t = template.clone();
            if !share.provider.is_empty() {
                capacity::apply_pool(
                    &capacity::node_pool(&share.provider, cluster),
                    t.spec.get_or_insert_with(Default::default),
                );
            }
            let m = t.metadata.unwrap_or_default();
            pods.push(Pod {
                metadata: ObjectMeta {
                    name: Some(sanitize(&format!("{name}-{}", pods.len()), 63)),
                    namespace: task.metadata.namespace.clone(),
                    labels: m.labels,
                    annotations: m.annotations,
                    ..ObjectMeta::default()
                },
                spec: t.spec,
                ..Pod::default()
            });
        }
    }
    report.into_result(pods)
}
