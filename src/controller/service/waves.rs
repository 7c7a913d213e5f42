//! Rollout waves of a service split over capacity providers. DeploymentConfiguration
//! (ECS API model): maximumPercent and minimumHealthyPercent bound the service's *whole*
//! desiredCount; when that budget is smaller than the number of provider workloads, the
//! translator puts them in waves (annotation [`names::ROLLOUT_WAVE`], `rollout::split`), each
//! wave within the whole budget. This step keeps a wave's Deployments on the pod template they
//! run until every Deployment of the waves before it has rolled out, so the union of the
//! workloads never leaves ECS's bounds. Pure: it reads the cached live Deployments.

use k8s_openapi::api::apps::v1::Deployment;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use super::super::cache::Caches;
use super::super::drift;
use crate::translate::names;

/// The wave of a built Deployment (0 without the annotation).
fn wave(d: &Deployment) -> usize {
    d.annotations()
        .get(names::ROLLOUT_WAVE)
        .and_then(|w| w.parse().ok())
        .unwrap_or(0)
}

/// Whether `live` runs `built`'s pod template on all its replicas, all available.
pub fn rolled_out(built: &Deployment, live: &Deployment) -> bool {
    let (Some(want), Some(spec), Some(status)) = (&built.spec, &live.spec, &live.status) else {
        return false;
    };
    let same_template = match (
        serde_json::to_value(&want.template),
        serde_json::to_value(&spec.template),
    ) {
        (Ok(w), Ok(l)) => drift::holds(&w, &l),
        _ => false,
    };
    let replicas = spec.replicas.unwrap_or(1);
    same_template
        && status.observed_generation >= live.metadata.generation
        && status.updated_replicas.unwrap_or(0) == replicas
        && status.available_replicas.unwrap_or(0) == replicas
        && status.replicas.unwrap_or(0) == replicas
}

/// Hold the Deployments of waves whose predecessors have not rolled out on their live pod
/// template. Returns the names of the held Deployments.
pub fn sequence(
    deployments: &mut [Deployment],
    live: impl Fn(&str) -> Option<Deployment>,
) -> Vec<String> {
    let mut held = Vec::new();
    let last = deployments.iter().map(wave).max().unwrap_or(0);
    for w in 1..=last {
        let before_done = deployments.iter().filter(|d| wave(d) < w).all(|d| {
            !held.contains(&d.name_any()) && live(&d.name_any()).is_some_and(|l| rolled_out(d, &l))
        });
        if before_done {
            continue;
        }
        for d in deployments.iter_mut().filter(|d| wave(d) == w) {
            let Some(l) = live(&d.name_any()) else {
                continue;
            };
            if let (Some(spec), Some(live_spec)) = (d.spec.as_mut(), l.spec) {
                spec.template = live_spec.template;
                held.push(d.name_any());
            }
        }
    }
    held
}

/// [`sequence`] over the cached live Deployments of namespace `ns`.
pub fn hold(caches: &Caches, ns: &str, deployments: &mut [Deployment]) -> Vec<String> {
    sequence(deployments, |name| {
        caches
            .deployments
            .store
            .get(&ObjectRef::new(name).within(ns))
            .map(|d| (*d).clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn built(name: &str, wave: usize, image: &str) -> Deployment {
        let mut ann = serde_json::Map::new();
        if wave > 0 {
            ann.insert(names::ROLLOUT_WAVE.into(), json!(wave.to_string()));
        }
        serde_json::from_value(json!({
            "metadata": {"name": name, "annotations": ann},
            "spec": {"replicas": 1, "selector": {}, "template": {"spec": {"containers": [{"name": "app", "image": image}]}}}
        }))
        .unwrap()
    }

    fn live(name: &str, image: &str, available: i32) -> Deployment {
        let mut d = built(name, 0, image);
        d.metadata.generation = Some(2);
        d.status = serde_json::from_value(json!({"observedGeneration": 2, "replicas": 1,
            "updatedReplicas": 1, "availableReplicas": available}))
        .unwrap();
        d
    }

    fn image(d: &Deployment) -> String {
        d.spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap()
            .containers[0]
            .image
            .clone()
            .unwrap()
    }

    /// DeploymentConfiguration (ECS API model): the bounds are of the whole desiredCount, so a
    /// wave waits for the waves before it (`rollout::split` made the waves).
    #[test]
    fn a_wave_keeps_its_live_template_until_the_waves_before_it_rolled_out() {
        let lives = |od: Deployment, spot: Deployment| {
            move |n: &str| match n {
                "web-on-demand" => Some(od.clone()),
                "web-spot" => Some(spot.clone()),
                _ => None,
            }
        };
        let mut ds = vec![built("web-on-demand", 0, "v2"), built("web-spot", 1, "v2")];
        // Wave 0 still runs v1: wave 1 stays on v1.
        let held = sequence(
            &mut ds,
            lives(live("web-on-demand", "v1", 1), live("web-spot", "v1", 1)),
        );
        assert_eq!(held, vec!["web-spot"]);
        assert_eq!((image(&ds[0]), image(&ds[1])), ("v2".into(), "v1".into()));
        // Wave 0 on v2 but not available yet: still held.
        let mut ds = vec![built("web-on-demand", 0, "v2"), built("web-spot", 1, "v2")];
        let held = sequence(
            &mut ds,
            lives(live("web-on-demand", "v2", 0), live("web-spot", "v1", 1)),
        );
        assert_eq!(held, vec!["web-spot"]);
        // Wave 0 rolled out: wave 1 goes.
        let mut ds = vec![built("web-on-demand", 0, "v2"), built("web-spot", 1, "v2")];
        let held = sequence(
            &mut ds,
            lives(live("web-on-demand", "v2", 1), live("web-spot", "v1", 1)),
        );
        assert!(held.is_empty());
        assert_eq!(image(&ds[1]), "v2");
        // A new service (no live workloads) is created whole.
        let mut ds = vec![built("web-on-demand", 0, "v2"), built("web-spot", 1, "v2")];
        assert!(sequence(&mut ds, |_| None).is_empty());
    }
}
