//! BLUE_GREEN, LINEAR and CANARY deployments of a Service, as a pipeline like the Service
//! controller's: observe (pods per slot, alarms) → [`machine::advance`] (pure) → hooks
//! ([`hooks`]: the only calls besides apply and status) → build (each slot's revision
//! translated, Services narrowed to the layout) → apply (the Service controller's apply and
//! sweep) → traffic ([`traffic`]: pod labels or HTTPRoute weights) → status ([`status`], pure).

pub mod alarms;
pub mod hooks;
pub mod http;
pub mod machine;
pub mod status;
pub mod traffic;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;

use super::apply::Owner;
use super::service::build::{Built, Children, force_token, stamp_force_token};
use super::service::observe::{pod_view, selected};
use super::service::resolve::Resolved;
use super::service::status::Stall;
use super::{Context, Error, apply, events, revisions};
use crate::api::Service;
use crate::translate::names::short_hash;
use crate::translate::rollout::failure_threshold;
use crate::translate::service::{Workload, translate};
use crate::translate::strategy::{self, HookRunner, Plan, SLOT, Selection, Slot};
use machine::{AlarmReading, Colour, Counts, Observed, Production, SlotTasks};

/// Continue a paused deployment (ECS `ContinueServiceDeployment`): the value is the hook id
/// (`status.serviceDeployment.lifecycleHookDetails[].hookId`) or the deployment id.
pub const CONTINUE_DEPLOYMENT: &str = "ecs-operator.io/continue-deployment";
/// Stop a deployment, rolling back (ECS `StopServiceDeployment`, stopType ROLLBACK): the value
/// is the deployment id (`status.serviceDeployment.id`).
pub const STOP_DEPLOYMENT: &str = "ecs-operator.io/stop-deployment";

/// Live tasks by slot and revision, and how many have no slot label.
fn tasks(pods: &[Arc<Pod>], family: &str) -> (Vec<SlotTasks>, i32) {
    let (mut out, mut unslotted): (Vec<SlotTasks>, i32) = (Vec::new(), 0);
    for p in pods {
        let v = pod_view(p, family);
        if v.terminating {
            continue;
        }
        let slot = match p.labels().get(SLOT).map(String::as_str) {
            Some("main") => Slot::Main,
            Some("alt") => Slot::Alt,
            _ => {
                unslotted += 1;
                continue;
            }
        };
        let revision = Colour {
            task_definition: v.task_definition.clone(),
            force: v.forced.clone(),
        };
        let i = match out
            .iter()
            .position(|t| t.slot == slot && t.revision == revision)
        {
            Some(i) => i,
            None => {
                out.push(SlotTasks {
                    slot,
                    revision,
                    counts: Counts::default(),
                });
                out.len() - 1
            }
        };
        let c = &mut out[i].counts;
        if v.ready {
            c.ready += 1;
        } else {
            c.pending += 1;
        }
        c.failures += v.failures;
    }
    (out, unslotted)
}

