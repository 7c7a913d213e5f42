//! Replace unhealthy tasks, as ECS's service scheduler does. HealthCheck (ECS API model): "for
//! tasks that are part of a service, if the task reports as unhealthy then the task will be
//! stopped and the service scheduler will replace it". A task is UNHEALTHY when an essential
//! container's check failed ([`crate::translate::health`]): its readiness probe (which carries
//! the check) is failing once the container has run longer than its grace — `startPeriod` or
//! `healthCheckGracePeriodSeconds`, whichever is longer, then `retries` × `interval`
//! ([`crate::translate::probes::grace_seconds`], written on the pod by the translator as
//! `ecs-operator.io/health-checked-containers: name:seconds,…`).
//!
//! Stopping the task is deleting its pod: the workload controller starts the replacement as
//! soon as the pod is terminating, so the replacement starts while the unhealthy task stops
//! (ECS, DeploymentConfiguration.maximumPercent, starts it first where the bounds allow it: a
//! difference of seconds, in `docs/ecs-semantics.md`). An unhealthy task never counts as
//! healthy, so stopping it lowers no healthy count (minimumHealthyPercent). A replaced task of
//! the deployment in progress counts toward the circuit breaker, as a failed task.
//!
//! [`find`] is pure (the clock injected); [`stop`] makes the deletes.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Preconditions};

use super::super::service_status::PodView;
use super::super::{Context, Error, events};
use crate::api::Service;
use crate::translate::names;

/// An unhealthy task to stop.
#[derive(Clone, Debug, PartialEq)]
pub struct Unhealthy {
    pub pod: String,
    pub uid: Option<String>,
    /// The essential containers whose check failed.
    pub containers: Vec<String>,
}

/// What [`find`] saw.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Found {
    pub unhealthy: Vec<Unhealthy>,
    /// The soonest a failing container's grace ends (no pod event marks that moment).
    pub recheck_after: Option<Duration>,
}

