#!/usr/bin/env python3
"""Helpers of bench/run.sh: the inputs, the audit-log counts, machine facts and the report.

  report.py inputs --n N --rollout M --out DIR    services.yaml (2 TaskDefinitions, N Services,
                                                  M following bench-roll) and rollout.yaml
  report.py facts ...                             versions and machine facts (JSON on stdout)
  report.py annotate FILE --load-before --load-after   add the load averages to a summary
  report.py brief FILE                            one line for the progress log
  report.py audit --log ... --user ...            the operator's requests in the idle and no-op windows
  report.py report --work DIR --sizes ... --json F --markdown F
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from collections import Counter
from pathlib import Path

# Small tasks: only the pod count limits how many fit on a simulated node.
TASK_DEFINITION = """apiVersion: ecs-operator.io/v1alpha1
kind: TaskDefinition
metadata: {{name: {family}}}
spec:
  family: {family}
  networkMode: awsvpc
  containerDefinitions:
  - name: app
    image: {image}
    cpu: 8
    memory: 16
    essential: true
"""

SERVICE = """apiVersion: ecs-operator.io/v1alpha1
kind: Service
metadata: {{name: {name}}}
spec:
  serviceName: {name}
  taskDefinition: {family}
  desiredCount: 1
"""

IMAGE_1 = "registry.k8s.io/pause:3.10"
IMAGE_2 = "registry.k8s.io/pause:3.10.1"

TARGET_RATIO = 1.10
TARGET_IDLE_PER_SERVICE_HOUR = 1.0
TARGET_RSS_MIB = {1000: 64, 10000: 256}


def cmd_inputs(a):
    out = Path(a.out)
    docs = [TASK_DEFINITION.format(family="bench-roll", image=IMAGE_1)]
    if a.n > a.rollout:
        docs.append(TASK_DEFINITION.format(family="bench-rest", image=IMAGE_1))
    for i in range(1, a.n + 1):
        family = "bench-roll" if i <= a.rollout else "bench-rest"
        docs.append(SERVICE.format(name=f"svc-{i:05d}", family=family))
    (out / "services.yaml").write_text("---\n".join(docs))
    (out / "rollout.yaml").write_text(TASK_DEFINITION.format(family="bench-roll", image=IMAGE_2))


def run(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def cmd_facts(a):
    root = Path(a.root)
    versions = {}
    for line in (root / "scripts/versions.env").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            k, v = line.split("=", 1)
            versions[k.strip()] = v.strip()
    meminfo = dict(
        (l.split(":")[0], l.split(":")[1].strip()) for l in Path("/proc/meminfo").read_text().splitlines()
    )
    cpu = next(
        (l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")),
        None,
    )
    dirty = run("git", "-C", str(root), "status", "--porcelain", "--untracked-files=no")
    facts = {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git_sha": run("git", "-C", str(root), "rev-parse", "HEAD"),
        "git_dirty": bool(dirty),
        "rustc": run("rustc", "-V"),
        "versions_env": versions,
        "machine": {
            "nproc": os.cpu_count(),
            "cpu": cpu,
            "mem_total": meminfo.get("MemTotal"),
            "kernel": platform.release(),
            "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
        },
        "settings": {
            "sizes": a.sizes,
            "idle_window_s": a.idle,
            "cluster_nodes": a.cluster_nodes,
            "kube_controller_manager_and_scheduler_qps_burst": [a.qps, a.burst],
        },
    }
    json.dump(facts, sys.stdout, indent=2)


def cmd_annotate(a):
    p = Path(a.file)
    d = json.loads(p.read_text()) if p.exists() else {"error": "the recorder wrote no summary"}
    d["loadavg_before"] = a.load_before.split()
    d["loadavg_after"] = a.load_after.split()
    p.write_text(json.dumps(d, indent=2))


def fmt(v, digits=1):
    return "–" if v is None else f"{v:.{digits}f}"


def cmd_brief(a):
    d = json.loads(Path(a.file).read_text())
    if "idle" in d:
        i, n = d["idle"], d["noop"]
        print(
            f"{i['requests']} requests in {i['seconds']:.0f}s = {fmt(i['per_service_per_hour'], 2)} per Service per hour; "
            f"no-op reconcile of every Service: {n['requests']} requests ({n['writes']} writes); user agents {d['user_agents']}"
        )
        return
    s, c = d["apply_to_steady_s"], d["apply_to_child_s"]
    print(
        f"{d['steady']}/{d['expect']} steady; all in {fmt(d['all_steady_s'])}s (all applied at {fmt(d['all_applied_s'])}s); "
        f"apply→child p50 {fmt(c['p50'], 2)}s p99 {fmt(c['p99'], 2)}s; apply→steady p50 {fmt(s['p50'], 2)}s p99 {fmt(s['p99'], 2)}s; "
        f"load {' '.join(d.get('loadavg_before', []))} → {' '.join(d.get('loadavg_after', []))}"
    )


def parse_ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}


def cmd_audit(a):
    """The operator's requests (unique audit IDs) received in each window."""
    windows = {"idle": tuple(map(float, a.window)), "noop": tuple(map(float, a.noop_window))}
    seen = {k: {} for k in windows}
    agents = Counter()
    with open(a.log, encoding="utf-8", errors="replace") as f:
        for line in f:
            if a.user not in line:
                continue
            try:
                e = json.loads(line)
            except json.JSONDecodeError:
                continue
            if e.get("user", {}).get("username") != a.user:
                continue
            t = parse_ts(e["requestReceivedTimestamp"])
            agents[e.get("userAgent", "")] += 1
            for k, (t0, t1) in windows.items():
                if t0 <= t < t1:
                    ref = e.get("objectRef", {})
                    what = f"{e.get('verb')} {ref.get('resource', e.get('requestURI', '?'))}"
                    if ref.get("subresource"):
                        what += "/" + ref["subresource"]
                    seen[k][e["auditID"]] = (e.get("verb"), what)
    out = {"user": a.user, "user_agents": sorted(agents), "services": a.services}
    for k, (t0, t1) in windows.items():
        reqs = seen[k].values()
        out[k] = {
            "seconds": t1 - t0,
            "requests": len(reqs),
            "writes": sum(1 for v, _ in reqs if v in WRITE_VERBS),
            "by_request": dict(Counter(w for _, w in reqs).most_common(12)),
        }
    idle = out["idle"]
    idle["per_service_per_hour"] = idle["requests"] / a.services / (idle["seconds"] / 3600)
    out["noop"]["per_service"] = out["noop"]["requests"] / a.services
    p0, p1 = json.loads(a.proc_idle_start), json.loads(a.proc_idle_end)
    idle["operator_cpu_s"] = p1["cpu_s"] - p0["cpu_s"]
    out["operator_process_at_idle_end"] = p1
    json.dump(out, sys.stdout, indent=2)


