//! Prometheus metrics: reconciles and their durations by kind, errors by category, API writes
//! by verb, every API request by verb and resource (the figure a no-op reconcile must keep
//! at zero), and the work queue depth.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CategoryLabel {
    category: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WriteLabel {
    verb: String,
    resource: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResourceLabel {
    resource: String,
}

/// The operator's metrics.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<KindLabel, Counter>,
    durations: Family<KindLabel, Histogram>,
    errors: Family<CategoryLabel, Counter>,
    writes: Family<WriteLabel, Counter>,
    requests: Family<WriteLabel, Counter>,
    fenced: Family<ResourceLabel, Counter>,
    in_flight: Gauge,
    in_flight_value: AtomicI64,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("ecs_operator");
        let reconciles = Family::<KindLabel, Counter>::default();
        let durations = Family::<KindLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 14))
        });
        let errors = Family::<CategoryLabel, Counter>::default();
        let writes = Family::<WriteLabel, Counter>::default();
        let requests = Family::<WriteLabel, Counter>::default();
        let fenced = Family::<ResourceLabel, Counter>::default();
        let in_flight = Gauge::default();
        registry.register("reconciles", "Reconciles run, by kind", reconciles.clone());
        registry.register(
            "reconcile_duration_seconds",
            "Reconcile durations, by kind",
            durations.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Failed reconciles, by error category",
            errors.clone(),
        );
        registry.register("api_writes", "Write calls to the API server (apply, delete, status patch, create), by verb and resource", writes.clone());
        registry.register(
            "api_requests",
            "Every request to the API server (reads, writes, watches), by verb and resource",
            requests.clone(),
        );
        registry.register(
            "fenced_writes",
            "Writes refused because the leader lease was not renewed in time (client::WriteFence), by resource",
            fenced.clone(),
        );
        registry.register(
            "reconciles_in_flight",
            "Reconciles running now (the work being done off the queue)",
            in_flight.clone(),
        );
        Metrics {
            registry,
            reconciles,
            durations,
            errors,
            writes,
            requests,
            fenced,
            in_flight,
            in_flight_value: AtomicI64::new(0),
        }
    }
}

/// Records a reconcile's duration when dropped, however the reconcile ends.
pub struct ReconcileTimer<'a> {
    metrics: &'a Metrics,
    kind: &'static str,
    start: Instant,
}

impl Drop for ReconcileTimer<'_> {
    fn drop(&mut self) {
        let label = KindLabel {
            kind: self.kind.to_string(),
        };
        self.metrics
            .durations
            .get_or_create(&label)
            .observe(self.start.elapsed().as_secs_f64());
        let v = self.metrics.in_flight_value.fetch_sub(1, Ordering::Relaxed) - 1;
        self.metrics.in_flight.set(v);
    }
}

impl Metrics {
    /// Count a reconcile of `kind` and time it until the guard drops.
    pub fn reconcile(&self, kind: &'static str) -> ReconcileTimer<'_> {
        self.reconciles
            .get_or_create(&KindLabel {
                kind: kind.to_string(),
            })
            .inc();
        let v = self.in_flight_value.fetch_add(1, Ordering::Relaxed) + 1;
        self.in_flight.set(v);
        ReconcileTimer {
            metrics: self,
            kind,
            start: Instant::now(),
        }
    }

    /// Count a failed reconcile.
    pub fn reconcile_error(&self, category: &str) {
        self.errors
            .get_or_create(&CategoryLabel {
                category: category.to_string(),
            })
            .inc();
    }

    /// Count a write call.
    pub fn write(&self, verb: &str, resource: &str) {
        self.writes
            .get_or_create(&WriteLabel {
                verb: verb.to_string(),
                resource: resource.to_string(),
            })
            .inc();
    }

    /// Count a request to the API server (see `client::classify`).
    pub fn request(&self, verb: &str, resource: &str) {
        self.requests
            .get_or_create(&WriteLabel {
                verb: verb.to_string(),
                resource: resource.to_string(),
            })
            .inc();
    }

    /// A write refused by the leader's write fence.
    pub fn fenced(&self, resource: &str) {
        self.fenced
            .get_or_create(&ResourceLabel {
                resource: resource.to_string(),
            })
            .inc();
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
