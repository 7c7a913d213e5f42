//! Reading a kind's list so that one object the typed structs cannot decode stops nothing
//! else: the list is read as [`Tolerant`] objects (raw JSON first, so even an object nested
//! deeper than serde_json's 128 levels reads — the operator's watches do the same, see
//! [`crate::controller::poison`]), each item is decoded on its own, and an unreadable one is
//! set aside with what is wrong and where, for a warning on stderr. A typed list would fail
//! whole on that one object (`list-services` of a namespace with one bad Service would print
//! nothing but a serde error).
//!
//! An object applied server-side carries its deep field in `metadata.managedFields` too
//! (`f:spec` → `f:kubernetes` → … as deep as the value): [`Tolerant`] reads the metadata
//! without it, and names the path in the spec (found by this module's live test).
//!
//! The list is read in pages of Kubernetes `limit` (the AWS CLI's `--page-size`, "the size of
//! each page to get in the service call"), following `continue`.

use kube::Resource;
use kube::api::{Api, ListParams};
use kube::core::ApiResource;
use serde::de::DeserializeOwned;

use super::{Target, api_error};
use crate::controller::poison::{Tolerant, decode};

/// An object left out of a list, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreadable {
    /// The kind, lower-case (`service`, `taskdefinition`).
    pub kind: String,
    /// What kubectl takes for the kind without ambiguity (`services.ecs-operator.io`: plain
    /// `service` is the core Service).
    pub resource: String,
    pub namespace: String,
    pub name: String,
    /// What is wrong, with its JSON path.
    pub why: String,
}

impl Unreadable {
    /// The warning line for stderr.
    pub fn warning(&self) -> String {
        format!(
            "warning: skipping {}/{} in namespace {}: it cannot be read: {}; {}\n",
            self.kind,
            self.name,
            self.namespace,
            self.why,
            self.fix()
        )
    }

    /// How to fix it.
    pub fn fix(&self) -> String {
        format!(
            "fix it with kubectl edit {} {} -n {}",
            self.resource, self.name, self.namespace
        )
    }
}

/// Every object of kind `K` in the target namespace that decodes, and those that do not.
pub async fn list<K>(
    t: &Target,
    selector: Option<&str>,
    what: &str,
) -> Result<(Vec<K>, Vec<Unreadable>), String>
where
    K: Resource<DynamicType = ()> + DeserializeOwned,
{
    let resource = ApiResource::erase::<K>(&());
    let api: Api<Tolerant> = Api::namespaced_with(t.client.clone(), &t.namespace, &resource);
    let kind = resource.kind.to_lowercase();
    let plural = if resource.group.is_empty() {
        resource.plural.clone()
    } else {
        format!("{}.{}", resource.plural, resource.group)
    };
    let mut good = Vec::new();
    let mut bad = Vec::new();
    let mut continue_token: Option<String> = None;
    loop {
        let mut lp = ListParams::default().limit(t.page_size);
        if let Some(s) = selector {
            lp = lp.labels(s);
        }
        if let Some(c) = &continue_token {
            lp = lp.continue_token(c);
        }
        let page = api
            .list(&lp)
            .await
            .map_err(|e| api_error(&format!("listing {what} in namespace {}", t.namespace), e))?;
        for item in page.items {
            let (good_item, bad_item) = sort(item, &kind, &plural, &t.namespace);
            good.extend(good_item);
            bad.extend(bad_item);
        }
        continue_token = page.metadata.continue_.filter(|c| !c.is_empty());
        if continue_token.is_none() {
            break;
        }
    }
    Ok((good, bad))
}

/// One item of a list: decoded, or why not (pure).
pub fn sort<K: DeserializeOwned>(
    item: Tolerant,
    kind: &str,
    resource: &str,
    namespace: &str,
) -> (Option<K>, Option<Unreadable>) {
    let name = item.object.metadata.name.clone().unwrap_or_default();
    let why = match item.unreadable {
        Some(why) => why,
        None => match decode::<K>(&item.object) {
            Ok(k) => return (Some(k), None),
            Err(why) => why,
        },
    };
    let unreadable = Unreadable {
        kind: kind.into(),
        resource: resource.into(),
        namespace: item
            .object
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| namespace.into()),
        name,
        why,
    };
    (None, Some(unreadable))
}

