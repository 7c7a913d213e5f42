//! `spec.autoscaling` (Application Auto Scaling) to an `autoscaling/v2` HorizontalPodAutoscaler
//! that scales the ECS Service's own scale subresource, so `desiredCount` stays the one source
//! of replicas: target tracking → metrics, scale-in cooldowns → the scale-down stabilization
//! window, an immediate first scale-out, disableScaleIn per policy and suspended scaling →
//! `selectPolicy: Disabled`, step adjustments → scaling policies.

use std::collections::BTreeMap;

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, ExternalMetricSource, HPAScalingPolicy, HPAScalingRules,
    HorizontalPodAutoscaler, HorizontalPodAutoscalerBehavior, HorizontalPodAutoscalerSpec,
    MetricIdentifier, MetricSpec, MetricTarget, ResourceMetricSource,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use crate::api::{
    AutoscalingSpec, CustomizedMetricSpecification, PredefinedMetricType,
    TargetTrackingScalingPolicy,
};

use super::diagnostics::Report;
use super::names::sanitize;

/// ECS's default cooldowns for target tracking, in seconds (TargetTrackingScalingPolicyConfiguration
/// ScaleInCooldown, Application Auto Scaling API model: 300 for ECS services).
const DEFAULT_COOLDOWN: i32 = 300;
/// The HPA's sync period: the window of the unbounded scale-up policy.
const HPA_SYNC_SECONDS: i32 = 15;
/// Annotation on the HPA: the Application Auto Scaling policy names it was built from.
pub const POLICIES_ANNOTATION: &str = "ecs-operator.io/scaling-policies";

/// What the target-tracking policies decide together.
#[derive(Default)]
struct Tracking {
    metrics: Vec<MetricSpec>,
    names: Vec<String>,
    scale_in_cooldown: Option<i32>,
    /// Policies that vote for scale-in (disableScaleIn unset or false).
    scale_in_voters: usize,
}

/// The HPA for service `name`.
pub fn hpa(
    name: &str,
    namespace: Option<&str>,
    spec: &AutoscalingSpec,
    labels: &BTreeMap<String, String>,
    report: &mut Report,
) -> Option<HorizontalPodAutoscaler> {
    let base = "spec.autoscaling";
    let (min, max) = capacity(spec, base, report)?;
    let tracking = target_tracking(spec, base, report);
    if tracking.metrics.is_empty() {
        report.error(
            format!("{base}.targetTrackingScalingPolicies"),
            "needs at least one policy: it gives the HPA its metric",
            Some("add ECSServiceAverageCPUUtilization target tracking".to_string()),
        );
        return None;
    }
    let mut names = tracking.names.clone();
    let (up_policies, down_policies) = step_policies(spec, base, &mut names, report);
    let suspended = spec.suspended_state.clone().unwrap_or_default();
    if suspended.scheduled_scaling_suspended == Some(true) {
        report.warn(
            format!("{base}.suspendedState.scheduledScalingSuspended"),
            "there are no scheduled actions on Kubernetes; no effect",
        );
    }
    let rules =
        |window: Option<i32>, disabled: bool, policies: Vec<HPAScalingPolicy>| HPAScalingRules {
            stabilization_window_seconds: window,
            select_policy: disabled
                .then(|| "Disabled".to_string())
                .or_else(|| (!policies.is_empty()).then(|| "Max".to_string())),
            policies: (!policies.is_empty()).then_some(policies),
            ..HPAScalingRules::default()
        };
    let names = names
        .into_iter()
        .filter(|n| !n.is_empty())
        .collect::<Vec<_>>();
    Some(HorizontalPodAutoscaler {
        metadata: ObjectMeta {
            name: Some(sanitize(name, 253)),
            namespace: namespace.map(str::to_string),
            labels: Some(labels.clone()),
            annotations: (!names.is_empty())
                .then(|| BTreeMap::from([(POLICIES_ANNOTATION.to_string(), names.join(","))])),
            ..ObjectMeta::default()
        },
        spec: HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some(format!("{}/{}", crate::api::GROUP, crate::api::VERSION)),
                kind: "Service".into(),
                name: name.into(),
            },
            min_replicas: Some(min),
            max_replicas: max,
            metrics: Some(tracking.metrics),
            behavior: Some(HorizontalPodAutoscalerBehavior {
                scale_up: Some(rules(
                    // ScaleOutCooldown (Application Auto Scaling): a scale-out happens as soon as
                    // the target is crossed; the cooldown only damps *further* ones. So no
                    // stabilization window, and one step may reach the computed capacity.
                    Some(0),
                    suspended.dynamic_scaling_out_suspended == Some(true),
                    if up_policies.is_empty() {
                        vec![unbounded_step(max)]
                    } else {
                        up_policies
                    },
                )),
                scale_down: Some(rules(
                    tracking.scale_in_cooldown,
                    tracking.scale_in_voters == 0
                        || suspended.dynamic_scaling_in_suspended == Some(true),
                    down_policies,
                )),
            }),
        },
        ..HorizontalPodAutoscaler::default()
    })
}

