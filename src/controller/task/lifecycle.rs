//! A Task's status from its pods — pure, with the clock passed in: the ECS lifecycle
//! (PROVISIONING → PENDING → RUNNING → STOPPED), each container's state, exit code and health,
//! the task's health, and the stop decision: the task stops when an essential container exits
//! (`EssentialContainerExited`) or cannot start (`TaskFailedToStart`). Native sidecars (the
//! targets of `dependsOn` START/HEALTHY) count like main containers: an essential one that exits
//! stops the task; a non-essential one may exit (ECS API model, `ContainerDefinition.essential`).
//! An essential container with a restart policy (`ContainerRestartPolicy`) is restarted in place
//! by the kubelet and the task goes on, unless it exited with an ignored code or before running
//! `restartAttemptPeriod` seconds: ECS does not restart it then, so the task stops.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use k8s_openapi::jiff::Timestamp;

use crate::api::{
    Condition, PROGRESSING, READY, STALLED, TaskContainerStatus, TaskStatus, set_condition,
};
use crate::translate::TaskDefinitionRef;
use crate::translate::health::{self, HealthStatus};
use crate::translate::{names, restart};

pub const HEALTHY: &str = "HEALTHY";
pub const UNHEALTHY: &str = "UNHEALTHY";
pub const UNKNOWN: &str = "UNKNOWN";

/// What the status needs to know of each container of the task definition.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Containers {
    /// By container name as the pod has it (a DNS label).
    pub by_name: BTreeMap<String, ContainerFacts>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContainerFacts {
    /// ECS `essential` (default true).
    pub essential: bool,
    /// With a `healthCheck` on an essential container: how long after start a failing check may still be "being
    /// evaluated": `startPeriod` + `interval` × `retries` (ECS `HealthCheck` defaults: 0, 30, 3).
    pub health_grace: Option<Duration>,
    /// ECS restarts it in place (`ContainerRestartPolicy.enabled`, and the server serves
    /// container restart rules).
    pub restart: Option<Restart>,
}

/// A container's ECS restart policy.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Restart {
    /// `ignoredExitCodes`: these exits are not restarted.
    pub ignored: Vec<i32>,
    /// `restartAttemptPeriod`: a container that exits sooner is not restarted.
    pub period: Duration,
}

impl Containers {
    /// The facts of `td`'s containers; `restart_rules`: the server serves container restart
    /// rules (else the translator set none, and nothing restarts in place).
    pub fn of(td: &TaskDefinitionRef, restart_rules: bool) -> Self {
        let by_name = td
            .spec
            .container_definitions
            .iter()
            .flatten()
            .filter_map(|c| {
                let name = names::dns_label(c.name.as_deref()?);
                // A non-essential container's check becomes no probe (ECS: its health changes
                // nothing), so only essential containers' health can be observed.
                let essential = c.essential.unwrap_or(true);
                let health_grace = c.health_check.as_ref().filter(|_| essential).map(|h| {
                    let secs = h.start_period.unwrap_or(0)
                        + h.interval.unwrap_or(30) * h.retries.unwrap_or(3);
                    Duration::from_secs(secs.max(0) as u64)
                });
                let essential = c.essential.unwrap_or(true);
                let restart = restart::ignored_exit_codes(c)
                    .filter(|_| restart_rules)
                    .map(|ignored| Restart {
                        ignored,
                        period: Duration::from_secs(restart::attempt_period(c).max(0) as u64),
                    });
                Some((
                    name,
                    ContainerFacts {
                        essential,
                        health_grace,
                        restart,
                    },
                ))
            })
            .collect();
        Containers { by_name }
    }

    fn facts(&self, name: &str) -> ContainerFacts {
        self.by_name.get(name).cloned().unwrap_or_default()
    }
}

/// Whether the task's remaining pods must be stopped.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub status: TaskStatus,
    /// Stop (delete) the pods: the task has stopped.
    pub stop_pods: bool,
    /// The task stopped in this round (for an Event).
    pub stopped_now: bool,
    /// Look again then: a container's health check is still within its grace period.
    pub recheck_after: Option<Duration>,
}

