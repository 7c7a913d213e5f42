//! The deployment state machine with an injected clock: every stage in order, hooks and their
//! timeouts, PAUSE and continue, stop, alarms, the circuit breaker, LINEAR and CANARY steps,
//! rollback during the bake, and supersession (ECS Developer Guide: "Amazon ECS blue/green
//! service deployments", "Lifecycle hooks for Amazon ECS service deployments", linear and canary
//! deployments; ECS API model `ServiceDeployment`, `DeploymentLifecycleHook`).

use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::machine::*;
use super::status;
use crate::api::ServiceDeploymentState;
use crate::api::ecs::DeploymentLifecycleHookStage as Stage;
use crate::translate::strategy::{Alarms, Hook, HookRunner, Kind, Plan, Slot};

fn t0() -> Timestamp {
    "2026-12-03T10:00:00Z".parse().unwrap()
}

fn at(secs: i64) -> Timestamp {
    t0().checked_add(SignedDuration::from_secs(secs)).unwrap()
}

fn plan(kind: Kind, bake_secs: u64, hooks: Vec<Hook>) -> Plan {
    Plan {
        kind,
        bake: Duration::from_secs(bake_secs),
        hooks,
        alarms: None,
        minute: Duration::from_secs(60),
    }
}

fn target_hook(index: usize, stage: Stage, timeout: u64, continue_on_timeout: bool) -> Hook {
    Hook {
        index,
        runner: HookRunner::Target(Default::default()),
        target_arn: Some("arn:aws:lambda:::function:check".into()),
        stages: vec![stage],
        timeout: Duration::from_secs(timeout),
        continue_on_timeout,
        details: None,
    }
}

fn pause_hook(index: usize, stage: Stage) -> Hook {
    Hook {
        runner: HookRunner::Pause,
        target_arn: None,
        ..target_hook(index, stage, 3600, false)
    }
}

fn colour(n: u32) -> Colour {
    Colour {
        task_definition: format!("web:{n}"),
        force: None,
    }
}

fn up(n: i32) -> Counts {
    Counts {
        ready: n,
        pending: 0,
        failures: 0,
    }
}

/// Observations with web:1's tasks in `main` and web:2's in `alt`.
fn obs(now: Timestamp, target: u32, main: Counts, alt: Counts) -> Observed {
    obs_of(now, target, &[(Slot::Main, 1, main), (Slot::Alt, 2, alt)])
}

fn obs_of(now: Timestamp, target: u32, tasks: &[(Slot, u32, Counts)]) -> Observed {
    Observed {
        now,
        service_name: "web".into(),
        desired: 3,
        target: colour(target),
        tasks: tasks
            .iter()
            .map(|(slot, n, counts)| SlotTasks {
                slot: *slot,
                revision: colour(*n),
                counts: *counts,
            })
            .collect(),
        unslotted: 0,
        breaker: None,
        alarms: AlarmReading::NotRead,
        continue_value: None,
        stop_value: None,
    }
}

/// web:1 steady in the main slot.
fn steady(p: &Plan) -> ServiceDeploymentState {
    let (st, _) = advance(None, p, &obs(t0(), 1, up(3), up(0)), "ecs-svc/first");
    assert_eq!(st.status, SUCCESSFUL);
    st
}

fn stage_of(st: &ServiceDeploymentState) -> &str {
    &st.lifecycle_stage
}

fn full_slots(l: &Layout) -> usize {
    l.slots.iter().filter(|s| s.full).count()
}

#[test]
fn a_first_deployment_scales_up_and_selects_every_task_until_done() {
    let p = plan(Kind::BlueGreen, 60, vec![]);
    let (st, n) = advance(None, &p, &obs(t0(), 1, up(1), up(0)), "ecs-svc/a");
    assert_eq!(
        (st.status.as_str(), stage_of(&st)),
        (IN_PROGRESS, "SCALE_UP")
    );
    assert_eq!(layout(&st, &p).production, Production::All);
    assert!(n.iter().any(|n| n.reason == "DeploymentStarted"));
    let mut o = obs(at(5), 1, up(3), up(0));
    o.unslotted = 1; // a ROLLING-era pod is still there
    let (st, _) = advance(Some(&st), &p, &o, "ecs-svc/b");
    assert_eq!(st.status, IN_PROGRESS);
    o.unslotted = 0;
    let (st, _) = advance(Some(&st), &p, &o, "ecs-svc/b");
    assert_eq!(st.status, SUCCESSFUL);
    assert_eq!(layout(&st, &p).production, Production::Slot(Slot::Main));
}