/// minCapacity / maxCapacity (RegisterScalableTarget), checked.
fn capacity(spec: &AutoscalingSpec, base: &str, report: &mut Report) -> Option<(i32, i32)> {
    let Some(max) = spec.max_capacity else {
        report.error(format!("{base}.maxCapacity"), "is required", None);
        return None;
    };
    let mut min = spec.min_capacity.unwrap_or(1);
    if min == 0 {
        report.warn(
            format!("{base}.minCapacity"),
            "an HPA cannot scale to zero; the minimum is 1",
        );
        min = 1;
    }
    if min > max {
        report.error(
            format!("{base}.minCapacity"),
            format!("({min}) is greater than maxCapacity ({max})"),
            None,
        );
        return None;
    }
    Some((min, max))
}

/// A scale-up policy that lets one HPA sync reach any count up to `max` (ECS scales out to
/// the computed capacity in one activity; the HPA's default would only double per 15 s).
fn unbounded_step(max: i32) -> HPAScalingPolicy {
    HPAScalingPolicy {
        type_: "Pods".into(),
        value: max.max(1),
        period_seconds: HPA_SYNC_SECONDS,
    }
}

/// The target-tracking policies: one metric each, and their scale-in votes.
///
/// Application Auto Scaling (PutScalingPolicy, Application Auto Scaling API model) "gives
/// precedence to the policy that provides the largest capacity for both scale out and scale
/// in" — as the HPA takes the largest recommendation of its metrics. A policy with
/// `disableScaleIn` (TargetTrackingScalingPolicyConfiguration.DisableScaleIn) "won't remove
/// capacity": it takes no part in scale-in. The HPA has no per-metric scale-down switch, so:
/// all policies disabled → scale-down Disabled (exact); some → the others still scale in,
/// but the disabled policy's metric still holds the count where that metric meets its target
/// (a warning: ECS would scale in past it, then scale out again).
fn target_tracking(spec: &AutoscalingSpec, base: &str, report: &mut Report) -> Tracking {
    let mut t = Tracking::default();
    let policies = &spec.target_tracking_scaling_policies;
    let disabled = policies
        .iter()
        .filter(|p| p.disable_scale_in == Some(true))
        .count();
    for (i, p) in policies.iter().enumerate() {
        let path = format!("{base}.targetTrackingScalingPolicies[{i}]");
        let Some(metric) = metric(p, &path, report) else {
            continue;
        };
        t.metrics.push(metric);
        t.names.push(p.policy_name.clone());
        // scaleOutCooldown has no HPA form: the fate table's warning says so.
        if p.disable_scale_in == Some(true) {
            if disabled < policies.len() {
                report.warn(
                    format!("{path}.disableScaleIn"),
                    "the other policies still scale in, but Kubernetes takes the largest recommendation of all metrics, so this metric keeps the count where it meets its target (ECS would let the others scale in past it, then scale out again)",
                );
            }
            continue;
        }
        t.scale_in_voters += 1;
        let inn = p.scale_in_cooldown.unwrap_or(DEFAULT_COOLDOWN);
        // Several policies: scale in as cautiously as the most cautious of them.
        t.scale_in_cooldown = Some(t.scale_in_cooldown.map_or(inn, |s| s.max(inn)));
    }
    t
}

