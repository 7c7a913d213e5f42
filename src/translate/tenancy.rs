//! Tenancy: whoever can write a TaskDefinition or Service in a namespace makes the operator
//! create pods there, so what those pods may do is the cluster administrator's choice, per
//! namespace. The namespace's metadata (which tenants with namespace rights cannot edit) says
//! it:
//! - annotation `ecs-operator.io/allow-host-features`: the host-level features its pods may use,
//!   a comma-separated list of `privileged`, `hostNetwork`, `hostPID`, `hostIPC`, `hostPath`,
//!   `devices`, `capabilities`, or `*` (all) or `none`; it replaces the operator's flags there;
//! - annotation `ecs-operator.io/allowed-service-accounts`: the ServiceAccounts its pods may run
//!   as (`spec.kubernetes.serviceAccountName`), comma-separated;
//! - label `pod-security.kubernetes.io/enforce` (Kubernetes Pod Security admission): the pods
//!   are made to pass that level ([`super::pod_security`]).
//!
//! Pure: the controllers pass the namespace's labels and annotations from their cache.

use std::collections::BTreeMap;

use super::pod_security::Level;
use super::{Options, SecurityPolicy};

pub const ALLOW_HOST_FEATURES: &str = "ecs-operator.io/allow-host-features";
pub const ALLOWED_SERVICE_ACCOUNTS: &str = "ecs-operator.io/allowed-service-accounts";
pub const POD_SECURITY_ENFORCE: &str = "pod-security.kubernetes.io/enforce";

/// The features of [`ALLOW_HOST_FEATURES`], in order.
pub const FEATURES: [&str; 7] = [
    "privileged",
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "hostPath",
    "devices",
    "capabilities",
];

/// The operator flag (`--allow-…`) of a feature.
pub fn flag_name(feature: &str) -> &'static str {
    match feature {
        "privileged" => "privileged",
        "hostNetwork" => "host-network",
        "hostPID" => "host-pid",
        "hostIPC" => "host-ipc",
        "hostPath" => "host-path",
        "devices" => "host-devices",
        _ => "capabilities",
    }
}

/// The policy an [`ALLOW_HOST_FEATURES`] value sets, and the words it did not understand.
pub fn parse_features(value: &str, namespace: &str) -> (SecurityPolicy, Vec<String>) {
    let mut p = SecurityPolicy {
        namespace: Some(namespace.to_string()),
        ..SecurityPolicy::default()
    };
    let mut unknown = Vec::new();
    for word in value.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        match word {
            "*" => {
                p = SecurityPolicy {
                    namespace: Some(namespace.to_string()),
                    ..SecurityPolicy::permissive()
                }
            }
            "none" => {}
            "privileged" => p.allow_privileged = true,
            "hostNetwork" => p.allow_host_network = true,
            "hostPID" => p.allow_host_pid = true,
            "hostIPC" => p.allow_host_ipc = true,
            "hostPath" => p.allow_host_path = true,
            "devices" => p.allow_host_devices = true,
            "capabilities" => p.allow_capabilities = true,
            other => unknown.push(other.to_string()),
        }
    }
    (p, unknown)
}

/// The translator options for a namespace with these labels and annotations, and warnings
/// about the namespace's settings (an unknown feature is ignored: nothing more is allowed).
pub fn options_for(
    base: &Options,
    namespace: &str,
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) -> (Options, Vec<String>) {
    let mut o = base.clone();
    let mut warnings = Vec::new();
    if let Some(v) = annotations.get(ALLOW_HOST_FEATURES) {
        let (policy, unknown) = parse_features(v, namespace);
        o.policy = policy;
        if !unknown.is_empty() {
            warnings.push(format!(
                "namespace {namespace}: annotation {ALLOW_HOST_FEATURES} names unknown features {unknown:?}, ignored (known: {}, * or none)",
                FEATURES.join(", ")
            ));
        }
    }
    if let Some(v) = annotations.get(ALLOWED_SERVICE_ACCOUNTS) {
        o.allowed_service_accounts = Some(
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
        );
    }
    o.pod_security = match labels.get(POD_SECURITY_ENFORCE).map(String::as_str) {
        Some("restricted") => Some(Level::Restricted),
        Some("baseline") => Some(Level::Baseline),
        _ => base.pod_security,
    };
    (o, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Issue 12 item 10: the namespace annotation replaces the operator's flags there, both ways.
    #[test]
    fn the_namespace_annotation_replaces_the_operator_policy() {
        let base = Options {
            policy: SecurityPolicy::permissive(),
            ..Options::default()
        };
        let (o, w) = options_for(
            &base,
            "team-a",
            &BTreeMap::new(),
            &map(&[(ALLOW_HOST_FEATURES, "hostNetwork, capabilities,bogus")]),
        );
        assert!(o.policy.allow_host_network && o.policy.allow_capabilities);
        assert!(!o.policy.allow_privileged && !o.policy.allow_host_path);
        assert_eq!(o.policy.namespace.as_deref(), Some("team-a"));
        assert!(w[0].contains("bogus"), "{w:?}");
        let (o, _) = options_for(&base, "b", &BTreeMap::new(), &BTreeMap::new());
        assert_eq!(
            o.policy,
            SecurityPolicy::permissive(),
            "no annotation: the flags"
        );
        let (o, _) = options_for(
            &Options::default(),
            "c",
            &BTreeMap::new(),
            &map(&[(ALLOW_HOST_FEATURES, "*")]),
        );
        assert!(o.policy.allow_privileged && o.policy.allow_host_devices);
    }

    #[test]
    fn pod_security_and_service_accounts_come_from_the_namespace() {
        let (o, _) = options_for(
            &Options::default(),
            "a",
            &map(&[(POD_SECURITY_ENFORCE, "restricted")]),
            &map(&[(ALLOWED_SERVICE_ACCOUNTS, "web, worker")]),
        );
        assert_eq!(o.pod_security, Some(Level::Restricted));
        assert_eq!(
            o.allowed_service_accounts,
            Some(vec!["web".to_string(), "worker".to_string()])
        );
    }
}
