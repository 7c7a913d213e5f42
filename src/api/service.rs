//! `Service`: an ECS service. The spec is a `CreateService` request plus `spec.autoscaling`
//! (Application Auto Scaling) and `spec.kubernetes`; the status reads like `describe-services`.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::autoscaling::AutoscalingSpec;
use super::conditions::Condition;
use super::ecs;
use super::kubernetes::ServiceSettings;

/// An ECS service: paste the JSON of `aws ecs create-service` as the spec.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "ecs-operator.io",
    version = "v1alpha1",
    kind = "Service",
    namespaced,
    shortname = "ecssvc",
    category = "ecs",
    status = "ServiceStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "An ECS service: desiredCount tasks of a task definition, rolled out with ECS semantics.",
    scale(
        spec_replicas_path = ".spec.desiredCount",
        status_replicas_path = ".status.runningCount",
        label_selector_path = ".status.selector"
    ),
    printcolumn(
        name = "TaskDef",
        type_ = "string",
        json_path = ".status.taskDefinition"
    ),
    printcolumn(name = "Desired", type_ = "integer", json_path = ".spec.desiredCount"),
    printcolumn(
        name = "Running",
        type_ = "integer",
        json_path = ".status.runningCount"
    ),
    printcolumn(
        name = "Pending",
        type_ = "integer",
        json_path = ".status.pendingCount"
    ),
    printcolumn(
        name = "Rollout",
        type_ = "string",
        json_path = ".status.deployments[?(@.status==\"PRIMARY\")].rolloutState"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!has(self.launchType) || !has(self.capacityProviderStrategy) || size(self.capacityProviderStrategy) == 0", "message": "set either launchType or capacityProviderStrategy, not both (as ECS requires)", "fieldPath": ".capacityProviderStrategy"},
    {"rule": "!has(self.desiredCount) || self.desiredCount >= 0", "message": "desiredCount must be 0 or more", "fieldPath": ".desiredCount"}
]))]
pub struct ServiceSpec {
    /// The short name or full Amazon Resource Name (ARN) of the cluster that you run your service on.
    #[serde(rename = "cluster", default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The name of your service.
    #[serde(
        rename = "serviceName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub service_name: Option<String>,
    /// The family and revision ( family:revision ) or full ARN of the task definition to run in your service.
    #[serde(
        rename = "taskDefinition",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub task_definition: Option<String>,
    /// Indicates whether to use Availability Zone rebalancing for the service.
    #[serde(
        rename = "availabilityZoneRebalancing",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub availability_zone_rebalancing: Option<ecs::AvailabilityZoneRebalancing>,
    /// A load balancer object representing the load balancers to use with your service.
    #[serde(
        rename = "loadBalancers",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub load_balancers: Option<Vec<ecs::LoadBalancer>>,
    /// The details of the service discovery registry to associate with this service.
    #[serde(
        rename = "serviceRegistries",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub service_registries: Option<Vec<ecs::ServiceRegistry>>,
    /// The number of instantiations of the specified task definition to place and keep running in your service.
    #[serde(
        rename = "desiredCount",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub desired_count: Option<i32>,
    /// An identifier that you provide to ensure the idempotency of the request.
    #[serde(
        rename = "clientToken",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_token: Option<String>,
    /// The infrastructure that you run your service on.
    #[serde(
        rename = "launchType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub launch_type: Option<ecs::LaunchType>,
    /// The capacity provider strategy to use for the service.
    #[serde(
        rename = "capacityProviderStrategy",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub capacity_provider_strategy: Option<Vec<ecs::CapacityProviderStrategyItem>>,
    /// The platform version that your tasks in the service are running on.
    #[serde(
        rename = "platformVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub platform_version: Option<String>,
    /// The name or full Amazon Resource Name (ARN) of the IAM role that allows Amazon ECS to make calls to your load balancer on your behalf.
    #[serde(rename = "role", default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Optional deployment parameters that control how many tasks run during the deployment and the ordering of stopping and starting tasks.
    #[serde(
        rename = "deploymentConfiguration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub deployment_configuration: Option<ecs::DeploymentConfiguration>,
    /// An array of placement constraint objects to use for tasks in your service.
    #[serde(
        rename = "placementConstraints",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub placement_constraints: Option<Vec<ecs::PlacementConstraint>>,
    /// The placement strategy objects to use for tasks in your service.
    #[serde(
        rename = "placementStrategy",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub placement_strategy: Option<Vec<ecs::PlacementStrategy>>,
    /// The network configuration for the service.
    #[serde(
        rename = "networkConfiguration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub network_configuration: Option<ecs::NetworkConfiguration>,
    /// The period of time, in seconds, that the Amazon ECS service scheduler ignores unhealthy Elastic Load Balancing, VPC Lattice, and container health checks after a task has first started.
    #[serde(
        rename = "healthCheckGracePeriodSeconds",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub health_check_grace_period_seconds: Option<i32>,
    /// The scheduling strategy to use for the service.
    #[serde(
        rename = "schedulingStrategy",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub scheduling_strategy: Option<ecs::SchedulingStrategy>,
    /// The deployment controller to use for the service.
    #[serde(
        rename = "deploymentController",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub deployment_controller: Option<ecs::DeploymentController>,
    /// The metadata that you apply to the service to help you categorize and organize them.
    #[serde(rename = "tags", default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<ecs::Tag>>,
    /// Specifies whether to turn on Amazon ECS managed tags for the tasks within the service.
    #[serde(
        rename = "enableECSManagedTags",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_ecs_managed_tags: Option<bool>,
    /// Specifies whether to propagate the tags from the task definition to the task.
    #[serde(
        rename = "propagateTags",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub propagate_tags: Option<ecs::PropagateTags>,
    /// Determines whether the execute command functionality is turned on for the service.
    #[serde(
        rename = "enableExecuteCommand",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_execute_command: Option<bool>,
    /// The configuration for this service to discover and connect to services, and be discovered by, and connected from, other services within a namespace.
    #[serde(
        rename = "serviceConnectConfiguration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub service_connect_configuration: Option<ecs::ServiceConnectConfiguration>,
    /// The configuration for a volume specified in the task definition as a volume that is configured at launch time.
    #[serde(
        rename = "volumeConfigurations",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub volume_configurations: Option<Vec<ecs::ServiceVolumeConfiguration>>,
    /// The VPC Lattice configuration for the service being created.
    #[serde(
        rename = "vpcLatticeConfigurations",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub vpc_lattice_configurations: Option<Vec<ecs::VpcLatticeConfiguration>>,
    /// The gateway connectors that attach the service to a gateway ingress path.
    #[serde(
        rename = "gatewayConnectors",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub gateway_connectors: Option<Vec<ecs::GatewayConnector>>,
    /// The optional monitoring configuration for the service, which defines the resolution for the service-level CPUUtilization and MemoryUtilization Amazon CloudWatch metrics.
    #[serde(
        rename = "monitoring",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub monitoring: Option<ecs::MonitoringConfiguration>,

