//! TaskDefinition revisions as immutable `apps/v1` ControllerRevisions named `<family>-<N>`:
//! the normalized spec (defaults dropped, map order irrelevant) and its hash, and resolving a
//! Service's `family` / `family:N` / ARN reference to one revision.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use std::sync::Arc;

use kube::ResourceExt;
use kube::runtime::reflector::Store;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::api::TaskDefinitionSpec;
use crate::translate::TaskDefinitionRef;
use crate::translate::names::{self, label_value, sanitize};
use crate::translate::refs::parse_task_definition_ref;

/// Label on revisions: which kind of history they belong to.
pub const REVISION_OF: &str = "ecs-operator.io/revision-of";

/// Read-only describe-output members: they never make a new revision.
const READ_ONLY: &[&str] = &[
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "deregisteredAt",
    "deleteRequestedAt",
    "registeredBy",
];

/// The spec as stored in a revision: unset, null and empty members dropped, keys sorted.
pub fn normalize(spec: &TaskDefinitionSpec) -> Value {
    let mut v = serde_json::to_value(spec).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        for k in READ_ONLY {
            m.remove(*k);
        }
    }
    canonical(v).unwrap_or(Value::Object(Map::new()))
}

fn canonical(v: Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::Array(a) => {
            let items: Vec<Value> = a.into_iter().filter_map(canonical).collect();
            (!items.is_empty()).then_some(Value::Array(items))
        }
        Value::Object(m) => {
            let sorted: BTreeMap<String, Value> = m
                .into_iter()
                .filter_map(|(k, v)| canonical(v).map(|v| (k, v)))
                .collect();
            (!sorted.is_empty()).then(|| Value::Object(sorted.into_iter().collect()))
        }
        other => Some(other),
    }
}

/// Hash of a normalized spec (16 hex chars).
pub fn hash(normalized: &Value) -> String {
    let digest = Sha256::digest(normalized.to_string().as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Name of revision `n` of `family`.
pub fn revision_name(family: &str, n: i64) -> String {
    sanitize(&format!("{family}-{n}"), 253)
}

/// The ControllerRevision holding revision `n` of `family`.
pub fn revision_object(
    family: &str,
    n: i64,
    namespace: &str,
    normalized: &Value,
    hash: &str,
) -> ControllerRevision {
    let mut labels = names::base_labels(family);
    labels.insert(REVISION_OF.into(), "taskdefinition".into());
    labels.insert(names::REVISION.into(), n.to_string());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(revision_name(family, n)),
            namespace: Some(namespace.to_string()),
            labels: Some(labels),
            annotations: Some(BTreeMap::from([(
                "ecs-operator.io/spec-hash".to_string(),
                hash.to_string(),
            )])),
            ..ObjectMeta::default()
        },
        data: Some(RawExtension(
            json!({ "family": family, "hash": hash, "spec": normalized }),
        )),
        revision: n,
    }
}

/// Every revision of `family` in `namespace`, oldest first, from the cache.
pub fn list(
    cached: &Store<ControllerRevision>,
    namespace: &str,
    family: &str,
) -> Vec<Arc<ControllerRevision>> {
    let label = label_value(family);
    let mut revisions: Vec<Arc<ControllerRevision>> = cached
        .state()
        .into_iter()
        .filter(|r| {
            r.metadata.namespace.as_deref() == Some(namespace)
                && r.labels().get(names::FAMILY) == Some(&label)
                && r.labels().get(REVISION_OF).map(String::as_str) == Some("taskdefinition")
                && r.data
                    .as_ref()
                    .and_then(|d| d.0.get("family"))
                    .and_then(Value::as_str)
                    == Some(family)
        })
        .collect();
    revisions.sort_by_key(|r| r.revision);
    revisions
}

/// The stored hash of a revision.
pub fn stored_hash(r: &ControllerRevision) -> Option<&str> {
    r.data.as_ref()?.0.get("hash")?.as_str()
}

/// Why a reference does not resolve.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(
        "task definition family '{0}' has no revision in this namespace (create the TaskDefinition, or fix spec.taskDefinition)"
    )]
    NoFamily(String),
    #[error("revision {family}:{revision} does not exist (the family has {available})")]
    NoRevision {
        family: String,
        revision: i64,
        available: String,
    },
    #[error("revision {0} holds no readable spec")]
    Corrupt(String),
}

/// Resolve `family`, `family:N` or a task definition ARN to a revision, from the cache.
pub fn resolve(
    cached: &Store<ControllerRevision>,
    namespace: &str,
    reference: &str,
) -> Result<TaskDefinitionRef, ResolveError> {
    let (family, pinned) = parse_task_definition_ref(reference);
    let revisions = list(cached, namespace, &family);
    let chosen =
        match pinned {
            Some(n) => revisions.iter().find(|r| r.revision == n).ok_or_else(|| {
                ResolveError::NoRevision {
                    family: family.clone(),
                    revision: n,
                    available: if revisions.is_empty() {
                        "none".into()
                    } else {
                        revisions
                            .iter()
                            .map(|r| r.revision.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                }
            })?,
            None => revisions
                .last()
                .ok_or_else(|| ResolveError::NoFamily(family.clone()))?,
        };
    let spec = chosen
        .data
        .as_ref()
        .and_then(|d| d.0.get("spec"))
        .and_then(|s| serde_json::from_value::<TaskDefinitionSpec>(s.clone()).ok())
        .ok_or_else(|| ResolveError::Corrupt(revision_name(&family, chosen.revision)))?;
    Ok(TaskDefinitionRef {
        family,
        revision: chosen.revision,
        namespace: Some(namespace.to_string()),
        spec,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_ignores_order_nulls_empties_and_read_only_fields() {
        let a: TaskDefinitionSpec = serde_json::from_value(json!({
            "family": "web", "cpu": "256", "memory": "512", "volumes": [], "taskRoleArn": null,
            "containerDefinitions": [{"name": "web", "image": "nginx", "environment": [{"name": "A", "value": "1"}]}]
        }))
        .unwrap();
        let b: TaskDefinitionSpec = serde_json::from_value(json!({
            "containerDefinitions": [{"environment": [{"value": "1", "name": "A"}], "image": "nginx", "name": "web"}],
            "memory": "512", "cpu": "256", "family": "web", "revision": 7, "status": "ACTIVE"
        }))
        .unwrap();
        assert_eq!(hash(&normalize(&a)), hash(&normalize(&b)));
        let mut c = a.clone();
        c.memory = Some("1024".into());
        assert_ne!(hash(&normalize(&a)), hash(&normalize(&c)));
    }
}
