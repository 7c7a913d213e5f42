//! `ecs-bench-recorder`: the loader and watch-based recorder of the side-by-side benchmark
//! (`bench/run.sh` runs it once per phase). It watches one namespace, server-side applies a
//! manifest file there with bounded concurrency, and records for every tracked object the time
//! from its apply to its first child and to its steady state; it exits when every expected
//! object is steady (0) or at the timeout (2), always writing a JSON summary.
//!
//! Black-box on purpose: it reads the JSON the operator writes (`status.conditions`,
//! `status.deployments[].rolloutState`, `status.taskDefinition`), never the crate's types, so it
//! keeps measuring across rewrites of the reconcile engine.
//!
//! Modes: `operator` (tracked: ECS Services; child: the Deployment they own; steady: Ready and
//! the one deployment COMPLETED), `native` (tracked: Deployments; child: their ReplicaSet;
//! steady: what `kubectl rollout status` waits for), `rollout` (tracked: ECS Services already
//! there; steady: steady on `--expect-task-definition`; every time is from the apply).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    Operator,
    Native,
    Rollout,
}

#[derive(Parser, Debug, Clone)]
#[command(about = "Apply a manifest and record apply → child → steady times (bench/run.sh)")]
struct Args {
    /// The namespace to apply to and watch.
    #[arg(long)]
    namespace: String,
    #[arg(long, value_enum)]
    mode: Mode,
    /// Multi-document YAML to server-side apply (untracked kinds first, one at a time).
    #[arg(long)]
    apply: PathBuf,
    /// How many tracked objects must be steady.
    #[arg(long)]
    expect: usize,
    /// Steady only on this task definition (`family:revision`).
    #[arg(long)]
    expect_task_definition: Option<String>,
    /// Seconds from the start of the apply to give up (exit 2).
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Applies in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Where the JSON summary goes.
    #[arg(long)]
    out: PathBuf,
}

/// What the watches and the loader report, with the time since the apply started.
enum Seen {
    Synced,
    Applied(String),
    Child(String),
    Steady(String),
    Failed(String),
}

#[derive(Default, Clone, Copy)]
struct Times {
    applied: Option<f64>,
    child: Option<f64>,
    steady: Option<f64>,
}

const ECS_GROUP: &str = "ecs-operator.io";

fn ecs_services(client: &Client, ns: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk(ECS_GROUP, "v1alpha1", "Service");
    Api::namespaced_with(
        client.clone(),
        ns,
        &ApiResource::from_gvk_with_plural(&gvk, "services"),
    )
}

/// ECS steady state as the operator reports it: Ready, its one deployment COMPLETED, for the
/// current generation (and the expected task definition, when one is given).
fn ecs_service_steady(o: &DynamicObject, expect_td: Option<&str>) -> bool {
    let st = &o.data["status"];
    let generation_seen = match o.metadata.generation {
        Some(g) => st["observedGeneration"].as_i64() == Some(g),
        None => true,
    };
    let td_ok = expect_td.is_none_or(|td| st["taskDefinition"].as_str() == Some(td));
    let ready = st["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    });
    let completed = st["deployments"]
        .as_array()
        .is_some_and(|d| d.len() == 1 && d[0]["rolloutState"] == "COMPLETED");
    generation_seen && td_ok && ready && completed
}

/// What `kubectl rollout status deployment` waits for: observed, all updated, all available.
fn deployment_available(d: &Deployment) -> bool {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let Some(st) = d.status.as_ref() else {
        return false;
    };
    st.observed_generation >= d.metadata.generation
        && st.updated_replicas.unwrap_or(0) == want
        && st.replicas.unwrap_or(0) == want
        && st.available_replicas.unwrap_or(0) == want
}

fn owner_named(meta: &kube::api::ObjectMeta, kind: &str, api_prefix: &str) -> Option<String> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|o| o.kind == kind && o.api_version.starts_with(api_prefix))
        .map(|o| o.name.clone())
}

/// Watch `api`, turning each object into what it means for the benchmark.
fn spawn_watch<K>(
    api: Api<K>,
    tx: mpsc::UnboundedSender<Seen>,
    meaning: impl Fn(&K) -> Vec<Seen> + Send + 'static,
) where
    K: Resource + Clone + std::fmt::Debug + for<'de> Deserialize<'de> + Send + 'static,
{
    tokio::spawn(async move {
        let mut events = watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        let mut synced = false;
        while let Some(ev) = events.next().await {
            match ev {
                Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                    for s in meaning(&o) {
                        let _ = tx.send(s);
                    }
                }
                Ok(watcher::Event::InitDone) if !synced => {
                    synced = true;
                    let _ = tx.send(Seen::Synced);
                }
                Ok(_) => {}
                Err(e) => eprintln!("[recorder] watch error (retrying): {e}"),
            }
        }
    });
}

