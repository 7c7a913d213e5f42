//! Resolve a Task's references from the caches (no API request): the task definition revision
//! (`family`, `family:N` or an ARN) and the cluster, if it names one.

use super::super::cache::Caches;
use super::super::revisions;
use crate::api::{Cluster, Task};
use crate::translate::TaskDefinitionRef;
use crate::translate::refs::cluster_name;

/// What a Task runs on.
pub struct Resolved {
    pub revision: TaskDefinitionRef,
    pub cluster: Option<std::sync::Arc<Cluster>>,
}

/// The revision and cluster, or the stall reason and message naming the field.
pub fn resolve(caches: &Caches, task: &Task, ns: &str) -> Result<Resolved, (&'static str, String)> {
    let reference = task.spec.task_definition.as_deref().unwrap_or_default();
    let revision = revisions::resolve(&caches.revisions.store, ns, reference).map_err(|e| {
        (
            "TaskDefinitionNotFound",
            format!("spec.taskDefinition: {e}"),
        )
    })?;
    let cluster = task
        .spec
        .cluster
        .as_deref()
        .filter(|c| !c.is_empty())
        .and_then(|c| caches.clusters.get(ns, cluster_name(c)));
    Ok(Resolved { revision, cluster })
}
