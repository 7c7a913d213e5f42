//! Objects the operator cannot read ("poison"): a custom resource written through an older or
//! looser CRD version, or with a value its types cannot hold. Such an object must stop nothing
//! else: the watches of the four custom resources decode each object on its own (a watch of
//! typed objects fails its whole list on one bad item, which would stall every controller),
//! leave the unreadable one out of the cache, and report it on the object itself: Ready False,
//! Stalled True with reason `Undecodable` and the JSON path of the problem, and one Event.
//!
//! Even untyped decoding can fail: serde_json (which kube-rs decodes with) refuses JSON nested
//! more than 128 levels, and a free-form field (`spec.kubernetes.podTemplatePatch`) lets a
//! user write that. One such object failed the whole watch of its kind, again and again (found
//! by the bad-input storm of tests/faults.rs). So the watches read [`Tolerant`] objects: the
//! raw JSON first (serde_json skips raw JSON without recursing), then the object, and when that
//! fails, its metadata alone, so that it can still be reported on.

use std::collections::HashMap;

use futures::StreamExt;
use futures::channel::mpsc;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, DynamicResourceScope, ObjectMeta, TypeMeta};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, ResourceExt};
use serde::de::DeserializeOwned;

use super::now;

/// The reason on the conditions and the Event.
pub const REASON: &str = "Undecodable";

/// An object that could not be decoded.
#[derive(Clone, Debug)]
pub struct Poisoned {
    pub resource: ApiResource,
    pub namespace: Option<String>,
    pub name: String,
    pub uid: String,
    pub generation: Option<i64>,
    /// What is wrong, with its JSON path.
    pub error: String,
}

/// An object of a watched kind as the watch read it: decoded untyped, or, when not even that
/// is possible, its metadata and why ([`Tolerant::unreadable`]).
#[derive(Clone, Debug)]
pub struct Tolerant {
    pub object: DynamicObject,
    pub unreadable: Option<String>,
}

/// serde_json's default recursion limit: deeper JSON does not decode.
pub const MAX_DEPTH: usize = 128;

impl<'de> serde::Deserialize<'de> for Tolerant {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Skipping over raw JSON is iterative in serde_json: any depth reads.
        let raw = Box::<serde_json::value::RawValue>::deserialize(d)?;
        match serde_json::from_str::<DynamicObject>(raw.get()) {
            Ok(object) => Ok(Tolerant {
                object,
                unreadable: None,
            }),
            Err(e) => {
                let head: Head =
                    serde_json::from_str(raw.get()).map_err(serde::de::Error::custom)?;
                let why = match deep_path(raw.get(), &head) {
                    Some(path) => format!(
                        "{path}: nested more than {MAX_DEPTH} levels deep, more than the operator (serde_json) reads; flatten the value"
                    ),
                    None => e.to_string(),
                };
                Ok(Tolerant {
                    object: DynamicObject {
                        types: head
                            .api_version
                            .zip(head.kind)
                            .map(|(api_version, kind)| TypeMeta { api_version, kind }),
                        metadata: head.metadata.into(),
                        data: serde_json::Value::Null,
                    },
                    unreadable: Some(why),
                })
            }
        }
    }
}

/// What an unreadable object is still read for: its identity and metadata, and its spec and
/// status as raw JSON. No `flatten` (it buffers every field, recursively); the fields left out
/// are skipped, which is iterative.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Head {
    api_version: Option<String>,
    kind: Option<String>,
    #[serde(default)]
    metadata: HeadMeta,
    spec: Option<Box<serde_json::value::RawValue>>,
    status: Option<Box<serde_json::value::RawValue>>,
}

/// `metadata` without `managedFields`: an object applied server-side carries a copy of its
/// deep field there (`f:spec` → `f:kubernetes` → … as deep as the value), so reading the
/// whole metadata failed too, and with it the watch (found by `kubectl ecs`'s live test).
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct HeadMeta {
    name: Option<String>,
    generate_name: Option<String>,
    namespace: Option<String>,
    uid: Option<String>,
    resource_version: Option<String>,
    generation: Option<i64>,
    creation_timestamp: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
    deletion_timestamp: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
    labels: Option<std::collections::BTreeMap<String, String>>,
    annotations: Option<std::collections::BTreeMap<String, String>>,
    owner_references: Option<Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>>,
    finalizers: Option<Vec<String>>,
}

impl From<HeadMeta> for ObjectMeta {
    fn from(m: HeadMeta) -> Self {
        ObjectMeta {
            name: m.name,
            generate_name: m.generate_name,
            namespace: m.namespace,
            uid: m.uid,
            resource_version: m.resource_version,
            generation: m.generation,
            creation_timestamp: m.creation_timestamp,
            deletion_timestamp: m.deletion_timestamp,
            labels: m.labels,
            annotations: m.annotations,
            owner_references: m.owner_references,
            finalizers: m.finalizers,
            ..ObjectMeta::default()
        }
    }
}

