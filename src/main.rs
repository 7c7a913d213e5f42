//! `ecs-operator`: the binary. Parses flags and dispatches; everything else is in the library.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use ecs_operator::cli::{import, manifest, render};
use ecs_operator::crdgen;
use ecs_operator::translate::{Options, SecurityPolicy};

#[derive(Parser)]
#[command(
    name = "ecs-operator",
    version,
    about = "Run Amazon ECS task definitions and services on Kubernetes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Translate custom resources (YAML/JSON) to the Kubernetes objects the operator would create.
    Render {
        /// A file, a directory of .yaml/.yml/.json files, or - for standard input.
        #[arg(short = 'f', long = "filename")]
        file: String,
        #[command(flatten)]
        policy: PolicyFlags,
    },
    /// Check custom resources and report every problem, without printing objects.
    Validate {
        /// A file, a directory of .yaml/.yml/.json files, or - for standard input.
        #[arg(short = 'f', long = "filename")]
        file: String,
        #[command(flatten)]
        policy: PolicyFlags,
    },
    /// Convert what a team has (AWS CLI/API JSON, describe dumps, console skeletons, ecspresso
    /// and CI templates, CloudFormation/CDK templates, terraform show -json) to custom
    /// resources; the migration report goes to stderr.
    Import(ImportFlags),
    /// Run the operator: reconcile TaskDefinitions, Services, Tasks and Clusters in the cluster
    /// the kubeconfig (or in-cluster service account) points at.
    Run(RunFlags),
    /// Continue or stop (roll back) a Service's BLUE_GREEN, LINEAR or CANARY deployment in the
    /// cluster: ECS's ContinueServiceDeployment and StopServiceDeployment, as the annotations
    /// ecs-operator.io/continue-deployment and ecs-operator.io/stop-deployment.
    Deployment {
        #[command(subcommand)]
        action: DeploymentAction,
    },
    /// Print the CustomResourceDefinitions (or write one file per CRD into a directory).
    Crd {
        /// Write `<plural>.<group>.yaml` files here instead of printing.
        #[arg(long)]
        out_dir: Option<std::path::PathBuf>,
    },
}

/// `deployment` subcommands.
#[derive(Subcommand, Clone, Debug)]
enum DeploymentAction {
    /// Continue a deployment waiting on a PAUSE lifecycle hook.
    Continue {
        /// The Service (metadata.name).
        service: String,
        #[arg(short = 'n', long)]
        namespace: Option<String>,
        /// The hook to continue (status.serviceDeployment.lifecycleHookDetails[].hookId);
        /// default: every paused hook of the current stage.
        #[arg(long)]
        hook_id: Option<String>,
    },
    /// Stop the deployment in progress and roll back to the revision it replaces.
    Stop {
        service: String,
        #[arg(short = 'n', long)]
        namespace: Option<String>,
    },
}

/// Flags of `import`.
#[derive(Args, Clone, Debug)]
struct ImportFlags {
    /// A file, a directory (all of it is one input), or - for standard input.
    file: String,
    /// Namespace to put on the resources.
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// The service name, where a service definition has no serviceName (default: the file name).
    #[arg(long)]
    name: Option<String>,
    /// The task definition (family or family:N) a service or task runs, where it names none
    /// (default: the only task definition in the input, else the file name).
    #[arg(long)]
    task_definition: Option<String>,
    /// The cluster, where a service or task names none.
    #[arg(long)]
    cluster: Option<String>,
    /// A template placeholder's value (repeat): VAR=value.
    #[arg(long = "set", value_name = "VAR=VALUE")]
    set: Vec<String>,
    /// A file of VAR=value lines (# comments, optional `export`, optional quotes).
    #[arg(long)]
    env_file: Vec<std::path::PathBuf>,
    /// A CloudFormation parameter's value (repeat): Name=value.
    #[arg(long = "parameter", value_name = "NAME=VALUE")]
    parameter: Vec<String>,
    /// The AWS Copilot environment whose `environments.<ENV>` override applies to a manifest.
    #[arg(long, value_name = "ENV")]
    environment: Option<String>,
    /// The migration report as JSON: `json` prints it on stderr instead of text, `json=FILE`
    /// writes it to FILE as well.
    #[arg(long)]
    report: Option<String>,
}

