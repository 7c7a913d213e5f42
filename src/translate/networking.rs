//! Service networking: `loadBalancers` as Kubernetes Services selecting the tasks (and,
//! optionally, AWS Load Balancer Controller TargetGroupBindings), `serviceRegistries` as
//! headless Services, Service Connect's discovery names as ClusterIP Services.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ContainerPort, PodReadinessGate, PodSpec, Service as KubeService, ServicePort,
    ServiceSpec as KubeServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::json;

use crate::api::ecs::{ApplicationProtocol, ContainerDefinition};
use crate::api::{KubernetesServiceType, ServiceSpec};

use super::diagnostics::Report;
use super::names::sanitize;

/// The Kubernetes Services and TargetGroupBindings of an ECS service.
#[derive(Clone, Debug, Default)]
pub struct Networking {
    /// The `loadBalancers` Services first, then the registry and Service Connect ones.
    pub services: Vec<KubeService>,
    /// How many of `services` are `loadBalancers` Services.
    pub load_balancer_services: usize,
    pub target_group_bindings: Vec<serde_json::Value>,
}

impl Networking {
    /// The pod readiness gates of the AWS Load Balancer Controller, one per TargetGroupBinding:
    /// a task counts as ready only once its target is healthy in the target group, as ECS
    /// counts a load-balanced task healthy only when the target group says so
    /// (DeploymentConfiguration.minimumHealthyPercent, ECS API model). The condition type is
    /// the one the controller's webhook injects (AWS Load Balancer Controller docs, "Pod
    /// readiness gate"; target type ip, as the bindings use), set here so no namespace label
    /// is needed; the controller sets it True once the target is healthy.
    pub fn readiness_gates(&self) -> Vec<PodReadinessGate> {
        self.target_group_bindings
            .iter()
            .filter_map(|t| t["metadata"]["name"].as_str())
            .map(|name| PodReadinessGate {
                condition_type: format!("{TARGET_HEALTH_CONDITION}/{name}"),
            })
            .collect()
    }
}

/// The pod condition type prefix the AWS Load Balancer Controller sets per TargetGroupBinding.
pub const TARGET_HEALTH_CONDITION: &str = "target-health.elbv2.k8s.aws";

/// PortMapping.appProtocol (ECS API model: http, http2, grpc) as ServicePort.appProtocol:
/// IANA service names where one exists, Kubernetes' `kubernetes.io/h2c` for cleartext HTTP/2.
fn app_protocol(defs: &[ContainerDefinition], container: &str, port: i32) -> Option<String> {
    let container = super::names::dns_label(container);
    let mapping = defs
        .iter()
        .filter(|d| super::names::dns_label(d.name.as_deref().unwrap_or_default()) == container)
        .flat_map(|d| d.port_mappings.iter().flatten())
        .find(|p| p.container_port == Some(port))?;
    Some(
        match mapping.app_protocol? {
            ApplicationProtocol::Http => "http",
            ApplicationProtocol::Http2 => "kubernetes.io/h2c",
            ApplicationProtocol::Grpc => "grpc",
        }
        .to_string(),
    )
}

/// The container that declares container port `port` named `port_name`.
fn container_of<'a>(pod: &'a PodSpec, port_name: &str) -> Option<&'a str> {
    pod.containers
        .iter()
        .chain(pod.init_containers.iter().flatten())
        .find(|c| {
            c.ports
                .iter()
                .flatten()
                .any(|p| p.name.as_deref() == Some(port_name))
        })
        .map(|c| c.name.as_str())
}

/// Find the container port a `containerName`/`containerPort` pair refers to.
fn find_port<'a>(pod: &'a PodSpec, container: &str, port: i32) -> Option<&'a ContainerPort> {
    let container = super::names::dns_label(container);
    pod.containers
        .iter()
        .chain(pod.init_containers.iter().flatten())
        .filter(|c| c.name == container)
        .flat_map(|c| c.ports.iter().flatten())
        .find(|p| p.container_port == port)
}

