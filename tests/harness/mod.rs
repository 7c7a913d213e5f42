//! The e2e harness: a namespace per test (deleted at the end), waiting with deadlines and
//! messages that say what was awaited, and `kubectl` for what it does best.

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
