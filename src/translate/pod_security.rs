//! Pods that pass the namespace's Pod Security level. In a namespace labelled
//! `pod-security.kubernetes.io/enforce: baseline` or `restricted`, the API server refuses pods
//! that break the level — the Deployment would sit with no pods and only a ReplicaSet event to
//! say why. So the translator applies the level itself (the "Pod Security Standards" of the
//! Kubernetes documentation): under `restricted` it sets what a task definition has no words
//! for (no privilege escalation, every capability dropped, non-root, the runtime's default
//! seccomp profile), and where a field cannot pass it is an error naming the ECS field.
//! Pure, on the pod spec the translator built.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, Container, PodSecurityContext, PodSpec, SeccompProfile, SecurityContext,
};

use super::diagnostics::Report;
use super::names;
use crate::api::ecs::ContainerDefinition;

/// A Pod Security Standards level the translator enforces (`privileged` needs nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Baseline,
    Restricted,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }
}

/// Capabilities baseline lets a container add (Pod Security Standards, "Capabilities").
pub const BASELINE_CAPABILITIES: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// Sysctls baseline allows (Pod Security Standards, "Sysctls").
const SAFE_SYSCTLS: [&str; 10] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];

/// Make `pod` pass `level`, or report each field that cannot.
pub fn enforce(level: Level, defs: &[ContainerDefinition], pod: &mut PodSpec, report: &mut Report) {
    let lvl = level.name();
    let index: BTreeMap<String, usize> = defs
        .iter()
        .enumerate()
        .filter_map(|(i, d)| Some((names::dns_label(d.name.as_deref()?), i)))
        .collect();
    let refuse = |report: &mut Report, path: String, what: &str| {
        report.error(
            path,
            format!("{what}: the namespace enforces the Pod Security level \"{lvl}\" (label pod-security.kubernetes.io/enforce), so the API server would refuse the pods"),
            Some("remove the field, or ask a cluster administrator for a namespace with a lower Pod Security level".to_string()),
        );
    };
    for (flag, field, what) in [
        (pod.host_network, "spec.networkMode", "host networking"),
        (pod.host_pid, "spec.pidMode", "the host PID namespace"),
        (pod.host_ipc, "spec.ipcMode", "the host IPC namespace"),
    ] {
        if flag == Some(true) {
            refuse(report, field.into(), what);
        }
    }
    for v in pod.volumes.iter().flatten() {
        if v.host_path.is_some() {
            refuse(
                report,
                "spec.volumes".into(),
                &format!("volume {} is a host path", v.name),
            );
        }
    }
    let windows = pod.os.as_ref().is_some_and(|o| o.name == "windows");
    let sysctls = pod
        .security_context
        .as_ref()
        .and_then(|s| s.sysctls.as_ref());
    for s in sysctls.into_iter().flatten() {
        if !SAFE_SYSCTLS.contains(&s.name.as_str()) {
            refuse(
                report,
                "spec.containerDefinitions[*].systemControls".into(),
                &format!("sysctl {} is not one of baseline's safe sysctls", s.name),
            );
        }
    }
    let containers = pod
        .containers
        .iter_mut()
        .chain(pod.init_containers.iter_mut().flatten());
    let mut root = false;
    for c in containers {
        let path = index.get(&c.name).map_or_else(
            || "spec.containerDefinitions".to_string(),
            |i| format!("spec.containerDefinitions[{i}]"),
        );
        root |= container(level, c, &path, windows, &refuse, report);
    }
    if level == Level::Restricted && !windows && !root {
        let sc = pod
            .security_context
            .get_or_insert_with(PodSecurityContext::default);
        sc.run_as_non_root.get_or_insert(true);
        sc.seccomp_profile.get_or_insert_with(|| SeccompProfile {
            type_: "RuntimeDefault".into(),
            localhost_profile: None,
        });
    }
}

