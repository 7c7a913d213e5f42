//! The task definition verbs, over the revisions the operator keeps as ControllerRevisions
//! (`<family>-<N>`, [`crate::controller::revisions`]): `register-task-definition
//! --cli-input-json` (the same JSON `aws ecs register-task-definition` takes, through
//! [`crate::cli::import`] to a TaskDefinition, server-side applied; the answer waits for the
//! operator's revision), `describe-task-definition`, `list-task-definitions` and
//! `deregister-task-definition` (ECS marks a revision INACTIVE: here the annotation
//! `ecs-operator.io/deregistered-at` on its ControllerRevision; the operator keeps serving it).
//! A TaskDefinition or revision the typed structs cannot read is left out with a warning
//! ([`super::tolerant`]); the operator registers no revision for such a TaskDefinition, so
//! describing its family says why.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::ControllerRevision;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::paging::{self, Paging};
use super::shapes::Revision;
use super::tolerant::{self, Unreadable};
use super::{FIELD_MANAGER, Response, Target, api_error, now, shapes, table};
use crate::api::{TaskDefinition, TaskDefinitionSpec};
use crate::cli::import;
use crate::controller::revisions::{REVISION_OF, hash, normalize};
use crate::translate::names::dns_label;
use crate::translate::refs::parse_task_definition_ref;

/// The annotation that marks a revision deregistered (INACTIVE), its value when (RFC 3339).
pub const DEREGISTERED_AT: &str = "ecs-operator.io/deregistered-at";

/// How long register-task-definition waits for the operator to register the revision.
const REGISTER_WAIT: Duration = Duration::from_secs(30);

fn rfc3339(t: k8s_openapi::jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A ControllerRevision as a task definition revision (None for one that holds no spec).
pub fn revision_of(cr: &ControllerRevision) -> Option<Revision> {
    let data = &cr.data.as_ref()?.0;
    Some(Revision {
        family: data.get("family")?.as_str()?.to_string(),
        revision: cr.revision,
        spec: data.get("spec").cloned().unwrap_or(json!({})),
        registered_at: cr
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| rfc3339(t.0)),
        deregistered_at: cr.annotations().get(DEREGISTERED_AT).cloned(),
    })
}

/// Every revision in the namespace (its ControllerRevision's name with it), by family then
/// revision, and the revisions that cannot be read.
pub async fn revisions(t: &Target) -> Result<(Vec<(String, Revision)>, Vec<Unreadable>), String> {
    let selector = format!("{REVISION_OF}=taskdefinition");
    let (list, unreadable) = tolerant::list::<ControllerRevision>(
        t,
        Some(&selector),
        "task definition revisions (controllerrevisions)",
    )
    .await?;
    let mut out: Vec<(String, Revision)> = list
        .iter()
        .filter_map(|cr| Some((cr.name_any(), revision_of(cr)?)))
        .collect();
    out.sort_by(|a, b| (&a.1.family, a.1.revision).cmp(&(&b.1.family, b.1.revision)));
    Ok((out, unreadable))
}

/// The TaskDefinitions of the namespace, and those that cannot be read.
async fn task_definitions(t: &Target) -> Result<(Vec<TaskDefinition>, Vec<Unreadable>), String> {
    tolerant::list::<TaskDefinition>(t, None, "task definitions").await
}

/// The revision a reference names (pure): `family:N` or its ARN that revision; `family` the
/// latest ACTIVE one.
pub fn pick<'a>(all: &'a [(String, Revision)], reference: &str) -> Option<&'a (String, Revision)> {
    let (family, n) = parse_task_definition_ref(reference);
    let of_family = all.iter().filter(|(_, r)| r.family == family);
    match n {
        Some(n) => of_family.into_iter().find(|(_, r)| r.revision == n),
        None => of_family
            .filter(|(_, r)| r.deregistered_at.is_none())
            .max_by_key(|(_, r)| r.revision),
    }
}

fn not_found(reference: &str) -> String {
    format!(
        "ClientException: Unable to describe task definition {reference} (no such revision in this namespace)."
    )
}

