//! Contract rows for ECS semantics (issue 8, issue 9 items 4 and 7). Each test names the ECS
//! document it follows: a shape/member of the ECS API model (or the Application Auto Scaling
//! API model), or a page of the ECS Developer Guide.

use ecs_operator::cli::{manifest, render};
use ecs_operator::translate::{Options, SecurityPolicy};
use serde_json::{Value, json};

use super::{container, merge, object, pod_spec, render_with, service_row};

/// Render a task definition (merged over the one-container base) and a Service, returning
/// the objects, the errors and the warnings.
fn render_all(td: Value, svc: Value, policy: SecurityPolicy) -> render::Rendered {
    let mut td_spec = json!({"family": "app", "containerDefinitions": [{"name": "app", "image": "nginx", "memory": 512}]});
    merge(&mut td_spec, &td);
    let mut svc_spec = json!({"taskDefinition": "app", "desiredCount": 4});
    merge(&mut svc_spec, &svc);
    let docs = [
        json!({"apiVersion": "ecs-operator.io/v1alpha1", "kind": "TaskDefinition", "metadata": {"name": "app"}, "spec": td_spec}),
        json!({"apiVersion": "ecs-operator.io/v1alpha1", "kind": "Service", "metadata": {"name": "app"}, "spec": svc_spec}),
    ]
    .into_iter()
    .map(|value| manifest::Document {
        source: "row".into(),
        value,
    })
    .collect::<Vec<_>>();
    render::render(
        &docs,
        &Options {
            policy,
            ..Options::default()
        },
    )
}

fn has(messages: &[String], path: &str) -> bool {
    messages.iter().any(|m| m.contains(&format!(": {path}:")))
}

/// HealthCheck (ECS API model): only essential containers' health decides the task's health;
/// a non-essential container's check gets no probe, unless a HEALTHY dependsOn waits on it.
#[test]
fn healthcheck_shape_non_essential_checks_set_no_probe_but_still_gate_healthy_dependents() {
    let td = json!({"containerDefinitions": [
        {"name": "app", "image": "a", "memory": 128, "dependsOn": [{"containerName": "proxy", "condition": "HEALTHY"}]},
        {"name": "proxy", "image": "p", "memory": 128, "essential": false, "healthCheck": {"command": ["CMD", "/ready"]}},
        {"name": "metrics", "image": "m", "memory": 128, "essential": false, "healthCheck": {"command": ["CMD", "/ok"]}}]});
    let out = render_all(td.clone(), json!({}), SecurityPolicy::default());
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let o = service_row(td, json!({}));
    let metrics = container(&o, "metrics");
    for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
        assert!(
            metrics.get(probe).is_none(),
            "{probe} on a non-essential container"
        );
    }
    assert!(has(
        &out.warnings,
        "spec.containerDefinitions[2].healthCheck"
    ));
    let proxy = container(&o, "proxy");
    assert!(proxy.get("readinessProbe").is_none() && proxy.get("livenessProbe").is_none());
    assert_eq!(proxy["startupProbe"]["exec"]["command"], json!(["/ready"]));
}

/// HealthCheck (ECS API model): "If a task is run manually, and not as part of a service,
/// the task will continue its lifecycle regardless of its health status" — no liveness probe
/// and no startup probe that could kill an essential container; readiness reports health.
/// A Service's task is replaced when unhealthy, by the controller, not restarted in place: no
/// liveness probe either.
#[test]
fn healthcheck_shape_standalone_tasks_continue_regardless_of_health() {
    let td = json!({"containerDefinitions": [{"healthCheck": {"command": ["CMD", "/ok"], "startPeriod": 30}}]});
    let o = render_with(td.clone(), None, Some(json!({})), SecurityPolicy::default()).unwrap();
    let pod = object(&o, "Pod");
    let c = &pod["spec"]["containers"][0];
    assert!(
        c.get("livenessProbe").is_none() && c.get("startupProbe").is_none(),
        "{c:#}"
    );
    assert!(c["readinessProbe"].is_object());
    assert_eq!(
        pod["metadata"]["annotations"]["ecs-operator.io/health-checked-containers"],
        "app:120"
    );
    let svc = service_row(td, json!({}));
    assert!(container(&svc, "app").get("livenessProbe").is_none());
}