#[test]
fn blue_green_walks_every_stage_in_order_within_twice_the_desired_count() {
    let p = plan(Kind::BlueGreen, 120, vec![]);
    let mut st = steady(&p);
    let mut seen = Vec::new();
    let mut record = |st: &ServiceDeploymentState, notices: &[Notice]| {
        for n in notices.iter().filter(|n| n.reason == "LifecycleStage") {
            let stage = n
                .message
                .rsplit(' ')
                .next()
                .unwrap()
                .trim_end_matches('.')
                .to_string();
            seen.push(stage);
        }
        let l = layout(st, &p);
        assert!(full_slots(&l) <= 2, "more than 2× desired: {l:?}");
    };
    // web:2 asked for: green (alt) starts; production stays on blue until green is up.
    let (s, n) = advance(Some(&st), &p, &obs(at(1), 2, up(3), up(0)), "ecs-svc/two");
    record(&s, &n);
    assert_eq!(stage_of(&s), "SCALE_UP");
    assert_eq!(s.target_service_revision.slot, "alt");
    let l = layout(&s, &p);
    assert_eq!(l.production, Production::Slot(Slot::Main));
    assert_eq!(full_slots(&l), 2);
    st = s;
    // Green up: through the stages to the bake; production moves to green.
    let (s, n) = advance(Some(&st), &p, &obs(at(10), 2, up(3), up(3)), "x");
    record(&s, &n);
    assert_eq!(stage_of(&s), "BAKE_TIME");
    let l = layout(&s, &p);
    assert_eq!(l.production, Production::Slot(Slot::Alt));
    assert_eq!(full_slots(&l), 2, "blue keeps running during the bake");
    st = s;
    // Bake not over yet.
    let (s, _) = advance(Some(&st), &p, &obs(at(60), 2, up(3), up(3)), "x");
    assert_eq!(stage_of(&s), "BAKE_TIME");
    assert_eq!(wake_after(&s, &p, at(60)), Some(Duration::from_secs(30)));
    // Bake over: clean-up removes blue; done when blue's tasks are gone.
    let (s, n) = advance(Some(&s), &p, &obs(at(131), 2, up(3), up(3)), "x");
    record(&s, &n);
    assert_eq!(stage_of(&s), "CLEAN_UP");
    assert_eq!(full_slots(&layout(&s, &p)), 1);
    let (s, n) = advance(Some(&s), &p, &obs(at(140), 2, up(0), up(3)), "x");
    record(&s, &n);
    assert_eq!(s.status, SUCCESSFUL);
    assert!(n.iter().any(|n| n.reason == "DeploymentCompleted"));
    assert_eq!(
        seen,
        [
            "PRE_SCALE_UP",
            "SCALE_UP",
            "POST_SCALE_UP",
            "TEST_TRAFFIC_SHIFT",
            "POST_TEST_TRAFFIC_SHIFT",
            "PRE_PRODUCTION_TRAFFIC_SHIFT",
            "PRODUCTION_TRAFFIC_SHIFT",
            "POST_PRODUCTION_TRAFFIC_SHIFT",
            "BAKE_TIME",
            "CLEAN_UP"
        ]
    );
    // The next deployment goes into the main slot.
    let (s, _) = advance(
        Some(&s),
        &p,
        &obs(at(200), 3, up(0), up(3)),
        "ecs-svc/three",
    );
    assert_eq!(
        (
            s.target_service_revision.slot.as_str(),
            s.source_service_revision.unwrap().slot.as_str()
        ),
        ("main", "alt")
    );
}

#[test]
fn production_moves_only_after_the_hooks_before_it_passed() {
    let p = plan(
        Kind::BlueGreen,
        0,
        vec![target_hook(0, Stage::PreProductionTrafficShift, 600, false)],
    );
    let st = steady(&p);
    let (s, _) = advance(Some(&st), &p, &obs(at(1), 2, up(3), up(3)), "d");
    assert_eq!(stage_of(&s), "PRE_PRODUCTION_TRAFFIC_SHIFT");
    assert_eq!(layout(&s, &p).production, Production::Slot(Slot::Main));
    let hook = &s.lifecycle_hook_details[0];
    assert_eq!(
        (hook.status.as_str(), hook.lifecycle_stage.as_str()),
        (IN_PROGRESS, "PRE_PRODUCTION_TRAFFIC_SHIFT")
    );
    let (mut s, _) = advance(Some(&s), &p, &obs(at(30), 2, up(3), up(3)), "d");
    assert_eq!(
        stage_of(&s),
        "PRE_PRODUCTION_TRAFFIC_SHIFT",
        "waits while the hook is IN_PROGRESS"
    );
    s.lifecycle_hook_details[0].status = SUCCEEDED.into();
    let (s, _) = advance(Some(&s), &p, &obs(at(31), 2, up(3), up(3)), "d");
    assert_eq!(layout(&s, &p).production, Production::Slot(Slot::Alt));
}

