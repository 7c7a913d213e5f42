//! The Service controller, as a pipeline of named steps, each in its own module:
//! [`resolve`] (the revision to run, the cluster: from the caches) → [`build`] (validate and
//! translate: pure) → [`apply`] (the children, then a sweep of the stale ones: the only step
//! besides [`status`] that talks to the API server) → [`observe`] (pods and workloads as the
//! caches see them: pure) → [`status`] (computed, written only when it changed, Events).
//! A steady service that spreads across zones also goes through [`rebalance`] before apply, and
//! a service split over capacity providers through [`waves`]; after observe, [`unhealthy`]
//! stops the tasks whose essential health check failed, for the scheduler to replace.
//! A reconcile that finds nothing to change makes no API request.

pub mod apply;
pub mod build;
pub mod observe;
pub mod rebalance;
pub mod resolve;
pub mod status;
pub mod unhealthy;
pub mod waves;

use std::sync::Arc;

use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;

use super::apply::Owner;
use super::{Context, Error, events};
use crate::api::Service;

/// Reconcile one ECS Service.
pub async fn reconcile(svc: Arc<Service>, ctx: Arc<Context>) -> Result<Action, Error> {
    ctx.synced().await?;
    let _timer = ctx.metrics.reconcile("Service");
    if initialize_desired_count(&svc, &ctx).await? {
        return Ok(Action::await_change());
    }
    let owner = Owner::of(svc.as_ref())?;
    if let Some(message) = resolve::pending_registration(&ctx.caches, &svc) {
        return status::waiting(&ctx, &svc, message).await;
    }
    let resolved = match resolve::resolve(&ctx.caches, &svc) {
        Ok(r) => r,
        Err(stall) => return status::stall(&ctx, &svc, stall).await,
    };
    // The namespace's policy and Pod Security level (translate::tenancy).
    let (options, ns_warnings) = ctx
        .caches
        .options_for(&ctx.options, &svc.namespace().unwrap_or_default());
    let mut built = match build::build(&svc, &resolved, &options, &ctx.caches) {
        Ok(b) => b,
        Err(stall) => return status::stall(&ctx, &svc, stall).await,
    };
    built.shape.warnings.extend(ns_warnings);
    if let Some(plan) = built.plan.take() {
        return super::strategy::reconcile(&ctx, &svc, &owner, &resolved, built, plan).await;
    }
    let desired = built.shape.desired_count;
    let revision = resolved.effective.revision.to_string();
    let zones = rebalance::view(&ctx.caches, &svc, &built.children, desired, &revision);
    let step = zones
        .as_ref()
        .map_or(rebalance::Step::Idle, rebalance::decide);
    if let Some(v) = &zones {
        rebalance::act(&ctx, &svc, v, &step).await?;
    }
    rebalance::shape(&mut built.children, desired, &step);
    let ns = svc.namespace().unwrap_or_default();
    let held = waves::hold(&ctx.caches, &ns, &mut built.children.deployments);
    if !held.is_empty() {
        tracing::debug!(
            ?held,
            "capacity-provider waves wait for the waves before them"
        );
    }
    let applied = match apply::apply(&ctx, &owner, built.children).await {
        Ok(a) => a,
        Err(Error::NotOwned(message)) => {
            let stall = status::Stall {
                reason: "NameConflict",
                message,
            };
            status::stall(&ctx, &svc, stall).await?;
            // The other object may go (a previous owner's, being garbage collected): look again.
            return Ok(Action::requeue(std::time::Duration::from_secs(30)));
        }
        Err(e) => return Err(e),
    };
    let mut seen = observe::observe(&ctx.caches, &svc, &resolved, &built.shape, &applied);
    let pods = observe::selected(&ctx.caches, &ns, &built.shape.selector);
    let sick = unhealthy::find(&pods, seen.now);
    seen.replaced_unhealthy =
        unhealthy::stop(&ctx, &svc, &pods, &sick, &resolved.effective.family).await?;
    seen.recheck_after = sick.recheck_after;
    if let Some(v) = &zones {
        seen.rebalancing = !matches!(step, rebalance::Step::Idle | rebalance::Step::Balanced)
            || v.tasks.iter().any(|t| t.moving.is_some());
        seen.rebalance = rebalance::notes(v, &step);
    }
    status::write(&ctx, &svc, seen).await
}

/// With autoscaling and no desiredCount, the HPA has no replicas to read through the scale
/// subresource: start it at minCapacity, once (from then on the HPA owns the field).
async fn initialize_desired_count(svc: &Service, ctx: &Context) -> Result<bool, Error> {
    let (None, Some(a)) = (svc.spec.desired_count, &svc.spec.autoscaling) else {
        return Ok(false);
    };
    let ns = svc.namespace().ok_or(Error::MissingMetadata("namespace"))?;
    let start = a.min_capacity.unwrap_or(1).max(1);
    let patch = serde_json::json!({ "spec": { "desiredCount": start } });
    Api::<Service>::namespaced(ctx.client.clone(), &ns)
        .patch(
            &svc.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
    ctx.metrics.write("patch", "services.ecs-operator.io");
    events::publish(
        ctx,
        svc,
        false,
        "DesiredCountInitialized",
        format!("desiredCount set to minCapacity {start} for the HPA to scale"),
    )
    .await;
    Ok(true)
}
