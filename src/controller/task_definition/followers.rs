//! Have the Services that follow the family (`spec.taskDefinition` names the family without a
//! revision) picked its latest revision up? A GitOps tool applies a new TaskDefinition and
//! reads health at once: the Service still shows its old revision steady until its next
//! reconcile, so, without this, Flux's `wait` or Argo CD would call the change healthy before
//! the rollout began. The TaskDefinition stays Ready=False ("RollingOut") until each follower's
//! status shows the revision among its deployments (or the revision failed, or the Service is
//! Stalled for its own reasons). Pure, from the caches.

use kube::ResourceExt;

use super::super::cache::Caches;
use crate::api::{STALLED, Service, TaskDefinition};
use crate::translate::refs::parse_task_definition_ref;

/// The followers of `td`'s family that have not picked up revision `number` yet.
pub fn behind(caches: &Caches, td: &TaskDefinition, number: i64) -> Vec<String> {
    let ns = td.namespace();
    let family = td.family();
    let latest = format!("{family}:{number}");
    let mut out: Vec<String> = caches
        .services
        .store
        .state()
        .iter()
        .filter(|s| s.namespace() == ns && s.metadata.deletion_timestamp.is_none())
        .filter(|s| {
            let (f, pinned) =
                parse_task_definition_ref(s.spec.task_definition.as_deref().unwrap_or_default());
            f == family && pinned.is_none()
        })
        .filter(|s| !picked_up(s, &latest))
        .map(|s| s.name_any())
        .collect();
    out.sort();
    out
}

fn picked_up(s: &Service, latest: &str) -> bool {
    let Some(st) = &s.status else { return false };
    st.deployments.iter().any(|d| d.task_definition == latest)
        || st.failed_task_definition.as_deref() == Some(latest)
        || st.service_deployment.as_ref().is_some_and(|d| {
            d.target_service_revision.task_definition == latest
                || d.failed_service_revision
                    .as_ref()
                    .is_some_and(|f| f.task_definition == latest)
        })
        || st
            .conditions
            .iter()
            .any(|c| c.type_ == STALLED && c.is_true())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Condition, ServiceDeployment, ServiceStatus};

    fn svc(status: Option<ServiceStatus>) -> Service {
        let mut s: Service = serde_json::from_value(serde_json::json!({
            "apiVersion": "ecs-operator.io/v1alpha1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "n"}, "spec": {"taskDefinition": "web"}
        }))
        .unwrap();
        s.status = status;
        s
    }

    /// A follower has picked the revision up once it is one of its deployments (rolling, done
    /// or failed), or when the Service is stalled for its own reasons; not before its first
    /// status.
    #[test]
    fn a_follower_picks_the_revision_up_once_its_status_shows_it() {
        assert!(!picked_up(&svc(None), "web:2"));
        let deploying = |td: &str| ServiceStatus {
            deployments: vec![ServiceDeployment {
                task_definition: td.into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert!(!picked_up(&svc(Some(deploying("web:1"))), "web:2"));
        assert!(picked_up(&svc(Some(deploying("web:2"))), "web:2"));
        let stalled = ServiceStatus {
            conditions: vec![Condition::new(STALLED, true, "InvalidSpec", "x")],
            ..deploying("web:1")
        };
        assert!(picked_up(&svc(Some(stalled)), "web:2"));
    }
}
