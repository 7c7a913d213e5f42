//! An ECS Service to its workloads: one Deployment per capacity provider share (REPLICA) or a
//! DaemonSet (DAEMON), with ECS rolling-update percentages, placement, tags, the Kubernetes
//! Services for its load balancers and registries, and the HPA for its autoscaling.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::api::ecs::{PropagateTags, SchedulingStrategy, ServiceVolumeConfiguration, Tag};
use crate::api::{ClusterSpec, Service, ServiceSpec};

use super::diagnostics::{Diagnostic, Invalid, Report};
use super::names::{self, is_label_key, is_label_value, label_value, sanitize};
use super::networking::{self, Networking};
use super::{Context, Options, TaskDefinitionRef, autoscaling, fates, placement, strategy};

mod checks;
mod workloads;

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
    /// The BLUE_GREEN / LINEAR / CANARY plan; `None` for ROLLING.
    pub plan: Option<super::strategy::Plan>,
}

/// Labels that select the tasks of service `name`.
pub fn selector(name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(names::SERVICE.to_string(), label_value(name))])
}

/// What the operator observed that the workloads depend on (the CLI knows none of it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// Nodes a DAEMON service's pods are eligible for (its node selector and pools matched):
    /// the DaemonSet's bounds are ECS's integers for that many tasks.
    pub daemon_nodes: Option<i32>,
}

/// Translate `svc` running revision `td`, with nothing observed (the CLI's view).
pub fn translate(
    svc: &Service,
    td: &TaskDefinitionRef,
    cluster: Option<&ClusterSpec>,
    options: &Options,
) -> Result<(ServiceObjects, Vec<Diagnostic>), Invalid> {
    translate_observed(svc, td, cluster, options, &Observed::default())
}

/// Translate `svc` running revision `td`: the pipeline fates → checks → pod template →
/// workloads → networking → autoscaling, each step a function of its own.
pub fn translate_observed(
    svc: &Service,
    td: &TaskDefinitionRef,
    cluster: Option<&ClusterSpec>,
    options: &Options,
    observed: &Observed,
) -> Result<(ServiceObjects, Vec<Diagnostic>), Invalid> {
    let spec = &svc.spec;
    let name = svc.metadata.name.clone().unwrap_or_default();
    let namespace = svc.metadata.namespace.as_deref();
    let mut report = Report::default();
    walk_fates(spec, &mut report);
    let daemon = spec.scheduling_strategy == Some(SchedulingStrategy::Daemon);
    let desired = checks::desired_count(spec, daemon, &mut report);
    checks::scheduling(spec, daemon, &mut report);
    checks::service_name(spec, &name, &mut report);
    let dc = spec.deployment_configuration.clone().unwrap_or_default();
    checks::deployment(spec, &dc, &mut report);
    let code_deploy = svc
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(strategy::CODE_DEPLOY_CONFIG))
        .map(String::as_str);
    let plan = strategy::plan(spec, code_deploy, &mut report);

    let select = selector(&name);
    let mut template = service_template(svc, td, options, &select, &mut report);
    let mut labels = names::base_labels(&td.family);
    labels.extend(select.clone());
    // Networking before the workloads (its TargetGroupBindings gate the pods' readiness),
    // its findings reported after theirs, as they always were.
    let mut net_report = Report::default();
    let mut networking = gated_networking(svc, td, &mut template, &labels, &mut net_report);
    let mut workload_meta = ObjectMeta {
        namespace: namespace.map(str::to_string),
        labels: Some(labels.clone()),
        ..ObjectMeta::default()
    };
    apply_tags(spec.tags.as_deref().unwrap_or_default(), &mut workload_meta);
    let base = workloads::Base {
        name: &name,
        meta: &workload_meta,
        selector: &select,
        template: &template,
        percentages: checks::percentages(&dc, daemon, &mut report),
        min_ready_seconds: min_ready_seconds(spec, &template),
    };
    let workloads = if daemon {
        vec![workloads::daemon_set(
            &base,
            observed.daemon_nodes,
            &mut report,
        )]
    } else {
        let shares = workloads::shares(spec, desired, cluster, &mut report);
        let mut deployments =
            workloads::deployments(&base, shares, cluster, rollout_deadline(spec), &mut report);
        let count = deployments.len();
        if let [Workload::Deployment(d)] = deployments.as_mut_slice()
            && plan.is_none()
            && super::zones::rebalancing(spec, daemon, count, &mut report)
        {
            d.metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(names::AZ_REBALANCING.into(), "ENABLED".into());
        }
        deployments
    };
    report.merge(net_report);
    let workloads = match &plan {
        // The steady state of a strategy service: its revision in the main slot, production
        // selecting it, the test Services selecting the (empty) other slot.
        Some(_) => {
            strategy_networking(
                &mut networking,
                strategy::Selection::Slot(strategy::Slot::Main),
                strategy::Slot::Alt,
            );
            strategy::slotted(workloads, strategy::Slot::Main, true)
        }
        None => workloads,
    };
    let hpa = spec
        .autoscaling
        .as_ref()
        .and_then(|a| autoscaling::hpa(&name, namespace, a, &labels, &mut report));
    if let (Some(h), Some(pod)) = (&hpa, &template.spec) {
        autoscaling::check_utilization_basis(h, pod, &mut report);
    }
    report.into_result(ServiceObjects {
        workloads,
        networking,
        hpa,
        selector: select,
        desired_count: desired,
        plan,
    })
}

