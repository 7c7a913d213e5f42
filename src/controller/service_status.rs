//! A Service's status, computed from what was applied and the pods observed — pure, with the
//! clock injected: ECS deployments (PRIMARY/ACTIVE), the rollout state and the deployment
//! circuit breaker, bounded ECS-worded events, and kstatus conditions. Nothing here calls the API.

use k8s_openapi::jiff::Timestamp;

use crate::api::ecs::DeploymentCircuitBreaker;
use crate::api::{
    Condition, PROGRESSING, READY, STALLED, ServiceDeployment, ServiceEvent, ServiceStatus,
    set_condition,
};
use crate::translate::names::short_hash;

/// How many service events are kept.
pub const MAX_EVENTS: usize = 20;

/// One pod of the service, as the status needs it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodView {
    /// `family:N` of the pod's revision.
    pub task_definition: String,
    pub ready: bool,
    pub terminating: bool,
    /// Failed task starts this pod stands for: container restarts, a failed phase, an image
    /// that cannot be pulled.
    pub failures: i32,
    /// The scheduler's reason when the pod cannot be placed.
    pub unschedulable: Option<String>,
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
    pub desired: i32,
    pub breaker: Option<DeploymentCircuitBreaker>,
    pub threshold: i32,
    pub deadline_seconds: i64,
    pub pods: Vec<PodView>,
    pub selector: String,
    pub warnings: Vec<String>,
    pub now: Timestamp,
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

