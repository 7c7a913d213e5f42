//! Windows task definitions (`runtimePlatform.operatingSystemFamily: WINDOWS_SERVER_*`) as pods
//! for Windows nodes: `spec.os.name: windows`, the `kubernetes.io/os` and
//! `node.kubernetes.io/windows-build` node labels, Windows paths and named pipes accepted,
//! `user` as `windowsOptions.runAsUserName`. What a Windows pod cannot carry (Kubernetes
//! forbids the Linux-only security fields when `os.name` is windows; ECS's Developer Guide,
//! "Windows task definitions", lists the same parameters as unsupported) is an error.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PodOS, PodSpec};

use crate::api::TaskDefinitionSpec;
use crate::api::ecs::{IpcMode, NetworkMode, OSFamily, PidMode};

use super::diagnostics::Report;

/// Node label with the Windows build (Kubernetes well-known label).
pub const WINDOWS_BUILD: &str = "node.kubernetes.io/windows-build";

/// Whether the task definition is for Windows.
pub fn is_windows(spec: &TaskDefinitionSpec) -> bool {
    spec.runtime_platform
        .as_ref()
        .and_then(|r| r.operating_system_family)
        .is_some_and(|f| f != OSFamily::Linux)
}

/// The Windows build of an ECS OS family (what `node.kubernetes.io/windows-build` holds):
/// a container image must match its host's build, so the family picks the nodes.
pub fn build(family: OSFamily) -> Option<&'static str> {
    Some(match family {
        OSFamily::WindowsServer2016Full => "10.0.14393",
        OSFamily::WindowsServer2019Full | OSFamily::WindowsServer2019Core => "10.0.17763",
        OSFamily::WindowsServer2004Core => "10.0.19041",
        OSFamily::WindowsServer20h2Core => "10.0.19042",
        OSFamily::WindowsServer2022Full | OSFamily::WindowsServer2022Core => "10.0.20348",
        OSFamily::WindowsServer2025Full | OSFamily::WindowsServer2025Core => "10.0.26100",
        OSFamily::Linux => return None,
    })
}

/// An absolute container path: `/...`, and on Windows also `C:\...`, `C:/...` or a named
/// pipe `\\.\pipe\...`.
pub fn is_absolute(path: &str, windows: bool) -> bool {
    if path.starts_with('/') {
        return true;
    }
    if !windows {
        return false;
    }
    let b = path.as_bytes();
    let drive =
        b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && matches!(b[2], b'\\' | b'/');
    drive || path.starts_with(r"\\.\pipe\")
}

/// Put a Windows task definition's pod on Windows nodes; refuse what a Windows pod cannot do.
pub fn apply(spec: &TaskDefinitionSpec, pod: &mut PodSpec, report: &mut Report) {
    let Some(family) = spec
        .runtime_platform
        .as_ref()
        .and_then(|r| r.operating_system_family)
    else {
        return;
    };
    let path = "spec.runtimePlatform.operatingSystemFamily";
    let sel = pod.node_selector.get_or_insert_with(BTreeMap::new);
    if family == OSFamily::Linux {
        sel.insert("kubernetes.io/os".into(), "linux".into());
        return;
    }
    sel.insert("kubernetes.io/os".into(), "windows".into());
    if let Some(b) = build(family) {
        sel.insert(WINDOWS_BUILD.into(), b.into());
    }
    pod.os = Some(PodOS {
        name: "windows".into(),
    });
    if family.as_str().ends_with("_FULL") {
        report.warn(
            path,
            format!("{}: nodes are matched by Windows build; Full and Core installations of one build are not told apart", family.as_str()),
        );
    }
    refuse_linux_only(spec, report);
}

fn refuse_linux_only(spec: &TaskDefinitionSpec, report: &mut Report) {
    let why = "is not supported for Windows containers (ECS Developer Guide, \"Windows task definitions\"), and Kubernetes refuses it in a Windows pod";
    let mut refuse = |field: String| {
        report.error(
            field,
            why,
            Some("remove it, or run this task definition on Linux".to_string()),
        )
    };
    if spec.network_mode == Some(NetworkMode::Host) {
        refuse("spec.networkMode".into());
    }
    if spec
        .pid_mode
        .is_some_and(|m| m == PidMode::Host || m == PidMode::Task)
    {
        refuse("spec.pidMode".into());
    }
    if spec.ipc_mode.is_some_and(|m| m == IpcMode::Host) {
        refuse("spec.ipcMode".into());
    }
    for (i, d) in spec.container_definitions.iter().flatten().enumerate() {
        let path = format!("spec.containerDefinitions[{i}]");
        if d.privileged == Some(true) {
            refuse(format!("{path}.privileged"));
        }
        if d.readonly_root_filesystem == Some(true) {
            refuse(format!("{path}.readonlyRootFilesystem"));
        }
        if d.linux_parameters.is_some() {
            refuse(format!("{path}.linuxParameters"));
        }
        if d.docker_security_options
            .as_ref()
            .is_some_and(|o| !o.is_empty())
        {
            refuse(format!("{path}.dockerSecurityOptions"));
        }
        if d.system_controls.as_ref().is_some_and(|s| !s.is_empty()) {
            refuse(format!("{path}.systemControls"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_paths_and_named_pipes_are_absolute_on_windows_only() {
        for p in [r"C:\data", "c:/logs", r"\\.\pipe\docker_engine", "/mnt"] {
            assert!(is_absolute(p, true), "{p}");
        }
        assert!(!is_absolute(r"C:\data", false));
        assert!(!is_absolute("data", true));
        assert!(!is_absolute("C:", true));
    }

    #[test]
    fn families_pick_their_build() {
        assert_eq!(build(OSFamily::WindowsServer2019Core), Some("10.0.17763"));
        assert_eq!(build(OSFamily::WindowsServer2022Full), Some("10.0.20348"));
        assert_eq!(build(OSFamily::Linux), None);
    }
}