#[test]
fn a_failed_hook_rolls_back_to_blue_and_is_not_retried() {
    let p = plan(
        Kind::BlueGreen,
        0,
        vec![target_hook(0, Stage::PostTestTrafficShift, 600, false)],
    );
    let st = steady(&p);
    let (mut s, _) = advance(Some(&st), &p, &obs(at(1), 2, up(3), up(3)), "d");
    assert_eq!(stage_of(&s), "POST_TEST_TRAFFIC_SHIFT");
    s.lifecycle_hook_details[0].status = FAILED.into();
    s.lifecycle_hook_details[0].reason = Some("the hook endpoint answered FAILED".into());
    let (s, n) = advance(Some(&s), &p, &obs(at(2), 2, up(3), up(3)), "d");
    assert_eq!(s.status, ROLLBACK_SUCCESSFUL);
    assert!(
        s.status_reason
            .as_deref()
            .unwrap()
            .contains("answered FAILED")
    );
    assert!(
        n.iter()
            .any(|n| n.reason == "DeploymentRolledBack" && n.warning)
    );
    let l = layout(&s, &p);
    assert_eq!(l.production, Production::Slot(Slot::Main));
    assert_eq!(l.slots.len(), 1, "green is removed");
    // The failed revision is not deployed again while the spec asks for it.
    let (again, _) = advance(Some(&s), &p, &obs(at(60), 2, up(3), up(0)), "e");
    assert_eq!(again.id, s.id);
    // A new revision is.
    let (next, _) = advance(Some(&s), &p, &obs(at(60), 3, up(3), up(0)), "f");
    assert_eq!((next.id.as_str(), next.status.as_str()), ("f", IN_PROGRESS));
}

#[test]
fn hook_timeouts_roll_back_or_continue_as_configured() {
    for (continue_on_timeout, expect) in [(false, ROLLBACK_SUCCESSFUL), (true, IN_PROGRESS)] {
        let p = plan(
            Kind::BlueGreen,
            300,
            vec![target_hook(0, Stage::PostScaleUp, 60, continue_on_timeout)],
        );
        let st = steady(&p);
        let (s, _) = advance(Some(&st), &p, &obs(at(1), 2, up(3), up(3)), "d");
        assert_eq!(stage_of(&s), "POST_SCALE_UP");
        let (s2, _) = advance(Some(&s), &p, &obs(at(30), 2, up(3), up(3)), "d");
        assert_eq!(stage_of(&s2), "POST_SCALE_UP");
        let (s3, _) = advance(Some(&s2), &p, &obs(at(62), 2, up(3), up(3)), "d");
        assert_eq!(s3.status, expect);
        assert_eq!(s3.lifecycle_hook_details[0].status, TIMED_OUT);
        if continue_on_timeout {
            assert_eq!(stage_of(&s3), "BAKE_TIME");
        }
    }
}

#[test]
fn a_pause_hook_waits_for_continue_and_reads_as_paused() {
    let p = plan(
        Kind::BlueGreen,
        0,
        vec![pause_hook(0, Stage::PostTestTrafficShift)],
    );
    let st = steady(&p);
    let (s, n) = advance(Some(&st), &p, &obs(at(1), 2, up(3), up(3)), "d");
    assert_eq!(stage_of(&s), "POST_TEST_TRAFFIC_SHIFT");
    assert_eq!(s.lifecycle_hook_details[0].status, AWAITING_ACTION);
    assert!(n.iter().any(|n| n.reason == "DeploymentPaused"));
    let tasks = obs(at(1), 2, up(3), up(3)).tasks;
    let view = status::View {
        service_name: "web",
        generation: Some(2),
        desired: 3,
        selector: String::new(),
        warnings: vec![],
        tasks: &tasks,
        unslotted: 0,
        now: at(1),
    };
    let out = status::compute(&Default::default(), &s, &view, &n);
    let progressing = out
        .conditions
        .iter()
        .find(|c| c.type_ == "Progressing")
        .unwrap();
    assert_eq!(
        (progressing.status.as_str(), progressing.reason.as_str()),
        ("True", "LifecycleHookPaused")
    );
    assert_eq!(
        out.deployments[0].lifecycle_stage.as_deref(),
        Some("POST_TEST_TRAFFIC_SHIFT")
    );
    // A continue for another id does nothing; the hook id (or the deployment id) continues.
    let mut o = obs(at(5), 2, up(3), up(3));
    o.continue_value = Some("other".into());
    let (s2, _) = advance(Some(&s), &p, &o, "d");
    assert_eq!(stage_of(&s2), "POST_TEST_TRAFFIC_SHIFT");
    o.continue_value = Some(s.lifecycle_hook_details[0].hook_id.clone());
    let (s3, _) = advance(Some(&s2), &p, &o, "d");
    assert_eq!(s3.lifecycle_hook_details[0].status, SUCCEEDED);
    assert_eq!(layout(&s3, &p).production, Production::Slot(Slot::Alt));
}

