//! Translator tests without a cluster: snapshots of full renders, the invalid fixtures, the
//! official AWS examples, field coverage, CRD drift, the field-mapping page, and rendered
//! objects parsing as the Kubernetes types they claim to be.

use std::path::Path;

use ecs_operator::api::ecs::model::{READ_ONLY, SHAPES};
use ecs_operator::cli::{import, manifest, render};
use ecs_operator::crdgen;
use ecs_operator::translate::{Options, fates};
use serde_json::Value;

#[path = "translate/mutation.rs"]
mod mutation;

fn fixture(path: &str) -> Vec<manifest::Document> {
    manifest::read_documents(&format!(
        "{}/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture reads")
}

fn render_fixture(path: &str) -> render::Rendered {
    render::render(&fixture(path), &Options::default())
}

#[test]
fn snapshots_of_representative_task_definitions() {
    for case in [
        "web-alb",
        "envoy-sidecar",
        "migration-logrouter",
        "daemon-agent",
        "gpu-batch-task",
        "efs-and-host-volumes",
        "secrets",
    ] {
        let out = render_fixture(&format!("render/{case}.yaml"));
        assert!(out.errors.is_empty(), "{case}: {:#?}", out.errors);
        let mut snapshot = render::to_yaml(&out.objects);
        snapshot.push_str("# warnings:\n");
        for w in &out.warnings {
            snapshot.push_str(&format!("# {w}\n"));
        }
        insta::assert_snapshot!(case, snapshot);
    }
}

/// Each invalid fixture names, in a `# expect-error:` line, the JSON path its error must carry.
#[test]
fn invalid_fixtures_fail_with_the_field_path() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.push(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/render/host-path-rejected.yaml"),
    );
    assert!(files.len() >= 7);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let expected = text
            .lines()
            .find_map(|l| l.strip_prefix("# expect-error:"))
            .expect("expect-error line")
            .trim();
        let docs = manifest::parse_documents(&text, &f.display().to_string()).unwrap();
        let out = render::render(&docs, &Options::default());
        assert!(
            out.objects.is_empty() || !out.errors.is_empty(),
            "{}",
            f.display()
        );
        assert!(
            out.errors
                .iter()
                .any(|e| e.contains(&format!(": {expected}:"))),
            "{}: expected an error at {expected}, got {:#?}",
            f.display(),
            out.errors
        );
    }
}

/// Linux's execve(2) refuses an environment string over MAX_ARG_STRLEN (131,072 bytes, with
/// `NAME=` and the NUL): such a container can start on neither ECS nor Kubernetes.
#[test]
fn an_environment_string_over_the_exec_limit_is_refused() {
    let td = |len: usize| {
        format!(
            r#"{{"apiVersion": "ecs-operator.io/v1alpha1", "kind": "TaskDefinition", "metadata": {{"name": "big"}},
            "spec": {{"containerDefinitions": [{{"name": "app", "image": "nginx", "memory": 128,
            "environment": [{{"name": "A", "value": "{}"}}]}}]}}}}"#,
            "x".repeat(len)
        )
    };
    // "A=" + value + NUL: 131,072 bytes exactly is the largest that starts.
    let fits = render::render(
        &manifest::parse_documents(&td(131_069), "t").unwrap(),
        &Options::default(),
    );
    assert!(fits.errors.is_empty(), "{:?}", fits.errors);
    let over = render::render(
        &manifest::parse_documents(&td(131_070), "t").unwrap(),
        &Options::default(),
    );
    assert!(
        over.errors.iter().any(
            |e| e.contains("spec.containerDefinitions[0].environment[0].value")
                && e.contains("131072")
        ),
        "{:?}",
        over.errors
    );
}

#[test]
fn all_errors_are_reported_at_once() {
    let docs = manifest::parse_documents(
        r#"{"apiVersion": "ecs-operator.io/v1alpha1", "kind": "TaskDefinition", "metadata": {"name": "bad"},
            "spec": {"containerDefinitions": [
              {"name": "a", "image": "x", "memory": 100, "memoryReservation": 200, "dependsOn": [{"containerName": "ghost", "condition": "START"}]},
              {"name": "a", "image": "${IMAGE}", "privileged": true}]}}"#,
        "inline",
    )
    .unwrap();
    let out = render::render(&docs, &Options::default());
    for path in [
        "spec.containerDefinitions[0].memoryReservation",
        "spec.containerDefinitions[0].dependsOn[0].containerName",
        "spec.containerDefinitions[1].name",
        "spec.containerDefinitions[1].image",
        "spec.containerDefinitions[1].privileged",
    ] {
        assert!(
            out.errors.iter().any(|e| e.contains(&format!(": {path}:"))),
            "{path} missing in {:#?}",
            out.errors
        );
    }
}

