//! The operator: kube-runtime controllers for the four kinds, each a pipeline
//! resolve → validate → build (the translator) → apply (server-side apply) → observe →
//! status, reading only from shared caches ([`cache`]), plus leader election, health and
//! metrics endpoints, and graceful shutdown.

pub mod apply;
pub mod cache;
pub mod client;
pub mod cluster;
pub mod drift;
pub mod events;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod poison;
pub mod revisions;
pub mod run;
pub mod service;
pub mod service_status;
pub mod strategy;
pub mod task;
pub mod task_definition;

use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use kube::runtime::controller::Action;
use kube::runtime::events::Reporter;

use crate::translate::Options;

/// The one field manager every server-side apply of this operator uses.
pub const FIELD_MANAGER: &str = "ecs-operator";

/// What every reconcile of one watched scope needs.
pub struct Context {
    pub client: Client,
    pub options: Options,
    pub metrics: Arc<metrics::Metrics>,
    pub reporter: Reporter,
    /// Everything reconciles read.
    pub caches: cache::Caches,
    /// What was applied of the kinds that are not watched.
    pub dynamic: apply::DynamicMemory,
    /// Where deployment alarms are read (an Alertmanager-compatible API).
    pub alertmanager_url: Option<String>,
    /// The client of hook endpoints and the alarm source.
    pub http: strategy::http::JsonClient,
}

/// Why a reconcile did not finish. The category labels metrics and decides the retry.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server refused or failed a call: transient, retried with back-off.
    #[error("API call failed: {0}")]
    Kube(#[from] kube::Error),
    /// The object could not be (de)serialized: a bug or an incompatible object.
    #[error("serialization failed: {0}")]
    Serde(#[from] serde_json::Error),
    /// The object has no name or namespace: never happens for objects from a watch.
    #[error("object is missing {0}")]
    MissingMetadata(&'static str),
    /// A child's name is taken by an object that is not ours: reported on the owner, not retried
    /// until something changes.
    #[error("{0}")]
    NotOwned(String),
}

impl Context {
    /// Wait until every cache of this scope holds its first list (at once, afterwards).
    pub async fn synced(&self) -> Result<(), Error> {
        self.caches
            .ready()
            .await
            .map_err(|_| Error::MissingMetadata("caches (the watches stopped)"))
    }
}

impl Error {
    /// Stable category for metrics labels and Event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Kube(_) => "api",
            Error::Serde(_) => "serialization",
            Error::MissingMetadata(_) => "metadata",
            Error::NotOwned(_) => "conflict",
        }
    }
}

/// Back-off for transient errors; input errors are not errors here (they become status and
/// wait for a change).
pub fn error_policy<K>(_obj: Arc<K>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.reconcile_error(error.category());
    tracing::warn!(error = %error, category = error.category(), "reconcile failed; retrying");
    if let Error::NotOwned(_) = error {
        // Someone else's object holds the name: it changes on a human's time scale.
        return Action::requeue(Duration::from_secs(30));
    }
    Action::requeue(Duration::from_secs(5))
}

/// The rare resync of an object nothing woke for an hour, jittered (±20 %, from the object's
/// identity) so that resyncs of many objects spread out. With reads from the caches, a resync
/// that finds nothing to do makes no request.
pub fn resync(uid: Option<&str>) -> Action {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write(uid.unwrap_or_default().as_bytes());
    let jitter = h.finish() % 1440; // seconds: ±12 minutes around the hour
    Action::requeue(Duration::from_secs(3600 - 720 + jitter))
}

/// Now, as RFC 3339 with whole seconds (no churn from sub-second precision).
pub fn now() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}
