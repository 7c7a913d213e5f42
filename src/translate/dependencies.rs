//! Container ordering (`dependsOn`) on Kubernetes: a START target is a main container started
//! before its dependents; a HEALTHY target (or a START target an init container needs) a
//! native sidecar (init container with `restartPolicy: Always`); a COMPLETE/SUCCESS target
//! an ordinary init container — all in a
//! topological order. Unknown names and cycles are errors; where Kubernetes orders more
//! strictly than ECS (every main container waits, not only the dependent), a warning.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::ecs::{ContainerCondition, ContainerDefinition};

use super::diagnostics::Report;

/// How a container runs in the pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// An ordinary container.
    Main,
    /// A native sidecar: started (and, for HEALTHY, healthy) before later containers.
    Sidecar { needs_healthy: bool },
    /// Runs to completion before later containers start.
    Init,
}

/// The role of every container (by index) and the order of the non-main ones.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ordering {
    pub roles: Vec<Role>,
    pub init_order: Vec<usize>,
    /// The main containers, dependencies first (the kubelet starts them in this order).
    pub main_order: Vec<usize>,
}

/// Plan the ordering of `containers`, recording problems under `base`
/// (`spec.containerDefinitions`).
pub fn plan(containers: &[ContainerDefinition], base: &str, report: &mut Report) -> Ordering {
    let index: BTreeMap<&str, usize> = containers
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.name.as_deref().map(|n| (n, i)))
        .collect();
    let mut roles = vec![Role::Main; containers.len()];
    // What each dependency is needed for: completion, or start/health.
    let mut completes: BTreeSet<usize> = BTreeSet::new();
    let mut starts: BTreeMap<usize, bool> = BTreeMap::new();
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); containers.len()];

    for (i, c) in containers.iter().enumerate() {
        for (j, dep) in c.depends_on.iter().flatten().enumerate() {
            let path = format!("{base}[{i}].dependsOn[{j}]");
            let Some(name) = dep.container_name.as_deref().filter(|n| !n.is_empty()) else {
                report.error(format!("{path}.containerName"), "is required", None);
                continue;
            };
            let Some(&target) = index.get(name) else {
                let known: Vec<&str> = index.keys().copied().collect();
                report.error(
                    format!("{path}.containerName"),
                    format!("names no container of this task definition: '{name}'"),
                    Some(format!("use one of: {}", known.join(", "))),
                );
                continue;
            };
            if target == i {
                report.error(
                    format!("{path}.containerName"),
                    "a container cannot depend on itself",
                    None,
                );
                continue;
            }
            let Some(condition) = dep.condition else {
                report.error(
                    format!("{path}.condition"),
                    "is required: START, COMPLETE, SUCCESS or HEALTHY",
                    None,
                );
                continue;
            };
            edges[i].push(target);
            let target_def = &containers[target];
            match condition {
                ContainerCondition::Start => {
                    starts.entry(target).or_insert(false);
                }
                ContainerCondition::Healthy => {
                    if target_def.health_check.is_none() {
                        report.error(
                            format!("{path}.condition"),
                            format!("HEALTHY needs a healthCheck on container '{name}'"),
                            Some(format!("add a healthCheck to '{name}' or use START")),
                        );
                    }
                    starts.insert(target, true);
                }
                ContainerCondition::Complete | ContainerCondition::Success => {
                    if target_def.essential.unwrap_or(true) {
                        report.error(
                            format!("{path}.condition"),
                            format!(
                                "{} cannot be set on an essential container ('{name}')",
                                condition.as_str()
                            ),
                            Some(format!("set \"essential\": false on '{name}'")),
                        );
                    }
                    if condition == ContainerCondition::Complete {
                        report.warn(
                            format!("{path}.condition"),
                            "COMPLETE becomes an init container, which Kubernetes requires to exit 0: a non-zero exit blocks the task like SUCCESS",
                        );
                    }
                    completes.insert(target);
                }
            }
        }
    }
    for (&target, &healthy) in &starts {
        if completes.contains(&target) {
            // ContainerDependency (ECS API model) accepts a container that is both a START (or
            // HEALTHY) and a COMPLETE/SUCCESS target. As an init container it has started —
            // and finished — before anything after it starts, so START holds (later than in
            // ECS); HEALTHY cannot be checked on a container that must exit first.
            let name = containers[target].name.as_deref().unwrap_or_default();
            report.warn(
                format!("{base}[{target}].name"),
                if healthy {
                    format!("container '{name}' is a dependency both to complete and to be HEALTHY: it runs to completion first (an init container), so its health check is not evaluated and HEALTHY dependents wait for it to exit")
                } else {
                    format!("container '{name}' is a dependency both to complete and to START: it runs to completion first (an init container), so its START dependents wait for it to exit, not only to start")
                },
            );
        } else if healthy {
            roles[target] = Role::Sidecar {
                needs_healthy: true,
            };
        }
    }
    for &target in &completes {
        roles[target] = Role::Init;
    }
    promote_start_targets(&starts, &edges, &mut roles);
    wider_waits(containers, &roles, &edges, base, report);

    // Kahn's algorithm: dependencies before dependents, ties in definition order.
    let mut remaining: Vec<usize> = edges.iter().map(Vec::len).collect();
    let mut done = vec![false; containers.len()];
    let mut order = Vec::with_capacity(containers.len());
    while let Some(next) = (0..containers.len()).find(|&i| !done[i] && remaining[i] == 0) {
        done[next] = true;
        order.push(next);
        for (i, deps) in edges.iter().enumerate() {
            remaining[i] -= deps.iter().filter(|&&d| d == next).count();
        }
    }
    if order.len() < containers.len() {
        let cycle: Vec<&str> = (0..containers.len())
            .filter(|&i| !done[i])
            .map(|i| containers[i].name.as_deref().unwrap_or("?"))
            .collect();
        let first = (0..containers.len()).find(|&i| !done[i]).unwrap_or(0);
        // Point at the first dependency that stays inside the cycle.
        let edge = containers[first]
            .depends_on
            .iter()
            .flatten()
            .position(|d| {
                d.container_name
                    .as_deref()
                    .and_then(|n| index.get(n))
                    .is_some_and(|&t| !done[t])
            })
            .unwrap_or(0);
        report.error(
            format!("{base}[{first}].dependsOn[{edge}].containerName"),
            format!(
                "dependsOn forms a cycle among containers: {}",
                cycle.join(", ")
            ),
            Some("remove one of the dependencies so the order is well-defined".to_string()),
        );
    }
    let init_order = order
        .iter()
        .copied()
        .filter(|&i| roles[i] != Role::Main)
        .collect();
    // Containers left out by a cycle (an error) keep definition order after the others.
    let mut main_order: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&i| roles[i] == Role::Main)
        .collect();
    main_order
        .extend((0..containers.len()).filter(|i| roles[*i] == Role::Main && !order.contains(i)));
    Ordering {
        roles,
        init_order,
        main_order,
    }
}

