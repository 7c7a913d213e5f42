//! Container restart policies (`ContainerDefinition.restartPolicy` / `ContainerRestartPolicy`,
//! ECS API model; "Restart individual containers in Amazon ECS tasks with container restart
//! policies", ECS Developer Guide): with `enabled`, ECS restarts an exited container in place,
//! without replacing the task, unless it exited with one of `ignoredExitCodes`. Kubernetes has
//! the same in its container restart rules (container-level `restartPolicy` and
//! `restartPolicyRules`, served from 1.34): `Always` when no exit code is ignored, else `Never`
//! with a rule that restarts on every other code. Pure.

use k8s_openapi::api::core::v1::{
    Container, ContainerRestartRule, ContainerRestartRuleOnExitCodes,
};

use crate::api::ecs::ContainerDefinition;

use super::Context;
use super::diagnostics::Report;

/// The first Kubernetes minor version that serves container restart rules.
pub const RULES_SINCE: (u32, u32) = (1, 34);
/// ECS bounds of `restartAttemptPeriod` (seconds) and of `ignoredExitCodes`.
const PERIOD: std::ops::RangeInclusive<i32> = 60..=1800;
const MAX_IGNORED: usize = 50;

/// The exit codes that do not restart the container, when ECS restarts it at all.
pub fn ignored_exit_codes(def: &ContainerDefinition) -> Option<Vec<i32>> {
    let p = def
        .restart_policy
        .as_ref()
        .filter(|p| p.enabled == Some(true))?;
    Some(p.ignored_exit_codes.clone().unwrap_or_default())
}

/// Set `c`'s restart rules from `def`'s restart policy (`path` is the container's JSON path).
pub fn apply(
    def: &ContainerDefinition,
    path: &str,
    c: &mut Container,
    ctx: &Context,
    report: &mut Report,
) {
    let Some(policy) = def.restart_policy.as_ref() else {
        return;
    };
    let at = |field: &str| format!("{path}.restartPolicy.{field}");
    if let Some(period) = policy.restart_attempt_period
        && !PERIOD.contains(&period)
    {
        report.error(
            at("restartAttemptPeriod"),
            format!("is {period}; ECS allows 60 to 1800 seconds"),
            None,
        );
    }
    let ignored = policy.ignored_exit_codes.clone().unwrap_or_default();
    if ignored.len() > MAX_IGNORED {
        report.error(
            at("ignoredExitCodes"),
            format!(
                "has {} codes; ECS allows at most {MAX_IGNORED}",
                ignored.len()
            ),
            None,
        );
    }
    if policy.enabled != Some(true) {
        return;
    }
    if let Some(v) = ctx.server_version.filter(|v| *v < RULES_SINCE) {
        report.warn(at("enabled"), format!("container restart rules need Kubernetes {}.{} or newer and the server is {}.{}: a Task's container is not restarted (a Service's always is)", RULES_SINCE.0, RULES_SINCE.1, v.0, v.1));
        return;
    }
    if ignored.is_empty() {
        c.restart_policy = Some("Always".into());
    } else {
        c.restart_policy = Some("Never".into());
        c.restart_policy_rules = Some(vec![ContainerRestartRule {
            action: "Restart".into(),
            exit_codes: Some(ContainerRestartRuleOnExitCodes {
                operator: "NotIn".into(),
                values: Some(ignored),
            }),
        }]);
    }
}

/// The seconds an essential container must have run for ECS to restart it
/// (`ContainerRestartPolicy.restartAttemptPeriod`, default 300).
pub fn attempt_period(def: &ContainerDefinition) -> i32 {
    def.restart_policy
        .as_ref()
        .and_then(|p| p.restart_attempt_period)
        .unwrap_or(300)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::Options;

    fn rules(policy: serde_json::Value, server: Option<(u32, u32)>) -> (Container, Report) {
        let def: ContainerDefinition =
            serde_json::from_value(serde_json::json!({"name": "app", "restartPolicy": policy}))
                .unwrap();
        let options = Options {
            server_version: server,
            ..Options::default()
        };
        let td = crate::translate::TaskDefinitionRef {
            family: "app".into(),
            revision: 1,
            namespace: None,
            spec: serde_json::from_value(serde_json::json!({"containerDefinitions": []})).unwrap(),
        };
        let ctx = Context::new(&td, &options);
        let (mut c, mut report) = (Container::default(), Report::default());
        apply(
            &def,
            "spec.containerDefinitions[0]",
            &mut c,
            &ctx,
            &mut report,
        );
        (c, report)
    }

    /// ContainerRestartPolicy (ECS API model): enabled restarts the container in place on any
    /// exit; ignoredExitCodes are the exits that do not restart it.
    #[test]
    fn an_enabled_policy_becomes_container_restart_rules() {
        let (c, r) = rules(serde_json::json!({"enabled": true}), None);
        assert_eq!(c.restart_policy.as_deref(), Some("Always"));
        assert!(c.restart_policy_rules.is_none() && r.warnings.is_empty());
        let (c, _) = rules(
            serde_json::json!({"enabled": true, "ignoredExitCodes": [0, 7]}),
            None,
        );
        assert_eq!(c.restart_policy.as_deref(), Some("Never"));
        let rule = &c.restart_policy_rules.unwrap()[0];
        assert_eq!(rule.action, "Restart");
        let codes = rule.exit_codes.as_ref().unwrap();
        assert_eq!(
            (codes.operator.as_str(), codes.values.clone()),
            ("NotIn", Some(vec![0, 7]))
        );
        let (c, _) = rules(
            serde_json::json!({"enabled": false, "ignoredExitCodes": [1]}),
            None,
        );
        assert!(c.restart_policy.is_none());
    }

    /// ContainerRestartPolicy.restartAttemptPeriod (ECS API model): 60 to 1800 seconds; and the
    /// rules need a server that serves them (a warning naming both versions otherwise).
    #[test]
    fn bounds_and_old_servers_are_reported() {
        let (_, r) = rules(
            serde_json::json!({"enabled": true, "restartAttemptPeriod": 30}),
            None,
        );
        assert!(
            r.errors[0]
                .path
                .ends_with("restartPolicy.restartAttemptPeriod")
        );
        let (c, r) = rules(serde_json::json!({"enabled": true}), Some((1, 33)));
        assert!(c.restart_policy.is_none());
        assert!(r.warnings[0].message.contains("1.34") && r.warnings[0].message.contains("1.33"));
    }
}
