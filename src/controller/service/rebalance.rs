//! Availability Zone rebalancing of a steady replica service (`availabilityZoneRebalancing`,
//! ECS API model; "Balancing an Amazon ECS service across Availability Zones", ECS Developer
//! Guide): once the service is steady, ECS looks at the running tasks per zone and, when they
//! are uneven, starts a task in the zone with the fewest and stops one in the zone with the most,
//! within the deployment bounds, with SERVICE_REBALANCING_STARTED / COMPLETED service events.
//!
//! On Kubernetes, one task at a time:
//! 1. the pod to move (in the fullest zone) is marked: [`MOVING`] and the lowest
//!    `controller.kubernetes.io/pod-deletion-cost`;
//! 2. if maximumPercent leaves room for one more task, the Deployment runs desiredCount + 1 and
//!    the scheduler puts the extra pod in the emptiest zone (the service's zone spread,
//!    `translate::zones`); once it is Ready the Deployment returns to desiredCount and the
//!    ReplicaSet removes the marked pod (the lowest deletion cost goes first). Without that room,
//!    the marked pod is deleted first when minimumHealthyPercent allows one task fewer;
//! 3. if the new task landed in the fullest zone again (no capacity elsewhere), the mark
//!    is taken back, the extra task goes, and the state is PLACEMENT_FAILED until the tasks or the
//!    zones change.
//!
//! [`decide`] is pure; [`act`] makes the one or two pod writes a step needs.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Pod, PodSpec};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::reflector::ObjectRef;

use super::super::cache::Caches;
use super::super::{Context, Error};
use super::build::Children;
use crate::api::{Service, ZoneRebalancing};
use crate::translate::eligibility::admits;
use crate::translate::names;
use crate::translate::rollout::{max_tasks, min_healthy_tasks};
use crate::translate::zones::ZONE_LABEL;

/// Annotation on the pod being moved: `FROM>TO:N`, the zones and the task count of FROM when
/// the move started (to tell whether the new task landed outside the fullest zone).
pub const MOVING: &str = "ecs-operator.io/rebalancing-move";
/// Kubernetes' ReplicaSet scale-down order: the lowest cost goes first.
const DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// One task as the rebalancer sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskView {
    pub name: String,
    pub zone: Option<String>,
    pub ready: bool,
    pub terminating: bool,
    /// Of the revision the service runs now.
    pub current: bool,
    /// Its [`MOVING`] annotation.
    pub moving: Option<String>,
}

/// What [`decide`] needs.
#[derive(Clone, Debug, Default)]
pub struct View {
    pub service_name: String,
    pub desired: i32,
    pub max_percent: i32,
    pub min_healthy_percent: i32,
    /// The service's deployment is COMPLETED and alone.
    pub steady: bool,
    /// Zones with a node the pod template admits.
    pub zones: BTreeSet<String>,
    pub tasks: Vec<TaskView>,
    pub prev: Option<ZoneRebalancing>,
}

/// What to do this round.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Not steady, disabled, or nothing to compare.
    Idle,
    Balanced,
    /// Mark `pod` to move; with `surge` run one extra task, else delete `pod` first.
    Start {
        pod: String,
        from: String,
        to: String,
        surge: bool,
    },
    /// The extra task is not Ready yet: keep desiredCount + 1.
    Surge,
    /// The extra task is Ready in the right zone: back to desiredCount, the marked pod goes.
    Stop {
        pod: String,
        zone: String,
    },
    /// The extra task landed in the same zone again: unmark `pod`, back to desiredCount.
    PlacementFailed {
        pod: String,
        to: String,
    },
    /// Uneven, but the deployment bounds allow neither an extra task nor one fewer.
    NoRoom,
}

/// A service event and its state change, for the status step.
#[derive(Clone, Debug, PartialEq)]
pub struct Note {
    pub reason: &'static str,
    pub warning: bool,
    pub message: String,
    /// The new [`ZoneRebalancing`] state, if this note changes it.
    pub state: Option<&'static str>,
    pub tasks_per_zone: BTreeMap<String, i32>,
}

