//! Talking to the API server about children: server-side apply with the one field manager,
//! owner references and an owner label on every child, no request when the cached live object
//! already holds every field we own ([`super::drift`]; a hash annotation of the desired object
//! makes removed fields a change too), a sweep of owned children no longer produced (read
//! from the cache), and status written only when it changed.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::reflector::Store;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{Context, Error, FIELD_MANAGER, drift};
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

/// Apply a typed child unless `live` (the cached object) already holds every field we own.
/// Returns whether a write happened.
pub async fn apply<K>(
    ctx: &Context,
    api: &Api<K>,
    live: Option<&K>,
    mut obj: K,
    owner: &Owner,
    namespaced: bool,
) -> Result<bool, Error>
where
    K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + Debug,
{
    stamp(obj.meta_mut(), owner, namespaced);
    let hash = short_hash(&serde_json::to_string(&obj)?);
    set_hash(obj.meta_mut(), hash);
    if let Some(live) = live
        && drift::holds(&serde_json::to_value(&obj)?, &serde_json::to_value(live)?)
    {
        return Ok(false);
    }
    if live.is_some() {
        tracing::info!(kind = %K::kind(&()), name = %obj.name_any(), "applying: changed, or edited by someone else");
    } else if let Some(existing) = api.get_metadata_opt(&obj.name_any()).await? {
        // Not in our cache of owned children, yet there: made by someone else. A forced apply
        // would take it over (and its owner reference would let the garbage collector delete
        // it with the Service), so whoever writes a Service or TaskDefinition could seize any
        // object of the namespace by naming it. Refuse instead.
        not_owned(&K::kind(&()), &obj.name_any(), existing.labels(), owner)?;
    }
    api.patch(
        &obj.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&obj),
    )
    .await?;
    ctx.metrics.write("apply", &K::plural(&()));
    Ok(true)
}

/// An object that exists under the name of a child but is not labelled as `owner`'s is
/// someone else's: an error that names it (the reconcile reports it as NameConflict).
fn not_owned(
    kind: &str,
    name: &str,
    labels: &std::collections::BTreeMap<String, String>,
    owner: &Owner,
) -> Result<(), Error> {
    match labels.get(OWNER_LABEL) {
        Some(uid) if *uid == owner.uid => Ok(()),
        _ => Err(Error::NotOwned(format!(
            "a {kind} named {name} already exists in namespace {} and was not made for this object: it is left as it is (rename this object or the existing {kind}, or delete it)",
            owner.namespace
        ))),
    }
}

/// The API resource of a JSON object from the translator (for kinds without Rust types).
pub fn api_resource(value: &Value, plural: &str) -> Option<ApiResource> {
    let (group, version) = value["apiVersion"].as_str()?.split_once('/')?;
    let gvk = GroupVersionKind::gvk(group, version, value["kind"].as_str()?);
    Some(ApiResource::from_gvk_with_plural(&gvk, plural))
}

/// How long what this process applied of an optional kind is trusted without a look: those
/// kinds (ExternalSecret, TargetGroupBinding) are not watched, since their CRDs may be missing.
const DYNAMIC_TRUST: Duration = Duration::from_secs(3600);
/// How long a missing CRD is believed before it is looked for again.
const MISSING_CRD_TRUST: Duration = Duration::from_secs(600);

/// What this process last did with each optional child: its hash, whether the CRD was
/// there, and when.
#[derive(Default)]
pub struct DynamicMemory {
    seen: Mutex<HashMap<String, (String, bool, Instant)>>,
}

impl DynamicMemory {
    fn fresh(&self, key: &str, hash: &str) -> Option<bool> {
        let seen = self.seen.lock().ok()?;
        let (h, installed, at) = seen.get(key)?;
        let trust = if *installed {
            DYNAMIC_TRUST
        } else {
            MISSING_CRD_TRUST
        };
        (h == hash && at.elapsed() < trust).then_some(*installed)
    }