fn start_watches(client: &Client, args: &Args, tx: &mpsc::UnboundedSender<Seen>) -> usize {
    let ns = args.namespace.as_str();
    match args.mode {
        Mode::Operator | Mode::Rollout => {
            let td = args.expect_task_definition.clone();
            spawn_watch(ecs_services(client, ns), tx.clone(), move |o| {
                let name = o.metadata.name.clone().unwrap_or_default();
                if ecs_service_steady(o, td.as_deref()) {
                    vec![Seen::Steady(name)]
                } else {
                    vec![]
                }
            });
            let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
            spawn_watch(deployments, tx.clone(), |d| {
                owner_named(&d.metadata, "Service", ECS_GROUP)
                    .map(Seen::Child)
                    .into_iter()
                    .collect()
            });
        }
        Mode::Native => {
            let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
            spawn_watch(deployments, tx.clone(), |d| {
                let name = d.metadata.name.clone().unwrap_or_default();
                if deployment_available(d) {
                    vec![Seen::Steady(name)]
                } else {
                    vec![]
                }
            });
            let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), ns);
            spawn_watch(replica_sets, tx.clone(), |rs| {
                owner_named(&rs.metadata, "Deployment", "apps/")
                    .map(Seen::Child)
                    .into_iter()
                    .collect()
            });
        }
    }
    2
}

/// The documents of the manifest, untracked kinds first (they are what the tracked ones need).
fn load_manifest(args: &Args) -> anyhow::Result<(Vec<Value>, Vec<Value>)> {
    let text = std::fs::read_to_string(&args.apply)
        .with_context(|| format!("reading {}", args.apply.display()))?;
    let (mut first, mut tracked) = (Vec::new(), Vec::new());
    for doc in serde_norway::Deserializer::from_str(&text) {
        let v = Value::deserialize(doc).with_context(|| format!("{}", args.apply.display()))?;
        if v.is_null() {
            continue;
        }
        let is_tracked = match args.mode {
            Mode::Operator => {
                v["kind"] == "Service"
                    && v["apiVersion"].as_str() == Some("ecs-operator.io/v1alpha1")
            }
            Mode::Native => v["kind"] == "Deployment",
            Mode::Rollout => false,
        };
        if is_tracked { &mut tracked } else { &mut first }.push(v);
    }
    Ok((first, tracked))
}

async fn api_for(
    client: &Client,
    ns: &str,
    cache: &mut HashMap<(String, String), ApiResource>,
    v: &Value,
) -> anyhow::Result<Api<DynamicObject>> {
    let api_version = v["apiVersion"]
        .as_str()
        .context("a document without apiVersion")?;
    let kind = v["kind"].as_str().context("a document without kind")?;
    let key = (api_version.to_string(), kind.to_string());
    if !cache.contains_key(&key) {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (ar, _) = kube::discovery::pinned_kind(client, &gvk).await?;
        cache.insert(key.clone(), ar);
    }
    Ok(Api::namespaced_with(client.clone(), ns, &cache[&key]))
}

async fn apply_one(api: Api<DynamicObject>, mut v: Value) -> anyhow::Result<String> {
    let name = v["metadata"]["name"]
        .as_str()
        .context("a document without metadata.name")?;
    let name = name.to_string();
    v["metadata"]["namespace"] = json!(api.namespace());
    let pp = PatchParams::apply("ecs-bench").force();
    api.patch(&name, &pp, &Patch::Apply(&v))
        .await
        .with_context(|| format!("applying {} {name}", v["kind"]))?;
    Ok(name)
}

