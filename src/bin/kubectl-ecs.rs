//! `kubectl-ecs`: the `kubectl ecs` plugin (put it on PATH as `kubectl-ecs`). Parses the AWS
//! CLI's verbs and flags and dispatches; everything else is in `ecs_operator::cli::ecs`.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use ecs_operator::cli::deployment::Action;
use ecs_operator::cli::ecs::paging::{self, Verb as ListVerb};
use ecs_operator::cli::ecs::{
    Output, Response, Target, read_json, services, task_definitions, tasks,
};

#[derive(Parser)]
#[command(
    name = "kubectl-ecs",
    bin_name = "kubectl ecs",
    version,
    about = "The aws ecs verbs against ecs-operator's custom resources in the cluster your kubeconfig points at"
)]
struct Cli {
    /// The Kubernetes namespace (default: the kubeconfig context's).
    #[arg(short = 'n', long, global = true)]
    namespace: Option<String>,
    /// The kubeconfig context to use.
    #[arg(long, global = true)]
    context: Option<String>,
    /// The ECS cluster (a name or an ARN): Services and Tasks whose spec.cluster is it.
    #[arg(long, global = true, default_value = "default")]
    cluster: String,
    /// table (like kubectl get), json (ECS's response shapes), yaml, or text (the AWS CLI's).
    #[arg(short = 'o', long, global = true, default_value = "table")]
    output: Output,
    #[command(subcommand)]
    verb: Verb,
}

/// The paging flags of the list verbs, as the AWS CLI has them.
#[derive(Args, Clone, Debug, Default)]
struct Paging {
    /// The total number of items to print; when more remain, the output has a NextToken.
    #[arg(long)]
    max_items: Option<i64>,
    /// The NextToken of a previous answer: continue after its last item.
    #[arg(long)]
    starting_token: Option<String>,
    /// The size of each page read from the API server (its list limit); the output is the same.
    #[arg(long)]
    page_size: Option<i64>,
    /// ECS's maxResults (1-100): one page, with nextToken when more remain.
    #[arg(long)]
    max_results: Option<i64>,
    /// ECS's nextToken of a previous --max-results answer.
    #[arg(long)]
    next_token: Option<String>,
}

impl Paging {
    fn flags(&self) -> paging::Flags {
        paging::Flags {
            max_items: self.max_items,
            starting_token: self.starting_token.clone(),
            page_size: self.page_size,
            max_results: self.max_results,
            next_token: self.next_token.clone(),
        }
    }
}

