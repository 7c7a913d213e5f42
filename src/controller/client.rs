//! The operator's API client: kube-rs's default stack with one more layer that counts every
//! request by verb and resource, so the cost of a reconcile (zero when nothing changed) and
//! of an idle operator can be read from `/metrics`, and that watches whether the API server
//! answers ([`ApiReach`], behind `/readyz`): it costs no request of its own. The same layer
//! is the leader's write fence ([`WriteFence`]): a replica that cannot show a recent lease
//! renewal sends no write, even when a frozen process wakes up with reconciles already due.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use http::Request;
use kube::client::{Body, ClientBuilder};
use kube::{Client, Config};
use tower::{Layer, Service};

use super::metrics::Metrics;

/// The operator's User-Agent, `ecs-operator/<version>`, so that the API server's audit log
/// and metrics can tell its requests from other clients'.
pub const USER_AGENT: &str = concat!("ecs-operator/", env!("CARGO_PKG_VERSION"));

/// Build the client from the usual kubeconfig / in-cluster inference, naming itself and
/// counting requests.
pub async fn build(
    metrics: Arc<Metrics>,
    reach: Arc<ApiReach>,
    fence: Arc<WriteFence>,
) -> anyhow::Result<Client> {
    let mut config = Config::infer().await?;
    config.headers.push((
        http::header::USER_AGENT,
        http::HeaderValue::from_static(USER_AGENT),
    ));
    // kube-rs's default retry of 429/503/504 backs off from 5 ms doubling up to 1000 s, 15
    // times: a throttled request (API Priority and Fairness) could hold its reconcile for
    // minutes without a word (found by tests/faults.rs). A short, bounded retry instead; past
    // it the error reaches the reconcile (or the watch), which requeues with its own back-off
    // and says so in the log and the error metrics.
    config.default_retry = false;
    Ok(ClientBuilder::try_from(config)?
        .with_layer(&CountLayer {
            metrics,
            reach,
            fence,
        })
        .with_layer(&tower::buffer::BufferLayer::new(1024))
        .with_layer(&tower::retry::RetryLayer::new(retry_policy()))
        .build())
}

/// 429/503/504 retried 4 times: 0.2, 0.4, 0.8, 1.6 s apart, or after the server's Retry-After
/// when that is longer (about 3 to 7 s in all). Each attempt is counted.
pub fn retry_policy() -> kube::client::retry::RetryPolicy {
    kube::client::retry::RetryPolicy::new(
        Duration::from_millis(200),
        Duration::from_secs(5),
        4,
        true,
    )
    .expect("valid back-off parameters")
}

/// How long a request may go unanswered before the API server counts as unreachable.
pub const UNANSWERED_AFTER: Duration = Duration::from_secs(10);

/// Whether the API server answers the operator's own requests: unreachable while the last
/// request failed without an answer (connection refused, reset, timed out) or got a 5xx
/// (its storage is down), and while a request has waited longer than [`UNANSWERED_AFTER`]
/// (a frozen or partitioned server). Watches count by their first answer only: they are
/// long-lived by design. An idle operator sends nothing, so it cannot notice a server that
/// goes away in silence; its next request (or lease renewal) does.
#[derive(Default)]
pub struct ApiReach {
    failing: AtomicBool,
    next_id: AtomicU64,
    in_flight: Mutex<BTreeMap<u64, Instant>>,
}

impl ApiReach {
    /// Why the API server counts as unreachable now, if it does.
    pub fn unreachable(&self) -> Option<String> {
        if self.failing.load(Ordering::Relaxed) {
            return Some("the API server's last answer was an error (or none came)".into());
        }
        let oldest = self.in_flight.lock().ok()?.values().min().copied()?;
        (oldest.elapsed() > UNANSWERED_AFTER).then(|| {
            format!(
                "a request to the API server has waited {}s for an answer",
                oldest.elapsed().as_secs()
            )
        })
    }

    fn start(&self) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut m) = self.in_flight.lock() {
            m.insert(id, Instant::now());
        }
        id
    }

    fn finish(&self, id: u64, answered: bool) {
        if let Ok(mut m) = self.in_flight.lock() {
            m.remove(&id);
        }
        self.failing.store(!answered, Ordering::Relaxed);
    }
}

/// The leader's write fence. With leader election, writes (create, update, patch, delete;
/// lease renewals excepted) pass only until [`leader::RENEW_DEADLINE`](super::leader::RENEW_DEADLINE)
/// after the last lease renewal that succeeded was sent, so before the lease can expire
/// (12 s) and a standby take over. Without it, a leader frozen past its lease (SIGSTOP, a
/// paused VM, a long GC-like stall) would on waking run the reconciles that came due while it
/// slept, and write beside the new leader until its renewal loop noticed. Without leader
/// election the fence is open. A write is checked when its request is about to be sent (the
/// first poll of its future), not when it was queued. Kubernetes has no server-side fencing
/// tokens, so one window remains: a write past that check and not yet on the wire (waiting
/// for a connection, being written) when the process is frozen is delivered on waking,
/// however long the freeze. The 4 s between the deadline and the lease's expiry cover a
/// write delayed in flight, not a freeze at that moment (docs/reliability.md).
#[derive(Default)]
pub struct WriteFence {
    elected: AtomicBool,
    open_until: Mutex<Option<Instant>>,
}

