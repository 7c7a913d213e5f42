//! One test per row of the mapping contract: a minimal task definition (and service or task)
//! with one ECS field set, rendered, and the Kubernetes field it must become.

use ecs_operator::cli::{manifest, render};
use ecs_operator::translate::{Options, SecurityPolicy};
use serde_json::{Value, json};

#[path = "mapping_rows/semantics.rs"]
mod semantics;

/// Merge `patch` into `base`: objects by key, arrays by index, everything else replaced.
fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (Value::Array(b), Value::Array(p)) => {
            for (i, v) in p.iter().enumerate() {
                match b.get_mut(i) {
                    Some(slot) => merge(slot, v),
                    None => b.push(v.clone()),
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

/// Render a task definition `td` (merged over a one-container base) with a Service (`svc`
/// merged over a base) or a Task (`task`), and return the objects by kind.
fn render_with(
    td: Value,
    svc: Option<Value>,
    task: Option<Value>,
    policy: SecurityPolicy,
) -> Result<Vec<Value>, Vec<String>> {
    let mut td_spec = json!({"family": "app", "containerDefinitions": [{"name": "app", "image": "nginx", "memory": 512}]});
    merge(&mut td_spec, &td);
    let mut docs = vec![
        json!({"apiVersion": "ecs-operator.io/v1alpha1", "kind": "TaskDefinition", "metadata": {"name": "app"}, "spec": td_spec}),
    ];
    if let Some(s) = svc {
        let mut spec = json!({"taskDefinition": "app", "desiredCount": 4});
        merge(&mut spec, &s);
        docs.push(json!({"apiVersion": "ecs-operator.io/v1alpha1", "kind": "Service", "metadata": {"name": "app"}, "spec": spec}));
    }
    if let Some(t) = task {
        let mut spec = json!({"taskDefinition": "app"});
        merge(&mut spec, &t);
        docs.push(json!({"apiVersion": "ecs-operator.io/v1alpha1", "kind": "Task", "metadata": {"name": "job"}, "spec": spec}));
    }
    let docs: Vec<manifest::Document> = docs
        .into_iter()
        .map(|value| manifest::Document {
            source: "row".into(),
            value,
        })
        .collect();
    let out = render::render(
        &docs,
        &Options {
            policy,
            ..Options::default()
        },
    );
    if out.errors.is_empty() {
        Ok(out.objects)
    } else {
        Err(out.errors)
    }
}

fn service_row(td: Value, svc: Value) -> Vec<Value> {
    render_with(td, Some(svc), None, SecurityPolicy::default()).unwrap_or_else(|e| panic!("{e:#?}"))
}

fn object<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {objects:#?}"))
}

fn pod_spec(objects: &[Value]) -> &Value {
    &object(objects, "Deployment")["spec"]["template"]["spec"]
}

fn container<'a>(objects: &'a [Value], name: &str) -> &'a Value {
    let pod = pod_spec(objects);
    pod["containers"]
        .as_array()
        .into_iter()
        .chain(pod["initContainers"].as_array())
        .flatten()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

#[test]
fn container_cpu_units_become_a_request() {
    let o = service_row(json!({"containerDefinitions": [{"cpu": 256}]}), json!({}));
    assert_eq!(container(&o, "app")["resources"]["requests"]["cpu"], "250m");
    assert!(
        container(&o, "app")["resources"]["limits"]
            .get("cpu")
            .is_none(),
        "ECS cpu is a share, not a cap"
    );
}

#[test]
fn memory_is_the_limit_and_reservation_the_request() {
    let o = service_row(
        json!({"containerDefinitions": [{"memory": 1024, "memoryReservation": 512}]}),
        json!({}),
    );
    let r = &container(&o, "app")["resources"];
    assert_eq!(
        (
            r["limits"]["memory"].as_str(),
            r["requests"]["memory"].as_str()
        ),
        (Some("1Gi"), Some("512Mi"))
    );
}

#[test]
fn task_size_becomes_pod_level_resources() {
    let o = service_row(json!({"cpu": "1 vCPU", "memory": "2 GB"}), json!({}));
    assert_eq!(
        pod_spec(&o)["resources"]["limits"],
        json!({"cpu": "1", "memory": "2Gi"})
    );
}

#[test]
fn gpu_requirements_become_an_extended_resource() {
    let o = service_row(
        json!({"containerDefinitions": [{"resourceRequirements": [{"type": "GPU", "value": "2"}]}]}),
        json!({}),
    );
    assert_eq!(
        container(&o, "app")["resources"]["limits"]["nvidia.com/gpu"],
        "2"
    );
}

#[test]
fn health_check_becomes_probes() {
    let o = service_row(
        json!({"containerDefinitions": [{"healthCheck": {"command": ["CMD", "/ok"], "interval": 10, "retries": 2, "startPeriod": 20}}]}),
        json!({}),
    );
    let c = container(&o, "app");
    assert_eq!(c["readinessProbe"]["exec"]["command"], json!(["/ok"]));
    assert_eq!(c["readinessProbe"]["periodSeconds"], 10);
    assert_eq!(c["readinessProbe"]["failureThreshold"], 2);
    // The service scheduler replaces an unhealthy task (HealthCheck, ECS API model): no probe
    // restarts the container in place; the controller judges it after startPeriod + 2 × 10 s.
    assert!(c.get("livenessProbe").is_none() && c.get("startupProbe").is_none());
    assert_eq!(
        object(&o, "Deployment")["spec"]["template"]["metadata"]["annotations"]["ecs-operator.io/health-checked-containers"],
        "app:40"
    );
}

#[test]
fn depends_on_healthy_is_a_native_sidecar_and_success_an_init_container() {
    let td = json!({"containerDefinitions": [
        {"name": "app", "image": "a", "memory": 128, "dependsOn": [{"containerName": "proxy", "condition": "HEALTHY"}, {"containerName": "migrate", "condition": "SUCCESS"}]},
        {"name": "proxy", "image": "p", "memory": 128, "healthCheck": {"command": ["CMD-SHELL", "true"]}},
        {"name": "migrate", "image": "m", "memory": 128, "essential": false}]});
    let o = service_row(td, json!({}));
    let init = pod_spec(&o)["initContainers"].as_array().unwrap();
    assert_eq!(init[0]["name"], "proxy");
    assert_eq!(init[0]["restartPolicy"], "Always");
    assert!(
        init[0]["startupProbe"].is_object(),
        "HEALTHY waits on a startup probe"
    );
    assert_eq!(init[1]["name"], "migrate");
    assert!(init[1].get("restartPolicy").is_none());
}

#[test]
fn port_mappings_become_named_container_ports() {
    let o = service_row(
        json!({"containerDefinitions": [{"portMappings": [{"containerPort": 8080, "hostPort": 8080, "name": "http", "protocol": "udp"}]}]}),
        json!({}),
    );
    let p = &container(&o, "app")["ports"][0];
    assert_eq!(
        (
            p["containerPort"].as_i64(),
            p["name"].as_str(),
            p["protocol"].as_str()
        ),
        (Some(8080), Some("http"), Some("UDP"))
    );
    // The default network mode (EC2) is bridge: a fixed host port is bound.
    assert_eq!(p["hostPort"], 8080);
    let awsvpc = service_row(
        json!({"networkMode": "awsvpc", "containerDefinitions": [{"portMappings": [{"containerPort": 8080, "hostPort": 8080}]}]}),
        json!({}),
    );
    assert!(
        container(&awsvpc, "app")["ports"][0]
            .get("hostPort")
            .is_none(),
        "awsvpc binds no host port"
    );
    let dynamic = service_row(
        json!({"containerDefinitions": [{"portMappings": [{"containerPort": 8080, "hostPort": 0}]}]}),
        json!({}),
    );
    assert!(
        container(&dynamic, "app")["ports"][0]
            .get("hostPort")
            .is_none(),
        "hostPort 0 is dynamic: none bound"
    );
}

#[test]
fn environment_and_secrets_become_env() {
    let td = json!({"containerDefinitions": [{"environment": [{"name": "A", "value": "1"}],
        "secrets": [{"name": "PW", "valueFrom": "arn:aws:secretsmanager:us-east-1:1:secret:db-AbCdEf:password::"}]}]});
    let o = service_row(td, json!({}));
    let env = container(&o, "app")["env"].as_array().unwrap().clone();
    assert_eq!(env[0], json!({"name": "A", "value": "1"}));
    assert_eq!(
        env[1]["valueFrom"]["secretKeyRef"],
        json!({"name": "db", "key": "password"})
    );
}

#[test]
fn entry_point_command_user_and_workdir() {
    let o = service_row(
        json!({"containerDefinitions": [{"entryPoint": ["/bin/app"], "command": ["--x"], "user": "1000:2000", "workingDirectory": "/srv"}]}),
        json!({}),
    );
    let c = container(&o, "app");
    assert_eq!(
        (
            c["command"].clone(),
            c["args"].clone(),
            c["workingDir"].clone()
        ),
        (json!(["/bin/app"]), json!(["--x"]), json!("/srv"))
    );
    assert_eq!(
        (
            c["securityContext"]["runAsUser"].as_i64(),
            c["securityContext"]["runAsGroup"].as_i64()
        ),
        (Some(1000), Some(2000))
    );
}

#[test]
fn linux_parameters_become_security_context_and_volumes() {
    let td = json!({"containerDefinitions": [{"readonlyRootFilesystem": true, "dockerSecurityOptions": ["no-new-privileges"],
        "linuxParameters": {"capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}, "initProcessEnabled": true, "sharedMemorySize": 64}}]});
    // NET_ADMIN is beyond the default set: refused unless the policy allows added capabilities.
    let refused = render_with(td.clone(), Some(json!({})), None, SecurityPolicy::default())
        .expect_err("NET_ADMIN needs --allow-capabilities");
    assert!(
        format!("{refused:?}")
            .contains("spec.containerDefinitions[0].linuxParameters.capabilities.add"),
        "{refused:?}"
    );
    let policy = SecurityPolicy {
        allow_capabilities: true,
        ..SecurityPolicy::default()
    };
    let o = render_with(td, Some(json!({})), None, policy).unwrap();
    let sc = &container(&o, "app")["securityContext"];
    assert_eq!(
        sc["capabilities"],
        json!({"add": ["NET_ADMIN"], "drop": ["ALL"]})
    );
    assert_eq!(
        (
            sc["readOnlyRootFilesystem"].as_bool(),
            sc["allowPrivilegeEscalation"].as_bool()
        ),
        (Some(true), Some(false))
    );
    assert_eq!(pod_spec(&o)["shareProcessNamespace"], true);
    assert!(
        container(&o, "app")["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["mountPath"] == "/dev/shm")
    );
}

#[test]
fn privileged_and_host_features_are_policy_gated() {
    let privileged = json!({"containerDefinitions": [{"privileged": true}], "networkMode": "host", "pidMode": "host", "ipcMode": "host"});
    let errors = render_with(
        privileged.clone(),
        Some(json!({})),
        None,
        SecurityPolicy::default(),
    )
    .unwrap_err()
    .join("\n");
    for path in [
        "spec.containerDefinitions[0].privileged",
        "spec.networkMode",
        "spec.pidMode",
        "spec.ipcMode",
    ] {
        assert!(errors.contains(path), "{path} not refused: {errors}");
    }
    let o = render_with(
        privileged,
        Some(json!({})),
        None,
        SecurityPolicy::permissive(),
    )
    .unwrap();
    assert_eq!(
        (
            pod_spec(&o)["hostNetwork"].as_bool(),
            pod_spec(&o)["hostPID"].as_bool()
        ),
        (Some(true), Some(true))
    );
}

#[test]
fn dns_hosts_and_sysctls_land_on_the_pod() {
    let td = json!({"containerDefinitions": [{"hostname": "web", "dnsServers": ["10.0.0.2"], "dnsSearchDomains": ["corp"],
        "extraHosts": [{"hostname": "db", "ipAddress": "10.1.1.1"}], "systemControls": [{"namespace": "net.core.somaxconn", "value": "1024"}]}]});
    let p = service_row(td, json!({}))
        .iter()
        .find(|o| o["kind"] == "Deployment")
        .unwrap()["spec"]["template"]["spec"]
        .clone();
    assert_eq!(p["hostname"], "web");
    assert_eq!(
        (
            p["dnsPolicy"].as_str(),
            p["dnsConfig"]["nameservers"][0].as_str()
        ),
        (Some("None"), Some("10.0.0.2"))
    );
    assert_eq!(
        p["hostAliases"][0],
        json!({"ip": "10.1.1.1", "hostnames": ["db"]})
    );
    assert_eq!(
        p["securityContext"]["sysctls"][0],
        json!({"name": "net.core.somaxconn", "value": "1024"})
    );
}

#[test]
fn stop_timeout_is_the_grace_period() {
    let td = json!({"containerDefinitions": [{"name": "a", "image": "x", "memory": 64, "stopTimeout": 45}, {"name": "b", "image": "y", "memory": 64, "stopTimeout": 90, "essential": false}]});
    assert_eq!(
        pod_spec(&service_row(td, json!({})))["terminationGracePeriodSeconds"],
        90
    );
}

#[test]
fn volumes_host_docker_and_efs() {
    let td = json!({"volumes": [{"name": "scratch", "host": {}}, {"name": "cache", "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": true}},
        {"name": "efs", "efsVolumeConfiguration": {"fileSystemId": "fs-1", "transitEncryption": "ENABLED"}}],
        "containerDefinitions": [{"mountPoints": [{"sourceVolume": "efs", "containerPath": "/data", "readOnly": true}]}]});
    let o = service_row(td, json!({}));
    let vols = pod_spec(&o)["volumes"].as_array().unwrap();
    assert!(vols[0]["emptyDir"].is_object());
    assert_eq!(vols[1]["persistentVolumeClaim"]["claimName"], "app-cache");
    assert_eq!(
        object(&o, "PersistentVolume")["spec"]["csi"]["driver"],
        "efs.csi.aws.com"
    );
    assert_eq!(
        container(&o, "app")["volumeMounts"][0],
        json!({"name": "efs", "mountPath": "/data", "readOnly": true})
    );
    let host_path = json!({"volumes": [{"name": "logs", "host": {"sourcePath": "/var/log"}}]});
    assert!(
        render_with(host_path, Some(json!({})), None, SecurityPolicy::default()).unwrap_err()[0]
            .contains("spec.volumes[0].host.sourcePath")
    );
}

#[test]
fn task_role_becomes_an_irsa_service_account() {
    let o = service_row(json!({"taskRoleArn": "arn:aws:iam::1:role/app"}), json!({}));
    let sa = object(&o, "ServiceAccount");
    assert_eq!(
        sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::1:role/app"
    );
    assert_eq!(pod_spec(&o)["serviceAccountName"], sa["metadata"]["name"]);
}

#[test]
fn runtime_platform_selects_arch_and_os() {
    let o = service_row(
        json!({"runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}}),
        json!({}),
    );
    assert_eq!(
        pod_spec(&o)["nodeSelector"],
        json!({"kubernetes.io/arch": "arm64", "kubernetes.io/os": "linux"})
    );
}

#[test]
fn deployment_percentages_use_ecs_rounding() {
    let o = service_row(
        json!({}),
        json!({"desiredCount": 3, "deploymentConfiguration": {"maximumPercent": 150, "minimumHealthyPercent": 50}}),
    );
    let s = &object(&o, "Deployment")["spec"];
    assert_eq!(
        (
            s["replicas"].as_i64(),
            s["strategy"]["rollingUpdate"]["maxSurge"].as_i64(),
            s["strategy"]["rollingUpdate"]["maxUnavailable"].as_i64()
        ),
        (Some(3), Some(1), Some(1))
    );
}

/// DeploymentConfiguration.strategy (ECS API model): BLUE_GREEN runs the new revision beside
/// the old one and shifts production traffic to it. At rest the revision is in the `main` slot,
/// the production Service selects that slot, and a test Service (ECS's alternate target group)
/// selects the other, empty slot.
#[test]
fn blue_green_renders_the_main_slot_a_production_and_a_test_service() {
    let o = service_row(
        json!({"containerDefinitions": [{"portMappings": [{"containerPort": 80}]}]}),
        json!({"deploymentConfiguration": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5},
               "loadBalancers": [{"containerName": "app", "containerPort": 80}]}),
    );
    let d = object(&o, "Deployment");
    assert_eq!(d["metadata"]["name"], "app");
    assert_eq!(
        d["spec"]["template"]["metadata"]["labels"]["ecs-operator.io/slot"],
        "main"
    );
    let services: Vec<&Value> = o.iter().filter(|v| v["kind"] == "Service").collect();
    let selector = |name: &str| {
        services
            .iter()
            .find(|s| s["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no Service {name}"))["spec"]["selector"]["ecs-operator.io/slot"]
            .clone()
    };
    assert_eq!(selector("app"), "main");
    assert_eq!(selector("app-test"), "alt");
}

/// DeploymentController (ECS API model): EXTERNAL needs task sets, which Kubernetes has not.
#[test]
fn external_deployment_controller_is_refused() {
    let e = render_with(
        json!({}),
        Some(json!({"deploymentController": {"type": "EXTERNAL"}})),
        None,
        SecurityPolicy::default(),
    )
    .unwrap_err();
    assert!(
        e.iter()
            .any(|e| e.contains("spec.deploymentController.type")),
        "{e:?}"
    );
}

#[test]
fn daemon_becomes_a_daemonset() {
    let o = service_row(
        json!({}),
        json!({"schedulingStrategy": "DAEMON", "desiredCount": null}),
    );
    assert_eq!(
        object(&o, "DaemonSet")["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"],
        "100%"
    );
    assert!(o.iter().all(|x| x["kind"] != "Deployment"));
}

#[test]
fn load_balancers_become_a_service_selecting_the_tasks() {
    let td =
        json!({"containerDefinitions": [{"portMappings": [{"containerPort": 80, "name": "web"}]}]});
    let o = service_row(
        td,
        json!({"loadBalancers": [{"containerName": "app", "containerPort": 80, "targetGroupArn": "arn:tg"}], "kubernetes": {"serviceType": "LoadBalancer", "targetGroupBindings": true}}),
    );
    let svc = object(&o, "Service");
    assert_eq!(
        (
            svc["spec"]["type"].as_str(),
            svc["spec"]["ports"][0]["port"].as_i64()
        ),
        (Some("LoadBalancer"), Some(80))
    );
    assert_eq!(
        svc["spec"]["selector"],
        json!({"ecs-operator.io/service": "app"})
    );
    assert_eq!(
        object(&o, "TargetGroupBinding")["spec"]["targetGroupARN"],
        "arn:tg"
    );
}

#[test]
fn placement_strategies_and_constraints() {
    let o = service_row(
        json!({}),
        json!({"placementStrategy": [{"type": "spread", "field": "attribute:ecs.availability-zone"}, {"type": "spread", "field": "instanceId"}],
        "placementConstraints": [{"type": "distinctInstance"}, {"type": "memberOf", "expression": "attribute:ecs.instance-type in [m5.large, m6g.large]"}]}),
    );
    let p = pod_spec(&o);
    let keys: Vec<&str> = p["topologySpreadConstraints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["topologyKey"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        vec!["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
    );
    assert_eq!(
        p["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]["topologyKey"],
        "kubernetes.io/hostname"
    );
    assert_eq!(
        p["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
            [0]["matchExpressions"][0],
        json!({"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["m5.large", "m6g.large"]})
    );
    let bad = render_with(json!({}), Some(json!({"placementConstraints": [{"type": "memberOf", "expression": "attribute:ecs.instance-type =="}]})), None, SecurityPolicy::default()).unwrap_err();
    assert!(bad[0].contains("column"), "{bad:?}");
}

#[test]
fn capacity_provider_strategy_splits_into_workloads() {
    let o = service_row(
        json!({}),
        json!({"desiredCount": 10, "capacityProviderStrategy": [{"capacityProvider": "FARGATE", "base": 2, "weight": 1}, {"capacityProvider": "FARGATE_SPOT", "weight": 3}]}),
    );
    let replicas: Vec<(String, i64)> = o
        .iter()
        .filter(|x| x["kind"] == "Deployment")
        .map(|d| {
            (
                d["metadata"]["name"].as_str().unwrap().to_string(),
                d["spec"]["replicas"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        replicas,
        vec![
            ("app-fargate".to_string(), 4),
            ("app-fargate-spot".to_string(), 6)
        ]
    );
}

#[test]
fn autoscaling_becomes_an_hpa_on_the_scale_subresource() {
    let o = service_row(
        json!({}),
        json!({"autoscaling": {"minCapacity": 2, "maxCapacity": 8, "targetTrackingScalingPolicies": [
        {"policyName": "cpu", "targetValue": 70, "predefinedMetricSpecification": {"predefinedMetricType": "ECSServiceAverageCPUUtilization"}, "scaleInCooldown": 120, "disableScaleIn": true}]}}),
    );
    let h = &object(&o, "HorizontalPodAutoscaler")["spec"];
    assert_eq!(
        h["scaleTargetRef"],
        json!({"apiVersion": "ecs-operator.io/v1alpha1", "kind": "Service", "name": "app"})
    );
    assert_eq!(
        (h["minReplicas"].as_i64(), h["maxReplicas"].as_i64()),
        (Some(2), Some(8))
    );
    assert_eq!(
        h["metrics"][0]["resource"]["target"]["averageUtilization"],
        70
    );
    // The only policy disables scale-in (TargetTrackingScalingPolicyConfiguration.DisableScaleIn):
    // no scale-in at all, so no scale-in cooldown either.
    assert_eq!(h["behavior"]["scaleDown"]["selectPolicy"], "Disabled");
    assert!(h["behavior"]["scaleDown"]["stabilizationWindowSeconds"].is_null());
}

#[test]
fn tags_propagate_as_labels() {
    let o = service_row(
        json!({"tags": [{"key": "team", "value": "pay"}]}),
        json!({"tags": [{"key": "tier", "value": "web"}], "propagateTags": "TASK_DEFINITION"}),
    );
    let d = object(&o, "Deployment");
    assert_eq!(d["metadata"]["labels"]["tier"], "web");
    assert_eq!(d["spec"]["template"]["metadata"]["labels"]["team"], "pay");
}

#[test]
fn tasks_become_pods_with_overrides_and_settings() {
    let o = render_with(
        json!({}),
        None,
        Some(json!({"count": 2, "group": "nightly", "overrides": {"containerOverrides": [{"name": "app", "command": ["run"], "environment": [{"name": "X", "value": "1"}]}]},
            "kubernetes": {"labels": {"team": "data"}, "annotations": {"note": "x"}}})),
        SecurityPolicy::default(),
    )
    .unwrap();
    let pods: Vec<&Value> = o.iter().filter(|x| x["kind"] == "Pod").collect();
    assert_eq!(pods.len(), 2);
    let p = pods[0];
    assert_eq!(p["spec"]["restartPolicy"], "Never");
    assert_eq!(p["spec"]["containers"][0]["args"], json!(["run"]));
    assert_eq!(
        p["spec"]["containers"][0]["env"][0],
        json!({"name": "X", "value": "1"})
    );
    assert_eq!(
        (
            p["metadata"]["labels"]["ecs-operator.io/group"].as_str(),
            p["metadata"]["labels"]["team"].as_str()
        ),
        (Some("nightly"), Some("data"))
    );
    assert_eq!(p["metadata"]["annotations"]["note"], "x");
    assert_eq!(
        p["metadata"]["annotations"]["ecs-operator.io/essential-containers"],
        "app"
    );
}

#[test]
fn fields_without_effect_are_warned_not_dropped() {
    let td = json!({"family": "app", "containerDefinitions": [{"name": "app", "image": "nginx", "memory": 64, "ulimits": [{"name": "nofile", "softLimit": 1, "hardLimit": 2}], "logConfiguration": {"logDriver": "awslogs"}}], "executionRoleArn": "arn:x"});
    let docs = vec![manifest::Document {
        source: "row".into(),
        value: json!({"apiVersion": "ecs-operator.io/v1alpha1", "kind": "TaskDefinition", "metadata": {"name": "app"}, "spec": td}),
    }];
    let out = render::render(&docs, &Options::default());
    for path in [
        "spec.executionRoleArn",
        "spec.containerDefinitions[0].ulimits",
        "spec.containerDefinitions[0].logConfiguration",
    ] {
        assert!(
            out.warnings
                .iter()
                .any(|w| w.contains(&format!(": {path}:"))),
            "{path}: {:?}",
            out.warnings
        );
    }
}
