//! Availability Zones for replica services. Two ECS rules, both from the ECS Developer Guide:
//! - "Update Amazon ECS service parameters": with no placement strategy the service scheduler
//!   still balances tasks across Availability Zones, so a service without `placementStrategy`
//!   gets a best-effort zone spread (`topology.kubernetes.io/zone`, ScheduleAnyway), the same
//!   constraint `spread(attribute:ecs.availability-zone)` becomes.
//! - "Balancing an Amazon ECS service across Availability Zones" and
//!   `CreateServiceRequest.availabilityZoneRebalancing` (ECS API model): ENABLED by default for a
//!   new service whose first placement strategy spreads across zones (or that has none); once the
//!   service is steady, ECS moves tasks from the fullest zone to the emptiest. The translator
//!   decides whether it applies and marks the Deployment with [`names::AZ_REBALANCING`]; the
//!   Service controller does the moving (`controller::service::rebalance`). Pure.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PodSpec;

use crate::api::ServiceSpec;
use crate::api::ecs::{AvailabilityZoneRebalancing, PlacementStrategyType};

use super::diagnostics::Report;
use super::placement;

/// The node label ECS's `attribute:ecs.availability-zone` becomes.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// ECS's default zone balance for a replica service with no placement strategy.
pub fn default_spread(
    spec: &ServiceSpec,
    own: &BTreeMap<String, String>,
    pod: &mut PodSpec,
    report: &mut Report,
) {
    if spec
        .placement_strategy
        .as_deref()
        .is_some_and(|s| !s.is_empty())
    {
        return;
    }
    let zone_spread = crate::api::ecs::PlacementStrategy {
        r#type: Some(PlacementStrategyType::Spread),
        field: Some("attribute:ecs.availability-zone".into()),
    };
    placement::strategies(
        &[zone_spread],
        "spec.placementStrategy",
        own,
        None,
        pod,
        report,
    );
}

/// Whether the service rebalances across zones. `workloads` is how many Deployments it has: a
/// service split over capacity providers is not rebalanced (each share keeps its own count).
pub fn rebalancing(
    spec: &ServiceSpec,
    daemon: bool,
    workloads: usize,
    report: &mut Report,
) -> bool {
    let first_spreads_zones = match spec.placement_strategy.as_deref().unwrap_or_default() {
        [] => true,
        [first, ..] => {
            first.r#type == Some(PlacementStrategyType::Spread)
                && first.field.as_deref() == Some("attribute:ecs.availability-zone")
        }
    };
    let compatible = !daemon && workloads == 1 && first_spreads_zones;
    match spec.availability_zone_rebalancing {
        Some(AvailabilityZoneRebalancing::Disabled) => false,
        Some(AvailabilityZoneRebalancing::Enabled) if !compatible => {
            report.warn(
                "spec.availabilityZoneRebalancing",
                "ENABLED has no effect here: ECS rebalances only replica services whose first placement strategy spreads across attribute:ecs.availability-zone (or that have none), and the operator only those with one workload (not split over capacity providers)",
            );
            false
        }
        // Unset: ECS enables it for new services that are compatible (CreateServiceRequest).
        _ => compatible,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ecs::PlacementStrategy;

    fn spec(json: serde_json::Value) -> ServiceSpec {
        serde_json::from_value(json).unwrap()
    }

    /// CreateServiceRequest.availabilityZoneRebalancing (ECS API model): ENABLED by default for a
    /// new compatible service; "Balancing an Amazon ECS service across Availability Zones":
    /// services whose first strategy is not an AZ spread (binpack) are not rebalanced.
    #[test]
    fn rebalancing_defaults_follow_the_ecs_rules() {
        let mut r = Report::default();
        assert!(rebalancing(&spec(serde_json::json!({})), false, 1, &mut r));
        assert!(!rebalancing(&spec(serde_json::json!({})), true, 1, &mut r));
        assert!(!rebalancing(&spec(serde_json::json!({})), false, 2, &mut r));
        let binpack =
            serde_json::json!({"placementStrategy": [{"type": "binpack", "field": "memory"}]});
        assert!(!rebalancing(&spec(binpack.clone()), false, 1, &mut r));
        assert!(r.warnings.is_empty(), "an unset value warns of nothing");
        let mut explicit = binpack;
        explicit["availabilityZoneRebalancing"] = "ENABLED".into();
        assert!(!rebalancing(&spec(explicit), false, 1, &mut r));
        assert_eq!(r.warnings.len(), 1);
        let zone_first = serde_json::json!({"placementStrategy": [
            {"type": "spread", "field": "attribute:ecs.availability-zone"},
            {"type": "spread", "field": "instanceId"}]});
        assert!(rebalancing(&spec(zone_first), false, 1, &mut r));
        let disabled = serde_json::json!({"availabilityZoneRebalancing": "DISABLED"});
        assert!(!rebalancing(&spec(disabled), false, 1, &mut r));
    }

    /// "Update Amazon ECS service parameters" (ECS Developer Guide): with no strategy the
    /// scheduler balances across zones; a strategy of the user's replaces that default.
    #[test]
    fn a_service_without_a_strategy_spreads_across_zones() {
        let own = BTreeMap::from([("app".to_string(), "web".to_string())]);
        let mut pod = PodSpec::default();
        default_spread(
            &spec(serde_json::json!({})),
            &own,
            &mut pod,
            &mut Report::default(),
        );
        let c = &pod.topology_spread_constraints.as_ref().unwrap()[0];
        assert_eq!((c.topology_key.as_str(), c.max_skew), (ZONE_LABEL, 1));
        assert_eq!(c.when_unsatisfiable, "ScheduleAnyway");
        let mut pod = PodSpec::default();
        let s = ServiceSpec {
            placement_strategy: Some(vec![PlacementStrategy {
                r#type: Some(PlacementStrategyType::Random),
                field: None,
            }]),
            ..spec(serde_json::json!({}))
        };
        default_spread(&s, &own, &mut pod, &mut Report::default());
        assert!(pod.topology_spread_constraints.is_none());
    }
}
