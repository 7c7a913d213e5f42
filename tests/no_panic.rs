//! Property tests: whatever a user pastes, `import`, `render` and `validate` answer with
//! objects or errors, never a panic — arbitrary JSON, and fixtures with fields replaced by
//! arbitrary values.

mod arb;

use arb::{arb_json, arb_template_json, fixtures, import_fixtures, mutate};
use ecs_operator::cli::import::source;
use ecs_operator::cli::{import, manifest, render};
use ecs_operator::translate::Options;
use proptest::prelude::*;
use serde_json::{Value, json};

fn render_docs(values: Vec<Value>) {
    let docs: Vec<manifest::Document> = values
        .into_iter()
        .map(|value| manifest::Document {
            source: "prop".into(),
            value,
        })
        .collect();
    let _ = render::render(&docs, &Options::default());
}

fn import_all(values: Vec<Value>) {
    let docs: Vec<manifest::Document> = values
        .into_iter()
        .map(|value| manifest::Document {
            source: "prop/file.json".into(),
            value,
        })
        .collect();
    let options = import::Options {
        name: Some("n".into()),
        vars: [("VAR".to_string(), "1".to_string())].into(),
        parameters: [("AWS::Region".to_string(), "r".to_string())].into(),
        ..import::Options::default()
    };
    let _ = import::import_documents(&docs, &options);
    let _ = import::import_documents(&docs, &import::Options::default());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn import_never_panics_on_templates_and_state(
        v in arb_template_json(),
        params in arb_template_json(),
        ty in prop_oneof![Just("AWS::ECS::TaskDefinition"), Just("AWS::ECS::Service"), Just("AWS::ECS::Cluster"),
            Just("AWS::ApplicationAutoScaling::ScalableTarget"), Just("AWS::ApplicationAutoScaling::ScalingPolicy"), Just("AWS::IAM::Role")],
        tf in prop_oneof![Just("aws_ecs_task_definition"), Just("aws_ecs_service"), Just("aws_ecs_cluster"),
            Just("aws_appautoscaling_target"), Just("aws_appautoscaling_policy")],
    ) {
        import_all(vec![
            json!({"Resources": {"A": {"Type": ty, "Properties": v.clone(), "Condition": "C"}, "B": {"Type": ty, "Properties": params.clone()}},
                "Parameters": params.clone(), "Conditions": {"C": v.clone()}, "Mappings": params.clone()}),
            json!({"format_version": "1.0", "values": {"root_module": {"resources": [
                {"type": tf, "address": "a", "values": v.clone()}, {"type": "aws_ecs_service", "address": "b", "values": params.clone()}],
                "child_modules": [{"resources": [{"type": tf, "values": params}]}]}},
                "resource_changes": [{"type": tf, "address": "a", "change": {"after_unknown": v.clone()}}]}),
            v,
        ]);
    }

    #[test]
    fn import_never_panics_on_mutated_import_fixtures(index in 0usize..64, path in prop::collection::vec(0usize..16, 1..7), new in arb_template_json()) {
        let mut docs = import_fixtures();
        let n = docs.len();
        mutate(&mut docs[index % n], &path, new);
        import_all(docs);
    }

    /// Copilot manifests with arbitrary values in each section, and an environment override.
    #[test]
    fn import_never_panics_on_copilot_manifests(
        v in arb_template_json(),
        w in arb_template_json(),
        ty in prop_oneof![Just("Load Balanced Web Service"), Just("Backend Service"), Just("Worker Service"), Just("Scheduled Job")],
        key in prop_oneof![Just("image"), Just("count"), Just("http"), Just("nlb"), Just("sidecars"), Just("storage"),
            Just("network"), Just("variables"), Just("secrets"), Just("platform"), Just("command"), Just("deployment"), Just("cpu")],
    ) {
        let base = json!({"name": "web", "type": ty, "image": {"location": "web:1", "port": 80}});
        let mut one = base.clone();
        one[key] = v.clone();
        let mut nested = base.clone();
        nested[key] = json!({"range": v.clone(), "healthcheck": w.clone(), "volumes": {"x": w.clone()}, "vpc": v.clone(), "sc": {"image": w.clone()}});
        let mut env = base;
        env["environments"] = json!({"prod": {key: w.clone()}});
        import_all(vec![one, nested.clone()]);
        let docs: Vec<manifest::Document> = [env, nested].into_iter()
            .map(|value| manifest::Document { source: "copilot/web/manifest.yml".into(), value })
            .collect();
        let _ = import::import_documents(&docs, &import::Options { environment: Some("prod".into()), ..import::Options::default() });
    }

    /// ecspresso configurations with arbitrary members (the files they name need not exist).
    #[test]
    fn import_never_panics_on_ecspresso_configs(v in arb_template_json(), w in arb_template_json()) {
        import_all(vec![
            json!({"task_definition": v.clone(), "service_definition": w.clone(), "cluster": v.clone(), "service": w.clone()}),
            json!({"task_definition": "file.json", "service_definition": "file.json", "cluster": w, "plugins": v}),
        ]);
    }

    #[test]
    fn import_text_reader_never_panics(text in "[ -~\n]{0,200}", pick in 0usize..4) {
        let text = match pick {
            0 => text,
            1 => format!("{{\"family\": {text}}}"),
            2 => format!("cpu: {{{{ {text} }}}}\nimage: !Sub '{text}'\n"),
            _ => format!("{{\"a\": ${{{text}}}, \"b\": \"<{text}>\"}}"),
        };
        if let Ok(docs) = source::parse(&text, "prop") {
            import_all(docs.into_iter().map(|d| d.value).collect());
        }
    }

    #[test]
    fn import_never_panics(v in arb_json()) {
        let _ = import::import(&v, None);
        let _ = import::import(&json!({"taskDefinition": v.clone()}), Some("ns"));
        let _ = import::import(&json!({"services": [v]}), None);
    }

    #[test]
    fn render_never_panics_on_arbitrary_specs(spec in arb_json(), kind in prop_oneof![Just("TaskDefinition"), Just("Service"), Just("Task"), Just("Cluster")]) {
        render_docs(vec![json!({"apiVersion": "ecs-operator.io/v1alpha1", "kind": kind, "metadata": {"name": "x"}, "spec": spec})]);
    }

    #[test]
    fn render_never_panics_on_mutated_fixtures(index in 0usize..64, path in prop::collection::vec(0usize..16, 1..7), new in arb_json()) {
        let mut docs = fixtures();
        let n = docs.len();
        mutate(&mut docs[index % n], &path, new);
        render_docs(docs);
    }

    #[test]
    fn documents_parser_never_panics(text in "[ -~\n]{0,200}") {
        let _ = manifest::parse_documents(&text, "prop");
    }
}
