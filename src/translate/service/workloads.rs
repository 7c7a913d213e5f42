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
use super::super::rollout::{self, ShareRolling};
use super::Workload;
use super::checks::Percentages;

/// What every workload of one service shares.
pub struct Base<'a> {
    pub name: &'a str,
    pub meta: &'a ObjectMeta,
    pub selector: &'a BTreeMap<String, String>,
    pub template: &'a PodTemplateSpec,
    pub percentages: Percentages,
    /// `minReadySeconds` of the workloads: ECS's 40-second rule (see `service::min_ready_seconds`).
    pub min_ready_seconds: i32,
}

/// The DaemonSet of a DAEMON service. DeploymentConfiguration (ECS API model): the healthy
/// minimum is ceil(N × min / 100) of the N tasks (one per eligible node), the total at most
/// floor(N × max / 100). A DaemonSet given percentages rounds maxUnavailable *up*, which
/// lets more tasks stop than ECS does, so with the eligible node count known (`nodes`, from the
/// operator, which re-renders as nodes come and go) the bounds are ECS's integers.
pub fn daemon_set(base: &Base, nodes: Option<i32>, report: &mut Report) -> Workload {
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
    let (max_unavailable, max_surge) = match nodes {
        Some(n) => {
            let (unavailable, surge) = daemon_bounds(n, max, min_healthy, report);
            (IntOrString::Int(unavailable), IntOrString::Int(surge))
        }
        None => {
            report.warn(
                "spec.deploymentConfiguration",
                "a DAEMON service's bounds depend on its number of eligible nodes: without a cluster to count them they are percentages, which a DaemonSet rounds up where ECS rounds the healthy minimum up (the operator writes ECS's numbers)",
            );
            (
                IntOrString::String(format!("{}%", 100 - min_healthy.clamp(0, 100))),
                IntOrString::String(format!("{}%", (max - 100).clamp(0, 100))),
            )
        }
    };
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
                    max_unavailable: Some(max_unavailable),
                    max_surge: Some(max_surge),
                }),
            }),
            revision_history_limit: Some(10),
            min_ready_seconds: (base.min_ready_seconds > 0).then_some(base.min_ready_seconds),
        }),
        ..DaemonSet::default()
    })
}

/// (maxUnavailable, maxSurge) of a DaemonSet on `nodes` eligible nodes, with ECS's rounding.
/// A DaemonSet refuses both at zero: then one task at a time is replaced, with a warning.
pub fn daemon_bounds(nodes: i32, max: i32, min_healthy: i32, report: &mut Report) -> (i32, i32) {
    let r = rollout::rolling(nodes.max(0), max.max(100), min_healthy.clamp(0, 100));
    match r {
        Some(r) if nodes > 0 => (r.max_unavailable, r.max_surge.min(nodes)),
        Some(_) => (1, 0),
        None => {
            report.warn(
                "spec.deploymentConfiguration",
                format!("with {nodes} eligible node(s), maximumPercent {max} and minimumHealthyPercent {min_healthy} let no task stop or start early: tasks are replaced one at a time"),
            );
            (1, 0)
        }
    }
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
    let Some(bounds) = bounds(base.percentages, &shares, report) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (share, b) in shares.into_iter().zip(bounds) {
        let (template, selector) = share_template(base, &share, split, cluster);
        let mut meta = base.meta.clone();
        meta.name = Some(if split {
            sanitize(&format!("{}-{}", base.name, share.provider), 63)
        } else {
            base.name.to_string()
        });
        if b.wave > 0 {
            meta.annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(names::ROLLOUT_WAVE.into(), b.wave.to_string());
        }
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
                        max_surge: Some(IntOrString::Int(b.rolling.max_surge)),
                        max_unavailable: Some(IntOrString::Int(b.rolling.max_unavailable)),
                    }),
                }),
                progress_deadline_seconds: Some(deadline),
                revision_history_limit: Some(10),
                min_ready_seconds: (base.min_ready_seconds > 0).then_some(base.min_ready_seconds),
                ..DeploymentSpec::default()
            }),
            ..Deployment::default()
        }));
    }
    out
}

/// The rolling bounds of each share. One workload: ECS's rounding on its replicas. Several:
/// DeploymentConfiguration's percentages apply to the service's whole desiredCount
/// ([`rollout::split`]), with the workloads in waves when the budget cannot move them all at once.
fn bounds(p: Percentages, shares: &[Share], report: &mut Report) -> Option<Vec<ShareRolling>> {
    let replicas: Vec<i32> = shares.iter().map(|s| s.replicas).collect();
    let desired: i32 = replicas.iter().map(|r| r.max(&0)).sum();
    let plan = if let [one] = replicas.as_slice() {
        rollout::rolling(*one, p.max, p.min_healthy)
            .map(|rolling| vec![ShareRolling { rolling, wave: 0 }])
    } else {
        rollout::split(&replicas, p.max, p.min_healthy)
    };
    let Some(plan) = plan else {
        report.error(
            "spec.deploymentConfiguration",
            format!("with {desired} task(s), maximumPercent {} and minimumHealthyPercent {} allow neither an extra task nor a stopped one, so a deployment could never progress", p.max, p.min_healthy),
            Some("raise maximumPercent or lower minimumHealthyPercent".to_string()),
        );
        return None;
    };
    let waves = plan.iter().map(|b| b.wave + 1).max().unwrap_or(1);
    if waves > 1 {
        report.warn(
            "spec.deploymentConfiguration",
            format!("ECS's bounds apply to all {desired} tasks, which allow fewer tasks in flight than there are capacity-provider workloads: the workloads roll out in {waves} waves (annotation {}), which the operator sequences; applied without the operator they would roll at once", names::ROLLOUT_WAVE),
        );
    }
    Some(plan)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// DeploymentConfiguration (ECS API model): for N tasks (one per eligible node) at least
    /// ceil(N × min / 100) stay healthy and at most floor(N × max / 100) run. A DaemonSet given
    /// "50%" would round maxUnavailable up (3 nodes → 2 stopped); ECS stops 1.
    #[test]
    fn daemon_bounds_are_ecs_integers_for_the_eligible_nodes() {
        // (nodes, max, min) -> (maxUnavailable, maxSurge)
        for (nodes, max, min, expected) in [
            (3, 100, 50, (1, 0)),
            (4, 100, 50, (2, 0)),
            (5, 100, 0, (5, 0)),
            (10, 100, 90, (1, 0)),
            (3, 200, 100, (0, 3)),
            (7, 150, 80, (1, 3)),
            (0, 100, 50, (1, 0)),
        ] {
            let mut r = Report::default();
            assert_eq!(
                daemon_bounds(nodes, max, min, &mut r),
                expected,
                "{nodes} {max} {min}"
            );
            assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        }
        // One node, min 50 %: ceil(0.5) = 1 must stay up and none may start early.
        let mut r = Report::default();
        assert_eq!(daemon_bounds(1, 100, 50, &mut r), (1, 0));
        assert_eq!(r.warnings.len(), 1);
    }
}
