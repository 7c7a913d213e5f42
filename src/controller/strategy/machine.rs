//! The deployment state machine of BLUE_GREEN, LINEAR and CANARY services — pure, with the
//! clock injected: given the last state (`status.serviceDeployment`), the plan and what was
//! observed, the next state and what to tell the user. [`layout`] says what the workloads and
//! Services are in a state. ECS's model ("Amazon ECS blue/green service deployments",
//! "linear deployments", "canary deployments", "Lifecycle hooks for Amazon ECS service
//! deployments", Developer Guide; `ServiceDeployment`, ECS API model):
//!
//! - the green revision starts beside blue (SCALE_UP: up to 2× the desired count), test
//!   traffic reaches it (TEST_TRAFFIC_SHIFT), production traffic moves in one step
//!   (BLUE_GREEN), equal steps (LINEAR) or two (CANARY) (PRODUCTION_TRAFFIC_SHIFT), blue keeps
//!   running for the bake time (BAKE_TIME), then blue is removed (CLEAN_UP);
//! - hooks run in the stages they name, and a stage ends when all its hooks SUCCEEDED; FAILED,
//!   or a timeout with action ROLLBACK, rolls back; PAUSE hooks wait for a continue;
//! - a rollback (hook, alarm, circuit breaker, stop) switches traffic back to blue, which still
//!   runs, so no task starts; green is removed;
//! - a first deployment (no blue) only scales up.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use crate::api::ecs::DeploymentLifecycleHookStage as HookStage;
use crate::api::{
    DeploymentAlarmsState, LifecycleHookState, ServiceDeploymentState, ServiceRevisionState,
};
use crate::translate::names::short_hash;
use crate::translate::strategy::{HookRunner, Plan, Slot};

/// The lifecycle stages in order (ECS `ServiceDeploymentLifecycleStage`, with
/// PRE_PRODUCTION_TRAFFIC_SHIFT from `DeploymentLifecycleHookStage`).
pub const STAGES: &[&str] = &[
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
];

pub const IN_PROGRESS: &str = "IN_PROGRESS";
pub const SUCCESSFUL: &str = "SUCCESSFUL";
pub const ROLLBACK_SUCCESSFUL: &str = "ROLLBACK_SUCCESSFUL";
pub const STOPPED: &str = "STOPPED";

/// Hook statuses (ECS `DeploymentLifecycleHookStatus`).
pub const AWAITING_ACTION: &str = "AWAITING_ACTION";
pub const SUCCEEDED: &str = "SUCCEEDED";
pub const FAILED: &str = "FAILED";
pub const TIMED_OUT: &str = "TIMED_OUT";

fn stage_index(stage: &str) -> usize {
    STAGES.iter().position(|s| *s == stage).unwrap_or(0)
}

fn hook_stage_name(s: HookStage) -> &'static str {
    s.as_str()
}

/// A revision as the machine compares them: the task definition and force-new-deployment value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Colour {
    pub task_definition: String,
    pub force: Option<String>,
}

impl Colour {
    /// The revision of a service revision's state.
    pub fn of_revision(r: &ServiceRevisionState) -> Colour {
        Colour::of(r)
    }

    fn of(r: &ServiceRevisionState) -> Colour {
        Colour {
            task_definition: r.task_definition.clone(),
            force: r.force_new_deployment.clone(),
        }
    }

    fn in_slot(&self, slot: Slot) -> ServiceRevisionState {
        ServiceRevisionState {
            task_definition: self.task_definition.clone(),
            force_new_deployment: self.force.clone(),
            slot: slot.as_str().into(),
            ..ServiceRevisionState::default()
        }
    }
}

/// Live (not terminating) tasks of one slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub ready: i32,
    pub pending: i32,
    /// Failed task starts (restarts, failed pods) among them.
    pub failures: i32,
}

impl Counts {
    fn live(&self) -> i32 {
        self.ready + self.pending
    }
}

/// Live tasks of one revision in one slot.
#[derive(Clone, Debug, PartialEq)]
pub struct SlotTasks {
    pub slot: Slot,
    pub revision: Colour,
    pub counts: Counts,
}

/// The live tasks of `slot`: of `revision` only, or all.
pub fn count(tasks: &[SlotTasks], slot: Slot, revision: Option<&Colour>) -> Counts {
    tasks
        .iter()
        .filter(|t| t.slot == slot && revision.is_none_or(|r| *r == t.revision))
        .fold(Counts::default(), |a, t| Counts {
            ready: a.ready + t.counts.ready,
            pending: a.pending + t.counts.pending,
            failures: a.failures + t.counts.failures,
        })
}