/// A strategy service's Services: the production ones narrowed to `production`, and a test
/// Service per load balancer Service selecting `test`.
pub fn strategy_networking(
    networking: &mut Networking,
    production: strategy::Selection,
    test: strategy::Slot,
) {
    let mut tests = Vec::new();
    for (i, s) in networking.services.iter_mut().enumerate() {
        strategy::select(s, &production);
        if i < networking.load_balancer_services {
            tests.push(strategy::test_service(s, test));
        }
    }
    networking.services.extend(tests);
}

/// Seconds a Ready task waits before it counts as available to the rollout bounds, by the rules
/// of DeploymentConfiguration.minimumHealthyPercent (ECS API model): a task with an essential
/// health check counts once HEALTHY (its readiness probe), one behind a load balancer target once
/// the target is healthy (the readiness gate), any other 40 s after it is RUNNING
/// (`health::NO_CHECK_GRACE_SECONDS`); `spec.kubernetes.minReadySeconds` overrides the 40.
fn min_ready_seconds(spec: &ServiceSpec, template: &PodTemplateSpec) -> i32 {
    let checked = template
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.as_ref())
        .is_some_and(|a| a.contains_key(names::HEALTH_CHECKED));
    let gated = template
        .spec
        .as_ref()
        .and_then(|p| p.readiness_gates.as_ref())
        .is_some_and(|g| !g.is_empty());
    if checked || gated {
        return 0;
    }
    spec.kubernetes
        .as_ref()
        .and_then(|k| k.min_ready_seconds)
        .unwrap_or(super::health::NO_CHECK_GRACE_SECONDS as i32)
        .max(0)
}

/// The hard deadline of a rollout (`spec.kubernetes.rolloutDeadlineSeconds`).
fn rollout_deadline(spec: &ServiceSpec) -> i32 {
    spec.kubernetes
        .as_ref()
        .and_then(|k| k.rollout_deadline_seconds)
        .unwrap_or(DEFAULT_ROLLOUT_DEADLINE)
}

/// The Services and TargetGroupBindings of `svc`, and the load balancer readiness gates they
/// put on `template`.
fn gated_networking(
    svc: &Service,
    td: &TaskDefinitionRef,
    template: &mut PodTemplateSpec,
    labels: &BTreeMap<String, String>,
    report: &mut Report,
) -> Networking {
    let name = svc.metadata.name.as_deref().unwrap_or_default();
    let namespace = svc.metadata.namespace.as_deref();
    let defs = td.spec.container_definitions.as_deref().unwrap_or_default();
    let pod = template.spec.get_or_insert_with(Default::default);
    let select = selector(name);
    let out = networking::build(
        name, namespace, &svc.spec, defs, pod, &select, labels, report,
    );
    let gates = out.readiness_gates();
    if !gates.is_empty() {
        pod.readiness_gates
            .get_or_insert_with(Vec::new)
            .extend(gates);
    }
    out
}

/// The fate table's warnings and errors for every member set (spec.autoscaling is not an ECS
/// shape: it has rows of its own).
fn walk_fates(spec: &ServiceSpec, report: &mut Report) {
    let mut value = serde_json::to_value(spec).unwrap_or_default();
    let autoscaling_value = value.as_object_mut().and_then(|o| o.remove("autoscaling"));
    if let Some(a) = &autoscaling_value {
        fates::walk("Autoscaling", a, "spec.autoscaling", report);
    }
    fates::walk("CreateServiceRequest", &value, "spec", report);
}

/// The revision's pod template with the service's labels, propagated tags and placement on top.
fn service_template(
    svc: &Service,
    td: &TaskDefinitionRef,
    options: &Options,
    select: &BTreeMap<String, String>,
    report: &mut Report,
) -> PodTemplateSpec {
    let spec = &svc.spec;
    let name = svc.metadata.name.as_deref().unwrap_or_default();
    let mut ctx = Context::new(td, options);
    ctx.grace_seconds = spec.health_check_grace_period_seconds.unwrap_or(0);
    ctx.launch_volumes = launch_volumes(spec.volume_configurations.as_deref());
    super::family::check(td, report);
    let mut template = super::pod::pod_template(td, &ctx, report).template;
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
        select,
        pod,
        report,
    );
    placement::strategies(
        spec.placement_strategy.as_deref().unwrap_or_default(),
        "spec.placementStrategy",
        select,
        settings.binpack_scheduler_name.as_deref(),
        pod,
        report,
    );
    if spec.scheduling_strategy != Some(SchedulingStrategy::Daemon) {
        super::zones::default_spread(spec, select, pod, report);
    }
    template
}

/// Sizes (GiB) of `configuredAtLaunch` volumes given in `volumeConfigurations`.
fn launch_volumes(configs: Option<&[ServiceVolumeConfiguration]>) -> BTreeMap<String, i32> {
    configs
        .into_iter()
        .flatten()
        .filter_map(|vc| {
            let size = vc
                .managed_ebs_volume
                .as_ref()
                .and_then(|m| m.size_in_gi_b)?;
            Some((vc.name.clone()?, size))
        })
        .collect()
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
