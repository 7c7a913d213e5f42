//! Validate and build a Service's children with the translator. Pure: no API request.
//! The children are one value ([`Children`]) that the apply step destructures field by field,
//! so a new kind of child does not compile until it is applied and swept.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{PodTemplateSpec, Service as KubeService};
use kube::ResourceExt;
use std::collections::BTreeMap;

use serde_json::Value;

use super::super::cache::Caches;
use super::resolve::Resolved;
use super::status::Stall;
use crate::api::Service;
use crate::translate::Options;
use crate::translate::eligibility::eligible_nodes;
use crate::translate::service::{
    Observed, ServiceObjects, Workload, translate, translate_observed,
};

/// The annotation whose new value starts a new deployment of the same revision, as
/// `aws ecs update-service --force-new-deployment` does ("start a new deployment with no service
/// definition changes", ECS API model `UpdateServiceRequest.forceNewDeployment`). It goes on the
/// Service (GitOps can carry it; the Argo CD action sets it) and onto the pod templates, so the
/// workloads replace every task, and status reports a new PRIMARY deployment.
pub const FORCE_NEW_DEPLOYMENT: &str = "ecs-operator.io/force-new-deployment";

/// The Service's force-new-deployment value, if set and not empty.
pub fn force_token(svc: &Service) -> Option<String> {
    svc.annotations()
        .get(FORCE_NEW_DEPLOYMENT)
        .filter(|v| !v.trim().is_empty())
        .cloned()
}

/// Stamp a force-new-deployment value on a pod template.
pub fn stamp_force_token(template: &mut PodTemplateSpec, token: &Option<String>) {
    if let Some(token) = token {
        template
            .metadata
            .get_or_insert_with(Default::default)
            .annotations
            .get_or_insert_with(Default::default)
            .insert(FORCE_NEW_DEPLOYMENT.into(), token.clone());
    }
}

/// Every child of an ECS Service.
#[derive(Default)]
pub struct Children {
    pub deployments: Vec<Deployment>,
    pub daemon_sets: Vec<DaemonSet>,
    pub services: Vec<KubeService>,
    pub hpas: Vec<HorizontalPodAutoscaler>,
    /// AWS Load Balancer Controller TargetGroupBindings (an optional CRD).
    pub target_group_bindings: Vec<Value>,
}

/// What status needs to know of what was built.
pub struct Shape {
    /// The labels that select all the service's tasks.
    pub selector: std::collections::BTreeMap<String, String>,
    pub desired_count: i32,
    /// DAEMON: the tasks the DaemonSet should run (its controller's count, else the eligible nodes).
    pub daemon_nodes: Option<i32>,
    pub warnings: Vec<String>,
}

/// The built Service.
pub struct Built {
    pub children: Children,
    pub shape: Shape,
    /// The BLUE_GREEN / LINEAR / CANARY plan; `None` for ROLLING.
    pub plan: Option<crate::translate::strategy::Plan>,
}

/// Translate the resolved Service, or say why its spec is invalid.
pub fn build(
    svc: &Service,
    r: &Resolved,
    options: &Options,
    caches: &Caches,
) -> Result<Built, Stall> {
    let cluster = r.cluster.as_ref().map(|c| &c.spec);
    let invalid = |invalid: crate::translate::Invalid| Stall {
        reason: "InvalidSpec",
        message: invalid.to_string(),
    };
    let (mut objects, mut warnings) =
        translate(svc, &r.effective, cluster, options).map_err(invalid)?;
    let mut daemon_nodes = None;
    // DAEMON: ECS's deployment bounds are integers of the task count, one per eligible node
    // (DeploymentConfiguration, ECS API model); count the nodes the pod template admits and
    // translate again with that count (the DaemonSet's status changes wake us as nodes change).
    if let Some(Workload::DaemonSet(ds)) = objects.workloads.first()
        && let Some(pod) = ds.spec.as_ref().and_then(|s| s.template.spec.as_ref())
    {
        // The DaemonSet controller's own count once it exists (it sees taints, which the
        // metadata-only node cache does not); before that, the nodes the template admits.
        let scheduled = ds.metadata.name.as_ref().and_then(|n| {
            let ns = svc.metadata.namespace.as_deref().unwrap_or_default();
            super::observe::scheduled(caches.daemon_sets.get(ns, n)?.as_ref())
        });
        let count = scheduled.unwrap_or_else(|| {
            let labels: Vec<BTreeMap<String, String>> = caches
                .nodes
                .state()
                .iter()
                .map(|n| n.metadata.labels.clone().unwrap_or_default())
                .collect();
            eligible_nodes(&labels, pod)
        });
        daemon_nodes = Some(count);
        let observed = Observed {
            daemon_nodes: Some(count),
        };
        (objects, warnings) =
            translate_observed(svc, &r.effective, cluster, options, &observed).map_err(invalid)?;
    }
    let ServiceObjects {
        workloads,
        networking,
        hpa,
        selector,
        desired_count,
        plan,
    } = objects;
    let mut children = Children {
        services: networking.services,
        target_group_bindings: networking.target_group_bindings,
        hpas: hpa.into_iter().collect(),
        ..Children::default()
    };
    let token = force_token(svc);
    for w in workloads {
        match w {
            Workload::Deployment(mut d) => {
                if let Some(spec) = d.spec.as_mut() {
                    stamp_force_token(&mut spec.template, &token);
                }
                children.deployments.push(d)
            }
            Workload::DaemonSet(mut d) => {
                if let Some(spec) = d.spec.as_mut() {
                    stamp_force_token(&mut spec.template, &token);
                }
                children.daemon_sets.push(d)
            }
        }
    }
    Ok(Built {
        plan,
        children,
        shape: Shape {
            selector,
            desired_count,
            daemon_nodes,
            warnings: warnings.iter().map(|w| w.to_string()).collect(),
        },
    })
}