/// An alert as the alarm source reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct FiringAlarm {
    pub name: String,
    pub starts_at: Timestamp,
}

/// What the alarm source said.
#[derive(Clone, Debug, PartialEq)]
pub enum AlarmReading {
    Firing(Vec<FiringAlarm>),
    /// Not asked (no alarms configured, or no alarm source).
    NotRead,
}

/// What the machine sees.
#[derive(Clone, Debug)]
pub struct Observed {
    pub now: Timestamp,
    pub service_name: String,
    pub desired: i32,
    /// The revision the spec asks for.
    pub target: Colour,
    /// Live tasks by slot and revision (a slot can hold tasks of the revision it had before).
    pub tasks: Vec<SlotTasks>,
    /// Live tasks without a slot label (from before the service had a strategy).
    pub unslotted: i32,
    /// The circuit breaker: (failure threshold, rollback), when enabled.
    pub breaker: Option<(i32, bool)>,
    pub alarms: AlarmReading,
    /// `ecs-operator.io/continue-deployment`.
    pub continue_value: Option<String>,
    /// `ecs-operator.io/stop-deployment`.
    pub stop_value: Option<String>,
}

impl Observed {
    /// Every live task of slot `s`.
    pub fn slot(&self, s: Slot) -> Counts {
        count(&self.tasks, s, None)
    }

    /// The live tasks of revision `r` in slot `s`.
    pub fn of(&self, s: Slot, r: &ServiceRevisionState) -> Counts {
        count(&self.tasks, s, Some(&Colour::of(r)))
    }
}

/// Something to tell the user: a Kubernetes Event, and (`event`) a service event.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
    /// Also a service event in `status.events` (ECS wording).
    pub event: bool,
}

/// Which tasks the production Services send to.
#[derive(Clone, Debug, PartialEq)]
pub enum Production {
    /// Every task of the service (a first deployment, before every pod has its slot label).
    All,
    Slot(Slot),
    /// `green_weight` percent to `green`, the rest to `blue`.
    Split {
        blue: Slot,
        green: Slot,
        green_weight: f64,
    },
}

/// A slot's workload: its revision and whether it runs the desired count (else none).
#[derive(Clone, Debug, PartialEq)]
pub struct SlotPlan {
    pub slot: Slot,
    pub revision: Colour,
    pub full: bool,
}

/// What the children are in a state.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub slots: Vec<SlotPlan>,
    pub production: Production,
    /// The slot the test Services select (green's during a deployment).
    pub test: Slot,
    /// Whether test traffic rules (HTTPRoute header matches) send to green now.
    pub test_traffic: bool,
}

fn stamp(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn parse(t: &str) -> Option<Timestamp> {
    t.parse().ok()
}

fn elapsed(since: &str, now: Timestamp) -> Duration {
    parse(since)
        .map(|s| Duration::from_secs((now.as_second() - s.as_second()).max(0) as u64))
        .unwrap_or_default()
}

fn plus(now: Timestamp, d: Duration) -> String {
    stamp(
        now.checked_add(k8s_openapi::jiff::SignedDuration::from_secs(
            d.as_secs() as i64
        ))
        .unwrap_or(now),
    )
}

/// The revision serving production in a state (where the next deployment starts from).
pub fn production_revision(st: &ServiceDeploymentState) -> ServiceRevisionState {
    let shifted = st.status == SUCCESSFUL
        || (st.status != ROLLBACK_SUCCESSFUL
            && stage_index(&st.lifecycle_stage) > stage_index("PRODUCTION_TRAFFIC_SHIFT"));
    match (&st.source_service_revision, shifted) {
        (Some(source), false) => source.clone(),
        _ => st.target_service_revision.clone(),
    }
}

/// The next state: start, advance or finish a deployment. `new_id` names a deployment started now.
pub fn advance(
    prev: Option<&ServiceDeploymentState>,
    plan: &Plan,
    obs: &Observed,
    new_id: &str,
) -> (ServiceDeploymentState, Vec<Notice>) {
    let mut m = Machine {
        plan,
        obs,
        now: stamp(obs.now),
        notices: Vec::new(),
    };
    let st = match prev {
        None => m.first(new_id),
        Some(p) if p.status == IN_PROGRESS => m.in_progress(p.clone(), new_id),
        Some(p) => m.finished(p.clone(), new_id),
    };
    let mut st = st;
    m.counts(&mut st);
    (st, m.notices)
}

struct Machine<'a> {
    plan: &'a Plan,
    obs: &'a Observed,
    now: String,
    notices: Vec<Notice>,
}

