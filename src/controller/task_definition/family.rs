//! Apply a family's shared objects (ServiceAccount for the task role, EFS PersistentVolumes and
//! claims, ExternalSecrets for `secrets`), then sweep what this revision no longer produces.

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, ServiceAccount};
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::reflector::ObjectRef;

use super::super::apply::{self, Owner};
use super::super::{Context, Error};
use crate::translate::family::FamilyObjects;
use crate::translate::names::sanitize;

pub async fn apply_family(
    ctx: &Context,
    owner: &Owner,
    objects: FamilyObjects,
) -> Result<(), Error> {
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
