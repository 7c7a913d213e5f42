//! `ecs-operator run`: wires the four controllers, leader election, the health and metrics
//! server and graceful shutdown (SIGTERM / Ctrl-C: in-flight reconciles finish, the lease is
//! released, the process exits).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, Deployment};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{
    Namespace, Node, PersistentVolumeClaim, Pod, Service as KubeService, ServiceAccount,
};
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::events::Reporter;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, Resource, ResourceExt};
use tokio::sync::watch;

use super::cache::{Caches, ClusterCaches, Synced};
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
    /// How long a burst of changes to one object is gathered into one reconcile.
    pub debounce: std::time::Duration,
    pub options: Options,
    /// Where deployment alarms are read (an Alertmanager-compatible API).
    pub alertmanager_url: Option<String>,
}

/// `(major, minor)` from /version's strings; providers write minors like "34+".
fn server_version(major: &str, minor: &str) -> Option<(u32, u32)> {
    let digits = |s: &str| {
        s.trim_end_matches(|c: char| !c.is_ascii_digit())
            .parse()
            .ok()
    };
    Some((digits(major)?, digits(minor)?))
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

/// How long in-flight work may take once a stop is asked for.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Run until a shutdown signal or a lost lease.
pub async fn run(mut cfg: RunConfig) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::default());
    let reach = Arc::new(super::client::ApiReach::default());
    let fence = Arc::new(super::client::WriteFence::default());
    let client = super::client::build(metrics.clone(), reach.clone(), fence.clone()).await?;
    // The translator needs the server's version where Kubernetes features differ (pod-level
    // resources from 1.34); unknown when /version cannot be read, which assumes a new server.
    if cfg.options.server_version.is_none() {
        cfg.options.server_version = match client.apiserver_version().await {
            Ok(v) => server_version(&v.major, &v.minor),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the API server's version; assuming a current one");
                None
            }
        };
        tracing::info!(version = ?cfg.options.server_version, "API server version");
    }
    let ready = Arc::new(AtomicBool::new(false));
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_rx_outer = stop_rx.clone();
    let stopped = move || {
        let mut rx = stop_rx_outer.clone();
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
            reach,
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
            l = Leadership::acquire(client.clone(), &cfg.lease_namespace, &cfg.lease_name, &cfg.identity, fence) => Some(l?),
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
            // Stop writing now, not after the shutdown grace: the lease expires 4 s after the
            // renew deadline and a standby may then lead (never two writers).
            tracing::error!("lost leadership; exiting at once");
            lost.store(true, Ordering::Relaxed);
            let _ = tx.send(true);
            std::process::exit(1);
        });
    }

    let scopes: Vec<Option<String>> = if cfg.namespaces.is_empty() {
        vec![None]
    } else {
        cfg.namespaces.iter().cloned().map(Some).collect()
    };
    let controller_config = ControllerConfig::default()
        .concurrency(cfg.concurrency)
        .debounce(cfg.debounce);
    let (cluster_caches, mut watches) = ClusterCaches::run(&client);
    let (poisoned, poison_rx) = futures::channel::mpsc::unbounded();
    let reporter = Reporter {
        controller: "ecs-operator".into(),
        instance: Some(cfg.identity.clone()),
    };
    watches.push(super::poison::report(client.clone(), reporter.clone(), poison_rx).boxed());
    let mut runs: Vec<BoxFuture<'static, ()>> = Vec::new();
    let mut contexts: Vec<Arc<Context>> = Vec::new();
    for scope in scopes {
        let mut caches = Caches::new(&cluster_caches);
        let triggers = Triggers::subscribe(&mut caches);
        watches.extend(caches.run(&client, scope.as_deref(), &poisoned));
        let ctx = Arc::new(Context {
            client: client.clone(),
            options: cfg.options.clone(),
            metrics: metrics.clone(),
            reporter: reporter.clone(),
            caches,
            dynamic: Default::default(),
            alertmanager_url: cfg.alertmanager_url.clone(),
            http: Default::default(),
        });
        runs.extend(controllers(&ctx, triggers, &controller_config, &stop_rx));
        contexts.push(ctx);
    }
    // The controllers consume their triggers from the start (a subscriber that does not read
    // would hold the shared watch back); each reconcile first waits until every cache of its
    // scope holds its first list.
    let watches = tokio::spawn(futures::future::join_all(watches));
    drop(contexts);
    tracing::info!(namespaces = ?cfg.namespaces, "controllers started");
    // In-flight reconciles get a bounded grace period once a stop is asked for: the process
    // must exit within Kubernetes' termination grace whatever a controller waits on.
    let all = futures::future::join_all(runs);
    tokio::pin!(all);
    tokio::select! {
        _ = &mut all => {}
        _ = async { stopped().await; tokio::time::sleep(SHUTDOWN_GRACE).await } => {
            tracing::warn!(grace = ?SHUTDOWN_GRACE, "controllers still busy after the grace period; stopping them");
        }
    }
    watches.abort();
    if let Some(l) = leadership
        && !lost.load(Ordering::Relaxed)
    {
        l.release().await;
    }
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, http).await;
    if lost.load(Ordering::Relaxed) {
        anyhow::bail!("lost leadership");
    }
    tracing::info!("stopped");
    Ok(())
}