/// Build the networking objects of service `name` whose pods carry `selector`; `defs` are
/// the task definition's containers (for what the pod spec does not keep, e.g. appProtocol).
#[allow(clippy::too_many_arguments)]
pub fn build(
    name: &str,
    namespace: Option<&str>,
    spec: &ServiceSpec,
    defs: &[ContainerDefinition],
    pod: &PodSpec,
    selector: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
    report: &mut Report,
) -> Networking {
    let mut out = Networking::default();
    let settings = spec.kubernetes.clone().unwrap_or_default();
    let service_type = match settings
        .service_type
        .unwrap_or(KubernetesServiceType::ClusterIP)
    {
        KubernetesServiceType::ClusterIP => "ClusterIP",
        KubernetesServiceType::NodePort => "NodePort",
        KubernetesServiceType::LoadBalancer => "LoadBalancer",
    };
    let meta = |svc_name: &str, annotations: Option<BTreeMap<String, String>>| ObjectMeta {
        name: Some(svc_name.to_string()),
        namespace: namespace.map(str::to_string),
        labels: Some(labels.clone()),
        annotations,
        ..ObjectMeta::default()
    };
    let mut seen: Vec<(String, i32)> = Vec::new();
    for (i, lb) in spec.load_balancers.iter().flatten().enumerate() {
        let path = format!("spec.loadBalancers[{i}]");
        let (Some(container), Some(port)) = (lb.container_name.as_deref(), lb.container_port)
        else {
            report.error(path, "needs containerName and containerPort", None);
            continue;
        };
        let Some(cport) = find_port(pod, container, port) else {
            report.error(
                format!("{path}.containerPort"),
                format!("container '{container}' has no portMapping with containerPort {port}"),
                Some("add the port to the container's portMappings".to_string()),
            );
            continue;
        };
        if seen.contains(&(container.to_string(), port)) {
            continue;
        }
        let svc_name = if seen.is_empty() {
            name.to_string()
        } else {
            sanitize(&format!("{name}-{container}-{port}"), 63)
        };
        seen.push((container.to_string(), port));
        let annotations = (!settings.service_annotations.is_empty())
            .then(|| settings.service_annotations.clone());
        out.services.push(KubeService {
            metadata: meta(&svc_name, annotations),
            spec: Some(KubeServiceSpec {
                type_: Some(service_type.into()),
                selector: Some(selector.clone()),
                ports: Some(vec![ServicePort {
                    name: Some(cport.name.clone().unwrap_or_else(|| {
                        format!(
                            "{}-{port}",
                            cport
                                .protocol
                                .as_deref()
                                .unwrap_or("TCP")
                                .to_ascii_lowercase()
                        )
                    })),
                    port,
                    protocol: cport.protocol.clone(),
                    target_port: Some(IntOrString::Int(port)),
                    app_protocol: app_protocol(defs, container, port),
                    ..ServicePort::default()
                }]),
                ..KubeServiceSpec::default()
            }),
            ..KubeService::default()
        });
        if let Some(arn) = lb.target_group_arn.as_deref().filter(|a| !a.is_empty()) {
            if settings.target_group_bindings == Some(true) {
                out.target_group_bindings.push(json!({
                    "apiVersion": "elbv2.k8s.aws/v1beta1",
                    "kind": "TargetGroupBinding",
                    "metadata": { "name": svc_name, "namespace": namespace, "labels": labels },
                    "spec": {
                        "serviceRef": { "name": svc_name, "port": port },
                        "targetGroupARN": arn,
                        "targetType": "ip",
                    }
                }));
            } else {
                report.warn(
                    format!("{path}.targetGroupArn"),
                    "the target group is not registered: set spec.kubernetes.targetGroupBindings to emit a TargetGroupBinding for the AWS Load Balancer Controller",
                );
            }
        }
    }
    out.load_balancer_services = out.services.len();
    for (i, reg) in spec.service_registries.iter().flatten().enumerate() {
        let path = format!("spec.serviceRegistries[{i}]");
        let port = reg.container_port.or(reg.port);
        let ports = port.map(|p| {
            vec![ServicePort {
                name: Some(format!("sd-{p}")),
                port: p,
                target_port: Some(IntOrString::Int(p)),
                ..ServicePort::default()
            }]
        });
        if reg
            .container_name
            .as_deref()
            .zip(reg.container_port)
            .is_some_and(|(c, p)| find_port(pod, c, p).is_none())
        {
            report.error(
                format!("{path}.containerPort"),
                "names no port of that container",
                None,
            );
            continue;
        }
        let svc_name = sanitize(
            &format!(
                "{name}-sd{}",
                if i == 0 {
                    String::new()
                } else {
                    format!("-{i}")
                }
            ),
            63,
        );
        out.services.push(KubeService {
            metadata: meta(&svc_name, None),
            spec: Some(KubeServiceSpec {
                cluster_ip: Some("None".into()),
                selector: Some(selector.clone()),
                ports,
                publish_not_ready_addresses: Some(false),
                ..KubeServiceSpec::default()
            }),
            ..KubeService::default()
        });
    }
    if let Some(sc) = spec
        .service_connect_configuration
        .as_ref()
        .filter(|sc| sc.enabled == Some(true))
    {
        for (i, s) in sc.services.iter().flatten().enumerate() {
            let path = format!("spec.serviceConnectConfiguration.services[{i}]");
            let Some(port_name) = s.port_name.as_deref() else {
                report.error(format!("{path}.portName"), "is required", None);
                continue;
            };
            let Some(cport) = pod
                .containers
                .iter()
                .chain(pod.init_containers.iter().flatten())
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| p.name.as_deref() == Some(port_name))
            else {
                report.error(
                    format!("{path}.portName"),
                    format!("names no container port: '{port_name}'"),
                    None,
                );
                continue;
            };
            let app = container_of(pod, port_name)
                .and_then(|c| app_protocol(defs, c, cport.container_port));
            let discovery = s.discovery_name.as_deref().unwrap_or(port_name);
            let svc_name = sanitize(discovery, 63);
            let aliases = s.client_aliases.clone().unwrap_or_default();
            let mut ports = Vec::new();
            for (j, a) in aliases.iter().enumerate() {
                if let Some(dns) = a.dns_name.as_deref() {
                    report.warn(format!("{path}.clientAliases[{j}].dnsName"), format!("'{dns}' is not a cluster DNS name; clients reach {svc_name}.<namespace>.svc"));
                }
                ports.push(ServicePort {
                    name: Some(
                        format!("{port_name}-{j}")
                            .chars()
                            .take(15)
                            .collect::<String>()
                            .trim_end_matches('-')
                            .to_string(),
                    ),
                    port: a.port.unwrap_or(cport.container_port),
                    target_port: Some(IntOrString::String(port_name.into())),
                    protocol: cport.protocol.clone(),
                    app_protocol: app.clone(),
                    ..ServicePort::default()
                });
            }
            if ports.is_empty() {
                ports.push(ServicePort {
                    name: Some(port_name.into()),
                    port: cport.container_port,
                    target_port: Some(IntOrString::String(port_name.into())),
                    protocol: cport.protocol.clone(),
                    app_protocol: app.clone(),
                    ..ServicePort::default()
                });
            }
            if out
                .services
                .iter()
                .any(|x| x.metadata.name.as_deref() == Some(svc_name.as_str()))
            {
                report.error(
                    format!("{path}.discoveryName"),
                    format!("'{svc_name}' collides with another Service of this ECS service"),
                    None,
                );
                continue;
            }
            out.services.push(KubeService {
                metadata: meta(&svc_name, None),
                spec: Some(KubeServiceSpec {
                    type_: Some("ClusterIP".into()),
                    selector: Some(selector.clone()),
                    ports: Some(ports),
                    ..KubeServiceSpec::default()
                }),
                ..KubeService::default()
            });
        }
    }
    out
}
