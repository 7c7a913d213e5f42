//! Container fields that land on the pod (hostname, DNS, hosts, links, sysctls, Docker labels,
//! records of fields without effect) and Linux parameters (init process, /dev/shm, tmpfs,
//! devices).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, HostAlias, HostPathVolumeSource, PodDNSConfig,
    PodSecurityContext, PodSpec, Sysctl, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::api::ecs::NetworkMode;

use super::super::Context;
use super::super::diagnostics::Report;
use super::super::names::{self, is_label_key, is_label_value};
use super::super::quantity::mebibytes;

/// Container fields that land on the pod: hostname, DNS, hosts, links, sysctls, Docker labels.
pub(super) fn container_pod_fields(
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

pub(super) fn linux_parameters(
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
                ctx.policy.refused("host devices", "devices"),
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