/// `name:seconds,…` of the health-checked annotation. A name without seconds (a pod from an
/// older operator) is not judged here.
fn graces(pod: &Pod) -> Vec<(&str, i64)> {
    pod.annotations()
        .get(names::HEALTH_CHECKED)
        .map(|v| {
            v.split(',')
                .filter_map(|e| {
                    let (name, secs) = e.split_once(':')?;
                    Some((name, secs.parse().ok()?))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The unhealthy tasks among `pods` at `now`, and when to look again.
pub fn find(pods: &[Arc<Pod>], now: Timestamp) -> Found {
    let mut found = Found::default();
    for pod in pods {
        let status = pod.status.as_ref();
        if pod.metadata.deletion_timestamp.is_some()
            || status.and_then(|s| s.phase.as_deref()) != Some("Running")
        {
            continue;
        }
        let statuses: Vec<_> = status
            .into_iter()
            .flat_map(|s| {
                s.container_statuses
                    .iter()
                    .flatten()
                    .chain(s.init_container_statuses.iter().flatten())
            })
            .collect();
        let mut failed = Vec::new();
        for (name, grace) in graces(pod) {
            let Some(cs) = statuses.iter().find(|c| c.name == name) else {
                continue;
            };
            let started = cs
                .state
                .as_ref()
                .and_then(|s| s.running.as_ref())
                .and_then(|r| r.started_at.as_ref());
            let (Some(started), false) = (started, cs.ready) else {
                continue;
            };
            let up = (now.as_second() - started.0.as_second()).max(0);
            if up >= grace {
                failed.push(name.to_string());
            } else {
                let left = Duration::from_secs((grace - up) as u64);
                found.recheck_after = Some(found.recheck_after.map_or(left, |d| d.min(left)));
            }
        }
        if !failed.is_empty() {
            found.unhealthy.push(Unhealthy {
                pod: pod.name_any(),
                uid: pod.metadata.uid.clone(),
                containers: failed,
            });
        }
    }
    found
}

/// Stop (delete) each unhealthy task, with an Event naming the failed containers. Returns the
/// views of the pods stopped, for the status (events, the circuit breaker).
pub async fn stop(
    ctx: &Context,
    svc: &Service,
    pods: &[Arc<Pod>],
    found: &Found,
    family: &str,
) -> Result<Vec<PodView>, Error> {
    let ns = svc.namespace().ok_or(Error::MissingMetadata("namespace"))?;
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let mut stopped = Vec::new();
    for u in &found.unhealthy {
        let dp = DeleteParams {
            preconditions: Some(Preconditions {
                uid: u.uid.clone(),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(&u.pod, &dp).await {
            Ok(_) => {}
            // Gone or replaced already: nothing to stop.
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => continue,
            Err(e) => return Err(e.into()),
        }
        ctx.metrics.write("delete", "pods");
        events::publish(
            ctx,
            svc,
            true,
            "TaskUnhealthy",
            format!(
                "task {} failed container health checks (essential container {} UNHEALTHY): stopped, the service scheduler replaces it",
                u.pod,
                u.containers.join(", ")
            ),
        )
        .await;
        if let Some(p) = pods.iter().find(|p| p.name_any() == u.pod) {
            stopped.push(super::observe::pod_view(p, family));
        }
    }
    Ok(stopped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, ann: &str, ready: bool, started: &str) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "uid": format!("uid-{name}"),
                             "annotations": {names::HEALTH_CHECKED: ann}},
                "status": {"phase": "Running", "containerStatuses": [
                    {"name": "app", "ready": ready, "restartCount": 0, "image": "i", "imageID": "",
                     "state": {"running": {"startedAt": started}}},
                    {"name": "log", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
                     "state": {"running": {"startedAt": started}}}
                ]}
            }))
            .unwrap(),
        )
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// HealthCheck (ECS API model): a service task is replaced once it is UNHEALTHY; a check
    /// still inside its grace (startPeriod / healthCheckGracePeriodSeconds, then retries ×
    /// interval) is UNKNOWN, so the task stays and is looked at again when the grace ends.
    #[test]
    fn healthcheck_a_failing_check_past_its_grace_makes_the_task_unhealthy() {
        let now = at("2026-01-01T00:01:00Z");
        let pods = [
            pod("past", "app:30", false, "2026-01-01T00:00:00Z"),
            pod("inside", "app:90", false, "2026-01-01T00:00:00Z"),
            pod("healthy", "app:30", true, "2026-01-01T00:00:00Z"),
        ];
        let f = find(&pods, now);
        assert_eq!(f.unhealthy.len(), 1);
        assert_eq!(f.unhealthy[0].pod, "past");
        assert_eq!(f.unhealthy[0].containers, ["app"]);
        assert_eq!(f.recheck_after, Some(Duration::from_secs(30)));
    }

    /// Only essential containers' health decides (HealthCheck): `log` is not in the
    /// annotation, so its readiness never stops the task; an older pod's annotation without
    /// seconds is not judged.
    #[test]
    fn healthcheck_only_annotated_essential_containers_count() {
        let now = at("2026-01-01T01:00:00Z");
        let pods = [
            pod("a", "app:30", true, "2026-01-01T00:00:00Z"),
            pod("b", "app", false, "2026-01-01T00:00:00Z"),
        ];
        assert_eq!(find(&pods, now), Found::default());
    }

    /// A stopping task is already being replaced.
    #[test]
    fn a_terminating_pod_is_not_stopped_again() {
        let mut p = (*pod("t", "app:1", false, "2026-01-01T00:00:00Z")).clone();
        p.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            at("2026-01-01T00:00:30Z"),
        ));
        assert!(
            find(&[Arc::new(p)], at("2026-01-01T01:00:00Z"))
                .unhealthy
                .is_empty()
        );
    }
}