/// The trigger streams of the four controllers, subscribed to the shared caches.
struct Triggers {
    task_definitions: [SharedStream<TaskDefinition>; 3],
    services: [SharedStream<Service>; 2],
    tasks: SharedStream<Task>,
    clusters: SharedStream<Cluster>,
    revisions: [SharedStream<ControllerRevision>; 3],
    deployments: SharedStream<Deployment>,
    daemon_sets: SharedStream<DaemonSet>,
    kube_services: SharedStream<KubeService>,
    hpas: SharedStream<HorizontalPodAutoscaler>,
    service_accounts: SharedStream<ServiceAccount>,
    claims: SharedStream<PersistentVolumeClaim>,
    pods: [SharedStream<Pod>; 2],
}

type SharedStream<K> = futures::stream::BoxStream<'static, Arc<K>>;

impl Triggers {
    fn subscribe(c: &mut Caches) -> Self {
        Triggers {
            task_definitions: [
                c.task_definitions.subscribe().boxed(),
                c.task_definitions.subscribe().boxed(),
                c.task_definitions.subscribe().boxed(),
            ],
            services: [
                c.services.subscribe().boxed(),
                c.services.subscribe().boxed(),
            ],
            tasks: c.tasks.subscribe().boxed(),
            clusters: c.clusters.subscribe().boxed(),
            revisions: [
                c.revisions.subscribe().boxed(),
                c.revisions.subscribe().boxed(),
                c.revisions.subscribe().boxed(),
            ],
            deployments: c.deployments.subscribe().boxed(),
            daemon_sets: c.daemon_sets.subscribe().boxed(),
            kube_services: c.kube_services.subscribe().boxed(),
            hpas: c.hpas.subscribe().boxed(),
            service_accounts: c.service_accounts.subscribe().boxed(),
            claims: c.claims.subscribe().boxed(),
            pods: [c.pods.subscribe().boxed(), c.pods.subscribe().boxed()],
        }
    }
}