/// Apply the manifest, reporting each tracked object when the API server has it.
async fn load(client: Client, args: &Args, tx: mpsc::UnboundedSender<Seen>) -> anyhow::Result<()> {
    let (first, tracked) = load_manifest(args)?;
    let mut cache = HashMap::new();
    let ns = args.namespace.as_str();
    for v in first {
        let api = api_for(&client, ns, &mut cache, &v).await?;
        apply_one(api, v).await?;
    }
    let mut jobs = Vec::with_capacity(tracked.len());
    for v in tracked {
        jobs.push((api_for(&client, ns, &mut cache, &v).await?, v));
    }
    stream::iter(jobs)
        .map(|(api, v)| apply_one(api, v))
        .buffer_unordered(args.concurrency.max(1))
        .map_ok(|name| {
            let _ = tx.send(Seen::Applied(name));
        })
        .try_collect::<()>()
        .await
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn stats(mut v: Vec<f64>) -> Value {
    v.sort_by(f64::total_cmp);
    json!({
        "count": v.len(),
        "p50": percentile(&v, 50.0),
        "p99": percentile(&v, 99.0),
        "max": v.last(),
    })
}

fn summary(
    args: &Args,
    objs: &HashMap<String, Times>,
    timed_out: bool,
    error: Option<String>,
) -> Value {
    let since_apply = |t: Option<f64>, o: &Times| Some((t? - o.applied.unwrap_or(0.0)).max(0.0));
    let steady: Vec<f64> = objs
        .values()
        .filter_map(|o| since_apply(o.steady, o))
        .collect();
    let child: Vec<f64> = objs
        .values()
        .filter_map(|o| since_apply(o.child, o))
        .collect();
    let last = |f: fn(&Times) -> Option<f64>| objs.values().filter_map(f).reduce(f64::max);
    json!({
        "mode": format!("{:?}", args.mode).to_lowercase(),
        "namespace": args.namespace,
        "expect": args.expect,
        "steady": steady.len(),
        "timed_out": timed_out,
        "error": error,
        "all_applied_s": last(|o| o.applied),
        "all_steady_s": if steady.len() >= args.expect { last(|o| o.steady) } else { None },
        "apply_to_child_s": stats(child),
        "apply_to_steady_s": stats(steady),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = Client::try_default().await?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut pending_sync = start_watches(&client, &args, &tx);
    while pending_sync > 0 {
        match tokio::time::timeout(Duration::from_secs(60), rx.recv()).await {
            Ok(Some(Seen::Synced)) => pending_sync -= 1,
            Ok(Some(_)) => {}
            _ => anyhow::bail!("the watches did not sync within 60s"),
        }
    }
    let t0 = Instant::now();
    let loader = {
        let (client, tx, args) = (client.clone(), tx.clone(), args.clone());
        tokio::spawn(async move {
            if let Err(e) = load(client, &args, tx.clone()).await {
                let _ = tx.send(Seen::Failed(format!("{e:#}")));
            }
        })
    };
    let mut objs: HashMap<String, Times> = HashMap::new();
    let deadline = tokio::time::sleep(Duration::from_secs(args.timeout));
    tokio::pin!(deadline);
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    let (mut steady, mut error, mut timed_out) = (0usize, None, false);
    let rollout = args.mode == Mode::Rollout;
    while steady < args.expect {
        tokio::select! {
            seen = rx.recv() => {
                let now = t0.elapsed().as_secs_f64();
                match seen {
                    Some(Seen::Applied(n)) => { objs.entry(n).or_default().applied.get_or_insert(now); }
                    Some(Seen::Child(n)) if !rollout => { objs.entry(n).or_default().child.get_or_insert(now); }
                    Some(Seen::Steady(n)) => {
                        let o = objs.entry(n).or_default();
                        if o.steady.is_none() { o.steady = Some(now); steady += 1; }
                    }
                    Some(Seen::Failed(e)) => { eprintln!("[recorder] apply failed: {e}"); error = Some(e); break; }
                    Some(_) => {}
                    None => break,
                }
            }
            _ = tick.tick() => {
                let applied = objs.values().filter(|o| o.applied.is_some()).count();
                let children = objs.values().filter(|o| o.child.is_some()).count();
                eprintln!(
                    "[recorder {} {}] {:.0}s of {}s: applied {applied}, children {children}, steady {steady}/{}",
                    args.namespace, format!("{:?}", args.mode).to_lowercase(),
                    t0.elapsed().as_secs_f64(), args.timeout, args.expect
                );
            }
            _ = &mut deadline => { timed_out = true; break; }
        }
    }
    loader.abort();
    let out = summary(&args, &objs, timed_out, error.clone());
    std::fs::write(&args.out, serde_json::to_string_pretty(&out)?)
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!("{out}");
    if timed_out || error.is_some() {
        std::process::exit(2);
    }
    Ok(())
}
