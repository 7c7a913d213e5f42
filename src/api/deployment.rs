//! The state of a Service's BLUE_GREEN / LINEAR / CANARY deployment, in the words of ECS's
//! `ServiceDeployment` (`aws ecs describe-service-deployments`): its status, lifecycle stage,
//! the source and target service revisions with their task counts and traffic weights, the
//! lifecycle hooks and the alarms. The operator keeps it in `status.serviceDeployment`: the
//! deployment state machine ([`crate::controller::strategy`]) reads it back on every reconcile.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One ECS service deployment with a deployment strategy other than ROLLING.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceDeploymentState {
    /// The deployment id: the same as the PRIMARY entry of `status.deployments`.
    pub id: String,
    /// BLUE_GREEN, LINEAR or CANARY.
    pub strategy: String,
    /// ECS `ServiceDeploymentStatus`: IN_PROGRESS, SUCCESSFUL, STOPPED, ROLLBACK_SUCCESSFUL.
    pub status: String,
    /// Why the deployment is in this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// ECS `ServiceDeploymentLifecycleStage` (and PRE_PRODUCTION_TRAFFIC_SHIFT, a hook stage).
    pub lifecycle_stage: String,
    /// When the current stage began (RFC 3339).
    pub stage_started_at: String,
    /// The production traffic step reached (LINEAR and CANARY; 0 before the first shift).
    #[serde(default)]
    pub traffic_step: i32,
    /// When the current traffic step began (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_step_started_at: Option<String>,
    /// The revision serving production before this deployment (blue); none for the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_service_revision: Option<ServiceRevisionState>,
    /// The revision being deployed (green).
    pub target_service_revision: ServiceRevisionState,
    /// The hooks of the stages reached so far (ECS `DeploymentLifecycleHookDetail`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lifecycle_hook_details: Vec<LifecycleHookState>,
    /// The alarms watched during the deployment and its bake time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarms: Option<DeploymentAlarmsState>,
    /// A revision whose deployment was rolled back or stopped: not deployed again until the
    /// spec asks for another one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_service_revision: Option<ServiceRevisionState>,
    /// When the deployment was created (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// When it finished (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
}

/// A service revision: a task definition revision (and force-new-deployment value) in one of
/// the two workload slots, with ECS `ServiceRevisionSummary`'s counts and weights.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRevisionState {
    /// `family:N`.
    pub task_definition: String,
    /// The `ecs-operator.io/force-new-deployment` value it was deployed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_new_deployment: Option<String>,
    /// The workload slot (`main` or `alt`): the `ecs-operator.io/slot` label of its pods.
    pub slot: String,
    #[serde(default)]
    pub requested_task_count: i32,
    #[serde(default)]
    pub running_task_count: i32,
    #[serde(default)]
    pub pending_task_count: i32,
    /// Percentage of production traffic sent to this revision (0 to 100).
    #[serde(default)]
    pub requested_production_traffic_weight: f64,
    /// Percentage of test traffic sent to this revision (0 to 100).
    #[serde(default)]
    pub requested_test_traffic_weight: f64,
}

/// One run of a lifecycle hook in a stage.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleHookState {
    /// The hook id (the value `ecs-operator.io/continue-deployment` takes for a PAUSE hook).
    pub hook_id: String,
    /// Index of the hook in `spec.deploymentConfiguration.lifecycleHooks`.
    pub index: i32,
    /// AWS_LAMBDA (run in the cluster as a Job or an HTTP call) or PAUSE.
    pub target_type: String,
    /// The hook's `hookTargetArn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_arn: Option<String>,
    /// The stage it runs in.
    pub lifecycle_stage: String,
    /// AWAITING_ACTION (PAUSE), IN_PROGRESS, SUCCEEDED, FAILED or TIMED_OUT.
    pub status: String,
    /// Why (the Job's or the endpoint's answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// When the timeout action is taken (RFC 3339).
    pub expires_at: String,
    /// CONTINUE or ROLLBACK.
    pub timeout_action: String,
    /// When an IN_PROGRESS HTTP hook is asked again (RFC 3339; `callBackDelay`, default 30 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_poll_at: Option<String>,
    /// The Job that runs a Job hook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    /// `hookDetails` the endpoint returned with IN_PROGRESS, passed back on the next call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::any_json")]
    pub hook_details: Option<serde_json::Value>,
}

/// ECS `ServiceDeploymentAlarms`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentAlarmsState {
    /// MONITORING, TRIGGERED, MONITORING_COMPLETE or DISABLED.
    pub status: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarm_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggered_alarm_names: Vec<String>,
}