/// The four controllers of one scope, fed by the shared streams.
fn controllers(
    ctx: &Arc<Context>,
    t: Triggers,
    config: &ControllerConfig,
    stop: &watch::Receiver<bool>,
) -> Vec<BoxFuture<'static, ()>> {
    let stopped = || {
        let mut rx = stop.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let Triggers {
        task_definitions: [td_own, td_for_services, td_for_tasks],
        services: [services, services_for_tds],
        tasks,
        clusters,
        revisions: [rev_for_tds, rev_for_services, rev_for_tasks],
        deployments,
        daemon_sets,
        kube_services,
        hpas,
        service_accounts,
        claims,
        pods: [pods_for_services, pods_for_tasks],
    } = t;
    let c = &ctx.caches;
    let (ns_svc_tx, ns_svc_rx) = futures::channel::mpsc::channel::<()>(1);
    let (ns_task_tx, ns_task_rx) = futures::channel::mpsc::channel::<()>(1);
    let (ns_td_tx, ns_td_rx) = futures::channel::mpsc::channel::<()>(1);
    let namespace_watch = namespace_changes(
        c.namespaces.clone(),
        c.cluster_synced.namespaces.clone(),
        vec![ns_svc_tx, ns_task_tx, ns_td_tx],
        stopped(),
    )
    .boxed();
    let td = Controller::for_shared_stream(td_own, c.task_definitions.store.clone())
        .with_config(config.clone())
        .reconcile_all_on(ns_td_rx)
        // A TaskDefinition is Ready once the Services that follow its family have picked its
        // latest revision up (task_definition::followers): their status changes wake it.
        .watches_shared_stream(services_for_tds, {
            let tds = c.task_definitions.store.clone();
            move |s: Arc<Service>| {
                let family = parse_task_definition_ref(
                    s.spec.task_definition.as_deref().unwrap_or_default(),
                )
                .0;
                let ns = s.namespace();
                tds.state()
                    .into_iter()
                    .filter(|td| td.namespace() == ns && td.family() == family)
                    .map(|td| ObjectRef::from_obj(td.as_ref()))
                    .collect::<Vec<_>>()
            }
        })
        .owns_shared_stream(rev_for_tds)
        .owns_shared_stream(service_accounts)
        .owns_shared_stream(claims)
        .graceful_shutdown_on(stopped())
        .run(task_definition::reconcile, error_policy, ctx.clone())
        .for_each(log_result)
        .boxed();

    let service_store = c.services.store.clone();
    let service_store_2 = c.services.store.clone();
    let (node_tx, node_rx) = futures::channel::mpsc::channel::<()>(1);
    let node_watch = node_changes(
        c.nodes.clone(),
        c.cluster_synced.nodes.clone(),
        node_tx,
        stopped(),
    )
    .boxed();
    let svc = Controller::for_shared_stream(services, c.services.store.clone())
        .with_config(config.clone())
        // Nodes that come, go or change labels change the zones a service balances over.
        .reconcile_all_on(node_rx)
        // A namespace's policy changed (translate::tenancy).
        .reconcile_all_on(ns_svc_rx)
        .owns_shared_stream(deployments)
        .owns_shared_stream(daemon_sets)
        .owns_shared_stream(kube_services)
        .owns_shared_stream(hpas)
        // A new revision of a family rolls the Services that follow it: the revision itself
        // (the cache the Service resolves from) and its TaskDefinition's status.
        .watches_shared_stream(rev_for_services, move |r| {
            family_followers(&service_store, &r, |s: &Service| {
                s.spec.task_definition.as_deref()
            })
        })
        .watches_shared_stream(td_for_services, move |td| {
            followers(&service_store_2, &td, |s: &Service| {
                s.spec.task_definition.as_deref()
            })
        })
        // Pods drive counts, rollout state and the circuit breaker.
        .watches_shared_stream(pods_for_services, |pod| {
            labelled_owner::<Service>(&pod, names::SERVICE)
        })
        .graceful_shutdown_on(stopped())
        .run(service::reconcile, error_policy, ctx.clone())
        .for_each({
            let metrics = ctx.metrics.clone();
            move |result| {
                // A deleted Service's own watch event finds no object to reconcile.
                if let Err(kube::runtime::controller::Error::ObjectNotFound(gone)) = &result {
                    metrics.service_gone(gone.namespace.as_deref().unwrap_or_default(), &gone.name);
                }
                log_result(result)
            }
        })
        .boxed();

    let task_store = c.tasks.store.clone();
    let task_store_2 = c.tasks.store.clone();
    let tasks = Controller::for_shared_stream(tasks, c.tasks.store.clone())
        .with_config(config.clone())
        .reconcile_all_on(ns_task_rx)
        // A Task waiting for its task definition starts once the family has a revision.
        .watches_shared_stream(rev_for_tasks, move |r| {
            family_followers(&task_store, &r, |t: &Task| {
                t.spec.task_definition.as_deref()
            })
        })
        .watches_shared_stream(td_for_tasks, move |td| {
            followers(&task_store_2, &td, |t: &Task| {
                t.spec.task_definition.as_deref()
            })
        })
        .watches_shared_stream(pods_for_tasks, |pod| {
            labelled_owner::<Task>(&pod, names::TASK)
        })
        .graceful_shutdown_on(stopped())
        .run(task::reconcile, error_policy, ctx.clone())
        .for_each(log_result)
        .boxed();

    let clusters = Controller::for_shared_stream(clusters, c.clusters.store.clone())
        .with_config(config.clone())
        .graceful_shutdown_on(stopped())
        .run(cluster::reconcile, error_policy, ctx.clone())
        .for_each(log_result)
        .boxed();
    vec![td, svc, tasks, clusters, node_watch, namespace_watch]
}

