//! ECS deployment strategies other than ROLLING — BLUE_GREEN, LINEAR and CANARY
//! (`DeploymentConfiguration.strategy`, ECS API model) and the CODE_DEPLOY deployment controller
//! they replace — validated into a [`Plan`] the deployment state machine runs, and the two
//! workload slots a service's revisions alternate between. Pure.
//!
//! A strategy service has two slots: `main` (the translator's workload names, so a ROLLING
//! service switched to BLUE_GREEN keeps its Deployment) and `alt` (names suffixed `-alt`). The
//! revision serving production (blue) is in one; a deployment puts the new revision (green)
//! in the other, and the pods carry `ecs-operator.io/slot` so Services can select either.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Service as KubeService;

use crate::api::ecs::{
    DeploymentConfiguration, DeploymentControllerType, DeploymentLifecycleHookAction,
    DeploymentLifecycleHookStage, DeploymentLifecycleHookTargetType, DeploymentStrategy,
    SchedulingStrategy,
};
use crate::api::{LifecycleHookTarget, ServiceSpec};

use super::diagnostics::Report;
use super::names;
use super::service::Workload;

/// The pod label naming a strategy service's workload slot.
pub const SLOT: &str = "ecs-operator.io/slot";
/// The pod label the production Service selects while LINEAR or CANARY traffic is split by the
/// share of ready tasks (no HTTPRoute): the operator sets it on the chosen pods of both slots.
pub const PRODUCTION_TRAFFIC: &str = "ecs-operator.io/production-traffic";

/// A workload slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Slot {
    Main,
    Alt,
}

impl Slot {
    pub fn as_str(self) -> &'static str {
        match self {
            Slot::Main => "main",
            Slot::Alt => "alt",
        }
    }

    pub fn parse(s: &str) -> Slot {
        if s == "alt" { Slot::Alt } else { Slot::Main }
    }

    pub fn other(self) -> Slot {
        match self {
            Slot::Main => Slot::Alt,
            Slot::Alt => Slot::Main,
        }
    }

    /// The name of a workload (or Service) of this slot.
    pub fn name(self, base: &str) -> String {
        match self {
            Slot::Main => base.to_string(),
            Slot::Alt => names::sanitize(&format!("{base}-alt"), 63),
        }
    }
}

/// The strategy, with its traffic steps.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    BlueGreen,
    Linear {
        step_percent: f64,
        step_bake: Duration,
    },
    Canary {
        percent: f64,
        bake: Duration,
    },
}

impl Kind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::BlueGreen => "BLUE_GREEN",
            Kind::Linear { .. } => "LINEAR",
            Kind::Canary { .. } => "CANARY",
        }
    }

    /// The production traffic weights of green, step by step, ending at 100, and the bake
    /// after each step but the last (LinearConfiguration: "This bake time is not applied after
    /// reaching 100 percent traffic"; CanaryConfiguration: the canary, a bake, then the rest).
    pub fn steps(&self) -> Vec<(f64, Duration)> {
        match self {
            Kind::BlueGreen => vec![(100.0, Duration::ZERO)],
            Kind::Linear {
                step_percent,
                step_bake,
            } => {
                let mut out = Vec::new();
                let mut w = 0.0;
                while w < 100.0 {
                    // Tenths, as ECS takes them, so 3 × 33.3 does not leave 0.1 % behind.
                    w = ((w + step_percent) * 10.0).round() / 10.0;
                    let last = w >= 100.0 - 1e-9;
                    out.push((
                        if last { 100.0 } else { w },
                        if last { Duration::ZERO } else { *step_bake },
                    ));
                    if last {
                        break;
                    }
                }
                out
            }
            Kind::Canary { percent, bake } if *percent >= 100.0 => {
                let _ = bake;
                vec![(100.0, Duration::ZERO)]
            }
            Kind::Canary { percent, bake } => vec![(*percent, *bake), (100.0, Duration::ZERO)],
        }
    }
}

