//! `Task`: a standalone ECS task (`RunTask`). The spec is a `RunTask` request with its
//! `overrides`; the status mirrors `describe-tasks`.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::conditions::Condition;
use super::ecs;
use super::kubernetes::TaskSettings;

/// A standalone ECS task: paste the JSON of `aws ecs run-task` as the spec.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "ecs-operator.io",
    version = "v1alpha1",
    kind = "Task",
    namespaced,
    shortname = "ecstask",
    category = "ecs",
    status = "TaskStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "A standalone ECS task (RunTask): runs until its essential containers exit.",
    printcolumn(
        name = "TaskDef",
        type_ = "string",
        json_path = ".status.taskDefinition"
    ),
    printcolumn(name = "Status", type_ = "string", json_path = ".status.lastStatus"),
    printcolumn(name = "StopCode", type_ = "string", json_path = ".status.stopCode"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!has(self.launchType) || !has(self.capacityProviderStrategy) || size(self.capacityProviderStrategy) == 0", "message": "set either launchType or capacityProviderStrategy, not both (as ECS requires)", "fieldPath": ".capacityProviderStrategy"},
    {"rule": "self == oldSelf", "message": "a Task is immutable once started: delete it and create a new one"}
]))]
pub struct TaskSpec {
    /// The capacity provider strategy to use for the task.
    #[serde(
        rename = "capacityProviderStrategy",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub capacity_provider_strategy: Option<Vec<ecs::CapacityProviderStrategyItem>>,
    /// The short name or full Amazon Resource Name (ARN) of the cluster to run your task on.
    #[serde(rename = "cluster", default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The number of instantiations of the specified task to place on your cluster.
    #[serde(rename = "count", default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i32>,
    /// Specifies whether to use Amazon ECS managed tags for the task.
    #[serde(
        rename = "enableECSManagedTags",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_ecs_managed_tags: Option<bool>,
    /// Determines whether to use the execute command functionality for the containers in this task.
    #[serde(
        rename = "enableExecuteCommand",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_execute_command: Option<bool>,
    /// The name of the task group to associate with the task.
    #[serde(rename = "group", default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The infrastructure to run your standalone task on.
    #[serde(
        rename = "launchType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub launch_type: Option<ecs::LaunchType>,
    /// The network configuration for the task.
    #[serde(
        rename = "networkConfiguration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub network_configuration: Option<ecs::NetworkConfiguration>,
    /// A list of container overrides in JSON format that specify the name of a container in the specified task definition and the overrides it should receive.
    #[serde(rename = "overrides", default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<ecs::TaskOverride>,
    /// An array of placement constraint objects to use for the task.
    #[serde(
        rename = "placementConstraints",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub placement_constraints: Option<Vec<ecs::PlacementConstraint>>,
    /// The placement strategy objects to use for the task.
    #[serde(
        rename = "placementStrategy",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub placement_strategy: Option<Vec<ecs::PlacementStrategy>>,
    /// The platform version the task uses.
    #[serde(
        rename = "platformVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub platform_version: Option<String>,
    /// Specifies whether to propagate the tags from the task definition to the task.
    #[serde(
        rename = "propagateTags",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub propagate_tags: Option<ecs::PropagateTags>,
    /// This parameter is only used by Amazon ECS.
    #[serde(
        rename = "referenceId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub reference_id: Option<String>,
    /// An optional tag specified when a task is started.
    #[serde(rename = "startedBy", default, skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
    /// The metadata that you apply to the task to help you categorize and organize them.
    #[serde(rename = "tags", default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<ecs::Tag>>,
    /// The family and revision ( family:revision ) or full ARN of the task definition to run.
    #[serde(
        rename = "taskDefinition",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub task_definition: Option<String>,
    /// An identifier that you provide to ensure the idempotency of the request.
    #[serde(
        rename = "clientToken",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_token: Option<String>,
    /// The details of the volume that was configuredAtLaunch .
    #[serde(
        rename = "volumeConfigurations",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub volume_configurations: Option<Vec<ecs::TaskVolumeConfiguration>>,

    /// Kubernetes-only settings (labels, annotations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<TaskSettings>,
}

/// What the operator observed of a task, in the words of `aws ecs describe-tasks`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskStatus {
    /// PROVISIONING, PENDING, RUNNING, DEPROVISIONING or STOPPED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<String>,
    /// RUNNING or STOPPED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_status: Option<String>,
    /// The task definition, `family:N`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_definition: Option<String>,
    /// The containers of every task copy (`count`), by pod.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<TaskContainerStatus>,
    /// TaskFailedToStart, EssentialContainerExited or UserInitiated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_code: Option<String>,
    /// Why the task stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_reason: Option<String>,
    /// HEALTHY, UNHEALTHY or UNKNOWN, from the essential containers' health (ECS `Task.healthStatus`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_status: Option<String>,
    /// When the task's first pod started (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When the task stopped (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<String>,
    /// Fields accepted without a Kubernetes effect, with their JSON paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Ready / Progressing / Stalled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::api::conditions::conditions_schema")]
    pub conditions: Vec<Condition>,
    /// The generation of the spec last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// One container of a task.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskContainerStatus {
    /// The pod running this copy of the task.
    pub pod: String,
    /// Container name.
    pub name: String,
    /// PENDING, RUNNING or STOPPED.
    pub last_status: String,
    /// Exit code once stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Why it is waiting or stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whether the container is essential.
    #[serde(default)]
    pub essential: bool,
    /// HEALTHY, UNHEALTHY or UNKNOWN (ECS `Container.healthStatus`); UNKNOWN without a healthCheck.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_status: Option<String>,
}
