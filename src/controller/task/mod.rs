//! The Task controller (ECS RunTask), as a pipeline of named steps: [`resolve`] (the task
//! definition revision and the cluster, from the caches) → build (the translator, with
//! `overrides`: pure) → [`apply`] (create the pods a started task lacks; the only step besides
//! [`status`] that writes) → [`lifecycle`] (the ECS lifecycle from the pods as the cache sees
//! them: pure) → [`status`] (written only when it changed, Events). When an essential container
//! exits, or the `ecs-operator.io/stop-task` annotation asks (ECS StopTask), the task stops:
//! its status is recorded first, then its pods are deleted.

pub mod apply;
pub mod lifecycle;
pub mod resolve;
pub mod status;

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::runtime::controller::Action;

use super::service::observe::selected;
use super::{Context, Error, now, resync};
use crate::api::Task;
use crate::translate::names::{self, label_value};
use crate::translate::task::translate;

/// Reconcile one Task.
pub async fn reconcile(task: Arc<Task>, ctx: Arc<Context>) -> Result<Action, Error> {
    ctx.synced().await?;
    let _timer = ctx.metrics.reconcile("Task");
    let ns = task
        .namespace()
        .ok_or(Error::MissingMetadata("namespace"))?;
    let selector = BTreeMap::from([(names::TASK.to_string(), label_value(&task.name_any()))]);
    let prev = task.status.clone().unwrap_or_default();
    if prev.last_status.as_deref() == Some("STOPPED") {
        // STOPPED is final: stop whatever of the task still runs.
        apply::stop(&ctx, &ns, &selector).await?;
        return Ok(Action::await_change());
    }
    if let Some(reason) = task.annotations().get(lifecycle::STOP_TASK) {
        // StopTask: record the stop first, then stop the pods.
        let outcome = lifecycle::stopped_by_user(&prev, reason, task.metadata.generation, &now());
        status::write(&ctx, &task, &outcome).await?;
        apply::stop(&ctx, &ns, &selector).await?;
        return Ok(Action::await_change());
    }
    let resolved = match resolve::resolve(&ctx.caches, &task, &ns) {
        Ok(r) => r,
        Err((reason, message)) => return status::stall(&ctx, &task, reason, &message).await,
    };
    let cluster = resolved.cluster.as_ref().map(|c| &c.spec);
    // The namespace's policy and Pod Security level (translate::tenancy).
    let (options, ns_warnings) = ctx.caches.options_for(&ctx.options, &ns);
    let (pods, warnings) = match translate(&task, &resolved.revision, cluster, &options) {
        Ok(built) => built,
        Err(invalid) => {
            return status::stall(&ctx, &task, "InvalidSpec", &invalid.to_string()).await;
        }
    };
    apply::create_missing(&ctx, &task, &ns, &selector, pods).await?;
    let pods: Vec<Pod> = selected(&ctx.caches, &ns, &selector)
        .iter()
        .map(|p| p.as_ref().clone())
        .collect();
    let containers = lifecycle::Containers::of(
        &resolved.revision,
        ctx.options
            .server_version
            .is_none_or(|v| v >= crate::translate::restart::RULES_SINCE),
    );
    let mut outcome = lifecycle::compute(
        &prev,
        &resolved.revision.display(),
        &containers,
        &pods,
        task.metadata.generation,
        &now(),
    );
    outcome.status.warnings = warnings
        .iter()
        .map(|w| w.to_string())
        .chain(ns_warnings)
        .collect();
    status::write(&ctx, &task, &outcome).await?;
    if outcome.stop_pods {
        apply::stop(&ctx, &ns, &selector).await?;
        return Ok(Action::await_change());
    }
    // Pod changes wake us; the health grace period is the only thing here that needs time.
    Ok(outcome
        .recheck_after
        .map(Action::requeue)
        .unwrap_or_else(|| resync(task.metadata.uid.as_deref())))
}