#[test]
fn type_errors_and_unknown_fields_name_the_path() {
    let docs = manifest::parse_documents(
        r#"{"apiVersion": "ecs-operator.io/v1alpha1", "kind": "TaskDefinition", "metadata": {"name": "x"},
            "spec": {"containerDefinitions": [{"name": "a", "image": "x", "memory": "lots"}]}}"#,
        "inline",
    )
    .unwrap();
    let out = render::render(&docs, &Options::default());
    assert!(
        out.errors[0].contains("spec.containerDefinitions[0].memory"),
        "{:?}",
        out.errors
    );
    let docs = manifest::parse_documents(
        r#"{"apiVersion": "ecs-operator.io/v1alpha1", "kind": "TaskDefinition", "metadata": {"name": "x"},
            "spec": {"containerDefinitions": [{"name": "a", "image": "x", "memory": 64, "imagee": "typo"}]}}"#,
        "inline",
    )
    .unwrap();
    let out = render::render(&docs, &Options::default());
    assert!(
        out.errors[0].contains("spec.containerDefinitions[0].imagee: unknown field"),
        "{:?}",
        out.errors
    );
}

#[test]
fn explicit_nulls_and_empty_strings_are_accepted() {
    let docs = manifest::parse_documents(
        r#"{"apiVersion": "ecs-operator.io/v1alpha1", "kind": "TaskDefinition", "metadata": {"name": "x"},
            "spec": {"family": "x", "taskRoleArn": null, "cpu": "", "memory": "512", "volumes": [], "placementConstraints": null,
                     "containerDefinitions": [{"name": "a", "image": "nginx", "hostname": "", "portMappings": null, "environment": []}]}}"#,
        "inline",
    )
    .unwrap();
    let out = render::render(&docs, &Options::default());
    assert!(out.errors.is_empty(), "{:?}", out.errors);
}

/// The official examples from the ECS API model: each imports to resources that parse, and the
/// task definitions render.
#[test]
fn official_aws_examples_import_and_render() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/aws-examples");
    let mut imported = Vec::new();
    for name in [
        "RegisterTaskDefinition-1-input",
        "DescribeTaskDefinition-1-output",
        "CreateService-1-input",
        "CreateService-2-input",
        "DescribeServices-1-output",
        "RunTask-1-input",
    ] {
        let value: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        let out = import::import(&value, None).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!out.resources.is_empty(), "{name}");
        for r in out.resources {
            let doc = manifest::Document {
                source: name.into(),
                value: r,
            };
            manifest::resource(&doc).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            imported.push(doc);
        }
    }
    let tds: Vec<_> = imported
        .iter()
        .filter(|d| d.value["kind"] == "TaskDefinition")
        .cloned()
        .collect();
    let out = render::render(&tds, &Options::default());
    assert!(out.errors.is_empty(), "{:#?}", out.errors);
    assert!(out.objects.is_empty() || out.objects.iter().all(|o| o["kind"].is_string()));
}

#[test]
fn every_ecs_member_has_a_documented_fate() {
    let table = fates::table();
    let mut missing = Vec::new();
    for (shape, members) in SHAPES {
        for m in *members {
            if !table.contains_key(&format!("{shape}.{}", m.name)) {
                missing.push(format!("{shape}.{}", m.name));
            }
        }
    }
    for (shape, members) in READ_ONLY {
        for m in *members {
            if !table.contains_key(&format!("{shape}.{m}")) {
                missing.push(format!("{shape}.{m}"));
            }
        }
    }
    let autoscaling =
        serde_json::to_value(schemars::schema_for!(ecs_operator::api::AutoscalingSpec)).unwrap();
    for key in autoscaling["properties"].as_object().unwrap().keys() {
        if !table.contains_key(&format!("Autoscaling.{key}")) {
            missing.push(format!("Autoscaling.{key}"));
        }
    }
    assert!(
        missing.is_empty(),
        "members without a fate in field_fates.tsv: {missing:#?}"
    );
    let known: std::collections::BTreeSet<String> = SHAPES
        .iter()
        .flat_map(|(s, ms)| ms.iter().map(move |m| format!("{s}.{}", m.name)))
        .chain(
            READ_ONLY
                .iter()
                .flat_map(|(s, ms)| ms.iter().map(move |m| format!("{s}.{m}"))),
        )
        .collect();
    for (member, row) in table {
        let autoscaling_row = [
            "Autoscaling.",
            "SuspendedState.",
            "TargetTracking",
            "PredefinedMetric",
            "CustomizedMetric",
            "MetricDimension.",
            "StepScaling",
            "StepAdjustment.",
        ]
        .iter()
        .any(|p| member.starts_with(p));
        assert!(
            known.contains(member) || autoscaling_row,
            "{member} is in the table but not in the ECS model"
        );
        if matches!(
            row.fate,
            fates::Fate::Warned | fates::Fate::Rejected | fates::Fate::ReadOnly
        ) {
            assert!(
                row.note.len() > 20,
                "{member}: a {:?} row needs a user-facing note",
                row.fate
            );
        }
    }
}