/// HealthCheck.command (ECS API model) must start with CMD or CMD-SHELL; Docker ignores any
/// other check with a warning, so the task runs with health UNKNOWN (issue 9 item 4).
#[test]
fn healthcheck_command_without_cmd_is_a_warning_and_no_probe() {
    let td = json!({"containerDefinitions": [{"healthCheck": {"command": ["curl", "-f", "http://localhost/"]}}]});
    let out = render_all(td.clone(), json!({}), SecurityPolicy::default());
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert!(has(
        &out.warnings,
        "spec.containerDefinitions[0].healthCheck.command"
    ));
    let o = service_row(td, json!({}));
    assert!(container(&o, "app").get("readinessProbe").is_none());
}

/// TargetTrackingScalingPolicyConfiguration.ScaleOutCooldown (Application Auto Scaling API
/// model) waits for a *previous* scale-out to take effect: the first scale-out is immediate,
/// and may reach the computed capacity in one step.
#[test]
fn scale_out_cooldown_does_not_delay_the_first_scale_out() {
    let o = service_row(
        json!({}),
        json!({"autoscaling": {"minCapacity": 1, "maxCapacity": 20, "targetTrackingScalingPolicies": [
            {"policyName": "cpu", "targetValue": 50, "scaleOutCooldown": 300, "predefinedMetricSpecification": {"predefinedMetricType": "ECSServiceAverageCPUUtilization"}}]}}),
    );
    let up = &object(&o, "HorizontalPodAutoscaler")["spec"]["behavior"]["scaleUp"];
    assert_eq!(up["stabilizationWindowSeconds"], 0);
    assert_eq!(
        up["policies"],
        json!([{"type": "Pods", "value": 20, "periodSeconds": 15}])
    );
}

/// TargetTrackingScalingPolicyConfiguration.DisableScaleIn and PutScalingPolicy (Application
/// Auto Scaling API model): a policy with scale-in disabled "won't remove capacity", the
/// others still scale in; only when every policy disables it is scale-in off as a whole.
#[test]
fn disable_scale_in_removes_one_policys_vote_not_scale_in() {
    let cpu = json!({"policyName": "cpu", "targetValue": 50, "disableScaleIn": true, "scaleInCooldown": 900, "predefinedMetricSpecification": {"predefinedMetricType": "ECSServiceAverageCPUUtilization"}});
    let mem = json!({"policyName": "mem", "targetValue": 70, "scaleInCooldown": 60, "predefinedMetricSpecification": {"predefinedMetricType": "ECSServiceAverageMemoryUtilization"}});
    let svc = json!({"autoscaling": {"minCapacity": 1, "maxCapacity": 10, "targetTrackingScalingPolicies": [cpu, mem]}});
    let out = render_all(json!({}), svc.clone(), SecurityPolicy::default());
    assert!(has(
        &out.warnings,
        "spec.autoscaling.targetTrackingScalingPolicies[0].disableScaleIn"
    ));
    let o = service_row(json!({}), svc);
    let hpa = object(&o, "HorizontalPodAutoscaler");
    let down = &hpa["spec"]["behavior"]["scaleDown"];
    assert!(down.get("selectPolicy").is_none(), "{down}");
    assert_eq!(
        down["stabilizationWindowSeconds"], 60,
        "only voters' cooldowns count"
    );
    assert_eq!(
        hpa["metadata"]["annotations"]["ecs-operator.io/scaling-policies"],
        "cpu,mem"
    );
}