/// One container's checks and restricted defaults; whether it asks to run as root (refused).
fn container(
    level: Level,
    c: &mut Container,
    path: &str,
    windows: bool,
    refuse: &impl Fn(&mut Report, String, &str),
    report: &mut Report,
) -> bool {
    for (j, p) in c.ports.iter().flatten().enumerate() {
        if p.host_port.is_some_and(|h| h != 0) {
            refuse(
                report,
                format!("{path}.portMappings[{j}].hostPort"),
                "a host port",
            );
        }
    }
    let sc = c
        .security_context
        .get_or_insert_with(SecurityContext::default);
    if sc.privileged == Some(true) {
        refuse(
            report,
            format!("{path}.privileged"),
            "a privileged container",
        );
    }
    let allowed: &[&str] = match level {
        Level::Baseline => &BASELINE_CAPABILITIES,
        Level::Restricted => &["NET_BIND_SERVICE"],
    };
    for cap in sc.capabilities.iter().flat_map(|c| c.add.iter().flatten()) {
        if !allowed.contains(&cap.as_str()) {
            refuse(
                report,
                format!("{path}.linuxParameters.capabilities.add"),
                &format!("capability {cap}"),
            );
        }
    }
    if sc
        .app_armor_profile
        .as_ref()
        .is_some_and(|a| a.type_ == "Unconfined")
    {
        refuse(
            report,
            format!("{path}.dockerSecurityOptions"),
            "an unconfined AppArmor profile",
        );
    }
    let mut root = false;
    if level == Level::Restricted && !windows {
        if sc.run_as_user == Some(0) {
            refuse(report, format!("{path}.user"), "running as root (user 0)");
            root = true;
        }
        sc.allow_privilege_escalation = Some(false);
        let caps = sc.capabilities.get_or_insert_with(Capabilities::default);
        let drop = caps.drop.get_or_insert_with(Vec::new);
        if !drop.iter().any(|d| d == "ALL") {
            drop.push("ALL".into());
        }
    }
    if c.security_context.as_ref() == Some(&SecurityContext::default()) {
        c.security_context = None;
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ContainerPort;

    fn pod(c: Container) -> PodSpec {
        PodSpec {
            containers: vec![c],
            ..PodSpec::default()
        }
    }

    fn defs() -> Vec<ContainerDefinition> {
        vec![ContainerDefinition {
            name: Some("app".into()),
            ..Default::default()
        }]
    }

    /// Pod Security Standards, restricted: allowPrivilegeEscalation false, capabilities drop
    /// ALL, runAsNonRoot, seccomp RuntimeDefault — set where the task definition says nothing.
    #[test]
    fn restricted_defaults_are_set_for_a_plain_task() {
        let mut p = pod(Container {
            name: "app".into(),
            ..Container::default()
        });
        let mut r = Report::default();
        enforce(Level::Restricted, &defs(), &mut p, &mut r);
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        let sc = p.containers[0].security_context.clone().unwrap();
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(sc.capabilities.unwrap().drop, Some(vec!["ALL".to_string()]));
        let psc = p.security_context.unwrap();
        assert_eq!(psc.run_as_non_root, Some(true));
        assert_eq!(psc.seccomp_profile.unwrap().type_, "RuntimeDefault");
    }

    /// What cannot pass is an error naming the ECS field, every one at once.
    #[test]
    fn fields_that_cannot_pass_are_errors_with_their_ecs_path() {
        let mut p = pod(Container {
            name: "app".into(),
            ports: Some(vec![ContainerPort {
                container_port: 80,
                host_port: Some(8080),
                ..ContainerPort::default()
            }]),
            security_context: Some(SecurityContext {
                privileged: Some(true),
                run_as_user: Some(0),
                capabilities: Some(Capabilities {
                    add: Some(vec!["NET_ADMIN".into(), "NET_BIND_SERVICE".into()]),
                    drop: None,
                }),
                ..SecurityContext::default()
            }),
            ..Container::default()
        });
        p.host_network = Some(true);
        let mut r = Report::default();
        enforce(Level::Restricted, &defs(), &mut p, &mut r);
        let paths: Vec<&str> = r.errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.networkMode",
                "spec.containerDefinitions[0].portMappings[0].hostPort",
                "spec.containerDefinitions[0].privileged",
                "spec.containerDefinitions[0].linuxParameters.capabilities.add",
                "spec.containerDefinitions[0].user",
            ]
        );
        assert!(r.errors[0].message.contains("\"restricted\""));
    }

    /// Baseline allows Docker's default capabilities and sets nothing.
    #[test]
    fn baseline_allows_the_default_capabilities_and_sets_nothing() {
        let mut p = pod(Container {
            name: "app".into(),
            security_context: Some(SecurityContext {
                capabilities: Some(Capabilities {
                    add: Some(vec!["CHOWN".into()]),
                    drop: None,
                }),
                ..SecurityContext::default()
            }),
            ..Container::default()
        });
        let mut r = Report::default();
        enforce(Level::Baseline, &defs(), &mut p, &mut r);
        assert!(r.errors.is_empty());
        assert!(p.security_context.is_none());
    }
}
