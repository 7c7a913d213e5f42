//! The translator: pure functions from the custom resources to Kubernetes objects, following
//! the mapping contract row by row. No I/O: the controllers and the CLI call the same code.

pub mod autoscaling;
pub mod capacity;
pub mod containers;
pub mod dependencies;
pub mod diagnostics;
pub mod eligibility;
pub mod family;
pub mod fates;
pub mod health;
pub mod names;
pub mod networking;
pub mod placement;
pub mod pod;
pub mod ports;
pub mod probes;
pub mod quantity;
pub mod query;
pub mod refs;
pub mod restart;
pub mod rollout;
pub mod secrets;
pub mod service;
pub mod strategy;
pub mod task;
pub mod task_resources;
pub mod volumes;
pub mod windows;
pub mod zones;

use std::collections::BTreeMap;

use crate::api::{PodSettings, TaskDefinitionSpec};

pub use diagnostics::{Diagnostic, Invalid, Report};

/// What host-level features the operator may grant to the pods it creates on behalf of whoever
/// can write its custom resources (a confused-deputy guard). Everything is refused by default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecurityPolicy {
    pub allow_privileged: bool,
    pub allow_host_network: bool,
    pub allow_host_pid: bool,
    pub allow_host_ipc: bool,
    pub allow_host_path: bool,
    pub allow_host_devices: bool,
}

impl SecurityPolicy {
    /// Everything allowed (for trusted single-tenant clusters).
    pub fn permissive() -> Self {
        SecurityPolicy {
            allow_privileged: true,
            allow_host_network: true,
            allow_host_pid: true,
            allow_host_ipc: true,
            allow_host_path: true,
            allow_host_devices: true,
        }
    }
}

/// Translator settings that come from the operator's configuration, not from a resource.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub policy: SecurityPolicy,
    /// The API server's (major, minor) version where known: below 1.34 (no pod-level
    /// resources) the task size is split over the containers. Unknown: pod-level resources.
    pub server_version: Option<(u32, u32)>,
}

/// A task definition revision resolved for translation.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskDefinitionRef {
    /// The family (ECS `family`).
    pub family: String,
    /// The revision number (the N of `family:N`).
    pub revision: i64,
    /// Namespace of the TaskDefinition object.
    pub namespace: Option<String>,
    /// The spec of that revision.
    pub spec: TaskDefinitionSpec,
}

impl TaskDefinitionRef {
    /// `family:N`.
    pub fn display(&self) -> String {
        format!("{}:{}", self.family, self.revision)
    }
}

/// What building a pod needs to know beyond the task definition itself.
#[derive(Clone, Debug)]
pub struct Context<'a> {
    pub policy: &'a SecurityPolicy,
    /// Labels every object of this family carries.
    pub labels: BTreeMap<String, String>,
    pub pod_settings: Option<&'a PodSettings>,
    /// The service's `healthCheckGracePeriodSeconds`.
    pub grace_seconds: i32,
    /// Sizes (GiB) of `configuredAtLaunch` volumes, from the service's or task's volumeConfigurations.
    pub launch_volumes: BTreeMap<String, i32>,
    /// A standalone Task (RunTask), not a Service's: ECS never stops or replaces it for its
    /// health (HealthCheck, ECS API model), so its pods get no liveness probes.
    pub standalone_task: bool,
    /// runtimePlatform.operatingSystemFamily is a Windows Server family: pods for Windows nodes.
    pub windows: bool,
    /// The server's version ([`Options::server_version`]).
    pub server_version: Option<(u32, u32)>,
}

impl<'a> Context<'a> {
    /// A context for `td` under `options`.
    pub fn new(td: &'a TaskDefinitionRef, options: &'a Options) -> Self {
        Context {
            policy: &options.policy,
            labels: names::base_labels(&td.family),
            pod_settings: td.spec.kubernetes.as_ref(),
            grace_seconds: 0,
            launch_volumes: BTreeMap::new(),
            standalone_task: false,
            windows: windows::is_windows(&td.spec),
            server_version: options.server_version,
        }
    }

    /// The extended resource GPUs are requested as.
    pub fn gpu_resource_name(&self) -> &str {
        self.pod_settings
            .and_then(|s| s.gpu_resource_name.as_deref())
            .unwrap_or("nvidia.com/gpu")
    }

    /// The size given at launch for a `configuredAtLaunch` volume.
    pub fn launch_volume_size(&self, name: &str) -> Option<i32> {
        self.launch_volumes.get(name).copied()
    }
}