/// What runs a hook.
#[derive(Clone, Debug, PartialEq)]
pub enum HookRunner {
    /// PAUSE: waits for `ecs-operator.io/continue-deployment`.
    Pause,
    /// An AWS_LAMBDA hook mapped to a Job or an HTTP endpoint.
    Target(Box<LifecycleHookTarget>),
}

/// A lifecycle hook, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct Hook {
    /// Index in `lifecycleHooks`.
    pub index: usize,
    pub runner: HookRunner,
    pub target_arn: Option<String>,
    pub stages: Vec<DeploymentLifecycleHookStage>,
    pub timeout: Duration,
    /// CONTINUE (true) or ROLLBACK (false, the default) when the hook times out.
    pub continue_on_timeout: bool,
    pub details: Option<serde_json::Value>,
}

/// Deployment alarms, when enabled.
#[derive(Clone, Debug, PartialEq)]
pub struct Alarms {
    pub names: Vec<String>,
    pub rollback: bool,
}

/// A validated BLUE_GREEN, LINEAR or CANARY deployment configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub kind: Kind,
    /// `bakeTimeInMinutes`: blue keeps running after the production shift.
    pub bake: Duration,
    pub hooks: Vec<Hook>,
    pub alarms: Option<Alarms>,
    /// The length of one ECS minute (`spec.kubernetes.deploymentMinuteSeconds`, default 60 s).
    pub minute: Duration,
}

/// The deployment config names of CodeDeploy's predefined ECS configurations, and the shape of
/// custom ones: `…ECSAllAtOnce` (BLUE_GREEN), `…ECSLinear<P>PercentEvery<M>Minute[s]` and
/// `…ECSCanary<P>Percent<M>Minute[s]` (CodeDeploy User Guide, "Deployment configurations on an
/// Amazon ECS compute platform").
fn code_deploy_kind(name: &str, minute: Duration) -> Option<Kind> {
    let rest = name.rsplit('.').next().unwrap_or(name);
    let rest = rest.strip_prefix("ECS").unwrap_or(rest);
    if rest == "AllAtOnce" {
        return Some(Kind::BlueGreen);
    }
    let minutes = |s: &str| -> Option<u64> {
        s.strip_suffix("Minutes")
            .or_else(|| s.strip_suffix("Minute"))?
            .parse()
            .ok()
    };
    if let Some(r) = rest.strip_prefix("Linear") {
        let (p, m) = r.split_once("PercentEvery")?;
        return Some(Kind::Linear {
            step_percent: p.parse().ok()?,
            step_bake: minute * minutes(m)? as u32,
        });
    }
    if let Some(r) = rest.strip_prefix("Canary") {
        let (p, m) = r.split_once("Percent")?;
        return Some(Kind::Canary {
            percent: p.parse().ok()?,
            bake: minute * minutes(m)? as u32,
        });
    }
    None
}

/// The annotation naming the CodeDeploy deployment configuration of a CODE_DEPLOY service
/// (the deployment group's `deploymentConfigName`, which the ECS service does not carry).
pub const CODE_DEPLOY_CONFIG: &str = "ecs-operator.io/codedeploy-deployment-config";

