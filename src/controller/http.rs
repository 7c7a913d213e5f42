//! `/healthz` (the process is alive), `/readyz` (the caches synced, the API server answers the
//! operator's requests, and, with leader election, the process is ready to serve as leader or
//! standby) and `/metrics` (Prometheus).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use super::metrics::Metrics;

/// What the endpoints report.
#[derive(Clone)]
pub struct Health {
    pub ready: Arc<AtomicBool>,
    pub reach: Arc<super::client::ApiReach>,
    pub metrics: Arc<Metrics>,
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(h): State<Health>) -> (StatusCode, String) {
    if !h.ready.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, "caches not synced".into());
    }
    match h.reach.unreachable() {
        Some(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("API server unreachable: {why}"),
        ),
        None => (StatusCode::OK, "ready".into()),
    }
}

async fn metrics(State(h): State<Health>) -> ([(&'static str, &'static str); 1], String) {
    (
        [(
            "content-type",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        h.metrics.encode(),
    )
}

/// Serve until `shutdown` resolves.
pub async fn serve(
    addr: SocketAddr,
    health: Health,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(health);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "serving /healthz, /readyz, /metrics");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
