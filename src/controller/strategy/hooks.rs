//! Running a lifecycle hook in the cluster: ECS invokes a Lambda function with the hook
//! payload and reads `hookStatus` from its answer ("Lifecycle hooks for Amazon ECS service
//! deployments", "Lambda hooks", Developer Guide). Here the hook's in-cluster target
//! (`spec.kubernetes.lifecycleHookTargets`) is an HTTP endpoint that gets the same payload and
//! answers the same way, or a Job that gets it in its environment and succeeds or fails.

use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{Container, EnvVar, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

use super::super::apply::Owner;
use super::super::{Context, Error};
use super::machine::{FAILED, IN_PROGRESS, SUCCEEDED};
use crate::api::{LifecycleHookState, LifecycleHookTarget, ServiceDeploymentState};
use crate::translate::names;

/// The label on a hook Job and its pod: the service it gates.
pub const HOOK_OF: &str = "ecs-operator.io/lifecycle-hook-of";

/// How often a running Job hook is looked at.
const JOB_POLL: Duration = Duration::from_secs(3);
/// ECS's default `callBackDelay` for an IN_PROGRESS answer.
const CALLBACK_DELAY: Duration = Duration::from_secs(30);

/// The service's ARN as the payload names it (ECS-shaped; the region field says Kubernetes).
pub fn service_arn(namespace: &str, cluster: &str, service: &str) -> String {
    format!("arn:aws:ecs:kubernetes:{namespace}:service/{cluster}/{service}")
}

/// The ECS lifecycle hook payload ("Lifecycle payloads": executionDetails with the service and
/// target revision ARNs and both traffic weight maps).
pub fn payload(
    st: &ServiceDeploymentState,
    hook: &LifecycleHookState,
    service_arn: &str,
    details: Option<&Value>,
) -> Value {
    let revision_arn = |td: &str, slot: &str| format!("{service_arn}/revision/{slot}/{td}");
    let target = &st.target_service_revision;
    let target_arn = revision_arn(&target.task_definition, &target.slot);
    let mut prod = serde_json::Map::new();
    let mut test = serde_json::Map::new();
    prod.insert(
        target_arn.clone(),
        json!(target.requested_production_traffic_weight),
    );
    test.insert(
        target_arn.clone(),
        json!(target.requested_test_traffic_weight),
    );
    if let Some(s) = &st.source_service_revision {
        let arn = revision_arn(&s.task_definition, &s.slot);
        prod.insert(arn.clone(), json!(s.requested_production_traffic_weight));
        test.insert(arn, json!(s.requested_test_traffic_weight));
    }
    let mut p = json!({
        "executionId": hook.hook_id,
        "lifecycleStage": hook.lifecycle_stage,
        "resourceArn": format!("{service_arn}/deployment/{}", st.id),
        "executionDetails": {
            "serviceArn": service_arn,
            "targetServiceRevisionArn": target_arn,
            "testTrafficWeights": test,
            "productionTrafficWeights": prod,
        },
    });
    if let Some(d) = hook.hook_details.as_ref().or(details) {
        p["hookDetails"] = d.clone();
    }
    p
}

/// The hook's answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    pub status: &'static str,
    pub reason: Option<String>,
    pub again_after: Option<Duration>,
    pub details: Option<Value>,
}

/// An HTTP endpoint's answer: `hookStatus` SUCCEEDED / FAILED / IN_PROGRESS (with
/// `callBackDelay` seconds and `hookDetails`); anything else FAILED ("If a hookStatus is not
/// returned, or if the function fails, the deployment rolls back").
pub fn http_answer(result: Result<(u16, Value), String>) -> Answer {
    let failed = |reason: String| Answer {
        status: FAILED,
        reason: Some(reason),
        again_after: None,
        details: None,
    };
    let (code, body) = match result {
        Ok(r) => r,
        Err(e) => return failed(e),
    };
    if !(200..300).contains(&code) {
        return failed(format!("the hook endpoint answered HTTP {code}"));
    }
    match body["hookStatus"].as_str() {
        Some("SUCCEEDED") => Answer {
            status: SUCCEEDED,
            reason: Some("the hook endpoint answered SUCCEEDED".into()),
            again_after: None,
            details: None,
        },
        Some("FAILED") => failed("the hook endpoint answered FAILED".into()),
        Some("IN_PROGRESS") => Answer {
            status: IN_PROGRESS,
            reason: None,
            again_after: Some(
                body["callBackDelay"]
                    .as_u64()
                    .map(Duration::from_secs)
                    .unwrap_or(CALLBACK_DELAY),
            ),
            details: body.get("hookDetails").cloned(),
        },
        other => failed(format!(
            "the hook endpoint answered no valid hookStatus ({other:?})"
        )),
    }
}