/// Flags of `run`; each also reads an `ECS_OPERATOR_*` environment variable.
#[derive(Args, Clone, Debug)]
struct RunFlags {
    /// Namespaces to watch (repeat, or comma-separate); none means all namespaces.
    #[arg(
        long = "namespace",
        env = "ECS_OPERATOR_NAMESPACES",
        value_delimiter = ','
    )]
    namespaces: Vec<String>,
    /// Elect a leader through a Lease, so several replicas are safe.
    #[arg(long, env = "ECS_OPERATOR_LEADER_ELECT", default_value_t = true, action = clap::ArgAction::Set)]
    leader_elect: bool,
    /// Namespace of the leader-election Lease.
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    lease_namespace: String,
    /// Name of the leader-election Lease.
    #[arg(long, env = "ECS_OPERATOR_LEASE_NAME", default_value = "ecs-operator")]
    lease_name: String,
    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, env = "ECS_OPERATOR_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    http_addr: std::net::SocketAddr,
    /// Reconciles at once per controller.
    #[arg(long, env = "ECS_OPERATOR_CONCURRENCY", default_value_t = 16)]
    concurrency: u16,
    /// Milliseconds a burst of changes to one object is gathered into one reconcile (trailing
    /// edge: a pod's start-up events become one status computation, not one each).
    #[arg(long, env = "ECS_OPERATOR_DEBOUNCE_MS", default_value_t = 500)]
    debounce_ms: u64,
    /// Alertmanager-compatible API (`GET /api/v2/alerts`) whose alerts are the ECS deployment
    /// alarms of BLUE_GREEN, LINEAR and CANARY services (alert label alertname = alarm name).
    #[arg(long, env = "ECS_OPERATOR_ALERTMANAGER_URL")]
    alertmanager_url: Option<String>,
    /// Log format: text or json.
    #[arg(long, env = "ECS_OPERATOR_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    /// Log level (a tracing filter such as info or ecs_operator=debug); RUST_LOG overrides it.
    #[arg(long, env = "ECS_OPERATOR_LOG_LEVEL", default_value = "info")]
    log_level: String,
    #[command(flatten)]
    policy: PolicyFlags,
}

/// The security policy: host-level features the generated pods may use.
#[derive(Args, Clone, Debug, Default)]
struct PolicyFlags {
    /// Allow privileged containers.
    #[arg(long, env = "ECS_OPERATOR_ALLOW_PRIVILEGED")]
    allow_privileged: bool,
    /// Allow host networking (networkMode host).
    #[arg(long, env = "ECS_OPERATOR_ALLOW_HOST_NETWORK")]
    allow_host_network: bool,
    /// Allow the host PID namespace (pidMode host).
    #[arg(long, env = "ECS_OPERATOR_ALLOW_HOST_PID")]
    allow_host_pid: bool,
    /// Allow the host IPC namespace (ipcMode host).
    #[arg(long, env = "ECS_OPERATOR_ALLOW_HOST_IPC")]
    allow_host_ipc: bool,
    /// Allow host-path volumes (volumes[].host.sourcePath).
    #[arg(long, env = "ECS_OPERATOR_ALLOW_HOST_PATH")]
    allow_host_path: bool,
    /// Allow host devices (linuxParameters.devices).
    #[arg(long, env = "ECS_OPERATOR_ALLOW_HOST_DEVICES")]
    allow_host_devices: bool,
    /// Allow adding capabilities beyond the default set (linuxParameters.capabilities.add of
    /// e.g. NET_ADMIN, SYS_ADMIN, SYS_PTRACE).
    #[arg(long, env = "ECS_OPERATOR_ALLOW_CAPABILITIES")]
    allow_capabilities: bool,
    /// Render as for a namespace with this Pod Security level (baseline or restricted), as the
    /// operator does for a namespace labelled pod-security.kubernetes.io/enforce.
    #[arg(long, value_parser = ["baseline", "restricted"])]
    pod_security: Option<String>,
}

impl PolicyFlags {
    fn options(&self) -> Options {
        Options {
            policy: SecurityPolicy {
                allow_privileged: self.allow_privileged,
                allow_host_network: self.allow_host_network,
                allow_host_pid: self.allow_host_pid,
                allow_host_ipc: self.allow_host_ipc,
                allow_host_path: self.allow_host_path,
                allow_host_devices: self.allow_host_devices,
                allow_capabilities: self.allow_capabilities,
                namespace: None,
            },
            pod_security: match self.pod_security.as_deref() {
                Some("restricted") => {
                    Some(ecs_operator::translate::pod_security::Level::Restricted)
                }
                Some("baseline") => Some(ecs_operator::translate::pod_security::Level::Baseline),
                _ => None,
            },
            ..Options::default()
        }
    }
}

/// Exit code for input that is readable but invalid.
const INVALID: u8 = 1;
/// Exit code for unreadable input.
const UNREADABLE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Render { file, policy } => render_cmd(&file, &policy.options(), true),
        Command::Validate { file, policy } => render_cmd(&file, &policy.options(), false),
        Command::Import(flags) => import_cmd(flags),
        Command::Crd { out_dir } => crd_cmd(out_dir.as_deref()),
        Command::Deployment { action } => deployment_cmd(action),
        Command::Run(flags) => run_cmd(flags),
    }
}

