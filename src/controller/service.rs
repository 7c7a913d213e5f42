//! The Service controller. Talks to the API server.
//! resolve (task definition revision, rollback target, cluster) → validate and build (the
//! translator) → apply workloads, Kubernetes Services, HPA, TargetGroupBindings and sweep the
//! stale ones → status from the pods observed ([`super::service_status`]).

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, Deployment};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Pod, Service as KubeService};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};

use super::apply::{self, Owner};
use super::revisions::{self, ResolveError};
use super::service_status::{self, Inputs, PodView};
use super::{Context, Error, events, now};
use crate::api::{Cluster, Service};
use crate::translate::names;
use crate::translate::refs::cluster_name;
use crate::translate::rollout::failure_threshold;
use crate::translate::service::{DEFAULT_ROLLOUT_DEADLINE, ServiceObjects, Workload, translate};

/// Reconcile one ECS Service.
pub async fn reconcile(svc: Arc<Service>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx.metrics.reconcile("Service");
    let ns = svc.namespace().ok_or(Error::MissingMetadata("namespace"))?;
    let name = svc.name_any();
    let api: Api<Service> = Api::namespaced(ctx.client.clone(), &ns);
    let owner = Owner::of(svc.as_ref())?;
    let prev = svc.status.clone().unwrap_or_default();
    let generation = svc.meta().generation;

    // With autoscaling and no desiredCount, the HPA has no replicas to read through the scale
    // subresource: start it at minCapacity, once (from then on the HPA owns the field).
    if let (None, Some(a)) = (svc.spec.desired_count, &svc.spec.autoscaling) {
        let start = a.min_capacity.unwrap_or(1).max(1);
        let patch = serde_json::json!({ "spec": { "desiredCount": start } });
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        ctx.metrics.write("patch", "services.ecs-operator.io");
        events::publish(
            &ctx,
            svc.as_ref(),
            false,
            "DesiredCountInitialized",
            format!("desiredCount set to minCapacity {start} for the HPA to scale"),
        )
        .await;
        return Ok(Action::await_change());
    }

    // resolve: the revision asked for, the one to run (a rollback keeps the last good one), the cluster
    let revisions_api: Api<ControllerRevision> = Api::namespaced(ctx.client.clone(), &ns);
    let reference = svc.spec.task_definition.clone().unwrap_or_default();
    let requested = match revisions::resolve(&revisions_api, &ns, &reference).await {
        Ok(r) => r,
        Err(ResolveError::Kube(e)) => return Err(e.into()),
        Err(e) => {
            return stall(
                &ctx,
                &svc,
                &api,
                "TaskDefinitionNotFound",
                &format!("spec.taskDefinition: {e}"),
            )
            .await;
        }
    };
    let rollback = svc
        .spec
        .deployment_configuration
        .as_ref()
        .and_then(|d| d.deployment_circuit_breaker.as_ref())
        .and_then(|b| b.rollback)
        .unwrap_or(false);
    let effective = match (
        &prev.failed_task_definition,
        &prev.last_completed_task_definition,
    ) {
        (Some(failed), Some(last))
            if rollback && *failed == requested.display() && last != failed =>
        {
            match revisions::resolve(&revisions_api, &ns, last).await {
                Ok(r) => r,
                Err(ResolveError::Kube(e)) => return Err(e.into()),
                Err(_) => requested.clone(),
            }
        }
        _ => requested.clone(),
    };
    let cluster = match svc.spec.cluster.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => {
            Api::<Cluster>::namespaced(ctx.client.clone(), &ns)
                .get_opt(cluster_name(c))
                .await?
        }
        None => None,
    };

    // validate + build
    let (objects, warnings) = match translate(
        &svc,
        &effective,
        cluster.as_ref().map(|c| &c.spec),
        &ctx.options,
    ) {
        Ok(built) => built,
        Err(invalid) => return stall(&ctx, &svc, &api, "InvalidSpec", &invalid.to_string()).await,
    };
    let ServiceObjects {
        workloads,
        networking,
        hpa,
        selector,
        desired_count,
    } = objects;

    // apply, then sweep what this round did not produce
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ns);
    let daemonsets: Api<DaemonSet> = Api::namespaced(ctx.client.clone(), &ns);
    let services: Api<KubeService> = Api::namespaced(ctx.client.clone(), &ns);
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(ctx.client.clone(), &ns);
    let (mut keep_deploy, mut keep_ds, mut keep_svc, mut keep_hpa, mut keep_tgb) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut daemon = false;
    for w in workloads {
        match w {
            Workload::Deployment(d) => {
                keep_deploy.push(d.name_any());
                apply::apply(&ctx, &deployments, d, &owner, true).await?;
            }
            Workload::DaemonSet(d) => {
                daemon = true;
                keep_ds.push(d.name_any());
                apply::apply(&ctx, &daemonsets, d, &owner, true).await?;
            }
        }
    }
    for s in networking.services {
        keep_svc.push(s.name_any());
        apply::apply(&ctx, &services, s, &owner, true).await?;
    }
    for tgb in networking.target_group_bindings {
        let n = tgb["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        match apply::apply_dynamic(&ctx, tgb, "targetgroupbindings", &owner).await? {
            Some(_) => keep_tgb.push(n),
            None => {
                tracing::warn!(service = %name, "TargetGroupBinding CRD not installed; skipped")
            }
        }
    }
    if let Some(h) = hpa {
        keep_hpa.push(h.name_any());
        apply::apply(&ctx, &hpas, h, &owner, true).await?;
    }
    apply::sweep(&ctx, &deployments, &owner, &keep_deploy).await?;
    apply::sweep(&ctx, &daemonsets, &owner, &keep_ds).await?;
    apply::sweep(&ctx, &services, &owner, &keep_svc).await?;
    apply::sweep(&ctx, &hpas, &owner, &keep_hpa).await?;
    let tgb_ar = kube::core::ApiResource::from_gvk_with_plural(
        &kube::core::GroupVersionKind::gvk("elbv2.k8s.aws", "v1beta1", "TargetGroupBinding"),
        "targetgroupbindings",
    );
    apply::sweep_dynamic(&ctx, &tgb_ar, &owner, &keep_tgb).await?;

    // observe
    let selector_str = selector
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let pods = Api::<Pod>::namespaced(ctx.client.clone(), &ns)
        .list(&ListParams::default().labels(&selector_str))
        .await?;
    let desired = if daemon {
        let mut n = 0;
        for d in &keep_ds {
            n += daemonsets
                .get_opt(d)
                .await?
                .and_then(|d| d.status)
                .map_or(0, |s| s.desired_number_scheduled);
        }
        n
    } else {
        desired_count
    };
    let breaker = svc
        .spec
        .deployment_configuration
        .as_ref()
        .and_then(|d| d.deployment_circuit_breaker.clone());
    let inputs = Inputs {
        service_name: svc.service_name(),
        generation,
        task_definition: effective.display(),
        requested: requested.display(),
        desired,
        threshold: failure_threshold(
            desired,
            breaker
                .as_ref()
                .and_then(|b| b.threshold_configuration.as_ref()),
        ),
        breaker,
        deadline_seconds: i64::from(
            svc.spec
                .kubernetes
                .as_ref()
                .and_then(|k| k.rollout_deadline_seconds)
                .unwrap_or(DEFAULT_ROLLOUT_DEADLINE),
        ),
        pods: pods
            .items
            .iter()
            .map(|p| pod_view(p, &effective.family))
            .collect(),
        selector: selector_str,
        warnings: warnings.iter().map(|w| w.to_string()).collect(),
        now: k8s_openapi::jiff::Timestamp::now(),
    };

    // status
    let (status, notices) = service_status::compute(&prev, &inputs);
    let in_progress = status
        .deployments
        .first()
        .and_then(|d| d.rollout_state.as_deref())
        == Some("IN_PROGRESS");
    let rolling_back = notices.iter().any(|n| n.reason == "RollingBack");
    apply::status(&ctx, &api, &name, svc.status.as_ref(), &status).await?;
    for n in notices {
        events::publish(&ctx, svc.as_ref(), n.warning, n.reason, n.message).await;
    }
    Ok(if rolling_back {
        Action::requeue(Duration::from_millis(100))
    } else if in_progress {
        // Pod changes wake us too; this covers the rollout deadline.
        Action::requeue(Duration::from_secs(10))
    } else {
        Action::requeue(Duration::from_secs(300))
    })
}

