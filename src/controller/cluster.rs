//! The Cluster controller. Reads from the caches; writes only status, when it changed.
//! Counts what `describe-clusters` reports: registered instances (nodes in the capacity
//! providers' pools), running and pending tasks, active services. Polled (from the caches, so
//! a poll that changes nothing makes no request), since node and task counts change without
//! the Cluster changing.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use kube::api::Api;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};

use super::{Context, Error, apply, now};
use crate::api::{
    CapacityProviderStatus, Cluster, ClusterStatus, Condition, READY, STALLED, set_condition,
};
use crate::translate::capacity::node_pool;
use crate::translate::refs::cluster_name;

/// How often the counts are refreshed.
const POLL: Duration = Duration::from_secs(30);

/// Reconcile one Cluster.
pub async fn reconcile(cluster: Arc<Cluster>, ctx: Arc<Context>) -> Result<Action, Error> {
    ctx.synced().await?;
    let _timer = ctx.metrics.reconcile("Cluster");
    let ns = cluster
        .namespace()
        .ok_or(Error::MissingMetadata("namespace"))?;
    let name = cluster.name_any();
    let generation = cluster.meta().generation;
    let spec = &cluster.spec;

    let mut providers: BTreeSet<String> =
        spec.capacity_providers.iter().flatten().cloned().collect();
    providers.extend(
        spec.kubernetes
            .iter()
            .flat_map(|k| k.capacity_providers.keys().cloned()),
    );
    let nodes = ctx.caches.nodes.state();
    let mut registered: BTreeSet<String> = BTreeSet::new();
    let mut per_provider = Vec::new();
    for p in &providers {
        let pool = node_pool(p, Some(spec));
        let matching: Vec<String> = nodes
            .iter()
            .filter(|n| {
                pool.node_selector
                    .iter()
                    .all(|(k, v)| n.labels().get(k) == Some(v))
            })
            .map(|n| n.name_any())
            .collect();
        per_provider.push(CapacityProviderStatus {
            name: p.clone(),
            instances: matching.len() as i32,
        });
        registered.extend(matching);
    }
    if providers.is_empty() {
        registered.extend(nodes.iter().map(|n| n.name_any()));
    }

    // Services and tasks that name this cluster (by name or ARN; unset means "default").
    let mine = |c: &Option<String>| {
        cluster_name(c.as_deref().unwrap_or("default")) == name
            || c.as_deref().map(cluster_name) == spec.cluster_name.as_deref()
    };
    let in_ns = |o: &Option<String>| o.as_deref() == Some(ns.as_str());
    let services = ctx.caches.services.store.state();
    let tasks = ctx.caches.tasks.store.state();
    let (mut running, mut pending, mut active) = (0, 0, 0);
    for s in services
        .iter()
        .filter(|s| in_ns(&s.metadata.namespace) && mine(&s.spec.cluster))
    {
        active += 1;
        let st = s.status.clone().unwrap_or_default();
        running += st.running_count;
        pending += st.pending_count;
    }
    for t in tasks
        .iter()
        .filter(|t| in_ns(&t.metadata.namespace) && mine(&t.spec.cluster))
    {
        match t.status.as_ref().and_then(|s| s.last_status.as_deref()) {
            Some("RUNNING") => running += 1,
            Some("STOPPED") => {}
            _ => pending += 1,
        }
    }

    let stamp = now();
    let mut status = cluster.status.clone().unwrap_or_default();
    status = ClusterStatus {
        status: Some("ACTIVE".into()),
        registered_container_instances_count: registered.len() as i32,
        running_tasks_count: running,
        pending_tasks_count: pending,
        active_services_count: active,
        capacity_providers: per_provider,
        conditions: std::mem::take(&mut status.conditions),
        observed_generation: generation,
    };
    let empty: Vec<&CapacityProviderStatus> = status
        .capacity_providers
        .iter()
        .filter(|p| p.instances == 0)
        .collect();
    let message = if empty.is_empty() {
        format!(
            "{} container instances registered",
            status.registered_container_instances_count
        )
    } else {
        format!(
            "capacity providers without nodes: {}",
            empty
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    set_condition(
        &mut status.conditions,
        Condition::new(
            READY,
            empty.is_empty(),
            if empty.is_empty() {
                "Active"
            } else {
                "NoInstances"
            },
            message,
        ),
        generation,
        &stamp,
    );
    set_condition(
        &mut status.conditions,
        Condition::new(STALLED, false, "Active", ""),
        generation,
        &stamp,
    );
    let api: Api<Cluster> = Api::namespaced(ctx.client.clone(), &ns);
    apply::status(&ctx, &api, &name, cluster.status.as_ref(), &status).await?;
    Ok(Action::requeue(POLL))
}