/// A container's health, by [`health::container`] (ECS `HealthCheck`). The readiness probe
/// built from the `healthCheck` carries it: ready is HEALTHY; not ready is still "being
/// evaluated" until the grace period has passed, unless it was HEALTHY or UNHEALTHY before.
/// Returns the wait left, if any.
fn container_health(
    cs: &ContainerStatus,
    facts: &ContainerFacts,
    prev: Option<&str>,
    now: Timestamp,
) -> (&'static str, Option<Duration>) {
    let running = cs.state.as_ref().and_then(|s| s.running.as_ref());
    let up = running
        .and_then(|r| r.started_at.as_ref())
        .map_or(0, |t| now.as_second() - t.0.as_second())
        .max(0) as u64;
    let left = facts
        .health_grace
        .and_then(|g| g.checked_sub(Duration::from_secs(up)))
        .filter(|d| !d.is_zero());
    let judged = matches!(prev, Some(HEALTHY | UNHEALTHY));
    let observed = health::Observed {
        checked: facts.health_grace.is_some(),
        running: running.is_some(),
        ready: cs.ready,
        evaluating: left.is_some() && !judged,
    };
    let status = health::container(observed);
    let wait =
        left.filter(|_| status == HealthStatus::Unknown && observed.checked && observed.running);
    (status.as_str(), wait)
}

/// The task's health from its essential containers ([`health::task`], ECS `HealthCheck`).
pub fn task_health(containers: &[TaskContainerStatus]) -> &'static str {
    let parse = |h: Option<&str>| match h {
        Some(HEALTHY) => HealthStatus::Healthy,
        Some(UNHEALTHY) => HealthStatus::Unhealthy,
        _ => HealthStatus::Unknown,
    };
    health::task(
        containers
            .iter()
            .map(|c| (c.essential, parse(c.health_status.as_deref()))),
    )
    .as_str()
}

/// Why the task stops, if it does: an essential container exited or cannot pull its image.
fn stop_reason(
    cs: &ContainerStatus,
    essential: bool,
    last: &str,
    exit: Option<i32>,
    reason: Option<&str>,
) -> Option<(&'static str, String)> {
    if essential && last == "STOPPED" {
        return Some((
            "EssentialContainerExited",
            format!(
                "Essential container in task exited: {} exited with code {}",
                cs.name,
                exit.unwrap_or(-1)
            ),
        ));
    }
    if matches!(
        reason,
        Some("ErrImagePull" | "ImagePullBackOff" | "InvalidImageName")
    ) {
        return Some((
            "TaskFailedToStart",
            format!(
                "CannotPullContainerError: {} cannot pull {}",
                cs.name, cs.image
            ),
        ));
    }
    None
}

/// What ECS does with an essential container's exit under its restart policy.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// It is (or will be) restarted in place: the task goes on.
    Restarts,
    /// It exited before running `restartAttemptPeriod`: not restarted, the task stops.
    TooEarly { code: i32, ran: i64 },
    /// No restartable exit (running, or exited with an ignored code).
    NotRestarted,
}

/// ContainerRestartPolicy (ECS API model): an exit with a code not in `ignoredExitCodes`, after
/// running at least `restartAttemptPeriod`, is restarted. The exit is the current state, or
/// the last one once the kubelet restarted the container.
fn restart_verdict(cs: &ContainerStatus, r: &Restart) -> Verdict {
    let current = cs.state.as_ref().and_then(|s| s.terminated.as_ref());
    let last = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref());
    let Some(t) = current.or(last) else {
        return Verdict::NotRestarted;
    };
    if r.ignored.contains(&t.exit_code) {
        return Verdict::NotRestarted;
    }
    let ran = match (&t.started_at, &t.finished_at) {
        (Some(s), Some(f)) => f.0.as_second() - s.0.as_second(),
        _ => 0,
    };
    if ran < r.period.as_secs() as i64 {
        Verdict::TooEarly {
            code: t.exit_code,
            ran,
        }
    } else {
        Verdict::Restarts
    }
}

/// A container's ECS lastStatus, exit code and reason.
fn container_state(cs: &ContainerStatus) -> (&'static str, Option<i32>, Option<String>) {
    let state = cs.state.clone().unwrap_or_default();
    if let Some(t) = &state.terminated {
        let reason = t.reason.clone().unwrap_or_else(|| "Exited".into());
        ("STOPPED", Some(t.exit_code), Some(reason))
    } else if state.running.is_some() {
        ("RUNNING", None, None)
    } else {
        ("PENDING", None, state.waiting.and_then(|w| w.reason))
    }
}

