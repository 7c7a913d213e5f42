//! A task definition revision to a pod template: containers ordered by `dependsOn`, probes from
//! health checks, volumes, task-level resources as pod-level resources, Linux parameters,
//! networking and DNS, placement of the task definition itself, and the user's overrides last.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, LocalObjectReference, PodSpec, PodTemplateSpec, ResourceRequirements, Volume,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::api::ecs::{CPUArchitecture, Compatibility, NetworkMode};

use super::containers::{ContainerNeeds, container};
use super::dependencies::{Role, plan as plan_order};
use super::diagnostics::Report;
use super::names;
use super::secrets::{SecretRef, parse_value_from};
use super::volumes::{VolumePlan, plan as plan_volumes};
use super::{Context, TaskDefinitionRef, placement, probes};

mod container_level;
mod task_level;

use container_level::{container_pod_fields, linux_parameters};
use task_level::{task_networking, task_size};

/// A pod template and what it needs around it.
#[derive(Clone, Debug, Default)]
pub struct PodPlan {
    pub template: PodTemplateSpec,
    pub volumes: VolumePlan,
    pub secrets: Vec<SecretRef>,
}

/// Build the pod template of `td`.
pub fn pod_template(td: &TaskDefinitionRef, ctx: &Context, report: &mut Report) -> PodPlan {
    let spec = &td.spec;
    let defs = spec.container_definitions.as_deref().unwrap_or_default();
    let fargate = spec
        .requires_compatibilities
        .iter()
        .flatten()
        .any(|c| *c == Compatibility::Fargate);
    let network_mode = spec.network_mode.unwrap_or(if fargate {
        NetworkMode::Awsvpc
    } else {
        NetworkMode::Bridge
    });
    let mut volumes = plan_volumes(td, ctx, report);
    let order = plan_order(defs, "spec.containerDefinitions", report);
    super::ports::collisions(defs, &order.roles, network_mode, report);
    let mut needs = ContainerNeeds::default();
    let mut pod = PodSpec::default();
    let mut annotations: BTreeMap<String, String> = BTreeMap::new();
    let mut labels = ctx.labels.clone();
    labels.insert(names::REVISION.into(), td.revision.to_string());
    let mut extra_volumes: Vec<Volume> = Vec::new();

    let mut built: Vec<Container> = Vec::with_capacity(defs.len());
    let mut essential = Vec::new();
    // Essential containers whose check decides the task's health (the controllers report it).
    let mut health_checked = Vec::new();
    let mut grace: Option<i64> = None;
    for (i, def) in defs.iter().enumerate() {
        let path = format!("spec.containerDefinitions[{i}]");
        let mut c = container(def, i, network_mode, ctx, &mut needs, report);
        c.volume_mounts = volumes.mounts.get(i).filter(|m| !m.is_empty()).cloned();
        if let Some(check) = &def.health_check {
            let overrides = ctx.pod_settings.and_then(|s| s.probes.get(&c.name));
            let role = probes::HealthRole {
                essential: def.essential.unwrap_or(true),
                gates_dependents: order.roles[i]
                    == Role::Sidecar {
                        needs_healthy: true,
                    },
                replaced_when_unhealthy: !ctx.standalone_task,
            };
            let p = probes::for_container(
                check,
                role,
                ctx.grace_seconds,
                overrides,
                &format!("{path}.healthCheck"),
                report,
            );
            if role.essential && p.readiness.is_some() {
                health_checked.push(format!(
                    "{}:{}",
                    c.name,
                    probes::grace_seconds(check, ctx.grace_seconds)
                ));
            }
            c.readiness_probe = p.readiness;
            c.liveness_probe = p.liveness;
            c.startup_probe = p.startup;
        }
        if def.essential.unwrap_or(true) {
            essential.push(c.name.clone());
        }
        if let Some(t) = def.stop_timeout {
            grace = Some(grace.map_or(t.into(), |g: i64| g.max(t.into())));
        }
        linux_parameters(def, i, &mut c, &mut pod, &mut extra_volumes, ctx, report);
        container_pod_fields(
            def,
            i,
            &mut pod,
            &mut annotations,
            &mut labels,
            network_mode,
            report,
        );
        built.push(c);
    }
    if essential.is_empty() && !defs.is_empty() {
        report.error(
            "spec.containerDefinitions",
            "at least one container must be essential",
            Some("set \"essential\": true on the main container".to_string()),
        );
    }
    if let Some(gib) = spec.ephemeral_storage.as_ref().and_then(|e| e.size_in_gi_b) {
        if !(21..=200).contains(&gib) {
            report.error(
                "spec.ephemeralStorage.sizeInGiB",
                format!("is {gib}; ECS allows 21 to 200 GiB"),
                None,
            );
        }
        // Ephemeral storage cannot be set for the pod as a whole: the first essential container carries it.
        if let Some(c) = built
            .iter_mut()
            .zip(defs)
            .find(|(_, d)| d.essential.unwrap_or(true))
            .map(|(c, _)| c)
        {
            let r = c
                .resources
                .get_or_insert_with(ResourceRequirements::default);
            r.limits
                .get_or_insert_with(BTreeMap::new)
                .insert("ephemeral-storage".into(), Quantity(format!("{gib}Gi")));
        }
    }

    // Order: dependencies first (sidecars or init containers), the rest as main containers.
    let mut init = Vec::new();
    for &i in &order.init_order {
        let mut c = built[i].clone();
        match order.roles[i] {
            Role::Sidecar { needs_healthy } => {
                // A native sidecar always restarts: an ECS restart policy adds nothing to it.
                c.restart_policy = Some("Always".into());
                c.restart_policy_rules = None;
                if needs_healthy && c.startup_probe.is_none() {
                    // The next container starts once this probe passes: HEALTHY.
                    c.startup_probe = c.readiness_probe.clone();
                }
            }
            Role::Init => {
                // A COMPLETE/SUCCESS target runs to its end once: restarting it in place would
                // hold back every container after it (restart rules are for main containers).
                if c.restart_policy.take().is_some() {
                    report.warn(
                        format!("spec.containerDefinitions[{i}].restartPolicy"),
                        "a COMPLETE/SUCCESS dependsOn target becomes an init container, which is not restarted in place",
                    );
                }
                c.restart_policy_rules = None;
                c.readiness_probe = None;
                c.liveness_probe = None;
                c.startup_probe = None;
            }
            Role::Main => {}
        }
        init.push(c);
    }
    let main: Vec<Container> = order.main_order.iter().map(|&i| built[i].clone()).collect();
    pod.init_containers = (!init.is_empty()).then_some(init);
    pod.containers = main;

    // Volumes: the task definition's, then generated ones (/dev/shm, tmpfs, devices).
    let mut all_volumes = volumes.volumes.clone();
    all_volumes.extend(extra_volumes);
    pod.volumes = (!all_volumes.is_empty()).then_some(all_volumes);
    pod.termination_grace_period_seconds = grace;

    task_size(td, fargate, defs, &mut pod, ctx, report);
    task_networking(
        spec.network_mode,
        spec.pid_mode,
        spec.ipc_mode,
        &mut pod,
        ctx,
        report,
    );

    if let Some(rp) = &spec.runtime_platform {
        let sel = pod.node_selector.get_or_insert_with(BTreeMap::new);
        match rp.cpu_architecture {
            Some(CPUArchitecture::X8664) => {
                sel.insert("kubernetes.io/arch".into(), "amd64".into());
            }
            Some(CPUArchitecture::Arm64) => {
                sel.insert("kubernetes.io/arch".into(), "arm64".into());
            }
            None => {}
        }
    }
    super::windows::apply(spec, &mut pod, report);
    placement::task_definition_constraints(spec, &mut pod, report);

    if let Some(role) = spec.task_role_arn.as_deref().filter(|r| !r.is_empty()) {
        let _ = role;
        pod.service_account_name = Some(super::family::service_account_name(&td.family));
    }
    if let Some(sa) = ctx
        .pod_settings
        .and_then(|s| s.service_account_name.clone())
    {
        pod.service_account_name = Some(sa);
    }
    let mut pull_secrets: Vec<String> = Vec::new();
    for (i, def) in defs.iter().enumerate() {
        if let Some(cred) = def
            .repository_credentials
            .as_ref()
            .and_then(|r| r.credentials_parameter.as_deref())
        {
            match parse_value_from(cred) {
                Ok(r) => {
                    if !pull_secrets.contains(&r.secret_name) {
                        pull_secrets.push(r.secret_name.clone());
                    }
                    // The pull secret must be of type kubernetes.io/dockerconfigjson.
                    needs.secrets.push(SecretRef {
                        key: ".dockerconfigjson".into(),
                        ..r
                    });
                }
                Err(e) => report.error(
                    format!(
                        "spec.containerDefinitions[{i}].repositoryCredentials.credentialsParameter"
                    ),
                    e,
                    None,
                ),
            }
        }
    }
    if !pull_secrets.is_empty() {
        pod.image_pull_secrets = Some(
            pull_secrets
                .into_iter()
                .map(|name| LocalObjectReference { name })
                .collect(),
        );
    }
    if let Some(settings) = ctx.pod_settings {
        labels.extend(settings.labels.clone());
        annotations.extend(settings.annotations.clone());
        pod.priority_class_name = settings.priority_class_name.clone();
    }
    if !essential.is_empty() {
        annotations.insert(names::ESSENTIAL.into(), essential.join(","));
    }
    if !health_checked.is_empty() {
        annotations.insert(names::HEALTH_CHECKED.into(), health_checked.join(","));
    }
    let mut template = PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..ObjectMeta::default()
        }),
        spec: Some(pod),
    };
    if let Some(patch) = ctx.pod_settings.and_then(|s| s.pod_template_patch.as_ref()) {
        let before = template.spec.clone().unwrap_or_default();
        template = apply_template_patch(template, patch, report);
        patch_policy(ctx, &before, template.spec.as_ref(), report);
    }
    if let Some(spec) = template.spec.as_mut() {
        service_account_policy(ctx, &td.family, spec, report);
        if let Some(level) = ctx.pod_security {
            super::pod_security::enforce(level, defs, spec, report);
        }
    }
    volumes.mounts.clear();
    PodPlan {
        template,
        volumes,
        secrets: needs.secrets,
    }
}