/// The HPA metric of one target-tracking policy.
fn metric(p: &TargetTrackingScalingPolicy, path: &str, report: &mut Report) -> Option<MetricSpec> {
    if !(p.target_value.is_finite() && p.target_value > 0.0) {
        report.error(
            format!("{path}.targetValue"),
            "must be a positive number",
            None,
        );
        return None;
    }
    let utilization = p.target_value.round() as i32;
    match (
        &p.predefined_metric_specification,
        &p.customized_metric_specification,
    ) {
        (Some(pre), None) => {
            let resource = |name: &str| MetricSpec {
                type_: "Resource".into(),
                resource: Some(ResourceMetricSource {
                    name: name.into(),
                    target: MetricTarget {
                        type_: "Utilization".into(),
                        average_utilization: Some(utilization),
                        ..MetricTarget::default()
                    },
                }),
                ..MetricSpec::default()
            };
            Some(match pre.predefined_metric_type {
                PredefinedMetricType::ECSServiceAverageCPUUtilization
                | PredefinedMetricType::ECSServiceAverageCPUUtilizationHighResolution => {
                    resource("cpu")
                }
                PredefinedMetricType::ECSServiceAverageMemoryUtilization
                | PredefinedMetricType::ECSServiceAverageMemoryUtilizationHighResolution => {
                    resource("memory")
                }
                PredefinedMetricType::ALBRequestCountPerTarget => {
                    report.warn(format!("{path}.predefinedMetricSpecification"), "ALBRequestCountPerTarget becomes an External metric 'alb_request_count_per_target': an external metrics adapter must serve it");
                    external(
                        "alb_request_count_per_target",
                        pre.resource_label.as_deref().map(|l| ("resource_label", l)),
                        p.target_value,
                        false,
                    )
                }
            })
        }
        (None, Some(custom)) => Some(customized(custom, p.target_value, path, report)),
        _ => {
            report.error(
                path,
                "needs exactly one of predefinedMetricSpecification and customizedMetricSpecification",
                None,
            );
            None
        }
    }
}

/// A CloudWatch metric as an External metric: dimensions and namespace select it; the
/// statistic (CustomizedMetricSpecification.Statistic) Sum is a total (target `Value`),
/// Average a per-task value (`AverageValue`); the others are up to the adapter.
fn customized(
    custom: &CustomizedMetricSpecification,
    target: f64,
    path: &str,
    report: &mut Report,
) -> MetricSpec {
    report.warn(format!("{path}.customizedMetricSpecification"), format!("becomes the External metric '{}': an external metrics adapter (e.g. for CloudWatch) must serve it", custom.metric_name));
    let statistic = custom.statistic.as_deref().unwrap_or("Average");
    let total = statistic == "Sum";
    if !matches!(statistic, "Average" | "Sum") {
        report.warn(
            format!("{path}.customizedMetricSpecification.statistic"),
            format!("{statistic}: the HPA compares the adapter's value per task; which statistic it serves is up to the adapter"),
        );
    }
    let mut m = external(&custom.metric_name, None, target, total);
    if let Some(ext) = m.external.as_mut() {
        let mut sel: BTreeMap<String, String> = custom
            .dimensions
            .iter()
            .map(|d| (d.name.clone(), d.value.clone()))
            .collect();
        if let Some(ns) = &custom.namespace {
            sel.insert("namespace".into(), ns.clone());
        }
        ext.metric.selector = (!sel.is_empty()).then_some(LabelSelector {
            match_labels: Some(sel),
            match_expressions: None,
        });
    }
    m
}

