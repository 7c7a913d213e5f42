//! The e2e harness: a namespace per test (deleted at the end), waiting with deadlines and
//! messages that say what was awaited, and `kubectl` for what it does best.

// Each test crate uses a different part of the harness.
#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

/// A namespace for one test.
pub struct TestNamespace {
    pub name: String,
    pub client: Client,
}

impl TestNamespace {
    /// Connect (from KUBECONFIG) and create `<prefix>-<random>`. Panics with a clear message
    /// when there is no cluster: these tests only run when asked to.
    pub async fn new(prefix: &str) -> Self {
        let client = Client::try_default().await.unwrap_or_else(|e| {
            panic!("no Kubernetes cluster reachable ({e}); start one with scripts/cluster.sh up and eval \"$(scripts/cluster.sh env)\"")
        });
        let suffix = format!(
            "{:x}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let name = format!("{prefix}-{suffix}");
        let ns: Namespace = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {"ecs-operator.io/e2e": "true"}}})).unwrap();
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .unwrap_or_else(|e| panic!("creating namespace {name}: {e}"));
        TestNamespace { name, client }
    }

    /// A namespaced API in this namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }

    /// Delete the namespace (and so everything in it).
    pub async fn cleanup(self) {
        let _ = Api::<Namespace>::all(self.client.clone())
            .delete(&self.name, &DeleteParams::background())
            .await;
    }
}

/// Poll `check` every 500 ms until it returns `Some`, or panic after `timeout` saying what was awaited.
pub async fn wait_for<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Run kubectl (from PATH, as `scripts/cluster.sh env` sets it) and panic with its output on failure.
pub fn kubectl(args: &[&str]) -> String {
    let out = std::process::Command::new("kubectl")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("kubectl not runnable ({e}); eval \"$(scripts/cluster.sh env)\" first")
        });
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "kubectl {}: {}{}",
        args.join(" "),
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Apply YAML to a namespace with kubectl (server-side, as GitOps tools do).
pub fn apply_yaml(namespace: &str, yaml: &str) -> String {
    let path =
        std::env::temp_dir().join(format!("ecs-operator-e2e-{namespace}-{}.yaml", short_id()));
    std::fs::write(&path, yaml).unwrap();
    let out = kubectl(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "-n",
        namespace,
        "-f",
        path.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_file(&path);
    out
}

/// A short unique id.
pub fn short_id() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            % 0xffff_ffff
    )
}

/// Where the operator under test serves /metrics (scripts/test.sh starts it).
pub fn metrics_url() -> String {
    std::env::var("ECS_OPERATOR_METRICS_ADDR").unwrap_or_else(|_| "127.0.0.1:18080".into())
}

/// The operator's write calls so far (apply, create, delete, status), leaving out Events.
pub async fn operator_writes() -> u64 {
    metric_sum(|l| {
        l.starts_with("ecs_operator_api_writes_total{") && !l.contains("resource=\"events\"")
    })
    .await
}

/// Every request the operator sent to the API server except its watches (long-lived, one per
/// kind) and its leader-election lease renewals (a constant few per minute).
pub async fn operator_requests() -> u64 {
    metric_sum(|l| {
        l.starts_with("ecs_operator_api_requests_total{")
            && !l.contains("verb=\"watch\"")
            && !l.contains("resource=\"leases\"")
    })
    .await
}

async fn metric_sum(keep: impl Fn(&str) -> bool) -> u64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = metrics_url();
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .unwrap_or_else(|e| {
            panic!("the operator is not serving metrics on {addr} ({e}); scripts/test.sh starts it")
        });
    stream
        .write_all(format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut body = String::new();
    stream.read_to_string(&mut body).await.unwrap();
    body.lines()
        .filter(|l| keep(l))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}