/// The plan of `spec`, or `None` for a ROLLING service. Errors and warnings go to `report`,
/// each naming its field. `code_deploy_config` is the Service's [`CODE_DEPLOY_CONFIG`].
pub fn plan(
    spec: &ServiceSpec,
    code_deploy_config: Option<&str>,
    report: &mut Report,
) -> Option<Plan> {
    let dc = spec.deployment_configuration.clone().unwrap_or_default();
    let settings = spec.kubernetes.clone().unwrap_or_default();
    let minute = Duration::from_secs(
        settings
            .deployment_minute_seconds
            .unwrap_or(60)
            .clamp(1, 60) as u64,
    );
    let controller = spec.deployment_controller.as_ref().and_then(|c| c.r#type);
    let path = "spec.deploymentConfiguration";
    let kind = match (controller, dc.strategy) {
        (Some(DeploymentControllerType::External), _) => {
            report.error(
                "spec.deploymentController.type",
                "EXTERNAL deployments are not supported: a third-party controller would create the task sets, and Kubernetes has no task sets",
                Some("remove deploymentController or set it to ECS".to_string()),
            );
            return None;
        }
        (Some(DeploymentControllerType::CodeDeploy), _) => {
            // ECS now runs blue/green natively ("Amazon ECS blue/green service deployments",
            // Developer Guide): a CODE_DEPLOY service becomes the native equivalent.
            let name = code_deploy_config.unwrap_or("CodeDeployDefault.ECSAllAtOnce");
            let Some(kind) = code_deploy_kind(name, minute) else {
                report.error(
                    format!("metadata.annotations[{CODE_DEPLOY_CONFIG}]"),
                    format!("`{name}` is not a CodeDeploy ECS deployment configuration"),
                    Some("use CodeDeployDefault.ECSAllAtOnce, CodeDeployDefault.ECSLinear<P>PercentEvery<M>Minutes or CodeDeployDefault.ECSCanary<P>Percent<M>Minutes".to_string()),
                );
                return None;
            };
            report.warn(
                "spec.deploymentController.type",
                format!(
                    "CODE_DEPLOY runs as an ECS-native {} deployment ({name}); CodeDeploy AppSpec hooks become spec.deploymentConfiguration.lifecycleHooks",
                    kind.as_str()
                ),
            );
            kind
        }
        (_, None | Some(DeploymentStrategy::Rolling)) => {
            for (set, field) in [
                (dc.bake_time_in_minutes.is_some(), "bakeTimeInMinutes"),
                (dc.linear_configuration.is_some(), "linearConfiguration"),
                (dc.canary_configuration.is_some(), "canaryConfiguration"),
            ] {
                if set {
                    report.error(
                        format!("{path}.{field}"),
                        "applies to BLUE_GREEN, LINEAR and CANARY deployments only",
                        Some(format!("remove it, or set {path}.strategy")),
                    );
                }
            }
            if dc.alarms.as_ref().is_some_and(|a| a.enable == Some(true)) {
                report.warn(
                    format!("{path}.alarms"),
                    "alarms are watched in BLUE_GREEN, LINEAR and CANARY deployments only: a ROLLING deployment fails and rolls back on failed tasks (the circuit breaker), not on alarms",
                );
            }
            if dc.lifecycle_hooks.as_ref().is_some_and(|h| !h.is_empty()) {
                report.error(
                    format!("{path}.lifecycleHooks"),
                    "lifecycle hooks run in BLUE_GREEN, LINEAR and CANARY deployments only",
                    Some(format!("remove them, or set {path}.strategy")),
                );
            }
            return None;
        }
        (_, Some(DeploymentStrategy::BlueGreen)) => Kind::BlueGreen,
        (_, Some(DeploymentStrategy::Linear)) => {
            let c = dc.linear_configuration.clone().unwrap_or_default();
            let step_percent = c.step_percent.unwrap_or(10.0);
            // LinearConfiguration.stepPercent: "multiples of 0.1 from 3.0 to 100.0".
            if !(3.0..=100.0).contains(&step_percent) || !tenths(step_percent) {
                report.error(
                    format!("{path}.linearConfiguration.stepPercent"),
                    format!("{step_percent} is not a multiple of 0.1 from 3.0 to 100.0"),
                    None,
                );
            }
            Kind::Linear {
                step_percent,
                step_bake: minutes(
                    c.step_bake_time_in_minutes.unwrap_or(6),
                    &format!("{path}.linearConfiguration.stepBakeTimeInMinutes"),
                    minute,
                    report,
                ),
            }
        }
        (_, Some(DeploymentStrategy::Canary)) => {
            let c = dc.canary_configuration.clone().unwrap_or_default();
            let percent = c.canary_percent.unwrap_or(5.0);
            // CanaryConfiguration.canaryPercent: "multiples of 0.1 from 0.1 to 100.0".
            if !(0.1..=100.0).contains(&percent) || !tenths(percent) {
                report.error(
                    format!("{path}.canaryConfiguration.canaryPercent"),
                    format!("{percent} is not a multiple of 0.1 from 0.1 to 100.0"),
                    None,
                );
            }
            Kind::Canary {
                percent,
                bake: minutes(
                    c.canary_bake_time_in_minutes.unwrap_or(10),
                    &format!("{path}.canaryConfiguration.canaryBakeTimeInMinutes"),
                    minute,
                    report,
                ),
            }
        }
    };
    if spec.scheduling_strategy == Some(SchedulingStrategy::Daemon) {
        report.error(
            format!("{path}.strategy"),
            format!("{} deployments need the REPLICA scheduling strategy: a DAEMON service runs one task per node and rolls", kind.as_str()),
            Some("use ROLLING for a DAEMON service".to_string()),
        );
    }
    let wrong = |field: &str, for_kind: &str| {
        (
            format!("{path}.{field}"),
            format!(
                "applies to {for_kind} deployments only, not {}",
                kind.as_str()
            ),
        )
    };
    if dc.linear_configuration.is_some() && !matches!(kind, Kind::Linear { .. }) {
        let (p, m) = wrong("linearConfiguration", "LINEAR");
        report.error(p, m, Some("remove it".to_string()));
    }
    if dc.canary_configuration.is_some() && !matches!(kind, Kind::Canary { .. }) {
        let (p, m) = wrong("canaryConfiguration", "CANARY");
        report.error(p, m, Some("remove it".to_string()));
    }
    // DeploymentConfiguration.bakeTimeInMinutes: "You must provide this parameter when you use
    // the BLUE_GREEN deployment strategy"; without it blue is removed right after the shift.
    if dc.bake_time_in_minutes.is_none() && kind == Kind::BlueGreen {
        report.warn(
            format!("{path}.bakeTimeInMinutes"),
            "is not set: blue is cleaned up right after production traffic shifts (ECS requires it for BLUE_GREEN; set it to keep blue for a rollback)",
        );
    }
    let bake = minutes(
        dc.bake_time_in_minutes.unwrap_or(0),
        &format!("{path}.bakeTimeInMinutes"),
        minute,
        report,
    );
    if dc.deployment_circuit_breaker.is_some() && kind != Kind::BlueGreen {
        // Nothing to refuse: the breaker counts green's failed tasks in every strategy.
    }
    let hooks = hooks(&dc, &settings.lifecycle_hook_targets, minute, report);
    let alarms = dc
        .alarms
        .as_ref()
        .filter(|a| a.enable == Some(true))
        .map(|a| Alarms {
            names: a
                .alarm_names
                .iter()
                .flatten()
                .flat_map(|n| n.split(','))
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty())
                .collect(),
            rollback: a.rollback.unwrap_or(false),
        });
    Some(Plan {
        kind,
        bake,
        hooks,
        alarms,
        minute,
    })
}

