//! The shared caches every reconcile reads from: one watch per kind per watched scope,
//! reflected into a store that all controllers share, and fanned out to the controllers as
//! triggers. Reads never go to the API server, so a reconcile that changes nothing makes no
//! request at all. Talks to the API server (the watches only).
//!
//! Children are watched by the owner label the operator stamps on them, pods by the
//! managed-by label, stripped to what status needs; nodes as metadata only.

use std::fmt::Debug;
use std::sync::Arc;

use futures::SinkExt;
use futures::channel::mpsc;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, Deployment};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{
    Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod, PodSpec, PodStatus,
    Service as KubeService, ServiceAccount,
};
use kube::api::{Api, DynamicObject, PartialObjectMeta};
use kube::core::ApiResource;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher::{self, Config};
use kube::runtime::{WatchStreamExt, watcher as watch};
use kube::{Client, Resource, ResourceExt};

use super::poison::{self, Poisoned, Tolerant};
use serde::de::DeserializeOwned;

use super::apply::OWNER_LABEL;
use crate::api::{Cluster, Service, Task, TaskDefinition};
use crate::translate::{Options, names};

/// Events buffered per subscriber before the reflector waits for slow consumers.
const SUBSCRIBER_BUFFER: usize = 1024;
/// A trigger not taken by a controller after this long is worth a warning.
const SLOW_SUBSCRIBER: std::time::Duration = std::time::Duration::from_secs(10);
/// Objects per page of the initial list (and each relist after a `410 Gone`).
const PAGE_SIZE: u32 = 500;

/// A store and the subscribers its watch events are fanned out to.
///
/// The fan-out is ours rather than kube-runtime's `reflect_shared`: its `ReflectHandle` answers
/// `Pending` without a wake-up when the object of an event is already gone from the store (a
/// pod deleted in between), so a controller whose other triggers are quiet missed every later
/// event of that stream (found by the Task e2e test: the essential exit was never seen).
/// Here each subscriber gets every touched object, deleted ones included, through a bounded
/// channel: a slow subscriber holds the watch back, none loses an event.
pub struct Shared<K: Resource<DynamicType = ()> + Clone + 'static> {
    pub store: Store<K>,
    /// Whether the store holds its first full list (wait on this, not on the store).
    pub synced: Synced,
    writer: Option<(reflector::store::Writer<K>, SyncedTx)>,
    subscribers: Vec<mpsc::Sender<Arc<K>>>,
}

/// Whether a cache holds its first full list, for any number of waiters.
///
/// Not kube-runtime's `Store::wait_until_ready`: its `DelayedInit` polls a futures oneshot
/// receiver, which keeps one waker, the last poller's, so of several futures waiting at once
/// only the last is woken and the others sleep for ever. Every reconcile waits for the caches,
/// beside each controller's own runner (which waits on its store): under API Priority and
/// Fairness the lists were slow, many reconciles waited together, and the TaskDefinition
/// controller's 16 slots were held for ever by reconciles that were never woken
/// (tests/faults.rs, the throttling scenario; `tests::store_readiness_wakes_only_its_last_waiter`).
/// A `tokio::sync::watch` wakes them all.
#[derive(Clone, Debug)]
pub struct Synced(tokio::sync::watch::Receiver<bool>);

/// The watch stopped for good (the process is shutting down) before its first full list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchStopped;

impl Synced {
    fn new() -> (SyncedTx, Synced) {
        let (tx, rx) = tokio::sync::watch::channel(false);
        (SyncedTx(Arc::new(tx)), Synced(rx))
    }

    /// Resolves once the cache holds its first full list (at once afterwards).
    pub async fn wait(&self) -> Result<(), WatchStopped> {
        let mut rx = self.0.clone();
        rx.wait_for(|synced| *synced)
            .await
            .map(|_| ())
            .map_err(|_| WatchStopped)
    }

    pub fn is_synced(&self) -> bool {
        *self.0.borrow()
    }
}

/// The watch's side of [`Synced`]: set when the reflector has applied an `InitDone`.
#[derive(Clone)]
struct SyncedTx(Arc<tokio::sync::watch::Sender<bool>>);

