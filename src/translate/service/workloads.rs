//! The workload step of a Service translation: a DaemonSet for DAEMON, else one Deployment
//! per capacity provider share, each with the ECS rolling-update bounds. Pure.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetSpec, DaemonSetUpdateStrategy, Deployment, DeploymentSpec,
    DeploymentStrategy, RollingUpdateDaemonSet, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::api::ecs::LaunchType;
use crate::api::{ClusterSpec, ServiceSpec};

use super::super::capacity::{self, Share};
use super::super::diagnostics::Report;
use super::super::names::{self, label_value, sanitize};
use super::super::rollout;
use super::Workload;
use super::checks::Percentages;

/// What every workload of one service shares.
pub struct Base<'a> {
    pub name: &'a str,
    pub meta: &'a ObjectMeta,
    pub selector: &'a BTreeMap<String, String>,
    pub template: &'a PodTemplateSpec,
    pub percentages: Percentages,
}

/// The DaemonSet of a DAEMON service.
pub fn daemon_set(base: &Base, report: &mut Report) -> Workload {
    let Percentages { max, min_healthy } = base.percentages;
    let mut meta = base.meta.clone();
    meta.name = Some(base.name.to_string());
    if min_healthy == 100 && max <= 100 {
        report.error(
            "spec.deploymentConfiguration",
            "with minimumHealthyPercent 100 and maximumPercent 100 a DAEMON service can never replace a task",
            Some("lower minimumHealthyPercent".to_string()),
        );
    }
    Workload::DaemonSet(DaemonSet {
        metadata: meta,
        spec: Some(DaemonSetSpec {
            selector: LabelSelector {
                match_labels: Some(base.selector.clone()),
                match_expressions: None,
            },
            template: base.template.clone(),
            update_strategy: Some(DaemonSetUpdateStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDaemonSet {
                    max_unavailable: Some(IntOrString::String(format!(
                        "{}%",
                        100 - min_healthy.clamp(0, 100)
                    ))),
                    max_surge: Some(IntOrString::String(format!(
                        "{}%",
                        (max - 100).clamp(0, 100)
                    ))),
                }),
            }),
            revision_history_limit: Some(10),
            ..DaemonSetSpec::default()
        }),
        ..DaemonSet::default()
    })
}

/// How `desired` tasks are shared over capacity providers: the service's strategy, else the
/// cluster's default (unless a launch type is set), else the launch type's, else one share.
pub fn shares(
    spec: &ServiceSpec,
    desired: i32,
    cluster: Option<&ClusterSpec>,
    report: &mut Report,
) -> Vec<Share> {
    let strategy = spec
        .capacity_provider_strategy
        .clone()
        .filter(|s| !s.is_empty())
        .or_else(|| {
            cluster
                .and_then(|c| c.default_capacity_provider_strategy.clone())
                .filter(|s| !s.is_empty() && spec.launch_type.is_none())
        });
    let one = |provider: &str| {
        vec![Share {
            provider: provider.into(),
            replicas: desired,
        }]
    };
    match (&strategy, spec.launch_type) {
        (Some(s), _) => capacity::split(desired, s, "spec.capacityProviderStrategy", report),
        (None, Some(LaunchType::Fargate)) => one("FARGATE"),
        (None, Some(LaunchType::External)) => {
            report.warn(
                "spec.launchType",
                "EXTERNAL instances are ordinary nodes here; no effect",
            );
            one("")
        }
        _ => one(""),
    }
}

/// One Deployment per share; a split service's workloads are named and selected per provider.
pub fn deployments(
    base: &Base,
    shares: Vec<Share>,
    cluster: Option<&ClusterSpec>,
    deadline: i32,
    report: &mut Report,
) -> Vec<Workload> {
    let split = shares.len() > 1;
    let mut out = Vec::new();
    for share in shares {
        let (template, selector) = share_template(base, &share, split, cluster);
        let Percentages { max, min_healthy } = base.percentages;
        let Some(r) = rollout::rolling(share.replicas, max, min_healthy) else {
            report.error(
                "spec.deploymentConfiguration",
                format!("with {} task(s), maximumPercent {max} and minimumHealthyPercent {min_healthy} allow neither an extra task nor a stopped one, so a deployment could never progress", share.replicas),
                Some("raise maximumPercent or lower minimumHealthyPercent".to_string()),
            );
            continue;
        };
        let mut meta = base.meta.clone();
        meta.name = Some(if split {
            sanitize(&format!("{}-{}", base.name, share.provider), 63)
        } else {
            base.name.to_string()
        });
        out.push(Workload::Deployment(Deployment {
            metadata: meta,
            spec: Some(DeploymentSpec {
                replicas: Some(share.replicas),
                selector: LabelSelector {
                    match_labels: Some(selector),
                    match_expressions: None,
                },
                template,
                strategy: Some(DeploymentStrategy {
                    type_: Some("RollingUpdate".into()),
                    rolling_update: Some(RollingUpdateDeployment {
                        max_surge: Some(IntOrString::Int(r.max_surge)),
                        max_unavailable: Some(IntOrString::Int(r.max_unavailable)),
                    }),
                }),
                progress_deadline_seconds: Some(deadline),
                revision_history_limit: Some(10),
                ..DeploymentSpec::default()
            }),
            ..Deployment::default()
        }));
    }
    out
}

/// The pod template and selector of one share: the provider's node pool, and for a split
/// service the provider label on both (so each Deployment selects only its own pods).
fn share_template(
    base: &Base,
    share: &Share,
    split: bool,
    cluster: Option<&ClusterSpec>,
) -> (PodTemplateSpec, BTreeMap<String, String>) {
    let mut t = base.template.clone();
    let mut sel = base.selector.clone();
    if share.provider.is_empty() {
        return (t, sel);
    }
    let pool = capacity::node_pool(&share.provider, cluster);
    capacity::apply_pool(&pool, t.spec.get_or_insert_with(Default::default));
    if split {
        let value = label_value(&share.provider);
        sel.insert(names::CAPACITY_PROVIDER.into(), value.clone());
        t.metadata
            .get_or_insert_with(Default::default)
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(names::CAPACITY_PROVIDER.into(), value);
    }
    (t, sel)
}
