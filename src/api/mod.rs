//! The custom resources (group `ecs-operator.io`, version `v1alpha1`): their specs are ECS
//! request shapes field for field, with Kubernetes-only settings under `spec.kubernetes`.
//! No I/O here: types, schema helpers and the shared status vocabulary.

// kube's repeated `printcolumn(type_ = …)` attributes are distinct columns, not duplicates.
#![allow(clippy::duplicated_attributes)]

pub mod autoscaling;
pub mod cluster;
pub mod conditions;
pub mod deployment;
pub mod ecs;
pub mod kubernetes;
pub mod service;
pub mod task;
pub mod task_definition;

pub use autoscaling::*;
pub use cluster::*;
pub use conditions::*;
pub use deployment::*;
pub use kubernetes::*;
pub use service::*;
pub use task::*;
pub use task_definition::*;

/// The API group of every kind this operator serves.
pub const GROUP: &str = "ecs-operator.io";
/// The one served and stored version.
pub const VERSION: &str = "v1alpha1";

/// Schema for a field that holds arbitrary JSON (read-only ECS output fields, patches): the API
/// server must keep whatever the user wrote there instead of pruning it.
pub(crate) fn any_json(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "nullable": true,
        "x-kubernetes-preserve-unknown-fields": true,
    })
}
