//! ECS deployment arithmetic: `maximumPercent` / `minimumHealthyPercent` to rolling-update
//! surge and unavailability (max rounds down, min-healthy rounds up), and the circuit
//! breaker's failure threshold.

use crate::api::ecs::{ThresholdConfiguration, ThresholdType};

/// ECS defaults for a REPLICA service.
pub const DEFAULT_MAX_PERCENT: i32 = 200;
/// ECS default minimum healthy percent.
pub const DEFAULT_MIN_HEALTHY_PERCENT: i32 = 100;

/// Surge and unavailability for `desired` tasks, in tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rolling {
    pub max_surge: i32,
    pub max_unavailable: i32,
}

/// ECS: at most floor(desired × max / 100) tasks in total, at least ceil(desired × min / 100)
/// healthy. Returns `None` when neither a surge nor a stop is possible (the rollout could never move).
pub fn rolling(desired: i32, max_percent: i32, min_healthy_percent: i32) -> Option<Rolling> {
    let desired = i64::from(desired.max(0));
    let max_total = desired * i64::from(max_percent) / 100;
    let min_healthy = (desired * i64::from(min_healthy_percent) + 99) / 100;
    let mut r = Rolling {
        max_surge: (max_total - desired).max(0) as i32,
        max_unavailable: (desired - min_healthy).max(0) as i32,
    };
    if desired == 0 {
        // Nothing to roll, but Kubernetes refuses a strategy with both at zero.
        r.max_surge = 1;
    }
    (desired == 0 || r.max_surge > 0 || r.max_unavailable > 0).then_some(r)
}

/// The number of failed tasks at which the circuit breaker fails a deployment.
/// Default (BOUNDED_PERCENT 50): ceil(0.5 × desired) clamped to [3, 200].
pub fn failure_threshold(desired: i32, config: Option<&ThresholdConfiguration>) -> i32 {
    let kind = config
        .and_then(|c| c.r#type)
        .unwrap_or(ThresholdType::BoundedPercent);
    let value = config.and_then(|c| c.value);
    let percent = |p: i32| (i64::from(desired.max(0)) * i64::from(p) + 99) / 100;
    match kind {
        ThresholdType::BoundedPercent => percent(value.unwrap_or(50)).clamp(3, 200) as i32,
        ThresholdType::UnboundedPercent => percent(value.unwrap_or(50)).max(1) as i32,
        ThresholdType::Count => value.unwrap_or(3).max(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecs_rounding_table() {
        // (desired, max, min) -> (surge, unavailable)
        for (d, max, min, surge, unav) in [
            (4, 200, 100, 4, 0),
            (4, 150, 50, 2, 2),
            (3, 150, 50, 1, 1), // floor(4.5)=4 → +1; ceil(1.5)=2 → 1
            (1, 200, 100, 1, 0),
            (10, 125, 75, 2, 2), // floor(12.5)=12; ceil(7.5)=8
            (5, 100, 80, 0, 1),
        ] {
            assert_eq!(
                rolling(d, max, min),
                Some(Rolling {
                    max_surge: surge,
                    max_unavailable: unav
                }),
                "{d} {max} {min}"
            );
        }
    }

    #[test]
    fn both_zero_is_refused() {
        assert_eq!(rolling(1, 100, 100), None);
        assert_eq!(rolling(3, 120, 100), None); // floor(3.6)=3: no surge
        assert_eq!(
            rolling(0, 100, 100),
            Some(Rolling {
                max_surge: 1,
                max_unavailable: 0
            })
        );
    }

    #[test]
    fn circuit_breaker_thresholds() {
        assert_eq!(failure_threshold(1, None), 3);
        assert_eq!(failure_threshold(10, None), 5);
        assert_eq!(failure_threshold(1000, None), 200);
        let count = ThresholdConfiguration {
            r#type: Some(ThresholdType::Count),
            value: Some(7),
        };
        assert_eq!(failure_threshold(100, Some(&count)), 7);
        let unbounded = ThresholdConfiguration {
            r#type: Some(ThresholdType::UnboundedPercent),
            value: Some(10),
        };
        assert_eq!(failure_threshold(2, Some(&unbounded)), 1);
    }
}