impl SyncedTx {
    /// Watch `events` (after `reflect`, so the store holds the list) for the first `InitDone`.
    fn mark<K, E>(&self) -> impl FnMut(&Result<watcher::Event<K>, E>) + use<K, E> {
        let tx = self.0.clone();
        move |event| {
            if let Ok(watcher::Event::InitDone) = event {
                tx.send_if_modified(|synced| !std::mem::replace(synced, true));
            }
        }
    }
}

impl<K> Shared<K>
where
    K: Resource<DynamicType = ()> + Clone + Debug + Send + Sync + DeserializeOwned + 'static,
{
    fn new() -> Self {
        let (store, writer) = reflector::store();
        let (tx, synced) = Synced::new();
        Shared {
            store,
            synced,
            writer: Some((writer, tx)),
            subscribers: Vec::new(),
        }
    }

    /// A trigger stream for one controller (call before [`Caches::run`]); it must be read.
    pub fn subscribe(&mut self) -> mpsc::Receiver<Arc<K>> {
        let (tx, rx) = mpsc::channel(SUBSCRIBER_BUFFER);
        self.subscribers.push(tx);
        rx
    }

    /// The reflector future: lists, then watches, with back-off, forever; the store is updated
    /// before the subscribers hear of an object.
    fn run(&mut self, api: Api<K>, config: Config, strip: fn(&mut K)) -> BoxFuture<'static, ()> {
        let events = watch(api, config.page_size(PAGE_SIZE)).default_backoff();
        self.fan_out(events, strip)
    }

    /// Like [`Shared::run`], decoding each object on its own: one that cannot be decoded is
    /// left out of the cache (a stale copy of it is dropped) and reported (see [`poison`]).
    fn run_decoded(
        &mut self,
        client: &Client,
        ns: Option<&str>,
        poisoned: mpsc::UnboundedSender<Poisoned>,
    ) -> BoxFuture<'static, ()>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    {
        let ar = ApiResource::erase::<K>(&());
        let api: Api<Tolerant> = match ns {
            Some(n) => Api::namespaced_with(client.clone(), n, &ar),
            None => Api::all_with(client.clone(), &ar),
        };
        let store = self.store.clone();
        let events = watch(api, Config::default().page_size(PAGE_SIZE))
            .default_backoff()
            .filter_map(move |event| {
                let decoded = match event {
                    Ok(e) => decode_event(e, &ar, &store, &poisoned).map(Ok),
                    Err(e) => Some(Err(e)),
                };
                futures::future::ready(decoded)
            });
        self.fan_out(events, keep)
    }

    fn fan_out<S>(&mut self, events: S, strip: fn(&mut K)) -> BoxFuture<'static, ()>
    where
        S: futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
    {
        let (writer, synced) = self.writer.take().expect("a cache runs once");
        let subscribers = std::mem::take(&mut self.subscribers);
        events
            .modify(strip)
            .reflect(writer)
            .inspect(synced.mark())
            .touched_objects()
            .for_each(move |event| {
                let mut subscribers = subscribers.clone();
                async move {
                    match event {
                        Ok(obj) => {
                            let obj = Arc::new(obj);
                            for (i, tx) in subscribers.iter_mut().enumerate() {
                                // A closed receiver is a controller that stopped: nothing to tell.
                                // A full one blocks this watch (and its cache) until it reads:
                                // say so, it should never last. The common case (room in the
                                // buffer) takes no timer.
                                let full = match tx.try_send(obj.clone()) {
                                    Err(e) if e.is_full() => e.into_inner(),
                                    _ => continue,
                                };
                                let send = tx.send(full);
                                futures::pin_mut!(send);
                                if tokio::time::timeout(SLOW_SUBSCRIBER, &mut send).await.is_err() {
                                    tracing::warn!(kind = %K::kind(&()), subscriber = i, "a controller has not read its triggers for {SLOW_SUBSCRIBER:?}; this watch waits for it");
                                    let _ = send.await;
                                }
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, kind = %K::kind(&()), "watch failed; retrying")
                        }
                    }
                }
            })
            .boxed()
    }

    /// The cached object `name` in `namespace`.
    pub fn get(&self, namespace: &str, name: &str) -> Option<std::sync::Arc<K>> {
        self.store.get(&ObjectRef::<K>::new(name).within(namespace))
    }
}

