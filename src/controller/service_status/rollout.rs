//! The PRIMARY deployment's rollout state (ECS `Deployment.rolloutState`: IN_PROGRESS →
//! COMPLETED | FAILED): the deployment circuit breaker, the hard deadline, completion, and the
//! rollback to the last completed revision (ECS Developer Guide, "How the Amazon ECS deployment
//! circuit breaker detects failures"). Pure.

use crate::api::ServiceDeployment;

use super::{Round, parse};

impl Round<'_> {
    /// Move an IN_PROGRESS deployment on: FAILED when the breaker trips or the deadline
    /// passes, COMPLETED when every desired task of the revision runs and no other revision has
    /// tasks left. A finished deployment stays as it is.
    pub(super) fn advance_rollout(&mut self, primary: &mut ServiceDeployment) {
        if primary.rollout_state.as_deref() != Some("IN_PROGRESS") {
            return;
        }
        if let Some(reason) = self.failure(primary) {
            self.fail(primary, reason);
        } else if primary.running_count == self.i.desired
            && primary.pending_count == 0
            && self.others() == 0
        {
            self.complete(primary);
        }
    }

    /// Why the deployment fails now, if it does: `failedTasks` reached the breaker's threshold
    /// (only with `deploymentCircuitBreaker.enable`), or no steady state within the deadline.
    fn failure(&self, primary: &ServiceDeployment) -> Option<String> {
        let i = self.i;
        let breaker_on = i.breaker.as_ref().and_then(|b| b.enable).unwrap_or(false);
        let age = parse(&primary.created_at).map_or(0, |c| i.now.as_second() - c.as_second());
        if breaker_on && primary.failed_tasks >= i.threshold {
            Some(format!(
                "ECS deployment circuit breaker: {} tasks failed to start (threshold {}).",
                primary.failed_tasks, i.threshold
            ))
        } else if age > i.deadline_seconds {
            Some(format!(
                "ECS deployment did not reach a steady state within {} seconds.",
                i.deadline_seconds
            ))
        } else {
            None
        }
    }

    fn fail(&mut self, primary: &mut ServiceDeployment, reason: String) {
        let name = &self.i.service_name;
        primary.rollout_state = Some("FAILED".into());
        primary.rollout_state_reason = Some(reason.clone());
        primary.updated_at = Some(self.now.clone());
        let id = &primary.id;
        self.notice(
            true,
            "DeploymentFailed",
            format!("(service {name}) deployment {id} failed: {reason}"),
        );
        self.event(format!(
            "(service {name}) deployment {id} deployment failed: {reason}"
        ));
        if self
            .i
            .breaker
            .as_ref()
            .and_then(|b| b.rollback)
            .unwrap_or(false)
        {
            self.roll_back();
        }
    }

    /// `deploymentCircuitBreaker.rollback`: back to the last COMPLETED revision, if there is one
    /// other than the failed revision.
    fn roll_back(&mut self) {
        let i = self.i;
        let name = &i.service_name;
        let back_to = self
            .prev
            .last_completed_task_definition
            .clone()
            .filter(|l| l != &i.task_definition);
        match back_to {
            Some(back_to) => {
                self.st.failed_task_definition = Some(i.requested.clone());
                let msg = format!(
                    "(service {name}) rolling back to {back_to}: deployment of {} failed.",
                    i.task_definition
                );
                self.notice(true, "RollingBack", msg.clone());
                self.event(msg);
            }
            None => self.notice(
                true,
                "RollbackImpossible",
                format!("(service {name}) cannot roll back: no earlier deployment completed."),
            ),
        }
    }

    fn complete(&mut self, primary: &mut ServiceDeployment) {
        let i = self.i;
        let name = &i.service_name;
        primary.rollout_state = Some("COMPLETED".into());
        primary.rollout_state_reason = Some(format!("ECS deployment {} completed.", primary.id));
        primary.updated_at = Some(self.now.clone());
        self.st.last_completed_task_definition = Some(i.task_definition.clone());
        // A failure is forgotten once the requested revision (or a newer request) completes.
        if self
            .st
            .failed_task_definition
            .as_deref()
            .is_some_and(|f| f != i.requested)
            || i.task_definition == i.requested
        {
            self.st.failed_task_definition = None;
        }
        self.event(format!(
            "(service {name}) deployment {} deployment completed.",
            primary.id
        ));
        self.notice(
            false,
            "DeploymentCompleted",
            format!(
                "(service {name}) deployment of {} completed.",
                i.task_definition
            ),
        );
    }
}
