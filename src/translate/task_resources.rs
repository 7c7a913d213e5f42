//! Task-level `cpu` / `memory` on API servers without pod-level resources (`spec.resources`
//! of a pod, Kubernetes ≥ 1.34): the task size is split over the containers' limits, as the
//! mapping contract promises (RegisterTaskDefinitionRequest.cpu / .memory, ECS API model: the
//! hard limit of the whole task). CPU in proportion to the containers' `cpu` units (equally
//! when none sets any); memory: a container with its own hard `memory` keeps it, the rest of
//! the task's memory goes to the others in proportion to `memoryReservation` (equally when
//! none sets one). A warning names the server version that made the choice.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, PodSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::api::ecs::ContainerDefinition;

use super::diagnostics::Report;
use super::names::dns_label;
use super::quantity::{cpu_units, mebibytes};

/// The first Kubernetes minor version (1.x) that serves pod-level resources.
pub const POD_LEVEL_RESOURCES_MINOR: u32 = 34;

/// Whether a server of `version` (major, minor) serves pod-level resources; unknown: assumed.
pub fn pod_level(version: Option<(u32, u32)>) -> bool {
    version.is_none_or(|(major, minor)| major > 1 || minor >= POD_LEVEL_RESOURCES_MINOR)
}

/// `total` shared in proportion to `weights` (equally when all are zero); the remainder to the
/// first shares, so the parts always add up to `total`.
pub fn apportion(total: i64, weights: &[i64]) -> Vec<i64> {
    if weights.is_empty() {
        return Vec::new();
    }
    let equal = weights.iter().all(|w| *w <= 0);
    let weights: Vec<i64> = if equal {
        vec![1; weights.len()]
    } else {
        weights.iter().map(|w| (*w).max(0)).collect()
    };
    let sum: i64 = weights.iter().sum();
    let mut parts: Vec<i64> = weights.iter().map(|w| total * w / sum).collect();
    let mut left = total - parts.iter().sum::<i64>();
    for (p, w) in parts.iter_mut().zip(&weights) {
        if left > 0 && *w > 0 {
            *p += 1;
            left -= 1;
        }
    }
    parts
}

/// Split the task's `cpu` units and `memory` MiB over the containers of `pod`.
pub fn split(
    cpu: Option<i64>,
    memory: Option<i64>,
    defs: &[ContainerDefinition],
    pod: &mut PodSpec,
    version: (u32, u32),
    report: &mut Report,
) {
    let names: Vec<String> = defs
        .iter()
        .map(|d| dns_label(d.name.as_deref().unwrap_or_default()))
        .collect();
    let mut limits: Vec<BTreeMap<String, Quantity>> = vec![BTreeMap::new(); defs.len()];
    if let Some(c) = cpu {
        let weights: Vec<i64> = defs.iter().map(|d| d.cpu.unwrap_or(0).into()).collect();
        for (l, units) in limits.iter_mut().zip(apportion(c, &weights)) {
            l.insert("cpu".into(), Quantity(cpu_units(units.max(1))));
        }
    }
    if let Some(m) = memory {
        let hard: i64 = defs.iter().filter_map(|d| d.memory).map(i64::from).sum();
        let soft: Vec<usize> = (0..defs.len())
            .filter(|&i| defs[i].memory.is_none())
            .collect();
        let weights: Vec<i64> = soft
            .iter()
            .map(|&i| defs[i].memory_reservation.unwrap_or(0).into())
            .collect();
        for (&i, mib) in soft.iter().zip(apportion(m - hard, &weights)) {
            if mib >= 6 {
                limits[i].insert("memory".into(), Quantity(mebibytes(mib)));
            }
        }
    }
    let (major, minor) = version;
    report.warn(
        "spec.cpu",
        format!("Kubernetes {major}.{minor} has no pod-level resources (they need 1.{POD_LEVEL_RESOURCES_MINOR}): the task's cpu/memory are split over the containers' limits (cpu by their cpu units, memory beyond their own hard limits by memoryReservation), so one container cannot borrow another's share as in ECS"),
    );
    let containers = pod
        .containers
        .iter_mut()
        .chain(pod.init_containers.iter_mut().flatten());
    for c in containers {
        if let Some(i) = names.iter().position(|n| *n == c.name) {
            merge_limits(c, std::mem::take(&mut limits[i]));
        }
    }
}

fn merge_limits(c: &mut Container, add: BTreeMap<String, Quantity>) {
    if add.is_empty() {
        return;
    }
    let r = c
        .resources
        .get_or_insert_with(ResourceRequirements::default);
    let l = r.limits.get_or_insert_with(BTreeMap::new);
    for (k, v) in add {
        l.entry(k).or_insert(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apportion_adds_up() {
        assert_eq!(apportion(1024, &[256, 768]), vec![256, 768]);
        assert_eq!(apportion(1000, &[0, 0, 0]), vec![334, 333, 333]);
        assert_eq!(apportion(10, &[1, 2]), vec![4, 6]);
    }

    #[test]
    fn versions_with_pod_level_resources() {
        assert!(pod_level(None));
        assert!(pod_level(Some((1, 34))));
        assert!(!pod_level(Some((1, 33))));
    }
}
