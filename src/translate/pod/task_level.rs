//! The task-level parts of a pod: the task size (pod-level resources, the Fargate table, or
//! the split over containers on older servers) and the task's network, PID and IPC modes.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PodSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::api::ecs::{IpcMode, NetworkMode, PidMode};

use super::super::diagnostics::Report;
use super::super::quantity::{
    cpu_units, fargate_memory_options, mebibytes, parse_task_cpu, parse_task_memory,
};
use super::super::{Context, TaskDefinitionRef};

pub(super) fn task_size(
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
        .filter(|v| !super::super::task_resources::pod_level(Some(*v)))
    {
        if cpu.is_some() || memory.is_some() {
            super::super::task_resources::split(cpu, memory, defs, pod, version, report);
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

pub(super) fn task_networking(
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
                    ctx.policy.refused(
                        "host networking (networkMode host) and its host ports",
                        "hostNetwork",
                    ),
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
                    ctx.policy
                        .refused("the host PID namespace (pidMode host)", "hostPID"),
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
                    ctx.policy
                        .refused("the host IPC namespace (ipcMode host)", "hostIPC"),
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