/// The pod as the status needs it.
pub fn pod_view(p: &Pod, family: &str) -> PodView {
    let revision = p.labels().get(names::REVISION).cloned().unwrap_or_default();
    let status = p.status.clone().unwrap_or_default();
    let conditions = status.conditions.clone().unwrap_or_default();
    let ready = conditions
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    let unschedulable = conditions
        .iter()
        .find(|c| {
            c.type_ == "PodScheduled"
                && c.status == "False"
                && c.reason.as_deref() == Some("Unschedulable")
        })
        .map(|c| c.message.clone().unwrap_or_else(|| "Unschedulable".into()));
    let mut failures = 0;
    for cs in status
        .container_statuses
        .iter()
        .flatten()
        .chain(status.init_container_statuses.iter().flatten())
    {
        failures += cs.restart_count;
        let waiting = cs
            .state
            .as_ref()
            .and_then(|s| s.waiting.as_ref())
            .and_then(|w| w.reason.as_deref());
        if matches!(
            waiting,
            Some(
                "ErrImagePull"
                    | "ImagePullBackOff"
                    | "InvalidImageName"
                    | "CreateContainerConfigError"
                    | "CreateContainerError"
            )
        ) {
            failures += 1;
        }
    }
    if status.phase.as_deref() == Some("Failed") {
        failures += 1;
    }
    PodView {
        task_definition: format!("{family}:{revision}"),
        ready,
        terminating: p.metadata.deletion_timestamp.is_some(),
        failures,
        unschedulable,
    }
}

/// A spec that cannot be deployed: say why in status and an Event, then wait for a change.
async fn stall(
    ctx: &Context,
    svc: &Service,
    api: &Api<Service>,
    reason: &str,
    message: &str,
) -> Result<Action, Error> {
    let prev = svc.status.clone().unwrap_or_default();
    let status = service_status::stalled(&prev, svc.meta().generation, reason, message, &now());
    if apply::status(ctx, api, &svc.name_any(), svc.status.as_ref(), &status).await? {
        events::publish(
            ctx,
            svc,
            true,
            if reason == "InvalidSpec" {
                "InvalidSpec"
            } else {
                "TaskDefinitionNotFound"
            },
            message.to_string(),
        )
        .await;
    }
    Ok(Action::await_change())
}
