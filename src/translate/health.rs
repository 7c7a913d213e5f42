//! ECS health status, as `describe-tasks` reports it, computed from what a pod shows. Pure:
//! the Task and Service controllers feed it each container's state. The rules are the
//! HealthCheck shape's (ECS API model): a container is HEALTHY once its check passed,
//! UNHEALTHY when it failed, UNKNOWN while it is being evaluated or has no check; a task is
//! UNHEALTHY if any essential container is, else UNKNOWN if any essential container is,
//! else HEALTHY. Non-essential containers never count.

use serde::{Deserialize, Serialize};

/// `HealthStatus` of the ECS API model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HealthStatus {
    Healthy,
    Unhealthy,
    Unknown,
}

impl HealthStatus {
    /// The ECS spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "HEALTHY",
            HealthStatus::Unhealthy => "UNHEALTHY",
            HealthStatus::Unknown => "UNKNOWN",
        }
    }
}

/// What the pod shows of one container.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// The container has an ECS health check that became a (readiness) probe.
    pub checked: bool,
    /// The container is running.
    pub running: bool,
    /// Its readiness probe passes (the pod's `containerStatuses[].ready`).
    pub ready: bool,
    /// Still inside `startPeriod` plus the first `interval × retries`: failures do not count yet.
    pub evaluating: bool,
}

/// The health of one container.
pub fn container(o: Observed) -> HealthStatus {
    match o {
        Observed { checked: false, .. } | Observed { running: false, .. } => HealthStatus::Unknown,
        Observed { ready: true, .. } => HealthStatus::Healthy,
        Observed {
            evaluating: true, ..
        } => HealthStatus::Unknown,
        _ => HealthStatus::Unhealthy,
    }
}

/// The health of a task from `(essential, health)` of each container, by ECS's priority
/// order: UNHEALTHY, then UNKNOWN, then HEALTHY.
pub fn task(containers: impl IntoIterator<Item = (bool, HealthStatus)>) -> HealthStatus {
    let mut out = HealthStatus::Healthy;
    let mut any = false;
    for (essential, h) in containers {
        if !essential {
            continue;
        }
        any = true;
        match h {
            HealthStatus::Unhealthy => return HealthStatus::Unhealthy,
            HealthStatus::Unknown => out = HealthStatus::Unknown,
            HealthStatus::Healthy => {}
        }
    }
    if any { out } else { HealthStatus::Unknown }
}

/// Seconds after RUNNING at which a task without an essential health check counts as healthy
/// (DeploymentConfiguration.minimumHealthyPercent, ECS API model).
pub const NO_CHECK_GRACE_SECONDS: i64 = 40;

/// What the service scheduler needs to know of one running task to count it toward the
/// minimum healthy percent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskView {
    /// Some essential container has a health check (the pod's health-checked annotation).
    pub has_essential_check: bool,
    /// The task's health ([`task`]).
    pub health: HealthStatus,
    /// Seconds since the task reached RUNNING (None: not running).
    pub running_for: Option<i64>,
    /// The service uses a load balancer: Some(target healthy in the target group).
    pub load_balancer_healthy: Option<bool>,
}

/// Whether the task counts toward the minimum healthy percent, by the rules of
/// DeploymentConfiguration.minimumHealthyPercent (ECS API model): with an essential health
/// check once the task is HEALTHY, without one 40 s after RUNNING (or, behind a load balancer,
/// once the target group says healthy instead of the 40 s); behind a load balancer both the
/// task's health and the target's.
pub fn counts_as_healthy(t: TaskView) -> bool {
    let Some(running_for) = t.running_for else {
        return false;
    };
    match (t.has_essential_check, t.load_balancer_healthy) {
        (true, lb) => t.health == HealthStatus::Healthy && lb.unwrap_or(true),
        (false, Some(lb)) => lb,
        (false, None) => running_for >= NO_CHECK_GRACE_SECONDS,
    }
}

#[cfg(test)]
mod tests {
    use super::HealthStatus::{Healthy, Unhealthy, Unknown};
    use super::*;

    /// The examples of the HealthCheck shape's documentation (ECS API model), all essential.
    #[test]
    fn task_health_follows_the_healthcheck_shape_examples() {
        for (containers, expected) in [
            (vec![Unhealthy, Unknown], Unhealthy),
            (vec![Unhealthy, Healthy], Unhealthy),
            (vec![Healthy, Unknown], Unknown),
            (vec![Healthy, Healthy], Healthy),
            (vec![Unhealthy, Unknown, Unknown], Unhealthy),
            (vec![Unhealthy, Unknown, Healthy], Unhealthy),
            (vec![Unhealthy, Healthy, Healthy], Unhealthy),
            (vec![Healthy, Unknown, Healthy], Unknown),
            (vec![Healthy, Unknown, Unknown], Unknown),
            (vec![Healthy, Healthy, Healthy], Healthy),
        ] {
            let got = task(containers.iter().map(|h| (true, *h)));
            assert_eq!(got, expected, "{containers:?}");
        }
    }

    /// HealthCheck (ECS API model): only essential containers' health decides the task's.
    #[test]
    fn non_essential_containers_never_count() {
        assert_eq!(task([(true, Healthy), (false, Unhealthy)]), Healthy);
        assert_eq!(task([(false, Healthy)]), Unknown);
    }

    /// DeploymentConfiguration.minimumHealthyPercent (ECS API model): the 40-second rule and
    /// the load balancer's say.
    #[test]
    fn minimum_healthy_percent_counting_rules() {
        let t = |check, health, running_for, lb| TaskView {
            has_essential_check: check,
            health,
            running_for,
            load_balancer_healthy: lb,
        };
        for (view, counts) in [
            (t(false, Unknown, Some(39), None), false),
            (t(false, Unknown, Some(40), None), true),
            (t(false, Unknown, None, None), false),
            (t(false, Unknown, Some(5), Some(true)), true),
            (t(false, Unknown, Some(100), Some(false)), false),
            (t(true, Unknown, Some(100), None), false),
            (t(true, Healthy, Some(1), None), true),
            (t(true, Healthy, Some(1), Some(false)), false),
            (t(true, Healthy, Some(1), Some(true)), true),
            (t(true, Unhealthy, Some(100), Some(true)), false),
        ] {
            assert_eq!(counts_as_healthy(view), counts, "{view:?}");
        }
    }

    #[test]
    fn container_health_from_the_pod() {
        let ok = Observed {
            checked: true,
            running: true,
            ready: true,
            evaluating: false,
        };
        assert_eq!(container(ok), Healthy);
        assert_eq!(container(Observed { ready: false, ..ok }), Unhealthy);
        let starting = Observed {
            ready: false,
            evaluating: true,
            ..ok
        };
        assert_eq!(container(starting), Unknown);
        assert_eq!(
            container(Observed {
                checked: false,
                ..ok
            }),
            Unknown
        );
        assert_eq!(
            container(Observed {
                running: false,
                ..ok
            }),
            Unknown
        );
    }
}
