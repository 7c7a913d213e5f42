//! ECS defaults written out: describe dumps and skeletons spell out the default of members the
//! translator refuses in any other form (`disableNetworking: false`, `deploymentController:
//! {"type": "ECS"}`, `strategy: "ROLLING"`). Such a value is the same as the member absent, so
//! `import` strips it with a note; any other value still reaches the translator and is refused.
//! Defaults from the ECS API model's documentation of each member.

use serde_json::{Value, json};

use crate::api::ecs::model::{Kind as Shape, SHAPES};

use super::report::{Fate, Report, Scope, join};

/// `Shape.member` and its default, for members whose `field_fates.tsv` row is `rejected`.
fn defaults() -> [(&'static str, Value); 5] {
    [
        // ContainerDefinition.disableNetworking: "When this parameter is true, networking is off".
        ("ContainerDefinition.disableNetworking", json!(false)),
        // CreateServiceRequest.deploymentController: "If a deployment controller is not specified, the default value of ECS is used".
        (
            "CreateServiceRequest.deploymentController",
            json!({"type": "ECS"}),
        ),
        // DeploymentConfiguration.strategy: ROLLING is the default.
        ("DeploymentConfiguration.strategy", json!("ROLLING")),
        ("DeploymentConfiguration.bakeTimeInMinutes", json!(0)),
        // TaskManagedEBSVolumeTerminationPolicy.deleteOnTermination: what the operator does.
        (
            "TaskManagedEBSVolumeTerminationPolicy.deleteOnTermination",
            json!(true),
        ),
    ]
}

/// Strip written-out defaults from `v`, an object of `shape` at `rel`.
pub fn strip(shape: &str, v: &mut Value, rel: &str, scope: &Scope, report: &mut Report) {
    let Value::Object(map) = v else { return };
    let Some(members) = SHAPES.iter().find(|(s, _)| *s == shape).map(|(_, m)| *m) else {
        return;
    };
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        let path = join(rel, &key);
        let qualified = format!("{shape}.{key}");
        if let Some((_, d)) = defaults().iter().find(|(m, _)| *m == qualified)
            && map.get(&key) == Some(d)
        {
            map.shift_remove(&key);
            report.add(
                scope,
                &path,
                Fate::Stripped,
                format!("{d} is ECS's default: the same as absent"),
            );
            continue;
        }
        let kind = members.iter().find(|m| m.name == key).map(|m| m.kind);
        match (kind, map.get_mut(&key)) {
            (Some(Shape::Struct(inner)), Some(item)) => strip(inner, item, &path, scope, report),
            (Some(Shape::ListOf(inner)), Some(Value::Array(items))) => {
                for (i, item) in items.iter_mut().enumerate() {
                    strip(inner, item, &format!("{path}[{i}]"), scope, report);
                }
            }
            _ => {}
        }
    }
}