fn tenths(v: f64) -> bool {
    ((v * 10.0).round() - v * 10.0).abs() < 1e-6
}

/// ECS minutes (0 to 1440, as every bake time in the ECS API model) as a duration.
fn minutes(value: i32, path: &str, minute: Duration, report: &mut Report) -> Duration {
    if !(0..=1440).contains(&value) {
        report.error(path, format!("{value} is not from 0 to 1440 minutes"), None);
        return Duration::ZERO;
    }
    minute * value as u32
}

fn hooks(
    dc: &DeploymentConfiguration,
    targets: &[LifecycleHookTarget],
    minute: Duration,
    report: &mut Report,
) -> Vec<Hook> {
    let mut out = Vec::new();
    for (index, h) in dc.lifecycle_hooks.iter().flatten().enumerate() {
        let path = format!("spec.deploymentConfiguration.lifecycleHooks[{index}]");
        let stages = h.lifecycle_stages.clone().unwrap_or_default();
        if stages.is_empty() {
            report.error(
                format!("{path}.lifecycleStages"),
                "is required: the stages the hook runs in",
                Some("for example [\"POST_TEST_TRAFFIC_SHIFT\"]".to_string()),
            );
        }
        let arn = h.hook_target_arn.clone().filter(|a| !a.is_empty());
        let runner = match h
            .target_type
            .unwrap_or(DeploymentLifecycleHookTargetType::AwsLambda)
        {
            DeploymentLifecycleHookTargetType::Pause => {
                if arn.is_some() {
                    report.warn(
                        format!("{path}.hookTargetArn"),
                        "is not used by PAUSE hooks",
                    );
                }
                HookRunner::Pause
            }
            DeploymentLifecycleHookTargetType::AwsLambda => {
                let Some(arn) = arn.clone() else {
                    report.error(
                        format!("{path}.hookTargetArn"),
                        "is required for an AWS_LAMBDA hook",
                        Some("set it, or use targetType PAUSE".to_string()),
                    );
                    continue;
                };
                let Some(target) = targets.iter().find(|t| t.hook_target_arn == arn) else {
                    report.error(
                        format!("{path}.hookTargetArn"),
                        format!("`{arn}` has no in-cluster target: Lambda functions cannot be invoked from Kubernetes"),
                        Some(format!("add {{\"hookTargetArn\": \"{arn}\", \"job\": {{\"image\": …}}}} or {{…, \"http\": {{\"url\": …}}}} to spec.kubernetes.lifecycleHookTargets")),
                    );
                    continue;
                };
                match (&target.job, &target.http) {
                    (Some(_), None) | (None, Some(_)) => {}
                    _ => {
                        report.error(
                            "spec.kubernetes.lifecycleHookTargets",
                            format!("the target of `{arn}` needs exactly one of job and http"),
                            None,
                        );
                        continue;
                    }
                }
                if let Some(http) = &target.http
                    && !http.url.starts_with("http://")
                {
                    report.error(
                        "spec.kubernetes.lifecycleHookTargets",
                        format!("the http url `{}` of `{arn}` must start with http:// (an in-cluster endpoint)", http.url),
                        None,
                    );
                    continue;
                }
                HookRunner::Target(Box::new(target.clone()))
            }
        };
        let timeout = h.timeout_configuration.clone().unwrap_or_default();
        // DeploymentLifecycleHookTimeoutConfiguration: default 1440 minutes and ROLLBACK;
        // DeploymentLifecycleHookDuration: 1 to 20160.
        let timeout_minutes = timeout.timeout_in_minutes.unwrap_or(1440);
        if !(1..=20160).contains(&timeout_minutes) {
            report.error(
                format!("{path}.timeoutConfiguration.timeoutInMinutes"),
                format!("{timeout_minutes} is not from 1 to 20160 minutes"),
                None,
            );
        }
        if h.role_arn.is_some() {
            report.warn(
                format!("{path}.roleArn"),
                "has no Kubernetes effect: the operator's ServiceAccount runs the hook",
            );
        }
        out.push(Hook {
            index,
            runner,
            target_arn: arn,
            stages,
            timeout: minute * timeout_minutes.clamp(1, 20160) as u32,
            continue_on_timeout: timeout.action == Some(DeploymentLifecycleHookAction::Continue),
            details: h.hook_details.clone(),
        });
    }
    out
}