/// What the pods say, container by container.
#[derive(Default)]
struct Observed {
    containers: Vec<TaskContainerStatus>,
    stop: Option<(&'static str, String)>,
    all_running: bool,
    any_scheduled: bool,
    recheck_after: Option<Duration>,
}

fn observe(prev: &TaskStatus, facts: &Containers, pods: &[Pod], now: Timestamp) -> Observed {
    let mut seen = Observed {
        all_running: !pods.is_empty(),
        ..Observed::default()
    };
    for pod in pods {
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        let status = pod.status.clone().unwrap_or_default();
        seen.any_scheduled |= pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_ref())
            .is_some();
        // Native sidecars are init containers with restartPolicy Always; a plain init
        // container (a COMPLETE/SUCCESS target, never essential in ECS) may exit.
        let sidecars = status.init_container_statuses.unwrap_or_default();
        let mains = status.container_statuses.unwrap_or_default();
        if mains.is_empty() {
            seen.all_running = false;
        }
        for (cs, is_main) in sidecars
            .iter()
            .map(|c| (c, false))
            .chain(mains.iter().map(|c| (c, true)))
        {
            let f = facts.facts(&cs.name);
            let (mut last, mut exit, mut reason) = container_state(cs);
            // kubelet restarts a native sidecar that exits: the exit is in lastState.
            let restarted = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref());
            if let (false, true, Some(t)) = (is_main, f.essential, restarted)
                && last != "STOPPED"
            {
                (last, exit) = ("STOPPED", Some(t.exit_code));
                reason = Some(t.reason.clone().unwrap_or_else(|| "Exited".into()));
            }
            if is_main && last != "RUNNING" {
                seen.all_running = false;
            }
            let restarting = match (&f.restart, is_main && f.essential) {
                (Some(r), true) => match restart_verdict(cs, r) {
                    Verdict::Restarts => true,
                    Verdict::TooEarly { code, ran } => {
                        seen.stop = seen.stop.take().or(Some((
                            "EssentialContainerExited",
                            format!(
                                "Essential container in task exited: {} exited with code {code} after {ran} s, before its restartAttemptPeriod of {} s, so it is not restarted",
                                cs.name,
                                r.period.as_secs()
                            ),
                        )));
                        false
                    }
                    Verdict::NotRestarted => false,
                },
                _ => false,
            };
            if seen.stop.is_none() && !restarting {
                seen.stop = stop_reason(cs, f.essential, last, exit, reason.as_deref());
            }
            let prev_health = prev
                .containers
                .iter()
                .find(|c| c.pod == pod_name && c.name == cs.name)
                .and_then(|c| c.health_status.as_deref());
            let (health, wait) = container_health(cs, &f, prev_health, now);
            seen.recheck_after = match (seen.recheck_after, wait) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            seen.containers.push(TaskContainerStatus {
                pod: pod_name.clone(),
                name: cs.name.clone(),
                last_status: last.into(),
                exit_code: exit,
                reason,
                essential: f.essential,
                health_status: Some(health.into()),
            });
        }
        if matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")) && seen.stop.is_none() {
            seen.stop = Some((
                "EssentialContainerExited",
                "Essential container in task exited".into(),
            ));
        }
    }
    seen
}

