//! The fuzz runner (issue 12 item 8): each target runs generated cases for a time budget
//! (`FUZZ_SECONDS` per target; 3 s in the normal test run, 600 s in `scripts/fuzz.sh --long`),
//! fresh random seeds batch after batch, and on a failure proptest shrinks the input and the
//! runner saves it under `tests/fixtures/fuzz/<target>/` — a regression fixture that
//! [`fuzz_regressions_stay_fixed`] replays on every run from then on.
//!
//! Targets: `import` (ECS JSON, describe output, CloudFormation, Terraform, Copilot,
//! ecspresso), `render` (which `validate` is, without the output), `parse` (the text readers),
//! and `service-status` (the pure status computation, over sequences of observed rounds, with
//! its invariants: at most MAX_EVENTS events, event and deployment ids unique, one PRIMARY).

mod arb;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arb::{arb_json, arb_template_json, fixtures, import_fixtures, mutate};
use ecs_operator::api::ServiceStatus;
use ecs_operator::api::ecs::DeploymentCircuitBreaker;
use ecs_operator::cli::import::source;
use ecs_operator::cli::{import, manifest, render};
use ecs_operator::controller::service_status::{self, Inputs, MAX_EVENTS, PodView};
use ecs_operator::translate::Options;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use serde::{Deserialize, Serialize};
use serde_json::Value;

fn budget() -> Duration {
    let secs = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(3.0);
    Duration::from_secs_f64(secs)
}

fn fixtures_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz")
        .join(target)
}

