//! The Task controller. Talks to the API server.
//! resolve (the task definition revision, the cluster) → validate and build (the translator,
//! with `overrides`) → apply the task's pods → status from the pods; when an essential
//! container exits the task stops: its status is recorded, then its pods are deleted.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};

use super::apply::{self, Owner};
use super::revisions::{self, ResolveError};
use super::{Context, Error, events, now, task_status};
use crate::api::{Cluster, Condition, READY, STALLED, Task, set_condition};
use crate::translate::names::{self, label_value};
use crate::translate::refs::cluster_name;
use crate::translate::task::translate;

/// Reconcile one Task.
pub async fn reconcile(task: Arc<Task>, ctx: Arc<Context>) -> Result<Action, Error> {
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
    let selector = format!("{}={}", names::TASK, label_value(&name));
    let stopped = prev.last_status.as_deref() == Some("STOPPED");

    if !stopped {
        // resolve
        let revisions_api: Api<ControllerRevision> = Api::namespaced(ctx.client.clone(), &ns);
        let td = match revisions::resolve(
            &revisions_api,
            &ns,
            task.spec.task_definition.as_deref().unwrap_or_default(),
        )
        .await
        {
            Ok(td) => td,
            Err(ResolveError::Kube(e)) => return Err(e.into()),
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
        let cluster = match task.spec.cluster.as_deref().filter(|c| !c.is_empty()) {
            Some(c) => {
                Api::<Cluster>::namespaced(ctx.client.clone(), &ns)
                    .get_opt(cluster_name(c))
                    .await?
            }
            None => None,
        };
        // validate + build
        let (pods, warnings) =
            match translate(&task, &td, cluster.as_ref().map(|c| &c.spec), &ctx.options) {
                Ok(built) => built,
                Err(invalid) => {
                    return stall(&ctx, &task, &api, "InvalidSpec", &invalid.to_string()).await;
                }
            };
        // apply
        let existing = pods_api
            .list_metadata(&ListParams::default().labels(&selector))
            .await?;
        for pod in pods {
            // A pod of a started task is never replaced (pods are immutable and tasks run once).
            if !existing
                .items
                .iter()
                .any(|p| p.metadata.name == pod.metadata.name)
            {
                apply::apply(&ctx, &pods_api, pod, &owner, true).await?;
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
        // status
        let pods = pods_api
            .list(&ListParams::default().labels(&selector))
            .await?
            .items;
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
            return Ok(Action::requeue(Duration::from_secs(60)));
        }
    }
    // The task has stopped: stop whatever of it still runs.
    for p in pods_api
        .list_metadata(&ListParams::default().labels(&selector))
        .await?
    {
        if p.metadata.deletion_timestamp.is_none() {
            pods_api
                .delete(&p.name_any(), &DeleteParams::default())
                .await?;
            ctx.metrics.write("delete", "pods");
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
