//! ECS `healthCheck` to Kubernetes probes: an exec readiness probe with ECS timing (interval 30,
//! timeout 5, retries 3) that reports health, a startup probe only where a container gates
//! HEALTHY dependents, per-probe overrides from `spec.kubernetes`, and the grace after which a
//! failing check is UNHEALTHY (the Service controller replaces such a task, as ECS does).

use k8s_openapi::api::core::v1::{ExecAction, Probe};

use crate::api::ecs::HealthCheck;
use crate::api::{ProbeOverride, ProbeOverrides};

use super::diagnostics::Report;

/// ECS defaults for a health check.
const INTERVAL: i32 = 30;
const TIMEOUT: i32 = 5;
const RETRIES: i32 = 3;

/// The probes of one container.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Probes {
    pub readiness: Option<Probe>,
    pub liveness: Option<Probe>,
    pub startup: Option<Probe>,
}

/// The exec command of an ECS health check: `CMD` runs the rest as is, `CMD-SHELL` through
/// `/bin/sh -c`. HealthCheck.command (ECS API model): "must start with CMD ... or CMD-SHELL";
/// Docker ignores a check in any other form with a warning, so on ECS such a task runs with
/// health UNKNOWN: the same here, a warning and no probe (issue 9 item 4), never a refusal.
pub fn exec_command(check: &HealthCheck, path: &str, report: &mut Report) -> Option<Vec<String>> {
    let command = check.command.as_deref().unwrap_or_default();
    match command.split_first() {
        Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => Some(rest.to_vec()),
        Some((kind, rest)) if kind == "CMD-SHELL" && !rest.is_empty() => {
            Some(vec!["/bin/sh".into(), "-c".into(), rest.join(" ")])
        }
        Some((kind, [])) if kind == "CMD" || kind == "CMD-SHELL" => {
            report.error(
                format!("{path}.command"),
                format!("\"{kind}\" must be followed by the command to run"),
                Some("e.g. [\"CMD-SHELL\", \"curl -f http://localhost/ || exit 1\"]".to_string()),
            );
            None
        }
        Some((kind, _)) => {
            report.warn(
                format!("{path}.command"),
                format!("starts with \"{kind}\", not \"CMD\" or \"CMD-SHELL\": Docker ignores such a health check, so ECS reports the container's health as UNKNOWN; no probe is set (prefix the command with \"CMD\" or \"CMD-SHELL\" to check it)"),
            );
            None
        }
        None => {
            // HealthCheck.command is a required member of the shape.
            report.error(
                format!("{path}.command"),
                "is required: [\"CMD\", ...] or [\"CMD-SHELL\", \"...\"]",
                Some("e.g. [\"CMD-SHELL\", \"curl -f http://localhost/ || exit 1\"]".to_string()),
            );
            None
        }
    }
}

/// What a container's health check decides, by ECS's rules (HealthCheck, ECS API model):
/// only essential containers' health makes up the task's health, a non-essential container's
/// health "is reported but changes nothing" except gating a HEALTHY `dependsOn`; a Service
/// replaces an unhealthy task, while a standalone task "will continue its lifecycle
/// regardless of its health status".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthRole {
    /// ContainerDefinition.essential (default true).
    pub essential: bool,
    /// Another container depends on this one with condition HEALTHY.
    pub gates_dependents: bool,
    /// Part of a Service (replaced when unhealthy) rather than a standalone Task.
    pub replaced_when_unhealthy: bool,
}

/// The probes of one container in its role: [`probes`], then only what ECS's rules let act.
/// - a non-essential container gets no readiness or liveness probe (its health never makes
///   the task unhealthy), only the startup probe that holds its HEALTHY dependents back;
/// - an essential container gets readiness only (plus a startup probe when it gates HEALTHY
///   dependents): no liveness probe, in a standalone Task (nothing restarts or stops an
///   unhealthy standalone task) or in a Service (the service scheduler replaces the whole
///   task, see below); readiness reports health.
pub fn for_container(
    check: &HealthCheck,
    role: HealthRole,
    grace_seconds: i32,
    overrides: Option<&ProbeOverrides>,
    path: &str,
    report: &mut Report,
) -> Probes {
    let mut p = probes(check, grace_seconds, overrides, path, report);
    if p == Probes::default() {
        return p;
    }
    if !role.essential {
        // The startup probe gates HEALTHY dependents; without a start period it is the check itself.
        let gate = p.startup.take().or(p.readiness.take());
        if !role.gates_dependents {
            report.warn(
                path,
                "is on a non-essential container: in ECS its health is reported but never changes the task's health, so no probe is set (its health shows as UNKNOWN)",
            );
        }
        return Probes {
            startup: gate.filter(|_| role.gates_dependents),
            ..Probes::default()
        };
    }
    // Neither a standalone Task nor a Service restarts an unhealthy container in place: a
    // standalone task "will continue its lifecycle regardless of its health status", and "for
    // tasks that are part of a service, if the task reports as unhealthy then the task will be
    // stopped and the service scheduler will replace it" (HealthCheck, ECS API model) — the
    // Service controller does that from readiness (`controller::service::unhealthy`), after
    // the grace [`grace_seconds`] gives. A liveness probe or a main container's startup probe
    // would kill the container instead, so neither is set, unless `spec.kubernetes.probes`
    // asks for a liveness probe by name (an explicit opt-in to Kubernetes' restart in place).
    let liveness_asked = role.replaced_when_unhealthy
        && overrides
            .and_then(|o| o.liveness.as_ref())
            .is_some_and(|l| l.disabled != Some(true));
    if !liveness_asked {
        p.liveness = None;
    }
    if !role.gates_dependents {
        p.startup = None;
    }
    p
}

