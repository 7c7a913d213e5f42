//! What a task definition family owns besides its revisions: the ServiceAccount for
//! `taskRoleArn` (IRSA), the EFS PersistentVolumes and claims, and optional ExternalSecrets.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::diagnostics::{Diagnostic, Invalid, Report};
use super::names::{dns_label, sanitize};
use super::pod::{PodPlan, pod_template};
use super::secrets::{SecretRef, external_secret};
use super::{Context, Options, TaskDefinitionRef, fates};

/// The children of a TaskDefinition.
#[derive(Clone, Debug, Default)]
pub struct FamilyObjects {
    pub service_account: Option<ServiceAccount>,
    /// Cluster-scoped: labelled, not owned (a namespaced owner cannot own them).
    pub persistent_volumes: Vec<PersistentVolume>,
    pub claims: Vec<PersistentVolumeClaim>,
    /// `external-secrets.io/v1` ExternalSecrets, when `spec.kubernetes.externalSecrets` is set.
    pub external_secrets: Vec<serde_json::Value>,
}

/// Name of the ServiceAccount made for a family's `taskRoleArn`.
pub fn service_account_name(family: &str) -> String {
    sanitize(&format!("{family}-task-role"), 253)
}

/// Validate a task definition revision and build its pod plan and family objects: every error
/// at once, and the warnings (including those of the field-fate table).
pub fn translate(
    td: &TaskDefinitionRef,
    options: &Options,
) -> Result<((PodPlan, FamilyObjects), Vec<Diagnostic>), Invalid> {
    let ctx = Context::new(td, options);
    let mut report = Report::default();
    check(td, &mut report);
    let plan = pod_template(td, &ctx, &mut report);
    let objects = family_objects(td, &ctx, &plan);
    report.into_result((plan, objects))
}

/// Checks of the whole spec: required members and the field-fate table.
pub fn check(td: &TaskDefinitionRef, report: &mut Report) {
    let spec = &td.spec;
    let value = serde_json::to_value(spec).unwrap_or_default();
    fates::walk("RegisterTaskDefinitionRequest", &value, "spec", report);
    if td.family.is_empty() {
        report.error("spec.family", "is required (or name the object)", None);
    } else if td.family.len() > 255
        || !td
            .family
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        report.error(
            "spec.family",
            format!(
                "'{}' may have up to 255 letters, digits, '-' and '_'",
                td.family
            ),
            None,
        );
    }
    let defs = spec.container_definitions.as_deref().unwrap_or_default();
    if defs.is_empty() {
        report.error(
            "spec.containerDefinitions",
            "needs at least one container",
            None,
        );
    }
    if defs.len() > 10 {
        report.error(
            "spec.containerDefinitions",
            format!("has {} containers; ECS allows 10", defs.len()),
            None,
        );
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, c) in defs.iter().enumerate() {
        let path = format!("spec.containerDefinitions[{i}]");
        match c.name.as_deref().filter(|n| !n.is_empty()) {
            None => report.error(format!("{path}.name"), "is required", None),
            Some(n) => {
                if n.len() > 255
                    || !n
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    report.error(
                        format!("{path}.name"),
                        format!(
                            "'{n}' may have up to 255 letters, digits, '-' and '_' (as in ECS)"
                        ),
                        None,
                    );
                }
                let k8s = dns_label(n);
                if k8s != n {
                    report.warn(format!("{path}.name"), format!("the Kubernetes container is named '{k8s}' (container names are DNS labels)"));
                }
                if let Some(first) = seen.insert(k8s.clone(), i) {
                    report.error(format!("{path}.name"), format!("'{n}' duplicates the name of spec.containerDefinitions[{first}] (as the Kubernetes name '{k8s}')"), None);
                }
            }
        }
        match c.image.as_deref().map(str::trim) {
            None | Some("") => report.error(format!("{path}.image"), "is required", None),
            Some(img) if img.contains("${") => report.error(
                format!("{path}.image"),
                format!("'{img}' still contains a placeholder"),
                Some(
                    "substitute the image (e.g. with envsubst or your CD tool) before applying"
                        .to_string(),
                ),
            ),
            Some(_) => {}
        }
        let mut ports: BTreeMap<String, usize> = BTreeMap::new();
        for (j, p) in c.port_mappings.iter().flatten().enumerate() {
            if let Some(n) = p.name.as_deref()
                && let Some(first) = ports.insert(n.to_string(), j)
            {
                report.error(
                    format!("{path}.portMappings[{j}].name"),
                    format!("duplicates the name of portMappings[{first}] ('{n}')"),
                    None,
                );
            }
        }
    }
    // Port names must be unique across the pod for Services to target them.
    let mut pod_ports: BTreeMap<&str, String> = BTreeMap::new();
    for (i, c) in defs.iter().enumerate() {
        for (j, p) in c.port_mappings.iter().flatten().enumerate() {
            if let Some(n) = p.name.as_deref() {
                let here = format!("spec.containerDefinitions[{i}].portMappings[{j}].name");
                match pod_ports.get(n) {
                    Some(first)
                        if !first.starts_with(&format!("spec.containerDefinitions[{i}]")) =>
                    {
                        report.error(
                            here,
                            format!("duplicates the port name at {first} ('{n}')"),
                            None,
                        )
                    }
                    _ => {
                        pod_ports.entry(n).or_insert(here);
                    }
                }
            }
        }
    }
}

fn family_objects(td: &TaskDefinitionRef, ctx: &Context, plan: &PodPlan) -> FamilyObjects {
    let spec = &td.spec;
    let mut out = FamilyObjects::default();
    let own_sa = ctx
        .pod_settings
        .and_then(|s| s.service_account_name.as_ref())
        .is_none();
    if let Some(role) = spec
        .task_role_arn
        .as_deref()
        .filter(|r| !r.is_empty() && own_sa)
    {
        out.service_account = Some(ServiceAccount {
            metadata: ObjectMeta {
                name: Some(service_account_name(&td.family)),
                namespace: td.namespace.clone(),
                labels: Some(ctx.labels.clone()),
                annotations: Some(BTreeMap::from([(
                    "eks.amazonaws.com/role-arn".to_string(),
                    role.to_string(),
                )])),
                ..ObjectMeta::default()
            },
            ..ServiceAccount::default()
        });
    }
    out.persistent_volumes = plan.volumes.persistent_volumes.clone();
    out.claims = plan.volumes.claims.clone();
    if let Some(eso) = ctx.pod_settings.and_then(|s| s.external_secrets.as_ref()) {
        let mut by_secret: BTreeMap<(&str, bool), Vec<&SecretRef>> = BTreeMap::new();
        for r in &plan.secrets {
            let refs = by_secret
                .entry((r.secret_name.as_str(), r.ssm))
                .or_default();
            if !refs.iter().any(|x| x.key == r.key) {
                refs.push(r);
            }
        }
        let kind = eso.store_kind.as_deref().unwrap_or("ClusterSecretStore");
        let refresh = eso.refresh_interval.as_deref().unwrap_or("1h");
        for ((name, ssm), refs) in by_secret {
            let store = if ssm {
                eso.parameter_store_store
                    .as_deref()
                    .unwrap_or(&eso.secrets_manager_store)
            } else {
                &eso.secrets_manager_store
            };
            out.external_secrets.push(external_secret(
                name,
                td.namespace.as_deref(),
                &refs,
                store,
                kind,
                refresh,
                &ctx.labels,
            ));
        }
    }
    out
}