/// The warnings of the objects left out.
pub fn warnings(unreadable: &[Unreadable]) -> String {
    unreadable.iter().map(Unreadable::warning).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Service, TaskDefinition};
    use k8s_openapi::api::apps::v1::ControllerRevision;
    use serde_json::json;

    fn deep(levels: usize) -> serde_json::Value {
        let mut v = json!("leaf");
        for _ in 0..levels {
            v = json!({ "x": v });
        }
        v
    }

    #[test]
    fn a_list_with_one_object_nested_past_128_levels_reads_the_others() {
        let list = json!({
            "apiVersion": "ecs-operator.io/v1alpha1", "kind": "TaskDefinitionList",
            "metadata": {"resourceVersion": "1"},
            "items": [
                {"apiVersion": "ecs-operator.io/v1alpha1", "kind": "TaskDefinition",
                 "metadata": {"name": "web", "namespace": "shop"},
                 "spec": {"family": "web", "containerDefinitions": [{"name": "web", "image": "nginx"}]}},
                {"apiVersion": "ecs-operator.io/v1alpha1", "kind": "TaskDefinition",
                 "metadata": {"name": "nested", "namespace": "shop"},
                 "spec": {"family": "nested", "kubernetes": {"podTemplatePatch": deep(200)}}},
                // Applied server-side: the depth is in managedFields as well, which
                // Tolerant's own fallback (the whole metadata) cannot read.
                {"apiVersion": "ecs-operator.io/v1alpha1", "kind": "TaskDefinition",
                 "metadata": {"name": "applied", "namespace": "shop", "managedFields": [
                     {"manager": "kubectl", "operation": "Apply", "fieldsType": "FieldsV1",
                      "fieldsV1": {"f:spec": deep(200)}}]},
                 "spec": {"family": "applied", "kubernetes": {"podTemplatePatch": deep(200)}}}
            ]
        })
        .to_string();
        // What a typed list does with it: fails whole.
        assert!(serde_json::from_str::<kube::core::ObjectList<TaskDefinition>>(&list).is_err());
        let read: kube::core::ObjectList<Tolerant> = serde_json::from_str(&list).unwrap();
        let (mut good, mut bad) = (Vec::new(), Vec::new());
        for item in read.items {
            let (g, b) = sort::<TaskDefinition>(
                item,
                "taskdefinition",
                "taskdefinitions.ecs-operator.io",
                "shop",
            );
            good.extend(g);
            bad.extend(b);
        }
        assert_eq!(good.len(), 1);
        assert_eq!(good[0].family(), "web");
        assert_eq!(bad.len(), 2);
        assert_eq!(
            (bad[0].name.as_str(), bad[1].name.as_str()),
            ("nested", "applied")
        );
        assert!(
            bad[0].why.starts_with("spec.kubernetes.podTemplatePatch.x"),
            "{}",
            bad[0].why
        );
        assert!(
            bad[1].why.starts_with("spec.kubernetes.podTemplatePatch.x"),
            "{}",
            bad[1].why
        );
        let w = warnings(&bad);
        assert!(
            w.starts_with("warning: skipping taskdefinition/nested in namespace shop: it cannot be read: spec.kubernetes.podTemplatePatch"),
            "{w}"
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_is_named_by_its_path_and_builtin_kinds_decode() {
        let bad: Tolerant = serde_json::from_value(json!({
            "apiVersion": "ecs-operator.io/v1alpha1", "kind": "Service",
            "metadata": {"name": "bad"}, "spec": {"serviceName": "bad", "desiredCount": "three"}
        }))
        .unwrap();
        let (none, why) = sort::<Service>(bad, "service", "services.ecs-operator.io", "shop");
        assert!(none.is_none());
        let why = why.unwrap();
        assert_eq!(why.namespace, "shop");
        assert!(
            why.why.starts_with("spec.desiredCount: invalid type"),
            "{why:?}"
        );
        assert!(
            why.fix()
                .contains("kubectl edit services.ecs-operator.io bad -n shop")
        );
        // List items of built-in kinds come without apiVersion and kind.
        let cr: Tolerant = serde_json::from_value(json!({
            "metadata": {"name": "web-1"}, "revision": 1, "data": {"family": "web"}
        }))
        .unwrap();
        let (cr, none) = sort::<ControllerRevision>(
            cr,
            "controllerrevision",
            "controllerrevisions.apps",
            "shop",
        );
        assert!(none.is_none());
        assert_eq!(cr.unwrap().revision, 1);
    }
}