/// Compute the status of a task running `task_definition` (`family:N`) from its pods.
pub fn compute(
    prev: &TaskStatus,
    task_definition: &str,
    facts: &Containers,
    pods: &[Pod],
    generation: Option<i64>,
    now: &str,
) -> Outcome {
    if prev.last_status.as_deref() == Some("STOPPED") {
        // STOPPED is final: keep what was recorded when the task stopped.
        return Outcome {
            status: prev.clone(),
            stop_pods: !pods.is_empty(),
            stopped_now: false,
            recheck_after: None,
        };
    }
    let clock: Timestamp = now.parse().unwrap_or_else(|_| Timestamp::now());
    let seen = observe(prev, facts, pods, clock);
    let mut st = prev.clone();
    st.task_definition = Some(task_definition.to_string());
    st.desired_status = Some("RUNNING".into());
    st.containers = seen.containers;
    st.health_status = Some(task_health(&st.containers).into());
    let last_status = if let Some((code, reason)) = &seen.stop {
        st.stop_code = Some((*code).into());
        st.stopped_reason = Some(reason.clone());
        st.stopped_at = Some(now.into());
        st.desired_status = Some("STOPPED".into());
        "STOPPED"
    } else if seen.all_running {
        if st.started_at.is_none() {
            st.started_at = Some(now.into());
        }
        "RUNNING"
    } else if seen.any_scheduled {
        "PENDING"
    } else {
        "PROVISIONING"
    };
    st.last_status = Some(last_status.into());
    let stopped = last_status == "STOPPED";
    conditions(&mut st, last_status, generation, now);
    Outcome {
        status: st,
        stop_pods: stopped,
        stopped_now: stopped,
        recheck_after: if stopped { None } else { seen.recheck_after },
    }
}

/// The annotation that stops a task (ECS `StopTask`, as `kubectl ecs stop-task` sets it); its
/// value is the `reason` (ECS's default: "Task stopped by user").
pub const STOP_TASK: &str = "ecs-operator.io/stop-task";

/// The status of a task stopped by the user (ECS `StopTask`): stopCode UserInitiated, the
/// reason as stoppedReason, every container STOPPED; its pods are then stopped. Pure.
pub fn stopped_by_user(
    prev: &TaskStatus,
    reason: &str,
    generation: Option<i64>,
    now: &str,
) -> Outcome {
    let mut st = prev.clone();
    let reason = if reason.trim().is_empty() {
        "Task stopped by user"
    } else {
        reason
    };
    st.stop_code = Some("UserInitiated".into());
    st.stopped_reason = Some(reason.into());
    st.stopped_at = Some(now.into());
    st.desired_status = Some("STOPPED".into());
    st.last_status = Some("STOPPED".into());
    for c in &mut st.containers {
        c.last_status = "STOPPED".into();
    }
    conditions(&mut st, "STOPPED", generation, now);
    Outcome {
        status: st,
        stop_pods: true,
        stopped_now: true,
        recheck_after: None,
    }
}