/// A Job's state as a hook answer.
pub fn job_answer(job: &Job) -> Answer {
    let conditions = job
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let true_of = |t: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == t && c.status == "True")
    };
    if let Some(c) = true_of("Complete").or_else(|| true_of("SuccessCriteriaMet")) {
        let _ = c;
        return Answer {
            status: SUCCEEDED,
            reason: Some(format!(
                "Job {} completed",
                job.metadata.name.clone().unwrap_or_default()
            )),
            again_after: None,
            details: None,
        };
    }
    if let Some(c) = true_of("Failed").or_else(|| true_of("FailureTarget")) {
        return Answer {
            status: FAILED,
            reason: Some(format!(
                "Job {} failed: {}",
                job.metadata.name.clone().unwrap_or_default(),
                c.message
                    .clone()
                    .or_else(|| c.reason.clone())
                    .unwrap_or_default()
            )),
            again_after: None,
            details: None,
        };
    }
    Answer {
        status: IN_PROGRESS,
        reason: None,
        again_after: Some(JOB_POLL),
        details: None,
    }
}

/// The Job of a Job hook.
pub fn job(
    name: &str,
    service: &str,
    target: &crate::api::JobHookTarget,
    payload: &Value,
    stage: &str,
    timeout: Duration,
) -> Job {
    let mut env: Vec<EnvVar> = vec![
        EnvVar {
            name: "ECS_LIFECYCLE_HOOK_PAYLOAD".into(),
            value: Some(payload.to_string()),
            ..EnvVar::default()
        },
        EnvVar {
            name: "ECS_LIFECYCLE_STAGE".into(),
            value: Some(stage.into()),
            ..EnvVar::default()
        },
    ];
    env.extend(target.env.iter().map(|(k, v)| EnvVar {
        name: k.clone(),
        value: Some(v.clone()),
        ..EnvVar::default()
    }));
    // Not the service's label: a hook's pod is not one of the service's tasks.
    let labels = std::collections::BTreeMap::from([
        (HOOK_OF.to_string(), names::label_value(service)),
        (names::MANAGED_BY.to_string(), names::OPERATOR.to_string()),
    ]);
    Job {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(labels.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(target.backoff_limit.unwrap_or(0)),
            active_deadline_seconds: Some(timeout.as_secs().max(1) as i64),
            ttl_seconds_after_finished: Some(86_400),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    annotations: (!target.pod_annotations.is_empty())
                        .then(|| target.pod_annotations.clone()),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    service_account_name: target.service_account_name.clone(),
                    containers: vec![Container {
                        name: "hook".into(),
                        image: Some(target.image.clone()),
                        command: (!target.command.is_empty()).then(|| target.command.clone()),
                        args: (!target.args.is_empty()).then(|| target.args.clone()),
                        env: Some(env),
                        ..Container::default()
                    }],
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}

/// Ask the hook target of `hook` once: create its Job (first time) and read it, or POST the
/// payload. The API server's refusals are errors; the target's are the hook's answer.
#[allow(clippy::too_many_arguments)]
pub async fn call(
    ctx: &Context,
    owner: &Owner,
    service: &str,
    st: &ServiceDeploymentState,
    hook: &LifecycleHookState,
    target: &LifecycleHookTarget,
    configured_details: Option<&Value>,
    service_arn: &str,
    timeout: Duration,
) -> Result<Answer, Error> {
    let body = payload(st, hook, service_arn, configured_details);
    if let Some(http) = &target.http {
        let headers: Vec<(String, String)> = http.headers.clone().into_iter().collect();
        let result = ctx
            .http
            .request(http::Method::POST, &http.url, &headers, Some(&body))
            .await;
        return Ok(http_answer(result));
    }
    let Some(spec) = &target.job else {
        return Ok(Answer {
            status: FAILED,
            reason: Some("the hook target has neither job nor http".into()),
            again_after: None,
            details: None,
        });
    };
    let name = hook
        .job_name
        .clone()
        .unwrap_or_else(|| job_name(service, &hook.hook_id));
    let api: Api<Job> = Api::namespaced(ctx.client.clone(), &owner.namespace);
    let live = match api.get_opt(&name).await? {
        Some(j) => j,
        None => {
            let mut j = job(&name, service, spec, &body, &hook.lifecycle_stage, timeout);
            j.metadata.owner_references = Some(vec![owner.reference.clone()]);
            let created = api.create(&PostParams::default(), &j).await?;
            ctx.metrics.write("create", "jobs.batch");
            created
        }
    };
    Ok(job_answer(&live))
}

/// The name of the Job of hook `hook_id` of `service`.
pub fn job_name(service: &str, hook_id: &str) -> String {
    let base = names::sanitize(service, 40);
    format!("{base}-hook-{hook_id}")
}

/// Record an answer in the hook's state.
pub fn record(h: &mut LifecycleHookState, answer: Answer, now: Timestamp, job: Option<String>) {
    h.status = answer.status.into();
    if answer.reason.is_some() {
        h.reason = answer.reason;
    }
    if answer.details.is_some() {
        h.hook_details = answer.details;
    }
    h.job_name = job.or(h.job_name.take());
    h.next_poll_at = answer.again_after.map(|d| {
        now.checked_add(k8s_openapi::jiff::SignedDuration::from_secs(
            d.as_secs() as i64
        ))
        .unwrap_or(now)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_answers_follow_ecs_hook_statuses() {
        let ok = |v: Value| Ok((200, v));
        assert_eq!(
            http_answer(ok(json!({"hookStatus": "SUCCEEDED"}))).status,
            SUCCEEDED
        );
        assert_eq!(
            http_answer(ok(json!({"hookStatus": "FAILED"}))).status,
            FAILED
        );
        let again = http_answer(ok(
            json!({"hookStatus": "IN_PROGRESS", "callBackDelay": 60, "hookDetails": {"n": 1}}),
        ));
        assert_eq!(
            (again.status, again.again_after),
            (IN_PROGRESS, Some(Duration::from_secs(60)))
        );
        assert_eq!(again.details, Some(json!({"n": 1})));
        // Default re-poll: 30 s (Lambda hooks, "By default, the delay is 30 seconds").
        assert_eq!(
            http_answer(ok(json!({"hookStatus": "IN_PROGRESS"}))).again_after,
            Some(CALLBACK_DELAY)
        );
        // No valid hookStatus, an HTTP error, no answer: the deployment rolls back.
        assert_eq!(http_answer(ok(json!({}))).status, FAILED);
        assert_eq!(http_answer(Ok((500, Value::Null))).status, FAILED);
        assert_eq!(http_answer(Err("refused".into())).status, FAILED);
    }

    #[test]
    fn job_conditions_become_hook_statuses() {
        let with = |t: &str| -> Job {
            serde_json::from_value(json!({"metadata": {"name": "j"}, "status": {"conditions": [{"type": t, "status": "True", "message": "BackoffLimitExceeded"}]}})).unwrap()
        };
        assert_eq!(job_answer(&with("Complete")).status, SUCCEEDED);
        let failed = job_answer(&with("Failed"));
        assert_eq!(failed.status, FAILED);
        assert!(failed.reason.unwrap().contains("BackoffLimitExceeded"));
        assert_eq!(job_answer(&Job::default()).status, IN_PROGRESS);
    }
}