/// Step scaling policies as HPA rate policies (up, down).
fn step_policies(
    spec: &AutoscalingSpec,
    base: &str,
    names: &mut Vec<String>,
    report: &mut Report,
) -> (Vec<HPAScalingPolicy>, Vec<HPAScalingPolicy>) {
    let mut up = Vec::new();
    let mut down = Vec::new();
    for (i, s) in spec.step_scaling_policies.iter().enumerate() {
        let path = format!("{base}.stepScalingPolicies[{i}]");
        let adjustment = s.adjustment_type.as_deref().unwrap_or("ChangeInCapacity");
        let kind = match adjustment {
            "ChangeInCapacity" => "Pods",
            "PercentChangeInCapacity" => "Percent",
            other => {
                report.warn(
                    format!("{path}.adjustmentType"),
                    format!("{other} has no HPA policy equivalent; the steps are ignored"),
                );
                continue;
            }
        };
        names.push(s.policy_name.clone());
        let period = s.cooldown.unwrap_or(60).clamp(1, 1800);
        // StepScalingPolicyConfiguration.MinAdjustmentMagnitude: with PercentChangeInCapacity,
        // change at least that many tasks — a Pods policy beside the Percent one, under selectPolicy Max.
        let magnitude = s.min_adjustment_magnitude.filter(|m| *m > 0);
        if magnitude.is_some() && kind != "Percent" {
            report.warn(
                format!("{path}.minAdjustmentMagnitude"),
                "applies only to PercentChangeInCapacity (as in Application Auto Scaling); no effect",
            );
        }
        for a in &s.step_adjustments {
            let mut rules = vec![HPAScalingPolicy {
                type_: kind.into(),
                value: a.scaling_adjustment.abs(),
                period_seconds: period,
            }];
            if let Some(m) = magnitude.filter(|_| kind == "Percent") {
                rules.push(HPAScalingPolicy {
                    type_: "Pods".into(),
                    value: m,
                    period_seconds: period,
                });
            }
            match a.scaling_adjustment {
                n if n > 0 => up.extend(rules),
                n if n < 0 => down.extend(rules),
                _ => {}
            }
        }
        report.warn(path, "the CloudWatch alarm of a step policy has no Kubernetes form: its steps limit how fast the HPA scales, and the target-tracking metric decides when");
    }
    (up, down)
}

/// ECSServiceAverageCPUUtilization / …Memory… are measured against what the task reserves:
/// its task-level cpu/memory, else its containers' (Application Auto Scaling's ECS metrics).
/// The HPA measures a Resource metric against the pod-level requests when set (Kubernetes
/// ≥ 1.34, kubernetes/kubernetes#132430), else the sum of every container's request — and
/// computes nothing when one container has none. Said here, before the HPA silently idles.
pub fn check_utilization_basis(
    hpa: &HorizontalPodAutoscaler,
    pod: &k8s_openapi::api::core::v1::PodSpec,
    report: &mut Report,
) {
    let pod_level = |r: &str| {
        pod.resources
            .as_ref()
            .and_then(|x| x.requests.as_ref())
            .is_some_and(|q| q.contains_key(r))
    };
    let running = pod.containers.iter().chain(
        pod.init_containers
            .iter()
            .flatten()
            .filter(|c| c.restart_policy.as_deref() == Some("Always")),
    );
    let running: Vec<_> = running.collect();
    for m in hpa.spec.metrics.iter().flatten() {
        let Some(resource) = m.resource.as_ref().map(|r| r.name.as_str()) else {
            continue;
        };
        if pod_level(resource) {
            continue;
        }
        let missing: Vec<&str> = running
            .iter()
            .filter(|c| {
                !c.resources
                    .as_ref()
                    .and_then(|r| r.requests.as_ref().or(r.limits.as_ref()))
                    .is_some_and(|q| q.contains_key(resource))
            })
            .map(|c| c.name.as_str())
            .collect();
        if !missing.is_empty() {
            report.warn(
                "spec.autoscaling.targetTrackingScalingPolicies",
                format!("{resource} utilization needs the task's {resource} (task-level {resource}, or {resource} on every container): container(s) '{}' reserve none, so the HPA cannot compute it", missing.join("', '")),
            );
        }
    }
}

fn external(name: &str, label: Option<(&str, &str)>, target: f64, total: bool) -> MetricSpec {
    MetricSpec {
        type_: "External".into(),
        external: Some(ExternalMetricSource {
            metric: MetricIdentifier {
                name: name.into(),
                selector: label.map(|(k, v)| LabelSelector {
                    match_labels: Some(BTreeMap::from([(k.to_string(), v.to_string())])),
                    match_expressions: None,
                }),
            },
            target: if total {
                MetricTarget {
                    type_: "Value".into(),
                    value: Some(Quantity(format_number(target))),
                    ..MetricTarget::default()
                }
            } else {
                MetricTarget {
                    type_: "AverageValue".into(),
                    average_value: Some(Quantity(format_number(target))),
                    ..MetricTarget::default()
                }
            },
        }),
        ..MetricSpec::default()
    }
}

/// A metric target as a quantity: whole numbers plain, fractions in milli-units.
fn format_number(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{}", v as i64)
    } else {
        format!("{}m", (v * 1000.0).round() as i64)
    }
}
