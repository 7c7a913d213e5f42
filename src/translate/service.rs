//! An ECS Service to its workloads: one Deployment per capacity provider share (REPLICA) or a
//! DaemonSet (DAEMON), with ECS rolling-update percentages, placement, tags, the Kubernetes
//! Services for its load balancers and registries, and the HPA for its autoscaling.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetSpec, DaemonSetUpdateStrategy, Deployment, DeploymentSpec,
    DeploymentStrategy, RollingUpdateDaemonSet, RollingUpdateDeployment,
};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::api::ecs::{
    DeploymentControllerType, DeploymentStrategy as EcsStrategy, LaunchType, PropagateTags,
    SchedulingStrategy, Tag,
};
use crate::api::{ClusterSpec, Service};

use super::diagnostics::{Diagnostic, Invalid, Report};
use super::names::{self, is_label_key, is_label_value, label_value, sanitize};
use super::networking::{self, Networking};
use super::{
    Context, Options, TaskDefinitionRef, autoscaling, capacity, fates, placement, rollout,
};

/// Default hard deadline of a rollout, in seconds.
pub const DEFAULT_ROLLOUT_DEADLINE: i32 = 600;

/// A service's workload.
#[derive(Clone, Debug, PartialEq)]
pub enum Workload {
    Deployment(Deployment),
    DaemonSet(DaemonSet),
}

/// Everything an ECS Service becomes.
#[derive(Clone, Debug, Default)]
pub struct ServiceObjects {
    pub workloads: Vec<Workload>,
    pub networking: Networking,
    pub hpa: Option<HorizontalPodAutoscaler>,
    /// The label selector of all the service's tasks (status.selector).
    pub selector: BTreeMap<String, String>,
    /// The desired count the workloads were built for.
    pub desired_count: i32,
}

/// Labels that select the tasks of service `name`.
pub fn selector(name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(names::SERVICE.to_string(), label_value(name))])
}