/// Put `workloads` (one revision's, as translated) in `slot` with `replicas` each (`None`: as
/// translated): `alt` names and selectors, the slot label on every pod.
pub fn slotted(workloads: Vec<Workload>, slot: Slot, full: bool) -> Vec<Workload> {
    workloads
        .into_iter()
        .map(|w| match w {
            Workload::Deployment(mut d) => {
                d.metadata.name = d.metadata.name.as_deref().map(|n| slot.name(n));
                if let Some(spec) = d.spec.as_mut() {
                    if !full {
                        spec.replicas = Some(0);
                    }
                    let labels = spec
                        .template
                        .metadata
                        .get_or_insert_with(Default::default)
                        .labels
                        .get_or_insert_with(BTreeMap::new);
                    labels.insert(SLOT.into(), slot.as_str().into());
                    // main keeps the translator's selector (a ROLLING service's Deployment,
                    // whose selector cannot change); alt's selects its slot.
                    if slot == Slot::Alt {
                        spec.selector
                            .match_labels
                            .get_or_insert_with(BTreeMap::new)
                            .insert(SLOT.into(), slot.as_str().into());
                    }
                }
                Workload::Deployment(d)
            }
            other => other,
        })
        .collect()
}

/// Which pods a Service sends to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Every task of the service (a first deployment, before its slot label is on every pod).
    All,
    /// The tasks of one slot.
    Slot(Slot),
    /// The tasks labelled [`PRODUCTION_TRAFFIC`] (a split by the share of ready tasks).
    Labelled,
}

