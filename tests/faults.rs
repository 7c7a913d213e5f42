//! The fault-injection suite (issue 12; docs/reliability.md has its table): the operator,
//! started here as a process with a ServiceAccount's kubeconfig, against the live local
//! control plane, which the tests break on purpose — SIGKILLs of the operator mid-rollout,
//! kube-apiserver and etcd restarts, a frozen API server, etcd compaction (410 Gone relists),
//! a leader killed or frozen beside a standby (proven from the audit log), API Priority and
//! Fairness throttling, KWOK nodes deleted and re-added under load. Every scenario asserts
//! convergence: the right revision COMPLETED, the right task count, no orphan or duplicate
//! children, no lost status history; each appends its row to the table.
//!
//! `scripts/faults.sh` sets the cluster up (its own, with an audit policy) and runs these;
//! `#[ignore]`d otherwise, and outside that script they fail loudly, naming it.

mod harness;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ecs_operator::api::{Service, ServiceStatus, Task};
use futures::StreamExt;
use harness::{TestNamespace, apply_yaml, kubectl, wait_for};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams};
use kube::runtime::watcher;
use serde_json::{Value, json};

type Timestamp = k8s_openapi::jiff::Timestamp;

// ---------------------------------------------------------------------------------------------
// The suite's environment (scripts/faults.sh) and the operator processes
// ---------------------------------------------------------------------------------------------

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: the fault-injection tests run through scripts/faults.sh, which builds their cluster")
    })
}

fn number(name: &str) -> u64 {
    var(name).parse().unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn work_dir() -> PathBuf {
    PathBuf::from(var("FAULTS_WORK"))
}

/// One row of docs/reliability.md's table.
fn record(scenario: &str, runs: u64, survived: u64, lost: &str, converge: &str, notes: &str) {
    let row = json!({"scenario": scenario, "runs": runs, "survived": format!("{survived}/{runs}"),
        "lost": lost, "converge": converge, "notes": notes});
    println!("RESULT {row}");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(var("FAULTS_RESULTS"))
        .expect("the results file");
    writeln!(f, "{row}").unwrap();
}

/// Run scripts/cluster.sh (restart, compact, pid) on the suite's cluster.
fn cluster(args: &[&str]) -> String {
    let out = Command::new(var("FAULTS_CLUSTER_SH"))
        .args(args)
        .output()
        .expect("scripts/cluster.sh");
    assert!(
        out.status.success(),
        "cluster.sh {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn signal(pid: &str, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, pid])
        .status()
        .map(|s| s.success());
    assert!(matches!(ok, Ok(true)), "kill {sig} {pid}");
}

/// A small deterministic random source (printed seed): kill moments, victims.
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        let seed = std::env::var("FAULTS_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        println!("FAULTS_SEED={seed} (set it to replay these moments)");
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.next() % (hi - lo))
    }
}

/// The operator as a process: `ecs-operator run` with a ServiceAccount's kubeconfig.
struct Operator {
    name: String,
    kubeconfig: String,
    port: u16,
    args: Vec<String>,
    child: Option<Child>,
    starts: u32,
}

