//! `spec.autoscaling` of a Service: Application Auto Scaling's scalable target (min/max capacity,
//! suspended state) and its target-tracking and step scaling policies, in camelCase. The
//! operator turns them into an `autoscaling/v2` HPA that scales the Service's scale subresource.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Application Auto Scaling for the Service's `desiredCount`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "!has(self.minCapacity) || !has(self.maxCapacity) || self.minCapacity <= self.maxCapacity", "message": "minCapacity must not exceed maxCapacity", "fieldPath": ".minCapacity"}]))]
pub struct AutoscalingSpec {
    /// RegisterScalableTarget MinCapacity: the fewest tasks (default 1 on Kubernetes, which has no scale-to-zero HPA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub min_capacity: Option<i32>,
    /// RegisterScalableTarget MaxCapacity: the most tasks. Required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_capacity: Option<i32>,
    /// RegisterScalableTarget SuspendedState.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended_state: Option<SuspendedState>,
    /// PutScalingPolicy with PolicyType TargetTrackingScaling.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_tracking_scaling_policies: Vec<TargetTrackingScalingPolicy>,
    /// PutScalingPolicy with PolicyType StepScaling.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub step_scaling_policies: Vec<StepScalingPolicy>,
}

/// Which scaling activities are suspended.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SuspendedState {
    /// Scale-in suspended: the HPA's scale-down is disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_scaling_in_suspended: Option<bool>,
    /// Scale-out suspended: the HPA's scale-up is disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_scaling_out_suspended: Option<bool>,
    /// Scheduled scaling suspended (no scheduled actions exist here: warned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_scaling_suspended: Option<bool>,
}

/// A target-tracking policy: keep a metric at a target value.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetTrackingScalingPolicy {
    /// The policy's name.
    pub policy_name: String,
    /// The target value of the metric (percent for utilization metrics).
    pub target_value: f64,
    /// A predefined ECS metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predefined_metric_specification: Option<PredefinedMetricSpecification>,
    /// A CloudWatch metric: becomes an HPA External metric, served by an external metrics adapter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customized_metric_specification: Option<CustomizedMetricSpecification>,
    /// Seconds after a scale-out before another (HPA scale-up stabilization window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_out_cooldown: Option<i32>,
    /// Seconds after a scale-in before another (HPA scale-down stabilization window; ECS default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_in_cooldown: Option<i32>,
    /// Never scale in: the HPA's scale-down `selectPolicy` is Disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_scale_in: Option<bool>,
}

/// Predefined ECS metrics.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PredefinedMetricSpecification {
    /// The metric: ECSServiceAverageCPUUtilization, ECSServiceAverageMemoryUtilization or ALBRequestCountPerTarget.
    pub predefined_metric_type: PredefinedMetricType,
    /// For ALBRequestCountPerTarget: the load balancer and target group label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_label: Option<String>,
}

/// The Application Auto Scaling metric types that apply to ECS services.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PredefinedMetricType {
    #[default]
    ECSServiceAverageCPUUtilization,
    ECSServiceAverageMemoryUtilization,
    ECSServiceAverageCPUUtilizationHighResolution,
    ECSServiceAverageMemoryUtilizationHighResolution,
    ALBRequestCountPerTarget,
}

/// A CloudWatch metric for target tracking.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomizedMetricSpecification {
    /// The metric name.
    pub metric_name: String,
    /// The CloudWatch namespace (kept as a selector label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Dimensions: become the External metric's label selector.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<MetricDimension>,
    /// Average, Minimum, Maximum, SampleCount or Sum; Average and Sum map, the rest warn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistic: Option<String>,
    /// The unit (no Kubernetes effect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// A metric dimension.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricDimension {
    /// Dimension name.
    pub name: String,
    /// Dimension value.
    pub value: String,
}

/// A step scaling policy. The CloudWatch alarm that drives it has no Kubernetes form, so its
/// steps shape the HPA's scaling `behavior`; a target-tracking policy supplies the metric.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepScalingPolicy {
    /// The policy's name.
    pub policy_name: String,
    /// ChangeInCapacity, PercentChangeInCapacity or ExactCapacity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adjustment_type: Option<String>,
    /// The steps; positive adjustments scale out, negative scale in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub step_adjustments: Vec<StepAdjustment>,
    /// The least change for PercentChangeInCapacity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_adjustment_magnitude: Option<i32>,
    /// Seconds between scaling activities: the HPA policy period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<i32>,
    /// Average, Minimum or Maximum (no Kubernetes effect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_aggregation_type: Option<String>,
}

/// One step of a step scaling policy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepAdjustment {
    /// Lower bound of the breach (no Kubernetes effect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_interval_lower_bound: Option<f64>,
    /// Upper bound of the breach (no Kubernetes effect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_interval_upper_bound: Option<f64>,
    /// Tasks (or percent) to add; negative removes.
    pub scaling_adjustment: i32,
}