/// Ready while RUNNING or after a clean stop; Progressing until RUNNING; Stalled when the task
/// failed (it could not start, or an essential container exited non-zero). A standalone task
/// "continues its lifecycle regardless of its health status" (ECS API model, `HealthCheck`):
/// health is reported and changes none of these.
fn conditions(st: &mut TaskStatus, last_status: &str, generation: Option<i64>, now: &str) {
    let stopped = last_status == "STOPPED";
    let failed = stopped
        && (st.stop_code.as_deref() == Some("TaskFailedToStart")
            || st
                .containers
                .iter()
                .any(|c| c.essential && c.exit_code.is_some_and(|e| e != 0)));
    let reason = st.stopped_reason.clone().unwrap_or_default();
    let ready = last_status == "RUNNING" || (stopped && !failed);
    let stalled = if failed {
        let code = st.stop_code.clone().unwrap_or_default();
        Condition::new(STALLED, true, &code, reason.clone())
    } else {
        Condition::new(STALLED, false, last_status, "")
    };
    let conditions = [
        Condition::new(READY, ready, last_status, reason),
        Condition::new(
            PROGRESSING,
            !stopped && last_status != "RUNNING",
            last_status,
            "",
        ),
        stalled,
    ];
    for c in conditions {
        set_condition(&mut st.conditions, c, generation, now);
    }
    st.observed_generation = generation;
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    #[test]
    fn a_user_stop_is_user_initiated_with_the_reason_and_not_a_failure() {
        let prev = TaskStatus {
            last_status: Some("RUNNING".into()),
            containers: vec![TaskContainerStatus {
                pod: "job-0".into(),
                name: "app".into(),
                last_status: "RUNNING".into(),
                essential: true,
                ..Default::default()
            }],
            ..Default::default()
        };
        let out = stopped_by_user(&prev, "", Some(1), "2026-01-01T00:00:00Z");
        let st = &out.status;
        assert!(out.stop_pods && out.stopped_now);
        assert_eq!(st.last_status.as_deref(), Some("STOPPED"));
        assert_eq!(st.desired_status.as_deref(), Some("STOPPED"));
        assert_eq!(st.stop_code.as_deref(), Some("UserInitiated"));
        assert_eq!(st.stopped_reason.as_deref(), Some("Task stopped by user"));
        assert_eq!(st.containers[0].last_status, "STOPPED");
        let stalled = st.conditions.iter().find(|c| c.type_ == STALLED).unwrap();
        assert_eq!(stalled.status, "False");
        let out = stopped_by_user(&prev, "deploy aborted", Some(1), "2026-01-01T00:00:00Z");
        assert_eq!(out.status.stopped_reason.as_deref(), Some("deploy aborted"));
    }

    fn pod(containers: serde_json::Value, phase: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "job-0"},
            "spec": {"nodeName": "n1", "containers": []},
            "status": {"phase": phase, "containerStatuses": containers}
        }))
        .unwrap()
    }

    /// `app` essential; `sidecar`, `helper` non-essential; `proxy` essential with a healthCheck.
    fn essential() -> Containers {
        let facts = |essential, grace: Option<u64>| ContainerFacts {
            essential,
            health_grace: grace.map(Duration::from_secs),
            restart: None,
        };
        Containers {
            by_name: BTreeMap::from([
                ("app".to_string(), facts(true, None)),
                ("sidecar".to_string(), facts(false, None)),
                ("helper".to_string(), facts(false, None)),
                ("proxy".to_string(), facts(true, Some(90))),
            ]),
        }
    }

    fn pod_with(init: serde_json::Value, containers: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "job-0"},
            "spec": {"nodeName": "n1", "containers": []},
            "status": {"phase": "Running", "initContainerStatuses": init, "containerStatuses": containers}
        }))
        .unwrap()
    }

    fn running(name: &str, ready: bool, started: &str) -> serde_json::Value {
        json!({"name": name, "image": "x", "imageID": "", "ready": ready, "restartCount": 0,
               "state": {"running": {"startedAt": started}}})
    }

    const T0: &str = "2026-01-01T00:00:00Z";

    /// `app` essential with ECS's restart policy: ignoredExitCodes [7], restartAttemptPeriod 60.
    fn restarting() -> Containers {
        Containers {
            by_name: BTreeMap::from([(
                "app".to_string(),
                ContainerFacts {
                    essential: true,
                    health_grace: None,
                    restart: Some(Restart {
                        ignored: vec![7],
                        period: Duration::from_secs(60),
                    }),
                },
            )]),
        }
    }

    fn exited(code: i32, started: &str, finished: &str) -> serde_json::Value {
        json!({"exitCode": code, "reason": "Error", "startedAt": started, "finishedAt": finished})
    }

    /// ContainerRestartPolicy (ECS API model; "Restart individual containers in Amazon ECS tasks
    /// with container restart policies"): a restartable exit after restartAttemptPeriod is
    /// restarted in place and the task goes on; an ignored code, or an exit before the period,
    /// is not restarted and the essential container's exit stops the task.
    #[test]
    fn a_restart_policy_keeps_the_task_unless_the_exit_is_ignored_or_too_early() {
        let c = restarting();
        let at = "2026-01-01T00:05:00Z";
        let run = |state: serde_json::Value, last: serde_json::Value| {
            let cs = json!({"name": "app", "image": "x", "imageID": "", "ready": false,
                            "restartCount": 1, "state": state, "lastState": last});
            let o = compute(
                &TaskStatus::default(),
                "job:1",
                &c,
                &[pod_with(json!([]), json!([cs]))],
                None,
                at,
            );
            (
                o.stop_pods,
                o.status.stop_code.clone(),
                o.status.stopped_reason.clone(),
            )
        };
        // Ran 120 s, exit 3, restarted by the kubelet (the exit in lastState): goes on.
        let waiting = json!({"waiting": {"reason": "CrashLoopBackOff"}});
        let (stop, ..) = run(
            waiting.clone(),
            json!({"terminated": exited(3, T0, "2026-01-01T00:02:00Z")}),
        );
        assert!(!stop);
        // The same exit seen before the restart (current state): goes on too.
        let (stop, ..) = run(
            json!({"terminated": exited(3, T0, "2026-01-01T00:02:00Z")}),
            json!({}),
        );
        assert!(!stop);
        // Ignored code 7: not restarted, the task stops.
        let (stop, code, _) = run(
            json!({"terminated": exited(7, T0, "2026-01-01T00:02:00Z")}),
            json!({}),
        );
        assert!(stop);
        assert_eq!(code.as_deref(), Some("EssentialContainerExited"));
        // Exit 3 after 2 s (< 60 s): ECS would not restart it, even though the kubelet did.
        let (stop, code, reason) = run(
            waiting,
            json!({"terminated": exited(3, T0, "2026-01-01T00:00:02Z")}),
        );
        assert!(stop);
        assert_eq!(code.as_deref(), Some("EssentialContainerExited"));
        assert!(
            reason
                .unwrap()
                .contains("before its restartAttemptPeriod of 60 s")
        );
    }

    // ECS API model, `HealthCheck`: container health HEALTHY / UNHEALTHY / UNKNOWN (being
    // evaluated, or no check defined); task health from the essential containers, in priority
    // order UNHEALTHY > UNKNOWN > HEALTHY; "If a task is run manually, and not as part of a
    // service, the task will continue its lifecycle regardless of its health status."
    #[test]
    fn health_follows_the_ecs_healthcheck_rules_and_never_stops_a_standalone_task() {
        let c = essential();
        // proxy has a check and is not ready yet, 30 s after start: still being evaluated.
        let p = pod_with(
            json!([]),
            json!([running("app", true, T0), running("proxy", false, T0)]),
        );
        let o = compute(
            &TaskStatus::default(),
            "job:1",
            &c,
            &[p],
            None,
            "2026-01-01T00:00:30Z",
        );
        let health = |o: &Outcome, n: &str| {
            o.status
                .containers
                .iter()
                .find(|c| c.name == n)
                .unwrap()
                .health_status
                .clone()
                .unwrap()
        };
        assert_eq!(health(&o, "app"), UNKNOWN, "no healthCheck: UNKNOWN");
        assert_eq!(health(&o, "proxy"), UNKNOWN);
        assert_eq!(o.status.health_status.as_deref(), Some(UNKNOWN));
        assert_eq!(o.recheck_after, Some(Duration::from_secs(60)));
        // Past startPeriod + interval × retries, still failing: UNHEALTHY, and the task goes on.
        let p = pod_with(
            json!([]),
            json!([running("app", true, T0), running("proxy", false, T0)]),
        );
        let o = compute(&o.status, "job:1", &c, &[p], None, "2026-01-01T00:02:00Z");
        assert_eq!(health(&o, "proxy"), UNHEALTHY);
        assert_eq!(o.status.health_status.as_deref(), Some(UNHEALTHY));
        assert_eq!(o.status.last_status.as_deref(), Some("RUNNING"));
        assert!(!o.stop_pods);
        // Passing: HEALTHY; app has no check so the task stays UNKNOWN.
        let p = pod_with(
            json!([]),
            json!([running("app", true, T0), running("proxy", true, T0)]),
        );
        let o = compute(&o.status, "job:1", &c, &[p], None, "2026-01-01T00:03:00Z");
        assert_eq!(health(&o, "proxy"), HEALTHY);
        assert_eq!(o.status.health_status.as_deref(), Some(UNKNOWN));
    }

    #[test]
    fn task_health_priority_matches_the_api_model_examples() {
        let c = |essential, h: &str| TaskContainerStatus {
            essential,
            health_status: Some(h.into()),
            ..TaskContainerStatus::default()
        };
        assert_eq!(
            task_health(&[c(true, UNHEALTHY), c(true, UNKNOWN)]),
            UNHEALTHY
        );
        assert_eq!(
            task_health(&[c(true, UNHEALTHY), c(true, HEALTHY)]),
            UNHEALTHY
        );
        assert_eq!(task_health(&[c(true, HEALTHY), c(true, UNKNOWN)]), UNKNOWN);
        assert_eq!(task_health(&[c(true, HEALTHY), c(true, HEALTHY)]), HEALTHY);
        // Non-essential containers' health changes nothing.
        assert_eq!(
            task_health(&[c(true, HEALTHY), c(false, UNHEALTHY)]),
            HEALTHY
        );
    }

    // ECS API model, `ContainerDefinition.essential`: "If the essential parameter of a container
    // is marked as true, and that container fails or stops for any reason, all other containers
    // that are part of the task are stopped." A native sidecar (a dependsOn START target) is
    // restarted by kubelet, so its exit shows in lastState.
    #[test]
    fn an_essential_sidecar_that_exits_stops_the_task_a_non_essential_one_does_not() {
        let mut restarted = running("proxy", true, T0);
        restarted["restartCount"] = json!(1);
        restarted["lastState"] = json!({"terminated": {"exitCode": 137, "reason": "Error"}});
        let p = pod_with(json!([restarted]), json!([running("app", true, T0)]));
        let o = compute(
            &TaskStatus::default(),
            "job:1",
            &essential(),
            &[p],
            None,
            T0,
        );
        assert_eq!(o.status.last_status.as_deref(), Some("STOPPED"));
        assert!(
            o.status
                .stopped_reason
                .as_deref()
                .unwrap()
                .contains("proxy exited with code 137")
        );
        let mut helper = running("sidecar", true, T0);
        helper["lastState"] = json!({"terminated": {"exitCode": 1, "reason": "Error"}});
        let p = pod_with(json!([helper]), json!([running("app", true, T0)]));
        let o = compute(
            &TaskStatus::default(),
            "job:1",
            &essential(),
            &[p],
            None,
            T0,
        );
        assert_eq!(o.status.last_status.as_deref(), Some("RUNNING"));
    }

    #[test]
    fn running_then_essential_exit_stops_the_task() {
        let running = pod(
            json!([{"name": "app", "image": "x", "imageID": "", "ready": true, "restartCount": 0, "state": {"running": {}}},
                                 {"name": "sidecar", "image": "y", "imageID": "", "ready": true, "restartCount": 0, "state": {"running": {}}}]),
            "Running",
        );
        let o = compute(
            &TaskStatus::default(),
            "job:1",
            &essential(),
            &[running],
            Some(1),
            T0,
        );
        assert_eq!(o.status.last_status.as_deref(), Some("RUNNING"));
        assert!(!o.stop_pods);
        let exited = pod(
            json!([{"name": "app", "image": "x", "imageID": "", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 3, "reason": "Error"}}},
                                {"name": "sidecar", "image": "y", "imageID": "", "ready": true, "restartCount": 0, "state": {"running": {}}}]),
            "Running",
        );
        let o2 = compute(
            &o.status,
            "job:1",
            &essential(),
            &[exited],
            Some(1),
            "2026-01-01T00:00:10Z",
        );
        assert_eq!(o2.status.last_status.as_deref(), Some("STOPPED"));
        assert_eq!(
            o2.status.stop_code.as_deref(),
            Some("EssentialContainerExited")
        );
        assert_eq!(o2.status.containers[0].exit_code, Some(3));
        assert!(o2.stop_pods && o2.stopped_now);
        assert!(
            o2.status
                .conditions
                .iter()
                .any(|c| c.type_ == STALLED && c.is_true())
        );
        // Once stopped, nothing changes any more, and leftover pods are stopped.
        let o3 = compute(
            &o2.status,
            "job:1",
            &essential(),
            &[],
            Some(1),
            "2026-01-01T00:00:20Z",
        );
        assert_eq!(o3.status, o2.status);
        assert!(!o3.stopped_now);
    }

    #[test]
    fn a_non_essential_exit_does_not_stop_the_task() {
        let p = pod(
            json!([{"name": "app", "image": "x", "imageID": "", "ready": true, "restartCount": 0, "state": {"running": {}}},
                           {"name": "helper", "image": "y", "imageID": "", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0}}}]),
            "Running",
        );
        let o = compute(
            &TaskStatus::default(),
            "job:1",
            &essential(),
            &[p],
            None,
            T0,
        );
        assert_ne!(o.status.last_status.as_deref(), Some("STOPPED"));
    }

    #[test]
    fn image_pull_errors_fail_the_start() {
        let p = pod(
            json!([{"name": "app", "image": "nope", "imageID": "", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ErrImagePull"}}}]),
            "Pending",
        );
        let o = compute(
            &TaskStatus::default(),
            "job:1",
            &essential(),
            &[p],
            None,
            T0,
        );
        assert_eq!(o.status.stop_code.as_deref(), Some("TaskFailedToStart"));
    }
}
