//! The command line: a thin shell around the translator (`render`, `validate`, `import`, `crd`).

pub mod import;
pub mod manifest;
pub mod render;
