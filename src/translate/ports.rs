//! Port collisions inside one pod. In ECS `bridge` mode each container has its own network
//! namespace, so two containers may both listen on containerPort 80 (NetworkMode and
//! PortMapping.containerPort, ECS API model: bridge ports are mapped to host ports per
//! container). In a pod every container shares one network namespace, so the second bind
//! fails at run time: a clear error naming both containers, never a pod that crash-loops.

use std::collections::BTreeMap;

use crate::api::ecs::{ContainerDefinition, NetworkMode, TransportProtocol};

use super::dependencies::Role;
use super::diagnostics::Report;

/// Record an error for every container port (and host port) used by two containers that run
/// at the same time (main containers and sidecars; init containers have exited before).
pub fn collisions(
    defs: &[ContainerDefinition],
    roles: &[Role],
    network_mode: NetworkMode,
    report: &mut Report,
) {
    let mut container_ports: BTreeMap<(i32, &str), (usize, usize)> = BTreeMap::new();
    let mut host_ports: BTreeMap<(i32, &str), (usize, usize)> = BTreeMap::new();
    for (i, def) in defs.iter().enumerate() {
        if roles.get(i) == Some(&Role::Init) {
            continue;
        }
        for (j, p) in def.port_mappings.iter().flatten().enumerate() {
            let protocol = match p.protocol {
                Some(TransportProtocol::Udp) => "UDP",
                _ => "TCP",
            };
            if let Some(port) = p.container_port {
                check(
                    &mut container_ports,
                    (port, protocol),
                    (i, j),
                    "containerPort",
                    defs,
                    network_mode,
                    report,
                );
            }
            // Host ports exist only where ECS binds them (bridge and host modes).
            let binds_host = matches!(network_mode, NetworkMode::Bridge | NetworkMode::Host);
            if let Some(host) = p.host_port.filter(|h| *h != 0 && binds_host) {
                check(
                    &mut host_ports,
                    (host, protocol),
                    (i, j),
                    "hostPort",
                    defs,
                    network_mode,
                    report,
                );
            }
        }
    }
}

fn check<'a>(
    seen: &mut BTreeMap<(i32, &'a str), (usize, usize)>,
    key: (i32, &'a str),
    at: (usize, usize),
    field: &str,
    defs: &[ContainerDefinition],
    network_mode: NetworkMode,
    report: &mut Report,
) {
    let Some(&(first, first_mapping)) = seen.get(&key) else {
        seen.insert(key, at);
        return;
    };
    if first == at.0 {
        // The same container twice: a duplicate mapping, which the API server tolerates.
        return;
    }
    let name = |i: usize| defs[i].name.as_deref().unwrap_or("?");
    let why = if network_mode == NetworkMode::Bridge {
        "in bridge mode ECS gives each container its own network namespace, but the containers of a pod share one"
    } else {
        "the containers of a task share one network namespace"
    };
    report.error(
        format!("spec.containerDefinitions[{}].portMappings[{}].{field}", at.0, at.1),
        format!(
            "{} {}/{} of container '{}' is also used by container '{}' (spec.containerDefinitions[{first}].portMappings[{first_mapping}]): {why}, so the second could not bind it",
            field, key.0, key.1, name(at.0), name(first)
        ),
        Some(format!(
            "make one of them listen on another port, or run '{}' and '{}' as separate task definitions",
            name(first),
            name(at.0)
        )),
    );
}