fn answer(key: &str, r: &Revision, t: &Target, include_tags: bool, with_tags: bool) -> Response {
    let (td, tags) = shapes::task_definition(r, &t.namespace);
    let table = table::task_definition(&td, now());
    let mut body = json!({ key: td });
    if with_tags {
        body["tags"] = if include_tags { tags } else { json!([]) };
    }
    Response::new(body, table)
}

/// describe-task-definition: `{"taskDefinition": {...}, "tags": [...]}` (tags with
/// `--include TAGS`). No revision, and the family's TaskDefinition (named after it) cannot be
/// read: an error that says so.
pub async fn describe(t: &Target, reference: &str, include_tags: bool) -> Result<Response, String> {
    let (all, bad_revisions) = revisions(t).await?;
    let Some((_, r)) = pick(&all, reference) else {
        let family = parse_task_definition_ref(reference).0;
        let (_, bad) = task_definitions(t).await?;
        let resource = dns_label(&family);
        return Err(
            match bad.iter().chain(&bad_revisions).find(|u| {
                u.name == resource
                    || (u.kind == "controllerrevision"
                        && u.name.starts_with(&format!("{resource}-")))
            }) {
                Some(u) => format!(
                    "ClientException: Unable to describe task definition {reference}: {}/{} in namespace {} cannot be read: {}; {}",
                    u.kind,
                    u.name,
                    u.namespace,
                    u.why,
                    u.fix()
                ),
                None => not_found(reference),
            },
        );
    };
    let mut response = answer("taskDefinition", r, t, include_tags, true);
    response.warnings = tolerant::warnings(&bad_revisions);
    Ok(response)
}

/// list-task-definitions filters (ECS ListTaskDefinitionsRequest).
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub family_prefix: Option<String>,
    /// ACTIVE (default), INACTIVE, or ALL.
    pub status: Option<String>,
    /// Newest first (`--sort DESC`).
    pub descending: bool,
}

/// The ARNs a list-task-definitions answer holds, each with its sort key (pure).
pub fn list_arns(
    all: &[(String, Revision)],
    f: &ListFilter,
    namespace: &str,
) -> Vec<(String, Value)> {
    let status = f.status.as_deref().unwrap_or("ACTIVE");
    let mut arns: Vec<(String, Value)> = all
        .iter()
        .map(|(_, r)| r)
        .filter(|r| {
            f.family_prefix
                .as_ref()
                .is_none_or(|p| r.family.starts_with(p.as_str()))
        })
        .filter(|r| match status {
            "ALL" => true,
            "INACTIVE" => r.deregistered_at.is_some(),
            _ => r.deregistered_at.is_none(),
        })
        .map(|r| {
            // Family, then the revision zero-padded: the key sorts as ECS lists (ASC).
            let key = format!("{}\u{1}{:020}", r.family, r.revision);
            let arn = json!(super::arn::task_definition(
                namespace, &r.family, r.revision
            ));
            (key, arn)
        })
        .collect();
    if f.descending {
        arns.reverse();
    }
    arns
}

/// list-task-definitions: `{"taskDefinitionArns": [...]}`, paged; a warning for each
/// TaskDefinition or revision that cannot be read (the operator registers no revision for it).
pub async fn list(t: &Target, f: &ListFilter, paging: &Paging) -> Result<Response, String> {
    let (all, mut unreadable) = revisions(t).await?;
    let (_, bad) = task_definitions(t).await?;
    unreadable.extend(bad);
    let keyed = list_arns(&all, f, &t.namespace);
    let (arns, token) = paging::page(
        keyed,
        paging,
        f.descending,
        paging::Verb::ListTaskDefinitions,
    );
    let table = table::arns(&arns);
    let body = paging::answer("taskDefinitionArns", arns, token, paging);
    let mut r = Response::new(body, table);
    r.warnings = tolerant::warnings(&unreadable);
    Ok(r)
}

