//! `kubectl ecs`: the `aws ecs` verbs and flags for everyday work, against the custom resources
//! in the cluster the user's kubeconfig points at (their RBAC applies). The ECS `--cluster`
//! selects Services and Tasks by `spec.cluster` (`default` when they name none); the Kubernetes
//! namespace is `-n` or the kubeconfig context's. `--output json` prints ECS's response shapes,
//! `--output text` the AWS CLI's text of them; the default prints tables like `kubectl get`.
//!
//! Modules: [`arn`] (ECS identifiers), [`shapes`] (resources → ECS shapes), [`service_tasks`]
//! (a Service's pods → ECS tasks), [`table`] (the tables), [`text`] (the AWS CLI's text
//! output), [`paging`] (the AWS CLI's pagination), [`conform`] (checking JSON against the API
//! model's shapes) — all pure — [`tolerant`] (reading lists that one unreadable object does not
//! break), and the cluster calls of each verb group: [`services`], [`tasks`],
//! [`task_definitions`].

pub mod arn;
pub mod conform;
pub mod paging;
pub mod service_tasks;
pub mod services;
pub mod shapes;
pub mod table;
pub mod task_definitions;
pub mod tasks;
pub mod text;
pub mod tolerant;

use k8s_openapi::jiff::Timestamp;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::Value;

/// The field manager of every write.
pub const FIELD_MANAGER: &str = "kubectl-ecs";

/// How a response is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// Tables like `kubectl get` (failures on stderr).
    Table,
    /// ECS's response shape, indented like the AWS CLI's.
    Json,
    /// The same as YAML.
    Yaml,
    /// The AWS CLI's text output ([`text`]).
    Text,
}

impl std::str::FromStr for Output {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "table" => Ok(Output::Table),
            "json" => Ok(Output::Json),
            "yaml" => Ok(Output::Yaml),
            "text" => Ok(Output::Text),
            other => Err(format!(
                "--output {other}: expected table, json, yaml or text"
            )),
        }
    }
}

/// Where the verbs act: a client, the Kubernetes namespace and the ECS cluster.
#[derive(Clone)]
pub struct Target {
    pub client: Client,
    pub namespace: String,
    /// The ECS cluster name (`--cluster`, a name or an ARN; `default`).
    pub cluster: String,
    /// Whether `--cluster` was given (run-task then writes it into the Task).
    pub cluster_given: bool,
    /// The Kubernetes list `limit` of each page read (`--page-size`).
    pub page_size: u32,
}

impl Target {
    /// Connect with the kubeconfig (`KUBECONFIG`, `--context`) or the in-cluster account.
    pub async fn connect(
        context: Option<&str>,
        namespace: Option<&str>,
        cluster: Option<&str>,
    ) -> Result<Self, String> {
        let config = match context {
            Some(ctx) => {
                let kubeconfig = Kubeconfig::read().map_err(|e| format!("kubeconfig: {e}"))?;
                let options = KubeConfigOptions {
                    context: Some(ctx.to_string()),
                    ..KubeConfigOptions::default()
                };
                Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(|e| format!("kubeconfig context {ctx}: {e}"))?
            }
            None => Config::infer()
                .await
                .map_err(|e| format!("no cluster: {e}"))?,
        };
        let client = Client::try_from(config).map_err(|e| format!("no cluster: {e}"))?;
        let namespace = namespace
            .map(str::to_string)
            .unwrap_or_else(|| client.default_namespace().to_string());
        Ok(Target {
            client,
            namespace,
            cluster: shapes::cluster_of(cluster),
            cluster_given: cluster.is_some_and(|c| !c.is_empty()),
            page_size: paging::DEFAULT_PAGE_SIZE,
        })
    }

    /// Whether a resource's `spec.cluster` is this cluster.
    pub fn in_cluster(&self, spec_cluster: Option<&str>) -> bool {
        shapes::cluster_of(spec_cluster) == self.cluster
    }
}

