//! Validate and build a Service's children with the translator. Pure: no API request.
//! The children are one value ([`Children`]) that the apply step destructures field by field,
//! so a new kind of child does not compile until it is applied and swept.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Service as KubeService;
use serde_json::Value;

use super::resolve::Resolved;
use super::status::Stall;
use crate::api::Service;
use crate::translate::Options;
use crate::translate::service::{ServiceObjects, Workload, translate};

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
    pub warnings: Vec<String>,
}

/// The built Service.
pub struct Built {
    pub children: Children,
    pub shape: Shape,
}

/// Translate the resolved Service, or say why its spec is invalid.
pub fn build(svc: &Service, r: &Resolved, options: &Options) -> Result<Built, Stall> {
    let cluster = r.cluster.as_ref().map(|c| &c.spec);
    let (objects, warnings) =
        translate(svc, &r.effective, cluster, options).map_err(|invalid| Stall {
            reason: "InvalidSpec",
            message: invalid.to_string(),
        })?;
    let ServiceObjects {
        workloads,
        networking,
        hpa,
        selector,
        desired_count,
    } = objects;
    let mut children = Children {
        services: networking.services,
        target_group_bindings: networking.target_group_bindings,
        hpas: hpa.into_iter().collect(),
        ..Children::default()
    };
    for w in workloads {
        match w {
            Workload::Deployment(d) => children.deployments.push(d),
            Workload::DaemonSet(d) => children.daemon_sets.push(d),
        }
    }
    Ok(Built {
        children,
        shape: Shape {
            selector,
            desired_count,
            warnings: warnings.iter().map(|w| w.to_string()).collect(),
        },
    })
}
