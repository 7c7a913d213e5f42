//! `spec.autoscaling` (Application Auto Scaling) to an `autoscaling/v2` HorizontalPodAutoscaler
//! that scales the ECS Service's own scale subresource, so `desiredCount` stays the one source
//! of replicas: target tracking → metrics, cooldowns → stabilization windows, disableScaleIn
//! and suspended scaling → `selectPolicy: Disabled`, step adjustments → scaling policies.

use std::collections::BTreeMap;

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, ExternalMetricSource, HPAScalingPolicy, HPAScalingRules,
    HorizontalPodAutoscaler, HorizontalPodAutoscalerBehavior, HorizontalPodAutoscalerSpec,
    MetricIdentifier, MetricSpec, MetricTarget, ResourceMetricSource,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use crate::api::{AutoscalingSpec, PredefinedMetricType};

use super::diagnostics::Report;
use super::names::sanitize;

/// ECS's default cooldowns for target tracking, in seconds.
const DEFAULT_COOLDOWN: i32 = 300;

/// The HPA for service `name`.
pub fn hpa(
    name: &str,
    namespace: Option<&str>,
    spec: &AutoscalingSpec,
    labels: &BTreeMap<String, String>,
    report: &mut Report,
) -> Option<HorizontalPodAutoscaler> {
    let base = "spec.autoscaling";
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
    let mut metrics = Vec::new();
    let mut scale_out = None::<i32>;
    let mut scale_in = None::<i32>;
    let mut disable_in = false;
    for (i, p) in spec.target_tracking_scaling_policies.iter().enumerate() {
        let path = format!("{base}.targetTrackingScalingPolicies[{i}]");
        if !(p.target_value.is_finite() && p.target_value > 0.0) {
            report.error(
                format!("{path}.targetValue"),
                "must be a positive number",
                None,
            );
            continue;
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
                metrics.push(match pre.predefined_metric_type {
                    PredefinedMetricType::ECSServiceAverageCPUUtilization | PredefinedMetricType::ECSServiceAverageCPUUtilizationHighResolution => resource("cpu"),
                    PredefinedMetricType::ECSServiceAverageMemoryUtilization | PredefinedMetricType::ECSServiceAverageMemoryUtilizationHighResolution => resource("memory"),
                    PredefinedMetricType::ALBRequestCountPerTarget => {
                        report.warn(format!("{path}.predefinedMetricSpecification"), "ALBRequestCountPerTarget becomes an External metric 'alb_request_count_per_target': an external metrics adapter must serve it");
                        external("alb_request_count_per_target", pre.resource_label.as_deref().map(|l| ("resource_label", l)), p.target_value)
                    }
                });
            }
            (None, Some(custom)) => {
                report.warn(format!("{path}.customizedMetricSpecification"), format!("becomes the External metric '{}': an external metrics adapter (e.g. for CloudWatch) must serve it", custom.metric_name));
                let mut m = external(&custom.metric_name, None, p.target_value);
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
                if custom.statistic.as_deref().is_some_and(|s| s != "Average") {
                    report.warn(format!("{path}.customizedMetricSpecification.statistic"), "the HPA averages the metric per task; other statistics are up to the adapter");
                }
                metrics.push(m);
            }
            _ => {
                report.error(path, "needs exactly one of predefinedMetricSpecification and customizedMetricSpecification", None);
                continue;
            }
        }
        let out = p.scale_out_cooldown.unwrap_or(DEFAULT_COOLDOWN);
        let inn = p.scale_in_cooldown.unwrap_or(DEFAULT_COOLDOWN);
        // Several policies: scale out as eagerly and in as cautiously as the most so of them.
        scale_out = Some(scale_out.map_or(out, |s| s.min(out)));
        scale_in = Some(scale_in.map_or(inn, |s| s.max(inn)));
        disable_in |= p.disable_scale_in == Some(true);
    }
    if metrics.is_empty() {
        report.error(
            format!("{base}.targetTrackingScalingPolicies"),
            "needs at least one policy: it gives the HPA its metric",
            Some("add ECSServiceAverageCPUUtilization target tracking".to_string()),
        );
        return None;
    }
    let mut up_policies = Vec::new();
    let mut down_policies = Vec::new();
    for (i, s) in spec.step_scaling_policies.iter().enumerate() {
        let path = format!("{base}.stepScalingPolicies[{i}]");
        let kind = match s.adjustment_type.as_deref().unwrap_or("ChangeInCapacity") {
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
        let period = s.cooldown.unwrap_or(60).clamp(1, 1800);
        for a in &s.step_adjustments {
            let rule = HPAScalingPolicy {
                type_: kind.into(),
                value: a.scaling_adjustment.abs(),
                period_seconds: period,
            };
            match a.scaling_adjustment {
                n if n > 0 => up_policies.push(rule),
                n if n < 0 => down_policies.push(rule),
                _ => {}
            }
        }
        report.warn(path, "the CloudWatch alarm of a step policy has no Kubernetes form: its steps limit how fast the HPA scales, and the target-tracking metric decides when");
    }
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
    Some(HorizontalPodAutoscaler {
        metadata: ObjectMeta {
            name: Some(sanitize(name, 253)),
            namespace: namespace.map(str::to_string),
            labels: Some(labels.clone()),
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
            metrics: Some(metrics),
            behavior: Some(HorizontalPodAutoscalerBehavior {
                scale_up: Some(rules(
                    scale_out,
                    suspended.dynamic_scaling_out_suspended == Some(true),
                    up_policies,
                )),
                scale_down: Some(rules(
                    scale_in,
                    disable_in || suspended.dynamic_scaling_in_suspended == Some(true),
                    down_policies,
                )),
            }),
        },
        ..HorizontalPodAutoscaler::default()
    })
}

fn external(name: &str, label: Option<(&str, &str)>, target: f64) -> MetricSpec {
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
            target: MetricTarget {
                type_: "AverageValue".into(),
                average_value: Some(Quantity(format_number(target))),
                ..MetricTarget::default()
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
