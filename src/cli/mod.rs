//! The command line: a thin shell around the translator (`render`, `validate`, `import`, `crd`)
//! and `deployment continue|stop` (annotations on a Service in the cluster); `ecs` is the library
//! of the `kubectl-ecs` plugin.

pub mod deployment;
pub mod ecs;
pub mod import;
pub mod manifest;
pub mod render;