impl Operator {
    /// `name` is its log file and POD_NAME (the lease identity is `<name>-<pid>`).
    fn start(name: &str, kubeconfig: &str, port: u16, leader_elect: bool) -> Self {
        let mut op = Operator {
            name: name.to_string(),
            kubeconfig: kubeconfig.to_string(),
            port,
            args: vec![
                "run".into(),
                "--http-addr".into(),
                format!("127.0.0.1:{port}"),
                "--lease-namespace".into(),
                var("FAULTS_OPERATOR_NAMESPACE"),
                "--lease-name".into(),
                "ecs-faults".into(),
                "--leader-elect".into(),
                leader_elect.to_string(),
            ],
            child: None,
            starts: 0,
        };
        op.spawn();
        op
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(work_dir().join(format!("{}.log", self.name)))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_ecs-operator"))
            .args(&self.args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("POD_NAME", &self.name)
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start the operator");
        self.child = Some(child);
        self.starts += 1;
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    fn identity(&self) -> String {
        format!("{}-{}", self.name, self.pid())
    }

    /// SIGKILL (no shutdown, no lease release) and reap.
    fn sigkill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn restart(&mut self) {
        self.sigkill();
        self.spawn();
    }

    fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The HTTP status of a GET on its own server (None: no answer).
    async fn get(&self, path: &str) -> Option<(u16, String)> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let fut = async {
            let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .ok()?;
            s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
                .await
                .ok()?;
            let mut body = String::new();
            s.read_to_string(&mut body).await.ok()?;
            let code = body.split_whitespace().nth(1)?.parse().ok()?;
            Some((code, body))
        };
        tokio::time::timeout(Duration::from_secs(3), fut)
            .await
            .ok()
            .flatten()
    }

    async fn ready(&self) -> Option<u16> {
        self.get("/readyz").await.map(|(code, _)| code)
    }

    async fn wait_ready(&self) {
        wait_for(
            Duration::from_secs(60),
            &format!("operator {} /readyz 200", self.name),
            || async { (self.ready().await == Some(200)).then_some(()) },
        )
        .await;
    }

    /// The sum of a counter family on its /metrics (requests it sent, by the client layer).
    async fn counter(&self, family: &str) -> f64 {
        let (_, body) = self.get("/metrics").await.unwrap_or_default();
        body.lines()
            .filter(|l| l.starts_with(family))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(work_dir().join(format!("{}.log", self.name))).unwrap_or_default()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.sigkill();
    }
}

async fn lease_holder(client: &kube::Client) -> Option<String> {
    Api::<Lease>::namespaced(client.clone(), &var("FAULTS_OPERATOR_NAMESPACE"))
        .get_opt("ecs-faults")
        .await
        .ok()??
        .spec?
        .holder_identity
}

/// The kube-controller-manager's lease: (holder, last renewal).
async fn controller_manager_lease(client: &kube::Client) -> Option<(String, Timestamp)> {
    let spec = Api::<Lease>::namespaced(client.clone(), "kube-system")
        .get_opt("kube-controller-manager")
        .await
        .ok()??
        .spec?;
    Some((spec.holder_identity?, spec.renew_time?.0))
}

/// After a control-plane restart begun at `since` (wall clock `at`): how long until a
/// kube-controller-manager renews its lease again (until then no Deployment rolls, whatever the
/// operator does), and whether it is a new process.
async fn controller_manager_back(client: &kube::Client, at: Timestamp, since: Instant) -> String {
    let before = controller_manager_lease(client).await.map(|(h, _)| h);
    for _ in 0..240 {
        if let Some((holder, renewed)) = controller_manager_lease(client).await
            && renewed > at
        {
            let who = if Some(&holder) == before.as_ref() {
                "the same"
            } else {
                "a new"
            };
            return format!(
                "{who} controller-manager renewed its lease {} after the restart began",
                secs(since.elapsed())
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    "no controller-manager renewed its lease within 120 s".into()
}

// ---------------------------------------------------------------------------------------------
// Workloads and what converged means
// ---------------------------------------------------------------------------------------------

fn task_definition(family: &str, image: &str, cpu: u32, annotations: &str) -> String {
    format!(
        r#"
apiVersion: ecs-operator.io/v1alpha1
kind: TaskDefinition
metadata: {{name: {family}}}
spec:
  family: {family}
  networkMode: awsvpc
  containerDefinitions:
  - name: app
    image: "{image}"
    cpu: {cpu}
    memory: 64
    portMappings: [{{containerPort: 8080, name: http}}]
  kubernetes:
    annotations: {{{annotations}}}
"#
    )
}

fn service(name: &str, desired: i32, extra: &str) -> String {
    format!(
        r#"
apiVersion: ecs-operator.io/v1alpha1
kind: Service
metadata: {{name: {name}}}
spec:
  serviceName: {name}
  taskDefinition: {name}
  desiredCount: {desired}
  deploymentConfiguration:
    maximumPercent: 200
    minimumHealthyPercent: 50
    deploymentCircuitBreaker: {{enable: true, rollback: true}}
{extra}
"#
    )
}

fn daemon_service(name: &str) -> String {
    format!(
        r#"
apiVersion: ecs-operator.io/v1alpha1
kind: Service
metadata: {{name: {name}}}
spec:
  serviceName: {name}
  taskDefinition: {name}
  schedulingStrategy: DAEMON
  deploymentConfiguration: {{maximumPercent: 100, minimumHealthyPercent: 0}}
"#
    )
}

const CAPACITY_CLUSTER: &str = r#"
apiVersion: ecs-operator.io/v1alpha1
kind: Cluster
metadata: {name: prod}
spec:
  capacityProviders: [on-demand, spot]
  defaultCapacityProviderStrategy:
  - {capacityProvider: on-demand, base: 1, weight: 1}
  - {capacityProvider: spot, weight: 1}
"#;

fn batch_task(name: &str) -> String {
    format!(
        r#"
apiVersion: ecs-operator.io/v1alpha1
kind: Task
metadata: {{name: {name}}}
spec: {{taskDefinition: batch, count: 1}}
"#
    )
}

const BATCH_TASK_DEFINITION: &str = r#"
apiVersion: ecs-operator.io/v1alpha1
kind: TaskDefinition
metadata: {name: batch}
spec:
  containerDefinitions:
  - {name: main, image: busybox, memory: 32, essential: true}
  - {name: sidecar, image: busybox, memory: 32, essential: false}
  kubernetes:
    annotations:
      ecs-operator.io/simulate: container-exit
      ecs-operator.io/simulate-container: main
      ecs-operator.io/simulate-exit-code: "7"
      ecs-operator.io/simulate-after: 3s
"#;

async fn status(ns: &TestNamespace, name: &str) -> Option<ServiceStatus> {
    ns.api::<Service>().get(name).await.ok()?.status
}

/// The Service's only deployment runs `td`, COMPLETED, with `running` tasks.
fn settled(st: &ServiceStatus, td: &str, running: i32) -> bool {
    st.deployments.len() == 1
        && st.deployments[0].task_definition == td
        && st.deployments[0].rollout_state.as_deref() == Some("COMPLETED")
        && st.running_count == running
        && st.desired_count == running
}

/// How many of the namespace's Services are settled on their first revision with `running`
/// tasks (None: the list failed).
async fn services_settled(ns: &TestNamespace, running: i32) -> Option<usize> {
    let list = ns
        .api::<Service>()
        .list(&ListParams::default())
        .await
        .ok()?;
    Some(
        list.items
            .iter()
            .filter(|s| {
                let first = format!("{}:1", s.metadata.name.as_deref().unwrap_or_default());
                s.status
                    .as_ref()
                    .is_some_and(|st| settled(st, &first, running))
            })
            .count(),
    )
}

/// Every Deployment and DaemonSet in the namespace has exactly its desired pods, all ready
/// and updated (no surge or old pods left).
async fn children_settled(ns: &TestNamespace) -> bool {
    let Ok(deployments) = ns.api::<Deployment>().list(&ListParams::default()).await else {
        return false;
    };
    let deployments_ok = deployments.items.iter().all(|d| {
        let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        d.status.as_ref().is_some_and(|s| {
            s.replicas.unwrap_or(0) == want
                && s.ready_replicas.unwrap_or(0) == want
                && s.updated_replicas.unwrap_or(0) == want
                && s.observed_generation == d.metadata.generation
        })
    });
    let Ok(daemons) = ns.api::<DaemonSet>().list(&ListParams::default()).await else {
        return false;
    };
    let daemons_ok = daemons.items.iter().all(|d| {
        d.status.as_ref().is_some_and(|s| {
            s.number_ready == s.desired_number_scheduled
                && s.updated_number_scheduled == Some(s.desired_number_scheduled)
                && s.current_number_scheduled == s.desired_number_scheduled
        })
    });
    deployments_ok && daemons_ok
}

/// The names of the namespace's Deployments and DaemonSets.
async fn children(ns: &TestNamespace) -> (BTreeSet<String>, BTreeSet<String>) {
    let names = |items: Vec<Option<String>>| items.into_iter().flatten().collect();
    let d = ns
        .api::<Deployment>()
        .list(&ListParams::default())
        .await
        .unwrap();
    let s = ns
        .api::<DaemonSet>()
        .list(&ListParams::default())
        .await
        .unwrap();
    (
        names(d.items.into_iter().map(|o| o.metadata.name).collect()),
        names(s.items.into_iter().map(|o| o.metadata.name).collect()),
    )
}

/// Status history: no event or deployment id twice, and every event from before the faults
/// still there unless newer ones filled the list (ECS keeps the latest).
fn history_kept(name: &str, before: &ServiceStatus, after: &ServiceStatus) -> Result<(), String> {
    let ids: Vec<&str> = after.events.iter().map(|e| e.id.as_str()).collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    if unique.len() != ids.len() {
        return Err(format!("{name}: an event id appears twice: {ids:?}"));
    }
    let deployment_ids: Vec<&str> = after.deployments.iter().map(|d| d.id.as_str()).collect();
    if deployment_ids.iter().collect::<HashSet<_>>().len() != deployment_ids.len() {
        return Err(format!("{name}: a deployment id appears twice"));
    }
    let full = after.events.len() >= ecs_operator::controller::service_status::MAX_EVENTS;
    let missing: Vec<&str> = before
        .events
        .iter()
        .map(|e| e.id.as_str())
        .filter(|id| !unique.contains(id))
        .collect();
    if !full && !missing.is_empty() {
        return Err(format!(
            "{name}: events from before the faults were lost: {missing:?} (now {} events)",
            after.events.len()
        ));
    }
    Ok(())
}

/// Every pod UID ever seen with a label selector (a watch from before the work starts): a
/// Task must have started exactly one pod per task, whatever was killed meanwhile.
fn watch_pods(ns: &TestNamespace, selector: &str) -> Arc<Mutex<BTreeMap<String, String>>> {
    let seen = Arc::new(Mutex::new(BTreeMap::new()));
    let api = ns.api::<Pod>();
    let cfg = watcher::Config::default().labels(selector);
    let out = seen.clone();
    tokio::spawn(async move {
        let mut stream = watcher(api, cfg).boxed();
        while let Some(ev) = stream.next().await {
            if let Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) = ev {
                let task = p
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("ecs-operator.io/task").cloned())
                    .unwrap_or_default();
                if let Some(uid) = p.metadata.uid {
                    out.lock().unwrap().insert(uid, task);
                }
            }
        }
    });
    seen
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

// ---------------------------------------------------------------------------------------------
// 1. SIGKILLs of the operator at random moments of five kinds of work
// ---------------------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "fault injection: scripts/faults.sh"]
async fn sigkills_mid_rollout_lose_and_duplicate_nothing() {
    let kills = number("FAULTS_KILLS");
    let ns = TestNamespace::new("faults-kill").await;
    let mut rng = Rng::new();
    let mut op = Operator::start("kill", &var("FAULTS_KUBECONFIG_A"), 18301, false);
    op.wait_ready().await;
    let rev = |family: &str, i: u64| task_definition(family, &format!("nginx:fault-{i}"), 16, "");
    apply_yaml(
        &ns.name,
        &[
            rev("web", 0),
            service("web", 4, ""),
            rev("shop", 0),
            service("shop", 2, ""),
            CAPACITY_CLUSTER.to_string(),
            rev("mixed", 0),
            service("mixed", 5, "  cluster: prod\n"),
            rev("agent", 0),
            daemon_service("agent"),
            BATCH_TASK_DEFINITION.to_string(),
        ]
        .join("---"),
    );
    let daemon_nodes = Api::<Node>::all(ns.client.clone())
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|n| {
            n.spec
                .as_ref()
                .and_then(|s| s.taints.as_ref())
                .is_none_or(|t| t.is_empty())
        })
        .count() as i32;
    let expect = |last: u64| {
        vec![
            ("web", format!("web:{}", last + 1), 4),
            ("shop", "shop:1".to_string(), 2),
            ("mixed", format!("mixed:{}", last + 1), 5),
            ("agent", format!("agent:{}", last + 1), daemon_nodes),
        ]
    };
    let converged = |last: u64| {
        let expect = expect(last);
        let ns = &ns;
        async move {
            for (name, td, running) in &expect {
                if !settled(&status(ns, name).await?, td, *running) {
                    return None;
                }
            }
            children_settled(ns).await.then_some(())
        }
    };
    wait_for(
        Duration::from_secs(180),
        "the first revisions COMPLETED",
        || converged(0),
    )
    .await;
    let children_before = children(&ns).await;
    let mut before = BTreeMap::new();
    for name in ["web", "shop", "mixed", "agent"] {
        before.insert(name, status(&ns, name).await.unwrap());
    }
    let task_pods = watch_pods(&ns, "ecs-operator.io/task");

    // Each round starts new work of every kind (a rolling revision, a capacity-split revision,
    // a DAEMON revision, a Task; in the first round also a revision that crash-loops, so the
    // circuit breaker rolls back), then kills the operator at a random moment of it.
    let t0 = Instant::now();
    for i in 1..=kills {
        let mut docs = vec![
            rev("web", i),
            rev("mixed", i),
            rev("agent", i),
            batch_task(&format!("batch-{i}")),
        ];
        if i == 1 {
            docs.push(task_definition(
                "shop",
                "nginx:broken",
                16,
                "ecs-operator.io/simulate: crashloop",
            ));
        }
        apply_yaml(&ns.name, &docs.join("---"));
        tokio::time::sleep(rng.millis(300, 6000)).await;
        op.sigkill();
        tokio::time::sleep(rng.millis(0, 1500)).await;
        op.restart();
    }
    let last_kill = Instant::now();
    op.wait_ready().await;
    wait_for(
        Duration::from_secs(300),
        "every Service on its last revision (shop rolled back to shop:1), every child settled",
        || converged(kills),
    )
    .await;
    let converge = last_kill.elapsed();

    // The circuit breaker failed shop:2 and rolled back, in spite of the kills.
    let shop = status(&ns, "shop").await.unwrap();
    assert_eq!(shop.failed_task_definition.as_deref(), Some("shop:2"));
    // Every Task stopped for its essential container, with exactly one pod each, ever.
    for i in 1..=kills {
        let name = format!("batch-{i}");
        let st = wait_for(
            Duration::from_secs(120),
            &format!("task {name} STOPPED"),
            || async {
                let st = ns.api::<Task>().get(&name).await.ok()?.status?;
                (st.last_status.as_deref() == Some("STOPPED")).then_some(st)
            },
        )
        .await;
        assert_eq!(
            st.stop_code.as_deref(),
            Some("EssentialContainerExited"),
            "{name}"
        );
    }
    let pods = task_pods.lock().unwrap().clone();
    let mut per_task: BTreeMap<String, usize> = BTreeMap::new();
    for task in pods.values() {
        *per_task.entry(task.clone()).or_default() += 1;
    }
    let duplicated: Vec<_> = per_task.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        duplicated.is_empty() && per_task.len() as u64 == kills,
        "each Task has exactly one pod ever: {per_task:?}"
    );
    // The same children as before the faults: none orphaned, none duplicated.
    assert_eq!(children(&ns).await, children_before);
    for (name, b) in &before {
        let after = status(&ns, name).await.unwrap();
        history_kept(name, b, &after).unwrap_or_else(|e| panic!("{e}"));
    }
    record(
        "SIGKILL of the operator at random moments of rolling, circuit-breaker rollback, capacity-provider split and DAEMON rollouts and a Task's essential exit",
        kills,
        kills,
        "none (same Deployments/DaemonSets, one pod per Task, no event lost or repeated)",
        &format!("{} after the last kill", secs(converge)),
        &format!(
            "{} rounds of new revisions in {}",
            kills,
            secs(last_kill - t0)
        ),
    );
    ns.cleanup().await;
}

// ---------------------------------------------------------------------------------------------
// 2. The control plane restarted and frozen
// ---------------------------------------------------------------------------------------------

/// Start a new revision of `web` and wait for it to be COMPLETED with `count` tasks.
async fn roll(ns: &TestNamespace, revision: u64, count: i32, timeout: u64) -> Duration {
    let t = Instant::now();
    wait_for(
        Duration::from_secs(timeout),
        &format!("web:{revision} COMPLETED with {count} tasks"),
        || async {
            let st = status(ns, "web").await?;
            (settled(&st, &format!("web:{revision}"), count) && children_settled(ns).await)
                .then_some(())
        },
    )
    .await;
    t.elapsed()
}

fn web_revision(ns: &TestNamespace, revision: u64) {
    apply_yaml(
        &ns.name,
        &task_definition("web", &format!("nginx:r{revision}"), 16, ""),
    );
}

#[tokio::test]
#[ignore = "fault injection: scripts/faults.sh"]
async fn control_plane_restarts_and_a_frozen_api_server() {
    let freeze = number("FAULTS_FREEZE_SECONDS");
    let ns = TestNamespace::new("faults-cp").await;
    // Without leader election: a frozen API server is the fault here, and a leader that cannot
    // renew for 10 s exits on purpose (the failover test covers that).
    let mut op = Operator::start("control-plane", &var("FAULTS_KUBECONFIG_A"), 18302, false);
    op.wait_ready().await;
    apply_yaml(
        &ns.name,
        &(task_definition("web", "nginx:r1", 16, "") + "---" + &service("web", 3, "")),
    );
    roll(&ns, 1, 3, 120).await;

    // kube-apiserver restarted mid-rollout.
    web_revision(&ns, 2);
    let (t0, at) = (Instant::now(), Timestamp::now());
    cluster(&["restart", "kube-apiserver"]);
    let kcm_back = controller_manager_back(&ns.client, at, t0).await;
    roll(&ns, 2, 3, 180).await;
    let t = t0.elapsed();
    assert!(
        op.alive(),
        "the operator exited when the API server restarted"
    );
    record(
        "kube-apiserver restarted mid-rollout",
        1,
        1,
        "none",
        &format!("{} after the restart began", secs(t)),
        &format!("the operator stays up, its watches resume; {kcm_back}"),
    );

    // etcd restarted mid-rollout.
    web_revision(&ns, 3);
    let (t0, at) = (Instant::now(), Timestamp::now());
    cluster(&["restart", "etcd"]);
    let kcm_back = controller_manager_back(&ns.client, at, t0).await;
    roll(&ns, 3, 3, 180).await;
    let t = t0.elapsed();
    assert!(op.alive(), "the operator exited when etcd restarted");
    record(
        "etcd restarted mid-rollout",
        1,
        1,
        "none",
        &format!("{} after the restart began", secs(t)),
        &format!("the operator stays up; {kcm_back}"),
    );

    // The API server frozen (SIGSTOP) mid-rollout: the operator stays up, /readyz says so
    // (after UNANSWERED_AFTER, 10 s), and it does not hammer the server meanwhile.
    web_revision(&ns, 4);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let apiserver = cluster(&["pid", "kube-apiserver"]);
    let requests_before = op.counter("ecs_operator_api_requests_total").await;
    signal(&apiserver, "-STOP");
    let frozen = Instant::now();
    let mut first_unready = None;
    while frozen.elapsed() < Duration::from_secs(freeze) {
        if first_unready.is_none() && op.ready().await == Some(503) {
            first_unready = Some(frozen.elapsed());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let alive = op.alive();
    let requests_during = op.counter("ecs_operator_api_requests_total").await - requests_before;
    signal(&apiserver, "-CONT");
    let thawed = Instant::now();
    assert!(alive, "the operator exited while the API server was frozen");
    let unready = first_unready.expect("/readyz never reported the frozen API server (503)");
    let rate = requests_during / freeze as f64;
    println!(
        "FIGURE frozen API server: /readyz 503 after {}; {requests_during} requests in {freeze} s ({rate:.2}/s)",
        secs(unready)
    );
    assert!(
        rate <= 5.0,
        "a hot loop while the API server was frozen: {requests_during} requests in {freeze} s"
    );
    wait_for(Duration::from_secs(60), "/readyz 200 again", || async {
        (op.ready().await == Some(200)).then_some(())
    })
    .await;
    let ready_again = thawed.elapsed();
    let t = roll(&ns, 4, 3, 180).await + ready_again;
    record(
        &format!("kube-apiserver frozen {freeze} s (SIGSTOP/SIGCONT) mid-rollout"),
        1,
        1,
        "none",
        &format!("{} after SIGCONT", secs(t)),
        &format!(
            "stays up; /readyz 503 after {}, 200 {} after SIGCONT; {requests_during} requests while frozen ({rate:.2}/s)",
            secs(unready),
            secs(ready_again)
        ),
    );
    ns.cleanup().await;
}

// ---------------------------------------------------------------------------------------------
// 3. Watch expiry: 410 Gone relists
// ---------------------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "fault injection: scripts/faults.sh"]
async fn compacted_history_forces_relists_that_miss_nothing() {
    let ns = TestNamespace::new("faults-410").await;
    let op = Operator::start("relist", &var("FAULTS_KUBECONFIG_A"), 18303, false);
    op.wait_ready().await;
    apply_yaml(
        &ns.name,
        &(task_definition("web", "nginx:r1", 16, "") + "---" + &service("web", 2, "")),
    );
    roll(&ns, 1, 2, 120).await;
    let expired_before = expired_watches(&op.log());
    // A rollout starts; etcd's history is compacted and the API server restarted, so every
    // watch resumes from a resourceVersion that no longer exists (410 Gone) and must relist.
    // Changes made meanwhile (scale to 3) must not be missed.
    web_revision(&ns, 2);
    let (t, at) = (Instant::now(), Timestamp::now());
    let revision = cluster(&["compact"]);
    cluster(&["restart", "kube-apiserver"]);
    let kcm_back = controller_manager_back(&ns.client, at, t).await;
    kubectl(&[
        "patch",
        "-n",
        &ns.name,
        "services.ecs-operator.io",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec":{"desiredCount":3}}"#,
    ]);
    roll(&ns, 2, 3, 180).await;
    let converge = t.elapsed();
    let expired = expired_watches(&op.log()) - expired_before;
    println!(
        "FIGURE compacted to revision {revision}: {expired} watches expired (410) and relisted"
    );
    assert!(
        expired >= 1,
        "no watch reported 410 Gone after the compaction; operator log:\n{}",
        op.log()
    );
    record(
        "etcd history compacted + API server restarted mid-rollout (watches resume from a compacted resourceVersion: 410 Gone)",
        1,
        1,
        "none (a scale made during the relist is applied)",
        &secs(converge),
        &format!("{expired} watch expiries logged and relisted; {kcm_back}"),
    );
    ns.cleanup().await;
}

/// Watches the operator logged as expired (410 Gone / too old resourceVersion).
fn expired_watches(log: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("watch failed"))
        .filter(|l| l.contains("410") || l.contains("too old") || l.contains("Expired"))
        .count()
}

// ---------------------------------------------------------------------------------------------
// 4. Leader election: the leader killed, and the leader frozen, beside a standby
// ---------------------------------------------------------------------------------------------

/// Audit-log writes (create/update/patch/delete) by a ServiceAccount since `since`, as
/// (time received, verb, URI).
fn audit_writes(sa: &str, since: Timestamp) -> Vec<(Timestamp, String, String)> {
    let user = format!(
        "system:serviceaccount:{}:{sa}",
        var("FAULTS_OPERATOR_NAMESPACE")
    );
    let log = std::fs::read_to_string(var("FAULTS_AUDIT_LOG")).expect("the API server's audit log");
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["user"]["username"] == user.as_str())
        .filter(|e| e["stage"] == "ResponseComplete")
        .filter(|e| {
            matches!(
                e["verb"].as_str(),
                Some("create" | "update" | "patch" | "delete")
            )
        })
        .filter_map(|e| {
            let at: Timestamp = e["requestReceivedTimestamp"].as_str()?.parse().ok()?;
            Some((
                at,
                e["verb"].as_str().unwrap_or("").to_string(),
                e["requestURI"].as_str().unwrap_or("").to_string(),
            ))
        })
        .filter(|w| w.0 >= since)
        .collect()
}

/// No write by `old` after `new`'s first write, from the API server's audit log.
fn one_writer(old: &str, new: &str, since: Timestamp) -> Result<(usize, usize), String> {
    let old_w = audit_writes(old, since);
    let new_w = audit_writes(new, since);
    let first_new = new_w
        .iter()
        .map(|w| w.0)
        .min()
        .ok_or("the new leader wrote nothing")?;
    let late: Vec<_> = old_w.iter().filter(|w| w.0 >= first_new).collect();
    if late.is_empty() {
        Ok((old_w.len(), new_w.len()))
    } else {
        Err(format!(
            "two writers: {old} wrote after {new}'s first write at {first_new}: {late:#?}"
        ))
    }
}

#[tokio::test]
#[ignore = "fault injection: scripts/faults.sh"]
async fn leader_failover_has_one_writer_at_a_time() {
    let ns = TestNamespace::new("faults-leader").await;
    let client = ns.client.clone();
    let since = Timestamp::now();
    let mut a = Operator::start("leader-a", &var("FAULTS_KUBECONFIG_A"), 18304, true);
    let a_id = a.identity();
    wait_for(Duration::from_secs(60), "op-a to lead", || async {
        (lease_holder(&client).await.as_deref() == Some(a_id.as_str())).then_some(())
    })
    .await;
    let mut b = Operator::start("leader-b", &var("FAULTS_KUBECONFIG_B"), 18305, true);
    b.wait_ready().await;
    let b_id = b.identity();
    apply_yaml(
        &ns.name,
        &(task_definition("web", "nginx:r1", 16, "") + "---" + &service("web", 4, "")),
    );
    roll(&ns, 1, 4, 120).await;

    // Killed mid-rollout: the standby takes over when the lease expires.
    web_revision(&ns, 2);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    a.sigkill();
    let killed = Instant::now();
    wait_for(Duration::from_secs(30), "op-b to take over", || async {
        (lease_holder(&client).await.as_deref() == Some(b_id.as_str())).then_some(())
    })
    .await;
    let takeover = killed.elapsed();
    roll(&ns, 2, 4, 180).await;
    let converge = killed.elapsed();
    let (a_writes, b_writes) = one_writer("op-a", "op-b", since).unwrap_or_else(|e| panic!("{e}"));
    println!(
        "FIGURE leader killed: takeover after {}; audit log: op-a {a_writes} writes, op-b {b_writes}, none by op-a after op-b's first",
        secs(takeover)
    );
    assert!(
        takeover <= Duration::from_secs(15),
        "the standby took {} to take over (lease 12 s; the target is 15 s)",
        secs(takeover)
    );
    record(
        "two replicas, the leader SIGKILLed mid-rollout",
        1,
        1,
        "none; audit log: no write by the old leader after the new leader's first",
        &format!("takeover {}, COMPLETED {}", secs(takeover), secs(converge)),
        &format!("op-a {a_writes} writes, op-b {b_writes}"),
    );

    // Frozen mid-rollout (SIGSTOP past its lease, then SIGCONT), with work due when it wakes:
    // the write fence holds every write of the woken old leader, which then exits.
    a = Operator::start("leader-a", &var("FAULTS_KUBECONFIG_A"), 18304, true);
    a.wait_ready().await;
    b.sigkill();
    let a_id = a.identity();
    wait_for(Duration::from_secs(30), "op-a to lead again", || async {
        (lease_holder(&client).await.as_deref() == Some(a_id.as_str())).then_some(())
    })
    .await;
    b = Operator::start("leader-b", &var("FAULTS_KUBECONFIG_B"), 18305, true);
    b.wait_ready().await;
    let b_id = b.identity();
    let since = Timestamp::now();
    web_revision(&ns, 3);
    tokio::time::sleep(Duration::from_millis(500)).await;
    signal(&a.pid().to_string(), "-STOP");
    let stopped = Instant::now();
    // Work that comes due while op-a sleeps: a scale and the rollout's own progress.
    kubectl(&[
        "patch",
        "-n",
        &ns.name,
        "services.ecs-operator.io",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec":{"desiredCount":5}}"#,
    ]);
    wait_for(Duration::from_secs(40), "op-b to take over", || async {
        (lease_holder(&client).await.as_deref() == Some(b_id.as_str())).then_some(())
    })
    .await;
    let takeover = stopped.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    signal(&a.pid().to_string(), "-CONT");
    let woke = Instant::now();
    while a.alive() {
        assert!(
            woke.elapsed() < Duration::from_secs(30),
            "the woken old leader did not exit"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let exited_after = woke.elapsed();
    roll(&ns, 3, 5, 180).await;
    let converge = stopped.elapsed();
    let (a_writes, b_writes) = one_writer("op-a", "op-b", since).unwrap_or_else(|e| panic!("{e}"));
    let fenced = a.log().matches("write refused").count();
    println!(
        "FIGURE leader frozen: takeover after {}; the woken leader exited {} after SIGCONT, its fence refused {fenced} writes; op-a {a_writes} writes, op-b {b_writes}",
        secs(takeover),
        secs(exited_after)
    );
    assert!(
        takeover <= Duration::from_secs(15),
        "takeover took {}",
        secs(takeover)
    );
    record(
        "two replicas, the leader frozen (SIGSTOP) past its lease mid-rollout, then woken",
        1,
        1,
        "none; audit log: no write by the woken leader after the new leader's first",
        &format!("takeover {}, COMPLETED {}", secs(takeover), secs(converge)),
        &format!(
            "the woken leader's write fence refused {fenced} writes, it exited {} after SIGCONT; op-a {a_writes} writes, op-b {b_writes}",
            secs(exited_after)
        ),
    );
    drop(b);
    ns.cleanup().await;
}

// ---------------------------------------------------------------------------------------------
// 6. API Priority and Fairness: a tiny share for the operator's user
// ---------------------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "fault injection: scripts/faults.sh"]
async fn throttled_by_priority_and_fairness_it_backs_off_and_converges() {
    let ns = TestNamespace::new("faults-apf").await;
    // op-b, so a failure here leaves no throttle on op-a's later tests.
    // One seat, no queue: beyond one request at a time the API server answers 429.
    let apf = format!(
        r#"
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: PriorityLevelConfiguration
metadata: {{name: faults-tiny}}
spec:
  type: Limited
  limited:
    nominalConcurrencyShares: 1
    lendablePercent: 0
    borrowingLimitPercent: 0
    limitResponse: {{type: Reject}}
---
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: FlowSchema
metadata: {{name: faults-tiny}}
spec:
  priorityLevelConfiguration: {{name: faults-tiny}}
  matchingPrecedence: 100
  distinguisherMethod: {{type: ByUser}}
  rules:
  - subjects:
    - kind: ServiceAccount
      serviceAccount: {{name: op-b, namespace: {}}}
    resourceRules:
    - {{verbs: ["*"], apiGroups: ["*"], resources: ["*"], namespaces: ["*"], clusterScope: true}}
    nonResourceRules:
    - {{verbs: ["*"], nonResourceURLs: ["*"]}}
"#,
        var("FAULTS_OPERATOR_NAMESPACE")
    );
    apply_yaml("default", &apf);
    struct Unthrottle;
    impl Drop for Unthrottle {
        fn drop(&mut self) {
            let _ = Command::new("kubectl")
                .args([
                    "delete",
                    "--ignore-not-found",
                    "flowschema,prioritylevelconfiguration",
                    "faults-tiny",
                ])
                .output();
        }
    }
    let unthrottle = Unthrottle;
    let count = 30;
    let mut docs = Vec::new();
    for i in 0..count {
        docs.push(task_definition(&format!("s{i}"), "nginx:r1", 8, ""));
        docs.push(service(&format!("s{i}"), 1, ""));
    }
    // The objects first, then the operator: every watch's first list then queues for the one
    // seat while reconciles already wait for the caches (an operator restarted under
    // throttling). That is how the lost wake-ups of kube-runtime's store readiness held every
    // TaskDefinition slot for ever (controller::cache::Synced).
    apply_yaml(&ns.name, &docs.join("---"));
    let op = Operator::start("apf", &var("FAULTS_KUBECONFIG_B"), 18306, false);
    let t = Instant::now();
    wait_for(
        Duration::from_secs(300),
        &format!("{count} throttled Services COMPLETED"),
        || async { (services_settled(&ns, 1).await? == count).then_some(()) },
    )
    .await;
    let converge = t.elapsed();
    let rejected = apiserver_rejections("faults-tiny").await;
    let log = op.log();
    drop(unthrottle);
    println!(
        "FIGURE APF: {rejected} requests of op-b rejected (429) by the API server; {count} Services COMPLETED in {}",
        secs(converge)
    );
    assert!(
        rejected > 0.0,
        "the API server rejected nothing: the test did not throttle; operator log:\n{log}"
    );
    record(
        "API Priority and Fairness: one seat, no queue, for the operator's user (429s)",
        1,
        1,
        &format!("none ({count} Services COMPLETED)"),
        &secs(converge),
        &format!("{rejected} requests rejected with 429 by the API server"),
    );
    ns.cleanup().await;
}

/// `apiserver_flowcontrol_rejected_requests_total` for a priority level, from the API server.
async fn apiserver_rejections(level: &str) -> f64 {
    let metrics = kubectl(&["get", "--raw", "/metrics"]);
    metrics
        .lines()
        .filter(|l| l.starts_with("apiserver_flowcontrol_rejected_requests_total{"))
        .filter(|l| l.contains(&format!("priority_level=\"{level}\"")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

// ---------------------------------------------------------------------------------------------
// 7. Scale under churn: a fifth of the nodes deleted and re-added
// ---------------------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "fault injection: scripts/faults.sh"]
async fn node_churn_reschedules_tasks_and_keeps_counts_true() {
    let count = number("FAULTS_CHURN_SERVICES") as usize;
    let ns = TestNamespace::new("faults-churn").await;
    // 300 s for the short form's 30 Services; each of the long form's 500 (1,000 pods through
    // the native controllers too) adds a second.
    let settle = Duration::from_secs(270 + count as u64);
    let op = Operator::start("churn", &var("FAULTS_KUBECONFIG_A"), 18307, false);
    op.wait_ready().await;
    let mut docs = Vec::new();
    for i in 0..count {
        docs.push(task_definition(&format!("c{i}"), "nginx:r1", 4, ""));
        docs.push(service(&format!("c{i}"), 2, ""));
    }
    apply_yaml(&ns.name, &docs.join("---"));
    let all_settled = || async {
        (services_settled(&ns, 2).await? == count && children_settled(&ns).await).then_some(())
    };
    wait_for(settle, "the churn Services COMPLETED", all_settled).await;
    let nodes = Api::<Node>::all(ns.client.clone());
    let extra: Vec<Node> = nodes
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|n| {
            n.metadata
                .name
                .as_deref()
                .is_some_and(|name| name.starts_with("ecs-bench-node-"))
        })
        .collect();
    let all_nodes = nodes
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .len();
    let victims: Vec<String> = extra
        .iter()
        .filter_map(|n| n.metadata.name.clone())
        // A fifth of all nodes, from the plain extra ones (scripts/cluster.sh: ecs-bench-node-*),
        // so the zone and capacity-provider pools the other tests use stay.
        .take(all_nodes / 5)
        .collect();
    assert!(!victims.is_empty(), "no ecs-bench-node-* nodes to churn");
    // Pods on the victims before they go: the tasks that must be replaced.
    let pods = ns.api::<Pod>().list(&ListParams::default()).await.unwrap();
    let displaced = pods
        .items
        .iter()
        .filter(|p| {
            p.spec
                .as_ref()
                .and_then(|s| s.node_name.as_ref())
                .is_some_and(|n| victims.contains(n))
        })
        .count();
    let saved: Vec<Value> = extra
        .iter()
        .filter(|n| victims.contains(n.metadata.name.as_ref().unwrap()))
        .map(|n| {
            json!({"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": n.metadata.name, "labels": n.metadata.labels, "annotations": n.metadata.annotations},
                "spec": {"taints": n.spec.as_ref().and_then(|s| s.taints.clone())},
                "status": n.status})
        })
        .collect();
    let t = Instant::now();
    let mut args = vec!["delete", "node", "--wait=false"];
    args.extend(victims.iter().map(String::as_str));
    kubectl(&args);
    // The displaced tasks are replaced while the nodes are gone: the pod garbage collector
    // deletes pods bound to missing nodes (after its 40 s quarantine), the Deployments start
    // new ones elsewhere, and the operator's counts follow.
    wait_for(settle, "no pod left on the deleted nodes", || async {
        let pods = ns.api::<Pod>().list(&ListParams::default()).await.ok()?;
        (!pods.items.iter().any(|p| {
            p.spec
                .as_ref()
                .and_then(|s| s.node_name.as_ref())
                .is_some_and(|n| victims.contains(n))
        }))
        .then_some(())
    })
    .await;
    wait_for(
        settle,
        "the displaced tasks replaced while the nodes are gone",
        all_settled,
    )
    .await;
    let replaced = t.elapsed();
    let path = work_dir().join("churn-nodes.json");
    std::fs::write(
        &path,
        json!({"apiVersion": "v1", "kind": "List", "items": saved}).to_string(),
    )
    .unwrap();
    kubectl(&["create", "-f", path.to_str().unwrap()]);
    wait_for(
        Duration::from_secs(120),
        "the re-added nodes Ready",
        || async {
            let n = nodes.list(&ListParams::default()).await.ok()?.items;
            let ready = n
                .iter()
                .filter(|n| victims.contains(n.metadata.name.as_ref().unwrap()))
                .filter(|n| {
                    n.status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
                })
                .count();
            (ready == victims.len()).then_some(())
        },
    )
    .await;
    wait_for(
        Duration::from_secs(120),
        "all settled after the re-add",
        all_settled,
    )
    .await;
    let converge = t.elapsed();
    // Counts stay true: every Service reports 2 running, matching its pods.
    let running: i32 = ns
        .api::<Service>()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|s| s.status.as_ref().map_or(0, |st| st.running_count))
        .sum();
    let pods = ns
        .api::<Pod>()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .count();
    assert_eq!(running as usize, 2 * count);
    assert_eq!(pods, 2 * count, "pods left over or missing");
    drop(op);
    record(
        &format!(
            "{count} Services while {} of {all_nodes} nodes are deleted and re-added (KWOK)",
            victims.len()
        ),
        1,
        1,
        &format!(
            "none ({displaced} displaced tasks replaced; runningCount = pods = {})",
            2 * count
        ),
        &format!(
            "replaced {}, all settled after re-add {}",
            secs(replaced),
            secs(converge)
        ),
        "",
    );
    ns.cleanup().await;
}

// ---------------------------------------------------------------------------------------------
// 9. A storm of bad input in the cluster
// ---------------------------------------------------------------------------------------------

/// One bad input: the documents, and what the refusal must name.
struct BadInput {
    name: &'static str,
    docs: Vec<Value>,
    /// The object whose status and Events must carry the refusal: (kind, name).
    reported_on: (&'static str, &'static str),
    /// Text the Stalled condition's message must contain (the field's JSON path); None: ECS
    /// sets no limit here, so being accepted (Ready) is right too — but a verdict must come.
    names: Option<&'static str>,
}

fn td_doc(name: &str, containers: Value) -> Value {
    json!({"apiVersion": "ecs-operator.io/v1alpha1", "kind": "TaskDefinition", "metadata": {"name": name},
        "spec": {"containerDefinitions": containers}})
}

fn svc_doc(name: &str, td: &str) -> Value {
    json!({"apiVersion": "ecs-operator.io/v1alpha1", "kind": "Service", "metadata": {"name": name},
        "spec": {"serviceName": name, "taskDefinition": td, "desiredCount": 1}})
}

fn bad_inputs() -> Vec<BadInput> {
    let app = |extra: Value| {
        let mut c = json!({"name": "app", "image": "nginx", "memory": 32});
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        c
    };
    // Deeper than serde_json's default recursion limit (128), which kube-rs decodes with.
    let mut nested = json!("leaf");
    for _ in 0..300 {
        nested = json!([nested]);
    }
    vec![
        BadInput {
            name: "a 1 MiB environment value",
            docs: vec![
                td_doc(
                    "big-env",
                    json!([app(
                        json!({"environment": [{"name": "BLOB", "value": "x".repeat(1 << 20)}]})
                    )]),
                ),
                svc_doc("big-env", "big-env"),
            ],
            reported_on: ("TaskDefinition", "big-env"),
            names: Some("spec.containerDefinitions[0].environment[0].value"),
        },
        BadInput {
            name: "500 containers",
            docs: vec![td_doc(
                "many-containers",
                Value::Array(
                    (0..500)
                        .map(|i| json!({"name": format!("c{i}"), "image": "nginx", "memory": 8}))
                        .collect(),
                ),
            )],
            reported_on: ("TaskDefinition", "many-containers"),
            names: Some("spec.containerDefinitions"),
        },
        BadInput {
            name: "10,000 port mappings (1..5000 over tcp and udp)",
            docs: vec![td_doc(
                "many-ports",
                json!([app(json!({"portMappings": (0..10_000)
                    .map(|i| json!({"containerPort": 1 + i % 5000, "protocol": if i < 5000 { "tcp" } else { "udp" }}))
                    .collect::<Vec<_>>()}))]),
            )],
            reported_on: ("TaskDefinition", "many-ports"),
            names: None,
        },
        BadInput {
            name: "unicode and control characters in a container name",
            docs: vec![td_doc(
                "odd-names",
                json!([{"name": "wéb\u{0007}\u{202e}", "image": "nginx", "memory": 32}]),
            )],
            reported_on: ("TaskDefinition", "odd-names"),
            names: Some("spec.containerDefinitions[0].name"),
        },
        BadInput {
            name: "a dependsOn cycle",
            docs: vec![td_doc(
                "cycle",
                json!([
                    {"name": "a", "image": "nginx", "memory": 32, "dependsOn": [{"containerName": "b", "condition": "START"}]},
                    {"name": "b", "image": "nginx", "memory": 32, "dependsOn": [{"containerName": "a", "condition": "START"}]}
                ]),
            )],
            reported_on: ("TaskDefinition", "cycle"),
            names: Some("dependsOn"),
        },
        BadInput {
            name: "a task definition of another namespace (by ARN)",
            docs: vec![svc_doc(
                "elsewhere",
                "arn:aws:ecs:us-east-1:123456789012:task-definition/only-in-default:1",
            )],
            reported_on: ("Service", "elsewhere"),
            names: Some("only-in-default"),
        },
        BadInput {
            name: "deeply nested JSON (300 levels) in spec.kubernetes.podTemplatePatch",
            docs: vec![{
                let mut td = td_doc("nested", json!([app(json!({}))]));
                td["spec"]["kubernetes"] =
                    json!({"podTemplatePatch": {"metadata": {"annotations": {"deep": nested}}}});
                td
            }],
            reported_on: ("TaskDefinition", "nested"),
            names: Some("podTemplatePatch"),
        },
    ]
}

/// Apply documents with kubectl (server-side); the API server's refusal if any.
fn try_apply(ns: &str, docs: &[Value]) -> Result<(), String> {
    let path = work_dir().join(format!("storm-{}.json", harness::short_id()));
    std::fs::write(
        &path,
        json!({"apiVersion": "v1", "kind": "List", "items": docs}).to_string(),
    )
    .unwrap();
    let out = Command::new("kubectl")
        .args([
            "apply",
            "--server-side",
            "--force-conflicts",
            "-n",
            ns,
            "-f",
        ])
        .arg(&path)
        .output()
        .expect("kubectl");
    let _ = std::fs::remove_file(&path);
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr)
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect())
    }
}

