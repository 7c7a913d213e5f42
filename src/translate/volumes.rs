//! ECS `volumes`, `mountPoints` and `volumesFrom` to pod volumes and mounts: host paths (policy
//! gated), emptyDirs, shared Docker volumes as PVCs, EFS as a static PV + PVC for the EFS CSI
//! driver, `configuredAtLaunch` as generic ephemeral volumes.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    CSIPersistentVolumeSource, EmptyDirVolumeSource, EphemeralVolumeSource, HostPathVolumeSource,
    PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimTemplate, PersistentVolumeClaimVolumeSource, PersistentVolumeSpec, Volume,
    VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::api::ecs::{
    ContainerDefinition, DockerVolumeConfiguration, EFSTransitEncryption, Scope,
};

use super::diagnostics::Report;
use super::names::{dns_label, sanitize, short_hash};
use super::{Context, TaskDefinitionRef};

/// The pod volumes, every container's mounts, and the storage objects the family needs.
#[derive(Clone, Debug, Default)]
pub struct VolumePlan {
    pub volumes: Vec<Volume>,
    /// Mounts per container index (after `volumesFrom`).
    pub mounts: Vec<Vec<VolumeMount>>,
    pub persistent_volumes: Vec<PersistentVolume>,
    pub claims: Vec<PersistentVolumeClaim>,
}