/// Where the object nests too deep: in the user's own field rather than its copy in
/// `metadata.managedFields` (first in the text) — spec, then status, then anywhere.
fn deep_path(raw: &str, head: &Head) -> Option<String> {
    let in_part = |key: &str, part: &Option<Box<serde_json::value::RawValue>>| {
        let path = too_deep_at(part.as_ref()?.get(), MAX_DEPTH - 1)?;
        Some(if path.is_empty() {
            key.to_string()
        } else if path.starts_with('[') {
            format!("{key}{path}")
        } else {
            format!("{key}.{path}")
        })
    };
    in_part("spec", &head.spec)
        .or_else(|| in_part("status", &head.status))
        .or_else(|| too_deep_at(raw, MAX_DEPTH))
}

impl kube::Resource for Tolerant {
    type DynamicType = ApiResource;
    type Scope = DynamicResourceScope;

    fn kind(dt: &ApiResource) -> std::borrow::Cow<'_, str> {
        DynamicObject::kind(dt)
    }
    fn group(dt: &ApiResource) -> std::borrow::Cow<'_, str> {
        DynamicObject::group(dt)
    }
    fn version(dt: &ApiResource) -> std::borrow::Cow<'_, str> {
        DynamicObject::version(dt)
    }
    fn api_version(dt: &ApiResource) -> std::borrow::Cow<'_, str> {
        DynamicObject::api_version(dt)
    }
    fn plural(dt: &ApiResource) -> std::borrow::Cow<'_, str> {
        DynamicObject::plural(dt)
    }
    fn meta(&self) -> &ObjectMeta {
        &self.object.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.object.metadata
    }
}

/// The JSON path (`spec.a[0].b`, cut after 8 steps) where `raw` first nests deeper than
/// `limit` levels; None if it never does. A scan of the text, not a parse: it cannot recurse.
pub fn too_deep_at(raw: &str, limit: usize) -> Option<String> {
    enum Frame {
        Object(Option<String>),
        Array(usize),
    }
    let mut stack: Vec<Frame> = Vec::new();
    let bytes = raw.as_bytes();
    let mut i = 0;
    let mut expect_key = false;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                if expect_key && let Some(Frame::Object(key)) = stack.last_mut() {
                    *key = raw.get(start..i.min(raw.len())).map(str::to_string);
                    expect_key = false;
                }
            }
            open @ (b'{' | b'[') => {
                if stack.len() >= limit {
                    // Each frame's key (or index) is the step into the next one.
                    let mut path = String::new();
                    for (n, f) in stack.iter().enumerate() {
                        if n == 8 {
                            path.push('…');
                            break;
                        }
                        match f {
                            Frame::Object(Some(k)) if path.is_empty() => path.push_str(k),
                            Frame::Object(Some(k)) => {
                                path.push('.');
                                path.push_str(k);
                            }
                            Frame::Object(None) => {}
                            Frame::Array(ix) => path.push_str(&format!("[{ix}]")),
                        }
                    }
                    return Some(path);
                }
                stack.push(if open == b'{' {
                    expect_key = true;
                    Frame::Object(None)
                } else {
                    Frame::Array(0)
                });
            }
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Frame::Array(ix)) => *ix += 1,
                Some(Frame::Object(_)) => expect_key = true,
                None => {}
            },
            _ => {}
        }
        i += 1;
    }
    None
}

/// Decode `obj` as `K`, or say where it fails (`spec.desiredCount: invalid type: ...`).
pub fn decode<K: DeserializeOwned>(obj: &DynamicObject) -> Result<K, String> {
    let value = serde_json::to_value(obj).map_err(|e| e.to_string())?;
    serde_path_to_error::deserialize::<_, K>(value).map_err(|e| {
        let path = e.path().to_string();
        format!("{path}: {}", e.into_inner())
    })
}

impl Poisoned {
    pub fn of(obj: &DynamicObject, resource: &ApiResource, error: String) -> Self {
        Poisoned {
            resource: resource.clone(),
            namespace: obj.namespace(),
            name: obj.name_any(),
            uid: obj.uid().unwrap_or_default(),
            generation: obj.metadata.generation,
            error,
        }
    }

    fn message(&self) -> String {
        format!(
            "the operator cannot read this {}: {}; fix the field (kubectl edit) or re-apply the object with the current CRD",
            self.resource.kind, self.error
        )
    }
}

/// Report each poisoned object once per generation and problem: its status conditions (a merge
/// patch of the status subresource, which the status' own problems do not block) and an Event.
pub async fn report(client: Client, reporter: Reporter, mut rx: mpsc::UnboundedReceiver<Poisoned>) {
    let mut told: HashMap<String, (Option<i64>, String)> = HashMap::new();
    while let Some(p) = rx.next().await {
        let key = (p.generation, p.error.clone());
        if told.get(&p.uid) == Some(&key) {
            continue;
        }
        tracing::warn!(kind = %p.resource.kind, name = %p.name, namespace = ?p.namespace, error = %p.error, "cannot decode an object; it is left alone");
        if let Err(e) = tell(&client, &reporter, &p).await {
            tracing::warn!(error = %e, name = %p.name, "could not report an undecodable object");
            continue;
        }
        told.insert(p.uid.clone(), key);
    }
}

