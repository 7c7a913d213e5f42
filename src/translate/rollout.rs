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

/// DeploymentConfiguration.maximumPercent (ECS API model): at most floor(desired × max / 100)
/// tasks running or pending.
pub fn max_tasks(desired: i32, max_percent: i32) -> i32 {
    (i64::from(desired.max(0)) * i64::from(max_percent.max(0)) / 100) as i32
}

/// DeploymentConfiguration.minimumHealthyPercent (ECS API model): at least
/// ceil(desired × min / 100) tasks healthy.
pub fn min_healthy_tasks(desired: i32, min_healthy_percent: i32) -> i32 {
    ((i64::from(desired.max(0)) * i64::from(min_healthy_percent.max(0)) + 99) / 100) as i32
}

/// One capacity-provider workload's rolling bounds, and the wave it rolls in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShareRolling {
    pub rolling: Rolling,
    /// Workloads of wave k roll once every workload of waves < k has rolled out.
    pub wave: usize,
}

/// Rolling bounds for a service split over capacity providers (`shares` = each workload's
/// replicas). DeploymentConfiguration (ECS API model): maximumPercent and
/// minimumHealthyPercent are percentages "of the desiredCount" — the service's whole count,
/// not each provider's share. So the surge budget floor(D × max / 100) − D and the
/// unavailability budget D − ceil(D × min / 100) are shared out over the workloads (in
/// proportion to their replicas), and when there are fewer budget units than workloads, the
/// workloads roll in waves, each wave within the whole budget. `None` when the budget is zero
/// (nothing could ever move), as [`rolling`].
pub fn split(
    shares: &[i32],
    max_percent: i32,
    min_healthy_percent: i32,
) -> Option<Vec<ShareRolling>> {
    let desired: i32 = shares.iter().map(|s| s.max(&0)).sum();
    let whole = rolling(desired, max_percent, min_healthy_percent)?;
    let idle = ShareRolling {
        // A Deployment refuses both bounds at zero; with no replicas a surge of 1 creates nothing.
        rolling: Rolling {
            max_surge: 1,
            max_unavailable: 0,
        },
        wave: 0,
    };
    let mut out = vec![idle; shares.len()];
    let busy: Vec<usize> = (0..shares.len()).filter(|&i| shares[i] > 0).collect();
    let units = (whole.max_surge + whole.max_unavailable).max(1) as usize;
    for (wave, chunk) in busy.chunks(units.min(busy.len().max(1))).enumerate() {
        let replicas: Vec<i32> = chunk.iter().map(|&i| shares[i]).collect();
        let surge = apportion(whole.max_surge, &replicas);
        let unavailable = apportion(whole.max_unavailable, &replicas);
        let mut bounds: Vec<Rolling> = surge
            .into_iter()
            .zip(unavailable)
            .map(|(s, u)| Rolling {
                max_surge: s,
                max_unavailable: u,
            })
            .collect();
        ensure_each_moves(&mut bounds);
        for (&i, rolling) in chunk.iter().zip(bounds) {
            out[i] = ShareRolling { rolling, wave };
        }
    }
    Some(out)
}

/// Share `budget` out in proportion to `weights` (largest remainder, ties to the first), no
/// share above its own weight (a Deployment cannot use more surge or unavailability than its
/// replicas).
fn apportion(budget: i32, weights: &[i32]) -> Vec<i32> {
    let total: i64 = weights.iter().map(|&w| i64::from(w)).sum();
    if total == 0 {
        return vec![0; weights.len()];
    }
    let budget = i64::from(budget).min(total);
    let mut given: Vec<i64> = weights
        .iter()
        .map(|&w| budget * i64::from(w) / total)
        .collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(budget * i64::from(weights[i]) % total), i));
    let mut left = budget - given.iter().sum::<i64>();
    // budget ≤ total, so the caps always leave room for what is left.
    while left > 0 {
        for &i in &order {
            if left > 0 && given[i] < i64::from(weights[i]) {
                given[i] += 1;
                left -= 1;
            }
        }
    }
    given.into_iter().map(|g| g as i32).collect()
}

/// Every workload of a wave needs a surge or an unavailable task to progress: move one unit
/// from the workload with the most (a wave never has more workloads than units).
fn ensure_each_moves(bounds: &mut [Rolling]) {
    while let Some(stuck) = bounds
        .iter()
        .position(|b| b.max_surge + b.max_unavailable == 0)
    {
        let Some(donor) = (0..bounds.len())
            .filter(|&i| bounds[i].max_surge + bounds[i].max_unavailable >= 2)
            .max_by_key(|&i| {
                (
                    bounds[i].max_surge + bounds[i].max_unavailable,
                    std::cmp::Reverse(i),
                )
            })
        else {
            return;
        };
        if bounds[donor].max_surge > 0 {
            bounds[donor].max_surge -= 1;
            bounds[stuck].max_surge = 1;
        } else {
            bounds[donor].max_unavailable -= 1;
            bounds[stuck].max_unavailable = 1;
        }
    }
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

    /// DeploymentConfiguration (ECS API model): the bounds apply to the whole desiredCount.
    /// For each (shares, max, min): every wave keeps the union of the workloads within
    /// floor(D × max / 100) tasks and ceil(D × min / 100) healthy, and every workload moves.
    #[test]
    fn split_bounds_hold_for_the_whole_service() {
        for (shares, max, min, waves) in [
            (vec![1, 1], 100, 50, 2), // the case: 2 tasks, 1:1, max 100 %, min 50 %
            (vec![5, 5], 200, 100, 1),
            (vec![4, 6], 150, 50, 1),
            (vec![2, 0, 1], 100, 50, 2),
            (vec![3, 3, 3], 100, 80, 3), // one unavailable task for the whole service
            (vec![3, 3, 3], 110, 90, 0), // floor(9.9)=9, ceil(8.1)=9: nothing can move (refused)
            (vec![10, 1], 120, 100, 1),
            (vec![1, 1, 1, 1], 125, 100, 4),
            (vec![7, 3], 100, 75, 1),
            (vec![0, 0], 100, 100, 1),
        ] {
            let desired: i32 = shares.iter().sum();
            let Some(plan) = split(&shares, max, min) else {
                assert_eq!(rolling(desired, max, min), None, "{shares:?} {max} {min}");
                continue;
            };
            let max_total = desired * max / 100;
            let min_healthy = (desired * min + 99) / 100;
            let last = plan.iter().map(|p| p.wave).max().unwrap_or(0);
            assert_eq!(last + 1, waves, "{shares:?} {max} {min}: {plan:?}");
            for wave in 0..=last {
                let rolling: Vec<(i32, Rolling)> = shares
                    .iter()
                    .zip(&plan)
                    .filter(|(r, p)| **r > 0 && p.wave == wave)
                    .map(|(r, p)| (*r, p.rolling))
                    .collect();
                let surge: i32 = rolling.iter().map(|(_, r)| r.max_surge).sum();
                let unavailable: i32 = rolling.iter().map(|(_, r)| r.max_unavailable).sum();
                assert!(
                    desired + surge <= max_total.max(desired),
                    "{shares:?} wave {wave}: {plan:?}"
                );
                assert!(
                    desired - unavailable >= min_healthy,
                    "{shares:?} wave {wave}: {plan:?}"
                );
                for (replicas, r) in &rolling {
                    assert!(r.max_surge + r.max_unavailable > 0, "{shares:?}: {plan:?}");
                    assert!(r.max_surge <= *replicas && r.max_unavailable <= *replicas);
                }
            }
        }
        assert_eq!(split(&[3, 3, 3], 100, 100), None);
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
