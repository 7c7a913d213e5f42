//! A task definition revision to a pod template: containers ordered by `dependsOn`, probes from
//! health checks, volumes, task-level resources as pod-level resources, Linux parameters,
//! networking and DNS, placement of the task definition itself, and the user's overrides last.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, HostAlias, HostPathVolumeSource, LocalObjectReference,
    PodDNSConfig, PodSecurityContext, PodSpec, PodTemplateSpec, ResourceRequirements, Sysctl,
    Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::api::ecs::{CPUArchitecture, Compatibility, IpcMode, NetworkMode, PidMode};

use super::containers::{ContainerNeeds, container};
use super::dependencies::{Role, plan as plan_order};
use super::diagnostics::Report;
use super::names::{self, is_label_key, is_label_value};
use super::quantity::{
    cpu_units, fargate_memory_options, mebibytes, parse_task_cpu, parse_task_memory,
};
use super::secrets::{SecretRef, parse_value_from};
use super::volumes::{VolumePlan, plan as plan_volumes};
use super::{Context, TaskDefinitionRef, placement, probes};

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
                health_checked.push(c.name.clone());
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
                c.restart_policy = Some("Always".into());
                if needs_healthy && c.startup_probe.is_none() {
                    // The next container starts once this probe passes: HEALTHY.
                    c.startup_probe = c.readiness_probe.clone();
                }
            }
            Role::Init => {
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
        template = apply_template_patch(template, patch, report);
    }
    volumes.mounts.clear();
    PodPlan {
        template,
        volumes,
        secrets: needs.secrets,
    }
}

/// Apply `spec.kubernetes.podTemplatePatch` (a JSON merge patch) to the template.
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