/// A watch event of untyped objects as one of typed objects: an object that does not decode is
/// reported and dropped; if the cache holds an older, readable copy of it, that copy is deleted
/// from the cache (the operator must not act on a spec that is no longer the object's).
fn decode_event<K>(
    event: watcher::Event<Tolerant>,
    ar: &ApiResource,
    store: &Store<K>,
    poisoned: &mpsc::UnboundedSender<Poisoned>,
) -> Option<watcher::Event<K>>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + 'static,
{
    use watcher::Event as E;
    let stale = |o: &DynamicObject| {
        let key = ObjectRef::<K>::new(&o.name_any()).within(&o.namespace().unwrap_or_default());
        store.get(&key).map(|old| E::Delete(old.as_ref().clone()))
    };
    let report = |o: &DynamicObject, error: String| {
        let _ = poisoned.unbounded_send(Poisoned::of(o, ar, error));
    };
    // An object not even untyped decoding could read fails like one the types cannot read.
    let decode = |t: &Tolerant| match &t.unreadable {
        Some(why) => Err(why.clone()),
        None => poison::decode::<K>(&t.object),
    };
    match event {
        E::Init => Some(E::Init),
        E::InitDone => Some(E::InitDone),
        E::InitApply(t) => match decode(&t) {
            Ok(k) => Some(E::InitApply(k)),
            Err(e) => {
                report(&t.object, e);
                None
            }
        },
        E::Apply(t) => match decode(&t) {
            Ok(k) => Some(E::Apply(k)),
            Err(e) => {
                report(&t.object, e);
                stale(&t.object)
            }
        },
        E::Delete(t) => match decode(&t) {
            Ok(k) => Some(E::Delete(k)),
            Err(_) => stale(&t.object),
        },
    }
}

/// Everything the controllers of one watched scope read.
pub struct Caches {
    pub task_definitions: Shared<TaskDefinition>,
    pub services: Shared<Service>,
    pub tasks: Shared<Task>,
    pub clusters: Shared<Cluster>,
    pub revisions: Shared<ControllerRevision>,
    pub deployments: Shared<Deployment>,
    pub daemon_sets: Shared<DaemonSet>,
    pub kube_services: Shared<KubeService>,
    pub hpas: Shared<HorizontalPodAutoscaler>,
    pub service_accounts: Shared<ServiceAccount>,
    pub claims: Shared<PersistentVolumeClaim>,
    pub pods: Shared<Pod>,
    /// Cluster-scoped, shared by every scope: EFS volumes the operator created, and nodes.
    pub volumes: Store<PersistentVolume>,
    pub nodes: Store<PartialObjectMeta<Node>>,
    /// Namespaces, metadata only: their policy annotations and Pod Security label
    /// (`translate::tenancy`).
    pub namespaces: Store<PartialObjectMeta<Namespace>>,
    /// Whether the cluster-scoped stores hold their first lists.
    pub cluster_synced: ClusterSynced,
}

/// The cluster-scoped caches, watched once whatever the number of scopes.
pub struct ClusterCaches {
    pub volumes: Store<PersistentVolume>,
    pub nodes: Store<PartialObjectMeta<Node>>,
    pub namespaces: Store<PartialObjectMeta<Namespace>>,
    pub synced: ClusterSynced,
}

/// Whether each cluster-scoped store holds its first list.
#[derive(Clone, Debug)]
pub struct ClusterSynced {
    pub volumes: Synced,
    pub nodes: Synced,
    pub namespaces: Synced,
}