#[test]
fn linear_shifts_in_equal_steps_with_a_bake_between() {
    let p = plan(
        Kind::Linear {
            step_percent: 30.0,
            step_bake: Duration::from_secs(60),
        },
        0,
        vec![],
    );
    let st = steady(&p);
    let (mut s, _) = advance(Some(&st), &p, &obs(at(1), 2, up(3), up(3)), "d");
    let weight = |s: &ServiceDeploymentState| match layout(s, &p).production {
        Production::Split { green_weight, .. } => green_weight,
        Production::Slot(Slot::Alt) => 100.0,
        other => panic!("{other:?}"),
    };
    assert_eq!(weight(&s), 30.0);
    let mut weights = vec![weight(&s)];
    for t in [30, 62, 100, 123, 185] {
        let (next, _) = advance(Some(&s), &p, &obs(at(t), 2, up(3), up(3)), "d");
        s = next;
        if weights.last() != Some(&weight(&s)) {
            weights.push(weight(&s));
        }
    }
    assert_eq!(weights, vec![30.0, 60.0, 90.0, 100.0]);
    assert_eq!(
        s.target_service_revision
            .requested_production_traffic_weight,
        100.0
    );
}

#[test]
fn canary_shifts_the_canary_then_the_rest() {
    let p = plan(
        Kind::Canary {
            percent: 10.0,
            bake: Duration::from_secs(300),
        },
        0,
        vec![],
    );
    let st = steady(&p);
    let (s, _) = advance(Some(&st), &p, &obs(at(1), 2, up(3), up(3)), "d");
    assert!(
        matches!(layout(&s, &p).production, Production::Split { green_weight, .. } if green_weight == 10.0)
    );
    assert_eq!(
        s.target_service_revision
            .requested_production_traffic_weight,
        10.0
    );
    assert_eq!(
        s.source_service_revision
            .as_ref()
            .unwrap()
            .requested_production_traffic_weight,
        90.0
    );
    let (s, _) = advance(Some(&s), &p, &obs(at(200), 2, up(3), up(3)), "d");
    assert_eq!(stage_of(&s), "PRODUCTION_TRAFFIC_SHIFT");
    let (s, _) = advance(Some(&s), &p, &obs(at(302), 2, up(3), up(3)), "d");
    assert_eq!(layout(&s, &p).production, Production::Slot(Slot::Alt));
}

#[test]
fn a_rollback_during_the_bake_switches_back_with_no_new_task() {
    let p = plan(Kind::BlueGreen, 600, vec![]);
    let st = steady(&p);
    let (s, _) = advance(Some(&st), &p, &obs(at(1), 2, up(3), up(3)), "d");
    assert_eq!(stage_of(&s), "BAKE_TIME");
    let blue_before = layout(&s, &p)
        .slots
        .into_iter()
        .find(|x| x.slot == Slot::Main)
        .unwrap();
    assert!(blue_before.full);
    let mut o = obs(at(100), 2, up(3), up(3));
    o.stop_value = Some(s.id.clone());
    let (r, n) = advance(Some(&s), &p, &o, "d");
    assert_eq!(r.status, ROLLBACK_SUCCESSFUL);
    assert!(
        r.status_reason
            .as_deref()
            .unwrap()
            .contains("StopServiceDeployment")
    );
    assert!(n.iter().any(|n| n.reason == "DeploymentRolledBack"));
    let l = layout(&r, &p);
    assert_eq!(l.production, Production::Slot(Slot::Main));
    // Blue is the same workload, still full: nothing starts.
    assert_eq!(
        l.slots,
        vec![SlotPlan {
            slot: Slot::Main,
            revision: colour(1),
            full: true
        }]
    );
}

