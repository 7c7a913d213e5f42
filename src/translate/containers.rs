//! One ECS container definition to one Kubernetes container: image, command, env and secrets,
//! ports, resources (CPU units and MiB to canonical quantities), security context.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    AppArmorProfile, Capabilities, ConfigMapEnvSource, Container, ContainerPort, EnvFromSource,
    EnvVar, EnvVarSource, ResourceRequirements, SELinuxOptions, SecretKeySelector, SecurityContext,
    WindowsSecurityContextOptions,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::api::ecs::{ContainerDefinition, NetworkMode, ResourceType, TransportProtocol};

use super::Context;
use super::diagnostics::Report;
use super::names::is_port_name;
use super::quantity::{cpu_units, mebibytes};
use super::secrets::{SecretRef, environment_file_config_map, parse_value_from};

/// Linux's limit on one string of a new process's arguments or environment (execve(2):
/// MAX_ARG_STRLEN, 32 pages of 4 KiB): a longer `NAME=value` fails the container's start with
/// E2BIG, whatever runs it.
const MAX_ENV_STRING: usize = 131_072;

/// `NAME=value` with its terminating NUL, as the kernel counts it.
fn env_string_len(name: &str, value: Option<&str>) -> usize {
    name.len() + 1 + value.map_or(0, str::len) + 1
}

/// What a container needs besides itself: secrets it reads (for ExternalSecrets).
#[derive(Clone, Debug, Default)]
pub struct ContainerNeeds {
    pub secrets: Vec<SecretRef>,
}

/// Build the container at `spec.containerDefinitions[i]`.
pub fn container(
    def: &ContainerDefinition,
    i: usize,
    network_mode: NetworkMode,
    ctx: &Context,
    needs: &mut ContainerNeeds,
    report: &mut Report,
) -> Container {
    let path = format!("spec.containerDefinitions[{i}]");
    // ECS allows '_' and capitals in names; Kubernetes container names are DNS labels.
    let name = super::names::dns_label(def.name.as_deref().unwrap_or_default());
    let mut c = Container {
        name: name.clone(),
        image: def.image.clone(),
        command: def.entry_point.clone().filter(|v| !v.is_empty()),
        args: def.command.clone().filter(|v| !v.is_empty()),
        working_dir: def.working_directory.clone().filter(|w| !w.is_empty()),
        stdin: def.interactive.filter(|b| *b),
        tty: def.pseudo_terminal.filter(|b| *b),
        ..Container::default()
    };

    // Environment: plain variables, then secrets as secretKeyRef, in ECS order.
    let mut env = Vec::new();
    for (j, kv) in def.environment.iter().flatten().enumerate() {
        match kv.name.as_deref().filter(|n| !n.is_empty()) {
            Some(n) if env_string_len(n, kv.value.as_deref()) > MAX_ENV_STRING => report.error(
                format!("{path}.environment[{j}].value"),
                format!(
                    "'{n}' is {} bytes with its value; a process cannot start with an environment string over {MAX_ENV_STRING} bytes (Linux execve(2): MAX_ARG_STRLEN, E2BIG), on ECS or Kubernetes",
                    env_string_len(n, kv.value.as_deref())
                ),
                Some("put large values in a file (a volume, environmentFiles) or a Secret mounted as a file".to_string()),
            ),
            Some(n) => env.push(EnvVar {
                name: n.into(),
                value: Some(kv.value.clone().unwrap_or_default()),
                value_from: None,
            }),
            None => report.error(format!("{path}.environment[{j}].name"), "is required", None),
        }
    }
    for (j, s) in def.secrets.iter().flatten().enumerate() {
        let spath = format!("{path}.secrets[{j}]");
        let Some(n) = s.name.as_deref().filter(|n| !n.is_empty()) else {
            report.error(format!("{spath}.name"), "is required", None);
            continue;
        };
        match parse_value_from(s.value_from.as_deref().unwrap_or_default()) {
            Ok(r) => {
                env.push(EnvVar {
                    name: n.into(),
                    value: None,
                    value_from: Some(EnvVarSource {
                        secret_key_ref: Some(SecretKeySelector {
                            name: r.secret_name.clone(),
                            key: r.key.clone(),
                            optional: None,
                        }),
                        ..EnvVarSource::default()
                    }),
                });
                needs.secrets.push(r);
            }
            Err(e) => report.error(format!("{spath}.valueFrom"), e, None),
        }
    }
    c.env = (!env.is_empty()).then_some(env);
    let mut env_from = Vec::new();
    for (j, f) in def.environment_files.iter().flatten().enumerate() {
        match environment_file_config_map(f.value.as_deref().unwrap_or_default()) {
            Ok(cm) => {
                report.warn(
                    format!("{path}.environmentFiles[{j}]"),
                    format!("read from ConfigMap '{cm}': create it from the S3 file (kubectl create configmap {cm} --from-env-file=FILE)"),
                );
                env_from.push(EnvFromSource {
                    config_map_ref: Some(ConfigMapEnvSource {
                        name: cm,
                        optional: None,
                    }),
                    ..EnvFromSource::default()
                });
            }
            Err(e) => report.error(format!("{path}.environmentFiles[{j}].value"), e, None),
        }
    }
    c.env_from = (!env_from.is_empty()).then_some(env_from);

    // Ports: names stable and valid; host ports only where ECS binds them.
    let mut ports = Vec::new();
    for (j, p) in def.port_mappings.iter().flatten().enumerate() {
        let ppath = format!("{path}.portMappings[{j}]");
        let Some(port) = p.container_port.filter(|p| (1..=65535).contains(p)) else {
            report.error(
                format!("{ppath}.containerPort"),
                "is required, 1 to 65535",
                None,
            );
            continue;
        };
        let protocol = match p.protocol {
            Some(TransportProtocol::Udp) => "UDP",
            _ => "TCP",
        };
        let name = match p.name.as_deref() {
            Some(n) if is_port_name(n) => Some(n.to_string()),
            Some(n) => {
                let derived = format!("{}-{port}", protocol.to_ascii_lowercase());
                report.warn(format!("{ppath}.name"), format!("'{n}' is not a valid Kubernetes port name (≤ 15 lowercase letters, digits, '-'); using '{derived}'"));
                Some(derived)
            }
            None => None,
        };
        let host_port = match (network_mode, p.host_port) {
            (NetworkMode::Bridge | NetworkMode::Host, Some(h)) if h != 0 => Some(h),
            (NetworkMode::Awsvpc, Some(h)) if h != 0 && h != port => {
                report.error(
                    format!("{ppath}.hostPort"),
                    "must equal containerPort (or be omitted) in awsvpc mode",
                    None,
                );
                None
            }
            _ => None,
        };
        ports.push(ContainerPort {
            container_port: port,
            host_port,
            name,
            protocol: Some(protocol.into()),
            host_ip: None,
        });
    }
    c.ports = (!ports.is_empty()).then_some(ports);

    c.resources = resources(def, &path, ctx, report);
    c.security_context = security_context(def, &path, ctx, report);
    super::restart::apply(def, &path, &mut c, ctx, report);
    c
}