/// Running (not terminating) tasks per zone, every eligible zone included.
pub fn per_zone(v: &View) -> BTreeMap<String, i32> {
    let mut counts: BTreeMap<String, i32> = v.zones.iter().map(|z| (z.clone(), 0)).collect();
    for t in v.tasks.iter().filter(|t| !t.terminating) {
        if let Some(z) = &t.zone {
            *counts.entry(z.clone()).or_default() += 1;
        }
    }
    counts
}

/// The step of this round, by the rules in the module header.
pub fn decide(v: &View) -> Step {
    let live: Vec<&TaskView> = v.tasks.iter().filter(|t| !t.terminating).collect();
    if let Some(m) = v.tasks.iter().find(|t| t.moving.is_some()) {
        if m.terminating {
            return Step::Idle;
        }
        let (from, to, before) = parse_move(m.moving.as_deref().unwrap_or_default());
        if live.iter().filter(|t| t.ready).count() as i32 > v.desired {
            // The scheduler may pick another zone as empty as TO: any zone but FROM will do.
            let now = per_zone(v).get(&from).copied().unwrap_or(0);
            return if now <= before {
                Step::Stop {
                    pod: m.name.clone(),
                    zone: m.zone.clone().unwrap_or_default(),
                }
            } else {
                Step::PlacementFailed {
                    pod: m.name.clone(),
                    to,
                }
            };
        }
        return Step::Surge;
    }
    let settled = v.steady
        && live.len() as i32 == v.desired
        && live
            .iter()
            .all(|t| t.ready && t.current && t.zone.is_some())
        && v.tasks.iter().all(|t| !t.terminating);
    if !settled || v.desired < 2 {
        return Step::Idle;
    }
    let counts = per_zone(v);
    let Some((to, low)) = counts
        .iter()
        .filter(|(z, _)| v.zones.contains(*z))
        .min_by_key(|(_, n)| **n)
    else {
        return Step::Idle;
    };
    let (from, high) = counts
        .iter()
        .max_by_key(|(_, n)| **n)
        .expect("a zone, since `to` exists");
    if high - low <= 1 {
        return Step::Balanced;
    }
    if let Some(p) = &v.prev
        && p.state == "PLACEMENT_FAILED"
        && p.tasks_per_zone == counts
    {
        return Step::Idle;
    }
    let pod = live
        .iter()
        .filter(|t| t.zone.as_deref() == Some(from))
        .map(|t| t.name.clone())
        .max()
        .expect("the fullest zone has a task");
    let surge = max_tasks(v.desired, v.max_percent) > v.desired;
    if !surge && min_healthy_tasks(v.desired, v.min_healthy_percent) > v.desired - 1 {
        return Step::NoRoom;
    }
    Step::Start {
        pod,
        from: from.clone(),
        to: to.clone(),
        surge,
    }
}

