//! The writes of the Task controller besides status: create the pods a started task lacks
//! (a task's pods are never replaced: pods are immutable and ECS tasks run once), and stop
//! (delete) the pods of a stopped task.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams};

use super::super::apply::{self, Owner};
use super::super::service::observe::selected;
use super::super::{Context, Error};
use crate::api::Task;

/// Create each pod of the task that does not exist yet (as the cache sees it).
pub async fn create_missing(
    ctx: &Context,
    task: &Task,
    ns: &str,
    selector: &BTreeMap<String, String>,
    pods: Vec<Pod>,
) -> Result<(), Error> {
    let owner = Owner::of(task)?;
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    let existing = selected(&ctx.caches, ns, selector);
    for pod in pods {
        if !existing
            .iter()
            .any(|p| p.metadata.name == pod.metadata.name)
        {
            apply::apply(ctx, &api, None, pod, &owner, true).await?;
        }
    }
    Ok(())
}

/// Delete every pod of the task not already being deleted.
pub async fn stop(
    ctx: &Context,
    ns: &str,
    selector: &BTreeMap<String, String>,
) -> Result<(), Error> {
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    for p in selected(&ctx.caches, ns, selector) {
        if p.metadata.deletion_timestamp.is_some() {
            continue;
        }
        match api.delete(&p.name_any(), &DeleteParams::default()).await {
            Ok(_) => ctx.metrics.write("delete", "pods"),
            // Already gone: the cache had not caught up.
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