/// Run `check` on cases of `strategy` until the budget is spent; a failure is shrunk, saved
/// as a fixture (`save` gives its file extension and text) and fails the test.
fn fuzz<S: Strategy>(
    target: &str,
    strategy: S,
    save: impl Fn(&S::Value) -> (&'static str, String),
    check: impl Fn(&S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let start = Instant::now();
    let mut cases = 0u64;
    while start.elapsed() < budget() {
        let mut runner = TestRunner::new(Config {
            cases: 64,
            failure_persistence: None,
            ..Config::default()
        });
        match runner.run(&strategy, |v| check(&v)) {
            Ok(()) => cases += 64,
            Err(TestError::Fail(why, value)) => {
                let (ext, text) = save(&value);
                let dir = fixtures_dir(target);
                std::fs::create_dir_all(&dir).unwrap();
                let path = dir.join(format!("{:016x}.{ext}", fnv(&text)));
                std::fs::write(&path, text).unwrap();
                panic!(
                    "fuzz target {target}: {why}\nminimal input saved as {} (commit it: it is now a regression fixture)",
                    path.display()
                );
            }
            Err(TestError::Abort(why)) => panic!("fuzz target {target} aborted: {why}"),
        }
    }
    println!(
        "FUZZ {target}: {cases} cases in {:.1} s, no failure",
        start.elapsed().as_secs_f64()
    );
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn docs(values: &[Value], source: &str) -> Vec<manifest::Document> {
    values
        .iter()
        .map(|value| manifest::Document {
            source: source.into(),
            value: value.clone(),
        })
        .collect()
}

fn as_json(values: &[Value]) -> (&'static str, String) {
    ("json", serde_json::to_string_pretty(values).unwrap())
}

// ---------------------------------------------------------------------------------------------
// The targets
// ---------------------------------------------------------------------------------------------

/// Mutated fixtures (the files users have, one value replaced) or arbitrary documents.
fn mutated(base: fn() -> Vec<Value>, leaf: BoxedStrategy<Value>) -> BoxedStrategy<Vec<Value>> {
    let one = (
        0usize..64,
        prop::collection::vec(0usize..16, 1..8),
        leaf.clone(),
    )
        .prop_map(move |(index, path, new)| {
            let mut docs = base();
            let n = docs.len();
            mutate(&mut docs[index % n], &path, new);
            docs
        });
    prop_oneof![
        3 => one,
        1 => prop::collection::vec(leaf, 1..4),
    ]
    .boxed()
}

fn check_import(values: &[Value]) -> Result<(), TestCaseError> {
    let d = docs(values, "fuzz/file.json");
    let options = import::Options {
        name: Some("n".into()),
        vars: [("VAR".to_string(), "1".to_string())].into(),
        parameters: [("AWS::Region".to_string(), "r".to_string())].into(),
        ..import::Options::default()
    };
    let _ = import::import_documents(&d, &options);
    let _ = import::import_documents(&d, &import::Options::default());
    for v in values {
        let _ = import::import(v, None);
    }
    Ok(())
}

fn check_render(values: &[Value]) -> Result<(), TestCaseError> {
    let rendered = render::render(&docs(values, "fuzz"), &Options::default());
    // Every rendered object is something the API server could be sent: JSON with a kind and a name.
    for obj in &rendered.objects {
        prop_assert!(obj.get("kind").and_then(Value::as_str).is_some(), "{obj}");
        prop_assert!(
            obj.pointer("/metadata/name")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty()),
            "an object without a name: {obj}"
        );
    }
    Ok(())
}

fn check_parse(text: &str) -> Result<(), TestCaseError> {
    if let Ok(found) = source::parse(text, "fuzz") {
        let values: Vec<Value> = found.into_iter().map(|d| d.value).collect();
        check_import(&values)?;
    }
    let _ = manifest::parse_documents(text, "fuzz");
    Ok(())
}

/// One observed round of a Service, in a form a fixture can hold.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Round {
    revision: u8,
    requested: u8,
    desired: i32,
    forced: Option<String>,
    breaker: bool,
    seconds: i64,
    pods: Vec<(u8, bool, bool, i32, bool)>,
}

fn arb_rounds() -> impl Strategy<Value = Vec<Round>> {
    let pod = (1u8..4, any::<bool>(), any::<bool>(), 0i32..6, any::<bool>());
    let round = (
        1u8..4,
        1u8..4,
        -1i32..7,
        prop::option::of(prop_oneof![Just("a".to_string()), Just("b".to_string())]),
        any::<bool>(),
        0i64..900,
        prop::collection::vec(pod, 0..9),
    )
        .prop_map(
            |(revision, requested, desired, forced, breaker, seconds, pods)| Round {
                revision,
                requested,
                desired,
                forced,
                breaker,
                seconds,
                pods,
            },
        );
    prop::collection::vec(round, 1..12)
}

fn inputs(r: &Round, clock: i64) -> Inputs {
    let td = |n: u8| format!("web:{n}");
    Inputs {
        service_name: "web".into(),
        generation: Some(1),
        task_definition: td(r.revision),
        requested: td(r.requested),
        forced: r.forced.clone(),
        desired: r.desired,
        breaker: r.breaker.then(|| DeploymentCircuitBreaker {
            enable: Some(true),
            rollback: Some(true),
            ..Default::default()
        }),
        threshold: 3,
        deadline_seconds: 600,
        pods: r
            .pods
            .iter()
            .enumerate()
            .map(
                |(i, &(rev, ready, terminating, failures, unschedulable))| PodView {
                    name: format!("web-{i}"),
                    task_definition: td(rev),
                    ready,
                    terminating,
                    failures,
                    unschedulable: unschedulable.then(|| "0/3 nodes are available".into()),
                    forced: r.forced.clone(),
                },
            )
            .collect(),
        selector: "ecs-operator.io/service=web".into(),
        warnings: vec![],
        now: k8s_openapi::jiff::Timestamp::from_second(1_700_000_000 + clock).unwrap(),
        rebalancing: false,
        rebalance: vec![],
        replaced_unhealthy: vec![],
        recheck_after: None,
    }
}

fn check_status(rounds: &[Round]) -> Result<(), TestCaseError> {
    let mut st = ServiceStatus::default();
    let mut clock = 0;
    for r in rounds {
        clock += r.seconds;
        let (next, _) = service_status::compute(&st, &inputs(r, clock));
        prop_assert!(next.events.len() <= MAX_EVENTS);
        let ids: std::collections::HashSet<_> = next.events.iter().map(|e| &e.id).collect();
        prop_assert_eq!(
            ids.len(),
            next.events.len(),
            "an event id twice: {:?}",
            next.events
        );
        let dids: std::collections::HashSet<_> = next.deployments.iter().map(|d| &d.id).collect();
        prop_assert_eq!(dids.len(), next.deployments.len(), "a deployment id twice");
        let primaries = next
            .deployments
            .iter()
            .filter(|d| d.status == "PRIMARY")
            .count();
        prop_assert_eq!(
            primaries,
            1,
            "one PRIMARY deployment: {:?}",
            next.deployments
        );
        prop_assert!(next.running_count >= 0 && next.pending_count >= 0);
        st = next;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The tests: each target for the budget, and every saved fixture replayed
// ---------------------------------------------------------------------------------------------

#[test]
fn fuzz_import() {
    fuzz(
        "import",
        mutated(import_fixtures, arb_template_json().boxed()),
        |v| as_json(v),
        |v| check_import(v),
    );
}

#[test]
fn fuzz_render_and_validate() {
    fuzz(
        "render",
        mutated(fixtures, arb_json().boxed()),
        |v| as_json(v),
        |v| check_render(v),
    );
}

#[test]
fn fuzz_parse() {
    let text = prop_oneof![
        "[ -~\n\t]{0,300}",
        "(\\{|\\[|\"|:|,|-|\\$\\{|\\}|\\]|[a-z]{1,6}|[0-9]{1,3}|\n| ){0,80}",
    ];
    fuzz(
        "parse",
        text,
        |t: &String| ("txt", t.clone()),
        |t| check_parse(t),
    );
}

#[test]
fn fuzz_service_status() {
    fuzz(
        "service-status",
        arb_rounds(),
        |r| ("json", serde_json::to_string_pretty(r).unwrap()),
        |r| check_status(r),
    );
}

/// Every input a fuzz run saved, through its target again.
#[test]
fn fuzz_regressions_stay_fixed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let mut replayed = 0;
    for target in ["import", "render", "parse", "service-status"] {
        let Ok(entries) = std::fs::read_dir(root.join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let outcome = match target {
                "parse" => check_parse(&text),
                "service-status" => {
                    check_status(&serde_json::from_str::<Vec<Round>>(&text).unwrap())
                }
                "import" => check_import(&serde_json::from_str::<Vec<Value>>(&text).unwrap()),
                _ => check_render(&serde_json::from_str::<Vec<Value>>(&text).unwrap()),
            };
            outcome.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            replayed += 1;
        }
    }
    println!("FUZZ regressions: {replayed} saved inputs replayed");
}