impl ClusterCaches {
    /// Start the watches of PersistentVolumes (by owner label) and Nodes (metadata only).
    pub fn run(client: &Client) -> (Self, Vec<BoxFuture<'static, ()>>) {
        let (volumes, volume_writer) = reflector::store();
        let (nodes, node_writer) = reflector::store();
        let (volumes_tx, volumes_synced) = Synced::new();
        let (nodes_tx, nodes_synced) = Synced::new();
        let (namespaces_tx, namespaces_synced) = Synced::new();
        let pvs = watch(
            Api::<PersistentVolume>::all(client.clone()),
            Config::default().labels(OWNER_LABEL).page_size(PAGE_SIZE),
        )
        .default_backoff()
        .modify(keep)
        .reflect(volume_writer)
        .inspect(volumes_tx.mark())
        .for_each(log_watch_error::<PersistentVolume>)
        .boxed();
        let nodes_watch = watch(
            Api::<PartialObjectMeta<Node>>::all(client.clone()),
            Config::default().page_size(PAGE_SIZE),
        )
        .default_backoff()
        .modify(keep)
        .reflect(node_writer)
        .inspect(nodes_tx.mark())
        .for_each(log_watch_error::<PartialObjectMeta<Node>>)
        .boxed();
        let (namespaces, namespace_writer) = reflector::store();
        let namespaces_watch = watch(
            Api::<PartialObjectMeta<Namespace>>::all(client.clone()),
            Config::default().page_size(PAGE_SIZE),
        )
        .default_backoff()
        .modify(keep)
        .reflect(namespace_writer)
        .inspect(namespaces_tx.mark())
        .for_each(log_watch_error::<PartialObjectMeta<Namespace>>)
        .boxed();
        (
            ClusterCaches {
                volumes,
                nodes,
                namespaces,
                synced: ClusterSynced {
                    volumes: volumes_synced,
                    nodes: nodes_synced,
                    namespaces: namespaces_synced,
                },
            },
            vec![pvs, nodes_watch, namespaces_watch],
        )
    }
}

async fn log_watch_error<K: Resource>(event: Result<watcher::Event<K>, watcher::Error>)
where
    K::DynamicType: Default,
{
    if let Err(e) = event {
        tracing::warn!(error = %e, kind = %K::kind(&K::DynamicType::default()), "watch failed; retrying");
    }
}

impl Caches {
    /// Empty caches of one scope, sharing the cluster-scoped stores.
    pub fn new(cluster: &ClusterCaches) -> Self {
        Caches {
            task_definitions: Shared::new(),
            services: Shared::new(),
            tasks: Shared::new(),
            clusters: Shared::new(),
            revisions: Shared::new(),
            deployments: Shared::new(),
            daemon_sets: Shared::new(),
            kube_services: Shared::new(),
            hpas: Shared::new(),
            service_accounts: Shared::new(),
            claims: Shared::new(),
            pods: Shared::new(),
            volumes: cluster.volumes.clone(),
            nodes: cluster.nodes.clone(),
            namespaces: cluster.namespaces.clone(),
            cluster_synced: cluster.synced.clone(),
        }
    }
}