impl Machine<'_> {
    fn tell(&mut self, warning: bool, reason: &'static str, message: String, event: bool) {
        self.notices.push(Notice {
            warning,
            reason,
            message,
            event,
        });
    }

    fn name(&self) -> &str {
        &self.obs.service_name
    }

    /// A first deployment: the revision in the main slot, no traffic to shift.
    fn first(&mut self, id: &str) -> ServiceDeploymentState {
        let st = ServiceDeploymentState {
            id: id.to_string(),
            strategy: self.plan.kind.as_str().into(),
            status: IN_PROGRESS.into(),
            lifecycle_stage: "SCALE_UP".into(),
            stage_started_at: self.now.clone(),
            target_service_revision: self.obs.target.in_slot(Slot::Main),
            alarms: self.alarms_state(),
            created_at: self.now.clone(),
            updated_at: self.now.clone(),
            ..ServiceDeploymentState::default()
        };
        let msg = format!(
            "(service {}) deployment {id} started: {} ({}).",
            self.name(),
            self.obs.target.task_definition,
            st.strategy
        );
        self.tell(false, "DeploymentStarted", msg, true);
        self.run(st)
    }

    fn alarms_state(&self) -> Option<DeploymentAlarmsState> {
        self.plan.alarms.as_ref().map(|a| DeploymentAlarmsState {
            status: "MONITORING".into(),
            alarm_names: a.names.clone(),
            triggered_alarm_names: Vec::new(),
        })
    }

    /// A finished deployment: start the next one when the spec asks for another revision (not
    /// the one that failed).
    fn finished(&mut self, prev: ServiceDeploymentState, id: &str) -> ServiceDeploymentState {
        let production = production_revision(&prev);
        let target = &self.obs.target;
        let failed = prev.failed_service_revision.as_ref().map(Colour::of);
        if *target == Colour::of(&production) || failed.as_ref() == Some(target) {
            return prev;
        }
        self.start(prev, production, id, "PRE_SCALE_UP")
    }

    fn start(
        &mut self,
        prev: ServiceDeploymentState,
        source: ServiceRevisionState,
        id: &str,
        stage: &str,
    ) -> ServiceDeploymentState {
        let green_slot = Slot::parse(&source.slot).other();
        let st = ServiceDeploymentState {
            id: id.to_string(),
            strategy: self.plan.kind.as_str().into(),
            status: IN_PROGRESS.into(),
            lifecycle_stage: String::new(),
            stage_started_at: self.now.clone(),
            source_service_revision: Some(ServiceRevisionState {
                requested_production_traffic_weight: 100.0,
                ..source.clone()
            }),
            target_service_revision: self.obs.target.in_slot(green_slot),
            alarms: self.alarms_state(),
            failed_service_revision: prev.failed_service_revision.clone(),
            created_at: self.now.clone(),
            updated_at: self.now.clone(),
            ..ServiceDeploymentState::default()
        };
        let msg = format!(
            "(service {}) deployment {id} started: {} replaces {} ({}).",
            self.name(),
            self.obs.target.task_definition,
            source.task_definition,
            st.strategy
        );
        self.tell(false, "DeploymentStarted", msg, true);
        let st = self.enter(st, stage);
        self.run(st)
    }

    fn in_progress(&mut self, prev: ServiceDeploymentState, id: &str) -> ServiceDeploymentState {
        let target = &self.obs.target;
        if *target == Colour::of(&prev.target_service_revision) {
            return self.run(prev);
        }
        let Some(source) = prev.source_service_revision.clone() else {
            // A first deployment asked for another revision: start over with it.
            let mut st = prev;
            st.target_service_revision = target.in_slot(Slot::Main);
            st.updated_at = self.now.clone();
            return self.run(st);
        };
        if *target == Colour::of(&source) {
            let reason = format!("the service asks for {} again", source.task_definition);
            return self.roll_back(prev, reason, false);
        }
        // A new revision while one deploys: supersede it (RECONCILE_SERVICE: "a new service
        // deployment with more than 1 service revision in an ACTIVE state"). Production is
        // where the deployment had got it to.
        let production = production_revision(&prev);
        let msg = format!(
            "(service {}) deployment {} superseded by {id}.",
            self.name(),
            prev.id
        );
        self.tell(false, "DeploymentSuperseded", msg, true);
        self.start(prev, production, id, "RECONCILE_SERVICE")
    }

    /// Enter `stage`: its hooks start.
    fn enter(&mut self, mut st: ServiceDeploymentState, stage: &str) -> ServiceDeploymentState {
        st.lifecycle_stage = stage.to_string();
        st.stage_started_at = self.now.clone();
        st.updated_at = self.now.clone();
        if stage == "PRODUCTION_TRAFFIC_SHIFT" {
            st.traffic_step = 1;
            st.traffic_step_started_at = Some(self.now.clone());
        }
        let now = self.obs.now;
        for h in &self.plan.hooks {
            if !h.stages.iter().any(|s| hook_stage_name(*s) == stage) {
                continue;
            }
            let pause = h.runner == HookRunner::Pause;
            st.lifecycle_hook_details.push(LifecycleHookState {
                hook_id: short_hash(&format!("{}/{stage}/{}", st.id, h.index)),
                index: h.index as i32,
                target_type: if pause { "PAUSE" } else { "AWS_LAMBDA" }.into(),
                target_arn: h.target_arn.clone(),
                lifecycle_stage: stage.to_string(),
                status: if pause { AWAITING_ACTION } else { IN_PROGRESS }.into(),
                started_at: self.now.clone(),
                expires_at: plus(now, h.timeout),
                timeout_action: if h.continue_on_timeout {
                    "CONTINUE"
                } else {
                    "ROLLBACK"
                }
                .into(),
                next_poll_at: (!pause).then(|| self.now.clone()),
                ..LifecycleHookState::default()
            });
            if pause {
                let msg = format!(
                    "(service {}) deployment {} paused at {stage}: continue with annotation ecs-operator.io/continue-deployment={} (hook {}).",
                    self.obs.service_name,
                    st.id,
                    st.lifecycle_hook_details
                        .last()
                        .map(|h| h.hook_id.as_str())
                        .unwrap_or_default(),
                    h.index
                );
                self.tell(false, "DeploymentPaused", msg, true);
            }
        }
        let msg = format!(
            "(service {}) deployment {} entered lifecycle stage {stage}.",
            self.obs.service_name, st.id
        );
        self.tell(false, "LifecycleStage", msg, false);
        st
    }

    /// Move through the stages as far as the observations allow.
    fn run(&mut self, mut st: ServiceDeploymentState) -> ServiceDeploymentState {
        for _ in 0..STAGES.len() + 8 {
            if st.status != IN_PROGRESS {
                return st;
            }
            if let Some(reason) = self.failure(&mut st) {
                let (rollback, reason) = reason;
                return if rollback {
                    self.roll_back(st, reason, true)
                } else {
                    self.stop(st, reason)
                };
            }
            if !self.stage_done(&mut st) || !self.hooks_done(&st) {
                return st;
            }
            let i = stage_index(&st.lifecycle_stage);
            if st.source_service_revision.is_none() || i + 1 >= STAGES.len() {
                return self.succeed(st);
            }
            let next = STAGES[i + 1];
            st = self.enter(st, next);
        }
        st
    }

    /// Why the deployment fails now: (roll back?, reason).
    fn failure(&mut self, st: &mut ServiceDeploymentState) -> Option<(bool, String)> {
        let obs = self.obs;
        let stage = stage_index(&st.lifecycle_stage);
        if let Some(stop) = obs.stop_value.as_deref()
            && (stop == st.id || stop == "true")
            && st.source_service_revision.is_some()
        {
            return Some((true, "stopped by the user (StopServiceDeployment: annotation ecs-operator.io/stop-deployment)".into()));
        }
        // Alarms watch the deployment and its bake time; one already firing when the
        // deployment started is ignored (DeploymentAlarms, ECS Developer Guide "How CloudWatch
        // alarms detect Amazon ECS deployment failures").
        if let (Some(alarms), AlarmReading::Firing(firing)) = (&self.plan.alarms, &obs.alarms)
            && stage <= stage_index("BAKE_TIME")
            && st.source_service_revision.is_some()
        {
            let created = parse(&st.created_at).unwrap_or(obs.now);
            let fired: Vec<String> = firing
                .iter()
                .filter(|a| alarms.names.contains(&a.name) && a.starts_at >= created)
                .map(|a| a.name.clone())
                .collect();
            if !fired.is_empty() {
                if let Some(a) = st.alarms.as_mut() {
                    a.status = "TRIGGERED".into();
                    a.triggered_alarm_names = fired.clone();
                }
                return Some((
                    alarms.rollback,
                    format!("alarm {} is in ALARM state", fired.join(", ")),
                ));
            }
        }
        // The circuit breaker counts green's failed tasks (ECS blue/green: "the deployment
        // circuit breaker ... stops the deployment" when green's tasks fail).
        let green = obs.of(
            Slot::parse(&st.target_service_revision.slot),
            &st.target_service_revision,
        );
        if let Some((threshold, rollback)) = obs.breaker
            && stage >= stage_index("SCALE_UP")
            && stage < stage_index("CLEAN_UP")
            && green.failures >= threshold
        {
            return Some((
                rollback,
                format!(
                    "ECS deployment circuit breaker: {} tasks failed to start (threshold {threshold}).",
                    green.failures
                ),
            ));
        }
        for h in st
            .lifecycle_hook_details
            .iter_mut()
            .filter(|h| h.lifecycle_stage == st.lifecycle_stage)
        {
            let open = h.status == IN_PROGRESS || h.status == AWAITING_ACTION;
            if open
                && h.status == AWAITING_ACTION
                && obs
                    .continue_value
                    .as_deref()
                    .is_some_and(|v| v == h.hook_id || v == st.id)
            {
                h.status = SUCCEEDED.into();
                h.reason = Some("continued (ContinueServiceDeployment: annotation ecs-operator.io/continue-deployment)".into());
                let msg = format!(
                    "(service {}) deployment {} continued at {}.",
                    obs.service_name, st.id, h.lifecycle_stage
                );
                self.notices.push(Notice {
                    warning: false,
                    reason: "DeploymentContinued",
                    message: msg,
                    event: true,
                });
                continue;
            }
            if open && parse(&h.expires_at).is_some_and(|e| obs.now >= e) {
                h.status = TIMED_OUT.into();
                if h.timeout_action != "CONTINUE" {
                    return Some((
                        true,
                        format!(
                            "lifecycle hook {} timed out at {}",
                            h.index, h.lifecycle_stage
                        ),
                    ));
                }
            }
            if h.status == FAILED {
                let why = h.reason.clone().unwrap_or_default();
                return Some((
                    true,
                    format!(
                        "lifecycle hook {} failed at {}: {why}",
                        h.index, h.lifecycle_stage
                    ),
                ));
            }
        }
        None
    }

    fn hooks_done(&self, st: &ServiceDeploymentState) -> bool {
        st.lifecycle_hook_details
            .iter()
            .filter(|h| h.lifecycle_stage == st.lifecycle_stage)
            .all(|h| {
                h.status == SUCCEEDED || (h.status == TIMED_OUT && h.timeout_action == "CONTINUE")
            })
    }

    /// Whether the stage's own work is done (its hooks aside).
    fn stage_done(&mut self, st: &mut ServiceDeploymentState) -> bool {
        let obs = self.obs;
        let green_slot = Slot::parse(&st.target_service_revision.slot);
        let green = obs.of(green_slot, &st.target_service_revision);
        match st.lifecycle_stage.as_str() {
            "SCALE_UP" if st.source_service_revision.is_none() => {
                // A first deployment is done when its tasks run and no other task is left.
                green.ready >= obs.desired
                    && green.pending == 0
                    && obs.unslotted == 0
                    && obs.slot(green_slot).live() == green.live()
                    && obs.slot(green_slot.other()).live() == 0
            }
            "SCALE_UP" => green.ready >= obs.desired,
            "PRODUCTION_TRAFFIC_SHIFT" => {
                let steps = self.plan.kind.steps();
                loop {
                    let step = st.traffic_step.max(1) as usize;
                    if step >= steps.len() {
                        return true;
                    }
                    let bake = steps[step - 1].1;
                    let since = st
                        .traffic_step_started_at
                        .clone()
                        .unwrap_or_else(|| st.stage_started_at.clone());
                    if elapsed(&since, obs.now) < bake {
                        return false;
                    }
                    st.traffic_step = step as i32 + 1;
                    st.traffic_step_started_at = Some(self.now.clone());
                    st.updated_at = self.now.clone();
                    let msg = format!(
                        "(service {}) deployment {} shifted {}% of production traffic to {}.",
                        obs.service_name,
                        st.id,
                        steps[step].0,
                        st.target_service_revision.task_definition
                    );
                    self.tell(false, "TrafficShifted", msg, true);
                }
            }
            "BAKE_TIME" => elapsed(&st.stage_started_at, obs.now) >= self.plan.bake,
            "CLEAN_UP" => {
                let blue = st
                    .source_service_revision
                    .as_ref()
                    .map(|s| Slot::parse(&s.slot));
                blue.is_none_or(|b| obs.slot(b).live() == 0)
            }
            _ => true,
        }
    }

    fn succeed(&mut self, mut st: ServiceDeploymentState) -> ServiceDeploymentState {
        st.status = SUCCESSFUL.into();
        st.status_reason = Some(format!("ECS deployment {} completed.", st.id));
        st.finished_at = Some(self.now.clone());
        st.updated_at = self.now.clone();
        if let Some(a) = st.alarms.as_mut() {
            a.status = "MONITORING_COMPLETE".into();
        }
        if st.failed_service_revision.as_ref().map(Colour::of)
            != Some(Colour::of(&st.target_service_revision))
        {
            st.failed_service_revision = None;
        }
        let msg = format!(
            "(service {}) deployment {} deployment completed.",
            self.name(),
            st.id
        );
        self.tell(false, "DeploymentCompleted", msg, true);
        st
    }

    /// Back to blue: traffic switches back (blue still runs), green goes. `failed` marks the
    /// target so it is not deployed again until the spec changes.
    fn roll_back(
        &mut self,
        mut st: ServiceDeploymentState,
        reason: String,
        failed: bool,
    ) -> ServiceDeploymentState {
        st.status = ROLLBACK_SUCCESSFUL.into();
        st.status_reason = Some(format!("rolled back: {reason}"));
        st.finished_at = Some(self.now.clone());
        st.updated_at = self.now.clone();
        if failed {
            st.failed_service_revision = Some(st.target_service_revision.clone());
        }
        let back_to = st
            .source_service_revision
            .as_ref()
            .map(|s| s.task_definition.clone())
            .unwrap_or_default();
        let msg = format!(
            "(service {}) deployment {} rolled back to {back_to}: {reason}.",
            self.name(),
            st.id
        );
        self.tell(true, "DeploymentRolledBack", msg, true);
        st
    }

    /// Failed without rollback: the deployment stays where it is.
    fn stop(&mut self, mut st: ServiceDeploymentState, reason: String) -> ServiceDeploymentState {
        st.status = STOPPED.into();
        st.status_reason = Some(format!("stopped: {reason}"));
        st.finished_at = Some(self.now.clone());
        st.updated_at = self.now.clone();
        st.failed_service_revision = Some(st.target_service_revision.clone());
        let msg = format!(
            "(service {}) deployment {} failed: {reason}.",
            self.name(),
            st.id
        );
        self.tell(true, "DeploymentFailed", msg, true);
        st
    }

    /// The task counts and traffic weights of both revisions (ECS `ServiceRevisionSummary`).
    fn counts(&self, st: &mut ServiceDeploymentState) {
        let l = layout(st, self.plan);
        let obs = self.obs;
        let green_weight = match &l.production {
            Production::All => 100.0,
            Production::Slot(s) => {
                if s.as_str() == st.target_service_revision.slot {
                    100.0
                } else {
                    0.0
                }
            }
            Production::Split { green_weight, .. } => *green_weight,
        };
        let fill = |r: &mut ServiceRevisionState, prod: f64, test: f64| {
            let slot = Slot::parse(&r.slot);
            let c = obs.of(slot, r);
            r.requested_task_count = if l.slots.iter().any(|p| p.slot == slot && p.full) {
                obs.desired
            } else {
                0
            };
            r.running_task_count = c.ready;
            r.pending_task_count = c.pending;
            r.requested_production_traffic_weight = prod;
            r.requested_test_traffic_weight = test;
        };
        let test_to_green = if l.test_traffic { 100.0 } else { 0.0 };
        fill(&mut st.target_service_revision, green_weight, test_to_green);
        if let Some(s) = st.source_service_revision.as_mut() {
            fill(s, 100.0 - green_weight, 100.0 - test_to_green);
        }
    }
}

