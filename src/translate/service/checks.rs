//! The validation steps of a Service translation that need no pod: the desired count, what
//! the DAEMON strategy and the deployment controller allow, and the rollout percentages.
//! Pure; every problem goes into the report with its JSON path.

use crate::api::ServiceSpec;
use crate::api::ecs::DeploymentConfiguration;

use super::super::diagnostics::Report;
use super::super::rollout;

/// The desired count the workloads are built for: `desiredCount`, else autoscaling's
/// `minCapacity` (at least 1), else 0 for a DAEMON service (one task per node).
pub fn desired_count(spec: &ServiceSpec, daemon: bool, report: &mut Report) -> i32 {
    let desired = match (spec.desired_count, &spec.autoscaling) {
        (Some(d), _) => d,
        (None, Some(a)) => a.min_capacity.unwrap_or(1).max(1),
        (None, None) if daemon => 0,
        (None, None) => {
            report.error(
                "spec.desiredCount",
                "is required for a REPLICA service (or set spec.autoscaling)",
                None,
            );
            0
        }
    };
    if desired < 0 {
        report.error("spec.desiredCount", "must be 0 or more", None);
    }
    desired
}

fn non_empty<T>(v: &Option<Vec<T>>) -> bool {
    v.as_ref().is_some_and(|s| !s.is_empty())
}

/// What the scheduling strategy and launch type exclude (CreateService: DAEMON services
/// support neither capacity provider strategies nor placement strategies, and
/// `launchType` and `capacityProviderStrategy` are mutually exclusive).
pub fn scheduling(spec: &ServiceSpec, daemon: bool, report: &mut Report) {
    if daemon {
        if spec.autoscaling.is_some() {
            report.error(
                "spec.autoscaling",
                "a DAEMON service runs one task per node and cannot autoscale",
                None,
            );
        }
        if non_empty(&spec.capacity_provider_strategy) {
            report.error(
                "spec.capacityProviderStrategy",
                "is not supported with the DAEMON scheduling strategy (as in ECS)",
                None,
            );
        }
        if non_empty(&spec.placement_strategy) {
            report.error(
                "spec.placementStrategy",
                "is not supported with the DAEMON scheduling strategy (as in ECS)",
                None,
            );
        }
    }
    if spec.launch_type.is_some() && non_empty(&spec.capacity_provider_strategy) {
        report.error(
            "spec.capacityProviderStrategy",
            "cannot be set together with launchType",
            Some("remove one of them".to_string()),
        );
    }
}

/// CreateServiceRequest.serviceName: the Service's children are named after `metadata.name`,
/// so a different serviceName (as pasted from another account) is said, not silently dropped.
pub fn service_name(spec: &ServiceSpec, name: &str, report: &mut Report) {
    if let Some(s) = spec
        .service_name
        .as_deref()
        .filter(|s| !s.is_empty() && *s != name)
    {
        report.warn(
            "spec.serviceName",
            format!("'{s}' differs from metadata.name '{name}': the Deployments, DaemonSet and Kubernetes Services are named '{name}'"),
        );
    }
}

/// The deployment controller and strategy (only ECS rolling deployments), and the task
/// definition reference.
pub fn deployment(spec: &ServiceSpec, _dc: &DeploymentConfiguration, report: &mut Report) {
    // The deployment controller and strategy are checked by `strategy::plan`.
    if spec.task_definition.as_deref().is_none_or(str::is_empty) {
        report.error(
            "spec.taskDefinition",
            "is required: a family (follows the latest revision) or family:N",
            None,
        );
    }
}

/// `maximumPercent` / `minimumHealthyPercent` with ECS's defaults (DeploymentConfiguration:
/// REPLICA 200 / 100; DAEMON 100 / 0) and ranges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Percentages {
    pub max: i32,
    pub min_healthy: i32,
}

/// The percentages of `dc`, range-checked.
pub fn percentages(dc: &DeploymentConfiguration, daemon: bool, report: &mut Report) -> Percentages {
    let (default_max, default_min) = if daemon {
        (100, 0)
    } else {
        (
            rollout::DEFAULT_MAX_PERCENT,
            rollout::DEFAULT_MIN_HEALTHY_PERCENT,
        )
    };
    let max = dc.maximum_percent.unwrap_or(default_max);
    let min_healthy = dc.minimum_healthy_percent.unwrap_or(default_min);
    if !(0..=100).contains(&min_healthy) {
        report.error(
            "spec.deploymentConfiguration.minimumHealthyPercent",
            "must be 0 to 100",
            None,
        );
    }
    if max < 100 && !daemon {
        report.error(
            "spec.deploymentConfiguration.maximumPercent",
            "must be at least 100",
            None,
        );
    }
    Percentages { max, min_healthy }
}