/// ContainerDependency (ECS API model): START only needs the dependency to have started. The
/// kubelet starts a pod's main containers one after the other in spec order, so a START target
/// stays a main container, placed before its dependents: it is not restarted when it exits
/// (in a Task pod) and its exit counts like any main container's (an essential one stops the
/// task), unlike a native sidecar, which always restarts. Only a START target that an init
/// container or sidecar depends on must run before them, as a sidecar.
fn promote_start_targets(starts: &BTreeMap<usize, bool>, edges: &[Vec<usize>], roles: &mut [Role]) {
    loop {
        let mut changed = false;
        for i in 0..roles.len() {
            if roles[i] == Role::Main {
                continue;
            }
            for &d in &edges[i] {
                if roles[d] == Role::Main && starts.contains_key(&d) {
                    roles[d] = Role::Sidecar {
                        needs_healthy: false,
                    };
                    changed = true;
                }
            }
        }
        if !changed {
            return;
        }
    }
}

/// ContainerDependency (ECS API model): only the dependent container waits. On Kubernetes
/// every main container starts after all init containers (and started sidecars), so main
/// containers that do not depend on one wait too: said case by case.
fn wider_waits(
    containers: &[ContainerDefinition],
    roles: &[Role],
    edges: &[Vec<usize>],
    base: &str,
    report: &mut Report,
) {
    for (target, role) in roles.iter().enumerate() {
        if *role == Role::Main {
            continue;
        }
        let waiting: Vec<&str> = (0..containers.len())
            .filter(|&i| roles[i] == Role::Main && !depends_on(i, target, edges))
            .map(|i| containers[i].name.as_deref().unwrap_or("?"))
            .collect();
        if waiting.is_empty() {
            continue;
        }
        let name = containers[target].name.as_deref().unwrap_or_default();
        let why = match role {
            Role::Init => "has exited",
            _ => "has started",
        };
        report.warn(
            format!("{base}[{target}].name"),
            format!("'{}' also wait until '{name}' {why}: Kubernetes starts main containers after every init container and sidecar, while in ECS only its dependents wait", waiting.join("', '")),
        );
    }
}