/// Seconds after a container starts before a failing check makes it UNHEALTHY: failures
/// inside `startPeriod` "will not be counted toward the maximum number of retries"
/// (HealthCheck.startPeriod), the service scheduler "ignores unhealthy ... container health
/// checks" for `healthCheckGracePeriodSeconds` after a task has first started
/// (Service.healthCheckGracePeriodSeconds), and then it takes `retries` failures `interval`
/// seconds apart (HealthCheck defaults 30 s and 3).
pub fn grace_seconds(check: &HealthCheck, service_grace: i32) -> i32 {
    let tolerance = check.start_period.unwrap_or(0).max(service_grace).max(0);
    tolerance + check.interval.unwrap_or(INTERVAL).max(1) * check.retries.unwrap_or(RETRIES).max(1)
}

/// Probes for a container's health check. `grace_seconds` is the service's
/// `healthCheckGracePeriodSeconds`: failures inside it do not count, like ECS.
pub fn probes(
    check: &HealthCheck,
    grace_seconds: i32,
    overrides: Option<&ProbeOverrides>,
    path: &str,
    report: &mut Report,
) -> Probes {
    let Some(command) = exec_command(check, path, report) else {
        return Probes::default();
    };
    let interval = check.interval.unwrap_or(INTERVAL);
    let timeout = check.timeout.unwrap_or(TIMEOUT);
    let retries = check.retries.unwrap_or(RETRIES);
    for (field, value, lo, hi) in [
        ("interval", interval, 5, 300),
        ("timeout", timeout, 2, 60),
        ("retries", retries, 1, 10),
    ] {
        if !(lo..=hi).contains(&value) {
            report.error(
                format!("{path}.{field}"),
                format!("is {value}; ECS allows {lo} to {hi}"),
                None,
            );
        }
    }
    let start_period = check.start_period.unwrap_or(0);
    if !(0..=300).contains(&start_period) {
        report.error(
            format!("{path}.startPeriod"),
            format!("is {start_period}; ECS allows 0 to 300"),
            None,
        );
    }
    let base = Probe {
        exec: Some(ExecAction {
            command: Some(command),
        }),
        period_seconds: Some(interval),
        timeout_seconds: Some(timeout),
        failure_threshold: Some(retries),
        ..Probe::default()
    };
    let tolerance = start_period.max(grace_seconds).max(0);
    let startup = (tolerance > 0).then(|| Probe {
        // Enough attempts to cover the tolerance, then ECS's retries on top.
        failure_threshold: Some((tolerance + interval.max(1) - 1) / interval.max(1) + retries),
        ..base.clone()
    });
    let apply = |probe: Option<Probe>, o: Option<&ProbeOverride>| -> Option<Probe> {
        let Some(o) = o else { return probe };
        if o.disabled == Some(true) {
            return None;
        }
        probe.map(|mut p| {
            p.period_seconds = o.period_seconds.or(p.period_seconds);
            p.timeout_seconds = o.timeout_seconds.or(p.timeout_seconds);
            p.failure_threshold = o.failure_threshold.or(p.failure_threshold);
            p.initial_delay_seconds = o.initial_delay_seconds.or(p.initial_delay_seconds);
            p
        })
    };
    Probes {
        readiness: apply(
            Some(base.clone()),
            overrides.and_then(|o| o.readiness.as_ref()),
        ),
        liveness: apply(Some(base), overrides.and_then(|o| o.liveness.as_ref())),
        startup: apply(startup, overrides.and_then(|o| o.startup.as_ref())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(cmd: &[&str]) -> HealthCheck {
        HealthCheck {
            command: Some(cmd.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn cmd_shell_runs_through_sh_with_ecs_defaults() {
        let mut r = Report::default();
        let p = probes(
            &check(&["CMD-SHELL", "curl -f http://localhost/ || exit 1"]),
            0,
            None,
            "hc",
            &mut r,
        );
        let ready = p.readiness.unwrap();
        assert_eq!(
            ready.exec.unwrap().command.unwrap(),
            vec!["/bin/sh", "-c", "curl -f http://localhost/ || exit 1"]
        );
        assert_eq!(
            (
                ready.period_seconds,
                ready.timeout_seconds,
                ready.failure_threshold
            ),
            (Some(30), Some(5), Some(3))
        );
        assert!(p.startup.is_none());
        assert!(r.is_ok());
    }

    #[test]
    fn start_period_and_grace_become_a_startup_probe() {
        let mut r = Report::default();
        let mut hc = check(&["CMD", "/healthz"]);
        hc.start_period = Some(60);
        hc.interval = Some(10);
        let p = probes(&hc, 120, None, "hc", &mut r);
        assert_eq!(p.startup.unwrap().failure_threshold, Some(12 + 3));
    }

    /// HealthCheck.command (ECS API model): CMD or CMD-SHELL first; Docker ignores any other
    /// check, so a warning and no probe, never a refusal. A bare CMD and bad ranges are errors.
    #[test]
    fn healthcheck_command_without_cmd_warns_and_bad_ranges_are_errors() {
        let mut r = Report::default();
        let p = probes(
            &check(&["curl", "x"]),
            0,
            None,
            "spec.containerDefinitions[0].healthCheck",
            &mut r,
        );
        assert_eq!(p, Probes::default());
        assert!(r.is_ok(), "{:?}", r.errors);
        assert_eq!(
            r.warnings[0].path,
            "spec.containerDefinitions[0].healthCheck.command"
        );
        let mut r = Report::default();
        probes(&check(&["CMD-SHELL"]), 0, None, "hc", &mut r);
        assert_eq!(r.errors[0].path, "hc.command");
        let mut r = Report::default();
        probes(
            &{
                let mut h = check(&["CMD", "x"]);
                h.retries = Some(50);
                h
            },
            0,
            None,
            "hc",
            &mut r,
        );
        assert_eq!(r.errors[0].path, "hc.retries");
    }

    #[test]
    fn overrides_change_timing_or_disable() {
        let mut r = Report::default();
        let o = ProbeOverrides {
            liveness: Some(ProbeOverride {
                disabled: Some(true),
                ..Default::default()
            }),
            readiness: Some(ProbeOverride {
                period_seconds: Some(5),
                ..Default::default()
            }),
            startup: None,
        };
        let p = probes(&check(&["CMD", "x"]), 0, Some(&o), "hc", &mut r);
        assert!(p.liveness.is_none());
        assert_eq!(p.readiness.unwrap().period_seconds, Some(5));
    }

    fn role(essential: bool, service: bool) -> HealthRole {
        HealthRole {
            essential,
            gates_dependents: false,
            replaced_when_unhealthy: service,
        }
    }

    /// HealthCheck (ECS API model): "for tasks that are part of a service, if the task reports
    /// as unhealthy then the task will be stopped and the service scheduler will replace it";
    /// a standalone task "will continue its lifecycle regardless of its health status". Neither
    /// restarts the container in place: readiness only, no liveness, no startup probe.
    #[test]
    fn healthcheck_service_and_standalone_tasks_get_readiness_only() {
        let mut h = check(&["CMD", "x"]);
        h.start_period = Some(60);
        for service in [true, false] {
            let mut r = Report::default();
            let p = for_container(&h, role(true, service), 30, None, "hc", &mut r);
            assert!(p.readiness.is_some(), "service={service}");
            assert!(p.liveness.is_none(), "service={service}");
            assert!(p.startup.is_none(), "service={service}");
        }
    }

    /// An explicit liveness override in `spec.kubernetes.probes` opts a Service's container
    /// into Kubernetes' restart in place (a documented difference from ECS).
    #[test]
    fn a_named_liveness_override_keeps_liveness_in_a_service_only() {
        let o = ProbeOverrides {
            liveness: Some(ProbeOverride {
                period_seconds: Some(7),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut r = Report::default();
        let h = check(&["CMD", "x"]);
        let p = for_container(&h, role(true, true), 0, Some(&o), "hc", &mut r);
        assert_eq!(p.liveness.unwrap().period_seconds, Some(7));
        let p = for_container(&h, role(true, false), 0, Some(&o), "hc", &mut r);
        assert!(p.liveness.is_none());
    }

    /// HealthCheck.startPeriod and Service.healthCheckGracePeriodSeconds (ECS API model):
    /// failures inside the longer of the two do not count; then `retries` × `interval`.
    #[test]
    fn healthcheck_grace_is_the_longer_tolerance_plus_retries_times_interval() {
        let mut h = check(&["CMD", "x"]);
        assert_eq!(grace_seconds(&h, 0), 90, "defaults: 30 s × 3");
        h.interval = Some(5);
        h.retries = Some(2);
        h.start_period = Some(20);
        assert_eq!(grace_seconds(&h, 0), 30);
        assert_eq!(grace_seconds(&h, 60), 70);
    }
}