/// Narrow a Service's selector to `selection`.
pub fn select(svc: &mut KubeService, selection: &Selection) {
    let Some(selector) = svc.spec.as_mut().and_then(|s| s.selector.as_mut()) else {
        return;
    };
    selector.remove(SLOT);
    selector.remove(PRODUCTION_TRAFFIC);
    match selection {
        Selection::All => {}
        Selection::Slot(s) => {
            selector.insert(SLOT.into(), s.as_str().into());
        }
        Selection::Labelled => {
            selector.insert(PRODUCTION_TRAFFIC.into(), "true".into());
        }
    }
}

/// The name of the test Service of production Service `production`.
pub fn test_service_name(production: &str) -> String {
    names::sanitize(&format!("{production}-test"), 63)
}

/// The test Service of production Service `production` (ECS's alternate target group / test
/// listener rule): the same ports, selecting `slot`, named `<name>-test`.
pub fn test_service(production: &KubeService, slot: Slot) -> KubeService {
    let mut svc = production.clone();
    svc.metadata.name = production.metadata.name.as_deref().map(test_service_name);
    if let Some(spec) = svc.spec.as_mut() {
        // Always in-cluster: a second cloud load balancer per service is not what ECS's test
        // listener is.
        spec.type_ = Some("ClusterIP".into());
        spec.cluster_ip = None;
        spec.cluster_ips = None;
        for p in spec.ports.iter_mut().flatten() {
            p.node_port = None;
        }
    }
    select(&mut svc, &Selection::Slot(slot));
    svc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ecs::{CanaryConfiguration, LinearConfiguration};

    fn spec(dc: serde_json::Value) -> ServiceSpec {
        serde_json::from_value(serde_json::json!({
            "taskDefinition": "web",
            "deploymentConfiguration": dc,
            "kubernetes": {"lifecycleHookTargets": [
                {"hookTargetArn": "arn:aws:lambda:us-east-1:1:function:check", "http": {"url": "http://check.default.svc/hook"}}
            ]}
        }))
        .unwrap()
    }

    #[test]
    fn linear_steps_end_at_100_without_a_bake_after_it() {
        // LinearConfiguration: "This bake time is not applied after reaching 100 percent".
        let k = Kind::Linear {
            step_percent: 30.0,
            step_bake: Duration::from_secs(6),
        };
        let s: Vec<f64> = k.steps().iter().map(|s| s.0).collect();
        assert_eq!(s, vec![30.0, 60.0, 90.0, 100.0]);
        assert_eq!(k.steps().last().unwrap().1, Duration::ZERO);
        assert_eq!(k.steps()[0].1, Duration::from_secs(6));
        let thirds = Kind::Linear {
            step_percent: 33.3,
            step_bake: Duration::ZERO,
        };
        assert_eq!(thirds.steps().len(), 4); // 33.3, 66.6, 99.9, 100
    }

    #[test]
    fn canary_is_two_steps() {
        let k = Kind::Canary {
            percent: 5.0,
            bake: Duration::from_secs(600),
        };
        assert_eq!(
            k.steps(),
            vec![(5.0, Duration::from_secs(600)), (100.0, Duration::ZERO)]
        );
    }

    #[test]
    fn ecs_defaults_of_linear_and_canary() {
        // LinearConfiguration defaults 10 % / 6 min; CanaryConfiguration 5 % / 10 min.
        let mut r = Report::default();
        let p = plan(
            &spec(serde_json::json!({"strategy": "LINEAR"})),
            None,
            &mut r,
        )
        .unwrap();
        assert_eq!(
            p.kind,
            Kind::Linear {
                step_percent: 10.0,
                step_bake: Duration::from_secs(360)
            }
        );
        let p = plan(
            &spec(serde_json::json!({"strategy": "CANARY"})),
            None,
            &mut r,
        )
        .unwrap();
        assert_eq!(
            p.kind,
            Kind::Canary {
                percent: 5.0,
                bake: Duration::from_secs(600)
            }
        );
        assert!(r.is_ok(), "{:?}", r.errors);
        let _ = (
            LinearConfiguration::default(),
            CanaryConfiguration::default(),
        );
    }

    #[test]
    fn out_of_range_values_name_their_field() {
        let mut r = Report::default();
        plan(
            &spec(
                serde_json::json!({"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 2.0}, "bakeTimeInMinutes": 2000}),
            ),
            None,
            &mut r,
        );
        let paths: Vec<&str> = r.errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "spec.deploymentConfiguration.linearConfiguration.stepPercent",
                "spec.deploymentConfiguration.bakeTimeInMinutes"
            ]
        );
    }

    #[test]
    fn a_lambda_hook_without_an_in_cluster_target_is_an_error_naming_it() {
        let mut r = Report::default();
        plan(
            &spec(
                serde_json::json!({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1, "lifecycleHooks": [
                    {"hookTargetArn": "arn:aws:lambda:us-east-1:1:function:check", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]},
                    {"hookTargetArn": "arn:aws:lambda:us-east-1:1:function:other", "lifecycleStages": ["POST_SCALE_UP"]},
                    {"targetType": "PAUSE", "lifecycleStages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"]}
                ]}),
            ),
            None,
            &mut r,
        );
        assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
        assert_eq!(
            r.errors[0].path,
            "spec.deploymentConfiguration.lifecycleHooks[1].hookTargetArn"
        );
        assert!(
            r.errors[0]
                .hint
                .as_deref()
                .unwrap()
                .contains("lifecycleHookTargets")
        );
    }

    #[test]
    fn hook_timeouts_default_to_a_day_and_rollback() {
        let mut r = Report::default();
        let p = plan(
            &spec(serde_json::json!({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0, "lifecycleHooks": [
                {"targetType": "PAUSE", "lifecycleStages": ["POST_SCALE_UP"]}
            ]})),
            None,
            &mut r,
        )
        .unwrap();
        assert_eq!(p.hooks[0].timeout, Duration::from_secs(1440 * 60));
        assert!(!p.hooks[0].continue_on_timeout);
    }

    #[test]
    fn code_deploy_configurations_become_native_strategies() {
        let m = Duration::from_secs(60);
        assert_eq!(
            code_deploy_kind("CodeDeployDefault.ECSAllAtOnce", m),
            Some(Kind::BlueGreen)
        );
        assert_eq!(
            code_deploy_kind("CodeDeployDefault.ECSLinear10PercentEvery1Minutes", m),
            Some(Kind::Linear {
                step_percent: 10.0,
                step_bake: m
            })
        );
        assert_eq!(
            code_deploy_kind("CodeDeployDefault.ECSCanary10Percent15Minutes", m),
            Some(Kind::Canary {
                percent: 10.0,
                bake: m * 15
            })
        );
        assert_eq!(
            code_deploy_kind("CodeDeployDefault.LambdaAllAtOnce", m),
            None
        );
        let mut r = Report::default();
        let s: ServiceSpec = serde_json::from_value(serde_json::json!({
            "taskDefinition": "web", "deploymentController": {"type": "EXTERNAL"}
        }))
        .unwrap();
        assert!(plan(&s, None, &mut r).is_none());
        assert_eq!(r.errors[0].path, "spec.deploymentController.type");
    }

    #[test]
    fn strategy_settings_on_a_rolling_service_are_refused() {
        let mut r = Report::default();
        assert!(
            plan(
                &spec(serde_json::json!({"bakeTimeInMinutes": 5})),
                None,
                &mut r
            )
            .is_none()
        );
        assert_eq!(
            r.errors[0].path,
            "spec.deploymentConfiguration.bakeTimeInMinutes"
        );
    }
}
