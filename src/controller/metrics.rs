//! Prometheus metrics: reconciles and their durations by kind, errors by category, API writes
//! by verb, every API request by verb and resource (the figure a no-op reconcile must keep
//! at zero), and the work queue depth; and the Services' rollouts: which are in progress, how
//! many deployments failed and how many of those the circuit breaker stopped (what the chart's
//! dashboard and alerts read, charts/ecs-operator/dashboards and templates/prometheusrule.yaml).

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::api::ServiceStatus;

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

/// A Service, named apart from the `namespace` label Prometheus gives the scrape target (the
/// operator's own namespace), which would otherwise rename ours to `exported_namespace`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabel {
    service_namespace: String,
    service: String,
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
    rollouts: Family<ServiceLabel, Gauge>,
    failed: Counter,
    breaker_trips: Counter,
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
        let rollouts = Family::<ServiceLabel, Gauge>::default();
        let failed = Counter::default();
        let breaker_trips = Counter::default();
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
        registry.register(
            "service_rollout_in_progress",
            "1 while a Service's primary deployment is IN_PROGRESS (status.deployments[0].rolloutState); the series goes when it ends",
            rollouts.clone(),
        );
        registry.register(
            "deployments_failed",
            "Service deployments whose rolloutState became FAILED (circuit breaker, deadline, alarm, hook, stop, rollback)",
            failed.clone(),
        );
        registry.register(
            "circuit_breaker_trips",
            "Service deployments the deployment circuit breaker failed (failed tasks reached its threshold)",
            breaker_trips.clone(),
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
            rollouts,
            failed,
            breaker_trips,
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

    /// A Service's status was written: `prev` is what it replaced. Called after the write, so a
    /// failed write that is retried counts once; a deployment already FAILED in `prev` (the same
    /// id: a later reconcile, or a restarted operator reading its status back) is not counted
    /// again. A Service deleted mid-rollout keeps its in-progress series until the operator
    /// restarts: nothing reconciles a deleted Service.
    pub fn rollout(
        &self,
        namespace: &str,
        service: &str,
        prev: &ServiceStatus,
        next: &ServiceStatus,
    ) {
        let label = ServiceLabel {
            service_namespace: namespace.to_string(),
            service: service.to_string(),
        };
        let Some(now) = next.deployments.first() else {
            self.rollouts.remove(&label);
            return;
        };
        let state = now.rollout_state.as_deref();
        if state == Some("IN_PROGRESS") {
            self.rollouts.get_or_create(&label).set(1);
        } else {
            self.rollouts.remove(&label);
        }
        let before = prev.deployments.first();
        let already =
            before.is_some_and(|b| b.id == now.id && b.rollout_state == now.rollout_state);
        if state != Some("FAILED") || already {
            return;
        }
        self.failed.inc();
        // Both pipelines word the breaker's failure so (service_status::rollout and
        // strategy::machine: "ECS deployment circuit breaker: N tasks failed to start").
        let reason = now.rollout_state_reason.as_deref().unwrap_or_default();
        if reason.contains("circuit breaker") {
            self.breaker_trips.inc();
        }
    }

    /// A Service is gone: its rollout series goes with it (nothing reconciles a deleted object,
    /// so [`Metrics::rollout`] would never clear it and a stuck-rollout alert would fire).
    pub fn service_gone(&self, namespace: &str, service: &str) {
        self.rollouts.remove(&ServiceLabel {
            service_namespace: namespace.to_string(),
            service: service.to_string(),
        });
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ServiceDeployment;

    /// The committed list of every sample name /metrics exposes: scripts/test-monitoring.sh
    /// checks each metric the chart's dashboard and alerts query against it.
    const FIXTURE: &str = include_str!("../../tests/fixtures/metrics-names.txt");

    fn status(id: &str, state: &str, reason: &str) -> ServiceStatus {
        ServiceStatus {
            deployments: vec![ServiceDeployment {
                id: id.into(),
                rollout_state: Some(state.into()),
                rollout_state_reason: Some(reason.into()),
                ..ServiceDeployment::default()
            }],
            ..ServiceStatus::default()
        }
    }

    /// The sample names (before `{` or the value) of an exposition.
    fn sample_names(text: &str) -> Vec<String> {
        let mut names: Vec<String> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| l.split(['{', ' ']).next())
            .map(str::to_string)
            .collect();
        names.sort();
        names.dedup();
        names
    }

    #[test]
    fn every_family_is_in_the_names_fixture() {
        let m = Metrics::default();
        drop(m.reconcile("Service"));
        m.reconcile_error("api");
        m.write("apply", "deployments.apps");
        m.request("get", "pods");
        m.fenced("pods");
        m.rollout(
            "ns",
            "web",
            &ServiceStatus::default(),
            &status("d1", "IN_PROGRESS", ""),
        );
        let got = sample_names(&m.encode()).join("\n") + "\n";
        let want: String = FIXTURE
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(
            got, want,
            "tests/fixtures/metrics-names.txt is stale; its names should be:\n{got}"
        );
    }

    #[test]
    fn a_rollout_is_in_progress_until_it_ends() {
        let m = Metrics::default();
        let none = ServiceStatus::default();
        let going = status("d1", "IN_PROGRESS", "ECS deployment in progress.");
        m.rollout("ns", "web", &none, &going);
        let text = m.encode();
        assert!(
            text.contains(
                r#"ecs_operator_service_rollout_in_progress{service_namespace="ns",service="web"} 1"#
            ),
            "{text}"
        );
        m.rollout("ns", "web", &going, &status("d1", "COMPLETED", "done"));
        let text = m.encode();
        assert!(!text.contains("service=\"web\""), "{text}");
        assert!(
            text.contains("ecs_operator_deployments_failed_total 0"),
            "{text}"
        );
        // Deleted mid-rollout: the series goes with the Service.
        m.rollout("ns", "api", &none, &going);
        assert!(m.encode().contains("service=\"api\"} 1"));
        m.service_gone("ns", "api");
        assert!(!m.encode().contains("service=\"api\""));
    }

    #[test]
    fn a_failure_counts_once_and_the_breaker_s_apart() {
        let m = Metrics::default();
        let going = status("d1", "IN_PROGRESS", "");
        let tripped = status(
            "d1",
            "FAILED",
            "ECS deployment circuit breaker: 3 tasks failed to start (threshold 3).",
        );
        m.rollout("ns", "web", &going, &tripped);
        // The next reconcile, or a restarted operator, reads the same FAILED deployment back.
        m.rollout("ns", "web", &tripped, &tripped);
        let late = status(
            "d2",
            "FAILED",
            "ECS deployment did not reach a steady state within 60 seconds.",
        );
        m.rollout("ns", "web", &tripped, &late);
        let text = m.encode();
        assert!(
            text.contains("ecs_operator_deployments_failed_total 2"),
            "{text}"
        );
        assert!(
            text.contains("ecs_operator_circuit_breaker_trips_total 1"),
            "{text}"
        );
        assert!(!text.contains("service_rollout_in_progress{"), "{text}");
    }
}