    /// Application Auto Scaling for desiredCount: becomes an HPA on this Service's scale subresource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<AutoscalingSpec>,
    /// Kubernetes-only settings (Service type, annotations, labels, rollout deadline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<ServiceSettings>,
}

/// What the operator observed of a service, in the words of `aws ecs describe-services`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatus {
    /// ACTIVE, DRAINING or INACTIVE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The desired number of tasks.
    #[serde(default)]
    pub desired_count: i32,
    /// Tasks running and ready.
    #[serde(default)]
    pub running_count: i32,
    /// Tasks started but not yet ready.
    #[serde(default)]
    pub pending_count: i32,
    /// The task definition of the PRIMARY deployment, as `family:N`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_definition: Option<String>,
    /// Deployments: the PRIMARY one and any ACTIVE ones still draining.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deployments: Vec<ServiceDeployment>,
    /// Service events, newest first, bounded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<ServiceEvent>,
    /// The last task definition whose deployment COMPLETED: where a rollback returns to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_completed_task_definition: Option<String>,
    /// A task definition whose deployment FAILED and was rolled back: not retried until it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_task_definition: Option<String>,
    /// Label selector of the tasks, for the scale subresource and HPA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
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
    /// The BLUE_GREEN, LINEAR or CANARY deployment: in progress, or the last one finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_deployment: Option<super::deployment::ServiceDeploymentState>,
    /// Availability Zone rebalancing (`availabilityZoneRebalancing`): the last operation, as
    /// ECS's service events word it. Written when an operation starts, completes or fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_rebalancing: Option<ZoneRebalancing>,
}

/// An Availability Zone rebalancing operation ("Balancing an Amazon ECS service across
/// Availability Zones", ECS Developer Guide).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ZoneRebalancing {
    /// IN_PROGRESS, COMPLETED, or PLACEMENT_FAILED (a moved task landed in the same zone
    /// again; retried when the tasks or zones change).
    pub state: String,
    /// Running tasks per zone when the state was set.
    #[serde(default)]
    pub tasks_per_zone: std::collections::BTreeMap<String, i32>,
    /// The ECS service event of the transition.
    pub message: String,
    /// When the state was set (RFC 3339).
    pub updated_at: String,
}

/// An ECS deployment of a service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceDeployment {
    /// Deployment id (`ecs-svc/<revision hash>`).
    pub id: String,
    /// PRIMARY (the newest) or ACTIVE (older, draining).
    pub status: String,
    /// The task definition, `family:N`.
    pub task_definition: String,
    /// Desired tasks of this deployment.
    #[serde(default)]
    pub desired_count: i32,
    /// Running tasks of this deployment.
    #[serde(default)]
    pub running_count: i32,
    /// Pending tasks of this deployment.
    #[serde(default)]
    pub pending_count: i32,
    /// Failed tasks counted by the circuit breaker.
    #[serde(default)]
    pub failed_tasks: i32,
    /// IN_PROGRESS, COMPLETED or FAILED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_state: Option<String>,
    /// Why the rollout is in this state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_state_reason: Option<String>,
    /// When the deployment started (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// When the deployment last changed state (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// The `ecs-operator.io/force-new-deployment` value this deployment was started for
    /// (`aws ecs update-service --force-new-deployment`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_new_deployment: Option<String>,
    /// The lifecycle stage of a BLUE_GREEN, LINEAR or CANARY deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_stage: Option<String>,
}

/// A service event, in ECS wording.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceEvent {
    /// Event id.
    pub id: String,
    /// When it happened (RFC 3339).
    pub created_at: String,
    /// What happened, e.g. "(service web) has reached a steady state."
    pub message: String,
}

impl Service {
    /// The ECS service name: `spec.serviceName`, else the object's name.
    pub fn service_name(&self) -> String {
        self.spec
            .service_name
            .clone()
            .filter(|n| !n.is_empty())
            .or_else(|| self.metadata.name.clone())
            .unwrap_or_default()
    }
}
