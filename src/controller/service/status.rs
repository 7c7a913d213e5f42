//! The Service's status: computed from what was applied and observed
//! ([`crate::controller::service_status`], pure), written only when it changed, with Events for
//! what a user can act on; and the next wake-up: only for what needs time.

use std::time::Duration;

use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;

use super::super::service_status::{self, Inputs};
use super::super::{Context, Error, apply, events, now, resync};
use crate::api::Service;

/// Why a Service cannot be deployed now: it waits for a change of its spec or references.
#[derive(Debug)]
pub struct Stall {
    pub reason: &'static str,
    pub message: String,
}

/// Compute and write the status; publish its notices; decide when to look again.
pub async fn write(ctx: &Context, svc: &Service, inputs: Inputs) -> Result<Action, Error> {
    let api = service_api(ctx, svc)?;
    let prev = svc.status.clone().unwrap_or_default();
    let (status, notices) = service_status::compute(&prev, &inputs);
    let in_progress = status
        .deployments
        .first()
        .and_then(|d| d.rollout_state.as_deref())
        == Some("IN_PROGRESS");
    let rolling_back = notices.iter().any(|n| n.reason == "RollingBack");
    let recheck = inputs.recheck_after;
    apply::status(ctx, &api, &svc.name_any(), svc.status.as_ref(), &status).await?;
    let ns = svc.namespace().unwrap_or_default();
    ctx.metrics.rollout(&ns, &svc.name_any(), &prev, &status);
    for n in notices {
        events::publish(ctx, svc, n.warning, n.reason, n.message).await;
    }
    Ok(if rolling_back {
        // The rollback target is resolved on the next pass, right away.
        Action::requeue(Duration::from_millis(100))
    } else if in_progress {
        // Pod changes wake us too; this covers the rollout deadline.
        Action::requeue(recheck.map_or(Duration::from_secs(10), |r| r.min(Duration::from_secs(10))))
    } else if let Some(r) = recheck {
        // A failing health check's grace ends then: the task may be UNHEALTHY.
        Action::requeue(r + Duration::from_millis(500))
    } else {
        resync(svc.metadata.uid.as_deref())
    })
}

/// A spec that cannot be deployed: say why in status and an Event, then wait for a change.
pub async fn stall(ctx: &Context, svc: &Service, stall: Stall) -> Result<Action, Error> {
    let api = service_api(ctx, svc)?;
    let prev = svc.status.clone().unwrap_or_default();
    let status = service_status::stalled(
        &prev,
        svc.metadata.generation,
        stall.reason,
        &stall.message,
        &now(),
    );
    if apply::status(ctx, &api, &svc.name_any(), svc.status.as_ref(), &status).await? {
        events::publish(ctx, svc, true, stall.reason, stall.message).await;
    }
    Ok(Action::await_change())
}

/// A new revision of the family is being registered: Progressing (not Ready, not Stalled) until
/// it exists; the children are left as they are. The TaskDefinition's status write wakes us.
pub async fn waiting(ctx: &Context, svc: &Service, message: String) -> Result<Action, Error> {
    let api = service_api(ctx, svc)?;
    let prev = svc.status.clone().unwrap_or_default();
    let status = service_status::waiting(&prev, svc.metadata.generation, &message, &now());
    apply::status(ctx, &api, &svc.name_any(), svc.status.as_ref(), &status).await?;
    Ok(Action::requeue(Duration::from_secs(10)))
}

fn service_api(ctx: &Context, svc: &Service) -> Result<Api<Service>, Error> {
    let ns = svc.namespace().ok_or(Error::MissingMetadata("namespace"))?;
    Ok(Api::namespaced(ctx.client.clone(), &ns))
}
