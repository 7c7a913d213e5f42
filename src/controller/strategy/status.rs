//! The status of a BLUE_GREEN, LINEAR or CANARY service — pure: `status.serviceDeployment`
//! (the machine's state), `deployments[]` as `describe-services` shows them (PRIMARY: the
//! target revision with its lifecycle stage; ACTIVE: the source while it has tasks), counts,
//! ECS-worded events, and kstatus conditions: a PAUSE wait is Progressing with reason
//! `LifecycleHookPaused` (Argo CD: Suspended), a bake `BakeTime`, a rollback Stalled (Degraded).

use k8s_openapi::jiff::Timestamp;

use super::machine::{
    self, AWAITING_ACTION, Colour, Counts, IN_PROGRESS, Notice, ROLLBACK_SUCCESSFUL, STOPPED,
    SUCCESSFUL, SlotTasks,
};
use crate::api::{
    Condition, PROGRESSING, READY, STALLED, ServiceDeployment, ServiceDeploymentState,
    ServiceEvent, ServiceRevisionState, ServiceStatus, set_condition,
};
use crate::controller::service_status::MAX_EVENTS;
use crate::translate::names::short_hash;
use crate::translate::strategy::Slot;

/// What the status needs besides the machine's state.
pub struct View<'a> {
    pub service_name: &'a str,
    pub generation: Option<i64>,
    pub desired: i32,
    pub selector: String,
    pub warnings: Vec<String>,
    pub tasks: &'a [SlotTasks],
    pub unslotted: i32,
    pub now: Timestamp,
}

impl View<'_> {
    fn slot(&self, s: &str) -> Counts {
        machine::count(self.tasks, Slot::parse(s), None)
    }

    fn of(&self, r: &ServiceRevisionState) -> Counts {
        machine::count(
            self.tasks,
            Slot::parse(&r.slot),
            Some(&Colour {
                task_definition: r.task_definition.clone(),
                force: r.force_new_deployment.clone(),
            }),
        )
    }
}