fn resources(
    def: &ContainerDefinition,
    path: &str,
    ctx: &Context,
    report: &mut Report,
) -> Option<ResourceRequirements> {
    let mut requests = BTreeMap::new();
    let mut limits = BTreeMap::new();
    if let Some(cpu) = def.cpu.filter(|c| *c > 0) {
        // ECS container cpu is a relative share, not a cap: a request only.
        requests.insert("cpu".to_string(), Quantity(cpu_units(cpu.into())));
    } else if def.cpu.is_some_and(|c| c < 0) {
        report.error(format!("{path}.cpu"), "must be 0 or more CPU units", None);
    }
    match (def.memory, def.memory_reservation) {
        (Some(m), _) if m < 6 => {
            report.error(format!("{path}.memory"), "must be at least 6 MiB", None)
        }
        (_, Some(r)) if r < 6 => report.error(
            format!("{path}.memoryReservation"),
            "must be at least 6 MiB",
            None,
        ),
        (Some(m), Some(r)) if r > m => report.error(
            format!("{path}.memoryReservation"),
            format!("({r} MiB) is greater than memory ({m} MiB)"),
            Some("the soft limit must not exceed the hard limit".to_string()),
        ),
        (Some(m), r) => {
            limits.insert("memory".to_string(), Quantity(mebibytes(m.into())));
            requests.insert(
                "memory".to_string(),
                Quantity(mebibytes(r.unwrap_or(m).into())),
            );
        }
        (None, Some(r)) => {
            requests.insert("memory".to_string(), Quantity(mebibytes(r.into())));
        }
        (None, None) => {}
    }
    for (j, rr) in def.resource_requirements.iter().flatten().enumerate() {
        let rpath = format!("{path}.resourceRequirements[{j}]");
        match rr.r#type {
            Some(ResourceType::Gpu) => match rr.value.as_deref().and_then(|v| v.trim().parse::<u32>().ok()) {
                Some(n) if n > 0 => {
                    limits.insert(ctx.gpu_resource_name().to_string(), Quantity(n.to_string()));
                }
                _ => report.error(format!("{rpath}.value"), "must be a whole number of GPUs, e.g. \"1\"", None),
            },
            Some(ResourceType::NeuronDevice) => match rr.value.as_deref().and_then(|v| v.trim().parse::<u32>().ok()) {
                Some(n) if n > 0 => {
                    limits.insert("aws.amazon.com/neuron".to_string(), Quantity(n.to_string()));
                }
                _ => report.error(format!("{rpath}.value"), "must be a whole number of Neuron devices", None),
            },
            Some(ResourceType::InferenceAccelerator) => report.warn(
                rpath,
                "Elastic Inference accelerators do not exist on Kubernetes; the requirement has no effect",
            ),
            None => report.error(format!("{rpath}.type"), "is required: GPU, NeuronDevice or InferenceAccelerator", None),
        }
    }
    (!requests.is_empty() || !limits.is_empty()).then(|| ResourceRequirements {
        requests: (!requests.is_empty()).then_some(requests),
        limits: (!limits.is_empty()).then_some(limits),
        ..ResourceRequirements::default()
    })
}