/// Apply `spec.kubernetes.podTemplatePatch` (a JSON merge patch) to the template.
/// `spec.kubernetes.podTemplatePatch` can write any pod field: what it adds of the host-level
/// features is held to the same security policy as the task definition's own fields (else
/// the patch would be a way around it).
fn patch_policy(ctx: &Context, before: &PodSpec, after: Option<&PodSpec>, report: &mut Report) {
    let Some(after) = after else { return };
    let p = ctx.policy;
    let gained = |b: Option<bool>, a: Option<bool>| a == Some(true) && b != Some(true);
    let mut refused = Vec::new();
    for (ok, b, a, what, feature) in [
        (
            p.allow_host_network,
            before.host_network,
            after.host_network,
            "hostNetwork",
            "hostNetwork",
        ),
        (
            p.allow_host_pid,
            before.host_pid,
            after.host_pid,
            "hostPID",
            "hostPID",
        ),
        (
            p.allow_host_ipc,
            before.host_ipc,
            after.host_ipc,
            "hostIPC",
            "hostIPC",
        ),
    ] {
        if !ok && gained(b, a) {
            refused.push(p.refused(what, feature));
        }
    }
    let host_paths = |s: &PodSpec| {
        s.volumes
            .iter()
            .flatten()
            .filter(|v| v.host_path.is_some())
            .count()
    };
    if !p.allow_host_path && host_paths(after) > host_paths(before) {
        refused.push(p.refused("hostPath volumes", "hostPath"));
    }
    let all = |s: &PodSpec| -> Vec<k8s_openapi::api::core::v1::Container> {
        s.containers
            .iter()
            .chain(s.init_containers.iter().flatten())
            .cloned()
            .collect()
    };
    let (old, new) = (all(before), all(after));
    for c in &new {
        let was = old.iter().find(|o| o.name == c.name);
        let sc = c.security_context.as_ref();
        let was_sc = was.and_then(|o| o.security_context.as_ref());
        if !p.allow_privileged
            && gained(
                was_sc.and_then(|s| s.privileged),
                sc.and_then(|s| s.privileged),
            )
        {
            refused.push(p.refused(&format!("privileged container {}", c.name), "privileged"));
        }
        let caps = |s: Option<&k8s_openapi::api::core::v1::SecurityContext>| -> Vec<String> {
            s.and_then(|s| s.capabilities.as_ref())
                .and_then(|c| c.add.clone())
                .unwrap_or_default()
        };
        let before_caps = caps(was_sc);
        let added: Vec<String> = caps(sc)
            .into_iter()
            .filter(|c| !before_caps.contains(c))
            .filter(|c| !super::pod_security::BASELINE_CAPABILITIES.contains(&c.as_str()))
            .collect();
        if !p.allow_capabilities && !added.is_empty() {
            refused.push(p.refused(
                &format!("capabilities {added:?} on container {}", c.name),
                "capabilities",
            ));
        }
    }
    for message in refused {
        report.error("spec.kubernetes.podTemplatePatch", message, None);
    }
}