/// The service events of `step` (ECS's wording, "Track Amazon ECS Availability Zone rebalancing").
pub fn notes(v: &View, step: &Step) -> Vec<Note> {
    let counts = per_zone(v);
    let spread = counts
        .iter()
        .map(|(z, n)| format!("{n} tasks in {z}"))
        .collect::<Vec<_>>()
        .join(", ");
    let name = &v.service_name;
    let state = v.prev.as_ref().map(|p| p.state.as_str());
    let note = |reason, warning, message: String, state| Note {
        reason,
        warning,
        message,
        state,
        tasks_per_zone: counts.clone(),
    };
    match step {
        Step::Start {
            pod, from, surge, ..
        } => {
            let mut out = Vec::new();
            if state != Some("IN_PROGRESS") {
                out.push(note(
                    "RebalancingStarted",
                    false,
                    format!("service ({name}) is not AZ balanced with {spread}. AZ Rebalancing in progress."),
                    Some("IN_PROGRESS"),
                ));
            }
            if !surge {
                out.push(stopped(name, from, pod, &counts));
            }
            out
        }
        Step::Stop { pod, zone } => vec![stopped(name, zone, pod, &counts)],
        Step::Balanced if state == Some("IN_PROGRESS") => vec![note(
            "RebalancingCompleted",
            false,
            format!("service ({name}) is AZ balanced with {spread}."),
            Some("COMPLETED"),
        )],
        Step::PlacementFailed { to, .. } => vec![note(
            "RebalancingPlacementFailed",
            true,
            format!(
                "service ({name}) is unable to place a task in Availability Zone {to} because no container instance met all of its requirements."
            ),
            Some("PLACEMENT_FAILED"),
        )],
        Step::NoRoom if state != Some("NO_ROOM") => vec![note(
            "RebalancingBlocked",
            true,
            format!(
                "service ({name}) is not AZ balanced with {spread}, and its maximumPercent and minimumHealthyPercent allow neither an extra task nor one fewer: raise maximumPercent above 100 or lower minimumHealthyPercent."
            ),
            Some("NO_ROOM"),
        )],
        _ => Vec::new(),
    }
}

fn stopped(name: &str, zone: &str, pod: &str, counts: &BTreeMap<String, i32>) -> Note {
    Note {
        reason: "RebalancingTaskStopped",
        warning: false,
        message: format!(
            "{name} has stopped 1 running tasks in {zone} due to AZ rebalancing: {pod}."
        ),
        state: None,
        tasks_per_zone: counts.clone(),
    }
}

/// `FROM>TO:N` → (FROM, TO, N).
fn parse_move(value: &str) -> (String, String, i32) {
    let (zones, n) = value.rsplit_once(':').unwrap_or((value, "0"));
    let (from, to) = zones.split_once('>').unwrap_or((zones, ""));
    (from.into(), to.into(), n.parse().unwrap_or(0))
}

/// The view of `svc` from the caches, or `None` when the service does not rebalance (its
/// Deployment is not marked [`names::AZ_REBALANCING`]).
pub fn view(
    caches: &Caches,
    svc: &Service,
    children: &Children,
    desired: i32,
    revision: &str,
) -> Option<View> {
    let [deployment] = children.deployments.as_slice() else {
        return None;
    };
    if deployment
        .annotations()
        .get(names::AZ_REBALANCING)
        .map(String::as_str)
        != Some("ENABLED")
    {
        return None;
    }
    let spec = deployment.spec.as_ref()?;
    let template: &PodSpec = spec.template.spec.as_ref()?;
    let ns = svc.namespace().unwrap_or_default();
    let selector = spec.selector.match_labels.clone().unwrap_or_default();
    let node_zone = |node: &str| {
        caches
            .nodes
            .get(&ObjectRef::new(node))
            .and_then(|n| n.labels().get(ZONE_LABEL).cloned())
    };
    let zones = caches
        .nodes
        .state()
        .iter()
        .filter(|n| admits(template, n.labels()))
        .filter_map(|n| n.labels().get(ZONE_LABEL).cloned())
        .collect();
    let tasks = super::observe::selected(caches, &ns, &selector)
        .iter()
        .map(|p| task_view(p, revision, &node_zone))
        .collect();
    let status = svc.status.clone().unwrap_or_default();
    let steady = matches!(status.deployments.as_slice(), [d] if d.rollout_state.as_deref() == Some("COMPLETED"));
    let dc = svc
        .spec
        .deployment_configuration
        .clone()
        .unwrap_or_default();
    Some(View {
        service_name: svc.service_name(),
        desired,
        max_percent: dc.maximum_percent.unwrap_or(200),
        min_healthy_percent: dc.minimum_healthy_percent.unwrap_or(100),
        steady,
        zones,
        tasks,
        prev: status.zone_rebalancing,
    })
}