/// Translate `svc` running revision `td`.
pub fn translate(
    svc: &Service,
    td: &TaskDefinitionRef,
    cluster: Option<&ClusterSpec>,
    options: &Options,
) -> Result<(ServiceObjects, Vec<Diagnostic>), Invalid> {
    let spec = &svc.spec;
    let name = svc.metadata.name.clone().unwrap_or_default();
    let namespace = svc.metadata.namespace.as_deref();
    let mut report = Report::default();
    let mut value = serde_json::to_value(spec).unwrap_or_default();
    let autoscaling_value = value.as_object_mut().and_then(|o| o.remove("autoscaling"));
    if let Some(a) = &autoscaling_value {
        fates::walk("Autoscaling", a, "spec.autoscaling", &mut report);
    }
    fates::walk("CreateServiceRequest", &value, "spec", &mut report);

    let daemon = spec.scheduling_strategy == Some(SchedulingStrategy::Daemon);
    let desired = match (spec.desired_count, &spec.autoscaling) {
        (Some(d), _) => d,
        (None, Some(a)) => a.min_capacity.unwrap_or(1).max(1),
        (None, None) if daemon => 0,
        (None, None) => {
            report.error(
                "spec.desiredCount",
                "is required for a REPLICA service (or set spec.autoscaling)",
                None,
            );
            0
        }
    };
    if desired < 0 {
        report.error("spec.desiredCount", "must be 0 or more", None);
    }
    if daemon {
        if spec.autoscaling.is_some() {
            report.error(
                "spec.autoscaling",
                "a DAEMON service runs one task per node and cannot autoscale",
                None,
            );
        }
        if spec
            .capacity_provider_strategy
            .as_ref()
            .is_some_and(|s| !s.is_empty())
        {
            report.error(
                "spec.capacityProviderStrategy",
                "is not supported with the DAEMON scheduling strategy (as in ECS)",
                None,
            );
        }
        if spec
            .placement_strategy
            .as_ref()
            .is_some_and(|s| !s.is_empty())
        {
            report.error(
                "spec.placementStrategy",
                "is not supported with the DAEMON scheduling strategy (as in ECS)",
                None,
            );
        }
    }
    if spec.launch_type.is_some()
        && spec
            .capacity_provider_strategy
            .as_ref()
            .is_some_and(|s| !s.is_empty())
    {
        report.error(
            "spec.capacityProviderStrategy",
            "cannot be set together with launchType",
            Some("remove one of them".to_string()),
        );
    }
    if let Some(c) = spec.deployment_controller.as_ref().and_then(|c| c.r#type)
        && c != DeploymentControllerType::Ecs
    {
        report.error(
            "spec.deploymentController.type",
            format!(
                "{} deployments are not supported: only ECS (rolling) deployments are",
                c.as_str()
            ),
            Some("remove deploymentController or set it to ECS".to_string()),
        );
    }
    let dc = spec.deployment_configuration.clone().unwrap_or_default();
    if let Some(s) = dc.strategy
        && s != EcsStrategy::Rolling
    {
        report.error(
            "spec.deploymentConfiguration.strategy",
            format!("{} deployments are not supported yet", s.as_str()),
            Some("use ROLLING".to_string()),
        );
    }
    if spec.task_definition.as_deref().is_none_or(str::is_empty) {
        report.error(
            "spec.taskDefinition",
            "is required: a family (follows the latest revision) or family:N",
            None,
        );
    }

    // The pod template of the revision, with the service's placement and labels on top.
    let mut ctx = Context::new(td, options);
    ctx.grace_seconds = spec.health_check_grace_period_seconds.unwrap_or(0);
    for vc in spec.volume_configurations.iter().flatten() {
        if let (Some(n), Some(size)) = (
            &vc.name,
            vc.managed_ebs_volume.as_ref().and_then(|m| m.size_in_gi_b),
        ) {
            ctx.launch_volumes.insert(n.clone(), size);
        }
    }
    super::family::check(td, &mut report);
    let plan = super::pod::pod_template(td, &ctx, &mut report);
    let select = selector(&name);
    let mut template = plan.template;
    let pod = template.spec.get_or_insert_with(Default::default);
    let meta = template.metadata.get_or_insert_with(Default::default);
    let pod_labels = meta.labels.get_or_insert_with(BTreeMap::new);
    pod_labels.extend(select.clone());
    pod_labels.insert(names::GROUP.into(), label_value(&format!("service:{name}")));
    let settings = spec.kubernetes.clone().unwrap_or_default();
    pod_labels.extend(settings.labels.clone());
    let propagated: Vec<Tag> = match spec.propagate_tags {
        Some(PropagateTags::Service) => spec.tags.clone().unwrap_or_default(),
        Some(PropagateTags::TaskDefinition) => td.spec.tags.clone().unwrap_or_default(),
        _ => Vec::new(),
    };
    apply_tags(&propagated, meta);
    placement::constraints(
        spec.placement_constraints.as_deref().unwrap_or_default(),
        "spec.placementConstraints",
        &select,
        pod,
        &mut report,
    );
    placement::strategies(
        spec.placement_strategy.as_deref().unwrap_or_default(),
        "spec.placementStrategy",
        &select,
        settings.binpack_scheduler_name.as_deref(),
        pod,
        &mut report,
    );
    let pod_spec_for_ports = pod.clone();

    let mut labels = ctx.labels.clone();
    labels.extend(select.clone());
    let mut workload_meta = ObjectMeta {
        namespace: namespace.map(str::to_string),
        labels: Some(labels.clone()),
        ..ObjectMeta::default()
    };
    apply_tags(spec.tags.as_deref().unwrap_or_default(), &mut workload_meta);

    let max_percent = dc.maximum_percent.unwrap_or(if daemon {
        100
    } else {
        rollout::DEFAULT_MAX_PERCENT
    });
    let min_percent = dc.minimum_healthy_percent.unwrap_or(if daemon {
        0
    } else {
        rollout::DEFAULT_MIN_HEALTHY_PERCENT
    });
    if !(0..=100).contains(&min_percent) {
        report.error(
            "spec.deploymentConfiguration.minimumHealthyPercent",
            "must be 0 to 100",
            None,
        );
    }
    if max_percent < 100 && !daemon {
        report.error(
            "spec.deploymentConfiguration.maximumPercent",
            "must be at least 100",
            None,
        );
    }
    let deadline = settings
        .rollout_deadline_seconds
        .unwrap_or(DEFAULT_ROLLOUT_DEADLINE);
    let mut out = ServiceObjects {
        selector: select.clone(),
        desired_count: desired,
        ..ServiceObjects::default()
    };
    if daemon {
        let mut meta = workload_meta.clone();
        meta.name = Some(name.clone());
        out.workloads.push(Workload::DaemonSet(DaemonSet {
            metadata: meta,
            spec: Some(DaemonSetSpec {
                selector: LabelSelector {
                    match_labels: Some(select.clone()),
                    match_expressions: None,
                },
                template: template.clone(),
                update_strategy: Some(DaemonSetUpdateStrategy {
                    type_: Some("RollingUpdate".into()),
                    rolling_update: Some(RollingUpdateDaemonSet {
                        max_unavailable: Some(IntOrString::String(format!(
                            "{}%",
                            100 - min_percent.clamp(0, 100)
                        ))),
                        max_surge: Some(IntOrString::String(format!(
                            "{}%",
                            (max_percent - 100).clamp(0, 100)
                        ))),
                    }),
                }),
                revision_history_limit: Some(10),
                ..DaemonSetSpec::default()
            }),
            ..DaemonSet::default()
        }));
        if min_percent == 100 && max_percent <= 100 {
            report.error("spec.deploymentConfiguration", "with minimumHealthyPercent 100 and maximumPercent 100 a DAEMON service can never replace a task", Some("lower minimumHealthyPercent".to_string()));
        }
    } else {
        let strategy = spec
            .capacity_provider_strategy
            .clone()
            .filter(|s| !s.is_empty())
            .or_else(|| {
                cluster
                    .and_then(|c| c.default_capacity_provider_strategy.clone())
                    .filter(|s| !s.is_empty() && spec.launch_type.is_none())
            });
        let shares = match (&strategy, spec.launch_type) {
            (Some(s), _) => {
                capacity::split(desired, s, "spec.capacityProviderStrategy", &mut report)
            }
            (None, Some(LaunchType::Fargate)) => vec![capacity::Share {
                provider: "FARGATE".into(),
                replicas: desired,
            }],
            (None, Some(LaunchType::External)) => {
                report.warn(
                    "spec.launchType",
                    "EXTERNAL instances are ordinary nodes here; no effect",
                );
                vec![capacity::Share {
                    provider: String::new(),
                    replicas: desired,
                }]
            }
            _ => vec![capacity::Share {
                provider: String::new(),
                replicas: desired,
            }],
        };
        let split = shares.len() > 1;
        for share in shares {
            let mut t = template.clone();
            let mut sel = select.clone();
            let wname = if split {
                sanitize(&format!("{name}-{}", share.provider), 63)
            } else {
                name.clone()
            };
            if !share.provider.is_empty() {
                let pool = capacity::node_pool(&share.provider, cluster);
                capacity::apply_pool(&pool, t.spec.get_or_insert_with(Default::default));
                if split {
                    sel.insert(
                        names::CAPACITY_PROVIDER.into(),
                        label_value(&share.provider),
                    );
                    t.metadata
                        .get_or_insert_with(Default::default)
                        .labels
                        .get_or_insert_with(BTreeMap::new)
                        .insert(
                            names::CAPACITY_PROVIDER.into(),
                            label_value(&share.provider),
                        );
                }
            }
            let Some(r) = rollout::rolling(share.replicas, max_percent, min_percent) else {
                report.error(
                    "spec.deploymentConfiguration",
                    format!("with {} task(s), maximumPercent {max_percent} and minimumHealthyPercent {min_percent} allow neither an extra task nor a stopped one, so a deployment could never progress", share.replicas),
                    Some("raise maximumPercent or lower minimumHealthyPercent".to_string()),
                );
                continue;
            };
            let mut meta = workload_meta.clone();
            meta.name = Some(wname);
            out.workloads.push(Workload::Deployment(Deployment {
                metadata: meta,
                spec: Some(DeploymentSpec {
                    replicas: Some(share.replicas),
                    selector: LabelSelector {
                        match_labels: Some(sel),
                        match_expressions: None,
                    },
                    template: t,
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
    }
    out.networking = networking::build(
        &name,
        namespace,
        spec,
        &pod_spec_for_ports,
        &select,
        &labels,
        &mut report,
    );
    if let Some(a) = &spec.autoscaling {
        out.hpa = autoscaling::hpa(&name, namespace, a, &labels, &mut report);
    }
    report.into_result(out)
}

/// ECS tags as labels where they are valid labels, else as annotations.
pub fn apply_tags(tags: &[Tag], meta: &mut ObjectMeta) {
    for t in tags {
        let (Some(k), v) = (t.key.as_deref(), t.value.clone().unwrap_or_default()) else {
            continue;
        };
        if k.starts_with("aws:") {
            continue;
        }
        if is_label_key(k) && is_label_value(&v) {
            meta.labels
                .get_or_insert_with(BTreeMap::new)
                .insert(k.into(), v);
        } else {
            meta.annotations.get_or_insert_with(BTreeMap::new).insert(
                format!("tags.ecs-operator.io/{}", sanitize(k, 63)),
                format!("{k}={v}"),
            );
        }
    }
}
