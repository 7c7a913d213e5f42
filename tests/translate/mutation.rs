//! The mutation test of the field-fate table (issue 8 item 14): a member the table calls
//! *mapped* must change what `render` produces. Every occurrence of a mapped member in the
//! render fixtures is removed in turn and the document rendered again; a mapped member that
//! occurs nowhere, or whose removal never changes the objects (or the errors), fails the test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use ecs_operator::api::ecs::model::Kind;
use ecs_operator::cli::{manifest, render};
use ecs_operator::translate::fates::{self, Fate};
use ecs_operator::translate::{Options, SecurityPolicy};
use serde_json::Value;

/// The request shape a custom resource's spec is.
fn root_shape(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "TaskDefinition" => "RegisterTaskDefinitionRequest",
        "Service" => "CreateServiceRequest",
        "Task" => "RunTaskRequest",
        "Cluster" => "CreateClusterRequest",
        _ => return None,
    })
}

/// Every (JSON pointer, `Shape.member`) of a mapped member set in `value` (an object of `shape`).
fn mapped_members(shape: &str, value: &Value, pointer: &str, out: &mut Vec<(String, String)>) {
    let Value::Object(map) = value else { return };
    for (key, v) in map {
        if key == "kubernetes" || v.is_null() {
            continue;
        }
        let member = format!("{pointer}/{key}");
        if shape == "CreateServiceRequest" && key == "autoscaling" {
            // spec.autoscaling is not an ECS shape: it has rows of its own.
            mapped_members("Autoscaling", v, &member, out);
            continue;
        }
        match fates::table().get(&format!("{shape}.{key}")) {
            Some(row) if row.fate == Fate::Mapped => out.push((member.clone(), row.member.clone())),
            _ => continue,
        }
        let kind = fates::member_kind(shape, key);
        match kind {
            Kind::Struct(inner) => mapped_members(inner, v, &member, out),
            Kind::ListOf(inner) => {
                for (i, item) in v.as_array().into_iter().flatten().enumerate() {
                    mapped_members(inner, item, &format!("{member}/{i}"), out);
                }
            }
            Kind::Scalar => {}
        }
    }
}

/// Remove the member at `pointer` from `doc`.
fn remove(doc: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').expect("a member pointer");
    if let Some(Value::Object(o)) = doc.pointer_mut(parent) {
        o.remove(key);
    }
}

/// What a render produced that counts as output: the objects and the errors.
fn output(docs: &[manifest::Document], options: &Options) -> (Vec<Value>, Vec<String>) {
    let r = render::render(docs, options);
    (r.objects, r.errors)
}

#[test]
fn every_mapped_member_changes_the_rendered_output() {
    let options = Options {
        policy: SecurityPolicy::permissive(),
        ..Options::default()
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/render");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut seen: BTreeMap<String, bool> = BTreeMap::new();
    for file in files {
        let docs = manifest::read_documents(&file.display().to_string()).unwrap();
        let baseline = output(&docs, &options);
        if !baseline.1.is_empty() {
            continue; // a fixture that is invalid on purpose
        }
        for (d, doc) in docs.iter().enumerate() {
            let Some(shape) = doc.value["kind"].as_str().and_then(root_shape) else {
                continue;
            };
            let mut members = Vec::new();
            mapped_members(shape, &doc.value["spec"], "/spec", &mut members);
            for (pointer, member) in members {
                let mut mutated = docs.clone();
                remove(&mut mutated[d].value, &pointer);
                let changed = output(&mutated, &options) != baseline;
                *seen.entry(member).or_default() |= changed;
            }
        }
    }
    let mapped: BTreeSet<&String> = fates::table()
        .values()
        .filter(|r| r.fate == Fate::Mapped)
        .map(|r| &r.member)
        .collect();
    let missing: Vec<&&String> = mapped.iter().filter(|m| !seen.contains_key(**m)).collect();
    let no_effect: Vec<&String> = seen
        .iter()
        .filter(|(_, changed)| !**changed)
        .map(|(m, _)| m)
        .collect();
    assert!(
        missing.is_empty() && no_effect.is_empty(),
        "mapped members no render fixture sets ({}): {missing:#?}\nmapped members whose removal changes nothing ({}): {no_effect:#?}",
        missing.len(),
        no_effect.len()
    );
}