fn deployment_cmd(action: DeploymentAction) -> ExitCode {
    use ecs_operator::cli::deployment::{Action, run};
    let (ns, service, action, hook) = match action {
        DeploymentAction::Continue {
            service,
            namespace,
            hook_id,
        } => (namespace, service, Action::Continue, hook_id),
        DeploymentAction::Stop { service, namespace } => (namespace, service, Action::Stop, None),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(ns.as_deref(), &service, action, hook.as_deref())) {
        Ok(msg) => {
            println!("{msg}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_cmd(flags: RunFlags) -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&flags.log_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if flags.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
    let identity = std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| format!("ecs-operator-{}", std::process::id()));
    let config = ecs_operator::controller::run::RunConfig {
        namespaces: flags
            .namespaces
            .into_iter()
            .filter(|n| !n.is_empty())
            .collect(),
        leader_elect: flags.leader_elect,
        lease_namespace: flags.lease_namespace,
        lease_name: flags.lease_name,
        identity: format!("{identity}-{}", std::process::id()),
        http_addr: flags.http_addr,
        concurrency: flags.concurrency.max(1),
        debounce: std::time::Duration::from_millis(flags.debounce_ms.min(10_000)),
        options: flags.policy.options(),
        alertmanager_url: flags.alertmanager_url.filter(|u| !u.is_empty()),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(UNREADABLE);
        }
    };
    match runtime.block_on(ecs_operator::controller::run::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "operator stopped");
            ExitCode::from(INVALID)
        }
    }
}

fn render_cmd(file: &str, options: &Options, print: bool) -> ExitCode {
    let docs = match manifest::read_documents(file) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(UNREADABLE);
        }
    };
    if docs.is_empty() {
        eprintln!("error: {file}: no documents");
        return ExitCode::from(UNREADABLE);
    }
    let out = render::render(&docs, options);
    for w in &out.warnings {
        eprintln!("warning: {w}");
    }
    for e in &out.errors {
        eprintln!("error: {e}");
    }
    if !out.errors.is_empty() {
        eprintln!("{} error(s); nothing rendered", out.errors.len());
        return ExitCode::from(INVALID);
    }
    if print {
        let _ = std::io::stdout().write_all(render::to_yaml(&out.objects).as_bytes());
    } else {
        eprintln!(
            "valid: {} document(s), {} warning(s)",
            docs.len(),
            out.warnings.len()
        );
    }
    ExitCode::SUCCESS
}

fn import_cmd(flags: ImportFlags) -> ExitCode {
    let report_file = match flags.report.as_deref() {
        None => None,
        Some("json") => Some(None),
        Some(r) => match r.strip_prefix("json=") {
            Some(f) => Some(Some(f.to_string())),
            None => {
                eprintln!("error: --report takes json or json=FILE, not '{r}'");
                return ExitCode::from(UNREADABLE);
            }
        },
    };
    let mut options = import::Options {
        namespace: flags.namespace,
        name: flags.name,
        task_definition: flags.task_definition,
        cluster: flags.cluster,
        environment: flags.environment,
        ..import::Options::default()
    };
    for f in &flags.env_file {
        match std::fs::read_to_string(f) {
            Ok(text) => options.vars.extend(import::parse_env_file(&text)),
            Err(e) => {
                eprintln!("error: --env-file {}: {e}", f.display());
                return ExitCode::from(UNREADABLE);
            }
        }
    }
    for (flag, pairs, into) in [
        ("--set", &flags.set, &mut options.vars),
        ("--parameter", &flags.parameter, &mut options.parameters),
    ] {
        for p in pairs {
            match p.split_once('=') {
                Some((k, v)) if !k.is_empty() => {
                    into.insert(k.to_string(), v.to_string());
                }
                _ => {
                    eprintln!("error: {flag} takes NAME=VALUE, not '{p}'");
                    return ExitCode::from(UNREADABLE);
                }
            }
        }
    }
    let out = match import::import_path(&flags.file, &options) {
        Ok(out) => out,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(UNREADABLE);
        }
    };
    let json = serde_json::to_string_pretty(&out.report.to_json()).unwrap_or_default();
    match report_file {
        // --report json: the report on stderr as JSON instead of text.
        Some(None) => eprintln!("{json}"),
        _ => eprint!("{}", out.report.to_text()),
    }
    if let Some(Some(f)) = report_file
        && let Err(e) = std::fs::write(&f, json + "\n")
    {
        eprintln!("error: --report json={f}: {e}");
        return ExitCode::from(UNREADABLE);
    }
    if !out.report.is_ok() {
        let n = out.report.of(import::Fate::Refused).count();
        eprintln!("{n} error(s); nothing imported");
        return ExitCode::from(INVALID);
    }
    let _ = std::io::stdout().write_all(render::to_yaml(&out.resources).as_bytes());
    ExitCode::SUCCESS
}

fn crd_cmd(out_dir: Option<&std::path::Path>) -> ExitCode {
    for (name, crd) in crdgen::all() {
        let yaml = crdgen::to_yaml(&crd);
        match out_dir {
            Some(dir) => {
                if let Err(e) =
                    std::fs::create_dir_all(dir).and_then(|_| std::fs::write(dir.join(name), yaml))
                {
                    eprintln!("error: {}: {e}", dir.display());
                    return ExitCode::from(UNREADABLE);
                }
            }
            None => print!("{yaml}"),
        }
    }
    ExitCode::SUCCESS
}
