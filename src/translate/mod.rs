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
pub mod pod_security;
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
pub mod tenancy;
pub mod volumes;
pub mod windows;
pub mod zones;

use std::collections::BTreeMap;

use crate::api::{PodSettings, TaskDefinitionSpec};

pub use diagnostics::{Diagnostic, Invalid, Report};

/// What host-level features the operator may grant to the pods it creates on behalf of whoever
/// can write its custom resources (a confused-deputy guard). Everything is refused by default.
/// The operator's flags set it; a namespace's `ecs-operator.io/allow-host-features` annotation
/// replaces it for that namespace ([`tenancy`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecurityPolicy {
    pub allow_privileged: bool,
    pub allow_host_network: bool,
    pub allow_host_pid: bool,
    pub allow_host_ipc: bool,
    pub allow_host_path: bool,
    pub allow_host_devices: bool,
    /// `linuxParameters.capabilities.add` beyond Pod Security baseline's list (e.g. NET_ADMIN,
    /// SYS_ADMIN, SYS_PTRACE).
    pub allow_capabilities: bool,
    /// Where the policy comes from: `Some(namespace)` when that namespace's annotation set it.
    pub namespace: Option<String>,
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
            allow_capabilities: true,
            namespace: None,
        }
    }

    /// The error message for a refused feature: "`what`: refused by …", naming the policy
    /// and, as the fix, the setting an administrator changes.
    pub fn refused(&self, what: &str, feature: &str) -> String {
        match &self.namespace {
            Some(ns) => format!(
                "{what}: refused by the security policy of namespace {ns} (a cluster administrator can add \"{feature}\" to its annotation {})",
                tenancy::ALLOW_HOST_FEATURES
            ),
            None => format!(
                "{what}: refused by the operator's security policy (a cluster administrator can allow them with the operator flag --allow-{}, or for one namespace with its annotation {}: \"{feature}\")",
                tenancy::flag_name(feature),
                tenancy::ALLOW_HOST_FEATURES
            ),
        }
    }
}

/// Translator settings that come from the operator's configuration, not from a resource.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub policy: SecurityPolicy,
    /// The namespace's Pod Security level (its `pod-security.kubernetes.io/enforce` label):
    /// the pods are made to pass it, or the fields that cannot are errors ([`pod_security`]).
    pub pod_security: Option<pod_security::Level>,
    /// ServiceAccounts a pod may run as, when the namespace's
    /// `ecs-operator.io/allowed-service-accounts` annotation lists them (else any of the
    /// namespace; the one made for `taskRoleArn` always).
    pub allowed_service_accounts: Option<Vec<String>>,
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
    /// [`Options::pod_security`].
    pub pod_security: Option<pod_security::Level>,
    /// [`Options::allowed_service_accounts`].
    pub allowed_service_accounts: Option<&'a [String]>,
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
            pod_security: options.pod_security,
            allowed_service_accounts: options.allowed_service_accounts.as_deref(),
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