/// The pod's ServiceAccount must be one the namespace allows (its
/// `ecs-operator.io/allowed-service-accounts` annotation), or the one made for `taskRoleArn`.
fn service_account_policy(ctx: &Context, family: &str, pod: &PodSpec, report: &mut Report) {
    let (Some(allowed), Some(sa)) = (ctx.allowed_service_accounts, &pod.service_account_name)
    else {
        return;
    };
    if *sa == super::family::service_account_name(family) || allowed.contains(sa) {
        return;
    }
    report.error(
        "spec.kubernetes.serviceAccountName",
        format!(
            "ServiceAccount {sa} is not allowed in this namespace (annotation {} lists {allowed:?})",
            super::tenancy::ALLOWED_SERVICE_ACCOUNTS
        ),
        Some("use one of the allowed ServiceAccounts, or taskRoleArn (its own ServiceAccount)".to_string()),
    );
}

fn apply_template_patch(
    template: PodTemplateSpec,
    patch: &serde_json::Value,
    report: &mut Report,
) -> PodTemplateSpec {
    let mut doc = serde_json::to_value(&template).unwrap_or_default();
    json_merge_patch(&mut doc, patch);
    match serde_json::from_value(doc) {
        Ok(t) => t,
        Err(e) => {
            report.error(
                "spec.kubernetes.podTemplatePatch",
                format!("does not produce a valid pod template: {e}"),
                None,
            );
            template
        }
    }
}

/// RFC 7386 JSON merge patch.
pub fn json_merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    if let serde_json::Value::Object(p) = patch {
        if !target.is_object() {
            *target = serde_json::Value::Object(Default::default());
        }
        let t = target.as_object_mut().expect("made an object above");
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                json_merge_patch(t.entry(k.clone()).or_insert(serde_json::Value::Null), v);
            }
        }
    } else {
        *target = patch.clone();
    }
}