/// The object's conditions, read with kubectl (JSON path): a typed client cannot read an
/// object nested deeper than serde_json's limit, and that is one of the inputs.
fn conditions(ns: &TestNamespace, kind: &str, name: &str) -> Vec<Value> {
    let resource = match kind {
        "TaskDefinition" => "taskdefinitions.ecs-operator.io",
        _ => "services.ecs-operator.io",
    };
    let out = Command::new("kubectl")
        .args([
            "get",
            "-n",
            &ns.name,
            resource,
            name,
            "-o",
            "jsonpath={.status.conditions}",
        ])
        .output()
        .expect("kubectl");
    serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap_or_default()
}

/// The condition that reports a refusal on an object: (reason, message).
async fn refusal(ns: &TestNamespace, kind: &str, name: &str) -> Option<(String, String)> {
    conditions(ns, kind, name)
        .into_iter()
        .find(|c| c["type"] == "Stalled" && c["status"] == "True")
        .map(|c| {
            (
                c["reason"].as_str().unwrap_or("").to_string(),
                c["message"].as_str().unwrap_or("").to_string(),
            )
        })
}

/// Ready or Stalled, whichever the operator decided: "Ready" or "Stalled/<reason>".
async fn verdict(ns: &TestNamespace, kind: &str, name: &str) -> Option<String> {
    if let Some((reason, _)) = refusal(ns, kind, name).await {
        return Some(format!("Stalled/{reason}"));
    }
    conditions(ns, kind, name)
        .iter()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
        .then(|| "accepted (Ready)".to_string())
}

