//! `spec.kubernetes`: the Kubernetes-only settings of each kind. ECS fields stay pure; anything a
//! Kubernetes user needs beyond them lives under this one key.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Kubernetes-only settings for the pods a task definition becomes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodSettings {
    /// Extra labels on every pod of this task definition.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Extra annotations on every pod of this task definition.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Use this existing ServiceAccount instead of the one made for `taskRoleArn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Per-container probe overrides, keyed by container name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub probes: BTreeMap<String, ProbeOverrides>,
    /// Extended resource name that `resourceRequirements` of type GPU request (default `nvidia.com/gpu`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_resource_name: Option<String>,
    /// Emit External Secrets Operator `ExternalSecret`s that sync the real AWS values of `secrets`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_secrets: Option<ExternalSecretsSettings>,
    /// Storage class for `dockerVolumeConfiguration` shared-scope volumes and `configuredAtLaunch` volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// Priority class for the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    /// A JSON merge patch (RFC 7386) applied last to the generated pod template (`metadata` and `spec`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::any_json")]
    pub pod_template_patch: Option<serde_json::Value>,
}

/// Overrides for the probes generated from a container's `healthCheck`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProbeOverrides {
    /// Readiness probe timing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<ProbeOverride>,
    /// Liveness probe timing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness: Option<ProbeOverride>,
    /// Startup probe timing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<ProbeOverride>,
}

/// Timing of one probe; unset fields keep the values derived from `healthCheck`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProbeOverride {
    /// Do not generate this probe at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    /// Seconds between probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_seconds: Option<i32>,
    /// Seconds before a probe times out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,
    /// Consecutive failures before the probe fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<i32>,
    /// Seconds after start before the first probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay_seconds: Option<i32>,
}

/// Where the External Secrets Operator reads AWS secrets from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretsSettings {
    /// Name of the `SecretStore` / `ClusterSecretStore` for Secrets Manager ARNs.
    pub secrets_manager_store: String,
    /// Name of the store for SSM Parameter Store parameters (default: the Secrets Manager store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter_store_store: Option<String>,
    /// `SecretStore` or `ClusterSecretStore` (default `ClusterSecretStore`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_kind: Option<String>,
    /// How often ESO refreshes the value (default `1h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_interval: Option<String>,
}

/// Kubernetes-only settings of a Service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSettings {
    /// Type of the Kubernetes Services made for `loadBalancers` (default ClusterIP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_type: Option<KubernetesServiceType>,
    /// Annotations on the Kubernetes Services (for example cloud load-balancer settings).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub service_annotations: BTreeMap<String, String>,
    /// Extra labels on the workloads and pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Scheduler for the `binpack` placement strategy (for example a scheduler profile that
    /// scores MostAllocated); without it binpack is a warning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binpack_scheduler_name: Option<String>,
    /// Emit an AWS Load Balancer Controller `TargetGroupBinding` for each `targetGroupArn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group_bindings: Option<bool>,
    /// Seconds a rollout may take before the circuit breaker's hard deadline fails it (default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_deadline_seconds: Option<i32>,
    /// Seconds a new task must be Ready before it counts toward minimumHealthyPercent when no
    /// essential container has a health check and no load balancer target gates it: ECS's rule
    /// is 40 (DeploymentConfiguration.minimumHealthyPercent); 0 counts a task as soon as it is
    /// Ready. Ignored when an essential health check or a target group decides instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ready_seconds: Option<i32>,
    /// Where each AWS_LAMBDA lifecycle hook (`deploymentConfiguration.lifecycleHooks[].hookTargetArn`)
    /// runs in the cluster: a Job or an HTTP endpoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lifecycle_hook_targets: Vec<LifecycleHookTarget>,
    /// A Gateway API HTTPRoute (same namespace) whose rules send traffic to this service's
    /// Kubernetes Service: LINEAR and CANARY deployments shift its backend weights, and Service
    /// Connect test traffic rules become header matches to the new revision. Without it,
    /// traffic shifts by the share of ready tasks the production Service selects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_route: Option<String>,
    /// Seconds one minute of `bakeTimeInMinutes`, `stepBakeTimeInMinutes`,
    /// `canaryBakeTimeInMinutes` and hook `timeoutInMinutes` lasts (1 to 60, default 60): the same
    /// deployment state machine, faster, for tests and demos.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 60))]
    pub deployment_minute_seconds: Option<i32>,
}

/// The in-cluster target of an AWS_LAMBDA lifecycle hook: exactly one of `job` and `http`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleHookTarget {
    /// The `hookTargetArn` this target stands for.
    pub hook_target_arn: String,
    /// Run a Job: the hook SUCCEEDED when the Job completes, FAILED when it fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<JobHookTarget>,
    /// POST the ECS hook payload; the JSON answer's `hookStatus` decides (IN_PROGRESS: asked
    /// again after `callBackDelay` seconds, default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpHookTarget>,
}

/// A Job hook: one container that gets the ECS hook payload in `ECS_LIFECYCLE_HOOK_PAYLOAD`
/// (and the stage in `ECS_LIFECYCLE_STAGE`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobHookTarget {
    pub image: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Extra environment variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Annotations of the Job's pod.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_annotations: BTreeMap<String, String>,
    /// Retries before the Job fails (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_limit: Option<i32>,
}

/// An HTTP hook endpoint (plain `http://`, typically a Kubernetes Service URL).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpHookTarget {
    pub url: String,
    /// Extra request headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

/// Kubernetes Service types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum KubernetesServiceType {
    ClusterIP,
    NodePort,
    LoadBalancer,
}

/// Kubernetes-only settings of a Task.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskSettings {
    /// Extra labels on the task's pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Extra annotations on the task's pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Kubernetes-only settings of a Cluster: what each capacity provider means on this cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSettings {
    /// Node pools by capacity provider name. A provider not listed here selects nodes labelled
    /// `ecs-operator.io/capacity-provider=<name>` and tolerates a taint of that key; `FARGATE`
    /// not listed here selects any node.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub capacity_providers: BTreeMap<String, NodePool>,
}

/// A node pool: how pods land on the nodes of one capacity provider.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodePool {
    /// Node labels the pods require.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Taints of the pool the pods tolerate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// RuntimeClass for the pods (for example a sandboxed runtime for Fargate-like isolation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_class_name: Option<String>,
}

/// A toleration, as in `core/v1`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Toleration {
    /// Taint key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Exists or Equal (default Equal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// Taint value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// NoSchedule, PreferNoSchedule or NoExecute; empty matches all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
    /// For NoExecute: seconds the pod stays bound after the taint appears.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toleration_seconds: Option<i64>,
}
