//! The TaskDefinition controller, as a pipeline of named steps: resolve (the family's revisions,
//! from the cache) → validate and build (the translator, with the revision number the spec
//! would get: pure) → [`register`] (a new immutable ControllerRevision when the normalized spec
//! changed — ECS RegisterTaskDefinition — and bounded history) → [`family`] (the family's
//! objects, then a sweep) → [`followers`] (have the Services of the family picked the latest
//! revision up?) → [`status`] (written only when it changed, Events).

pub mod family;
pub mod followers;
pub mod register;
pub mod status;

use std::sync::Arc;

use kube::ResourceExt;
use kube::runtime::controller::Action;

use super::apply::Owner;
use super::{Context, Error, resync};
use crate::api::TaskDefinition;
use crate::translate::TaskDefinitionRef;

/// Revisions kept per family.
pub const HISTORY_LIMIT: usize = 10;

/// Reconcile one TaskDefinition.
pub async fn reconcile(td: Arc<TaskDefinition>, ctx: Arc<Context>) -> Result<Action, Error> {
    ctx.synced().await?;
    let _timer = ctx.metrics.reconcile("TaskDefinition");
    let ns = td.namespace().ok_or(Error::MissingMetadata("namespace"))?;
    let owner = Owner::of(td.as_ref())?;
    let prev = td.status.clone().unwrap_or_default();
    let next = register::next_revision(&ctx.caches.revisions.store, &ns, &td, &prev);
    let candidate = TaskDefinitionRef {
        family: td.family(),
        revision: next.number,
        namespace: Some(ns.clone()),
        spec: td.spec.clone(),
    };
    let (options, _) = ctx.caches.options_for(&ctx.options, &ns);
    let (objects, warnings) = match crate::translate::family::translate(&candidate, &options) {
        Ok(((_, objects), warnings)) => (objects, warnings),
        // A permanent input error: wait for the spec to change.
        Err(invalid) => return status::invalid(&ctx, &td, &invalid.to_string()).await,
    };
    let revisions = register::register(&ctx, &td, &owner, &next).await?;
    match family::apply_family(&ctx, &owner, objects).await {
        Ok(()) => {}
        // A name the family's ServiceAccount or claims need is someone else's object.
        Err(Error::NotOwned(message)) => {
            status::invalid(&ctx, &td, &message).await?;
            return Ok(Action::requeue(std::time::Duration::from_secs(30)));
        }
        Err(e) => return Err(e),
    }
    let warnings: Vec<String> = warnings.iter().map(|w| w.to_string()).collect();
    let behind = followers::behind(&ctx.caches, &td, next.number);
    status::registered(&ctx, &td, next.number, revisions, warnings, &behind).await?;
    Ok(resync(td.metadata.uid.as_deref()))
}

/// What a spec registers as: its normalized form and hash, and the revision number.
pub struct Next {
    pub normalized: serde_json::Value,
    pub hash: String,
    pub number: i64,
    /// The spec is the latest revision already: nothing to register.
    pub same_as_latest: bool,
}