fn security_context(
    def: &ContainerDefinition,
    path: &str,
    ctx: &Context,
    report: &mut Report,
) -> Option<SecurityContext> {
    let mut sc = SecurityContext::default();
    if def.privileged == Some(true) {
        if !ctx.policy.allow_privileged {
            report.error(
                format!("{path}.privileged"),
                ctx.policy.refused("privileged containers", "privileged"),
                Some("drop it, or add only the capabilities needed under linuxParameters.capabilities.add".to_string()),
            );
        }
        sc.privileged = Some(true);
    }
    if def.readonly_root_filesystem == Some(true) {
        sc.read_only_root_filesystem = Some(true);
    }
    if let Some(user) = def.user.as_deref().filter(|u| !u.is_empty() && ctx.windows) {
        // Windows containers run as a named account (ECS Developer Guide, "Windows task
        // definitions": user); Kubernetes forbids runAsUser in a Windows pod.
        sc.windows_options = Some(WindowsSecurityContextOptions {
            run_as_user_name: Some(user.to_string()),
            ..WindowsSecurityContextOptions::default()
        });
    } else if let Some(user) = def.user.as_deref().filter(|u| !u.is_empty()) {
        let mut parts = user.splitn(2, ':');
        let uid = parts.next().unwrap_or_default();
        let gid = parts.next();
        match uid.parse::<i64>() {
            Ok(u) => sc.run_as_user = Some(u),
            Err(_) => report.warn(
                format!("{path}.user"),
                format!("'{uid}' is a user name; Kubernetes needs a numeric UID, so the image's user applies"),
            ),
        }
        if let Some(g) = gid {
            match g.parse::<i64>() {
                Ok(g) => sc.run_as_group = Some(g),
                Err(_) => report.warn(
                    format!("{path}.user"),
                    format!("'{g}' is a group name; Kubernetes needs a numeric GID"),
                ),
            }
        }
    }
    if let Some(caps) = def
        .linux_parameters
        .as_ref()
        .and_then(|l| l.capabilities.as_ref())
    {
        let norm = |v: &Option<Vec<String>>| -> Option<Vec<String>> {
            v.as_ref().filter(|v| !v.is_empty()).map(|v| {
                v.iter()
                    .map(|c| c.trim_start_matches("CAP_").to_ascii_uppercase())
                    .collect()
            })
        };
        let add = norm(&caps.add);
        let beyond: Vec<&String> = add
            .iter()
            .flatten()
            .filter(|c| !super::pod_security::BASELINE_CAPABILITIES.contains(&c.as_str()))
            .collect();
        if !beyond.is_empty() && !ctx.policy.allow_capabilities {
            report.error(
                format!("{path}.linuxParameters.capabilities.add"),
                ctx.policy.refused(
                    &format!("capabilities beyond the default set ({beyond:?})"),
                    "capabilities",
                ),
                Some("drop them, or ask an administrator to allow added capabilities".to_string()),
            );
        }
        sc.capabilities = Some(Capabilities {
            add,
            drop: norm(&caps.drop),
        });
    }
    for (j, opt) in def.docker_security_options.iter().flatten().enumerate() {
        let opath = format!("{path}.dockerSecurityOptions[{j}]");
        if opt == "no-new-privileges" || opt == "no-new-privileges:true" {
            sc.allow_privilege_escalation = Some(false);
        } else if let Some(profile) = opt
            .strip_prefix("apparmor:")
            .or_else(|| opt.strip_prefix("apparmor="))
        {
            sc.app_armor_profile = Some(match profile {
                "unconfined" => AppArmorProfile {
                    type_: "Unconfined".into(),
                    localhost_profile: None,
                },
                "runtime/default" | "docker-default" => AppArmorProfile {
                    type_: "RuntimeDefault".into(),
                    localhost_profile: None,
                },
                p => AppArmorProfile {
                    type_: "Localhost".into(),
                    localhost_profile: Some(p.into()),
                },
            });
        } else if let Some(label) = opt
            .strip_prefix("label:")
            .or_else(|| opt.strip_prefix("label="))
        {
            let se = sc
                .se_linux_options
                .get_or_insert_with(SELinuxOptions::default);
            match label.split_once(':') {
                Some(("user", v)) => se.user = Some(v.into()),
                Some(("role", v)) => se.role = Some(v.into()),
                Some(("type", v)) => se.type_ = Some(v.into()),
                Some(("level", v)) => se.level = Some(v.into()),
                _ => report.warn(
                    opath,
                    format!("SELinux option '{label}' has no Kubernetes equivalent"),
                ),
            }
        } else {
            report.warn(
                opath,
                format!("Docker security option '{opt}' has no Kubernetes equivalent"),
            );
        }
    }
    (sc != SecurityContext::default()).then_some(sc)
}