def load(path):
    p = Path(path)
    return json.loads(p.read_text()) if p.exists() else None


def cmd_report(a):
    work = Path(a.work)
    facts = load(work / "facts.json") or {}
    sizes = []
    for n in (int(x) for x in a.sizes.split(",")):
        d = work / str(n)
        native, operator, rollout, idle = (load(d / f"{p}.json") for p in ("native", "operator", "rollout", "idle"))
        procs = {p: load(d / f"proc-{p}.json") for p in ("start", "created", "rolled")}
        if not (native and operator):
            continue
        ratio = None
        if native.get("all_steady_s") and operator.get("all_steady_s"):
            ratio = operator["all_steady_s"] / native["all_steady_s"]
        row = {"n": n, "native": native, "operator": operator, "rollout": rollout, "idle": idle, "ratio": ratio}
        created, rolled = procs["created"], procs["rolled"]
        end = (idle or {}).get("operator_process_at_idle_end")
        if created:
            row["operator_process"] = {
                "peak_rss_mib": ((end or rolled or created)["peak_rss_kib"]) / 1024,
                "peak_rss_after_create_mib": created["peak_rss_kib"] / 1024,
                "steady_rss_mib": end["rss_kib"] / 1024 if end else None,
                "cpu_s_create": created["cpu_s"] - (procs["start"] or {"cpu_s": 0})["cpu_s"],
                "cpu_s_rollout": (rolled["cpu_s"] - created["cpu_s"]) if rolled else None,
                "cpu_s_idle": idle["idle"]["operator_cpu_s"] if idle else None,
            }
        sizes.append(row)
    result = {"facts": facts, "targets": {"ratio": TARGET_RATIO, "idle_per_service_per_hour": TARGET_IDLE_PER_SERVICE_HOUR,
                                          "noop_requests": 0, "rss_mib": TARGET_RSS_MIB}, "sizes": sizes}
    Path(a.json).write_text(json.dumps(result, indent=2) + "\n")
    Path(a.markdown).write_text(markdown(result))


def p5099(s):
    return f"{fmt(s['p50'], 2)} / {fmt(s['p99'], 2)}"


def verdict(ok):
    return "" if ok is None else (" ✅" if ok else " ❌")


