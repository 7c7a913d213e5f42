//! The ECS API shapes, generated from the ECS API model (see `scripts/gen-ecs-api.py`), and the
//! model's shape tree as data.

mod generated;
pub mod model;

pub use generated::*;
