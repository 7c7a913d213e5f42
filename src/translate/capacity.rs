//! Capacity providers as node pools: a strategy's providers each get a workload of their own,
//! with replicas split by ECS's rule (the base first, the rest by weight), and each pool's
//! node selector, tolerations and runtime class.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PodSpec, Toleration};

use crate::api::ecs::CapacityProviderStrategyItem;
use crate::api::{ClusterSpec, NodePool};

use super::diagnostics::Report;
use super::names::{self, label_value};

/// One provider's share of a service.
#[derive(Clone, Debug, PartialEq)]
pub struct Share {
    pub provider: String,
    pub replicas: i32,
}

/// Split `desired` tasks over `strategy`: each provider's `base` first (in order), then the
/// remainder in proportion to `weight`, leftover tasks to the largest fractional shares.
pub fn split(
    desired: i32,
    strategy: &[CapacityProviderStrategyItem],
    base_path: &str,
    report: &mut Report,
) -> Vec<Share> {
    let mut shares: Vec<Share> = Vec::new();
    let mut remaining = desired.max(0);
    let mut bases = 0;
    for (i, item) in strategy.iter().enumerate() {
        let path = format!("{base_path}[{i}]");
        let Some(provider) = item.capacity_provider.clone().filter(|p| !p.is_empty()) else {
            report.error(format!("{path}.capacityProvider"), "is required", None);
            continue;
        };
        if shares.iter().any(|s| s.provider == provider) {
            report.error(
                format!("{path}.capacityProvider"),
                format!("'{provider}' is listed twice"),
                None,
            );
            continue;
        }
        let base = item.base.unwrap_or(0);
        if !(0..=100_000).contains(&base) {
            report.error(format!("{path}.base"), "must be 0 to 100000", None);
        }
        if base > 0 {
            bases += 1;
            if bases > 1 {
                report.error(
                    format!("{path}.base"),
                    "only one capacity provider in a strategy can have a base",
                    None,
                );
            }
        }
        if !(0..=1000).contains(&item.weight.unwrap_or(0)) {
            report.error(format!("{path}.weight"), "must be 0 to 1000", None);
        }
        let from_base = base.clamp(0, remaining);
        remaining -= from_base;
        shares.push(Share {
            provider,
            replicas: from_base,
        });
    }
    let weights: Vec<i64> = strategy
        .iter()
        .take(shares.len())
        .map(|s| i64::from(s.weight.unwrap_or(0).max(0)))
        .collect();
    let total: i64 = weights.iter().sum();
    if remaining > 0 {
        if total == 0 {
            report.error(
                base_path,
                "no capacity provider has a weight, so tasks beyond the base have nowhere to go",
                Some("give at least one provider a weight above 0".to_string()),
            );
            return shares;
        }
        let r = i64::from(remaining);
        let mut fractions: Vec<(i64, usize)> = Vec::new();
        let mut given = 0;
        for (i, w) in weights.iter().enumerate() {
            let exact = r * w;
            shares[i].replicas += (exact / total) as i32;
            given += exact / total;
            fractions.push((exact % total, i));
        }
        fractions.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for (_, i) in fractions.into_iter().take((r - given) as usize) {
            shares[i].replicas += 1;
        }
    }
    shares
}

/// The node pool of a capacity provider: the Cluster's definition, else the label convention
/// (`ecs-operator.io/capacity-provider=<name>` and a toleration of that taint); plain FARGATE
/// without a definition places anywhere.
pub fn node_pool(provider: &str, cluster: Option<&ClusterSpec>) -> NodePool {
    if let Some(pool) = cluster
        .and_then(|c| c.kubernetes.as_ref())
        .and_then(|k| k.capacity_providers.get(provider))
    {
        return pool.clone();
    }
    if provider == "FARGATE" {
        return NodePool::default();
    }
    let value = label_value(provider);
    NodePool {
        node_selector: BTreeMap::from([(names::CAPACITY_PROVIDER.to_string(), value.clone())]),
        tolerations: vec![crate::api::Toleration {
            key: Some(names::CAPACITY_PROVIDER.to_string()),
            operator: Some("Equal".into()),
            value: Some(value),
            effect: Some("NoSchedule".into()),
            toleration_seconds: None,
        }],
        runtime_class_name: None,
    }
}

/// Put a node pool on a pod.
pub fn apply_pool(pool: &NodePool, pod: &mut PodSpec) {
    if !pool.node_selector.is_empty() {
        pod.node_selector
            .get_or_insert_with(BTreeMap::new)
            .extend(pool.node_selector.clone());
    }
    if !pool.tolerations.is_empty() {
        pod.tolerations
            .get_or_insert_with(Vec::new)
            .extend(pool.tolerations.iter().map(|t| Toleration {
                key: t.key.clone(),
                operator: t.operator.clone(),
                value: t.value.clone(),
                effect: t.effect.clone(),
                toleration_seconds: t.toleration_seconds,
            }));
    }
    if pool.runtime_class_name.is_some() {
        pod.runtime_class_name = pool.runtime_class_name.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(p: &str, base: i32, weight: i32) -> CapacityProviderStrategyItem {
        CapacityProviderStrategyItem {
            capacity_provider: Some(p.into()),
            base: Some(base),
            weight: Some(weight),
        }
    }

    fn counts(desired: i32, s: &[CapacityProviderStrategyItem]) -> Vec<i32> {
        let mut r = Report::default();
        let shares = split(desired, s, "x", &mut r);
        assert!(r.is_ok(), "{:?}", r.errors);
        shares.iter().map(|s| s.replicas).collect()
    }

    #[test]
    fn base_then_weight() {
        assert_eq!(
            counts(10, &[item("FARGATE", 2, 1), item("FARGATE_SPOT", 0, 3)]),
            vec![4, 6]
        );
        assert_eq!(counts(1, &[item("a", 2, 1), item("b", 0, 1)]), vec![1, 0]);
        assert_eq!(counts(5, &[item("a", 0, 1), item("b", 0, 1)]), vec![3, 2]);
        assert_eq!(counts(0, &[item("a", 0, 1)]), vec![0]);
    }

    #[test]
    fn invalid_strategies_are_errors() {
        let mut r = Report::default();
        split(
            3,
            &[item("a", 1, 0), item("b", 1, 0)],
            "spec.capacityProviderStrategy",
            &mut r,
        );
        assert!(
            r.errors
                .iter()
                .any(|e| e.path == "spec.capacityProviderStrategy[1].base")
        );
        assert!(r.errors.iter().any(|e| e.message.contains("weight")));
    }

    #[test]
    fn pools_follow_the_label_convention() {
        let pool = node_pool("spot", None);
        assert_eq!(
            pool.node_selector
                .get(names::CAPACITY_PROVIDER)
                .map(String::as_str),
            Some("spot")
        );
        assert_eq!(pool.tolerations.len(), 1);
        assert_eq!(node_pool("FARGATE", None), NodePool::default());
    }
}
