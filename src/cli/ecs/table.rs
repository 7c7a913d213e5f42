//! The default output: tables like `kubectl get` (upper-case headers, columns padded with three
//! spaces, an AGE column), built from the ECS response JSON the verbs produce, so the table and
//! `--output json` never disagree. Pure: the clock is passed in.

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

/// Columns padded to their widest cell, three spaces apart; the last column is not padded.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            out.push_str(c);
            if i < last {
                let pad = widths[i] + 3 - c.chars().count();
                out.push_str(&" ".repeat(pad));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// kubectl's age (`HumanDuration`): 45s, 5m30s, 42m, 5h12m, 20h, 3d4h, 12d; `<unknown>`
/// without a parsable timestamp.
pub fn age(since: Option<&str>, now: Timestamp) -> String {
    let Some(t) = since.and_then(parse) else {
        return "<unknown>".into();
    };
    let s = now.as_second().saturating_sub(t.as_second()).max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86400);
    match () {
        _ if s < 120 => format!("{s}s"),
        _ if m < 10 => match s % 60 {
            0 => format!("{m}m"),
            r => format!("{m}m{r}s"),
        },
        _ if h < 3 => format!("{m}m"),
        _ if h < 8 => match m % 60 {
            0 => format!("{h}h"),
            r => format!("{h}h{r}m"),
        },
        _ if h < 48 => format!("{h}h"),
        _ if d < 8 => match h % 24 {
            0 => format!("{d}d"),
            r => format!("{d}d{r}h"),
        },
        _ => format!("{d}d"),
    }
}

/// RFC 3339 or the AWS CLI's ISO-8601 (`+00:00`).
fn parse(s: &str) -> Option<Timestamp> {
    s.parse().ok()
}

fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "<none>".into(),
        Some(other) => other.to_string(),
    }
}

/// `family:N` of a task definition ARN (or the reference as it is).
fn short_td(v: &Value, key: &str) -> String {
    let t = text(v, key);
    t.rsplit_once(":task-definition/")
        .map_or(t.clone(), |(_, r)| r.to_string())
}

/// describe-services / update-service: NAME STATUS DESIRED RUNNING PENDING TASKDEF ROLLOUT AGE.
pub fn services(services: &[Value], now: Timestamp) -> String {
    let rows: Vec<Vec<String>> = services
        .iter()
        .map(|s| {
            let primary = s
                .get("deployments")
                .and_then(Value::as_array)
                .and_then(|d| {
                    d.iter()
                        .find(|d| d.get("status").and_then(Value::as_str) == Some("PRIMARY"))
                });
            vec![
                text(s, "serviceName"),
                text(s, "status"),
                text(s, "desiredCount"),
                text(s, "runningCount"),
                text(s, "pendingCount"),
                short_td(s, "taskDefinition"),
                primary.map_or("<none>".into(), |d| text(d, "rolloutState")),
                age(s.get("createdAt").and_then(Value::as_str), now),
            ]
        })
        .collect();
    render(
        &[
            "NAME", "STATUS", "DESIRED", "RUNNING", "PENDING", "TASKDEF", "ROLLOUT", "AGE",
        ],
        &rows,
    )
}

/// describe-tasks / run-task / stop-task: TASK LAST DESIRED TASKDEF GROUP HEALTH STOPCODE AGE.
pub fn tasks(tasks: &[Value], now: Timestamp) -> String {
    let rows: Vec<Vec<String>> = tasks
        .iter()
        .map(|t| {
            vec![
                super::arn::name(&text(t, "taskArn")).to_string(),
                text(t, "lastStatus"),
                text(t, "desiredStatus"),
                short_td(t, "taskDefinitionArn"),
                text(t, "group"),
                text(t, "healthStatus"),
                text(t, "stopCode"),
                age(t.get("createdAt").and_then(Value::as_str), now),
            ]
        })
        .collect();
    render(
        &[
            "TASK", "LAST", "DESIRED", "TASKDEF", "GROUP", "HEALTH", "STOPCODE", "AGE",
        ],
        &rows,
    )
}