#[test]
fn an_alarm_that_fires_during_the_deployment_fails_it_one_firing_before_is_ignored() {
    for (rollback, expect) in [(true, ROLLBACK_SUCCESSFUL), (false, STOPPED)] {
        let mut p = plan(Kind::BlueGreen, 600, vec![]);
        p.alarms = Some(Alarms {
            names: vec!["HighErrors".into()],
            rollback,
        });
        let st = steady(&p);
        let mut o = obs(at(10), 2, up(3), up(3));
        o.alarms = AlarmReading::Firing(vec![FiringAlarm {
            name: "HighErrors".into(),
            starts_at: at(-100),
        }]);
        let (s, _) = advance(Some(&st), &p, &o, "d");
        assert_eq!(
            stage_of(&s),
            "BAKE_TIME",
            "an alarm firing before the start is ignored"
        );
        o.now = at(20);
        o.alarms = AlarmReading::Firing(vec![FiringAlarm {
            name: "HighErrors".into(),
            starts_at: at(15),
        }]);
        let (s, _) = advance(Some(&s), &p, &o, "d");
        assert_eq!(s.status, expect);
        let alarms = s.alarms.as_ref().unwrap();
        assert_eq!(
            (alarms.status.as_str(), alarms.triggered_alarm_names.clone()),
            ("TRIGGERED", vec!["HighErrors".to_string()])
        );
    }
}

#[test]
fn the_circuit_breaker_counts_green_tasks() {
    let p = plan(Kind::BlueGreen, 0, vec![]);
    let st = steady(&p);
    let mut o = obs(
        at(1),
        2,
        up(3),
        Counts {
            ready: 0,
            pending: 3,
            failures: 2,
        },
    );
    o.breaker = Some((3, true));
    let (s, _) = advance(Some(&st), &p, &o, "d");
    assert_eq!((s.status.as_str(), stage_of(&s)), (IN_PROGRESS, "SCALE_UP"));
    o.tasks[1].counts.failures = 3;
    let (s, _) = advance(Some(&s), &p, &o, "d");
    assert_eq!(s.status, ROLLBACK_SUCCESSFUL);
    assert!(s.status_reason.unwrap().contains("circuit breaker"));
}

#[test]
fn a_new_revision_mid_deployment_supersedes_it_and_a_revert_rolls_back() {
    let p = plan(Kind::BlueGreen, 600, vec![]);
    let st = steady(&p);
    let (s, _) = advance(Some(&st), &p, &obs(at(1), 2, up(3), up(0)), "d2");
    assert_eq!(stage_of(&s), "SCALE_UP");
    let (s3, n) = advance(Some(&s), &p, &obs(at(5), 3, up(3), up(1)), "d3");
    assert_eq!(s3.id, "d3");
    assert!(n.iter().any(|n| n.reason == "DeploymentSuperseded"));
    assert_eq!(
        s3.source_service_revision.as_ref().unwrap().task_definition,
        "web:1"
    );
    assert_eq!(s3.target_service_revision.slot, "alt");
    // Asking for blue again ends the deployment on blue, without marking anything failed.
    let (back, _) = advance(Some(&s3), &p, &obs(at(9), 1, up(3), up(1)), "d4");
    assert_eq!(back.status, ROLLBACK_SUCCESSFUL);
    assert_eq!(back.failed_service_revision, None);
    // Past the production shift, production is green: a new revision replaces blue's slot.
    let (baking, _) = advance(Some(&st), &p, &obs(at(1), 2, up(3), up(3)), "d2");
    assert_eq!(stage_of(&baking), "BAKE_TIME");
    let (next, _) = advance(Some(&baking), &p, &obs(at(5), 3, up(3), up(3)), "d3");
    assert_eq!(
        next.source_service_revision
            .as_ref()
            .unwrap()
            .task_definition,
        "web:2"
    );
    assert_eq!(next.target_service_revision.slot, "main");
    // web:1's tasks still in main are not web:3's: green is not up yet.
    assert_eq!(stage_of(&next), "SCALE_UP");
    let up3 = obs_of(at(9), 3, &[(Slot::Main, 3, up(3)), (Slot::Alt, 2, up(3))]);
    let (next, _) = advance(Some(&next), &p, &up3, "d3");
    assert_eq!(stage_of(&next), "BAKE_TIME");
}