impl WriteFence {
    /// From now on writes need a held lease (closed until [`WriteFence::renewed`]).
    pub fn elect(&self) {
        self.elected.store(true, Ordering::Relaxed);
    }

    /// A renewal sent at `sent` succeeded: writes may pass until `sent + valid`.
    pub fn renewed(&self, sent: Instant, valid: Duration) {
        if let Ok(mut until) = self.open_until.lock() {
            *until = Some(sent + valid);
        }
    }

    /// Leadership is lost: no more writes.
    pub fn close(&self) {
        if let Ok(mut until) = self.open_until.lock() {
            *until = None;
        }
    }

    /// Whether a write must be refused now.
    pub fn closed(&self) -> bool {
        self.elected.load(Ordering::Relaxed)
            && self
                .open_until
                .lock()
                .map(|until| until.is_none_or(|t| Instant::now() >= t))
                .unwrap_or(true)
    }
}

/// A write refused by the [`WriteFence`].
#[derive(Debug, thiserror::Error)]
#[error(
    "write refused: this replica has not renewed its leader lease within the renew deadline (it may no longer lead)"
)]
pub struct Fenced;

/// Counts each request in [`Metrics::request`], tracks answers in [`ApiReach`] and holds
/// writes to the [`WriteFence`].
#[derive(Clone)]
pub struct CountLayer {
    metrics: Arc<Metrics>,
    reach: Arc<ApiReach>,
    fence: Arc<WriteFence>,
}

impl<S> Layer<S> for CountLayer {
    type Service = Count<S>;
    fn layer(&self, inner: S) -> Count<S> {
        Count {
            inner,
            metrics: self.metrics.clone(),
            reach: self.reach.clone(),
            fence: self.fence.clone(),
        }
    }
}

/// The counting service.
#[derive(Clone)]
pub struct Count<S> {
    inner: S,
    metrics: Arc<Metrics>,
    reach: Arc<ApiReach>,
    fence: Arc<WriteFence>,
}

/// Removes a request from the in-flight set however its future ends (answered, failed or
/// dropped by a timeout or a cancelled reconcile).
struct InFlight {
    reach: Arc<ApiReach>,
    id: u64,
    answered: Option<bool>,
}

impl InFlight {
    fn answered(mut self, answered: bool) {
        self.answered = Some(answered);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        match self.answered {
            Some(answered) => self.reach.finish(self.id, answered),
            // Dropped unanswered: not a verdict on the server.
            None => {
                if let Ok(mut m) = self.reach.in_flight.lock() {
                    m.remove(&self.id);
                }
            }
        }
    }
}

impl<S, B> Service<Request<Body>> for Count<S>
where
    S: Service<Request<Body>, Response = http::Response<B>>,
    S::Future: Send + 'static,
    S::Error: Into<BoxError> + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let (verb, resource) = classify(req.method().as_str(), req.uri().path(), req.uri().query());
        let fenced = is_write(verb) && resource != "leases";
        let resource = resource.to_string();
        let (metrics, reach, fence) =
            (self.metrics.clone(), self.reach.clone(), self.fence.clone());
        // The inner future sends nothing until it is polled: the fence is checked at that first
        // poll, not here, so a write queued (in the buffer, or behind a frozen process) while
        // the lease was held is still refused once it is not (the long form's frozen leader
        // delivered one such write on waking: docs/reliability.md).
        let fut = self.inner.call(req);
        Box::pin(async move {
            if fenced && fence.closed() {
                metrics.fenced(&resource);
                tracing::warn!(verb, resource, "{}", Fenced);
                return Err(Fenced.into());
            }
            metrics.request(verb, &resource);
            let guard = InFlight {
                id: reach.start(),
                reach,
                answered: None,
            };
            let res = fut.await;
            guard.answered(match &res {
                Ok(resp) => !resp.status().is_server_error(),
                Err(_) => false,
            });
            res.map_err(Into::into)
        })
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn is_write(verb: &str) -> bool {
    matches!(verb, "create" | "update" | "patch" | "delete")
}

/// The Kubernetes verb and resource of a request path, as the API server's own
/// `apiserver_request_total` names them (watch and list told apart by the query).
pub fn classify<'a>(method: &str, path: &'a str, query: Option<&str>) -> (&'static str, &'a str) {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    // /api/v1/..., /apis/group/version/...; then namespaces/<ns>/ optionally; then resource[/name[/sub]]
    let rest: &[&str] = match segments.first() {
        Some(&"api") => segments.get(2..).unwrap_or(&[]),
        Some(&"apis") => segments.get(3..).unwrap_or(&[]),
        _ => &[],
    };
    let rest = match rest {
        ["namespaces", _, tail @ ..] if !tail.is_empty() => tail,
        other => other,
    };
    let resource = rest.first().copied().unwrap_or("");
    let named = rest.len() > 1;
    let watch = query.is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
    let verb = match method {
        "GET" if watch => "watch",
        "GET" if named => "get",
        "GET" => "list",
        "POST" => "create",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" => "delete",
        _ => "other",
    };
    (verb, resource)
}

