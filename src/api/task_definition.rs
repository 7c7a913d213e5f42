//! `TaskDefinition`: an ECS task definition family. The spec is a `RegisterTaskDefinition`
//! request; each distinct spec becomes an immutable revision (a ControllerRevision).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::conditions::Condition;
use super::ecs;
use super::kubernetes::PodSettings;

/// An ECS task definition family: paste the JSON of `aws ecs register-task-definition` (or the
/// `taskDefinition` of `describe-task-definition`) as the spec.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "ecs-operator.io",
    version = "v1alpha1",
    kind = "TaskDefinition",
    namespaced,
    shortname = "td",
    shortname = "taskdef",
    category = "ecs",
    status = "TaskDefinitionStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "An ECS task definition family; each distinct spec becomes an immutable revision.",
    printcolumn(name = "Revision", type_ = "integer", json_path = ".status.revision"),
    printcolumn(name = "CPU", type_ = "string", json_path = ".spec.cpu"),
    printcolumn(name = "Memory", type_ = "string", json_path = ".spec.memory"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
pub struct TaskDefinitionSpec {
    /// You must specify a family for a task definition.
    #[serde(rename = "family", default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// The short name or full Amazon Resource Name (ARN) of the IAM role that containers in this task can assume.
    #[serde(
        rename = "taskRoleArn",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub task_role_arn: Option<String>,
    /// The Amazon Resource Name (ARN) of the task execution role that grants the Amazon ECS container agent permission to make Amazon Web Services API calls on your behalf.
    #[serde(
        rename = "executionRoleArn",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub execution_role_arn: Option<String>,
    /// The Docker networking mode to use for the containers in the task.
    #[serde(
        rename = "networkMode",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub network_mode: Option<ecs::NetworkMode>,
    /// A list of container definitions in JSON format that describe the different containers that make up your task.
    #[serde(
        rename = "containerDefinitions",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub container_definitions: Option<Vec<ecs::ContainerDefinition>>,
    /// A list of volume definitions in JSON format that containers in your task might use.
    #[serde(rename = "volumes", default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<Vec<ecs::Volume>>,
    /// An array of placement constraint objects to use for the task.
    #[serde(
        rename = "placementConstraints",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub placement_constraints: Option<Vec<ecs::TaskDefinitionPlacementConstraint>>,
    /// The task launch type that Amazon ECS validates the task definition against.
    #[serde(
        rename = "requiresCompatibilities",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub requires_compatibilities: Option<Vec<ecs::Compatibility>>,
    /// The number of CPU units used by the task.
    #[serde(rename = "cpu", default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// The amount of memory (in MiB) used by the task.
    #[serde(rename = "memory", default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// The metadata that you apply to the task definition to help you categorize and organize them.
    #[serde(rename = "tags", default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<ecs::Tag>>,
    /// The process namespace to use for the containers in the task.
    #[serde(rename = "pidMode", default, skip_serializing_if = "Option::is_none")]
    pub pid_mode: Option<ecs::PidMode>,
    /// The IPC resource namespace to use for the containers in the task.
    #[serde(rename = "ipcMode", default, skip_serializing_if = "Option::is_none")]
    pub ipc_mode: Option<ecs::IpcMode>,
    /// The configuration details for the App Mesh proxy.
    #[serde(
        rename = "proxyConfiguration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub proxy_configuration: Option<ecs::ProxyConfiguration>,
    /// The Elastic Inference accelerators to use for the containers in the task.
    #[serde(
        rename = "inferenceAccelerators",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub inference_accelerators: Option<Vec<ecs::InferenceAccelerator>>,
    /// The amount of ephemeral storage to allocate for the task.
    #[serde(
        rename = "ephemeralStorage",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ephemeral_storage: Option<ecs::EphemeralStorage>,
    /// The operating system that your tasks definitions run on.
    #[serde(
        rename = "runtimePlatform",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub runtime_platform: Option<ecs::RuntimePlatform>,
    /// Enables fault injection when you register your task definition and allows for fault injection requests to be accepted from the task's containers.
    #[serde(
        rename = "enableFaultInjection",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_fault_injection: Option<bool>,
    /// The trusted execution configuration for tasks that use this task definition, including the isolation mode and, if configured, an attestation policy.
    #[serde(
        rename = "trustedExecutionConfiguration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub trusted_execution_configuration: Option<ecs::TrustedExecutionConfiguration>,

    // Read-only members of `describe-task-definition` output: accepted so a pasted describe
    // output applies, ignored with a warning (and stripped by `import`).
    /// Read-only (describe output): ignored with a warning.
    #[serde(
        rename = "taskDefinitionArn",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "crate::api::any_json")]
    pub task_definition_arn: Option<serde_json::Value>,
    /// Read-only (describe output): ignored with a warning; revisions are counted by the operator.
    #[serde(rename = "revision", default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::any_json")]
    pub revision: Option<serde_json::Value>,
    /// Read-only (describe output): ignored with a warning.
    #[serde(rename = "status", default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::any_json")]
    pub status: Option<serde_json::Value>,
    /// Read-only (describe output): ignored with a warning.
    #[serde(
        rename = "requiresAttributes",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "crate::api::any_json")]
    pub requires_attributes: Option<serde_json::Value>,
    /// Read-only (describe output): ignored with a warning.
    #[serde(
        rename = "compatibilities",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "crate::api::any_json")]
    pub compatibilities: Option<serde_json::Value>,
    /// Read-only (describe output): ignored with a warning.
    #[serde(
        rename = "registeredAt",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "crate::api::any_json")]
    pub registered_at: Option<serde_json::Value>,
    /// Read-only (describe output): ignored with a warning.
    #[serde(
        rename = "deregisteredAt",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "crate::api::any_json")]
    pub deregistered_at: Option<serde_json::Value>,
    /// Read-only (describe output): ignored with a warning.
    #[serde(
        rename = "deleteRequestedAt",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "crate::api::any_json")]
    pub delete_requested_at: Option<serde_json::Value>,
    /// Read-only (describe output): ignored with a warning.
    #[serde(
        rename = "registeredBy",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "crate::api::any_json")]
    pub registered_by: Option<serde_json::Value>,

    /// Kubernetes-only settings (labels, service account, probe overrides, pod template patch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<PodSettings>,
}

/// What the operator observed of a task definition family.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskDefinitionStatus {
    /// The latest revision number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
    /// ACTIVE once a revision exists, INVALID while the spec has errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The revisions kept (bounded history), newest last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revisions: Vec<RevisionRecord>,
    /// Fields accepted without a Kubernetes effect, with their JSON paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Ready / Stalled conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::api::conditions::conditions_schema")]
    pub conditions: Vec<Condition>,
    /// The generation of the spec last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// One immutable revision of a family.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevisionRecord {
    /// Revision number (the N of `family:N`).
    pub revision: i64,
    /// Hash of the normalized spec.
    pub hash: String,
    /// The ControllerRevision holding it.
    pub controller_revision: String,
    /// When it was registered (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

impl TaskDefinition {
    /// The family: `spec.family`, else the object's name.
    pub fn family(&self) -> String {
        self.spec
            .family
            .clone()
            .filter(|f| !f.is_empty())
            .or_else(|| self.metadata.name.clone())
            .unwrap_or_default()
    }
}