async fn tell(client: &Client, reporter: &Reporter, p: &Poisoned) -> Result<(), kube::Error> {
    // Read back as Tolerant: the patched object may be one that does not decode.
    let api: Api<Tolerant> = match &p.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &p.resource),
        None => Api::all_with(client.clone(), &p.resource),
    };
    let message = p.message();
    let stamp = now();
    let condition = |type_: &str, status: &str| {
        serde_json::json!({
            "type": type_, "status": status, "reason": REASON, "message": message,
            "observedGeneration": p.generation, "lastTransitionTime": stamp,
        })
    };
    let patch = serde_json::json!({
        "status": { "conditions": [condition("Ready", "False"), condition("Stalled", "True")] }
    });
    api.patch_status(&p.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    let reference = ObjectReference {
        api_version: Some(p.resource.api_version.clone()),
        kind: Some(p.resource.kind.clone()),
        name: Some(p.name.clone()),
        namespace: p.namespace.clone(),
        uid: Some(p.uid.clone()),
        ..ObjectReference::default()
    };
    let event = Event {
        type_: EventType::Warning,
        reason: REASON.into(),
        note: Some(message.chars().take(1000).collect()),
        action: "Decode".into(),
        secondary: None,
    };
    Recorder::new(client.clone(), reporter.clone())
        .publish(&event, &reference)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Service;

    #[test]
    fn an_object_nested_past_serde_json_limit_still_reads_with_the_path_of_the_problem() {
        let mut deep = serde_json::json!("leaf");
        for _ in 0..200 {
            deep = serde_json::json!([deep]);
        }
        let text = serde_json::json!({
            "apiVersion": "ecs-operator.io/v1alpha1", "kind": "TaskDefinition",
            "metadata": {"name": "nested", "namespace": "x", "uid": "u"},
            "spec": {"containerDefinitions": [{"name": "a"}], "kubernetes": {"podTemplatePatch": {"metadata": {"x": deep.clone()}}}}
        })
        .to_string();
        assert!(
            serde_json::from_str::<DynamicObject>(&text).is_err(),
            "deeper than serde_json reads"
        );
        let t: Tolerant = serde_json::from_str(&text).unwrap();
        assert_eq!(t.object.metadata.name.as_deref(), Some("nested"));
        let why = t.unreadable.unwrap();
        assert!(
            why.starts_with("spec.kubernetes.podTemplatePatch.metadata.x[0][0][0]"),
            "{why}"
        );
        // Applied server-side, the depth is in metadata.managedFields too: the metadata still
        // reads (without managedFields) and the path is the spec's.
        let applied = serde_json::json!({
            "apiVersion": "ecs-operator.io/v1alpha1", "kind": "TaskDefinition",
            "metadata": {"name": "applied", "namespace": "x", "uid": "u2", "generation": 3,
                "managedFields": [{"manager": "kubectl", "operation": "Apply",
                    "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": deep.clone()}}]},
            "spec": {"kubernetes": {"podTemplatePatch": {"metadata": {"x": deep.clone()}}}}
        })
        .to_string();
        let t: Tolerant = serde_json::from_str(&applied).unwrap();
        assert_eq!(t.object.metadata.uid.as_deref(), Some("u2"));
        assert_eq!(t.object.metadata.generation, Some(3));
        assert!(t.object.metadata.managed_fields.is_none());
        let why = t.unreadable.unwrap();
        assert!(
            why.starts_with("spec.kubernetes.podTemplatePatch.metadata.x[0][0][0]"),
            "{why}"
        );
        // An ordinary object reads as usual.
        let ok: Tolerant = serde_json::from_str(
            r#"{"apiVersion":"v1","kind":"X","metadata":{"name":"a"},"spec":{"a":[1,{"b":"]"}]}}"#,
        )
        .unwrap();
        assert!(ok.unreadable.is_none());
        assert_eq!(ok.object.data["spec"]["a"][1]["b"], "]");
        assert_eq!(
            too_deep_at(r#"{"a":{"b":[{"c":1}]}}"#, 3),
            Some("a.b[0]".into())
        );
        assert_eq!(too_deep_at(r#"{"a":{"b":[{"c":1}]}}"#, 4), None);
    }

    #[test]
    fn decode_names_the_json_path_of_the_problem() {
        let obj: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "ecs-operator.io/v1alpha1", "kind": "Service",
            "metadata": {"name": "bad", "namespace": "x"},
            "spec": {"serviceName": "bad", "desiredCount": "three"}
        }))
        .unwrap();
        let err = decode::<Service>(&obj).unwrap_err();
        assert!(err.starts_with("spec.desiredCount: invalid type"), "{err}");
    }
}
