//! The operator's API client: kube-rs's default stack with one more layer that counts every
//! request by verb and resource, so the cost of a reconcile (zero when nothing changed) and
//! of an idle operator can be read from `/metrics`.

use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

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
pub async fn build(metrics: Arc<Metrics>) -> anyhow::Result<Client> {
    let mut config = Config::infer().await?;
    config.headers.push((
        http::header::USER_AGENT,
        http::HeaderValue::from_static(USER_AGENT),
    ));
    Ok(ClientBuilder::try_from(config)?
        .with_layer(&CountLayer { metrics })
        .build())
}

/// Counts each request in [`Metrics::request`].
#[derive(Clone)]
pub struct CountLayer {
    metrics: Arc<Metrics>,
}

impl<S> Layer<S> for CountLayer {
    type Service = Count<S>;
    fn layer(&self, inner: S) -> Count<S> {
        Count {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The counting service.
#[derive(Clone)]
pub struct Count<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S> Service<Request<Body>> for Count<S>
where
    S: Service<Request<Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let (verb, resource) = classify(req.method().as_str(), req.uri().path(), req.uri().query());
        self.metrics.request(verb, resource);
        self.inner.call(req)
    }
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
    use super::classify;

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
