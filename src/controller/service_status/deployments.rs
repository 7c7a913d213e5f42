//! The deployments of a Service's status, as `aws ecs describe-services` shows them: one PRIMARY
//! for the revision being deployed, one ACTIVE per older revision that still has tasks (ECS
//! `Deployment.status`: PRIMARY | ACTIVE | INACTIVE), with their task counts. Pure.

use crate::api::ServiceDeployment;
use crate::translate::names::short_hash;

use super::{PodView, Round};

impl Round<'_> {
    /// Pods not being deleted: ECS counts a stopping task in no deployment.
    pub(super) fn live(&self) -> impl Iterator<Item = &PodView> {
        self.i.pods.iter().filter(|p| !p.terminating)
    }

    /// Whether a pod belongs to the deployment in progress: its revision, and the same
    /// force-new-deployment value.
    pub(super) fn current(&self, p: &PodView) -> bool {
        p.task_definition == self.i.task_definition && p.forced == self.i.forced
    }

    /// Pods of other deployments (other revisions, or the same one before a forced deployment).
    pub(super) fn others(&self) -> usize {
        self.live().filter(|p| !self.current(p)).count()
    }

    /// The service-level fields and counts (ECS `Service.runningCount` / `pendingCount`).
    pub(super) fn service_counts(&mut self) {
        let i = self.i;
        self.st.status = Some("ACTIVE".into());
        self.st.desired_count = i.desired;
        self.st.selector = Some(i.selector.clone());
        self.st.warnings = i.warnings.clone();
        self.st.task_definition = Some(i.task_definition.clone());
        let (live, ready) = self
            .live()
            .fold((0, 0), |(n, r), p| (n + 1, r + i32::from(p.ready)));
        self.st.running_count = ready;
        self.st.pending_count = live - ready;
    }

    /// The PRIMARY deployment: the previous one while it deploys the same revision, else a new
    /// one IN_PROGRESS. Its failed-task count follows `resetOnHealthyTask` (ECS
    /// `DeploymentCircuitBreaker`, default on): restart counts only grow while a pod lives, but a
    /// replaced pod takes its count along, so the highest count seen is kept unless a healthy
    /// task resets it; a finished deployment's count is history.
    pub(super) fn primary(&self) -> ServiceDeployment {
        let i = self.i;
        let now = &self.now;
        let prev = self.prev.deployments.iter().find(|d| d.status == "PRIMARY");
        let mut primary = match prev {
            Some(d)
                if d.task_definition == i.task_definition && d.force_new_deployment == i.forced =>
            {
                d.clone()
            }
            _ => ServiceDeployment {
                id: format!(
                    "ecs-svc/{}",
                    short_hash(&format!("{}{now}{:?}", i.task_definition, i.forced))
                ),
                status: "PRIMARY".into(),
                task_definition: i.task_definition.clone(),
                rollout_state: Some("IN_PROGRESS".into()),
                rollout_state_reason: Some("ECS deployment in progress.".into()),
                created_at: Some(now.clone()),
                updated_at: Some(now.clone()),
                force_new_deployment: i.forced.clone(),
                ..ServiceDeployment::default()
            },
        };
        let mine: Vec<&PodView> = self.live().filter(|p| self.current(p)).collect();
        primary.desired_count = i.desired;
        primary.running_count = mine.iter().filter(|p| p.ready).count() as i32;
        primary.pending_count = mine.len() as i32 - primary.running_count;
        let reset = i
            .breaker
            .as_ref()
            .and_then(|b| b.reset_on_healthy_task)
            .unwrap_or(true);
        let failures: i32 = mine.iter().map(|p| p.failures).sum();
        // A task of this deployment stopped as unhealthy is a failed task (ECS
        // DeploymentCircuitBreaker: tasks that fail health checks count); its pod is gone
        // from the next round, so it is added once, now.
        let replaced = i
            .replaced_unhealthy
            .iter()
            .filter(|p| self.current(p))
            .count() as i32;
        if primary.rollout_state.as_deref() == Some("IN_PROGRESS") {
            primary.failed_tasks = if reset && primary.running_count > 0 {
                mine.iter()
                    .filter(|p| !p.ready)
                    .map(|p| p.failures)
                    .sum::<i32>()
                    + replaced
            } else {
                primary.failed_tasks.max(failures) + replaced
            };
        }
        primary
    }

    /// The PRIMARY first, then an ACTIVE entry per older deployment that still has tasks (by
    /// revision and force-new-deployment value), keeping the id and history each had.
    pub(super) fn deployments(&self, primary: ServiceDeployment) -> Vec<ServiceDeployment> {
        let mut older: Vec<(&str, Option<&str>)> = self
            .live()
            .filter(|p| !self.current(p))
            .map(|p| (p.task_definition.as_str(), p.forced.as_deref()))
            .collect();
        older.sort();
        older.dedup();
        let mut deployments = vec![primary];
        for (td, forced) in older {
            let (total, running) = self
                .live()
                .filter(|p| p.task_definition == td && p.forced.as_deref() == forced)
                .fold((0, 0), |(n, r), p| (n + 1, r + i32::from(p.ready)));
            let prev =
                self.prev.deployments.iter().find(|d| {
                    d.task_definition == td && d.force_new_deployment.as_deref() == forced
                });
            let fallback_id = || format!("ecs-svc/{}", short_hash(&format!("{td}{forced:?}")));
            deployments.push(ServiceDeployment {
                id: prev.map(|d| d.id.clone()).unwrap_or_else(fallback_id),
                status: "ACTIVE".into(),
                task_definition: td.to_string(),
                desired_count: 0,
                running_count: running,
                pending_count: total - running,
                failed_tasks: prev.map_or(0, |d| d.failed_tasks),
                rollout_state: prev.and_then(|d| d.rollout_state.clone()),
                rollout_state_reason: prev.and_then(|d| d.rollout_state_reason.clone()),
                created_at: prev.and_then(|d| d.created_at.clone()),
                updated_at: prev.and_then(|d| d.updated_at.clone()),
                force_new_deployment: forced.map(str::to_string),
                lifecycle_stage: None,
            });
        }
        deployments
    }
}
