//! The service verbs: `describe-services`, `list-services`, `update-service`
//! (`--desired-count`, `--task-definition`, `--force-new-deployment`),
//! `continue-service-deployment` and `stop-service-deployment` (the annotations of
//! [`crate::cli::deployment`]). Services are found by ECS service name (`spec.serviceName`, else
//! the resource name) in the target cluster. A Service the typed structs cannot read is left out
//! of the others with a warning ([`super::tolerant`]); asked for by name, it is a failure.

use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use super::paging::{self, Paging};
use super::tolerant::{self, Unreadable};
use super::{FIELD_MANAGER, Response, Target, api_error, arn, now, shapes, table};
use crate::api::Service;
use crate::cli::deployment::{Action, annotation};
use crate::controller::service::build::FORCE_NEW_DEPLOYMENT;
use crate::translate::refs::parse_task_definition_ref;

fn api(t: &Target) -> Api<Service> {
    Api::namespaced(t.client.clone(), &t.namespace)
}

/// The Services of the target cluster, by ECS service name, and the Services of the namespace
/// that cannot be read (their cluster unknown).
pub async fn in_cluster(t: &Target) -> Result<(Vec<Service>, Vec<Unreadable>), String> {
    let (all, unreadable) = tolerant::list::<Service>(t, None, "services").await?;
    let mut services: Vec<Service> = all
        .into_iter()
        .filter(|s| t.in_cluster(s.spec.cluster.as_deref()))
        .collect();
    services.sort_by_key(|s| s.service_name());
    Ok((services, unreadable))
}

/// The error for a service asked for by name that cannot be read.
fn unreadable_error(service: &str, u: &Unreadable) -> String {
    format!(
        "service {service}: services/{} in namespace {} cannot be read: {}; {}",
        u.name,
        u.namespace,
        u.why,
        u.fix()
    )
}

async fn get(t: &Target, service: &str) -> Result<Service, String> {
    let name = arn::name(service);
    let (all, unreadable) = in_cluster(t).await?;
    if let Some(s) = all.into_iter().find(|s| s.service_name() == name) {
        return Ok(s);
    }
    if let Some(u) = unreadable.iter().find(|u| u.name == name) {
        return Err(unreadable_error(service, u));
    }
    Err(format!(
        "ServiceNotFoundException: service {service} not found in cluster {} (namespace {})",
        t.cluster, t.namespace
    ))
}

/// describe-services: `{"services": [...], "failures": [...]}`, a missing service a failure
/// with reason MISSING (as ECS answers); one that cannot be read a failure with reason
/// `Undecodable` and what is wrong as its detail, and a nonzero exit.
pub async fn describe(
    t: &Target,
    names: &[String],
    include_tags: bool,
) -> Result<Response, String> {
    let (all, unreadable) = in_cluster(t).await?;
    let mut services = Vec::new();
    let mut failures = Vec::new();
    let mut failed = false;
    for n in names {
        let name = arn::name(n);
        let failure_arn = arn::service(&t.namespace, &t.cluster, name);
        match all.iter().find(|s| s.service_name() == name) {
            Some(s) => services.push(shapes::service(s, &t.namespace, include_tags)),
            None => match unreadable.iter().find(|u| u.name == name) {
                Some(u) => {
                    failed = true;
                    failures.push(shapes::failure_with_detail(
                        &failure_arn,
                        crate::controller::poison::REASON,
                        &unreadable_error(n, u),
                    ));
                }
                None => failures.push(shapes::failure(&failure_arn, "MISSING")),
            },
        }
    }
    let mut r = Response::new(
        json!({"services": services, "failures": failures}),
        table::services(&services, now()),
    );
    r.notes = table::failures(&failures);
    r.warnings = tolerant::warnings(&unreadable);
    r.failed = failed;
    Ok(r)
}

/// list-services: `{"serviceArns": [...]}` in service name order, paged ([`paging`]).
pub async fn list(t: &Target, paging: &Paging) -> Result<Response, String> {
    let (all, unreadable) = in_cluster(t).await?;
    let keyed: Vec<(String, Value)> = all
        .iter()
        .map(|s| {
            let name = s.service_name();
            let arn = json!(arn::service(&t.namespace, &t.cluster, &name));
            (name, arn)
        })
        .collect();
    let (arns, token) = paging::page(keyed, paging, false, paging::Verb::ListServices);
    let table = table::arns(&arns);
    let mut r = Response::new(paging::answer("serviceArns", arns, token, paging), table);
    r.warnings = tolerant::warnings(&unreadable);
    Ok(r)
}

