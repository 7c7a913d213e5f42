//! ecs-operator: run Amazon ECS task definitions and services on Kubernetes.
//!
//! Data flows one way: [`api`] (the custom resources) → [`translate`] (pure ECS → Kubernetes,
//! with [`validate`]) → the controllers and the CLI, which are thin shells around it.

pub mod api;
pub mod cli;
pub mod controller;
pub mod crdgen;
pub mod translate;