/// Whether container `from` depends on `to`, directly or through others.
fn depends_on(from: usize, to: usize, edges: &[Vec<usize>]) -> bool {
    let mut seen = vec![false; edges.len()];
    let mut stack = vec![from];
    while let Some(i) = stack.pop() {
        for &d in &edges[i] {
            if d == to {
                return true;
            }
            if !seen[d] {
                seen[d] = true;
                stack.push(d);
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ecs::{ContainerDependency, HealthCheck};

    fn c(name: &str, deps: &[(&str, ContainerCondition)]) -> ContainerDefinition {
        ContainerDefinition {
            name: Some(name.into()),
            depends_on: Some(
                deps.iter()
                    .map(|(n, cond)| ContainerDependency {
                        container_name: Some(n.to_string()),
                        condition: Some(*cond),
                    })
                    .collect(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn healthy_sidecar_and_success_init_are_ordered() {
        let mut envoy = c("envoy", &[]);
        envoy.health_check = Some(HealthCheck {
            command: Some(vec!["CMD".into(), "x".into()]),
            ..Default::default()
        });
        let mut migrate = c("migrate", &[]);
        migrate.essential = Some(false);
        let app = c(
            "app",
            &[
                ("envoy", ContainerCondition::Healthy),
                ("migrate", ContainerCondition::Success),
            ],
        );
        let mut r = Report::default();
        let o = plan(&[app, envoy, migrate], "spec.containerDefinitions", &mut r);
        assert!(r.is_ok(), "{:?}", r.errors);
        assert_eq!(
            o.roles,
            vec![
                Role::Main,
                Role::Sidecar {
                    needs_healthy: true
                },
                Role::Init
            ]
        );
        assert_eq!(o.init_order, vec![1, 2]);
    }

    /// ContainerDependency (ECS API model): a container may be both a START and a SUCCESS
    /// target; it becomes an init container, with a warning, never a refusal. Main containers
    /// that do not depend on an init container are told they wait for it too.
    #[test]
    fn start_and_success_target_is_an_init_container_and_wider_waits_are_warned() {
        let mut setup = c("setup", &[]);
        setup.essential = Some(false);
        let app = c(
            "app",
            &[
                ("setup", ContainerCondition::Start),
                ("setup", ContainerCondition::Success),
            ],
        );
        let other = c("other", &[]);
        let mut r = Report::default();
        let o = plan(&[app, setup, other], "s", &mut r);
        assert!(r.is_ok(), "{:?}", r.errors);
        assert_eq!(o.roles[1], Role::Init);
        assert!(
            r.warnings
                .iter()
                .any(|w| w.message.contains("both to complete and to START"))
        );
        assert!(
            r.warnings
                .iter()
                .any(|w| w.path == "s[1].name" && w.message.contains("'other' also wait")),
            "{:?}",
            r.warnings
        );
        assert!(!r.warnings.iter().any(|w| w.message.contains("'app' also")));
    }

    /// ContainerDependency (ECS API model): START needs the dependency started, nothing more:
    /// a main container ordered before its dependent; a sidecar only when an init container needs it.
    #[test]
    fn start_targets_are_main_containers_started_first() {
        let app = c("app", &[("agent", ContainerCondition::Start)]);
        let agent = c("agent", &[]);
        let mut r = Report::default();
        let o = plan(&[app.clone(), agent.clone()], "s", &mut r);
        assert_eq!(o.roles, vec![Role::Main, Role::Main]);
        assert_eq!(o.main_order, vec![1, 0]);
        let mut migrate = c("migrate", &[("agent", ContainerCondition::Start)]);
        migrate.essential = Some(false);
        let app = c(
            "app",
            &[
                ("agent", ContainerCondition::Start),
                ("migrate", ContainerCondition::Success),
            ],
        );
        let o = plan(&[app, agent, migrate], "s", &mut r);
        assert_eq!(
            o.roles[1],
            Role::Sidecar {
                needs_healthy: false
            }
        );
        assert_eq!(o.init_order, vec![1, 2]);
    }

    #[test]
    fn unknown_names_cycles_and_essential_completion_are_errors() {
        let mut r = Report::default();
        plan(
            &[c("a", &[("nope", ContainerCondition::Start)])],
            "s",
            &mut r,
        );
        assert_eq!(r.errors[0].path, "s[0].dependsOn[0].containerName");

        let mut r = Report::default();
        plan(
            &[
                c("a", &[("b", ContainerCondition::Start)]),
                c("b", &[("a", ContainerCondition::Start)]),
            ],
            "s",
            &mut r,
        );
        assert!(
            r.errors.iter().any(|e| e.message.contains("cycle")),
            "{:?}",
            r.errors
        );

        let mut r = Report::default();
        plan(
            &[c("a", &[("b", ContainerCondition::Success)]), c("b", &[])],
            "s",
            &mut r,
        );
        assert!(r.errors[0].message.contains("essential"));

        let mut r = Report::default();
        plan(
            &[c("a", &[("b", ContainerCondition::Healthy)]), c("b", &[])],
            "s",
            &mut r,
        );
        assert!(r.errors[0].message.contains("healthCheck"));
    }
}
