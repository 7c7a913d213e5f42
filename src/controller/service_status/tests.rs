//! Table tests of the status computation: rollouts, the circuit breaker, deadlines, placement.
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
        forced: None,
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
        rebalancing: false,
        rebalance: vec![],
        replaced_unhealthy: vec![],
        recheck_after: None,
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

// ECS API model, `UpdateServiceRequest.forceNewDeployment`: a new deployment with no service
// definition change: a new PRIMARY of the same revision replaces every task; the old tasks are
// an ACTIVE deployment until they are gone.
#[test]
fn a_forced_new_deployment_of_the_same_revision_is_a_new_primary() {
    let (done, _) = compute(
        &ServiceStatus::default(),
        &inputs(
            "web:1",
            vec![pod("web:1", true, 0), pod("web:1", true, 0)],
            0,
        ),
    );
    let forced = |ready| PodView {
        forced: Some("t1".into()),
        ..pod("web:1", ready, 0)
    };
    let mut i = inputs(
        "web:1",
        vec![pod("web:1", true, 0), pod("web:1", true, 0), forced(false)],
        // The same second as the first deployment (KWOK is that fast): still a new id.
        0,
    );
    i.forced = Some("t1".into());
    let (s, _) = compute(&done, &i);
    assert_ne!(s.deployments[0].id, done.deployments[0].id);
    assert_eq!(s.deployments[0].force_new_deployment.as_deref(), Some("t1"));
    assert_eq!(
        s.deployments[0].rollout_state.as_deref(),
        Some("IN_PROGRESS")
    );
    assert_eq!(
        (
            s.deployments[0].running_count,
            s.deployments[0].pending_count
        ),
        (0, 1)
    );
    assert_eq!(s.deployments[1].status, "ACTIVE");
    assert_eq!(s.deployments[1].id, done.deployments[0].id);
    assert_eq!(s.deployments[1].running_count, 2);
    assert!(cond(&s, PROGRESSING).is_true());
    let mut i = inputs("web:1", vec![forced(true), forced(true)], 20);
    i.forced = Some("t1".into());
    let (s2, _) = compute(&s, &i);
    assert_eq!(s2.deployments.len(), 1);
    assert_eq!(s2.deployments[0].id, s.deployments[0].id);
    assert_eq!(
        s2.deployments[0].rollout_state.as_deref(),
        Some("COMPLETED")
    );
    assert!(cond(&s2, READY).is_true());
}

/// HealthCheck (ECS API model): a service task that reports unhealthy "will be stopped and the
/// service scheduler will replace it"; DeploymentCircuitBreaker: such tasks count as failed.
/// With resetOnHealthyTask off, three stopped in three rounds trip the threshold of 3, though
/// no pod ever restarted and each was gone by the next round.
#[test]
fn healthcheck_unhealthy_tasks_stopped_count_toward_the_circuit_breaker() {
    let mut st = ServiceStatus::default();
    for round in 0..3 {
        let mut i = inputs("web:1", vec![pod("web:1", false, 0)], round * 5);
        i.breaker.as_mut().unwrap().reset_on_healthy_task = Some(false);
        i.replaced_unhealthy = vec![PodView {
            name: format!("web-{round}"),
            ..pod("web:1", false, 0)
        }];
        st = compute(&st, &i).0;
        assert_eq!(st.deployments[0].failed_tasks, round as i32 + 1);
        assert_eq!(
            st.events[0].message,
            format!(
                "(service web) has stopped 1 running tasks: (task web-{round}). Reason: Task failed container health checks."
            )
        );
    }
    assert_eq!(st.deployments[0].rollout_state.as_deref(), Some("FAILED"));
}
