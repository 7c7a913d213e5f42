//! The Task controller. Reads from the caches; writes only pods it creates or stops, and status.
//! resolve (the task definition revision, the cluster) → validate and build (the translator,
//! with `overrides`) → apply the task's pods → status from the pods; when an essential
//! container exits the task stops: its status is recorded, then its pods are deleted.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};

use super::apply::{self, Owner};
use super::revisions;
use super::service::observe::selected;
use super::{Context, Error, events, now, resync, task_status};
use crate::api::{Condition, READY, STALLED, Task, set_condition};
use crate::translate::names::{self, label_value};
use crate::translate::refs::cluster_name;
use crate::translate::task::translate;

/// Reconcile one Task.
pub async fn reconcile(task: Arc<Task>, ctx: Arc<Context>) -> Result<Action, Error> {
    ctx.synced().await?;
    let _timer = ctx.metrics.reconcile("Task");
    let ns = task
        .namespace()
        .ok_or(Error::MissingMetadata("namespace"))?;
    let name = task.name_any();
    let api: Api<Task> = Api::namespaced(ctx.client.clone(), &ns);
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let owner = Owner::of(task.as_ref())?;
    let prev = task.status.clone().unwrap_or_default();
    let generation = task.meta().generation;
    let selector = BTreeMap::from([(names::TASK.to_string(), label_value(&name))]);
    let stopped = prev.last_status.as_deref() == Some("STOPPED");

    if !stopped {
        // resolve (from the caches)
        let td = match revisions::resolve(
            &ctx.caches.revisions.store,
            &ns,
            task.spec.task_definition.as_deref().unwrap_or_default(),
        ) {
            Ok(td) => td,
            Err(e) => {
                return stall(
                    &ctx,
                    &task,
                    &api,
                    "TaskDefinitionNotFound",
                    &format!("spec.taskDefinition: {e}"),
                )
                .await;
            }
        };
        let cluster = task
            .spec
            .cluster
            .as_deref()
            .filter(|c| !c.is_empty())
            .and_then(|c| ctx.caches.clusters.get(&ns, cluster_name(c)));
        // validate + build
        let (pods, warnings) =
            match translate(&task, &td, cluster.as_ref().map(|c| &c.spec), &ctx.options) {
                Ok(built) => built,
                Err(invalid) => {
                    return stall(&ctx, &task, &api, "InvalidSpec", &invalid.to_string()).await;
                }
            };
        // apply
        let existing = selected(&ctx.caches, &ns, &selector);
        for pod in pods {
            // A pod of a started task is never replaced (pods are immutable and tasks run once).
            if !existing
                .iter()
                .any(|p| p.metadata.name == pod.metadata.name)
            {
                apply::apply(&ctx, &pods_api, None, pod, &owner, true).await?;
            }
        }
        let essential: Vec<String> = td
            .spec
            .container_definitions
            .iter()
            .flatten()
            .filter(|c| c.essential.unwrap_or(true))
            .filter_map(|c| c.name.as_deref().map(names::dns_label))
            .collect();
        // status (the pods as the cache sees them)
        let pods: Vec<Pod> = selected(&ctx.caches, &ns, &selector)
            .iter()
            .map(|p| p.as_ref().clone())
            .collect();
        let mut outcome =
            task_status::compute(&prev, &td.display(), &essential, &pods, generation, &now());
        outcome.status.warnings = warnings.iter().map(|w| w.to_string()).collect();
        apply::status(&ctx, &api, &name, task.status.as_ref(), &outcome.status).await?;
        if outcome.stopped_now {
            let reason = outcome.status.stopped_reason.clone().unwrap_or_default();
            events::publish(
                &ctx,
                task.as_ref(),
                outcome.status.stop_code.as_deref() != Some("EssentialContainerExited")
                    || reason.contains("code") && !reason.ends_with("code 0"),
                "TaskStopped",
                reason,
            )
            .await;
        }
        if !outcome.stop_pods {
            // Pod changes wake us; nothing here needs time.
            return Ok(resync(task.metadata.uid.as_deref()));
        }
    }
    // The task has stopped: stop whatever of it still runs.
    for p in selected(&ctx.caches, &ns, &selector) {
        if p.metadata.deletion_timestamp.is_none() {
            match pods_api
                .delete(&p.name_any(), &DeleteParams::default())
                .await
            {
                Ok(_) => ctx.metrics.write("delete", "pods"),
                // Already gone: the cache had not caught up.
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(Action::await_change())
}

async fn stall(
    ctx: &Context,
    task: &Task,
    api: &Api<Task>,
    reason: &str,
    message: &str,
) -> Result<Action, Error> {
    let mut status = task.status.clone().unwrap_or_default();
    let generation = task.meta().generation;
    let stamp = now();
    status.observed_generation = generation;
    set_condition(
        &mut status.conditions,
        Condition::new(READY, false, reason, message),
        generation,
        &stamp,
    );
    set_condition(
        &mut status.conditions,
        Condition::new(STALLED, true, reason, message),
        generation,
        &stamp,
    );
    if apply::status(ctx, api, &task.name_any(), task.status.as_ref(), &status).await? {
        events::publish(ctx, task, true, reason, message.to_string()).await;
    }
    Ok(Action::await_change())
}