/// DeploymentConfiguration (ECS API model): the percentages are of the service's whole
/// desiredCount. 2 tasks over two providers 1:1 with max 100 % and min 50 % is valid in ECS:
/// one task may stop in the whole service, so the two workloads roll one after the other.
#[test]
fn deployment_configuration_bounds_apply_to_the_whole_split_service() {
    let svc = json!({"desiredCount": 2, "deploymentConfiguration": {"maximumPercent": 100, "minimumHealthyPercent": 50},
        "capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1}, {"capacityProvider": "FARGATE_SPOT", "weight": 1}]});
    let out = render_all(json!({}), svc.clone(), SecurityPolicy::default());
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let o = service_row(json!({}), svc);
    let deployments: Vec<&Value> = o.iter().filter(|x| x["kind"] == "Deployment").collect();
    let bounds: Vec<(i64, i64, Option<&str>)> = deployments
        .iter()
        .map(|d| {
            let r = &d["spec"]["strategy"]["rollingUpdate"];
            (
                r["maxSurge"].as_i64().unwrap(),
                r["maxUnavailable"].as_i64().unwrap(),
                d["metadata"]["annotations"]["ecs-operator.io/rollout-wave"].as_str(),
            )
        })
        .collect();
    assert_eq!(bounds, vec![(0, 1, None), (0, 1, Some("1"))]);
}

/// PortMapping.containerPort and NetworkMode bridge (ECS API model): in bridge mode each
/// container has its own network namespace; in a pod two containers on one port collide.
#[test]
fn same_container_port_in_two_containers_is_an_error_naming_both() {
    let td = json!({"networkMode": "bridge", "containerDefinitions": [
        {"name": "web", "image": "a", "memory": 128, "portMappings": [{"containerPort": 80, "hostPort": 0}]},
        {"name": "admin", "image": "b", "memory": 128, "portMappings": [{"containerPort": 80, "hostPort": 0}]}]});
    let e = render_with(td, Some(json!({})), None, SecurityPolicy::default()).unwrap_err();
    let err = e
        .iter()
        .find(|e| e.contains("spec.containerDefinitions[1].portMappings[0].containerPort"))
        .unwrap_or_else(|| panic!("{e:#?}"));
    assert!(err.contains("'web'") && err.contains("'admin'"), "{err}");
}

/// PortMapping.appProtocol (ECS API model: http, http2, grpc) → ServicePort.appProtocol; with a
/// TargetGroupBinding the AWS Load Balancer Controller's readiness gate, as ECS counts a
/// load-balanced task healthy only once the target group does
/// (DeploymentConfiguration.minimumHealthyPercent).
#[test]
fn app_protocol_and_target_group_readiness_gate() {
    let td = json!({"containerDefinitions": [{"portMappings": [{"containerPort": 8080, "name": "api", "appProtocol": "grpc"}]}]});
    let o = service_row(
        td,
        json!({"loadBalancers": [{"containerName": "app", "containerPort": 8080, "targetGroupArn": "arn:tg"}], "kubernetes": {"targetGroupBindings": true}}),
    );
    assert_eq!(
        object(&o, "Service")["spec"]["ports"][0]["appProtocol"],
        "grpc"
    );
    assert_eq!(
        pod_spec(&o)["readinessGates"],
        json!([{"conditionType": "target-health.elbv2.k8s.aws/app"}])
    );
}

/// DockerVolumeConfiguration.scope (ECS API model): a shared volume persists beyond the task;
/// with the local driver it lives on each container instance. One ReadWriteOnce claim for all
/// replicas breaks across nodes: ReadWriteMany (a warning), or a per-node directory.
#[test]
fn shared_docker_volumes_work_across_nodes() {
    let td = json!({"volumes": [{"name": "cache", "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": true}}],
        "containerDefinitions": [{"mountPoints": [{"sourceVolume": "cache", "containerPath": "/cache"}]}]});
    let out = render_all(td.clone(), json!({}), SecurityPolicy::default());
    assert!(has(
        &out.warnings,
        "spec.volumes[0].dockerVolumeConfiguration.scope"
    ));
    let claim = object(&out.objects, "PersistentVolumeClaim");
    assert_eq!(claim["spec"]["accessModes"], json!(["ReadWriteMany"]));
    let allowed = render_all(td, json!({}), SecurityPolicy::permissive());
    let d = object(&allowed.objects, "Deployment");
    assert_eq!(
        d["spec"]["template"]["spec"]["volumes"][0]["hostPath"],
        json!({"path": "/var/lib/ecs-operator/volumes/default/cache", "type": "DirectoryOrCreate"})
    );
    assert!(
        allowed
            .objects
            .iter()
            .all(|x| x["kind"] != "PersistentVolumeClaim")
    );
}

/// ECS Developer Guide, "Windows task definitions": Windows pods (os windows, the node's
/// Windows build), Windows paths and named pipes, `user` as a Windows user name; parameters
/// Windows containers do not support are errors naming the field (issue 9 item 7).
#[test]
fn windows_task_definitions_become_windows_pods() {
    let td = json!({"runtimePlatform": {"operatingSystemFamily": "WINDOWS_SERVER_2019_CORE", "cpuArchitecture": "X86_64"},
        "volumes": [{"name": "pipe", "host": {"sourcePath": "\\\\.\\pipe\\docker_engine"}}, {"name": "data"}],
        "containerDefinitions": [{"user": "ContainerUser", "mountPoints": [
            {"sourceVolume": "pipe", "containerPath": "\\\\.\\pipe\\docker_engine"},
            {"sourceVolume": "data", "containerPath": "C:\\data"}]}]});
    let o = render_with(
        td.clone(),
        Some(json!({})),
        None,
        SecurityPolicy::permissive(),
    )
    .unwrap();
    let pod = pod_spec(&o);
    assert_eq!(pod["os"]["name"], "windows");
    assert_eq!(pod["nodeSelector"]["kubernetes.io/os"], "windows");
    assert_eq!(
        pod["nodeSelector"]["node.kubernetes.io/windows-build"],
        "10.0.17763"
    );
    let c = container(&o, "app");
    assert_eq!(
        c["securityContext"]["windowsOptions"]["runAsUserName"],
        "ContainerUser"
    );
    assert!(c["securityContext"].get("runAsUser").is_none());
    assert_eq!(c["volumeMounts"][1]["mountPath"], "C:\\data");
    let mut bad = td;
    merge(
        &mut bad,
        &json!({"containerDefinitions": [{"readonlyRootFilesystem": true, "linuxParameters": {"initProcessEnabled": true}}]}),
    );
    let e = render_with(bad, Some(json!({})), None, SecurityPolicy::permissive()).unwrap_err();
    for path in [
        "spec.containerDefinitions[0].readonlyRootFilesystem",
        "spec.containerDefinitions[0].linuxParameters",
    ] {
        assert!(
            e.iter().any(|m| m.contains(&format!(": {path}:"))),
            "{path}: {e:#?}"
        );
    }
}

/// DeploymentConfiguration.strategy and TaskManagedEBSVolumeTerminationPolicy.deleteOnTermination
/// (ECS API model): ROLLING and ECS (the defaults) are accepted, CANARY is a deployment strategy
/// of its own, and DAEMON services cannot use it; a volume deleted with its task is accepted,
/// the other value refused.
#[test]
fn value_dependent_rejections_accept_the_supported_values() {
    let out = render_all(
        json!({}),
        json!({"deploymentConfiguration": {"strategy": "ROLLING"}, "deploymentController": {"type": "ECS"}}),
        SecurityPolicy::default(),
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let canary = render_all(
        json!({}),
        json!({"deploymentConfiguration": {"strategy": "CANARY"}}),
        SecurityPolicy::default(),
    );
    assert!(canary.errors.is_empty(), "{:?}", canary.errors);
    let refused = render_all(
        json!({}),
        json!({"deploymentConfiguration": {"strategy": "CANARY"}, "schedulingStrategy": "DAEMON", "desiredCount": null}),
        SecurityPolicy::default(),
    );
    assert!(has(
        &refused.errors,
        "spec.deploymentConfiguration.strategy"
    ));
    let task = |delete: bool| {
        render_with(
            json!({"volumes": [{"name": "scratch", "configuredAtLaunch": true}]}),
            None,
            Some(
                json!({"volumeConfigurations": [{"name": "scratch", "managedEBSVolume": {"sizeInGiB": 5, "terminationPolicy": {"deleteOnTermination": delete}}}]}),
            ),
            SecurityPolicy::default(),
        )
    };
    assert!(task(true).is_ok(), "{:?}", task(true).err());
    assert!(task(false).is_err());
}

/// RegisterTaskDefinitionRequest.cpu / .memory (ECS API model): the task's hard limit. On a
/// server without pod-level resources (Kubernetes < 1.34) it is split over the containers'
/// limits, with a warning naming the version; on newer servers it is the pod's own limit.
#[test]
fn task_size_is_split_over_containers_without_pod_level_resources() {
    let td = json!({"family": "app", "cpu": "1024", "memory": "2048", "containerDefinitions": [
        {"name": "app", "image": "a", "cpu": 768, "memoryReservation": 512},
        {"name": "proxy", "image": "p", "cpu": 256, "memory": 512}]});
    let docs: Vec<manifest::Document> = [
        json!({"apiVersion": "ecs-operator.io/v1alpha1", "kind": "TaskDefinition", "metadata": {"name": "app"}, "spec": td}),
        json!({"apiVersion": "ecs-operator.io/v1alpha1", "kind": "Service", "metadata": {"name": "app"}, "spec": {"taskDefinition": "app", "desiredCount": 1}}),
    ]
    .into_iter()
    .map(|value| manifest::Document {
        source: "row".into(),
        value,
    })
    .collect();
    let old = render::render(
        &docs,
        &Options {
            server_version: Some((1, 33)),
            ..Options::default()
        },
    );
    assert!(old.errors.is_empty(), "{:?}", old.errors);
    assert!(
        old.warnings
            .iter()
            .any(|w| w.contains("spec.cpu: Kubernetes 1.33 has no pod-level resources")),
        "{:?}",
        old.warnings
    );
    let pod = &object(&old.objects, "Deployment")["spec"]["template"]["spec"];
    assert!(pod.get("resources").is_none());
    let limits = |i: usize| &pod["containers"][i]["resources"]["limits"];
    assert_eq!(
        (limits(0)["cpu"].as_str(), limits(0)["memory"].as_str()),
        (Some("750m"), Some("1536Mi"))
    );
    assert_eq!(
        (limits(1)["cpu"].as_str(), limits(1)["memory"].as_str()),
        (Some("250m"), Some("512Mi"))
    );
    let new = render::render(&docs, &Options::default());
    let pod = &object(&new.objects, "Deployment")["spec"]["template"]["spec"];
    assert_eq!(pod["resources"]["limits"]["cpu"], "1");
}

/// Application Auto Scaling's ECSServiceAverageCPUUtilization is measured against the CPU the
/// task reserves; the HPA uses the pod-level request (task cpu) when set, else every
/// container's request, and computes nothing when one has none: a warning then.
#[test]
fn cpu_target_tracking_is_measured_against_the_task_cpu() {
    let svc = json!({"autoscaling": {"minCapacity": 1, "maxCapacity": 4, "targetTrackingScalingPolicies": [
        {"policyName": "cpu", "targetValue": 50, "predefinedMetricSpecification": {"predefinedMetricType": "ECSServiceAverageCPUUtilization"}}]}});
    let no_size = render_all(json!({}), svc.clone(), SecurityPolicy::default());
    assert!(
        has(
            &no_size.warnings,
            "spec.autoscaling.targetTrackingScalingPolicies"
        ),
        "{:?}",
        no_size.warnings
    );
    let sized = render_all(json!({"cpu": "512"}), svc, SecurityPolicy::default());
    assert!(
        !has(
            &sized.warnings,
            "spec.autoscaling.targetTrackingScalingPolicies"
        ),
        "{:?}",
        sized.warnings
    );
    let pod = &object(&sized.objects, "Deployment")["spec"]["template"]["spec"];
    assert_eq!(pod["resources"]["requests"]["cpu"], "500m");
}
