//! Objects the operator cannot read ("poison"): a custom resource written through an older or
//! looser CRD version, or with a value its types cannot hold. Such an object must stop nothing
//! else: the watches of the four custom resources decode each object on its own (a watch of
//! typed objects fails its whole list on one bad item, which would stall every controller),
//! leave the unreadable one out of the cache, and report it on the object itself: Ready False,
//! Stalled True with reason `Undecodable` and the JSON path of the problem, and one Event.

use std::collections::HashMap;

use futures::StreamExt;
use futures::channel::mpsc;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::ApiResource;
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
    let api: Api<DynamicObject> = match &p.namespace {
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