#[cfg(test)]
mod tests {
    use super::{ApiReach, UNANSWERED_AFTER, WriteFence, classify};
    use std::time::{Duration, Instant};

    #[test]
    fn the_write_fence_opens_only_within_the_renew_deadline_of_a_good_renewal() {
        let fence = WriteFence::default();
        assert!(!fence.closed(), "no leader election: always open");
        fence.elect();
        assert!(fence.closed(), "elected but no renewal yet");
        fence.renewed(Instant::now(), Duration::from_secs(10));
        assert!(!fence.closed());
        // A renewal sent 11 s ago with a 10 s deadline: a process that slept (SIGSTOP) past it.
        fence.renewed(
            Instant::now() - Duration::from_secs(11),
            Duration::from_secs(10),
        );
        assert!(fence.closed());
        fence.renewed(Instant::now(), Duration::from_secs(10));
        fence.close();
        assert!(fence.closed(), "leadership lost");
    }

    /// A write is checked against the fence when it is about to be sent (the first poll of its
    /// future), not when it was handed to the client: one queued while the lease was held and
    /// sent after it lapsed (a process frozen in between) is refused.
    #[tokio::test]
    async fn a_write_queued_before_the_fence_closed_is_refused_when_it_is_sent() {
        use super::{Count, Fenced};
        use std::sync::Arc;
        use tower::Service;
        let fence = Arc::new(WriteFence::default());
        fence.elect();
        fence.renewed(Instant::now(), Duration::from_secs(10));
        let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut count = Count {
            inner: tower::service_fn({
                let sent = sent.clone();
                move |_req: http::Request<kube::client::Body>| {
                    let sent = sent.clone();
                    async move {
                        sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        Ok::<_, std::convert::Infallible>(http::Response::new(()))
                    }
                }
            }),
            metrics: Default::default(),
            reach: Default::default(),
            fence: fence.clone(),
        };
        let request = |method: &str, path: &str| {
            http::Request::builder()
                .method(method)
                .uri(path)
                .body(kube::client::Body::from(b"{}".to_vec()))
                .unwrap()
        };
        let queued = count.call(request(
            "POST",
            "/apis/apps/v1/namespaces/a/controllerrevisions",
        ));
        let read = count.call(request("GET", "/apis/apps/v1/namespaces/a/deployments/web"));
        let lease = count.call(request(
            "PUT",
            "/apis/coordination.k8s.io/v1/namespaces/a/leases/l",
        ));
        fence.close();
        let err = queued.await.expect_err("the write is refused");
        assert!(err.is::<Fenced>(), "{err}");
        assert!(read.await.is_ok(), "reads are not fenced");
        assert!(lease.await.is_ok(), "lease renewals are not fenced");
        assert_eq!(sent.load(std::sync::atomic::Ordering::SeqCst), 2);
        fence.renewed(Instant::now(), Duration::from_secs(10));
        let write = count.call(request(
            "PATCH",
            "/apis/apps/v1/namespaces/a/deployments/web",
        ));
        assert!(write.await.is_ok(), "the lease is held again");
    }

    #[test]
    fn the_api_server_is_unreachable_after_a_failure_or_a_long_wait_until_it_answers() {
        let reach = ApiReach::default();
        assert!(reach.unreachable().is_none());
        let id = reach.start();
        reach.finish(id, false);
        assert!(reach.unreachable().is_some(), "the last request failed");
        let id = reach.start();
        reach.finish(id, true);
        assert!(reach.unreachable().is_none(), "answered again");
        let id = reach.start();
        reach
            .in_flight
            .lock()
            .unwrap()
            .insert(id, std::time::Instant::now() - UNANSWERED_AFTER * 2);
        assert!(reach.unreachable().unwrap().contains("waited"));
        reach.finish(id, true);
        assert!(reach.unreachable().is_none());
    }

    #[test]
    fn requests_are_named_like_the_api_server_names_them() {
        assert_eq!(
            classify(
                "GET",
                "/apis/apps/v1/namespaces/a/deployments",
                Some("labelSelector=x&watch=true")
            ),
            ("watch", "deployments")
        );
        assert_eq!(
            classify("GET", "/api/v1/pods", Some("limit=500")),
            ("list", "pods")
        );
        assert_eq!(
            classify("GET", "/apis/apps/v1/namespaces/a/deployments/web", None),
            ("get", "deployments")
        );
        assert_eq!(
            classify(
                "PATCH",
                "/apis/ecs-operator.io/v1alpha1/namespaces/a/services/web/status",
                None
            ),
            ("patch", "services")
        );
        assert_eq!(
            classify(
                "PUT",
                "/apis/coordination.k8s.io/v1/namespaces/d/leases/l",
                None
            ),
            ("update", "leases")
        );
        assert_eq!(classify("GET", "/api/v1/nodes", None), ("list", "nodes"));
        assert_eq!(classify("GET", "/version", None), ("list", ""));
    }
}
