//! A small JSON-over-HTTP client for what the deployment strategies talk to beside the API
//! server: lifecycle hook endpoints and the Alertmanager API. Plain `http://` (in-cluster
//! Services), a timeout on every request.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// How long one request may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A shared client (keeps connections).
#[derive(Clone)]
pub struct JsonClient {
    inner: Client<HttpConnector, Full<Bytes>>,
}

impl Default for JsonClient {
    fn default() -> Self {
        Self {
            inner: Client::builder(TokioExecutor::new()).build_http(),
        }
    }
}

impl JsonClient {
    /// `method` `url` with an optional JSON body: the status code and the body parsed as JSON
    /// (`Value::Null` when it is empty or not JSON), or why the request failed.
    pub async fn request(
        &self,
        method: http::Method,
        url: &str,
        headers: &[(String, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<(u16, serde_json::Value), String> {
        let mut req = http::Request::builder().method(method).uri(url);
        if body.is_some() {
            req = req.header(http::header::CONTENT_TYPE, "application/json");
        }
        req = req.header(http::header::ACCEPT, "application/json");
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        let req = req
            .body(Full::new(Bytes::from(bytes)))
            .map_err(|e| format!("invalid request to {url}: {e}"))?;
        let call = async {
            let resp = self
                .inner
                .request(req)
                .await
                .map_err(|e| format!("{url}: {e}"))?;
            let status = resp.status().as_u16();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("{url}: reading the answer: {e}"))?
                .to_bytes();
            Ok((
                status,
                serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
            ))
        };
        tokio::time::timeout(TIMEOUT, call)
            .await
            .map_err(|_| format!("{url}: no answer within {}s", TIMEOUT.as_secs()))?
    }
}