fn stamp(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The new status.
pub fn compute(
    prev: &ServiceStatus,
    st: &ServiceDeploymentState,
    v: &View,
    notices: &[Notice],
) -> ServiceStatus {
    let now = stamp(v.now);
    let mut out = prev.clone();
    out.status = Some("ACTIVE".into());
    out.desired_count = v.desired;
    out.selector = Some(v.selector.clone());
    out.warnings = v.warnings.clone();
    let (main, alt) = (v.slot("main"), v.slot("alt"));
    let all = Counts {
        ready: main.ready + alt.ready,
        pending: main.pending + alt.pending + v.unslotted,
        failures: 0,
    };
    out.running_count = all.ready;
    out.pending_count = all.pending;
    let rolled_back = st.status == ROLLBACK_SUCCESSFUL;
    let serving = machine::production_revision(st);
    out.task_definition = Some(if rolled_back {
        serving.task_definition.clone()
    } else {
        st.target_service_revision.task_definition.clone()
    });
    let target = &st.target_service_revision;
    let t = v.of(target);
    let rollout = match st.status.as_str() {
        IN_PROGRESS => "IN_PROGRESS",
        SUCCESSFUL => "COMPLETED",
        _ => "FAILED",
    };
    let prev_primary = prev.deployments.iter().find(|d| d.id == st.id);
    let mut deployments = vec![ServiceDeployment {
        id: st.id.clone(),
        status: "PRIMARY".into(),
        task_definition: target.task_definition.clone(),
        desired_count: target.requested_task_count,
        running_count: t.ready,
        pending_count: t.pending,
        failed_tasks: t.failures,
        rollout_state: Some(rollout.into()),
        rollout_state_reason: Some(
            st.status_reason
                .clone()
                .unwrap_or_else(|| format!("ECS deployment in progress: {}.", st.lifecycle_stage)),
        ),
        created_at: Some(st.created_at.clone()),
        updated_at: Some(st.updated_at.clone()),
        force_new_deployment: target.force_new_deployment.clone(),
        lifecycle_stage: Some(st.lifecycle_stage.clone()),
    }];
    let _ = prev_primary;
    if let Some(source) = &st.source_service_revision {
        let s = v.of(source);
        if s.ready + s.pending > 0 {
            deployments.push(ServiceDeployment {
                id: format!(
                    "ecs-svc/{}",
                    short_hash(&format!(
                        "{}{:?}{}",
                        source.task_definition, source.force_new_deployment, source.slot
                    ))
                ),
                status: "ACTIVE".into(),
                task_definition: source.task_definition.clone(),
                desired_count: source.requested_task_count,
                running_count: s.ready,
                pending_count: s.pending,
                rollout_state: Some("COMPLETED".into()),
                force_new_deployment: source.force_new_deployment.clone(),
                ..ServiceDeployment::default()
            });
        }
    }
    out.deployments = deployments;
    for n in notices.iter().filter(|n| n.event) {
        push_event(&mut out, &now, n.message.clone());
    }
    let serving_counts = v.of(&serving);
    let stale = v.slot(&serving.slot).ready + v.slot(&serving.slot).pending
        - serving_counts.ready
        - serving_counts.pending;
    let other = if Slot::parse(&serving.slot) == Slot::Main {
        alt
    } else {
        main
    };
    let steady = st.status != IN_PROGRESS
        && st.status != STOPPED
        && serving_counts.ready == v.desired
        && serving_counts.pending == 0
        && other.ready + other.pending == 0
        && stale == 0
        && v.unslotted == 0;
    if st.status == SUCCESSFUL {
        out.last_completed_task_definition = Some(target.task_definition.clone());
    }
    let failed = st.failed_service_revision.is_some() && (rolled_back || st.status == STOPPED);
    let was_ready = prev
        .conditions
        .iter()
        .any(|c| c.type_ == READY && c.is_true());
    if steady && !failed && !was_ready {
        push_event(
            &mut out,
            &now,
            format!("(service {}) has reached a steady state.", v.service_name),
        );
    }
    let reason_text = st.status_reason.clone().unwrap_or_default();
    let paused = st
        .lifecycle_hook_details
        .iter()
        .any(|h| h.lifecycle_stage == st.lifecycle_stage && h.status == AWAITING_ACTION);
    let (ready, progressing, stalled) = if failed {
        let reason = if rolled_back {
            "RolledBack"
        } else {
            "DeploymentFailed"
        };
        (
            Condition::new(READY, false, reason, reason_text.clone()),
            Condition::new(PROGRESSING, false, reason, reason_text.clone()),
            Condition::new(STALLED, true, reason, reason_text.clone()),
        )
    } else if st.status == IN_PROGRESS {
        let (reason, msg) = if paused {
            (
                "LifecycleHookPaused",
                format!(
                    "deployment {} paused at {}: waiting for annotation ecs-operator.io/continue-deployment",
                    st.id, st.lifecycle_stage
                ),
            )
        } else if st.lifecycle_stage == "BAKE_TIME" {
            (
                "BakeTime",
                format!(
                    "deployment {} baking: blue is kept until the bake time ends",
                    st.id
                ),
            )
        } else {
            (
                "Deploying",
                format!(
                    "deployment {} at {}: {} of {} tasks running {}",
                    st.id, st.lifecycle_stage, t.ready, v.desired, target.task_definition
                ),
            )
        };
        (
            Condition::new(READY, false, "Deploying", msg.clone()),
            Condition::new(PROGRESSING, true, reason, msg),
            Condition::new(STALLED, false, "Progressing", String::new()),
        )
    } else if steady {
        let msg = format!(
            "{} of {} tasks running {}",
            serving_counts.ready, v.desired, serving.task_definition
        );
        (
            Condition::new(READY, true, "SteadyState", msg.clone()),
            Condition::new(PROGRESSING, false, "SteadyState", msg),
            Condition::new(STALLED, false, "Progressing", String::new()),
        )
    } else {
        let msg = format!(
            "{} of {} tasks running {}",
            serving_counts.ready, v.desired, serving.task_definition
        );
        (
            Condition::new(READY, false, "Deploying", msg.clone()),
            Condition::new(PROGRESSING, true, "Deploying", msg),
            Condition::new(STALLED, false, "Progressing", String::new()),
        )
    };
    for c in [ready, progressing, stalled] {
        set_condition(&mut out.conditions, c, v.generation, &now);
    }
    out.service_deployment = Some(st.clone());
    out.observed_generation = v.generation;
    out
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
