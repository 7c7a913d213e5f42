//! `ecs-operator deployment continue|stop SERVICE`: ECS's `ContinueServiceDeployment` and
//! `StopServiceDeployment` (stopType ROLLBACK) for a BLUE_GREEN, LINEAR or CANARY deployment in
//! progress, as the annotations the operator acts on (so a GitOps repository can carry the
//! same: `ecs-operator.io/continue-deployment`, `ecs-operator.io/stop-deployment`).

use kube::api::{Api, Patch, PatchParams};
use kube::{Client, ResourceExt};

use crate::api::Service;
use crate::controller::strategy::{CONTINUE_DEPLOYMENT, STOP_DEPLOYMENT, machine};

/// What to do to the deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Continue,
    Stop,
}

/// The annotation and value for `action` on `svc`, or why there is nothing to act on. Pure.
pub fn annotation(
    svc: &Service,
    action: Action,
    hook_id: Option<&str>,
) -> Result<(&'static str, String), String> {
    let name = svc.name_any();
    let Some(d) = svc
        .status
        .as_ref()
        .and_then(|s| s.service_deployment.as_ref())
    else {
        return Err(format!(
            "service {name} has no BLUE_GREEN, LINEAR or CANARY deployment (status.serviceDeployment is empty)"
        ));
    };
    if d.status != machine::IN_PROGRESS {
        return Err(format!(
            "deployment {} of service {name} is {}, not IN_PROGRESS",
            d.id, d.status
        ));
    }
    match action {
        Action::Stop => Ok((STOP_DEPLOYMENT, d.id.clone())),
        Action::Continue => {
            let waiting: Vec<&str> = d
                .lifecycle_hook_details
                .iter()
                .filter(|h| {
                    h.lifecycle_stage == d.lifecycle_stage && h.status == machine::AWAITING_ACTION
                })
                .map(|h| h.hook_id.as_str())
                .collect();
            match hook_id {
                Some(id) if waiting.contains(&id) => Ok((CONTINUE_DEPLOYMENT, id.to_string())),
                Some(id) => Err(format!(
                    "hook {id} of deployment {} is not waiting (waiting: {waiting:?})",
                    d.id
                )),
                None if waiting.is_empty() => Err(format!(
                    "deployment {} of service {name} is at {} and waits for no PAUSE hook",
                    d.id, d.lifecycle_stage
                )),
                None => Ok((CONTINUE_DEPLOYMENT, d.id.clone())),
            }
        }
    }
}

/// Set the annotation on the Service in the cluster the kubeconfig points at.
pub async fn run(
    namespace: Option<&str>,
    service: &str,
    action: Action,
    hook_id: Option<&str>,
) -> Result<String, String> {
    let client = Client::try_default()
        .await
        .map_err(|e| format!("no cluster: {e}"))?;
    let ns = namespace
        .map(str::to_string)
        .unwrap_or_else(|| client.default_namespace().to_string());
    let api: Api<Service> = Api::namespaced(client, &ns);
    let svc = api
        .get(service)
        .await
        .map_err(|e| format!("service {ns}/{service}: {e}"))?;
    let (key, value) = annotation(&svc, action, hook_id)?;
    let patch = serde_json::json!({"metadata": {"annotations": {key: value}}});
    api.patch(service, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| format!("annotating service {ns}/{service}: {e}"))?;
    Ok(format!("service {ns}/{service}: {key}={value}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(status: serde_json::Value) -> Service {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "ecs-operator.io/v1alpha1", "kind": "Service",
            "metadata": {"name": "web"}, "spec": {"taskDefinition": "web"}, "status": status
        }))
        .unwrap()
    }

    #[test]
    fn continue_needs_a_waiting_pause_hook_and_stop_a_deployment_in_progress() {
        let d = |status: &str, hook: &str| {
            serde_json::json!({"serviceDeployment": {
                "id": "ecs-svc/1", "strategy": "BLUE_GREEN", "status": status, "lifecycleStage": "POST_SCALE_UP",
                "stageStartedAt": "", "createdAt": "", "updatedAt": "",
                "targetServiceRevision": {"taskDefinition": "web:2", "slot": "alt"},
                "lifecycleHookDetails": [{"hookId": "h1", "index": 0, "targetType": "PAUSE", "lifecycleStage": "POST_SCALE_UP",
                    "status": hook, "startedAt": "", "expiresAt": "", "timeoutAction": "ROLLBACK"}]
            }})
        };
        let waiting = svc(d("IN_PROGRESS", "AWAITING_ACTION"));
        assert_eq!(
            annotation(&waiting, Action::Continue, None),
            Ok((CONTINUE_DEPLOYMENT, "ecs-svc/1".into()))
        );
        assert_eq!(
            annotation(&waiting, Action::Continue, Some("h1")),
            Ok((CONTINUE_DEPLOYMENT, "h1".into()))
        );
        assert!(annotation(&waiting, Action::Continue, Some("h2")).is_err());
        assert_eq!(
            annotation(&waiting, Action::Stop, None),
            Ok((STOP_DEPLOYMENT, "ecs-svc/1".into()))
        );
        assert!(
            annotation(&svc(d("IN_PROGRESS", "SUCCEEDED")), Action::Continue, None)
                .unwrap_err()
                .contains("waits for no PAUSE hook")
        );
        assert!(
            annotation(&svc(d("SUCCESSFUL", "SUCCEEDED")), Action::Stop, None)
                .unwrap_err()
                .contains("not IN_PROGRESS")
        );
        assert!(annotation(&svc(serde_json::json!({})), Action::Stop, None).is_err());
    }
}
