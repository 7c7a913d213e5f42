//! A Task's status from its pods — pure: the ECS lifecycle (PROVISIONING → PENDING → RUNNING
//! → STOPPED), each container's state and exit code, and the stop decision: the task stops when
//! an essential container exits (`EssentialContainerExited`) or cannot start (`TaskFailedToStart`).

use k8s_openapi::api::core::v1::Pod;

use crate::api::{
    Condition, PROGRESSING, READY, STALLED, TaskContainerStatus, TaskStatus, set_condition,
};

/// Whether the task's remaining pods must be stopped.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub status: TaskStatus,
    /// Stop (delete) the pods: the task has stopped.
    pub stop_pods: bool,
    /// The task stopped in this round (for an Event).
    pub stopped_now: bool,
}

/// Compute the status of a task running `task_definition` with `essential` container names.
pub fn compute(
    prev: &TaskStatus,
    task_definition: &str,
    essential: &[String],
    pods: &[Pod],
    generation: Option<i64>,
    now: &str,
) -> Outcome {
    let mut st = prev.clone();
    st.task_definition = Some(task_definition.to_string());
    st.desired_status = Some("RUNNING".into());
    let already_stopped = prev.last_status.as_deref() == Some("STOPPED");
    let mut containers = Vec::new();
    let mut stop: Option<(&'static str, String)> = None;
    let (mut all_running, mut any_scheduled, mut all_scheduled) =
        (!pods.is_empty(), false, !pods.is_empty());
    for pod in pods {
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        let status = pod.status.clone().unwrap_or_default();
        let scheduled = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_ref())
            .is_some();
        any_scheduled |= scheduled;
        all_scheduled &= scheduled;
        let statuses: Vec<_> = status.container_statuses.clone().unwrap_or_default();
        for cs in &statuses {
            let state = cs.state.clone().unwrap_or_default();
            let is_essential = essential.contains(&cs.name);
            let (last, exit, reason) = if let Some(t) = &state.terminated {
                (
                    "STOPPED",
                    Some(t.exit_code),
                    Some(t.reason.clone().unwrap_or_else(|| "Exited".into())),
                )
            } else if state.running.is_some() {
                ("RUNNING", None, None)
            } else {
                (
                    "PENDING",
                    None,
                    state.waiting.as_ref().and_then(|w| w.reason.clone()),
                )
            };
            if last != "RUNNING" {
                all_running = false;
            }
            if is_essential && last == "STOPPED" && stop.is_none() {
                stop = Some((
                    "EssentialContainerExited",
                    format!(
                        "Essential container in task exited: {} exited with code {}",
                        cs.name,
                        exit.unwrap_or(-1)
                    ),
                ));
            }
            if matches!(
                reason.as_deref(),
                Some("ErrImagePull" | "ImagePullBackOff" | "InvalidImageName")
            ) && stop.is_none()
            {
                stop = Some((
                    "TaskFailedToStart",
                    format!(
                        "CannotPullContainerError: {} cannot pull {}",
                        cs.name, cs.image
                    ),
                ));
            }
            containers.push(TaskContainerStatus {
                pod: pod_name.clone(),
                name: cs.name.clone(),
                last_status: last.into(),
                exit_code: exit,
                reason,
                essential: is_essential,
            });
        }
        if statuses.is_empty() {
            all_running = false;
        }
        if matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")) && stop.is_none() {
            stop = Some((
                "EssentialContainerExited",
                "Essential container in task exited".into(),
            ));
        }
    }
    if already_stopped {
        // STOPPED is final: keep what was recorded when the task stopped.
        return Outcome {
            status: prev.clone(),
            stop_pods: !pods.is_empty(),
            stopped_now: false,
        };
    }
    st.containers = containers;
    let last_status = if let Some((code, reason)) = &stop {
        st.stop_code = Some((*code).into());
        st.stopped_reason = Some(reason.clone());
        st.stopped_at = Some(now.into());
        st.desired_status = Some("STOPPED".into());
        "STOPPED"
    } else if all_running {
        if st.started_at.is_none() {
            st.started_at = Some(now.into());
        }
        "RUNNING"
    } else if all_scheduled || any_scheduled {
        "PENDING"
    } else {
        "PROVISIONING"
    };
    st.last_status = Some(last_status.into());
    let stopped = last_status == "STOPPED";
    let failed = stopped
        && (st.stop_code.as_deref() == Some("TaskFailedToStart")
            || st
                .containers
                .iter()
                .any(|c| c.essential && c.exit_code.is_some_and(|e| e != 0)));
    set_condition(
        &mut st.conditions,
        Condition::new(
            READY,
            last_status == "RUNNING" || (stopped && !failed),
            last_status,
            st.stopped_reason.clone().unwrap_or_default(),
        ),
        generation,
        now,
    );
    set_condition(
        &mut st.conditions,
        Condition::new(
            PROGRESSING,
            !stopped && last_status != "RUNNING",
            last_status,
            "",
        ),
        generation,
        now,
    );
    set_condition(
        &mut st.conditions,
        Condition::new(
            STALLED,
            failed,
            if failed {
                st.stop_code.as_deref().unwrap_or_default()
            } else {
                last_status
            },
            st.stopped_reason
                .clone()
                .filter(|_| failed)
                .unwrap_or_default(),
        ),
        generation,
        now,
    );
    st.observed_generation = generation;
    Outcome {
        status: st,
        stop_pods: stopped,
        stopped_now: stopped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(containers: serde_json::Value, phase: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "job-0"},
            "spec": {"nodeName": "n1", "containers": []},
            "status": {"phase": phase, "containerStatuses": containers}
        }))
        .unwrap()
    }

    fn essential() -> Vec<String> {
        vec!["app".to_string()]
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
            "t1",
        );
        assert_eq!(o.status.last_status.as_deref(), Some("RUNNING"));
        assert!(!o.stop_pods);
        let exited = pod(
            json!([{"name": "app", "image": "x", "imageID": "", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 3, "reason": "Error"}}},
                                {"name": "sidecar", "image": "y", "imageID": "", "ready": true, "restartCount": 0, "state": {"running": {}}}]),
            "Running",
        );
        let o2 = compute(&o.status, "job:1", &essential(), &[exited], Some(1), "t2");
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
        let o3 = compute(&o2.status, "job:1", &essential(), &[], Some(1), "t3");
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
            "t",
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
            "t",
        );
        assert_eq!(o.status.stop_code.as_deref(), Some("TaskFailedToStart"));
    }
}