/// Tell `tx` whenever the nodes' names or labels change (nodes added, removed, relabelled):
/// where a service's tasks may run, and so its zones to balance over, changed. Polls the node
/// cache (a metadata watch event comes with every heartbeat; the labels rarely change).
async fn node_changes(
    nodes: Store<PartialObjectMeta<Node>>,
    synced: Synced,
    tx: futures::channel::mpsc::Sender<()>,
    stopped: impl std::future::Future<Output = ()>,
) {
    metadata_changes(
        nodes,
        synced,
        |n| Some((n.labels().clone(), BTreeMap::new())),
        vec![tx],
        stopped,
    )
    .await
}

/// Tell every `txs` whenever a namespace's labels or annotations change: its policy
/// (`translate::tenancy`) decides what the Services, Tasks and TaskDefinitions in it may do.
async fn namespace_changes(
    namespaces: Store<PartialObjectMeta<Namespace>>,
    synced: Synced,
    txs: Vec<futures::channel::mpsc::Sender<()>>,
    stopped: impl std::future::Future<Output = ()>,
) {
    use crate::translate::tenancy::{
        ALLOW_HOST_FEATURES, ALLOWED_SERVICE_ACCOUNTS, POD_SECURITY_ENFORCE,
    };
    // Only what the policy reads: namespaces that come and go without it wake nothing.
    let pick = |m: &BTreeMap<String, String>, keys: &[&str]| -> BTreeMap<String, String> {
        m.iter()
            .filter(|(k, _)| keys.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    metadata_changes(
        namespaces,
        synced,
        move |n| {
            let labels = pick(n.labels(), &[POD_SECURITY_ENFORCE]);
            let annotations = pick(
                n.annotations(),
                &[ALLOW_HOST_FEATURES, ALLOWED_SERVICE_ACCOUNTS],
            );
            (!labels.is_empty() || !annotations.is_empty()).then_some((labels, annotations))
        },
        txs,
        stopped,
    )
    .await
}

/// Poll `store` every 5 s; when the names or what `meta` takes of the objects (those it takes
/// anything of) changed, send
/// a wake-up on every channel.
async fn metadata_changes<K>(
    store: Store<K>,
    synced: Synced,
    meta: impl Fn(&K) -> Option<(BTreeMap<String, String>, BTreeMap<String, String>)>,
    mut txs: Vec<futures::channel::mpsc::Sender<()>>,
    stopped: impl std::future::Future<Output = ()>,
) where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    use std::hash::{Hash, Hasher};
    let fingerprint = || {
        let mut all: Vec<_> = store
            .state()
            .iter()
            .filter_map(|o| Some((o.name_any(), meta(o)?)))
            .collect();
        all.sort();
        let mut h = std::collections::hash_map::DefaultHasher::new();
        all.hash(&mut h);
        h.finish()
    };
    tokio::pin!(stopped);
    if synced.wait().await.is_err() {
        return;
    }
    let mut last = fingerprint();
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
        }
        let now = fingerprint();
        if now != last {
            last = now;
            // A full channel already holds a wake-up: nothing lost.
            txs.retain_mut(|tx| !(tx.try_send(()).is_err() && tx.is_closed()));
            if txs.is_empty() {
                return;
            }
        }
    }
}

/// The objects in `store` whose task definition reference names the family of revision `r`.
fn family_followers<K>(
    store: &Store<K>,
    r: &ControllerRevision,
    reference: fn(&K) -> Option<&str>,
) -> Vec<ObjectRef<K>>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    let Some(family) = r
        .data
        .as_ref()
        .and_then(|d| d.0.get("family"))
        .and_then(serde_json::Value::as_str)
    else {
        return Vec::new();
    };
    store
        .state()
        .into_iter()
        .filter(|o| {
            o.namespace() == r.namespace()
                && reference(o).is_some_and(|x| parse_task_definition_ref(x).0 == family)
        })
        .map(|o| ObjectRef::from_obj(o.as_ref()))
        .collect()
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

#[cfg(test)]
mod version_tests {
    #[test]
    fn server_versions_parse_with_provider_suffixes() {
        assert_eq!(super::server_version("1", "36"), Some((1, 36)));
        assert_eq!(super::server_version("1", "33+"), Some((1, 33)));
        assert_eq!(super::server_version("", "33"), None);
    }
}