/// A verb's answer: the ECS response, and its table.
pub struct Response {
    pub body: Value,
    pub table: String,
    /// Lines for stderr in table output (failures[]).
    pub notes: String,
    /// Lines for stderr whatever the output (warnings).
    pub warnings: String,
    /// Exit nonzero although there is an answer: an object asked for by name could not be
    /// read ([`tolerant`]); the answer names it.
    pub failed: bool,
}

impl Response {
    pub fn new(body: Value, table: String) -> Self {
        Response {
            body,
            table,
            notes: String::new(),
            warnings: String::new(),
            failed: false,
        }
    }

    /// What goes to stdout, and to stderr.
    pub fn print(&self, output: Output) -> (String, String) {
        match output {
            Output::Table => (
                self.table.clone(),
                self.warnings.clone() + &self.notes + &paging::note(&self.body),
            ),
            Output::Text => (text::format(&self.body), self.warnings.clone()),
            Output::Json => (json(&self.body), self.warnings.clone()),
            Output::Yaml => (
                serde_norway::to_string(&self.body).unwrap_or_default(),
                self.warnings.clone(),
            ),
        }
    }
}

/// JSON indented by four spaces, as the AWS CLI prints it.
pub fn json(v: &Value) -> String {
    use serde::Serialize;
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    let _ = v.serialize(&mut ser);
    String::from_utf8(out).unwrap_or_default() + "\n"
}

/// An API error as one line: what was being done, and the API server's message (a 403 names
/// RBAC).
pub fn api_error(what: &str, e: kube::Error) -> String {
    match e {
        kube::Error::Api(s) if s.code == 403 => {
            format!("{what}: forbidden (RBAC): {}", s.message)
        }
        kube::Error::Api(s) if s.code == 404 && s.message.contains("the server could not find") => {
            format!(
                "{what}: {} (are the ecs-operator CRDs installed?)",
                s.message
            )
        }
        kube::Error::Api(s) => format!("{what}: {} ({})", s.message, s.reason),
        other => format!("{what}: {other}"),
    }
}

/// An AWS CLI parameter value: `file://PATH` (a file's text), or the text itself.
pub fn read_parameter(raw: &str) -> Result<String, String> {
    match raw.strip_prefix("file://") {
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("{raw}: {e}")),
        None => Ok(raw.to_string()),
    }
}

/// A JSON parameter (`--cli-input-json`, `--overrides`): `file://PATH` or inline JSON.
pub fn read_json(flag: &str, raw: &str) -> Result<Value, String> {
    let text = read_parameter(raw)?;
    serde_json::from_str(&text).map_err(|e| format!("{flag}: not JSON: {e}"))
}

/// Now, for ages and timestamps.
pub fn now() -> Timestamp {
    Timestamp::now()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parameters_read_files_or_inline_json() {
        let path = std::env::temp_dir().join(format!("kubectl-ecs-{}.json", std::process::id()));
        std::fs::write(&path, r#"{"family": "web"}"#).unwrap();
        let v = read_json("--cli-input-json", &format!("file://{}", path.display())).unwrap();
        assert_eq!(v, json!({"family": "web"}));
        assert_eq!(
            read_json("--overrides", r#"{"a": 1}"#).unwrap(),
            json!({"a": 1})
        );
        assert!(
            read_json("--overrides", "{nope")
                .unwrap_err()
                .contains("not JSON")
        );
        assert!(read_parameter("file:///does/not/exist").is_err());
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn json_is_indented_like_the_aws_cli() {
        assert_eq!(
            json(&json!({"a": [1]})),
            "{\n    \"a\": [\n        1\n    ]\n}\n"
        );
        assert_eq!("json".parse::<Output>(), Ok(Output::Json));
        assert_eq!("text".parse::<Output>(), Ok(Output::Text));
        assert!(
            "csv"
                .parse::<Output>()
                .unwrap_err()
                .contains("--output csv")
        );
    }
}
