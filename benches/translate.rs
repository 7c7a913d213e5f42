//! Benchmark (not a test): translate 1,000 task definitions with a service each, and print the
//! figures. Run with `cargo bench --bench translate`.

use std::time::Instant;

use ecs_operator::api::{Service, TaskDefinition};
use ecs_operator::translate::{Options, TaskDefinitionRef, family, service};

fn main() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/render/web-alb.yaml"
    ))
    .unwrap();
    let docs = ecs_operator::cli::manifest::parse_documents(&text, "web-alb").unwrap();
    let td: TaskDefinition = docs
        .iter()
        .find(|d| d.value["kind"] == "TaskDefinition")
        .map(|d| serde_json::from_value(d.value.clone()).unwrap())
        .unwrap();
    let svc: Service = docs
        .iter()
        .find(|d| d.value["kind"] == "Service")
        .map(|d| serde_json::from_value(d.value.clone()).unwrap())
        .unwrap();
    let options = Options::default();
    let n = 1000;
    let inputs: Vec<(TaskDefinitionRef, Service)> = (0..n)
        .map(|i| {
            let mut s = svc.clone();
            s.metadata.name = Some(format!("web-{i}"));
            (
                TaskDefinitionRef {
                    family: format!("web-{i}"),
                    revision: 1,
                    namespace: Some("bench".into()),
                    spec: td.spec.clone(),
                },
                s,
            )
        })
        .collect();
    for round in 1..=3 {
        let start = Instant::now();
        let mut objects = 0usize;
        for (r, s) in &inputs {
            let (_, _) = family::translate(r, &options).expect("valid");
            let (out, _) = service::translate(s, r, None, &options).expect("valid");
            objects += out.workloads.len()
                + out.networking.services.len()
                + usize::from(out.hpa.is_some());
        }
        let elapsed = start.elapsed();
        println!(
            "round {round}: translated {n} task definitions + services ({objects} objects) in {:.1} ms: {:.1} µs each",
            elapsed.as_secs_f64() * 1e3,
            elapsed.as_secs_f64() * 1e6 / n as f64
        );
    }
}