fn api<K>(client: &Client, ns: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + Debug,
{
    match ns {
        Some(n) => Api::namespaced(client.clone(), n),
        None => Api::all(client.clone()),
    }
}

fn keep<K: Resource>(obj: &mut K) {
    obj.meta_mut().managed_fields = None;
}

/// Pods keep what status and the Task controller read: labels, annotations, deletion,
/// node, phase, conditions and container states. The rest of the spec is most of a pod's size.
fn strip_pod(pod: &mut Pod) {
    pod.metadata.managed_fields = None;
    let node_name = pod.spec.as_ref().and_then(|s| s.node_name.clone());
    pod.spec = Some(PodSpec {
        node_name,
        ..PodSpec::default()
    });
    if let Some(s) = pod.status.take() {
        pod.status = Some(PodStatus {
            phase: s.phase,
            conditions: s.conditions,
            container_statuses: s.container_statuses,
            init_container_statuses: s.init_container_statuses,
            reason: s.reason,
            message: s.message,
            start_time: s.start_time,
            ..PodStatus::default()
        });
    }
}

impl Caches {
    /// Start every watch of the scope `ns` (all namespaces when `None`). Subscribe first.
    pub fn run(
        &mut self,
        client: &Client,
        ns: Option<&str>,
        poisoned: &mpsc::UnboundedSender<Poisoned>,
    ) -> Vec<BoxFuture<'static, ()>> {
        let owned = || Config::default().labels(OWNER_LABEL);
        let managed =
            Config::default().labels(&format!("{}={}", names::MANAGED_BY, names::OPERATOR));
        vec![
            self.task_definitions
                .run_decoded(client, ns, poisoned.clone()),
            self.services.run_decoded(client, ns, poisoned.clone()),
            self.tasks.run_decoded(client, ns, poisoned.clone()),
            self.clusters.run_decoded(client, ns, poisoned.clone()),
            self.revisions.run(
                api(client, ns),
                Config::default().labels(super::revisions::REVISION_OF),
                keep,
            ),
            self.deployments.run(api(client, ns), owned(), keep),
            self.daemon_sets.run(api(client, ns), owned(), keep),
            self.kube_services.run(api(client, ns), owned(), keep),
            self.hpas.run(api(client, ns), owned(), keep),
            self.service_accounts.run(api(client, ns), owned(), keep),
            self.claims.run(api(client, ns), owned(), keep),
            self.pods.run(api(client, ns), managed, strip_pod),
        ]
    }

    /// Resolves once every store has its first full list.
    pub async fn ready(&self) -> Result<(), WatchStopped> {
        for synced in [
            &self.task_definitions.synced,
            &self.services.synced,
            &self.tasks.synced,
            &self.clusters.synced,
            &self.revisions.synced,
            &self.deployments.synced,
            &self.daemon_sets.synced,
            &self.kube_services.synced,
            &self.hpas.synced,
            &self.service_accounts.synced,
            &self.claims.synced,
            &self.pods.synced,
        ]
        .into_iter()
        .chain([
            &self.cluster_synced.volumes,
            &self.cluster_synced.nodes,
            &self.cluster_synced.namespaces,
        ]) {
            synced.wait().await?;
        }
        Ok(())
    }

    /// The translator options for namespace `ns` ([`crate::translate::tenancy::options_for`]):
    /// its policy annotations and Pod Security label over the operator's own options.
    pub fn options_for(&self, base: &Options, ns: &str) -> (Options, Vec<String>) {
        let meta = self
            .namespaces
            .get(&ObjectRef::new(ns))
            .map(|n| n.metadata.clone())
            .unwrap_or_default();
        crate::translate::tenancy::options_for(
            base,
            ns,
            &meta.labels.unwrap_or_default(),
            &meta.annotations.unwrap_or_default(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use std::time::Duration;

    /// Why [`Synced`] exists: kube-runtime 5's `Store::wait_until_ready` wakes only the last
    /// of several concurrent waiters (its oneshot receiver keeps one waker). If kube-runtime
    /// fixes that, this test fails and says so; [`Synced`] stays correct either way.
    #[tokio::test(flavor = "current_thread")]
    async fn store_readiness_wakes_only_its_last_waiter() {
        let (store, mut writer) = reflector::store::<ConfigMap>();
        let first = tokio::spawn({
            let store = store.clone();
            async move { store.wait_until_ready().await.is_ok() }
        });
        let second = tokio::spawn({
            let store = store.clone();
            async move { store.wait_until_ready().await.is_ok() }
        });
        // Both poll (and register their wakers) before the list completes.
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        writer.apply_watcher_event(&watcher::Event::InitDone);
        let second = tokio::time::timeout(Duration::from_secs(1), second).await;
        let first = tokio::time::timeout(Duration::from_secs(1), first).await;
        assert!(matches!(second, Ok(Ok(true))), "the last waiter is woken");
        assert!(
            first.is_err(),
            "kube-runtime now wakes every waiter of Store::wait_until_ready: Synced could go"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn synced_wakes_every_waiter_and_answers_at_once_afterwards() {
        let (tx, synced) = Synced::new();
        let waiters: Vec<_> = (0..20)
            .map(|_| {
                let synced = synced.clone();
                tokio::spawn(async move { synced.wait().await })
            })
            .collect();
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        assert!(!synced.is_synced());
        let mut mark = tx.mark::<ConfigMap, watcher::Error>();
        // An Init or an object is not the end of the list.
        mark(&Ok(watcher::Event::Init));
        mark(&Ok(watcher::Event::InitApply(ConfigMap::default())));
        assert!(!synced.is_synced());
        mark(&Ok(watcher::Event::InitDone));
        for w in waiters {
            let woke = tokio::time::timeout(Duration::from_secs(1), w).await;
            assert!(matches!(woke, Ok(Ok(Ok(())))), "{woke:?}");
        }
        // A relist later (Init again) does not make the cache unsynced: it still holds the
        // last full list until the new one replaces it.
        mark(&Ok(watcher::Event::Init));
        assert!(synced.is_synced());
        assert_eq!(
            tokio::time::timeout(Duration::from_millis(100), synced.wait()).await,
            Ok(Ok(()))
        );
        // The watch gone before its first list: waiters hear so instead of hanging.
        let (tx, never) = Synced::new();
        drop(tx);
        assert_eq!(never.wait().await, Err(WatchStopped));
    }
}
