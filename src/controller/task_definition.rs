//! The TaskDefinition controller. Reads from the caches; writes revisions, children, status.
//! resolve (the family's revisions) → validate (the translator) → register a new immutable
//! revision when the normalized spec changed, prune history → apply the family's objects
//! (ServiceAccount, EFS volumes, ExternalSecrets) and sweep stale ones → status.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, ServiceAccount};
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};

use super::apply::{self, Owner};
use super::{Context, Error, events, now, resync, revisions};
use crate::api::{
    Condition, READY, RevisionRecord, STALLED, TaskDefinition, TaskDefinitionStatus, set_condition,
};
use crate::translate::family::{self, FamilyObjects};
use crate::translate::{TaskDefinitionRef, names::sanitize};

/// Revisions kept per family.
pub const HISTORY_LIMIT: usize = 10;

/// Reconcile one TaskDefinition.
pub async fn reconcile(td: Arc<TaskDefinition>, ctx: Arc<Context>) -> Result<Action, Error> {
    ctx.synced().await?;
    let _timer = ctx.metrics.reconcile("TaskDefinition");
    let ns = td.namespace().ok_or(Error::MissingMetadata("namespace"))?;
    let name = td.name_any();
    let api: Api<TaskDefinition> = Api::namespaced(ctx.client.clone(), &ns);
    let revisions_api: Api<ControllerRevision> = Api::namespaced(ctx.client.clone(), &ns);
    let cached = &ctx.caches.revisions.store;
    let owner = Owner::of(td.as_ref())?;
    let family_name = td.family();
    let prev = td.status.clone().unwrap_or_default();
    let generation = td.meta().generation;
    let stamp = now();

    // resolve (from the cache)
    let existing = revisions::list(cached, &ns, &family_name);
    let latest = existing
        .last()
        .map_or(0, |r| r.revision)
        .max(prev.revision.unwrap_or(0));

    // validate (and build) with the revision number it would get
    let normalized = revisions::normalize(&td.spec);
    let hash = revisions::hash(&normalized);
    // The revision this spec last registered, even if the cache has not caught up with it.
    let same_as_latest = existing
        .last()
        .is_some_and(|r| revisions::stored_hash(r) == Some(hash.as_str()))
        || (prev.revision == Some(latest)
            && prev
                .revisions
                .last()
                .is_some_and(|r| r.revision == latest && r.hash == hash));
    let number = if same_as_latest { latest } else { latest + 1 };
    let candidate = TaskDefinitionRef {
        family: family_name.clone(),
        revision: number,
        namespace: Some(ns.clone()),
        spec: td.spec.clone(),
    };
    let mut status = TaskDefinitionStatus {
        revision: prev.revision,
        revisions: prev.revisions.clone(),
        conditions: prev.conditions.clone(),
        ..TaskDefinitionStatus::default()
    };
    let (objects, warnings) = match family::translate(&candidate, &ctx.options) {
        Ok(((_, objects), warnings)) => (objects, warnings),
        Err(invalid) => {
            let message = invalid.to_string();
            status.status = Some("INVALID".into());
            status.observed_generation = generation;
            set_condition(
                &mut status.conditions,
                Condition::new(READY, false, "InvalidSpec", &message),
                generation,
                &stamp,
            );
            set_condition(
                &mut status.conditions,
                Condition::new(STALLED, true, "InvalidSpec", &message),
                generation,
                &stamp,
            );
            if apply::status(&ctx, &api, &name, td.status.as_ref(), &status).await? {
                events::publish(&ctx, td.as_ref(), true, "InvalidSpec", message).await;
            }
            // A permanent input error: wait for the spec to change.
            return Ok(Action::await_change());
        }
    };

    // register a revision when the spec changed
    if !same_as_latest {
        let mut object = revisions::revision_object(&family_name, number, &ns, &normalized, &hash);
        object.metadata.owner_references = Some(vec![owner.reference.clone()]);
        object
            .metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert(apply::OWNER_LABEL.into(), owner.uid.clone());
        match revisions_api.create(&PostParams::default(), &object).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {} // a previous attempt got there
            Err(e) => return Err(e.into()),
        }
        ctx.metrics.write("create", "controllerrevisions");
        events::publish(
            &ctx,
            td.as_ref(),
            false,
            "RevisionRegistered",
            format!("registered {family_name}:{number}"),
        )
        .await;
        status.revisions.push(RevisionRecord {
            revision: number,
            hash: hash.clone(),
            controller_revision: revisions::revision_name(&family_name, number),
            created_at: Some(stamp.clone()),
        });
    }
    // bounded history: the oldest revisions go (a revision just created may not be cached yet)
    let mut all = revisions::list(cached, &ns, &family_name);
    let pending = usize::from(!same_as_latest && !all.iter().any(|r| r.revision == number));
    while all.len() + pending > HISTORY_LIMIT {
        let oldest = all.remove(0);
        match revisions_api
            .delete(&oldest.name_any(), &DeleteParams::background())
            .await
        {
            Ok(_) => ctx.metrics.write("delete", "controllerrevisions"),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    status
        .revisions
        .retain(|r| r.revision == number || all.iter().any(|c| c.revision == r.revision));
    for c in &all {
        if !status.revisions.iter().any(|r| r.revision == c.revision) {
            status.revisions.push(RevisionRecord {
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
    status.revisions.sort_by_key(|r| r.revision);
    status.revision = Some(number);

    // apply the family's objects, then sweep what is no longer produced
    apply_family(&ctx, &owner, objects).await?;

    // status
    status.status = Some("ACTIVE".into());
    status.warnings = warnings.iter().map(|w| w.to_string()).collect();
    status.observed_generation = generation;
    set_condition(
        &mut status.conditions,
        Condition::new(
            READY,
            true,
            "Registered",
            format!("{family_name}:{number} is the latest revision"),
        ),
        generation,
        &stamp,
    );
    set_condition(
        &mut status.conditions,
        Condition::new(STALLED, false, "Registered", ""),
        generation,
        &stamp,
    );
    if apply::status(&ctx, &api, &name, td.status.as_ref(), &status).await?
        && !status.warnings.is_empty()
        && prev.warnings != status.warnings
    {
        events::publish(
            &ctx,
            td.as_ref(),
            true,
            "FieldsWithoutEffect",
            status.warnings.join("; "),
        )
        .await;
    }
    Ok(resync(td.metadata.uid.as_deref()))
}

async fn apply_family(ctx: &Context, owner: &Owner, objects: FamilyObjects) -> Result<(), Error> {
    let FamilyObjects {
        service_account,
        persistent_volumes,
        claims,
        external_secrets,
    } = objects;
    let sa_api: Api<ServiceAccount> = Api::namespaced(ctx.client.clone(), &owner.namespace);
    let pvc_api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &owner.namespace);
    let pv_api: Api<PersistentVolume> = Api::all(ctx.client.clone());
    let c = &ctx.caches;
    let ns = &owner.namespace;
    let mut keep_sa = Vec::new();
    if let Some(sa) = service_account {
        let live = c.service_accounts.get(ns, &sa.name_any());
        keep_sa.push(sa.name_any());
        apply::apply(ctx, &sa_api, live.as_deref(), sa, owner, true).await?;
    }
    let mut keep_pv = Vec::new();
    for pv in persistent_volumes {
        let live = c.volumes.get(&ObjectRef::new(&pv.name_any()));
        keep_pv.push(pv.name_any());
        apply::apply(ctx, &pv_api, live.as_deref(), pv, owner, false).await?;
    }
    let mut keep_pvc = Vec::new();
    for pvc in claims {
        let live = c.claims.get(ns, &pvc.name_any());
        keep_pvc.push(pvc.name_any());
        apply::apply(ctx, &pvc_api, live.as_deref(), pvc, owner, true).await?;
    }
    let mut keep_es = Vec::new();
    for es in external_secrets {
        let es_name = es["metadata"]["name"]
            .as_str()
            .map(|n| sanitize(n, 253))
            .unwrap_or_default();
        if apply::apply_dynamic(ctx, es, "externalsecrets", owner)
            .await?
            .is_none()
        {
            tracing::warn!("ExternalSecret CRD not installed: secrets must be created by hand");
        } else {
            keep_es.push(es_name);
        }
    }
    apply::sweep(ctx, &sa_api, &c.service_accounts.store, owner, &keep_sa).await?;
    apply::sweep(ctx, &pvc_api, &c.claims.store, owner, &keep_pvc).await?;
    apply::sweep(ctx, &pv_api, &c.volumes, owner, &keep_pv).await?;
    let es_ar = kube::core::ApiResource::from_gvk_with_plural(
        &kube::core::GroupVersionKind::gvk("external-secrets.io", "v1", "ExternalSecret"),
        "externalsecrets",
    );
    apply::sweep_dynamic(ctx, &es_ar, owner, &keep_es).await?;
    Ok(())
}