/// The workloads and traffic of a state.
pub fn layout(st: &ServiceDeploymentState, plan: &Plan) -> Layout {
    let green = &st.target_service_revision;
    let green_slot = Slot::parse(&green.slot);
    let Some(blue) = &st.source_service_revision else {
        // A first deployment (or its end): one slot; production selects every task of the
        // service until the slot label is on each (a ROLLING service switching strategy).
        let done = st.status != IN_PROGRESS;
        return Layout {
            slots: vec![SlotPlan {
                slot: green_slot,
                revision: Colour::of(green),
                full: true,
            }],
            production: if done {
                Production::Slot(green_slot)
            } else {
                Production::All
            },
            test: green_slot.other(),
            test_traffic: false,
        };
    };
    let blue_slot = Slot::parse(&blue.slot);
    let one = |slot: Slot, r: &ServiceRevisionState| Layout {
        slots: vec![SlotPlan {
            slot,
            revision: Colour::of(r),
            full: true,
        }],
        production: Production::Slot(slot),
        test: slot.other(),
        test_traffic: false,
    };
    match st.status.as_str() {
        SUCCESSFUL => return one(green_slot, green),
        ROLLBACK_SUCCESSFUL => return one(blue_slot, blue),
        _ => {}
    }
    let stage = stage_index(&st.lifecycle_stage);
    let green_up = stage >= stage_index("SCALE_UP");
    let blue_up = stage < stage_index("CLEAN_UP");
    let steps = plan.kind.steps();
    let weight = if stage < stage_index("PRODUCTION_TRAFFIC_SHIFT") {
        0.0
    } else if stage == stage_index("PRODUCTION_TRAFFIC_SHIFT") {
        steps
            .get((st.traffic_step.max(1) as usize) - 1)
            .map_or(100.0, |s| s.0)
    } else {
        100.0
    };
    let production = if weight <= 0.0 {
        Production::Slot(blue_slot)
    } else if weight >= 100.0 {
        Production::Slot(green_slot)
    } else {
        Production::Split {
            blue: blue_slot,
            green: green_slot,
            green_weight: weight,
        }
    };
    Layout {
        slots: vec![
            SlotPlan {
                slot: blue_slot,
                revision: Colour::of(blue),
                full: blue_up,
            },
            SlotPlan {
                slot: green_slot,
                revision: Colour::of(green),
                full: green_up,
            },
        ],
        production,
        test: green_slot,
        test_traffic: stage >= stage_index("TEST_TRAFFIC_SHIFT"),
    }
}