fn task_size(
    td: &TaskDefinitionRef,
    fargate: bool,
    defs: &[crate::api::ecs::ContainerDefinition],
    pod: &mut PodSpec,
    ctx: &Context,
    report: &mut Report,
) {
    let spec = &td.spec;
    let cpu = spec
        .cpu
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|raw| {
            parse_task_cpu(raw)
                .map_err(|e| report.error("spec.cpu", e, None))
                .ok()
        });
    let memory = spec
        .memory
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|raw| {
            parse_task_memory(raw)
                .map_err(|e| report.error("spec.memory", e, None))
                .ok()
        });
    if fargate {
        match (cpu, memory) {
            (None, _) | (_, None) if spec.cpu.is_none() || spec.memory.is_none() => report.error(
                if spec.cpu.is_none() {
                    "spec.cpu"
                } else {
                    "spec.memory"
                },
                "is required when requiresCompatibilities includes FARGATE",
                Some(
                    "set task-level cpu and memory, e.g. \"cpu\": \"256\", \"memory\": \"512\""
                        .to_string(),
                ),
            ),
            (Some(c), Some(m)) => match fargate_memory_options(c) {
                None => report.error(
                    "spec.cpu",
                    format!("{c} CPU units is not a Fargate size"),
                    Some("use 256, 512, 1024, 2048, 4096, 8192 or 16384".to_string()),
                ),
                Some(options) if !options.contains(&m) => report.error(
                    "spec.memory",
                    format!("{m} MiB is not valid with {c} CPU units on Fargate"),
                    Some(format!(
                        "with cpu {c} use one of: {}",
                        options
                            .iter()
                            .map(|o| o.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                ),
                Some(_) => {}
            },
            _ => {}
        }
    }
    let container_cpu: i64 = defs.iter().filter_map(|d| d.cpu).map(i64::from).sum();
    if let Some(c) = cpu
        && container_cpu > c
    {
        report.error(
            "spec.cpu",
            format!("{c} CPU units is less than the containers' total of {container_cpu}"),
            None,
        );
    }
    for (i, d) in defs.iter().enumerate() {
        if let (Some(m), Some(cm)) = (memory, d.memory.or(d.memory_reservation))
            && i64::from(cm) > m
        {
            report.error(
                format!("spec.containerDefinitions[{i}].memory"),
                format!("{cm} MiB exceeds the task's {m} MiB"),
                None,
            );
        }
    }
    if defs
        .iter()
        .all(|d| d.memory.is_none() && d.memory_reservation.is_none())
        && memory.is_none()
        && !defs.is_empty()
    {
        report.error(
            "spec.memory",
            "is required when no container sets memory or memoryReservation (as in ECS)",
            None,
        );
    }
    if let Some(version) = ctx
        .server_version
        .filter(|v| !super::task_resources::pod_level(Some(*v)))
    {
        if cpu.is_some() || memory.is_some() {
            super::task_resources::split(cpu, memory, defs, pod, version, report);
        }
        return;
    }
    let mut limits = BTreeMap::new();
    if let Some(c) = cpu {
        limits.insert("cpu".to_string(), Quantity(cpu_units(c)));
    }
    if let Some(m) = memory {
        limits.insert("memory".to_string(), Quantity(mebibytes(m)));
    }
    if !limits.is_empty() {
        // Pod-level resources (Kubernetes ≥ 1.34): the task size is both reserved and the cap.
        pod.resources = Some(ResourceRequirements {
            requests: Some(limits.clone()),
            limits: Some(limits),
            ..ResourceRequirements::default()
        });
    }
}

fn task_networking(
    network: Option<NetworkMode>,
    pid: Option<PidMode>,
    ipc: Option<IpcMode>,
    pod: &mut PodSpec,
    ctx: &Context,
    report: &mut Report,
) {
    match network {
        Some(NetworkMode::Host) => {
            if !ctx.policy.allow_host_network {
                report.error(
                    "spec.networkMode",
                    "host networking is refused by the operator's security policy",
                    Some("use awsvpc or bridge".to_string()),
                );
            }
            pod.host_network = Some(true);
            pod.dns_policy = Some("ClusterFirstWithHostNet".into());
        }
        Some(NetworkMode::None) => report.warn(
            "spec.networkMode",
            "\"none\" cannot remove a pod's network on Kubernetes; the pod gets the pod network",
        ),
        _ => {}
    }
    match pid {
        Some(PidMode::Host) => {
            if !ctx.policy.allow_host_pid {
                report.error(
                    "spec.pidMode",
                    "the host PID namespace is refused by the operator's security policy",
                    Some("use \"task\"".to_string()),
                );
            }
            pod.host_pid = Some(true);
        }
        Some(PidMode::Task) => pod.share_process_namespace = Some(true),
        None => {}
    }
    match ipc {
        Some(IpcMode::Host) => {
            if !ctx.policy.allow_host_ipc {
                report.error(
                    "spec.ipcMode",
                    "the host IPC namespace is refused by the operator's security policy",
                    Some("use \"task\"".to_string()),
                );
            }
            pod.host_ipc = Some(true);
        }
        Some(IpcMode::None) => report.warn(
            "spec.ipcMode",
            "containers of a pod always share an IPC namespace; \"none\" has no effect",
        ),
        _ => {}
    }
}

/// Container fields that land on the pod: hostname, DNS, hosts, links, sysctls, Docker labels.
fn container_pod_fields(
    def: &crate::api::ecs::ContainerDefinition,
    i: usize,
    pod: &mut PodSpec,
    annotations: &mut BTreeMap<String, String>,
    labels: &mut BTreeMap<String, String>,
    network_mode: NetworkMode,
    report: &mut Report,
) {
    let path = format!("spec.containerDefinitions[{i}]");
    if let Some(h) = def.hostname.as_deref().filter(|h| !h.is_empty()) {
        let label = names::dns_label(h);
        if network_mode == NetworkMode::Awsvpc {
            report.warn(
                format!("{path}.hostname"),
                "ECS ignores hostname in awsvpc mode; it is set on the pod anyway",
            );
        }
        match &pod.hostname {
            Some(existing) if existing != &label => report.warn(
                format!("{path}.hostname"),
                format!("the pod already has hostname '{existing}' from another container"),
            ),
            _ => pod.hostname = Some(label),
        }
    }
    let dns_servers = def.dns_servers.clone().unwrap_or_default();
    let dns_search = def.dns_search_domains.clone().unwrap_or_default();
    if !dns_servers.is_empty() || !dns_search.is_empty() {
        let cfg = pod.dns_config.get_or_insert_with(PodDNSConfig::default);
        if !dns_servers.is_empty() {
            // ECS replaces the resolver: Kubernetes needs dnsPolicy None for that.
            pod.dns_policy = Some("None".into());
            cfg.nameservers
                .get_or_insert_with(Vec::new)
                .extend(dns_servers);
        }
        cfg.searches.get_or_insert_with(Vec::new).extend(dns_search);
    }
    for (j, h) in def.extra_hosts.iter().flatten().enumerate() {
        match (h.hostname.as_deref(), h.ip_address.as_deref()) {
            (Some(name), Some(ip)) => add_host_alias(pod, ip, name),
            _ => report.error(
                format!("{path}.extraHosts[{j}]"),
                "needs both hostname and ipAddress",
                None,
            ),
        }
    }
    for link in def.links.iter().flatten() {
        // Containers of a pod share localhost: a link name (and alias) resolves to 127.0.0.1.
        for name in link.split(':') {
            add_host_alias(pod, "127.0.0.1", name);
        }
    }
    for (j, sc) in def.system_controls.iter().flatten().enumerate() {
        match (sc.namespace.as_deref(), sc.value.as_deref()) {
            (Some(name), Some(value)) => {
                let ctx = pod
                    .security_context
                    .get_or_insert_with(PodSecurityContext::default);
                let sysctls = ctx.sysctls.get_or_insert_with(Vec::new);
                if !sysctls.iter().any(|s| s.name == name) {
                    sysctls.push(Sysctl {
                        name: name.into(),
                        value: value.into(),
                    });
                }
            }
            _ => report.error(
                format!("{path}.systemControls[{j}]"),
                "needs both namespace (the sysctl) and value",
                None,
            ),
        }
    }
    for (k, v) in def.docker_labels.iter().flatten() {
        annotations.insert(k.clone(), v.clone());
        if is_label_key(k) && is_label_value(v) && !labels.contains_key(k) {
            labels.insert(k.clone(), v.clone());
        }
    }
    let name = def.name.as_deref().unwrap_or_default();
    // Fields without a Kubernetes effect are recorded on the pod so nothing is lost.
    for (field, value) in [
        (
            "log-configuration",
            serde_json::to_value(&def.log_configuration).ok(),
        ),
        (
            "firelens-configuration",
            serde_json::to_value(&def.firelens_configuration).ok(),
        ),
        ("ulimits", serde_json::to_value(&def.ulimits).ok()),
        (
            "credential-specs",
            serde_json::to_value(&def.credential_specs).ok(),
        ),
    ] {
        if let Some(v) = value.filter(|v| !v.is_null()) {
            annotations.insert(format!("ecs-operator.io/{field}.{name}"), v.to_string());
        }
    }
}

fn add_host_alias(pod: &mut PodSpec, ip: &str, name: &str) {
    let aliases = pod.host_aliases.get_or_insert_with(Vec::new);
    match aliases.iter_mut().find(|a| a.ip == ip) {
        Some(a) => {
            let names = a.hostnames.get_or_insert_with(Vec::new);
            if !names.iter().any(|n| n == name) {
                names.push(name.into());
            }
        }
        None => aliases.push(HostAlias {
            ip: ip.into(),
            hostnames: Some(vec![name.into()]),
        }),
    }
}

fn linux_parameters(
    def: &crate::api::ecs::ContainerDefinition,
    i: usize,
    c: &mut Container,
    pod: &mut PodSpec,
    volumes: &mut Vec<Volume>,
    ctx: &Context,
    report: &mut Report,
) {
    let Some(lp) = &def.linux_parameters else {
        return;
    };
    let path = format!("spec.containerDefinitions[{i}].linuxParameters");
    let cname = names::dns_label(&c.name);
    if lp.init_process_enabled == Some(true) {
        // The pod's pause container becomes PID 1 and reaps zombies, as docker --init does.
        pod.share_process_namespace = Some(true);
    }
    let mut mount = |volume: Volume, mount_path: &str, read_only: bool, c: &mut Container| {
        c.volume_mounts
            .get_or_insert_with(Vec::new)
            .push(VolumeMount {
                name: volume.name.clone(),
                mount_path: mount_path.into(),
                read_only: read_only.then_some(true),
                ..VolumeMount::default()
            });
        volumes.push(volume);
    };
    if let Some(size) = lp.shared_memory_size {
        let v = Volume {
            name: names::sanitize(&format!("{cname}-shm"), 63),
            empty_dir: Some(EmptyDirVolumeSource {
                medium: Some("Memory".into()),
                size_limit: Some(Quantity(mebibytes(size.into()))),
            }),
            ..Volume::default()
        };
        mount(v, "/dev/shm", false, c);
    }
    for (j, t) in lp.tmpfs.iter().flatten().enumerate() {
        let Some(cp) = t.container_path.as_deref() else {
            report.error(
                format!("{path}.tmpfs[{j}].containerPath"),
                "is required",
                None,
            );
            continue;
        };
        let v = Volume {
            name: names::sanitize(&format!("{cname}-tmpfs-{j}"), 63),
            empty_dir: Some(EmptyDirVolumeSource {
                medium: Some("Memory".into()),
                size_limit: t.size.map(|s| Quantity(mebibytes(s.into()))),
            }),
            ..Volume::default()
        };
        mount(v, cp, false, c);
    }
    for (j, d) in lp.devices.iter().flatten().enumerate() {
        let dpath = format!("{path}.devices[{j}]");
        if !ctx.policy.allow_host_devices {
            report.error(
                dpath.clone(),
                "host devices are refused by the operator's security policy",
                Some(
                    "ask an administrator to allow host devices, or use a device plugin resource"
                        .to_string(),
                ),
            );
        }
        let Some(host) = d.host_path.as_deref() else {
            report.error(format!("{dpath}.hostPath"), "is required", None);
            continue;
        };
        let v = Volume {
            name: names::sanitize(&format!("{cname}-dev-{j}"), 63),
            host_path: Some(HostPathVolumeSource {
                path: host.into(),
                type_: Some("CharDevice".into()),
            }),
            ..Volume::default()
        };
        let target = d.container_path.clone().unwrap_or_else(|| host.to_string());
        mount(v, &target, false, c);
    }
}
