//! `ecs-operator run`: wires the four controllers, leader election, the health and metrics
//! server and graceful shutdown (SIGTERM / Ctrl-C: in-flight reconciles finish, the lease is
//! released, the process exits).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, Deployment};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, Pod, Service as KubeService, ServiceAccount,
};
use kube::api::Api;
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::events::Reporter;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher::Config;
use kube::{Client, Resource, ResourceExt};
use tokio::sync::watch;

use super::apply::OWNER_LABEL;
use super::http::{Health, serve};
use super::leader::Leadership;
use super::metrics::Metrics;
use super::{Context, cluster, error_policy, service, task, task_definition};
use crate::api::{Cluster, Service, Task, TaskDefinition};
use crate::translate::refs::parse_task_definition_ref;
use crate::translate::{Options, names};

/// How the operator runs.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Namespaces to watch; empty means all.
    pub namespaces: Vec<String>,
    pub leader_elect: bool,
    pub lease_namespace: String,
    pub lease_name: String,
    pub identity: String,
    pub http_addr: SocketAddr,
    /// Reconciles at once per controller.
    pub concurrency: u16,
    pub options: Options,
}

fn api<K>(client: &Client, ns: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    match ns {
        Some(n) => Api::namespaced(client.clone(), n),
        None => Api::all(client.clone()),
    }
}

/// The operator's User-Agent, `ecs-operator/<version>`: kube-rs sends none, and without one the
/// API server's audit log (and any proxy) cannot tell the operator's requests from other clients'.
pub const USER_AGENT: &str = concat!("ecs-operator/", env!("CARGO_PKG_VERSION"));

/// A client from the inferred config (kubeconfig or in-cluster) that names itself.
async fn client_with_user_agent() -> anyhow::Result<Client> {
    let mut config = kube::Config::infer().await?;
    config.headers.push((
        axum::http::header::USER_AGENT,
        axum::http::HeaderValue::from_static(USER_AGENT),
    ));
    Ok(Client::try_from(config)?)
}

/// Run until a shutdown signal or a lost lease.
pub async fn run(cfg: RunConfig) -> anyhow::Result<()> {
    let client = client_with_user_agent().await?;
    let metrics = Arc::new(Metrics::default());
    let ready = Arc::new(AtomicBool::new(false));
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    {
        let tx = stop_tx.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutdown requested");
            let _ = tx.send(true);
        });
    }
    let http = tokio::spawn(serve(
        cfg.http_addr,
        Health {
            ready: ready.clone(),
            metrics: metrics.clone(),
        },
        stopped(),
    ));

    // Ready once every watched kind lists successfully (the API is reachable, the CRDs are
    // installed and the permissions hold). A standby is ready too: it is a healthy replica
    // waiting for the lease, and rolling updates of the operator need it to count.
    {
        let ready = ready.clone();
        let client = client.clone();
        let namespaces = cfg.namespaces.clone();
        tokio::spawn(async move {
            loop {
                match list_all(&client, &namespaces).await {
                    Ok(()) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "not ready: listing the watched kinds failed");
                        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                    }
                }
            }
            ready.store(true, Ordering::Relaxed);
            tracing::info!("ready");
        });
    }
    let leadership = if cfg.leader_elect {
        tokio::select! {
            l = Leadership::acquire(client.clone(), &cfg.lease_namespace, &cfg.lease_name, &cfg.identity) => Some(l?),
            _ = stopped() => return Ok(()),
        }
    } else {
        None
    };
    let leadership = leadership.map(Arc::new);
    let lost = Arc::new(AtomicBool::new(false));
    if let Some(l) = leadership.clone() {
        let tx = stop_tx.clone();
        let lost = lost.clone();
        tokio::spawn(async move {
            l.keep().await;
            tracing::error!("lost leadership; stopping");
            lost.store(true, Ordering::Relaxed);
            let _ = tx.send(true);
        });
    }

    let ctx = Arc::new(Context {
        client: client.clone(),
        options: cfg.options.clone(),
        metrics: metrics.clone(),
        reporter: Reporter {
            controller: "ecs-operator".into(),
            instance: Some(cfg.identity.clone()),
        },
    });
    let scopes: Vec<Option<String>> = if cfg.namespaces.is_empty() {
        vec![None]
    } else {
        cfg.namespaces.iter().cloned().map(Some).collect()
    };
    let controller_config = ControllerConfig::default().concurrency(cfg.concurrency);
    let owned = || Config::default().labels(OWNER_LABEL);
    let mut runs: Vec<BoxFuture<'static, ()>> = Vec::new();
    for scope in scopes {
        let ns = scope.as_deref();

        let td = Controller::new(api::<TaskDefinition>(&client, ns), Config::default())
            .with_config(controller_config.clone())
            .owns(api::<ControllerRevision>(&client, ns), owned())
            .owns(api::<ServiceAccount>(&client, ns), owned())
            .owns(api::<PersistentVolumeClaim>(&client, ns), owned());
        runs.push(Box::pin(
            td.graceful_shutdown_on(stopped())
                .run(task_definition::reconcile, error_policy, ctx.clone())
                .for_each(log_result),
        ));

        let svc = Controller::new(api::<Service>(&client, ns), Config::default())
            .with_config(controller_config.clone());
        let services = svc.store();
        let svc = svc
            .owns(api::<Deployment>(&client, ns), owned())
            .owns(api::<DaemonSet>(&client, ns), owned())
            .owns(api::<KubeService>(&client, ns), owned())
            .owns(api::<HorizontalPodAutoscaler>(&client, ns), owned())
            // A new revision of a family rolls the Services that follow it.
            .watches(
                api::<TaskDefinition>(&client, ns),
                Config::default(),
                move |td| {
                    followers(&services, &td, |s: &Service| {
                        s.spec.task_definition.as_deref()
                    })
                },
            )
            // Pods drive counts, rollout state and the circuit breaker.
            .watches(
                api::<Pod>(&client, ns),
                Config::default().labels(names::SERVICE),
                |pod| labelled_owner::<Service>(&pod, names::SERVICE),
            );
        runs.push(Box::pin(
            svc.graceful_shutdown_on(stopped())
                .run(service::reconcile, error_policy, ctx.clone())
                .for_each(log_result),
        ));

        let tasks = Controller::new(api::<Task>(&client, ns), Config::default())
            .with_config(controller_config.clone());
        let task_store = tasks.store();
        let tasks = tasks
            // A Task waiting for its task definition starts once the family has a revision.
            .watches(
                api::<TaskDefinition>(&client, ns),
                Config::default(),
                move |td| {
                    followers(&task_store, &td, |t: &Task| {
                        t.spec.task_definition.as_deref()
                    })
                },
            )
            .watches(
                api::<Pod>(&client, ns),
                Config::default().labels(names::TASK),
                |pod| labelled_owner::<Task>(&pod, names::TASK),
            );
        runs.push(Box::pin(
            tasks
                .graceful_shutdown_on(stopped())
                .run(task::reconcile, error_policy, ctx.clone())
                .for_each(log_result),
        ));

        let clusters = Controller::new(api::<Cluster>(&client, ns), Config::default())
            .with_config(controller_config.clone());
        runs.push(Box::pin(
            clusters
                .graceful_shutdown_on(stopped())
                .run(cluster::reconcile, error_policy, ctx.clone())
                .for_each(log_result),
        ));
    }
    tracing::info!(namespaces = ?cfg.namespaces, "controllers started");
    futures::future::join_all(runs).await;
    if let Some(l) = leadership
        && !lost.load(Ordering::Relaxed)
    {
        l.release().await;
    }
    let _ = stop_tx.send(true);
    let _ = http.await;
    if lost.load(Ordering::Relaxed) {
        anyhow::bail!("lost leadership");
    }
    tracing::info!("stopped");
    Ok(())
}

