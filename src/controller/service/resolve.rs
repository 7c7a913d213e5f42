//! Resolve a Service's references from the caches (no API request): the revision the spec
//! asks for, the revision to run (during a circuit-breaker rollback, the last completed one),
//! and the Cluster it names.

use std::sync::Arc;

use kube::ResourceExt;

use super::super::cache::Caches;
use super::super::revisions::{self, ResolveError};
use super::status::Stall;
use crate::api::{Cluster, Service};
use crate::translate::TaskDefinitionRef;
use crate::translate::refs::{cluster_name, parse_task_definition_ref};

/// What the Service refers to.
pub struct Resolved {
    /// The revision the spec asks for.
    pub requested: TaskDefinitionRef,
    /// The revision to run: `requested`, or the last completed one during a rollback.
    pub effective: TaskDefinitionRef,
    pub cluster: Option<Arc<Cluster>>,
}

/// Resolve, or say why the Service cannot be deployed.
pub fn resolve(caches: &Caches, svc: &Service) -> Result<Resolved, Stall> {
    let ns = svc.namespace().unwrap_or_default();
    let cached = &caches.revisions.store;
    let reference = svc.spec.task_definition.as_deref().unwrap_or_default();
    let requested = revisions::resolve(cached, &ns, reference)
        .map_err(|e| invalid_family(caches, &ns, reference).unwrap_or_else(|| not_found(e)))?;
    let prev = svc.status.clone().unwrap_or_default();
    let rollback = svc
        .spec
        .deployment_configuration
        .as_ref()
        .and_then(|d| d.deployment_circuit_breaker.as_ref())
        .and_then(|b| b.rollback)
        .unwrap_or(false);
    // ECS: "the deployment rolls back to the last deployment that completed successfully"
    // (Developer Guide, "How the Amazon ECS deployment circuit breaker detects failures").
    let effective = match (
        &prev.failed_task_definition,
        &prev.last_completed_task_definition,
    ) {
        (Some(failed), Some(last))
            if rollback && *failed == requested.display() && last != failed =>
        {
            revisions::resolve(cached, &ns, last).unwrap_or_else(|_| requested.clone())
        }
        _ => requested.clone(),
    };
    let cluster = svc
        .spec
        .cluster
        .as_deref()
        .filter(|c| !c.is_empty())
        .and_then(|c| caches.clusters.get(&ns, cluster_name(c)));
    Ok(Resolved {
        requested,
        effective,
        cluster,
    })
}

/// A TaskDefinition of the Service's family whose latest spec is not registered yet (its
/// generation is ahead of its status): a new revision is on its way, so the Service is
/// progressing towards it rather than steady on the old one or stalled for lack of it. GitOps
/// tools apply the TaskDefinition and at once read the Service's health (Flux's `wait`, Argo CD):
/// without this the Service looks steady, or failed, until the revision exists.
pub fn pending_registration(caches: &Caches, svc: &Service) -> Option<String> {
    let ns = svc.namespace().unwrap_or_default();
    let reference = svc.spec.task_definition.as_deref().unwrap_or_default();
    let (family, pinned) = parse_task_definition_ref(reference);
    if pinned.is_some_and(|n| {
        revisions::resolve(&caches.revisions.store, &ns, &format!("{family}:{n}")).is_ok()
    }) {
        return None;
    }
    caches
        .task_definitions
        .store
        .state()
        .into_iter()
        .filter(|td| td.namespace().as_deref() == Some(ns.as_str()) && td.family() == family)
        .find(|td| {
            let observed = td.status.as_ref().and_then(|s| s.observed_generation);
            // A spec that normalizes to the latest revision registers nothing: not pending.
            let latest = revisions::list(&caches.revisions.store, &ns, &family);
            let hash = revisions::hash(&revisions::normalize(&td.spec));
            let new_spec = latest.last().and_then(|r| revisions::stored_hash(r)) != Some(hash.as_str());
            td.metadata.generation.is_some() && observed != td.metadata.generation && new_spec
        })
        .map(|td| {
            format!(
                "waiting for TaskDefinition {} (generation {}) to register its new revision of {family}",
                td.name_any(),
                td.metadata.generation.unwrap_or_default()
            )
        })
}

/// The family has no revision because its TaskDefinition is invalid (refused by the
/// translator, e.g. by the namespace's policy): say so with the TaskDefinition's own reason,
/// rather than that it does not exist.
fn invalid_family(caches: &Caches, ns: &str, reference: &str) -> Option<Stall> {
    let (family, _) = parse_task_definition_ref(reference);
    let td = caches
        .task_definitions
        .store
        .state()
        .into_iter()
        .find(|td| td.namespace().as_deref() == Some(ns) && td.family() == family)?;
    let st = td.status.as_ref()?;
    if st.status.as_deref() != Some("INVALID") {
        return None;
    }
    let why = st
        .conditions
        .iter()
        .find(|c| c.type_ == crate::api::STALLED && c.is_true())
        .map(|c| c.message.clone())
        .unwrap_or_default();
    Some(Stall {
        reason: "InvalidSpec",
        message: format!(
            "spec.taskDefinition: TaskDefinition {} (family {family}) is invalid, so it has no revision to run: {why}",
            td.name_any()
        ),
    })
}

fn not_found(e: ResolveError) -> Stall {
    Stall {
        reason: "TaskDefinitionNotFound",
        message: format!("spec.taskDefinition: {e}"),
    }
}