/// describe-, register- and deregister-task-definition: FAMILY REVISION STATUS CPU MEMORY
/// CONTAINERS AGE.
pub fn task_definition(td: &Value, now: Timestamp) -> String {
    let containers = td
        .get("containerDefinitions")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c.get("name").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    render(
        &[
            "FAMILY",
            "REVISION",
            "STATUS",
            "CPU",
            "MEMORY",
            "CONTAINERS",
            "AGE",
        ],
        &[vec![
            text(td, "family"),
            text(td, "revision"),
            text(td, "status"),
            text(td, "cpu"),
            text(td, "memory"),
            containers,
            age(td.get("registeredAt").and_then(Value::as_str), now),
        ]],
    )
}

/// list-services / list-tasks / list-task-definitions: NAME and ARN of each.
pub fn arns(arns: &[Value]) -> String {
    let rows: Vec<Vec<String>> = arns
        .iter()
        .filter_map(Value::as_str)
        .map(|a| {
            let n = a
                .rsplit_once(":task-definition/")
                .map_or_else(|| super::arn::name(a).to_string(), |(_, r)| r.to_string());
            vec![n, a.to_string()]
        })
        .collect();
    render(&["NAME", "ARN"], &rows)
}

/// failures[] as lines for stderr (`MISSING: arn…`), as the table leaves them out.
pub fn failures(failures: &[Value]) -> String {
    failures
        .iter()
        .map(|f| {
            let detail = f
                .get("detail")
                .and_then(Value::as_str)
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            format!("{}: {}{detail}\n", text(f, "reason"), text(f, "arn"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2026-01-02T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn columns_are_padded_like_kubectl_get() {
        let out = render(
            &["NAME", "STATUS"],
            &[
                vec!["web".into(), "ACTIVE".into()],
                vec!["backend".into(), "DRAINING".into()],
            ],
        );
        assert_eq!(
            out,
            "NAME      STATUS\nweb       ACTIVE\nbackend   DRAINING\n"
        );
    }

    #[test]
    fn ages_read_like_kubectl() {
        let at = |s: &str| age(Some(s), now());
        assert_eq!(at("2026-01-01T23:59:15Z"), "45s");
        assert_eq!(at("2026-01-01T23:54:30Z"), "5m30s");
        assert_eq!(at("2026-01-01T23:18:00Z"), "42m");
        assert_eq!(at("2026-01-01T18:48:00Z"), "5h12m");
        assert_eq!(at("2026-01-01T04:00:00Z"), "20h");
        assert_eq!(at("2025-12-29T20:00:00Z"), "3d4h");
        assert_eq!(at("2025-12-21T00:00:00Z"), "12d");
        assert_eq!(at("2026-01-01T23:59:59.123000+00:00"), "1s");
        assert_eq!(age(None, now()), "<unknown>");
    }

    #[test]
    fn the_service_table_shows_the_primary_rollout_and_family_revision() {
        let s = json!({"serviceName": "web", "status": "ACTIVE", "desiredCount": 2, "runningCount": 1,
            "pendingCount": 1, "taskDefinition": "arn:aws:ecs:kubernetes:ns:task-definition/web:3",
            "createdAt": "2026-01-01T23:00:00.000000+00:00",
            "deployments": [{"status": "ACTIVE", "rolloutState": "COMPLETED"}, {"status": "PRIMARY", "rolloutState": "IN_PROGRESS"}]});
        let out = services(&[s], now());
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("NAME   STATUS   DESIRED"));
        let cells: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(
            cells,
            [
                "web",
                "ACTIVE",
                "2",
                "1",
                "1",
                "web:3",
                "IN_PROGRESS",
                "60m"
            ]
        );
        assert_eq!(
            failures(&[json!({"arn": "arn:x", "reason": "MISSING"})]),
            "MISSING: arn:x\n"
        );
        assert!(
            arns(&[json!("arn:aws:ecs:kubernetes:ns:task-definition/web:3")]).contains("web:3")
        );
    }
}