def markdown(r):
    f = r["facts"]
    m = f.get("machine", {})
    v = f.get("versions_env", {})
    lines = [
        f"## Benchmark {f.get('date_utc', '?')} — sizes {f.get('settings', {}).get('sizes')}",
        "",
        f"Machine: {m.get('nproc')} CPUs ({m.get('cpu')}), {m.get('mem_total')} memory, kernel {m.get('kernel')}; "
        f"load average at start {' '.join(m.get('loadavg_at_start', []))} (shared machine: figures are noisy). "
        f"Commit {str(f.get('git_sha'))[:12]}{' (dirty)' if f.get('git_dirty') else ''}, {f.get('rustc')}, "
        f"Kubernetes {v.get('K8S_VERSION')}, etcd {v.get('ETCD_VERSION')}, KWOK {v.get('KWOK_VERSION')}; "
        f"controller-manager/scheduler QPS/burst {f.get('settings', {}).get('kube_controller_manager_and_scheduler_qps_burst')}.",
        "",
        "Time from the start of the apply to all steady (operator: every Service Ready with its one deployment "
        "COMPLETED) versus all Available (the rendered Deployments applied directly); per object p50 / p99 in seconds.",
        "",
        "| N | native all Available (s) | operator all steady (s) | ratio (≤ 1.10) | apply→child native (RS) | apply→child operator (Deployment) | apply→steady native | apply→steady operator | rollout → all COMPLETED (s) | load before → after |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in r["sizes"]:
        nat, op, ro = s["native"], s["operator"], s["rollout"] or {}
        ratio = s["ratio"]
        lines.append(
            f"| {s['n']} | {fmt(nat.get('all_steady_s'))} | {fmt(op.get('all_steady_s'))} | "
            f"{fmt(ratio, 2)}{verdict(None if ratio is None else ratio <= TARGET_RATIO)} | "
            f"{p5099(nat['apply_to_child_s'])} | {p5099(op['apply_to_child_s'])} | {p5099(nat['apply_to_steady_s'])} | "
            f"{p5099(op['apply_to_steady_s'])} | {fmt(ro.get('all_steady_s'))} ({ro.get('expect', '–')} Services) | "
            f"{' '.join(nat.get('loadavg_before', [])[:1])} → {' '.join(op.get('loadavg_after', [])[:1])} |"
        )
    lines += [
        "",
        f"The operator's cost: API requests from its ServiceAccount in the API server's audit log over the idle window "
        f"({f.get('settings', {}).get('idle_window_s')} s at steady state), and after touching every Service (a no-op "
        "reconcile of each); RSS and CPU from /proc.",
        "",
        "| N | idle requests | per Service per hour (≤ 1) | no-op reconcile: requests per Service (0) | peak RSS MiB | steady RSS MiB | CPU s create / rollout / idle |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in r["sizes"]:
        i = s["idle"] or {}
        idle, noop = i.get("idle", {}), i.get("noop", {})
        pr = s.get("operator_process", {})
        per_h = idle.get("per_service_per_hour")
        rss_target = TARGET_RSS_MIB.get(s["n"])
        peak = pr.get("peak_rss_mib")
        lines.append(
            f"| {s['n']} | {idle.get('requests', '–')} | {fmt(per_h, 2)}{verdict(None if per_h is None else per_h <= TARGET_IDLE_PER_SERVICE_HOUR)} | "
            f"{fmt(noop.get('per_service'), 2)} ({noop.get('requests', '–')} requests, {noop.get('writes', '–')} writes)"
            f"{verdict(None if not noop else noop.get('requests') == 0)} | "
            f"{fmt(peak)}{verdict(None if rss_target is None or peak is None else peak <= rss_target)} | {fmt(pr.get('steady_rss_mib'))} | "
            f"{fmt(pr.get('cpu_s_create'))} / {fmt(pr.get('cpu_s_rollout'))} / {fmt(pr.get('cpu_s_idle'))} |"
        )
    lines += ["", "Requests in the idle window, by kind:", ""]
    for s in r["sizes"]:
        i = s["idle"] or {}
        lines.append(f"- N={s['n']}: idle {json.dumps(i.get('idle', {}).get('by_request', {}))}; "
                     f"no-op {json.dumps(i.get('noop', {}).get('by_request', {}))}")
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("inputs")
    s.add_argument("--n", type=int, required=True)
    s.add_argument("--rollout", type=int, required=True)
    s.add_argument("--out", required=True)
    s = sub.add_parser("facts")
    for k in ("root", "cluster-nodes", "qps", "burst", "idle", "sizes"):
        s.add_argument(f"--{k}", required=True)
    s = sub.add_parser("annotate")
    s.add_argument("file")
    s.add_argument("--load-before", required=True)
    s.add_argument("--load-after", required=True)
    s = sub.add_parser("brief")
    s.add_argument("file")
    s = sub.add_parser("audit")
    s.add_argument("--log", required=True)
    s.add_argument("--user", required=True)
    s.add_argument("--window", nargs=2, required=True)
    s.add_argument("--noop-window", nargs=2, required=True)
    s.add_argument("--services", type=int, required=True)
    s.add_argument("--proc-idle-start", required=True)
    s.add_argument("--proc-idle-end", required=True)
    s = sub.add_parser("report")
    for k in ("work", "sizes", "json", "markdown"):
        s.add_argument(f"--{k}", required=True)
    a = p.parse_args()
    globals()[f"cmd_{a.cmd}"](a)


if __name__ == "__main__":
    main()
