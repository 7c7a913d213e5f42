//! Register a revision (ECS RegisterTaskDefinition: "Each time you register a task definition
//! with the same family, its revision number is incremented by one"; revisions are immutable):
//! a ControllerRevision holding the normalized spec when it differs from the latest, and a
//! bounded history (the oldest revisions go). Returns the history for status.

use k8s_openapi::api::apps::v1::ControllerRevision;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::reflector::Store;

use super::super::apply::{self, Owner};
use super::super::{Context, Error, events, now, revisions};
use super::{HISTORY_LIMIT, Next};
use crate::api::{RevisionRecord, TaskDefinition, TaskDefinitionStatus};

/// The revision number this spec gets: the latest when the normalized spec is the same (even if
/// the cache has not caught up with the revision this spec last registered), else one more.
pub fn next_revision(
    cached: &Store<ControllerRevision>,
    ns: &str,
    td: &TaskDefinition,
    prev: &TaskDefinitionStatus,
) -> Next {
    let existing = revisions::list(cached, ns, &td.family());
    let latest = existing
        .last()
        .map_or(0, |r| r.revision)
        .max(prev.revision.unwrap_or(0));
    let normalized = revisions::normalize(&td.spec);
    let hash = revisions::hash(&normalized);
    let same_as_latest = existing
        .last()
        .is_some_and(|r| revisions::stored_hash(r) == Some(hash.as_str()))
        || (prev.revision == Some(latest)
            && prev
                .revisions
                .last()
                .is_some_and(|r| r.revision == latest && r.hash == hash));
    let number = if same_as_latest { latest } else { latest + 1 };
    Next {
        normalized,
        hash,
        number,
        same_as_latest,
    }
}

/// Create the revision when needed, prune the history, and return the revision records.
pub async fn register(
    ctx: &Context,
    td: &TaskDefinition,
    owner: &Owner,
    next: &Next,
) -> Result<Vec<RevisionRecord>, Error> {
    let ns = &owner.namespace;
    let family = td.family();
    let api: Api<ControllerRevision> = Api::namespaced(ctx.client.clone(), ns);
    let mut records = td.status.clone().unwrap_or_default().revisions;
    if !next.same_as_latest {
        create(ctx, &api, td, owner, next).await?;
        records.push(RevisionRecord {
            revision: next.number,
            hash: next.hash.clone(),
            controller_revision: revisions::revision_name(&family, next.number),
            created_at: Some(now()),
        });
    }
    // A revision just created may not be in the cache yet: count it.
    let mut all = revisions::list(&ctx.caches.revisions.store, ns, &family);
    let pending =
        usize::from(!next.same_as_latest && !all.iter().any(|r| r.revision == next.number));
    while all.len() + pending > HISTORY_LIMIT {
        let oldest = all.remove(0);
        match api
            .delete(&oldest.name_any(), &DeleteParams::background())
            .await
        {
            Ok(_) => ctx.metrics.write("delete", "controllerrevisions"),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    records.retain(|r| r.revision == next.number || all.iter().any(|c| c.revision == r.revision));
    for c in &all {
        if !records.iter().any(|r| r.revision == c.revision) {
            records.push(RevisionRecord {
                revision: c.revision,
                hash: revisions::stored_hash(c).unwrap_or_default().to_string(),
                controller_revision: c.name_any(),
                created_at: c
                    .metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| t.0.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
            });
        }
    }
    records.sort_by_key(|r| r.revision);
    Ok(records)
}

async fn create(
    ctx: &Context,
    api: &Api<ControllerRevision>,
    td: &TaskDefinition,
    owner: &Owner,
    next: &Next,
) -> Result<(), Error> {
    let family = td.family();
    let mut object = revisions::revision_object(
        &family,
        next.number,
        &owner.namespace,
        &next.normalized,
        &next.hash,
    );
    object.metadata.owner_references = Some(vec![owner.reference.clone()]);
    object
        .metadata
        .labels
        .get_or_insert_with(Default::default)
        .insert(apply::OWNER_LABEL.into(), owner.uid.clone());
    match api.create(&PostParams::default(), &object).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {} // a previous attempt got there
        Err(e) => return Err(e.into()),
    }
    ctx.metrics.write("create", "controllerrevisions");
    let message = format!("registered {family}:{}", next.number);
    events::publish(ctx, td, false, "RevisionRegistered", message).await;
    Ok(())
}
