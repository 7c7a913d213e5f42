//! Talking to the API server about children: server-side apply with the one field manager,
//! owner references and an owner label on every child, no write when the desired object did
//! not change (a hash annotation compared with the live object), a sweep of owned children no
//! longer produced, and status written only when it changed.

use std::fmt::Debug;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{Context, Error, FIELD_MANAGER};
use crate::translate::names::short_hash;

/// Label on every child: the UID of the custom resource that produced it (for the sweep, and
/// for cluster-scoped children, which cannot carry a namespaced owner reference).
pub const OWNER_LABEL: &str = "ecs-operator.io/owner-uid";
/// Annotation: hash of the desired object last applied.
pub const HASH_ANNOTATION: &str = "ecs-operator.io/applied-hash";

/// The custom resource that owns children.
#[derive(Clone, Debug)]
pub struct Owner {
    pub reference: OwnerReference,
    pub uid: String,
    pub namespace: String,
}

impl Owner {
    /// The owner reference (controller, blocking deletion) of `obj`.
    pub fn of<K: Resource<DynamicType = ()>>(obj: &K) -> Result<Self, Error> {
        let reference = obj
            .controller_owner_ref(&())
            .ok_or(Error::MissingMetadata("uid"))?;
        Ok(Owner {
            uid: reference.uid.clone(),
            reference,
            namespace: obj
                .meta()
                .namespace
                .clone()
                .ok_or(Error::MissingMetadata("namespace"))?,
        })
    }

    fn selector(&self) -> String {
        format!("{OWNER_LABEL}={}", self.uid)
    }
}

/// Stamp ownership and the hash of the desired state on a child's metadata.
fn stamp(
    meta: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    owner: &Owner,
    namespaced: bool,
) {
    meta.labels
        .get_or_insert_with(Default::default)
        .insert(OWNER_LABEL.into(), owner.uid.clone());
    if namespaced {
        meta.namespace = Some(owner.namespace.clone());
        meta.owner_references = Some(vec![owner.reference.clone()]);
    }
    if let Some(a) = meta.annotations.as_mut() {
        a.remove(HASH_ANNOTATION);
    }
}

fn set_hash(meta: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, hash: String) {
    meta.annotations
        .get_or_insert_with(Default::default)
        .insert(HASH_ANNOTATION.into(), hash);
}

/// Apply a typed child. Returns whether a write happened.
pub async fn apply<K>(
    ctx: &Context,
    api: &Api<K>,
    mut obj: K,
    owner: &Owner,
    namespaced: bool,
) -> Result<bool, Error>
where
    K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + Debug,
{
    stamp(obj.meta_mut(), owner, namespaced);
    let hash = short_hash(&serde_json::to_string(&obj)?);
    set_hash(obj.meta_mut(), hash.clone());
    let name = obj.name_any();
    if let Some(live) = api.get_opt(&name).await?
        && live.annotations().get(HASH_ANNOTATION) == Some(&hash)
    {
        return Ok(false);
    }
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&obj),
    )
    .await?;
    ctx.metrics.write("apply", &K::plural(&()));
    Ok(true)
}

/// The API resource of a JSON object from the translator (for kinds without Rust types).
pub fn api_resource(value: &Value, plural: &str) -> Option<ApiResource> {
    let (group, version) = value["apiVersion"].as_str()?.split_once('/')?;
    let gvk = GroupVersionKind::gvk(group, version, value["kind"].as_str()?);
    Some(ApiResource::from_gvk_with_plural(&gvk, plural))
}

/// Apply an optional child of a kind whose CRD may not be installed (ExternalSecret,
/// TargetGroupBinding). `Ok(None)` means the CRD is missing.
pub async fn apply_dynamic(
    ctx: &Context,
    mut value: Value,
    plural: &str,
    owner: &Owner,
) -> Result<Option<bool>, Error> {
    let Some(ar) = api_resource(&value, plural) else {
        return Ok(None);
    };
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &owner.namespace, &ar);
    value["metadata"]["namespace"] = json!(owner.namespace);
    value["metadata"]["labels"][OWNER_LABEL] = json!(owner.uid);
    value["metadata"]["ownerReferences"] = json!([owner.reference]);
    let hash = short_hash(&value.to_string());
    value["metadata"]["annotations"][HASH_ANNOTATION] = json!(hash);
    let name = value["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    match api.get_opt(&name).await {
        Ok(Some(live)) if live.annotations().get(HASH_ANNOTATION) == Some(&hash) => {
            return Ok(Some(false));
        }
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 404 => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&value),
    )
    .await?;
    ctx.metrics.write("apply", plural);
    Ok(Some(true))
}

/// Delete children of `owner` in `api` whose names are not in `keep`.
pub async fn sweep<K>(
    ctx: &Context,
    api: &Api<K>,
    owner: &Owner,
    keep: &[String],
) -> Result<usize, Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let mut deleted = 0;
    for child in api
        .list_metadata(&ListParams::default().labels(&owner.selector()))
        .await?
    {
        let name = child.name_any();
        if !keep.contains(&name) && child.metadata.deletion_timestamp.is_none() {
            api.delete(&name, &DeleteParams::background()).await?;
            ctx.metrics.write("delete", &K::plural(&()));
            tracing::info!(kind = %K::kind(&()), %name, "deleted a child no longer produced");
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// Sweep an optional dynamic kind; a missing CRD means nothing to sweep.
pub async fn sweep_dynamic(
    ctx: &Context,
    ar: &ApiResource,
    owner: &Owner,
    keep: &[String],
) -> Result<usize, Error> {
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &owner.namespace, ar);
    let list = match api
        .list_metadata(&ListParams::default().labels(&owner.selector()))
        .await
    {
        Ok(l) => l,
        Err(kube::Error::Api(e)) if e.code == 404 => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let mut deleted = 0;
    for child in list {
        let name = child.name_any();
        if !keep.contains(&name) {
            api.delete(&name, &DeleteParams::background()).await?;
            ctx.metrics.write("delete", &ar.plural);
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// Write `status` when it differs from `current` (server-side apply of the status
/// subresource, so fields that disappeared are removed too).
pub async fn status<K, S>(
    ctx: &Context,
    api: &Api<K>,
    name: &str,
    current: Option<&S>,
    status: &S,
) -> Result<bool, Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
    S: Serialize + PartialEq,
{
    if current == Some(status) {
        return Ok(false);
    }
    let patch = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    ctx.metrics.write("status", &K::plural(&()));
    Ok(true)
}