/// deregister-task-definition `family:N`: `{"taskDefinition": {...}}`, status INACTIVE.
pub async fn deregister(t: &Target, reference: &str) -> Result<Response, String> {
    if parse_task_definition_ref(reference).1.is_none() {
        return Err(format!(
            "ClientException: --task-definition {reference}: give family:revision or its ARN (as ECS requires)"
        ));
    }
    let (all, _) = revisions(t).await?;
    let (name, r) = pick(&all, reference).ok_or_else(|| not_found(reference))?;
    let mut r = r.clone();
    if r.deregistered_at.is_none() {
        let at = rfc3339(now());
        let api: Api<ControllerRevision> = Api::namespaced(t.client.clone(), &t.namespace);
        let patch = json!({"metadata": {"annotations": {DEREGISTERED_AT: at}}});
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PatchParams::default()
        };
        api.patch(name, &params, &Patch::Merge(&patch))
            .await
            .map_err(|e| {
                api_error(
                    &format!("deregistering {reference} (controllerrevision {name})"),
                    e,
                )
            })?;
        r.deregistered_at = Some(at);
    }
    Ok(answer("taskDefinition", &r, t, false, false))
}

/// The TaskDefinition resource register-task-definition applies (pure): the input through
/// `import`, named after its family (or after the resource that already holds the family), and
/// the import's warnings (what Kubernetes cannot do all of).
pub fn resource(
    input: &Value,
    namespace: &str,
    existing: &[TaskDefinition],
) -> Result<(Value, Vec<String>), String> {
    let imported =
        import::import(input, Some(namespace)).map_err(|e| format!("--cli-input-json: {e}"))?;
    let warnings: Vec<String> = imported
        .report
        .of(import::Fate::Warned)
        .map(|e| format!("warning: {}: {}", e.path, e.detail))
        .collect();
    let mut tds: Vec<Value> = imported
        .resources
        .into_iter()
        .filter(|r| r["kind"] == "TaskDefinition")
        .collect();
    if tds.len() != 1 {
        return Err(format!(
            "--cli-input-json: expected one task definition (register-task-definition input), found {}",
            tds.len()
        ));
    }
    let mut td = tds.remove(0);
    let family = td["spec"]["family"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if family.is_empty() {
        return Err("--cli-input-json: family is required".into());
    }
    if let Some(holder) = existing.iter().find(|x| x.family() == family) {
        td["metadata"]["name"] = json!(holder.name_any());
    }
    Ok((td, warnings))
}

/// register-task-definition `--cli-input-json`: `{"taskDefinition": {...}, "tags": [...]}` of
/// the revision the operator registered for it (an unchanged spec answers with the revision
/// it already has: revisions are content-addressed here).
pub async fn register(t: &Target, input: &Value) -> Result<Response, String> {
    let api: Api<TaskDefinition> = Api::namespaced(t.client.clone(), &t.namespace);
    // One TaskDefinition that cannot be read must not block registering another family.
    let (existing, _) = task_definitions(t).await?;
    let (object, warnings) = resource(input, &t.namespace, &existing)?;
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let spec: TaskDefinitionSpec = serde_json::from_value(object["spec"].clone())
        .map_err(|e| format!("--cli-input-json: {e}"))?;
    let what = format!("applying taskdefinition {}/{name}", t.namespace);
    let mut applied = api
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&object),
        )
        .await
        .map_err(|e| api_error(&what, e))?;
    let wanted = hash(&normalize(&spec));
    if hash(&normalize(&applied.spec)) != wanted {
        // Members another field manager set and this input leaves out stay after an apply:
        // the revision must be exactly the input, so the spec is replaced.
        applied.spec = spec.clone();
        let params = PostParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PostParams::default()
        };
        applied = api
            .replace(&name, &params, &applied)
            .await
            .map_err(|e| api_error(&what, e))?;
    }
    let generation = applied.metadata.generation;
    let start = Instant::now();
    let revision = loop {
        let td = api
            .get(&name)
            .await
            .map_err(|e| api_error(&format!("reading taskdefinition {}/{name}", t.namespace), e))?;
        let st = td.status.clone().unwrap_or_default();
        if st.observed_generation >= generation
            && let Some(r) = st.revisions.iter().find(|r| r.hash == wanted)
        {
            break r.revision;
        }
        if start.elapsed() > REGISTER_WAIT {
            let why = st
                .conditions
                .iter()
                .find(|c| c.type_ == crate::api::STALLED && c.status == "True")
                .map(|c| format!(": {}", c.message))
                .unwrap_or_else(|| " (is the operator running?)".into());
            return Err(format!(
                "taskdefinition {}/{name} applied, but no revision was registered within {}s{why}",
                t.namespace,
                REGISTER_WAIT.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let family = applied.family();
    let (all, _) = revisions(t).await?;
    let reference = format!("{family}:{revision}");
    let (_, r) = pick(&all, &reference).ok_or_else(|| not_found(&reference))?;
    let mut response = answer("taskDefinition", r, t, true, true);
    response.warnings = warnings.iter().map(|w| format!("{w}\n")).collect();
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev(family: &str, n: i64, gone: bool) -> (String, Revision) {
        (
            format!("{family}-{n}"),
            Revision {
                family: family.into(),
                revision: n,
                deregistered_at: gone.then(|| "2026-01-01T00:00:00Z".into()),
                ..Revision::default()
            },
        )
    }

    #[test]
    fn references_pick_a_revision_or_the_latest_active_one() {
        let all = vec![
            rev("web", 1, false),
            rev("web", 2, false),
            rev("web", 3, true),
            rev("api", 1, false),
        ];
        assert_eq!(pick(&all, "web").unwrap().1.revision, 2);
        assert_eq!(pick(&all, "web:3").unwrap().1.revision, 3);
        assert_eq!(
            pick(&all, "arn:aws:ecs:kubernetes:ns:task-definition/web:1")
                .unwrap()
                .1
                .revision,
            1
        );
        assert!(pick(&all, "web:9").is_none() && pick(&all, "db").is_none());
        let arns = |f: ListFilter| -> Vec<String> {
            let keyed = list_arns(&all, &f, "ns");
            let (arns, _) = paging::page(
                keyed,
                &Paging::All,
                f.descending,
                paging::Verb::ListTaskDefinitions,
            );
            arns.iter()
                .map(|v| v.as_str().unwrap().rsplit('/').next().unwrap().to_string())
                .collect()
        };
        assert_eq!(arns(ListFilter::default()), ["web:1", "web:2", "api:1"]);
        assert_eq!(
            arns(ListFilter {
                family_prefix: Some("we".into()),
                status: Some("ALL".into()),
                descending: true
            }),
            ["web:3", "web:2", "web:1"]
        );
        assert_eq!(
            arns(ListFilter {
                status: Some("INACTIVE".into()),
                ..ListFilter::default()
            }),
            ["web:3"]
        );
    }

    #[test]
    fn register_input_becomes_a_task_definition_named_for_its_family() {
        let input = json!({"family": "web_app", "containerDefinitions": [{"name": "web", "image": "nginx", "memory": 128}]});
        let (td, _) = resource(&input, "shop", &[]).unwrap();
        assert_eq!(td["kind"], "TaskDefinition");
        assert_eq!(td["metadata"]["name"], "web-app");
        assert_eq!(td["metadata"]["namespace"], "shop");
        let holder: TaskDefinition = serde_json::from_value(json!({"apiVersion": "ecs-operator.io/v1alpha1",
            "kind": "TaskDefinition", "metadata": {"name": "frontend"}, "spec": {"family": "web_app"}})).unwrap();
        assert_eq!(
            resource(&input, "shop", &[holder]).unwrap().0["metadata"]["name"],
            "frontend"
        );
        assert!(
            resource(
                &json!({"serviceName": "x", "taskDefinition": "web"}),
                "shop",
                &[]
            )
            .is_err()
        );
    }
}