/// Plan volumes and mounts for a task definition.
pub fn plan(td: &TaskDefinitionRef, ctx: &Context, report: &mut Report) -> VolumePlan {
    let spec = &td.spec;
    let mut out = VolumePlan::default();
    let mut names: BTreeMap<String, String> = BTreeMap::new(); // ECS name -> pod volume name
    for (i, v) in spec.volumes.iter().flatten().enumerate() {
        let path = format!("spec.volumes[{i}]");
        let Some(ecs_name) = v.name.as_deref().filter(|n| !n.is_empty()) else {
            report.error(format!("{path}.name"), "is required", None);
            continue;
        };
        let pod_name = dns_label(ecs_name);
        if names.values().any(|n| n == &pod_name) {
            report.error(
                format!("{path}.name"),
                format!("volume '{ecs_name}' is defined twice"),
                None,
            );
            continue;
        }
        names.insert(ecs_name.to_string(), pod_name.clone());
        let mut volume = Volume {
            name: pod_name.clone(),
            ..Volume::default()
        };
        if let Some(efs) = &v.efs_volume_configuration {
            let Some(fs) = efs.file_system_id.as_deref().filter(|s| !s.is_empty()) else {
                report.error(
                    format!("{path}.efsVolumeConfiguration.fileSystemId"),
                    "is required",
                    None,
                );
                continue;
            };
            let root = efs.root_directory.as_deref().unwrap_or("/");
            let access_point = efs
                .authorization_config
                .as_ref()
                .and_then(|a| a.access_point_id.clone());
            if access_point.is_some() && root != "/" {
                report.error(
                    format!("{path}.efsVolumeConfiguration.rootDirectory"),
                    "must be omitted or \"/\" when an access point is used (as in ECS)",
                    None,
                );
            }
            // efs.csi.aws.com volume handle: fileSystemId:subpath:accessPointId.
            let subpath = if root == "/" { "" } else { root };
            let handle = format!(
                "{fs}:{subpath}:{}",
                access_point.clone().unwrap_or_default()
            );
            let handle = handle.trim_end_matches(':').to_string();
            let namespace = td.namespace.clone().unwrap_or_default();
            let pv_name = sanitize(
                &format!(
                    "ecs-{namespace}-{}-{ecs_name}-{}",
                    td.family,
                    short_hash(&handle)
                ),
                253,
            );
            let claim_name = sanitize(&format!("{}-{ecs_name}", td.family), 253);
            let mut attributes = BTreeMap::new();
            if efs.transit_encryption == Some(EFSTransitEncryption::Enabled) {
                attributes.insert("encryptInTransit".to_string(), "true".to_string());
            }
            let mut mount_options = Vec::new();
            if let Some(port) = efs.transit_encryption_port {
                mount_options.push(format!("tlsport={port}"));
            }
            if efs.authorization_config.as_ref().and_then(|a| a.iam)
                == Some(crate::api::ecs::EFSAuthorizationConfigIAM::Enabled)
            {
                mount_options.push("iam".to_string());
                mount_options.push("tls".to_string());
            }
            let labels = ctx.labels.clone();
            out.persistent_volumes.push(PersistentVolume {
                metadata: ObjectMeta {
                    name: Some(pv_name.clone()),
                    labels: Some(labels.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(PersistentVolumeSpec {
                    capacity: Some(BTreeMap::from([(
                        "storage".to_string(),
                        Quantity("5Gi".into()),
                    )])),
                    access_modes: Some(vec!["ReadWriteMany".into()]),
                    persistent_volume_reclaim_policy: Some("Retain".into()),
                    storage_class_name: Some(String::new()),
                    mount_options: (!mount_options.is_empty()).then_some(mount_options),
                    csi: Some(CSIPersistentVolumeSource {
                        driver: "efs.csi.aws.com".into(),
                        volume_handle: handle,
                        volume_attributes: (!attributes.is_empty()).then_some(attributes),
                        ..CSIPersistentVolumeSource::default()
                    }),
                    ..PersistentVolumeSpec::default()
                }),
                ..PersistentVolume::default()
            });
            out.claims.push(claim(
                &claim_name,
                td,
                &labels,
                Some(pv_name),
                Some(String::new()),
                "ReadWriteMany",
                "5Gi",
            ));
            volume.persistent_volume_claim = Some(PersistentVolumeClaimVolumeSource {
                claim_name,
                read_only: None,
            });
        } else if let Some(host) = &v.host {
            match host.source_path.as_deref().filter(|p| !p.is_empty()) {
                Some(source) => {
                    if !ctx.policy.allow_host_path {
                        report.error(
                            format!("{path}.host.sourcePath"),
                            ctx.policy.refused("host-path volumes", "hostPath"),
                            Some("use a volume without sourcePath (an emptyDir), EFS, or ask an administrator to allow host paths".to_string()),
                        );
                    }
                    volume.host_path = Some(HostPathVolumeSource {
                        path: source.to_string(),
                        type_: None,
                    });
                }
                None => volume.empty_dir = Some(EmptyDirVolumeSource::default()),
            }
        } else if let Some(docker) = &v.docker_volume_configuration {
            let dpath = format!("{path}.dockerVolumeConfiguration");
            if docker.scope == Some(Scope::Shared) {
                shared_docker_volume(
                    td,
                    ctx,
                    ecs_name,
                    docker,
                    &dpath,
                    &mut volume,
                    &mut out,
                    report,
                );
            } else {
                volume.empty_dir = Some(EmptyDirVolumeSource::default());
            }
        } else if v.fsx_windows_file_server_volume_configuration.is_some()
            || v.s3files_volume_configuration.is_some()
        {
            // Rejected by the field-fate table; nothing to mount.
            continue;
        } else if v.configured_at_launch == Some(true) {
            let class = ctx.pod_settings.and_then(|s| s.storage_class_name.clone());
            let size = ctx.launch_volume_size(ecs_name).unwrap_or(1);
            volume.ephemeral = Some(EphemeralVolumeSource {
                volume_claim_template: Some(PersistentVolumeClaimTemplate {
                    metadata: Some(ObjectMeta {
                        labels: Some(ctx.labels.clone()),
                        ..ObjectMeta::default()
                    }),
                    spec: PersistentVolumeClaimSpec {
                        access_modes: Some(vec!["ReadWriteOnce".into()]),
                        storage_class_name: class,
                        resources: Some(storage_request(&format!("{size}Gi"))),
                        ..PersistentVolumeClaimSpec::default()
                    },
                }),
            });
        } else {
            volume.empty_dir = Some(EmptyDirVolumeSource::default());
        }
        out.volumes.push(volume);
    }

    let containers = spec.container_definitions.as_deref().unwrap_or_default();
    out.mounts = containers
        .iter()
        .enumerate()
        .map(|(i, c)| own_mounts(c, i, &names, ctx.windows, report))
        .collect();
    // volumesFrom copies the source container's mounts (after its own, once, in order).
    let by_name: BTreeMap<&str, usize> = containers
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.name.as_deref().map(|n| (n, i)))
        .collect();
    let own = out.mounts.clone();
    for (i, c) in containers.iter().enumerate() {
        for (j, from) in c.volumes_from.iter().flatten().enumerate() {
            let path = format!("spec.containerDefinitions[{i}].volumesFrom[{j}].sourceContainer");
            let Some(&src) = from
                .source_container
                .as_deref()
                .and_then(|n| by_name.get(n))
            else {
                report.error(
                    path,
                    format!(
                        "names no container: '{}'",
                        from.source_container.as_deref().unwrap_or("")
                    ),
                    None,
                );
                continue;
            };
            for m in &own[src] {
                if out.mounts[i].iter().any(|x| x.mount_path == m.mount_path) {
                    continue;
                }
                let mut m = m.clone();
                if from.read_only == Some(true) {
                    m.read_only = Some(true);
                }
                out.mounts[i].push(m);
            }
        }
    }
    out
}

/// Where shared Docker volumes live on a node when host paths are allowed.
pub const SHARED_VOLUME_ROOT: &str = "/var/lib/ecs-operator/volumes";

/// A `scope: shared` Docker volume. DockerVolumeConfiguration.scope (ECS API model): a shared
/// volume "persists after the task stops"; with Docker's `local` driver it lives on the
/// container instance, so tasks on one instance share it and tasks on another have their own.
/// One ReadWriteOnce claim for every replica breaks as soon as two replicas land on different
/// nodes, so:
/// - `autoprovision: false`: the existing claim of that name (as ECS expects the volume to exist);
/// - local driver and host paths allowed: a per-node directory (hostPath DirectoryOrCreate),
///   exactly ECS's per-instance volume;
/// - otherwise: one ReadWriteMany claim every replica can mount from any node (a warning: it
///   needs a StorageClass that supports ReadWriteMany, and it is one volume, not one per node).
#[allow(clippy::too_many_arguments)]
fn shared_docker_volume(
    td: &TaskDefinitionRef,
    ctx: &Context,
    ecs_name: &str,
    docker: &DockerVolumeConfiguration,
    dpath: &str,
    volume: &mut Volume,
    out: &mut VolumePlan,
    report: &mut Report,
) {
    let claim_name = sanitize(&format!("{}-{ecs_name}", td.family), 253);
    let local = docker
        .driver
        .as_deref()
        .is_none_or(|d| d.is_empty() || d == "local");
    if docker.autoprovision == Some(false) {
        report.warn(
            format!("{dpath}.autoprovision"),
            format!("false: the PersistentVolumeClaim '{claim_name}' must already exist (ReadWriteMany when replicas may run on several nodes)"),
        );
    } else if local && ctx.policy.allow_host_path {
        let namespace = td.namespace.as_deref().unwrap_or("default");
        volume.host_path = Some(HostPathVolumeSource {
            path: format!("{SHARED_VOLUME_ROOT}/{namespace}/{}", dns_label(ecs_name)),
            type_: Some("DirectoryOrCreate".into()),
        });
        return;
    } else {
        report.warn(
            format!("{dpath}.scope"),
            format!("shared: ECS keeps one such volume per container instance; here the PersistentVolumeClaim '{claim_name}' (ReadWriteMany, so replicas on different nodes can mount it) is one volume for all tasks, and its StorageClass must support ReadWriteMany (with host paths allowed, a local-driver volume is a per-node directory instead, as in ECS)"),
        );
        let class = ctx.pod_settings.and_then(|s| s.storage_class_name.clone());
        let mut labels = ctx.labels.clone();
        for (k, v) in docker.labels.iter().flatten() {
            if super::names::is_label_key(k) && super::names::is_label_value(v) {
                labels.insert(k.clone(), v.clone());
            }
        }
        out.claims.push(claim(
            &claim_name,
            td,
            &labels,
            None,
            class,
            "ReadWriteMany",
            "1Gi",
        ));
    }
    volume.persistent_volume_claim = Some(PersistentVolumeClaimVolumeSource {
        claim_name,
        read_only: None,
    });
}

fn own_mounts(
    c: &ContainerDefinition,
    i: usize,
    names: &BTreeMap<String, String>,
    windows: bool,
    report: &mut Report,
) -> Vec<VolumeMount> {
    let mut mounts = Vec::new();
    for (j, m) in c.mount_points.iter().flatten().enumerate() {
        let path = format!("spec.containerDefinitions[{i}].mountPoints[{j}]");
        let Some(source) = m.source_volume.as_deref() else {
            report.error(format!("{path}.sourceVolume"), "is required", None);
            continue;
        };
        let Some(volume) = names.get(source) else {
            report.error(
                format!("{path}.sourceVolume"),
                format!("names no volume of this task definition: '{source}'"),
                Some("add it to spec.volumes".to_string()),
            );
            continue;
        };
        let Some(container_path) = m
            .container_path
            .as_deref()
            .filter(|p| super::windows::is_absolute(p, windows))
        else {
            report.error(
                format!("{path}.containerPath"),
                if windows {
                    "must be an absolute path (C:\\... or a named pipe \\\\.\\pipe\\...)"
                } else {
                    "must be an absolute path"
                },
                None,
            );
            continue;
        };
        mounts.push(VolumeMount {
            name: volume.clone(),
            mount_path: container_path.to_string(),
            read_only: m.read_only.filter(|r| *r),
            ..VolumeMount::default()
        });
    }
    mounts
}

fn storage_request(size: &str) -> VolumeResourceRequirements {
    VolumeResourceRequirements {
        requests: Some(BTreeMap::from([(
            "storage".to_string(),
            Quantity(size.to_string()),
        )])),
        ..VolumeResourceRequirements::default()
    }
}

fn claim(
    name: &str,
    td: &TaskDefinitionRef,
    labels: &BTreeMap<String, String>,
    volume_name: Option<String>,
    storage_class: Option<String>,
    mode: &str,
    size: &str,
) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: td.namespace.clone(),
            labels: Some(labels.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec![mode.to_string()]),
            storage_class_name: storage_class,
            volume_name,
            resources: Some(storage_request(size)),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    }
}
