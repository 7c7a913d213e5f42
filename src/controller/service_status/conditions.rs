//! The Service's kstatus conditions (Ready, Progressing, Stalled) and the ECS events that read
//! like `describe-services` (steady state; placement failures once per reason), all transitions
//! in one place. Pure.

use crate::api::{Condition, PROGRESSING, READY, STALLED, set_condition};

use super::Round;

impl Round<'_> {
    /// "was unable to place a task" (ECS service event wording), once per distinct reason among
    /// the recent events.
    pub(super) fn placement_events(&mut self) {
        let name = &self.i.service_name;
        for reason in self.i.pods.iter().filter_map(|p| p.unschedulable.as_ref()) {
            let msg = format!(
                "(service {name}) was unable to place a task because no container instance met all of its requirements. Reason: {reason}"
            );
            if !self.st.events.iter().take(5).any(|e| e.message == msg) {
                self.event(msg.clone());
                self.notice(true, "UnableToPlaceTask", msg);
            }
        }
    }

    /// The unhealthy tasks stopped for replacement (HealthCheck, ECS API model: the task "will
    /// be stopped and the service scheduler will replace it"), in the wording of ECS's
    /// "has stopped N running tasks" service event.
    pub(super) fn unhealthy_events(&mut self) {
        let name = &self.i.service_name;
        let stopped: Vec<&str> = self
            .i
            .replaced_unhealthy
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        if stopped.is_empty() {
            return;
        }
        let tasks: Vec<String> = stopped.iter().map(|t| format!("(task {t})")).collect();
        self.event(format!(
            "(service {name}) has stopped {} running tasks: {}. Reason: Task failed container health checks.",
            stopped.len(),
            tasks.join(" ")
        ));
    }

    /// Availability Zone rebalancing (ECS service events and `status.zoneRebalancing`).
    pub(super) fn rebalance_events(&mut self) {
        for n in self.i.rebalance.clone() {
            // A step can be seen twice before its effect shows (the ReplicaSet has not removed
            // the moved pod yet): told once.
            if self
                .st
                .events
                .iter()
                .take(5)
                .any(|e| e.message == n.message)
            {
                continue;
            }
            if let Some(state) = n.state {
                self.st.zone_rebalancing = Some(crate::api::ZoneRebalancing {
                    state: state.into(),
                    tasks_per_zone: n.tasks_per_zone.clone(),
                    message: n.message.clone(),
                    updated_at: self.now.clone(),
                });
            }
            self.event(n.message.clone());
            self.notice(n.warning, n.reason, n.message);
        }
    }

    /// Ready while steady on the requested revision; Progressing while a deployment runs;
    /// Stalled when it failed or was rolled back (kstatus reads these; Argo CD and Flux too).
    pub(super) fn conditions(&mut self) {
        let i = self.i;
        let primary = self.st.deployments[0].clone();
        let state = primary.rollout_state.as_deref();
        let (completed, failed) = (state == Some("COMPLETED"), state == Some("FAILED"));
        let rolled_back = i.task_definition != i.requested;
        // A task moving between zones runs one more (or one fewer) than desired for a while:
        // still steady ("Balancing an Amazon ECS service across Availability Zones").
        let steady = completed
            && (i.rebalancing
                || (self.st.running_count == i.desired && self.st.pending_count == 0))
            && self.others() == 0;
        if steady && !self.was_steady(rolled_back) {
            let name = &i.service_name;
            self.event(format!("(service {name}) has reached a steady state."));
        }
        let reason = primary.rollout_state_reason.clone().unwrap_or_default();
        let (ready, ready_reason, ready_msg) = if rolled_back {
            let msg = format!(
                "the deployment of {} failed; running {} instead",
                i.requested, i.task_definition
            );
            (false, "RolledBack", msg)
        } else if steady {
            let msg = format!(
                "{} of {} tasks running {}",
                self.st.running_count, i.desired, i.task_definition
            );
            (true, "SteadyState", msg)
        } else if failed {
            (false, "DeploymentFailed", reason.clone())
        } else {
            let msg = format!(
                "{} of {} tasks running {}",
                primary.running_count, i.desired, i.task_definition
            );
            (false, "Deploying", msg)
        };
        self.set(Condition::new(READY, ready, ready_reason, ready_msg));
        let progressing = !failed && !steady;
        let progressing_reason = match (progressing, failed) {
            (true, _) => "Deploying",
            (false, true) => "DeploymentFailed",
            (false, false) => "SteadyState",
        };
        self.set(Condition::new(
            PROGRESSING,
            progressing,
            progressing_reason,
            reason.clone(),
        ));
        let stalled = failed || rolled_back;
        let (stalled_reason, stalled_msg) = match (stalled, rolled_back) {
            (false, _) => ("Progressing", String::new()),
            (true, true) => ("RolledBack", reason),
            (true, false) => ("DeploymentFailed", reason),
        };
        self.set(Condition::new(
            STALLED,
            stalled,
            stalled_reason,
            stalled_msg,
        ));
    }

    /// Whether the steady-state event was already told: Ready before, or, after a rollback, the
    /// newest event says so (Ready stays false while rolled back).
    fn was_steady(&self, rolled_back: bool) -> bool {
        let prev = self.prev;
        prev.conditions
            .iter()
            .any(|c| c.type_ == READY && c.is_true())
            || (rolled_back
                && prev
                    .events
                    .first()
                    .is_some_and(|e| e.message.ends_with("has reached a steady state.")))
    }

    fn set(&mut self, condition: Condition) {
        set_condition(
            &mut self.st.conditions,
            condition,
            self.i.generation,
            &self.now,
        );
    }
}
