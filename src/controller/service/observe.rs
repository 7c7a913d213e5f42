//! Observe what the applied children became, as the caches see them: the service's pods and,
//! for DAEMON services, how many nodes the DaemonSets schedule on. Pure: no API request.
//! The result is the input of the status computation ([`crate::controller::service_status`]).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use super::super::cache::Caches;
use super::super::service_status::{Inputs, PodView};
use super::apply::Applied;
use super::build::{FORCE_NEW_DEPLOYMENT, Shape};
use super::resolve::Resolved;
use crate::api::Service;
use crate::translate::names;
use crate::translate::rollout::failure_threshold;
use crate::translate::service::DEFAULT_ROLLOUT_DEADLINE;

/// The inputs of the service's status.
pub fn observe(
    caches: &Caches,
    svc: &Service,
    resolved: &Resolved,
    shape: &Shape,
    applied: &Applied,
) -> Inputs {
    let ns = svc.namespace().unwrap_or_default();
    let pods = selected(caches, &ns, &shape.selector);
    let desired = if applied.daemon_sets.is_empty() {
        shape.desired_count
    } else {
        // A DaemonSet its controller has not counted yet (new, or a new generation) runs the
        // eligible nodes' worth, not 0: else a new DAEMON service would look COMPLETED at 0 tasks.
        applied
            .daemon_sets
            .iter()
            .map(|d| {
                caches
                    .daemon_sets
                    .store
                    .get(&ObjectRef::new(d).within(&ns))
                    .and_then(|d| scheduled(&d))
                    .or(shape.daemon_nodes)
                    .unwrap_or(0)
            })
            .sum()
    };
    let breaker = svc
        .spec
        .deployment_configuration
        .as_ref()
        .and_then(|d| d.deployment_circuit_breaker.clone());
    let threshold = failure_threshold(
        desired,
        breaker
            .as_ref()
            .and_then(|b| b.threshold_configuration.as_ref()),
    );
    Inputs {
        service_name: svc.service_name(),
        generation: svc.metadata.generation,
        task_definition: resolved.effective.display(),
        requested: resolved.requested.display(),
        forced: super::build::force_token(svc),
        desired,
        threshold,
        breaker,
        deadline_seconds: i64::from(
            svc.spec
                .kubernetes
                .as_ref()
                .and_then(|k| k.rollout_deadline_seconds)
                .unwrap_or(DEFAULT_ROLLOUT_DEADLINE),
        ),
        pods: pods
            .iter()
            .map(|p| pod_view(p, &resolved.effective.family))
            .collect(),
        selector: shape
            .selector
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","),
        warnings: shape.warnings.clone(),
        now: k8s_openapi::jiff::Timestamp::now(),
        rebalancing: false,
        rebalance: Vec::new(),
        replaced_unhealthy: Vec::new(),
        recheck_after: None,
    }
}

/// The tasks a DaemonSet's controller says it should run, once it has counted the current
/// generation (`status.observedGeneration`); `None` before.
pub fn scheduled(ds: &k8s_openapi::api::apps::v1::DaemonSet) -> Option<i32> {
    let status = ds.status.as_ref()?;
    let observed = status.observed_generation?;
    (observed >= ds.metadata.generation.unwrap_or(0)).then_some(status.desired_number_scheduled)
}

/// The cached pods of namespace `ns` that carry every label of `selector`.
pub fn selected(
    caches: &Caches,
    ns: &str,
    selector: &BTreeMap<String, String>,
) -> Vec<std::sync::Arc<Pod>> {
    caches
        .pods
        .store
        .state()
        .into_iter()
        .filter(|p| {
            p.metadata.namespace.as_deref() == Some(ns)
                && selector.iter().all(|(k, v)| p.labels().get(k) == Some(v))
        })
        .collect()
}

/// The pod as the status needs it.
pub fn pod_view(p: &Pod, family: &str) -> PodView {
    let revision = p.labels().get(names::REVISION).cloned().unwrap_or_default();
    let status = p.status.clone().unwrap_or_default();
    let conditions = status.conditions.clone().unwrap_or_default();
    let ready = conditions
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    let unschedulable = conditions
        .iter()
        .find(|c| {
            c.type_ == "PodScheduled"
                && c.status == "False"
                && c.reason.as_deref() == Some("Unschedulable")
        })
        .map(|c| c.message.clone().unwrap_or_else(|| "Unschedulable".into()));
    let mut failures = 0;
    for cs in status
        .container_statuses
        .iter()
        .flatten()
        .chain(status.init_container_statuses.iter().flatten())
    {
        failures += cs.restart_count;
        let waiting = cs
            .state
            .as_ref()
            .and_then(|s| s.waiting.as_ref())
            .and_then(|w| w.reason.as_deref());
        if matches!(
            waiting,
            Some(
                "ErrImagePull"
                    | "ImagePullBackOff"
                    | "InvalidImageName"
                    | "CreateContainerConfigError"
                    | "CreateContainerError"
            )
        ) {
            failures += 1;
        }
    }
    if status.phase.as_deref() == Some("Failed") {
        failures += 1;
    }
    PodView {
        name: p.name_any(),
        task_definition: format!("{family}:{revision}"),
        ready,
        terminating: p.metadata.deletion_timestamp.is_some(),
        failures,
        unschedulable,
        forced: p.annotations().get(FORCE_NEW_DEPLOYMENT).cloned(),
    }
}