fn task_view(p: &Pod, revision: &str, node_zone: &impl Fn(&str) -> Option<String>) -> TaskView {
    let ready = p
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    TaskView {
        name: p.name_any(),
        zone: p
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .and_then(node_zone),
        ready,
        terminating: p.metadata.deletion_timestamp.is_some(),
        current: p.labels().get(names::REVISION).map(String::as_str) == Some(revision),
        moving: p.annotations().get(MOVING).cloned(),
    }
}

/// The Deployment's replicas for `step`: one extra while a task moves by surge.
pub fn shape(children: &mut Children, desired: i32, step: &Step) {
    let surge = matches!(step, Step::Surge | Step::Start { surge: true, .. });
    if let (true, [d]) = (surge, children.deployments.as_mut_slice())
        && let Some(spec) = d.spec.as_mut()
    {
        spec.replicas = Some(desired + 1);
    }
}

/// The pod writes of `step`: mark the pod to move (and delete it when there is no room to
/// surge), or take a mark back. Runs before the Deployment is applied, so the ReplicaSet sees
/// the deletion cost before it scales down.
pub async fn act(ctx: &Context, svc: &Service, v: &View, step: &Step) -> Result<(), Error> {
    let ns = svc.namespace().ok_or(Error::MissingMetadata("namespace"))?;
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    match step {
        Step::Start {
            pod,
            from,
            to,
            surge,
        } => {
            let before = per_zone(v).get(from).copied().unwrap_or(0);
            let patch = serde_json::json!({"metadata": {"annotations": {
                MOVING: format!("{from}>{to}:{before}"),
                DELETION_COST: i32::MIN.to_string(),
            }}});
            pods.patch(pod, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
            ctx.metrics.write("patch", "pods");
            if !surge {
                pods.delete(pod, &DeleteParams::default()).await?;
                ctx.metrics.write("delete", "pods");
            }
        }
        Step::PlacementFailed { pod, .. } => {
            let patch = serde_json::json!({"metadata": {"annotations": {
                MOVING: null,
                DELETION_COST: null,
            }}});
            pods.patch(pod, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
            ctx.metrics.write("patch", "pods");
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(name: &str, zone: &str) -> TaskView {
        TaskView {
            name: name.into(),
            zone: Some(zone.into()),
            ready: true,
            terminating: false,
            current: true,
            moving: None,
        }
    }

    fn view(tasks: Vec<TaskView>, zones: &[&str]) -> View {
        View {
            service_name: "web".into(),
            desired: tasks.len() as i32,
            max_percent: 200,
            min_healthy_percent: 100,
            steady: true,
            zones: zones.iter().map(|z| z.to_string()).collect(),
            tasks,
            prev: None,
        }
    }

    /// "Balancing an Amazon ECS service across Availability Zones" (ECS Developer Guide): when
    /// the tasks are uneven, start a task in the zone with the fewest, stop one in the fullest.
    #[test]
    fn an_uneven_steady_service_moves_one_task_from_the_fullest_zone() {
        let v = view(
            vec![
                task("a1", "a"),
                task("a2", "a"),
                task("a3", "a"),
                task("b1", "b"),
            ],
            &["a", "b", "c"],
        );
        let step = decide(&v);
        assert_eq!(
            step,
            Step::Start {
                pod: "a3".into(),
                from: "a".into(),
                to: "c".into(),
                surge: true
            }
        );
        let notes = notes(&v, &step);
        assert_eq!(notes.len(), 1);
        assert_eq!(
            notes[0].message,
            "service (web) is not AZ balanced with 3 tasks in a, 1 tasks in b, 0 tasks in c. AZ Rebalancing in progress."
        );
        assert_eq!(notes[0].state, Some("IN_PROGRESS"));
    }

    /// Balanced means no zone has more than one task over another; a rebalancing in progress
    /// that gets there completes (SERVICE_REBALANCING_COMPLETED).
    #[test]
    fn balanced_within_one_task_and_completion_is_told_once() {
        let mut v = view(
            vec![task("a1", "a"), task("a2", "a"), task("b1", "b")],
            &["a", "b"],
        );
        assert_eq!(decide(&v), Step::Balanced);
        assert!(notes(&v, &Step::Balanced).is_empty());
        v.prev = Some(ZoneRebalancing {
            state: "IN_PROGRESS".into(),
            ..Default::default()
        });
        let n = notes(&v, &Step::Balanced);
        assert_eq!(
            n[0].message,
            "service (web) is AZ balanced with 2 tasks in a, 1 tasks in b."
        );
        assert_eq!(n[0].state, Some("COMPLETED"));
    }

    /// ECS starts the new task before it stops the old one: the marked task stays until the
    /// extra one is Ready, and it is the one that goes.
    #[test]
    fn the_surge_task_must_be_ready_in_the_target_zone_before_the_marked_one_stops() {
        let mut marked = task("a2", "a");
        marked.moving = Some("a>b:2".into());
        let mut v = view(vec![task("a1", "a"), marked.clone()], &["a", "b"]);
        assert_eq!(decide(&v), Step::Surge);
        let mut extra = task("b9", "b");
        extra.ready = false;
        v.tasks.push(extra.clone());
        assert_eq!(decide(&v), Step::Surge);
        v.tasks.last_mut().unwrap().ready = true;
        assert_eq!(
            decide(&v),
            Step::Stop {
                pod: "a2".into(),
                zone: "a".into()
            }
        );
        // Landed in another zone as empty as b: fine too.
        v.zones.insert("c".into());
        v.tasks.last_mut().unwrap().zone = Some("c".into());
        assert_eq!(
            decide(&v),
            Step::Stop {
                pod: "a2".into(),
                zone: "a".into()
            }
        );
        // Landed in zone a again: the move is taken back.
        v.tasks.last_mut().unwrap().zone = Some("a".into());
        assert_eq!(
            decide(&v),
            Step::PlacementFailed {
                pod: "a2".into(),
                to: "b".into()
            }
        );
        // While the marked pod terminates, nothing new starts.
        v.tasks.pop();
        v.tasks[1].terminating = true;
        assert_eq!(decide(&v), Step::Idle);
    }

    /// DeploymentConfiguration (ECS API model): maximumPercent bounds the extra task and
    /// minimumHealthyPercent the stopped one; with neither room, nothing moves.
    #[test]
    fn the_deployment_bounds_decide_between_surge_stop_first_and_no_room() {
        let tasks = vec![
            task("a1", "a"),
            task("a2", "a"),
            task("a3", "a"),
            task("a4", "a"),
        ];
        let mut v = view(tasks, &["a", "b"]);
        v.max_percent = 100;
        v.min_healthy_percent = 50;
        assert!(matches!(decide(&v), Step::Start { surge: false, .. }));
        let n = notes(&v, &decide(&v));
        assert_eq!(
            n[1].message,
            "web has stopped 1 running tasks in a due to AZ rebalancing: a4."
        );
        v.min_healthy_percent = 100;
        assert_eq!(decide(&v), Step::NoRoom);
    }

    /// ECS starts monitoring a service after it reaches the steady state (ECS Developer Guide).
    #[test]
    fn nothing_moves_while_deploying_or_after_a_failed_placement_with_the_same_counts() {
        let mut v = view(
            vec![task("a1", "a"), task("a2", "a"), task("a3", "a")],
            &["a", "b"],
        );
        v.steady = false;
        assert_eq!(decide(&v), Step::Idle);
        v.steady = true;
        v.tasks[0].current = false;
        assert_eq!(decide(&v), Step::Idle);
        v.tasks[0].current = true;
        v.prev = Some(ZoneRebalancing {
            state: "PLACEMENT_FAILED".into(),
            tasks_per_zone: per_zone(&v),
            ..Default::default()
        });
        assert_eq!(decide(&v), Step::Idle);
        v.zones.insert("c".into());
        assert!(matches!(decide(&v), Step::Start { .. }));
    }
}
