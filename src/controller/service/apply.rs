//! Apply a Service's children and sweep the ones this round did not produce. Talks to the API
//! server, but only for a child that is missing, changed, or was edited by someone else (the
//! live objects come from the caches).

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{PodTemplateSpec, Service as KubeService};
use kube::api::Api;
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::reflector::Store;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::super::apply::{self as children, Owner};
use super::super::{Context, Error};
use super::build::Children;
use crate::translate::networking::TARGET_HEALTH_CONDITION;

/// The names of what was applied, per kind.
#[derive(Debug, Default)]
pub struct Applied {
    pub deployments: Vec<String>,
    pub daemon_sets: Vec<String>,
    pub services: Vec<String>,
    pub hpas: Vec<String>,
    pub target_group_bindings: Vec<String>,
}

/// Apply every child, then sweep the stale ones.
pub async fn apply(ctx: &Context, owner: &Owner, built: Children) -> Result<Applied, Error> {
    let Children {
        deployments,
        daemon_sets,
        services,
        hpas,
        target_group_bindings,
    } = built;
    let c = &ctx.caches;
    // Bindings first: a pod's load balancer readiness gate is only set by the AWS Load Balancer
    // Controller for a binding that exists, so the gates of skipped bindings must go (else the
    // pods would never be Ready).
    let wanted: Vec<String> = target_group_bindings
        .iter()
        .filter_map(|t| t["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    let target_group_bindings = bindings(ctx, owner, target_group_bindings).await?;
    let skipped: Vec<String> = wanted
        .into_iter()
        .filter(|w| !target_group_bindings.contains(w))
        .collect();
    let (mut deployments, mut daemon_sets) = (deployments, daemon_sets);
    for spec in deployments.iter_mut().filter_map(|d| d.spec.as_mut()) {
        drop_gates(&mut spec.template, &skipped);
    }
    for spec in daemon_sets.iter_mut().filter_map(|d| d.spec.as_mut()) {
        drop_gates(&mut spec.template, &skipped);
    }
    let applied = Applied {
        deployments: each(ctx, owner, &c.deployments.store, deployments).await?,
        daemon_sets: each(ctx, owner, &c.daemon_sets.store, daemon_sets).await?,
        services: each(ctx, owner, &c.kube_services.store, services).await?,
        hpas: each(ctx, owner, &c.hpas.store, hpas).await?,
        target_group_bindings,
    };
    sweep(ctx, owner, &applied).await?;
    Ok(applied)
}

/// Remove the readiness gates of the TargetGroupBindings that were not applied.
fn drop_gates(template: &mut PodTemplateSpec, skipped: &[String]) {
    let Some(spec) = template.spec.as_mut() else {
        return;
    };
    if let Some(gates) = spec.readiness_gates.as_mut() {
        gates.retain(|g| {
            !skipped
                .iter()
                .any(|b| g.condition_type == format!("{TARGET_HEALTH_CONDITION}/{b}"))
        });
        if gates.is_empty() {
            spec.readiness_gates = None;
        }
    }
}

async fn each<K>(
    ctx: &Context,
    owner: &Owner,
    cached: &Store<K>,
    objects: Vec<K>,
) -> Result<Vec<String>, Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + Serialize
        + DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &owner.namespace);
    let mut names = Vec::with_capacity(objects.len());
    for obj in objects {
        let name = obj.name_any();
        let live =
            cached.get(&kube::runtime::reflector::ObjectRef::new(&name).within(&owner.namespace));
        children::apply(ctx, &api, live.as_deref(), obj, owner, true).await?;
        names.push(name);
    }
    Ok(names)
}

async fn bindings(
    ctx: &Context,
    owner: &Owner,
    objects: Vec<serde_json::Value>,
) -> Result<Vec<String>, Error> {
    let mut names = Vec::new();
    for tgb in objects {
        let name = tgb["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        match children::apply_dynamic(ctx, tgb, "targetgroupbindings", owner).await? {
            Some(_) => names.push(name),
            None => tracing::warn!(%name, "TargetGroupBinding CRD not installed; skipped"),
        }
    }
    Ok(names)
}

/// Delete the owned children (as the caches see them) that were not applied this round.
async fn sweep(ctx: &Context, owner: &Owner, applied: &Applied) -> Result<(), Error> {
    let Applied {
        deployments,
        daemon_sets,
        services,
        hpas,
        target_group_bindings,
    } = applied;
    let c = &ctx.caches;
    let ns = &owner.namespace;
    let client = &ctx.client;
    children::sweep(
        ctx,
        &Api::<Deployment>::namespaced(client.clone(), ns),
        &c.deployments.store,
        owner,
        deployments,
    )
    .await?;
    children::sweep(
        ctx,
        &Api::<DaemonSet>::namespaced(client.clone(), ns),
        &c.daemon_sets.store,
        owner,
        daemon_sets,
    )
    .await?;
    children::sweep(
        ctx,
        &Api::<KubeService>::namespaced(client.clone(), ns),
        &c.kube_services.store,
        owner,
        services,
    )
    .await?;
    children::sweep(
        ctx,
        &Api::<HorizontalPodAutoscaler>::namespaced(client.clone(), ns),
        &c.hpas.store,
        owner,
        hpas,
    )
    .await?;
    let tgb = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("elbv2.k8s.aws", "v1beta1", "TargetGroupBinding"),
        "targetgroupbindings",
    );
    children::sweep_dynamic(ctx, &tgb, owner, target_group_bindings).await?;
    Ok(())
}