#[test]
fn warned_and_rejected_fields_are_never_silent() {
    // Every warned or rejected member of ContainerDefinition, set alone, yields a diagnostic at its path.
    let table = fates::table();
    for (member, row) in table
        .iter()
        .filter(|(m, _)| m.starts_with("ContainerDefinition."))
    {
        let field = member.trim_start_matches("ContainerDefinition.");
        if !matches!(row.fate, fates::Fate::Warned | fates::Fate::Rejected) {
            continue;
        }
        let mut value = serde_json::json!({"containerDefinitions": [{"name": "a", "image": "x", "memory": 64}]});
        value["containerDefinitions"][0][field] = serde_json::json!(true);
        let mut report = ecs_operator::translate::Report::default();
        fates::walk("RegisterTaskDefinitionRequest", &value, "spec", &mut report);
        let path = format!("spec.containerDefinitions[0].{field}");
        let found = report
            .warnings
            .iter()
            .chain(&report.errors)
            .any(|d| d.path == path);
        assert!(found, "{path} produced no diagnostic");
    }
}

#[test]
fn committed_crds_match_the_types() {
    for (name, crd) in crdgen::all() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("crds")
            .join(name);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            committed,
            crdgen::to_yaml(&crd),
            "crds/{name} drifted from the types: run `cargo run -- crd --out-dir crds`"
        );
        // Client-side `kubectl apply` stores the object in an annotation limited to 262144 bytes.
        let json = serde_json::to_string(&crd).unwrap();
        assert!(json.len() < 262_144, "{name} is {} bytes", json.len());
    }
}

#[test]
fn field_mapping_page_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/field-mapping.md");
    let generated = fates::markdown();
    if std::env::var_os("ECS_OPERATOR_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/field-mapping.md is stale: run `ECS_OPERATOR_BLESS=1 cargo test --test translate field_mapping`"
    );
}

/// Every rendered object deserializes as the k8s-openapi type of its kind, with no field left over.
#[test]
fn rendered_objects_are_valid_kubernetes_types() {
    use k8s_openapi::api::{apps::v1 as apps, autoscaling::v2 as hpa, core::v1 as core};
    fn strict<T: serde::de::DeserializeOwned>(v: &Value) {
        let (_, unknown) = manifest::typed::<T>(v).unwrap_or_else(|e| panic!("{}: {e}", v["kind"]));
        assert!(
            unknown.is_empty(),
            "{}: unknown fields {unknown:?}",
            v["kind"]
        );
    }
    let mut kinds = std::collections::BTreeSet::new();
    for case in [
        "web-alb",
        "envoy-sidecar",
        "migration-logrouter",
        "daemon-agent",
        "gpu-batch-task",
        "efs-and-host-volumes",
        "secrets",
    ] {
        for o in render_fixture(&format!("render/{case}.yaml")).objects {
            let kind = o["kind"].as_str().unwrap().to_string();
            match kind.as_str() {
                "Deployment" => strict::<apps::Deployment>(&o),
                "DaemonSet" => strict::<apps::DaemonSet>(&o),
                "Pod" => strict::<core::Pod>(&o),
                "Service" => strict::<core::Service>(&o),
                "ServiceAccount" => strict::<core::ServiceAccount>(&o),
                "PersistentVolume" => strict::<core::PersistentVolume>(&o),
                "PersistentVolumeClaim" => strict::<core::PersistentVolumeClaim>(&o),
                "HorizontalPodAutoscaler" => strict::<hpa::HorizontalPodAutoscaler>(&o),
                "ExternalSecret" | "TargetGroupBinding" => assert!(o["spec"].is_object()),
                other => panic!("unexpected kind {other}"),
            }
            kinds.insert(kind);
        }
    }
    for k in [
        "Deployment",
        "DaemonSet",
        "Pod",
        "Service",
        "ServiceAccount",
        "PersistentVolume",
        "HorizontalPodAutoscaler",
    ] {
        assert!(kinds.contains(k), "no fixture rendered a {k}");
    }
}