/// The objects in `store` whose task definition reference names `td`'s family (in its namespace).
fn followers<K>(
    store: &Store<K>,
    td: &TaskDefinition,
    reference: fn(&K) -> Option<&str>,
) -> Vec<ObjectRef<K>>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    let family = td.family();
    store
        .state()
        .into_iter()
        .filter(|o| {
            o.namespace() == td.namespace()
                && reference(o).is_some_and(|r| parse_task_definition_ref(r).0 == family)
        })
        .map(|o| ObjectRef::from_obj(o.as_ref()))
        .collect()
}

/// The object a pod belongs to, named by its `label`, in the pod's namespace.
fn labelled_owner<K: Resource<DynamicType = ()>>(pod: &Pod, label: &str) -> Option<ObjectRef<K>> {
    let ns = pod.namespace()?;
    pod.labels()
        .get(label)
        .map(|name| ObjectRef::<K>::new(name).within(&ns))
}

/// List each watched kind once (limit 1) in every watched scope.
async fn list_all(client: &Client, namespaces: &[String]) -> Result<(), kube::Error> {
    let scopes: Vec<Option<&str>> = if namespaces.is_empty() {
        vec![None]
    } else {
        namespaces.iter().map(|n| Some(n.as_str())).collect()
    };
    let lp = kube::api::ListParams::default().limit(1);
    for ns in scopes {
        api::<TaskDefinition>(client, ns).list_metadata(&lp).await?;
        api::<Service>(client, ns).list_metadata(&lp).await?;
        api::<Task>(client, ns).list_metadata(&lp).await?;
        api::<Cluster>(client, ns).list_metadata(&lp).await?;
    }
    Ok(())
}

async fn log_result<K: Resource>(
    result: Result<
        (ObjectRef<K>, kube::runtime::controller::Action),
        kube::runtime::controller::Error<super::Error, kube::runtime::watcher::Error>,
    >,
) where
    K::DynamicType: std::fmt::Debug,
{
    use kube::runtime::controller::Error as E;
    match result {
        Ok((obj, _)) => tracing::debug!(object = %obj, "reconciled"),
        // Already reported by the error policy.
        Err(E::ReconcilerFailed(..)) => {}
        Err(E::ObjectNotFound(obj)) => {
            tracing::debug!(object = %obj, "object gone before its reconcile")
        }
        // A watch failed (it retries with back-off): worth seeing.
        Err(e) => tracing::warn!(error = %e, "controller stream error"),
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