async fn warning_event(ns: &TestNamespace, name: &str) -> bool {
    ns.api::<k8s_openapi::api::core::v1::Event>()
        .list(&ListParams::default())
        .await
        .map(|l| {
            l.items.iter().any(|e| {
                e.type_.as_deref() == Some("Warning")
                    && e.involved_object.name.as_deref() == Some(name)
            })
        })
        .unwrap_or(false)
}

/// How long until a scale of a healthy Service shows in its status (the operator reconciled).
async fn scale_latency(ns: &TestNamespace, name: &str, to: i32) -> Duration {
    let t = Instant::now();
    kubectl(&[
        "patch",
        "-n",
        &ns.name,
        "services.ecs-operator.io",
        name,
        "--type=merge",
        "-p",
        &format!(r#"{{"spec":{{"desiredCount":{to}}}}}"#),
    ]);
    wait_for(
        Duration::from_secs(120),
        &format!("{name} status desiredCount {to}"),
        || async { (status(ns, name).await?.desired_count == to).then_some(()) },
    )
    .await;
    t.elapsed()
}

fn peak_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))?
                .split_whitespace()
                .nth(1)?
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

#[tokio::test]
#[ignore = "fault injection: scripts/faults.sh"]
async fn a_storm_of_bad_input_is_reported_and_delays_no_one_else() {
    let ns = TestNamespace::new("faults-storm").await;
    let op = Operator::start("storm", &var("FAULTS_KUBECONFIG_A"), 18308, false);
    op.wait_ready().await;
    let healthy: Vec<String> = (0..4).map(|i| format!("h{i}")).collect();
    let mut docs = Vec::new();
    for h in &healthy {
        docs.push(task_definition(h, "nginx:r1", 4, ""));
        docs.push(service(h, 1, ""));
    }
    apply_yaml(&ns.name, &docs.join("---"));
    for h in &healthy {
        wait_for(
            Duration::from_secs(120),
            &format!("{h} COMPLETED"),
            || async { settled(&status(&ns, h).await?, &format!("{h}:1"), 1).then_some(()) },
        )
        .await;
    }
    let mut baseline = Vec::new();
    for (i, h) in healthy.iter().enumerate() {
        baseline.push(scale_latency(&ns, h, 2 + i as i32 % 2).await);
    }
    let rss_before = peak_rss_mib(op.pid());

    // The storm: every bad input, applied three times over (a label changes each round, so
    // each is reconciled again), while the healthy Services are scaled.
    let inputs = bad_inputs();
    let storm_ns = ns.name.clone();
    let storm = tokio::task::spawn_blocking(move || {
        let mut refused_by_api: BTreeMap<&'static str, String> = BTreeMap::new();
        for round in 0..3 {
            for input in &inputs {
                let docs: Vec<Value> = input
                    .docs
                    .iter()
                    .map(|d| {
                        let mut d = d.clone();
                        d["metadata"]["labels"] = json!({"storm-round": round.to_string()});
                        d
                    })
                    .collect();
                if let Err(e) = try_apply(&storm_ns, &docs) {
                    refused_by_api.insert(input.name, e);
                }
            }
        }
        refused_by_api
    });
    let mut during = Vec::new();
    for round in 0..3 {
        for (i, h) in healthy.iter().enumerate() {
            during.push(scale_latency(&ns, h, 1 + (i as i32 + round) % 3).await);
        }
    }
    let refused_by_api = storm.await.unwrap();
    // Each bad input: refused at the door by the API server (its own message to the user), or
    // a Stalled condition naming the field, and a Warning Event, on the object.
    let mut outcomes = Vec::new();
    for input in bad_inputs() {
        if let Some(e) = refused_by_api.get(input.name) {
            println!("STORM {}: refused by the API server: {e}", input.name);
            outcomes.push(format!("{}: API server refused it", input.name));
            continue;
        }
        let (kind, name) = input.reported_on;
        let Some(names) = input.names else {
            let verdict = wait_for(
                Duration::from_secs(90),
                &format!("a verdict on {kind} {name} ({})", input.name),
                || verdict(&ns, kind, name),
            )
            .await;
            println!("STORM {}: {kind} {name}: {verdict}", input.name);
            outcomes.push(format!("{}: {verdict}", input.name));
            continue;
        };
        let (reason, message) = wait_for(
            Duration::from_secs(90),
            &format!("{kind} {name} Stalled ({})", input.name),
            || refusal(&ns, kind, name),
        )
        .await;
        assert!(
            message.contains(names),
            "{}: the condition must name {names}: {reason}: {message}",
            input.name,
        );
        wait_for(
            Duration::from_secs(30),
            &format!("a Warning Event on {name}"),
            || async { warning_event(&ns, name).await.then_some(()) },
        )
        .await;
        println!(
            "STORM {}: {kind} {name} Stalled {reason}: {}",
            input.name,
            message.chars().take(160).collect::<String>()
        );
        outcomes.push(format!("{}: Stalled/{reason}", input.name));
    }
    assert!(
        op.ready().await == Some(200),
        "the operator is not ready after the storm"
    );
    let rss_after = peak_rss_mib(op.pid());
    let max = |v: &[Duration]| v.iter().max().copied().unwrap_or_default();
    let median = |v: &[Duration]| {
        let mut v = v.to_vec();
        v.sort();
        v[v.len() / 2]
    };
    println!(
        "FIGURE storm: healthy Services' scale→status p50 {} max {} (baseline p50 {} max {}); operator peak RSS {rss_before:.0} → {rss_after:.0} MiB",
        secs(median(&during)),
        secs(max(&during)),
        secs(median(&baseline)),
        secs(max(&baseline))
    );
    assert!(
        rss_after <= 256.0,
        "the operator's memory grew to {rss_after:.0} MiB under the storm"
    );
    assert!(
        max(&during) <= max(&baseline) + Duration::from_secs(10),
        "healthy Services were delayed by the storm: max {} vs baseline {}",
        secs(max(&during)),
        secs(max(&baseline))
    );
    record(
        "bad-input storm (1 MiB env value, 500 containers, 10,000 ports, control characters, a dependsOn cycle, another namespace's task definition, 300-deep JSON), 3 rounds",
        bad_inputs().len() as u64,
        bad_inputs().len() as u64,
        "none; each refused with the field named (condition + Warning Event) or by the API server",
        &format!(
            "healthy Services' scale reconciled p50 {} / max {} during (baseline {} / {})",
            secs(median(&during)),
            secs(max(&during)),
            secs(median(&baseline)),
            secs(max(&baseline))
        ),
        &format!(
            "operator peak RSS {rss_before:.0} → {rss_after:.0} MiB; {}",
            outcomes.join("; ")
        ),
    );
    ns.cleanup().await;
}