fn annotation(svc: &Service, key: &str) -> Option<String> {
    svc.annotations()
        .get(key)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Reconcile a strategy service one step.
pub async fn reconcile(
    ctx: &Context,
    svc: &Service,
    owner: &Owner,
    resolved: &Resolved,
    built: Built,
    plan: Plan,
) -> Result<Action, Error> {
    let ns = owner.namespace.clone();
    let name = svc.name_any();
    let now = k8s_openapi::jiff::Timestamp::now();
    let family = resolved.requested.family.clone();
    let pods = selected(&ctx.caches, &ns, &built.shape.selector);
    // Unhealthy tasks are stopped for replacement here too (HealthCheck, ECS API model); the
    // pods that stay are what the state machine sees.
    let sick = crate::controller::service::unhealthy::find(&pods, now);
    crate::controller::service::unhealthy::stop(ctx, svc, &pods, &sick, &family).await?;
    let pods: Vec<_> = pods
        .into_iter()
        .filter(|p| {
            !sick
                .unhealthy
                .iter()
                .any(|u| Some(u.pod.as_str()) == p.metadata.name.as_deref())
        })
        .collect();
    let (tasks, unslotted) = tasks(&pods, &family);
    let desired = built.shape.desired_count;
    let mut warnings = built.shape.warnings.clone();
    let dc = svc
        .spec
        .deployment_configuration
        .clone()
        .unwrap_or_default();
    let breaker = dc
        .deployment_circuit_breaker
        .as_ref()
        .filter(|b| b.enable == Some(true))
        .map(|b| {
            (
                failure_threshold(desired, b.threshold_configuration.as_ref()),
                b.rollback.unwrap_or(false),
            )
        });
    let target = Colour {
        task_definition: resolved.requested.display(),
        force: force_token(svc),
    };
    let prev = svc
        .status
        .as_ref()
        .and_then(|s| s.service_deployment.clone());
    // Alarms matter only while a deployment runs (or is about to start): an idle service does
    // not ask the alarm source.
    let deploying = prev.as_ref().is_none_or(|p| {
        p.status == machine::IN_PROGRESS
            || machine::Colour::of_revision(&machine::production_revision(p)) != target
    });
    let alarms = match (&plan.alarms, &ctx.alertmanager_url) {
        _ if !deploying => AlarmReading::NotRead,
        (Some(a), Some(url)) => match alarms::firing(&ctx.http, url, &a.names).await {
            Ok(f) => AlarmReading::Firing(f),
            Err(e) => {
                warnings.push(format!("spec.deploymentConfiguration.alarms: the alarms could not be read ({e}); the deployment goes on without them"));
                AlarmReading::NotRead
            }
        },
        (Some(_), None) => {
            warnings.push("spec.deploymentConfiguration.alarms: the operator has no alarm source (flag --alertmanager-url): alarms are not watched".into());
            AlarmReading::NotRead
        }
        _ => AlarmReading::NotRead,
    };
    let obs = Observed {
        now,
        service_name: svc.service_name(),
        desired,
        target: target.clone(),
        tasks: tasks.clone(),
        unslotted,
        breaker,
        alarms,
        continue_value: annotation(svc, CONTINUE_DEPLOYMENT),
        stop_value: annotation(svc, STOP_DEPLOYMENT),
    };
    let new_id = format!(
        "ecs-svc/{}",
        short_hash(&format!(
            "{}{}{:?}",
            target.task_definition, now, target.force
        ))
    );
    let prev = svc
        .status
        .as_ref()
        .and_then(|s| s.service_deployment.clone());
    let (mut st, mut notices) = machine::advance(prev.as_ref(), &plan, &obs, &new_id);
    // Hooks that are due run now; their answers may move the machine on at once.
    for _ in 0..4 {
        if !run_hooks(ctx, owner, svc, &mut st, &plan, now).await? {
            break;
        }
        let (next, more) = machine::advance(Some(&st), &plan, &obs, &new_id);
        st = next;
        notices.extend(more);
    }
    let layout = machine::layout(&st, &plan);
    let route = svc
        .spec
        .kubernetes
        .as_ref()
        .and_then(|k| k.http_route.clone())
        .filter(|r| !r.is_empty());
    let (children, production_names) =
        match children(ctx, svc, resolved, &layout, route.is_some(), &ns) {
            Ok(c) => c,
            Err(stall) => return super::service::status::stall(ctx, svc, stall).await,
        };
    super::service::apply::apply(ctx, owner, children).await?;
    // Traffic: pod labels for a split without a route, else none; the route's weights.
    match (&layout.production, &route) {
        (
            Production::Split {
                blue,
                green,
                green_weight,
            },
            None,
        ) => {
            let chosen = traffic::chosen(&pods, *blue, *green, *green_weight, desired);
            traffic::label_pods(ctx, &ns, &pods, &chosen).await?;
        }
        _ => {
            traffic::label_pods(ctx, &ns, &pods, &[]).await?;
        }
    }
    if let Some(route) = &route {
        let weight = match &layout.production {
            Production::Split { green_weight, .. } => *green_weight,
            _ => 0.0,
        };
        match production_names.first() {
            Some(prod) => {
                let test = strategy::test_service_name(prod);
                let headers = header_rules(svc);
                if let Err(msg) = traffic::route(ctx, &ns, route, prod, &test, weight, &headers, layout.test_traffic).await? {
                    warnings.push(msg);
                }
            }
            None => warnings.push("spec.kubernetes.httpRoute: the service has no loadBalancers, so no Service to route to".into()),
        }
    } else if !header_rules(svc).is_empty() {
        warnings.push("spec.serviceConnectConfiguration: testTrafficRules need spec.kubernetes.httpRoute (a Gateway API HTTPRoute) to route test traffic by header".into());
    }
    // Status and events.
    let view = status::View {
        service_name: &svc.service_name(),
        generation: svc.metadata.generation,
        desired,
        selector: built
            .shape
            .selector
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","),
        warnings,
        tasks: &tasks,
        unslotted,
        now,
    };
    let prev_status = svc.status.clone().unwrap_or_default();
    let new_status = status::compute(&prev_status, &st, &view, &notices);
    let api: Api<Service> = Api::namespaced(ctx.client.clone(), &ns);
    apply::status(ctx, &api, &name, svc.status.as_ref(), &new_status).await?;
    ctx.metrics.rollout(&ns, &name, &prev_status, &new_status);
    for n in notices {
        events::publish(ctx, svc, n.warning, n.reason, n.message).await;
    }
    let wake = match (machine::wake_after(&st, &plan, now), sick.recheck_after) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok(match wake {
        Some(d) => Action::requeue(d.max(Duration::from_secs(1))),
        None => super::resync(svc.metadata.uid.as_deref()),
    })
}