#[derive(Subcommand)]
enum Verb {
    /// Describe services (ECS DescribeServices); a missing one is a failure with reason MISSING.
    DescribeServices {
        /// Service names or ARNs.
        #[arg(long, num_args = 1.., required = true)]
        services: Vec<String>,
        /// TAGS to include the services' tags.
        #[arg(long, num_args = 1..)]
        include: Vec<String>,
    },
    /// List the services of the cluster (ECS ListServices).
    ListServices {
        #[command(flatten)]
        paging: Paging,
    },
    /// Change a service's desired count or task definition, or start a new deployment.
    UpdateService {
        /// The service name or ARN.
        #[arg(long)]
        service: String,
        #[arg(long)]
        desired_count: Option<i32>,
        /// family, family:revision or a task definition ARN.
        #[arg(long)]
        task_definition: Option<String>,
        /// A new deployment even when nothing else changes (new tasks replace the old).
        #[arg(long, overrides_with = "no_force_new_deployment")]
        force_new_deployment: bool,
        #[arg(long)]
        no_force_new_deployment: bool,
    },
    /// Describe tasks (ECS DescribeTasks); a missing one is a failure with reason MISSING.
    DescribeTasks {
        /// Task ids (Task names, service tasks' pod names) or ARNs.
        #[arg(long, num_args = 1.., required = true)]
        tasks: Vec<String>,
        #[arg(long, num_args = 1..)]
        include: Vec<String>,
    },
    /// List the tasks of the cluster (ECS ListTasks): standalone Tasks and the services' tasks.
    ListTasks {
        #[arg(long)]
        family: Option<String>,
        /// Only with --desired-status: ECS takes no other filter with it.
        #[arg(long)]
        started_by: Option<String>,
        /// RUNNING (default) or STOPPED.
        #[arg(long, value_parser = ["RUNNING", "STOPPED"])]
        desired_status: Option<String>,
        /// The tasks of this service (a name or ARN).
        #[arg(long)]
        service_name: Option<String>,
        /// The tasks on this Kubernetes node (a node name or container instance ARN).
        #[arg(long)]
        container_instance: Option<String>,
        #[arg(long, value_parser = ["EC2", "FARGATE", "EXTERNAL", "MANAGED_INSTANCES"])]
        launch_type: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
    /// Run a task (ECS RunTask): creates a Task resource.
    RunTask {
        /// family, family:revision or a task definition ARN.
        #[arg(long)]
        task_definition: Option<String>,
        #[arg(long)]
        count: Option<i32>,
        #[arg(long)]
        group: Option<String>,
        #[arg(long)]
        started_by: Option<String>,
        #[arg(long, value_parser = ["EC2", "FARGATE", "EXTERNAL", "MANAGED_INSTANCES"])]
        launch_type: Option<String>,
        /// TaskOverride JSON, inline or file://PATH.
        #[arg(long)]
        overrides: Option<String>,
        /// A RunTask request as JSON, inline or file://PATH; the flags win.
        #[arg(long)]
        cli_input_json: Option<String>,
    },
    /// Stop a task (ECS StopTask). A service's task: its pod is deleted and the service starts
    /// a replacement.
    StopTask {
        /// The task id (a Task's name, or a service task's pod name) or ARN.
        #[arg(long)]
        task: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Register a task definition revision from register-task-definition JSON.
    RegisterTaskDefinition {
        /// The RegisterTaskDefinition request, file://PATH or inline JSON.
        #[arg(long)]
        cli_input_json: String,
    },
    /// Describe a task definition revision (family, family:revision or ARN).
    DescribeTaskDefinition {
        #[arg(long)]
        task_definition: String,
        #[arg(long, num_args = 1..)]
        include: Vec<String>,
    },
    /// List task definition revisions.
    ListTaskDefinitions {
        #[arg(long)]
        family_prefix: Option<String>,
        /// ACTIVE (default), INACTIVE or ALL.
        #[arg(long, value_parser = ["ACTIVE", "INACTIVE", "ALL"])]
        status: Option<String>,
        /// ASC (default) or DESC.
        #[arg(long, value_parser = ["ASC", "DESC"])]
        sort: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
    /// Mark a task definition revision INACTIVE.
    DeregisterTaskDefinition {
        /// family:revision or ARN.
        #[arg(long)]
        task_definition: String,
    },
    /// Continue a BLUE_GREEN/LINEAR/CANARY deployment waiting on a PAUSE hook.
    ContinueServiceDeployment {
        /// The currentServiceDeployment of describe-services.
        #[arg(long)]
        service_deployment_arn: String,
        /// The hook to continue (default: every paused hook of the current stage).
        #[arg(long)]
        hook_id: Option<String>,
    },
    /// Stop a deployment in progress and roll back (stopType ROLLBACK).
    StopServiceDeployment {
        #[arg(long)]
        service_deployment_arn: String,
        #[arg(long, default_value = "ROLLBACK", value_parser = ["ROLLBACK"])]
        stop_type: String,
    },
}

fn tags(include: &[String]) -> bool {
    include.iter().any(|i| i == "TAGS")
}

/// The paging a list verb's flags ask for, checked before any call to the cluster.
fn list_paging(verb: &Verb) -> Result<Option<(paging::Paging, u32)>, String> {
    let (flags, list) = match verb {
        Verb::ListServices { paging } => (paging.flags(), ListVerb::ListServices),
        Verb::ListTasks { paging, .. } => (paging.flags(), ListVerb::ListTasks),
        Verb::ListTaskDefinitions { paging, .. } => (paging.flags(), ListVerb::ListTaskDefinitions),
        _ => return Ok(None),
    };
    Ok(Some((flags.paging(list)?, flags.page_size())))
}

async fn dispatch(cli: Cli) -> Result<Response, String> {
    let checked = list_paging(&cli.verb)?;
    let mut t = Target::connect(
        cli.context.as_deref(),
        cli.namespace.as_deref(),
        Some(cli.cluster.as_str()).filter(|c| *c != "default"),
    )
    .await?;
    let paging = match checked {
        Some((p, page_size)) => {
            t.page_size = page_size;
            p
        }
        None => paging::Paging::All,
    };
    match cli.verb {
        Verb::DescribeServices { services, include } => {
            services::describe(&t, &services, tags(&include)).await
        }
        Verb::ListServices { .. } => services::list(&t, &paging).await,
        Verb::UpdateService {
            service,
            desired_count,
            task_definition,
            force_new_deployment,
            no_force_new_deployment: _,
        } => {
            let u = services::Update {
                desired_count,
                task_definition,
                force_new_deployment,
            };
            services::update(&t, &service, &u).await
        }
        Verb::DescribeTasks { tasks, include } => tasks::describe(&t, &tasks, tags(&include)).await,
        Verb::ListTasks {
            family,
            started_by,
            desired_status,
            service_name,
            container_instance,
            launch_type,
            paging: _,
        } => {
            let f = tasks::Filter {
                family,
                started_by,
                desired_status,
                service_name,
                container_instance,
                launch_type,
            };
            tasks::list(&t, &f, &paging).await
        }
        Verb::RunTask {
            task_definition,
            count,
            group,
            started_by,
            launch_type,
            overrides,
            cli_input_json,
        } => {
            let input = match cli_input_json {
                Some(raw) => read_json("--cli-input-json", &raw)?
                    .as_object()
                    .cloned()
                    .ok_or("--cli-input-json: expected a JSON object")?,
                None => Default::default(),
            };
            let overrides = overrides
                .map(|o| read_json("--overrides", &o))
                .transpose()?;
            let r = tasks::Run {
                input,
                task_definition,
                count,
                group,
                started_by,
                launch_type,
                overrides,
            };
            tasks::run(&t, &r).await
        }
        Verb::StopTask { task, reason } => tasks::stop(&t, &task, reason.as_deref()).await,
        Verb::RegisterTaskDefinition { cli_input_json } => {
            let input = read_json("--cli-input-json", &cli_input_json)?;
            task_definitions::register(&t, &input).await
        }
        Verb::DescribeTaskDefinition {
            task_definition,
            include,
        } => task_definitions::describe(&t, &task_definition, tags(&include)).await,
        Verb::ListTaskDefinitions {
            family_prefix,
            status,
            sort,
            paging: _,
        } => {
            let f = task_definitions::ListFilter {
                family_prefix,
                status,
                descending: sort.as_deref() == Some("DESC"),
            };
            task_definitions::list(&t, &f, &paging).await
        }
        Verb::DeregisterTaskDefinition { task_definition } => {
            task_definitions::deregister(&t, &task_definition).await
        }
        Verb::ContinueServiceDeployment {
            service_deployment_arn,
            hook_id,
        } => {
            services::deployment(
                &t,
                &service_deployment_arn,
                Action::Continue,
                hook_id.as_deref(),
            )
            .await
        }
        Verb::StopServiceDeployment {
            service_deployment_arn,
            stop_type: _,
        } => services::deployment(&t, &service_deployment_arn, Action::Stop, None).await,
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let output = cli.output;
    match dispatch(cli).await {
        Ok(response) => {
            let (stdout, stderr) = response.print(output);
            let _ = std::io::stdout().write_all(stdout.as_bytes());
            let _ = std::io::stderr().write_all(stderr.as_bytes());
            if response.failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
