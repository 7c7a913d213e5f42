//! Shared generators of the property tests and the fuzz runner: arbitrary JSON (with the
//! keys and values ECS files have), CloudFormation/Terraform/template values, the render and
//! import fixtures, and a mutation of a value at a chosen path.

// Each test crate uses a different part.
#![allow(dead_code)]

use ecs_operator::cli::import::source;
use ecs_operator::cli::manifest;
use proptest::prelude::*;
use serde_json::Value;

pub fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        "[a-zA-Z0-9:/_${}. -]{0,24}".prop_map(Value::from),
        prop_oneof![
            Just("CMD-SHELL"),
            Just("awsvpc"),
            Just("REPLICA"),
            Just("DAEMON"),
            Just("1 vCPU"),
            Just("2 GB"),
            Just("HEALTHY")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    "[a-z]{1,10}".prop_map(String::from),
                    Just("containerDefinitions".to_string()),
                    Just("name".to_string()),
                    Just("image".to_string()),
                    Just("dependsOn".to_string()),
                    Just("portMappings".to_string()),
                    Just("healthCheck".to_string()),
                    Just("volumes".to_string()),
                    Just("memory".to_string()),
                    Just("cpu".to_string()),
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

pub fn fixtures() -> Vec<Value> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/render");
    manifest::read_documents(dir)
        .unwrap()
        .into_iter()
        .map(|d| d.value)
        .collect()
}

/// Set the value at a path of object keys/array indices chosen by `choices`.
pub fn mutate(value: &mut Value, choices: &[usize], new: Value) {
    let Some((&c, rest)) = choices.split_first() else {
        *value = new;
        return;
    };
    match value {
        Value::Object(m) if !m.is_empty() => {
            let k = m.keys().nth(c % m.len()).cloned().unwrap();
            mutate(m.get_mut(&k).unwrap(), rest, new);
        }
        Value::Array(a) if !a.is_empty() => {
            let n = a.len();
            mutate(&mut a[c % n], rest, new);
        }
        _ => *value = new,
    }
}

/// Values with CloudFormation intrinsics, Terraform blocks and template placeholders in them.
pub fn arb_template_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-zA-Z0-9:/_${}<>`. -]{0,24}".prop_map(Value::from),
        prop_oneof![
            Just("${VAR}"),
            Just("{{ must_env `X` }}"),
            Just("{{ env `X` `d` }}"),
            Just("<IMAGE1_NAME>"),
            Just("__X__"),
            Just("$$$X$$$"),
            Just("${AWS::Region}"),
            Just("${Res.Attr}"),
            Just("AWS::NoValue"),
            Just("service/c/s"),
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    "[a-zA-Z_]{1,10}".prop_map(String::from),
                    Just("Ref".to_string()),
                    Just("Fn::Sub".to_string()),
                    Just("Fn::GetAtt".to_string()),
                    Just("Fn::Join".to_string()),
                    Just("Fn::If".to_string()),
                    Just("Fn::Select".to_string()),
                    Just("Fn::Split".to_string()),
                    Just("Fn::FindInMap".to_string()),
                    Just("Fn::Equals".to_string()),
                    Just("Condition".to_string()),
                    Just("ContainerDefinitions".to_string()),
                    Just("container_definitions".to_string()),
                    Just("ResourceId".to_string()),
                    Just("ScalingTargetId".to_string()),
                    Just("resource_id".to_string()),
                    Just("volume".to_string()),
                    Just("network_configuration".to_string()),
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

pub fn import_fixtures() -> Vec<Value> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/import");
    let mut out = Vec::new();
    for sub in [
        "",
        "console",
        "describe",
        "ecspresso",
        "placeholders",
        "cloudformation",
        "terraform",
        "ecspresso-config",
        "ecspresso-jsonnet",
        "copilot/frontend",
        "copilot/api",
        "copilot/worker",
    ] {
        out.extend(
            source::read(&format!("{dir}/{sub}"))
                .unwrap()
                .into_iter()
                .map(|d| d.value),
        );
    }
    out
}
