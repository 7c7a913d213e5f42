//! A Service's status, computed from what was applied and the pods observed — pure, with the
//! clock injected: ECS deployments (PRIMARY/ACTIVE), the rollout state and the deployment
//! circuit breaker, bounded ECS-worded events, and kstatus conditions. Nothing here calls the API.

use k8s_openapi::jiff::Timestamp;

use crate::api::ecs::DeploymentCircuitBreaker;
use crate::api::{
    Condition, PROGRESSING, READY, STALLED, ServiceEvent, ServiceStatus, set_condition,
};
use crate::translate::names::short_hash;

mod conditions;
mod deployments;
mod rollout;

/// How many service events are kept.
pub const MAX_EVENTS: usize = 20;

/// One pod of the service, as the status needs it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodView {
    /// The pod's name (ECS's task id in service events).
    pub name: String,
    /// `family:N` of the pod's revision.
    pub task_definition: String,
    pub ready: bool,
    pub terminating: bool,
    /// Failed task starts this pod stands for: container restarts, a failed phase, an image
    /// that cannot be pulled.
    pub failures: i32,
    /// The scheduler's reason when the pod cannot be placed.
    pub unschedulable: Option<String>,
    /// The force-new-deployment value its pod template was stamped with.
    pub forced: Option<String>,
}

/// What the status is computed from.
#[derive(Clone, Debug)]
pub struct Inputs {
    pub service_name: String,
    pub generation: Option<i64>,
    /// The revision being deployed (`family:N`): the requested one, or during a rollback the
    /// last completed one.
    pub task_definition: String,
    /// The revision the spec asks for.
    pub requested: String,
    /// The Service's `ecs-operator.io/force-new-deployment` value: a new value is a new
    /// deployment of the same revision.
    pub forced: Option<String>,
    pub desired: i32,
    pub breaker: Option<DeploymentCircuitBreaker>,
    pub threshold: i32,
    pub deadline_seconds: i64,
    pub pods: Vec<PodView>,
    pub selector: String,
    pub warnings: Vec<String>,
    pub now: Timestamp,
    /// A task is moving between Availability Zones: a task more or fewer than desired is
    /// still the steady state.
    pub rebalancing: bool,
    /// The zone rebalancing's service events of this round.
    pub rebalance: Vec<crate::controller::service::rebalance::Note>,
    /// The unhealthy tasks stopped this round for the scheduler to replace
    /// (`controller::service::unhealthy`): service events, and failed tasks for the breaker.
    pub replaced_unhealthy: Vec<PodView>,
    /// Look again then (a failing health check's grace ends; no pod event marks it).
    pub recheck_after: Option<std::time::Duration>,
}

/// Something a user can act on: becomes a Kubernetes Event.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
}

fn stamp(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn parse(t: &Option<String>) -> Option<Timestamp> {
    t.as_deref().and_then(|s| s.parse().ok())
}

/// One status computation in progress: the inputs, the status being built and the notices.
/// The steps live in their own modules: [`deployments`] (PRIMARY and ACTIVE entries, counts),
/// [`rollout`] (the circuit breaker, the deadline, completion, rollback) and [`conditions`]
/// (steady-state event and kstatus conditions).
struct Round<'a> {
    prev: &'a ServiceStatus,
    i: &'a Inputs,
    now: String,
    st: ServiceStatus,
    notices: Vec<Notice>,
}

impl Round<'_> {
    fn event(&mut self, message: String) {
        push_event(&mut self.st, &self.now, message);
    }

    fn notice(&mut self, warning: bool, reason: &'static str, message: String) {
        self.notices.push(Notice {
            warning,
            reason,
            message,
        });
    }
}

/// Compute the new status from the previous one and the observations.
pub fn compute(prev: &ServiceStatus, i: &Inputs) -> (ServiceStatus, Vec<Notice>) {
    let mut round = Round {
        prev,
        i,
        now: stamp(i.now),
        st: prev.clone(),
        notices: Vec::new(),
    };
    round.service_counts();
    let mut primary = round.primary();
    round.advance_rollout(&mut primary);
    round.st.deployments = round.deployments(primary);
    round.placement_events();
    round.unhealthy_events();
    round.rebalance_events();
    round.conditions();
    round.st.observed_generation = i.generation;
    // A ROLLING service has no strategy deployment (one switched back from BLUE_GREEN, LINEAR
    // or CANARY leaves its last one behind otherwise).
    round.st.service_deployment = None;
    (round.st, round.notices)
}

/// Status for a spec that cannot be deployed (invalid, or its task definition is missing):
/// Stalled with the reason, nothing else changed.
pub fn stalled(
    prev: &ServiceStatus,
    generation: Option<i64>,
    reason: &str,
    message: &str,
    now: &str,
) -> ServiceStatus {
    let mut st = prev.clone();
    st.observed_generation = generation;
    set_condition(
        &mut st.conditions,
        Condition::new(READY, false, reason, message),
        generation,
        now,
    );
    set_condition(
        &mut st.conditions,
        Condition::new(PROGRESSING, false, reason, message),
        generation,
        now,
    );
    set_condition(
        &mut st.conditions,
        Condition::new(STALLED, true, reason, message),
        generation,
        now,
    );
    st
}

/// Status while a new revision of the family is registered: Ready False and Progressing True
/// with reason `TaskDefinitionPending`, Stalled False; nothing else changed.
pub fn waiting(
    prev: &ServiceStatus,
    generation: Option<i64>,
    message: &str,
    now: &str,
) -> ServiceStatus {
    let mut st = prev.clone();
    st.observed_generation = generation;
    let reason = "TaskDefinitionPending";
    for (type_, value) in [(READY, false), (PROGRESSING, true), (STALLED, false)] {
        set_condition(
            &mut st.conditions,
            Condition::new(type_, value, reason, message),
            generation,
            now,
        );
    }
    st
}

fn push_event(st: &mut ServiceStatus, now: &str, message: String) {
    st.events.insert(
        0,
        ServiceEvent {
            id: short_hash(&format!("{now}{message}")),
            created_at: now.to_string(),
            message,
        },
    );
    st.events.truncate(MAX_EVENTS);
}

#[cfg(test)]
mod tests;