    fn remember(&self, key: String, hash: String, installed: bool) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.insert(key, (hash, installed, Instant::now()));
        }
    }

    fn forget(&self, key: &str) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.remove(key);
        }
    }
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
    let key = format!("{plural}/{}/{name}", owner.namespace);
    if let Some(installed) = ctx.dynamic.fresh(&key, &hash) {
        return Ok(installed.then_some(false));
    }
    match api.get_opt(&name).await {
        Ok(Some(live)) if live.annotations().get(HASH_ANNOTATION) == Some(&hash) => {
            ctx.dynamic.remember(key, hash, true);
            return Ok(Some(false));
        }
        Ok(Some(live)) => {
            let kind = value["kind"].as_str().unwrap_or(plural);
            not_owned(kind, &name, live.labels(), owner)?;
        }
        Ok(None) => {}
        Err(kube::Error::Api(e)) if e.code == 404 => {
            ctx.dynamic.remember(key, hash, false);
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    }
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&value),
    )
    .await?;
    ctx.metrics.write("apply", plural);
    ctx.dynamic.remember(key, hash, true);
    Ok(Some(true))
}

/// Children in `cached` labelled as owned by `uid`.
pub fn owned_by<K: Resource<DynamicType = ()> + Clone>(
    cached: &Store<K>,
    uid: &str,
) -> Vec<Arc<K>> {
    cached
        .state()
        .into_iter()
        .filter(|o| o.labels().get(OWNER_LABEL).map(String::as_str) == Some(uid))
        .collect()
}

/// Delete the cached children of `owner` whose names are not in `keep`.
pub async fn sweep<K>(
    ctx: &Context,
    api: &Api<K>,
    cached: &Store<K>,
    owner: &Owner,
    keep: &[String],
) -> Result<usize, Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let mut deleted = 0;
    for child in owned_by(cached, &owner.uid) {
        let name = child.name_any();
        if !keep.contains(&name) && child.meta().deletion_timestamp.is_none() {
            match api.delete(&name, &DeleteParams::background()).await {
                Ok(_) => {}
                // Already gone: the cache had not caught up.
                Err(kube::Error::Api(e)) if e.code == 404 => continue,
                Err(e) => return Err(e.into()),
            }
            ctx.metrics.write("delete", &K::plural(&()));
            tracing::info!(kind = %K::kind(&()), %name, "deleted a child no longer produced");
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// Sweep an optional dynamic kind; a missing CRD means nothing to sweep. Lists only when the
/// set of children produced changed since this process last swept (or never swept).
pub async fn sweep_dynamic(
    ctx: &Context,
    ar: &ApiResource,
    owner: &Owner,
    keep: &[String],
) -> Result<usize, Error> {
    let key = format!("sweep/{}/{}", ar.plural, owner.uid);
    let fingerprint = keep.join(",");
    if ctx.dynamic.fresh(&key, &fingerprint).is_some() {
        return Ok(0);
    }
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &owner.namespace, ar);
    let list = match api
        .list_metadata(&ListParams::default().labels(&owner.selector()))
        .await
    {
        Ok(l) => l,
        Err(kube::Error::Api(e)) if e.code == 404 => {
            ctx.dynamic.remember(key, fingerprint, false);
            return Ok(0);
        }
        Err(e) => return Err(e.into()),
    };
    let mut deleted = 0;
    for child in list {
        let name = child.name_any();
        if !keep.contains(&name) {
            api.delete(&name, &DeleteParams::background()).await?;
            ctx.metrics.write("delete", &ar.plural);
            ctx.dynamic
                .forget(&format!("{}/{}/{name}", ar.plural, owner.namespace));
            deleted += 1;
        }
    }
    ctx.dynamic.remember(key, fingerprint, true);
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
    match api
        .patch_status(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
    {
        Ok(_) => {}
        // Deleted since the cache saw it: there is no status left to write.
        Err(kube::Error::Api(e)) if e.code == 404 => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    ctx.metrics.write("status", &K::plural(&()));
    Ok(true)
}