/// What update-service changes.
#[derive(Clone, Debug, Default)]
pub struct Update {
    pub desired_count: Option<i32>,
    pub task_definition: Option<String>,
    pub force_new_deployment: bool,
}

/// The merge patch for an update (pure): `spec.desiredCount`, `spec.taskDefinition` (as
/// `family` or `family:N`, an ARN read back to that) and a new
/// `ecs-operator.io/force-new-deployment` value.
pub fn update_patch(u: &Update, token: &str) -> Value {
    let mut patch = json!({});
    if let Some(n) = u.desired_count {
        patch["spec"]["desiredCount"] = json!(n);
    }
    if let Some(td) = &u.task_definition {
        let reference = match parse_task_definition_ref(td) {
            (family, Some(n)) => format!("{family}:{n}"),
            (family, None) => family,
        };
        patch["spec"]["taskDefinition"] = json!(reference);
    }
    if u.force_new_deployment {
        patch["metadata"]["annotations"][FORCE_NEW_DEPLOYMENT] = json!(token);
    }
    patch
}

/// update-service: `{"service": {...}}` as the Service reads after the change (its status
/// follows as the operator acts).
pub async fn update(t: &Target, service: &str, u: &Update) -> Result<Response, String> {
    if u.desired_count.is_some_and(|n| n < 0) {
        return Err("--desired-count must be 0 or more".into());
    }
    let svc = get(t, service).await?;
    let name = svc.name_any();
    let token = now().to_string();
    let patch = update_patch(u, &token);
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PatchParams::default()
    };
    let updated = if patch == json!({}) {
        svc
    } else {
        api(t)
            .patch(&name, &params, &Patch::Merge(&patch))
            .await
            .map_err(|e| api_error(&format!("updating service {}/{name}", t.namespace), e))?
    };
    let s = shapes::service(&updated, &t.namespace, false);
    let table = table::services(std::slice::from_ref(&s), now());
    Ok(Response::new(json!({"service": s}), table))
}

/// continue-service-deployment / stop-service-deployment: the annotation on the Service the
/// deployment ARN names; `{"serviceDeploymentArn": ...}`.
pub async fn deployment(
    t: &Target,
    deployment_arn: &str,
    action: Action,
    hook_id: Option<&str>,
) -> Result<Response, String> {
    let (cluster, service, id) = arn::parse_service_deployment(deployment_arn).ok_or_else(|| {
        format!(
            "--service-deployment-arn {deployment_arn}: expected arn:aws:ecs:…:service-deployment/CLUSTER/SERVICE/ID (describe-services prints it as currentServiceDeployment)"
        )
    })?;
    let t = Target {
        cluster: cluster.to_string(),
        ..t.clone()
    };
    let svc = get(&t, service).await?;
    let (key, value) = annotation(&svc, action, hook_id)?;
    let current = svc
        .status
        .as_ref()
        .and_then(|s| s.service_deployment.as_ref())
        .map(|d| d.id.clone())
        .unwrap_or_default();
    if current != id {
        return Err(format!(
            "ServiceDeploymentNotFoundException: {deployment_arn} is not the deployment in progress ({})",
            arn::service_deployment(&t.namespace, cluster, service, &current)
        ));
    }
    let name = svc.name_any();
    let patch = json!({"metadata": {"annotations": {key: value}}});
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PatchParams::default()
    };
    api(&t)
        .patch(&name, &params, &Patch::Merge(&patch))
        .await
        .map_err(|e| api_error(&format!("annotating service {}/{name}", t.namespace), e))?;
    let body = json!({"serviceDeploymentArn": deployment_arn});
    let table = table::render(
        &["SERVICE", "ANNOTATION", "VALUE"],
        &[vec![name, key.to_string(), value]],
    );
    Ok(Response::new(body, table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_patches_only_what_was_asked() {
        let u = Update {
            desired_count: Some(3),
            task_definition: Some("arn:aws:ecs:kubernetes:ns:task-definition/web:4".into()),
            force_new_deployment: true,
        };
        assert_eq!(
            update_patch(&u, "t1"),
            json!({"spec": {"desiredCount": 3, "taskDefinition": "web:4"},
                "metadata": {"annotations": {FORCE_NEW_DEPLOYMENT: "t1"}}})
        );
        assert_eq!(update_patch(&Update::default(), "t1"), json!({}));
        let only_td = Update {
            task_definition: Some("web".into()),
            ..Update::default()
        };
        assert_eq!(
            update_patch(&only_td, "t"),
            json!({"spec": {"taskDefinition": "web"}})
        );
    }
}