/// Compute the new status from the previous one and the observations.
pub fn compute(prev: &ServiceStatus, i: &Inputs) -> (ServiceStatus, Vec<Notice>) {
    let now = stamp(i.now);
    let name = &i.service_name;
    let mut notices = Vec::new();
    let mut st = prev.clone();
    st.status = Some("ACTIVE".into());
    st.desired_count = i.desired;
    st.selector = Some(i.selector.clone());
    st.warnings = i.warnings.clone();
    st.task_definition = Some(i.task_definition.clone());
    let live: Vec<&PodView> = i.pods.iter().filter(|p| !p.terminating).collect();
    st.running_count = live.iter().filter(|p| p.ready).count() as i32;
    st.pending_count = live.len() as i32 - st.running_count;

    let prev_primary = prev.deployments.iter().find(|d| d.status == "PRIMARY");
    let mut primary = match prev_primary {
        Some(d) if d.task_definition == i.task_definition => d.clone(),
        _ => ServiceDeployment {
            id: format!(
                "ecs-svc/{}",
                short_hash(&format!("{}{now}", i.task_definition))
            ),
            status: "PRIMARY".into(),
            task_definition: i.task_definition.clone(),
            rollout_state: Some("IN_PROGRESS".into()),
            rollout_state_reason: Some("ECS deployment in progress.".into()),
            created_at: Some(now.clone()),
            updated_at: Some(now.clone()),
            ..ServiceDeployment::default()
        },
    };
    let mine: Vec<&&PodView> = live
        .iter()
        .filter(|p| p.task_definition == i.task_definition)
        .collect();
    let others = live.len() - mine.len();
    primary.desired_count = i.desired;
    primary.running_count = mine.iter().filter(|p| p.ready).count() as i32;
    primary.pending_count = mine.len() as i32 - primary.running_count;
    let reset = i
        .breaker
        .as_ref()
        .and_then(|b| b.reset_on_healthy_task)
        .unwrap_or(true);
    let failures: i32 = mine.iter().map(|p| p.failures).sum();
    // Restart counts only grow while a pod lives, but a replaced pod takes its count along:
    // keep the highest count seen, unless a healthy task resets it (resetOnHealthyTask, default on).
    let in_progress = primary.rollout_state.as_deref() == Some("IN_PROGRESS");
    primary.failed_tasks = if !in_progress {
        // A finished deployment's count is history.
        primary.failed_tasks
    } else if reset && primary.running_count > 0 {
        mine.iter().filter(|p| !p.ready).map(|p| p.failures).sum()
    } else {
        primary.failed_tasks.max(failures)
    };

    if primary.rollout_state.as_deref() == Some("IN_PROGRESS") {
        let breaker_on = i.breaker.as_ref().and_then(|b| b.enable).unwrap_or(false);
        let rollback = i.breaker.as_ref().and_then(|b| b.rollback).unwrap_or(false);
        let age = parse(&primary.created_at).map_or(0, |c| i.now.as_second() - c.as_second());
        let failure = if breaker_on && primary.failed_tasks >= i.threshold {
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
        };
        if let Some(reason) = failure {
            primary.rollout_state = Some("FAILED".into());
            primary.rollout_state_reason = Some(reason.clone());
            primary.updated_at = Some(now.clone());
            notices.push(Notice {
                warning: true,
                reason: "DeploymentFailed",
                message: format!(
                    "(service {name}) deployment {} failed: {reason}",
                    primary.id
                ),
            });
            push_event(
                &mut st,
                &now,
                format!(
                    "(service {name}) deployment {} deployment failed: {reason}",
                    primary.id
                ),
            );
            let back_to = prev
                .last_completed_task_definition
                .clone()
                .filter(|l| l != &i.task_definition);
            if rollback {
                if let Some(back_to) = back_to {
                    st.failed_task_definition = Some(i.requested.clone());
                    let msg = format!(
                        "(service {name}) rolling back to {back_to}: deployment of {} failed.",
                        i.task_definition
                    );
                    notices.push(Notice {
                        warning: true,
                        reason: "RollingBack",
                        message: msg.clone(),
                    });
                    push_event(&mut st, &now, msg);
                } else {
                    notices.push(Notice {
                        warning: true,
                        reason: "RollbackImpossible",
                        message: format!(
                            "(service {name}) cannot roll back: no earlier deployment completed."
                        ),
                    });
                }
            }
        } else if primary.running_count == i.desired && primary.pending_count == 0 && others == 0 {
            primary.rollout_state = Some("COMPLETED".into());
            primary.rollout_state_reason =
                Some(format!("ECS deployment {} completed.", primary.id));
            primary.updated_at = Some(now.clone());
            st.last_completed_task_definition = Some(i.task_definition.clone());
            if st
                .failed_task_definition
                .as_deref()
                .is_some_and(|f| f != i.requested)
                || i.task_definition == i.requested
            {
                st.failed_task_definition = None;
            }
            push_event(
                &mut st,
                &now,
                format!(
                    "(service {name}) deployment {} deployment completed.",
                    primary.id
                ),
            );
            notices.push(Notice {
                warning: false,
                reason: "DeploymentCompleted",
                message: format!(
                    "(service {name}) deployment of {} completed.",
                    i.task_definition
                ),
            });
        }
    }

    // Older revisions that still have tasks are ACTIVE deployments draining.
    let mut deployments = vec![primary.clone()];
    let mut older: Vec<String> = live
        .iter()
        .map(|p| p.task_definition.clone())
        .filter(|t| t != &i.task_definition)
        .collect();
    older.sort();
    older.dedup();
    for td in older {
        let pods: Vec<&&PodView> = live.iter().filter(|p| p.task_definition == td).collect();
        let prev_entry = prev.deployments.iter().find(|d| d.task_definition == td);
        let running = pods.iter().filter(|p| p.ready).count() as i32;
        deployments.push(ServiceDeployment {
            id: prev_entry
                .map(|d| d.id.clone())
                .unwrap_or_else(|| format!("ecs-svc/{}", short_hash(&td))),
            status: "ACTIVE".into(),
            task_definition: td.clone(),
            desired_count: 0,
            running_count: running,
            pending_count: pods.len() as i32 - running,
            failed_tasks: prev_entry.map_or(0, |d| d.failed_tasks),
            rollout_state: prev_entry.and_then(|d| d.rollout_state.clone()),
            rollout_state_reason: prev_entry.and_then(|d| d.rollout_state_reason.clone()),
            created_at: prev_entry.and_then(|d| d.created_at.clone()),
            updated_at: prev_entry.and_then(|d| d.updated_at.clone()),
        });
    }
    st.deployments = deployments;

    // Placement failures, in ECS wording, once per distinct reason.
    for reason in i.pods.iter().filter_map(|p| p.unschedulable.clone()) {
        let msg = format!(
            "(service {name}) was unable to place a task because no container instance met all of its requirements. Reason: {reason}"
        );
        if !st.events.iter().take(5).any(|e| e.message == msg) {
            push_event(&mut st, &now, msg.clone());
            notices.push(Notice {
                warning: true,
                reason: "UnableToPlaceTask",
                message: msg,
            });
        }
    }

    let completed = primary.rollout_state.as_deref() == Some("COMPLETED");
    let failed = primary.rollout_state.as_deref() == Some("FAILED");
    let rolled_back = i.task_definition != i.requested;
    let steady = completed && st.running_count == i.desired && st.pending_count == 0 && others == 0;
    let was_steady = prev
        .conditions
        .iter()
        .any(|c| c.type_ == READY && c.is_true())
        || (rolled_back
            && prev
                .events
                .first()
                .is_some_and(|e| e.message.ends_with("has reached a steady state.")));
    if steady && !was_steady {
        push_event(
            &mut st,
            &now,
            format!("(service {name}) has reached a steady state."),
        );
    }
    let generation = i.generation;
    let (ready, ready_reason, ready_msg) = if rolled_back {
        (
            false,
            "RolledBack",
            format!(
                "the deployment of {} failed; running {} instead",
                i.requested, i.task_definition
            ),
        )
    } else if steady {
        (
            true,
            "SteadyState",
            format!(
                "{} of {} tasks running {}",
                st.running_count, i.desired, i.task_definition
            ),
        )
    } else if failed {
        (
            false,
            "DeploymentFailed",
            primary.rollout_state_reason.clone().unwrap_or_default(),
        )
    } else {
        (
            false,
            "Deploying",
            format!(
                "{} of {} tasks running {}",
                primary.running_count, i.desired, i.task_definition
            ),
        )
    };
    set_condition(
        &mut st.conditions,
        Condition::new(READY, ready, ready_reason, ready_msg),
        generation,
        &now,
    );
    let progressing = !failed && !steady;
    set_condition(
        &mut st.conditions,
        Condition::new(
            PROGRESSING,
            progressing,
            if progressing {
                "Deploying"
            } else if failed {
                "DeploymentFailed"
            } else {
                "SteadyState"
            },
            primary.rollout_state_reason.clone().unwrap_or_default(),
        ),
        generation,
        &now,
    );
    let stalled = failed || rolled_back;
    set_condition(
        &mut st.conditions,
        Condition::new(
            STALLED,
            stalled,
            if stalled {
                if rolled_back {
                    "RolledBack"
                } else {
                    "DeploymentFailed"
                }
            } else {
                "Progressing"
            },
            if stalled {
                primary.rollout_state_reason.clone().unwrap_or_default()
            } else {
                String::new()
            },
        ),
        generation,
        &now,
    );
    st.observed_generation = generation;
    (st, notices)
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
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn pod(td: &str, ready: bool, failures: i32) -> PodView {
        PodView {
            task_definition: td.into(),
            ready,
            failures,
            ..PodView::default()
        }
    }

    fn inputs(td: &str, pods: Vec<PodView>, now: i64) -> Inputs {
        Inputs {
            service_name: "web".into(),
            generation: Some(1),
            task_definition: td.into(),
            requested: td.into(),
            desired: 2,
            breaker: Some(DeploymentCircuitBreaker {
                enable: Some(true),
                rollback: Some(true),
                ..Default::default()
            }),
            threshold: 3,
            deadline_seconds: 600,
            pods,
            selector: "ecs-operator.io/service=web".into(),
            warnings: vec![],
            now: at(now),
        }
    }

    fn cond<'a>(s: &'a ServiceStatus, t: &str) -> &'a Condition {
        s.conditions.iter().find(|c| c.type_ == t).unwrap()
    }

    #[test]
    fn a_rollout_completes_and_reaches_steady_state_once() {
        let (s1, _) = compute(
            &ServiceStatus::default(),
            &inputs(
                "web:1",
                vec![pod("web:1", true, 0), pod("web:1", false, 0)],
                0,
            ),
        );
        assert_eq!(
            s1.deployments[0].rollout_state.as_deref(),
            Some("IN_PROGRESS")
        );
        assert!(cond(&s1, PROGRESSING).is_true());
        let (s2, notices) = compute(
            &s1,
            &inputs(
                "web:1",
                vec![pod("web:1", true, 0), pod("web:1", true, 0)],
                10,
            ),
        );
        assert_eq!(
            s2.deployments[0].rollout_state.as_deref(),
            Some("COMPLETED")
        );
        assert!(cond(&s2, READY).is_true());
        assert_eq!(
            s2.events[0].message,
            "(service web) has reached a steady state."
        );
        assert_eq!(s2.last_completed_task_definition.as_deref(), Some("web:1"));
        assert!(notices.iter().any(|n| n.reason == "DeploymentCompleted"));
        // Nothing changed: the status is identical, so no write and no new event.
        let (s3, notices) = compute(
            &s2,
            &inputs(
                "web:1",
                vec![pod("web:1", true, 0), pod("web:1", true, 0)],
                20,
            ),
        );
        assert_eq!(s3, s2);
        assert!(notices.is_empty());
    }

    #[test]
    fn the_circuit_breaker_fails_and_rolls_back() {
        let (done, _) = compute(
            &ServiceStatus::default(),
            &inputs(
                "web:1",
                vec![pod("web:1", true, 0), pod("web:1", true, 0)],
                0,
            ),
        );
        let pods = vec![
            pod("web:1", true, 0),
            pod("web:1", true, 0),
            pod("web:2", false, 2),
            pod("web:2", false, 1),
        ];
        let (s, notices) = compute(&done, &inputs("web:2", pods, 30));
        assert_eq!(s.deployments[0].task_definition, "web:2");
        assert_eq!(s.deployments[0].rollout_state.as_deref(), Some("FAILED"));
        assert_eq!(s.deployments[1].status, "ACTIVE");
        assert_eq!(s.failed_task_definition.as_deref(), Some("web:2"));
        assert!(
            notices.iter().any(|n| n.reason == "RollingBack"),
            "{notices:?}"
        );
        assert!(cond(&s, STALLED).is_true());
        // A failed deployment's count is history: more crashes do not move it.
        let more = vec![
            pod("web:1", true, 0),
            pod("web:1", true, 0),
            pod("web:2", false, 9),
        ];
        let (s_later, _) = compute(&s, &inputs("web:2", more, 40));
        assert_eq!(
            s_later.deployments[0].failed_tasks,
            s.deployments[0].failed_tasks
        );
        // The controller now deploys web:1 while the spec still asks for web:2.
        let mut i = inputs(
            "web:1",
            vec![pod("web:1", true, 0), pod("web:1", true, 0)],
            60,
        );
        i.requested = "web:2".into();
        let (back, _) = compute(&s, &i);
        assert_eq!(
            back.deployments[0].rollout_state.as_deref(),
            Some("COMPLETED")
        );
        assert_eq!(cond(&back, READY).reason, "RolledBack");
        assert!(cond(&back, STALLED).is_true());
    }

    #[test]
    fn the_hard_deadline_fails_a_stuck_rollout() {
        let (s1, _) = compute(
            &ServiceStatus::default(),
            &inputs("web:1", vec![pod("web:1", false, 0)], 0),
        );
        let (s2, _) = compute(&s1, &inputs("web:1", vec![pod("web:1", false, 0)], 601));
        assert_eq!(s2.deployments[0].rollout_state.as_deref(), Some("FAILED"));
        assert!(
            s2.deployments[0]
                .rollout_state_reason
                .as_deref()
                .unwrap()
                .contains("600 seconds")
        );
    }

    #[test]
    fn unschedulable_pods_become_one_event_each_reason() {
        let mut p = pod("web:1", false, 0);
        p.unschedulable = Some("0/9 nodes are available: 9 Insufficient cpu.".into());
        let (s1, n1) = compute(
            &ServiceStatus::default(),
            &inputs("web:1", vec![p.clone(), p.clone()], 0),
        );
        assert_eq!(
            n1.iter()
                .filter(|n| n.reason == "UnableToPlaceTask")
                .count(),
            1
        );
        assert!(s1.events[0].message.contains("unable to place a task"));
        let (_, n2) = compute(&s1, &inputs("web:1", vec![p], 5));
        assert!(n2.is_empty());
    }
}
