//! Deployment alarms (`deploymentConfiguration.alarms`) read from an Alertmanager-compatible
//! API (`GET /api/v2/alerts`, Alertmanager's OpenAPI v2): an ECS alarm name is an alert's
//! `alertname` label, and an active (not silenced, not inhibited) alert is the alarm in ALARM
//! state since its `startsAt`.

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use super::http::JsonClient;
use super::machine::FiringAlarm;

/// The active alerts named by `names`, or why they could not be read.
pub async fn firing(
    client: &JsonClient,
    base_url: &str,
    names: &[String],
) -> Result<Vec<FiringAlarm>, String> {
    let url = format!(
        "{}/api/v2/alerts?active=true&silenced=false&inhibited=false",
        base_url.trim_end_matches('/')
    );
    let (status, body) = client.request(http::Method::GET, &url, &[], None).await?;
    if status != 200 {
        return Err(format!("{url}: HTTP {status}"));
    }
    Ok(parse(&body, names))
}

/// The alerts of an Alertmanager `GET /api/v2/alerts` answer that are named by `names`.
pub fn parse(body: &Value, names: &[String]) -> Vec<FiringAlarm> {
    body.as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["status"]["state"].as_str().is_none_or(|s| s == "active"))
        .filter_map(|a| {
            let name = a["labels"]["alertname"].as_str()?;
            if !names.iter().any(|n| n == name) {
                return None;
            }
            let starts_at: Timestamp = a["startsAt"].as_str()?.parse().ok()?;
            Some(FiringAlarm {
                name: name.to_string(),
                starts_at,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_active_alerts_of_the_named_alarms_count() {
        let body = serde_json::json!([
            {"labels": {"alertname": "HighErrors"}, "startsAt": "2026-12-03T10:00:00Z", "status": {"state": "active"}},
            {"labels": {"alertname": "HighErrors"}, "startsAt": "2026-12-03T09:00:00Z", "status": {"state": "suppressed"}},
            {"labels": {"alertname": "Other"}, "startsAt": "2026-12-03T10:00:00Z", "status": {"state": "active"}},
            {"labels": {}, "startsAt": "2026-12-03T10:00:00Z"}
        ]);
        let got = parse(&body, &["HighErrors".to_string()]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].name, "HighErrors");
        assert_eq!(got[0].starts_at.to_string(), "2026-12-03T10:00:00Z");
    }
}
