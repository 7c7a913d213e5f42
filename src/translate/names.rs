//! Names and labels: deterministic, valid Kubernetes names derived from ECS names and ARNs,
//! and the labels every generated object carries.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// Label: which operator manages the object.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Value of [`MANAGED_BY`].
pub const OPERATOR: &str = "ecs-operator";
/// Label: the task definition family.
pub const FAMILY: &str = "ecs-operator.io/family";
/// Label: the task definition revision of a pod template.
pub const REVISION: &str = "ecs-operator.io/revision";
/// Label: the ECS service a pod belongs to (the selector of its workloads).
pub const SERVICE: &str = "ecs-operator.io/service";
/// Label: the standalone task a pod belongs to.
pub const TASK: &str = "ecs-operator.io/task";
/// Label: the capacity provider of a workload split by capacityProviderStrategy.
pub const CAPACITY_PROVIDER: &str = "ecs-operator.io/capacity-provider";
/// Label: the ECS task group (`task:group` in the cluster query language).
pub const GROUP: &str = "ecs-operator.io/group";
/// Annotation on a capacity-provider Deployment: the wave it rolls out in (waves > 0 wait for
/// the lower ones to finish, so the whole service stays within ECS's deployment bounds).
pub const ROLLOUT_WAVE: &str = "ecs-operator.io/rollout-wave";
/// Annotation: names of the essential containers of a pod.
pub const ESSENTIAL: &str = "ecs-operator.io/essential-containers";
/// Annotation: the essential containers whose health check (a readiness probe) decides the
/// task's health, each as `name:seconds` with the seconds after its start before a failing check
/// makes it UNHEALTHY (`translate::probes::grace_seconds`); none means ECS's 40-second rule
/// applies (DeploymentConfiguration.minimumHealthyPercent).
pub const HEALTH_CHECKED: &str = "ecs-operator.io/health-checked-containers";

/// Annotation on a service's Deployment: ENABLED when the controller rebalances its tasks
/// across Availability Zones (`availabilityZoneRebalancing`, see `translate::zones`).
pub const AZ_REBALANCING: &str = "ecs-operator.io/availability-zone-rebalancing";

/// A DNS-1123 label (≤ 63 chars): lowercase alphanumerics and '-', starting and ending
/// alphanumeric. Too-long names keep a hash suffix so distinct inputs stay distinct.
pub fn dns_label(raw: &str) -> String {
    sanitize(raw, 63)
}

/// A DNS-1123 subdomain-safe name of at most `max` chars (no dots, so also a valid label).
pub fn sanitize(raw: &str, max: usize) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches('-').to_string();
    let base = if trimmed.is_empty() {
        "x".to_string()
    } else {
        trimmed
    };
    if base.len() <= max && base == raw {
        return base;
    }
    if base.len() <= max {
        return base;
    }
    let hash = short_hash(raw);
    let keep = max - hash.len() - 1;
    format!("{}-{hash}", base[..keep].trim_end_matches('-'))
}

/// Eight hex chars of SHA-256: stable short identities.
pub fn short_hash(input: &str) -> String {
    let digest = Sha256::digest(input.as_bytes());
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

/// Whether `value` is a valid label value (≤ 63, alphanumerics, '-', '_', '.', alnum ends).
pub fn is_label_value(value: &str) -> bool {
    value.len() <= 63
        && (value.is_empty()
            || (value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                && value.starts_with(|c: char| c.is_ascii_alphanumeric())
                && value.ends_with(|c: char| c.is_ascii_alphanumeric())))
}

/// Whether `key` is a valid label key: optional DNS subdomain prefix '/', then a name part.
pub fn is_label_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !part.starts_with('-')
                    && !part.ends_with('-')
            })
    });
    prefix_ok && !name.is_empty() && is_label_value(name)
}

/// Whether `name` is a valid port name (IANA_SVC_NAME: ≤ 15, lowercase alnum and '-', a letter).
pub fn is_port_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.chars().any(|c| c.is_ascii_lowercase())
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

/// Labels every object generated for a family carries.
pub fn base_labels(family: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY.to_string(), OPERATOR.to_string()),
        (FAMILY.to_string(), label_value(family)),
    ])
}

/// A value made into a valid label value (hash-suffixed when it had to change a lot).
pub fn label_value(raw: &str) -> String {
    if is_label_value(raw) {
        raw.to_string()
    } else {
        sanitize(raw, 63)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_labels_and_stable() {
        assert_eq!(dns_label("web"), "web");
        assert_eq!(dns_label("My_App.v2"), "my-app-v2");
        assert_eq!(dns_label("prod/db"), "prod-db");
        let long = "a".repeat(80);
        let n = dns_label(&long);
        assert_eq!(n.len(), 63);
        assert_eq!(n, dns_label(&long));
        assert_ne!(dns_label(&format!("{long}b")), n);
    }

    #[test]
    fn label_and_port_name_rules() {
        assert!(is_label_key("app.kubernetes.io/name"));
        assert!(is_label_key("team"));
        assert!(!is_label_key("com.example/"));
        assert!(!is_label_key("Bad Key"));
        assert!(is_label_value("v1.2_3"));
        assert!(!is_label_value("-x"));
        assert!(is_port_name("http"));
        assert!(is_port_name("tcp-8080"));
        assert!(!is_port_name("8080"));
        assert!(!is_port_name("web-80-tcp-long-name"));
    }
}