/// When to look again: the earliest hook poll, hook timeout, traffic step or bake end.
pub fn wake_after(st: &ServiceDeploymentState, plan: &Plan, now: Timestamp) -> Option<Duration> {
    if st.status != IN_PROGRESS {
        return None;
    }
    let until = |t: &str| {
        parse(t).map(|t| Duration::from_secs((t.as_second() - now.as_second()).max(1) as u64))
    };
    let mut next: Vec<Duration> = Vec::new();
    for h in st
        .lifecycle_hook_details
        .iter()
        .filter(|h| h.lifecycle_stage == st.lifecycle_stage)
    {
        if h.status == IN_PROGRESS || h.status == AWAITING_ACTION {
            next.extend(until(&h.expires_at));
            next.extend(h.next_poll_at.as_deref().and_then(until));
        }
    }
    match st.lifecycle_stage.as_str() {
        "BAKE_TIME" => next.push(
            plan.bake
                .saturating_sub(elapsed(&st.stage_started_at, now))
                .max(Duration::from_secs(1)),
        ),
        "PRODUCTION_TRAFFIC_SHIFT" => {
            let steps = plan.kind.steps();
            let step = st.traffic_step.max(1) as usize;
            if let Some((_, bake)) = steps.get(step - 1) {
                let since = st
                    .traffic_step_started_at
                    .clone()
                    .unwrap_or_else(|| st.stage_started_at.clone());
                next.push(
                    bake.saturating_sub(elapsed(&since, now))
                        .max(Duration::from_secs(1)),
                );
            }
        }
        _ => {}
    }
    // Pods wake us for SCALE_UP and CLEAN_UP; alarms are read on this cadence.
    next.push(Duration::from_secs(if plan.alarms.is_some() {
        10
    } else {
        30
    }));
    next.into_iter().min()
}
