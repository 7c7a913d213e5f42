//! `Cluster`: an ECS cluster. The spec is a `CreateCluster` request; its capacity providers
//! are node pools (described under `spec.kubernetes.capacityProviders`).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::conditions::Condition;
use super::ecs;
use super::kubernetes::ClusterSettings;

/// An ECS cluster: capacity providers as node pools, a default strategy, and counts.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "ecs-operator.io",
    version = "v1alpha1",
    kind = "Cluster",
    namespaced,
    shortname = "ecscluster",
    category = "ecs",
    status = "ClusterStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "An ECS cluster: capacity providers (node pools), a default strategy, and counts.",
    printcolumn(
        name = "Instances",
        type_ = "integer",
        json_path = ".status.registeredContainerInstancesCount"
    ),
    printcolumn(
        name = "Running",
        type_ = "integer",
        json_path = ".status.runningTasksCount"
    ),
    printcolumn(
        name = "Services",
        type_ = "integer",
        json_path = ".status.activeServicesCount"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
pub struct ClusterSpec {
    /// The name of your cluster.
    #[serde(
        rename = "clusterName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub cluster_name: Option<String>,
    /// The metadata that you apply to the cluster to help you categorize and organize them.
    #[serde(rename = "tags", default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<ecs::Tag>>,
    /// The setting to use when creating a cluster.
    #[serde(rename = "settings", default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Vec<ecs::ClusterSetting>>,
    /// The execute command configuration for the cluster.
    #[serde(
        rename = "configuration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub configuration: Option<ecs::ClusterConfiguration>,
    /// The short name of one or more capacity providers to associate with the cluster.
    #[serde(
        rename = "capacityProviders",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub capacity_providers: Option<Vec<String>>,
    /// The capacity provider strategy to set as the default for the cluster.
    #[serde(
        rename = "defaultCapacityProviderStrategy",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub default_capacity_provider_strategy: Option<Vec<ecs::CapacityProviderStrategyItem>>,
    /// Use this parameter to set a default Service Connect namespace.
    #[serde(
        rename = "serviceConnectDefaults",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub service_connect_defaults: Option<ecs::ClusterServiceConnectDefaultsRequest>,

    /// Kubernetes-only settings: the node pool of each capacity provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<ClusterSettings>,
}

/// What the operator observed of a cluster, in the words of `describe-clusters`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    /// ACTIVE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Nodes that match any of the cluster's capacity providers.
    #[serde(default)]
    pub registered_container_instances_count: i32,
    /// Running tasks of the cluster's services and tasks.
    #[serde(default)]
    pub running_tasks_count: i32,
    /// Pending tasks.
    #[serde(default)]
    pub pending_tasks_count: i32,
    /// Services in the cluster.
    #[serde(default)]
    pub active_services_count: i32,
    /// Per capacity provider: matching nodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capacity_providers: Vec<CapacityProviderStatus>,
    /// Ready / Stalled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::api::conditions::conditions_schema")]
    pub conditions: Vec<Condition>,
    /// The generation of the spec last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// One capacity provider's view.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CapacityProviderStatus {
    /// Provider name.
    pub name: String,
    /// Nodes in its pool.
    #[serde(default)]
    pub instances: i32,
}