/// Service Connect test traffic rules (`clientAliases[].testTrafficRules.header`).
fn header_rules(svc: &Service) -> Vec<traffic::HeaderRule> {
    svc.spec
        .service_connect_configuration
        .iter()
        .flat_map(|c| c.services.iter().flatten())
        .flat_map(|s| s.client_aliases.iter().flatten())
        .filter_map(|a| {
            let h = a.test_traffic_rules.as_ref()?.header.as_ref()?;
            Some(traffic::HeaderRule {
                name: h.name.clone()?,
                value: h
                    .value
                    .as_ref()
                    .and_then(|v| v.exact.clone())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Run (or poll) the hooks of the current stage that are due. Whether any answer changed.
async fn run_hooks(
    ctx: &Context,
    owner: &Owner,
    svc: &Service,
    st: &mut crate::api::ServiceDeploymentState,
    plan: &Plan,
    now: k8s_openapi::jiff::Timestamp,
) -> Result<bool, Error> {
    if st.status != machine::IN_PROGRESS {
        return Ok(false);
    }
    let cluster = svc.spec.cluster.clone().unwrap_or_else(|| "default".into());
    let arn = hooks::service_arn(&owner.namespace, &cluster, &svc.service_name());
    let mut changed = false;
    let snapshot = st.clone();
    for h in st.lifecycle_hook_details.iter_mut() {
        if h.lifecycle_stage != snapshot.lifecycle_stage || h.status != machine::IN_PROGRESS {
            continue;
        }
        let due = h
            .next_poll_at
            .as_deref()
            .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok())
            .is_none_or(|t| t <= now);
        if !due {
            continue;
        }
        let Some(hook) = plan.hooks.iter().find(|p| p.index as i32 == h.index) else {
            continue;
        };
        let HookRunner::Target(target) = &hook.runner else {
            continue;
        };
        let job = target
            .job
            .as_ref()
            .map(|_| hooks::job_name(&svc.name_any(), &h.hook_id));
        let answer = hooks::call(
            ctx,
            owner,
            &svc.name_any(),
            &snapshot,
            h,
            target,
            hook.details.as_ref(),
            &arn,
            hook.timeout,
        )
        .await?;
        let before = h.status.clone();
        hooks::record(h, answer, now, job);
        changed |= h.status != before;
    }
    Ok(changed)
}

/// The children of a layout: each slot's revision translated into its slot, and the Services
/// (from the target revision) narrowed to the layout's production and test selections; and
/// the names of the load balancer Services.
fn children(
    ctx: &Context,
    svc: &Service,
    resolved: &Resolved,
    layout: &machine::Layout,
    routed: bool,
    ns: &str,
) -> Result<(Children, Vec<String>), Stall> {
    let cluster = resolved.cluster.as_ref().map(|c| &c.spec);
    let invalid = |i: crate::translate::Invalid| Stall {
        reason: "InvalidSpec",
        message: i.to_string(),
    };
    let (objects, _) = translate(
        svc,
        &resolved.requested,
        cluster,
        &ctx.caches
            .options_for(&ctx.options, &svc.namespace().unwrap_or_default())
            .0,
    )
    .map_err(invalid)?;
    let mut out = Children {
        services: objects.networking.services,
        target_group_bindings: objects.networking.target_group_bindings,
        hpas: objects.hpa.into_iter().collect(),
        ..Children::default()
    };
    let tests = objects.networking.load_balancer_services;
    let production_count = out.services.len() - tests;
    let lb_names: Vec<String> = out
        .services
        .iter()
        .take(tests)
        .filter_map(|s| s.metadata.name.clone())
        .collect();
    let production = match &layout.production {
        Production::All => Selection::All,
        Production::Slot(s) => Selection::Slot(*s),
        Production::Split { blue, .. } if routed => Selection::Slot(*blue),
        Production::Split { .. } => Selection::Labelled,
    };
    for (i, s) in out.services.iter_mut().enumerate() {
        if i < production_count {
            strategy::select(s, &production);
        } else {
            strategy::select(s, &Selection::Slot(layout.test));
        }
    }
    for plan in &layout.slots {
        let td = if plan.revision.task_definition == resolved.requested.display() {
            resolved.requested.clone()
        } else {
            revisions::resolve(
                &ctx.caches.revisions.store,
                ns,
                &plan.revision.task_definition,
            )
            .map_err(|e| Stall {
                reason: "TaskDefinitionNotFound",
                message: format!(
                    "the revision in slot {} ({}): {e}",
                    plan.slot.as_str(),
                    plan.revision.task_definition
                ),
            })?
        };
        let (objects, _) = translate(
            svc,
            &td,
            cluster,
            &ctx.caches
                .options_for(&ctx.options, &svc.namespace().unwrap_or_default())
                .0,
        )
        .map_err(invalid)?;
        // The translator put the revision in the main slot; move it to its own.
        let workloads: Vec<Workload> = objects
            .workloads
            .into_iter()
            .map(|w| match w {
                Workload::Deployment(mut d) => {
                    if let Some(spec) = d.spec.as_mut()
                        && let Some(labels) = spec
                            .template
                            .metadata
                            .as_mut()
                            .and_then(|m| m.labels.as_mut())
                    {
                        labels.remove(SLOT);
                    }
                    Workload::Deployment(d)
                }
                other => other,
            })
            .collect();
        for w in strategy::slotted(workloads, plan.slot, plan.full) {
            if let Workload::Deployment(mut d) = w {
                if let Some(spec) = d.spec.as_mut() {
                    stamp_force_token(&mut spec.template, &plan.revision.force);
                }
                out.deployments.push(d);
            }
        }
    }
    Ok((out, lb_names))
}
