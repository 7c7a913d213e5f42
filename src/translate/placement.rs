//! Placement: `memberOf` constraints (the cluster query language, see [`super::query`]) as node
//! and pod affinity, `distinctInstance` as pod anti-affinity, and placement strategies as
//! topology spread constraints, a scheduler name, or nothing.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, NodeAffinity, NodeSelector, PodAffinity, PodAffinityTerm, PodAntiAffinity, PodSpec,
    TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

use crate::api::TaskDefinitionSpec;
use crate::api::ecs::{
    PlacementConstraint, PlacementConstraintType, PlacementStrategy, PlacementStrategyType,
    TaskDefinitionPlacementConstraintType,
};

use super::diagnostics::Report;
use super::names;
use super::query;

/// `memberOf` constraints of the task definition itself.
pub fn task_definition_constraints(
    spec: &TaskDefinitionSpec,
    pod: &mut PodSpec,
    report: &mut Report,
) {
    for (i, c) in spec.placement_constraints.iter().flatten().enumerate() {
        let path = format!("spec.placementConstraints[{i}]");
        match c.r#type {
            Some(TaskDefinitionPlacementConstraintType::MemberOf) => {
                member_of(c.expression.as_deref(), &path, pod, report)
            }
            None => report.error(format!("{path}.type"), "is required (memberOf)", None),
        }
    }
}

/// Service or task placement constraints. `own` selects the pods of the same service, for
/// `distinctInstance`.
pub fn constraints(
    list: &[PlacementConstraint],
    base: &str,
    own: &BTreeMap<String, String>,
    pod: &mut PodSpec,
    report: &mut Report,
) {
    for (i, c) in list.iter().enumerate() {
        let path = format!("{base}[{i}]");
        match c.r#type {
            Some(PlacementConstraintType::DistinctInstance) => {
                if c.expression.as_deref().is_some_and(|e| !e.is_empty()) {
                    report.error(
                        format!("{path}.expression"),
                        "distinctInstance takes no expression",
                        None,
                    );
                }
                anti_affinity(pod)
                    .required_during_scheduling_ignored_during_execution
                    .get_or_insert_with(Vec::new)
                    .push(PodAffinityTerm {
                        label_selector: Some(LabelSelector {
                            match_labels: Some(own.clone()),
                            match_expressions: None,
                        }),
                        topology_key: "kubernetes.io/hostname".into(),
                        ..PodAffinityTerm::default()
                    });
            }
            Some(PlacementConstraintType::MemberOf) => {
                member_of(c.expression.as_deref(), &path, pod, report)
            }
            None => report.error(
                format!("{path}.type"),
                "is required: distinctInstance or memberOf",
                None,
            ),
        }
    }
}

fn anti_affinity(pod: &mut PodSpec) -> &mut PodAntiAffinity {
    pod.affinity
        .get_or_insert_with(Affinity::default)
        .pod_anti_affinity
        .get_or_insert_with(PodAntiAffinity::default)
}

fn member_of(expression: Option<&str>, path: &str, pod: &mut PodSpec, report: &mut Report) {
    let Some(expr) = expression.filter(|e| !e.trim().is_empty()) else {
        report.error(
            format!("{path}.expression"),
            "is required for memberOf",
            None,
        );
        return;
    };
    let placement = match query::parse(expr).and_then(|e| query::to_placement(&e)) {
        Ok(p) => p,
        Err(e) => {
            report.error(
                format!("{path}.expression"),
                format!("{e} in '{expr}'"),
                None,
            );
            return;
        }
    };
    if !placement.node_selector_terms.is_empty() {
        let affinity = pod.affinity.get_or_insert_with(Affinity::default);
        let node = affinity
            .node_affinity
            .get_or_insert_with(NodeAffinity::default);
        let selector = node
            .required_during_scheduling_ignored_during_execution
            .get_or_insert_with(|| NodeSelector {
                node_selector_terms: Vec::new(),
            });
        if selector.node_selector_terms.is_empty() {
            selector.node_selector_terms = placement.node_selector_terms;
        } else {
            // Several constraints must all hold: AND them by crossing the OR-ed terms.
            let mut crossed = Vec::new();
            for a in &selector.node_selector_terms {
                for b in &placement.node_selector_terms {
                    let mut t = a.clone();
                    t.match_expressions
                        .get_or_insert_with(Vec::new)
                        .extend(b.match_expressions.clone().unwrap_or_default());
                    crossed.push(t);
                }
            }
            selector.node_selector_terms = crossed;
        }
    }
    let group_term = |group: &str| PodAffinityTerm {
        label_selector: Some(LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: names::GROUP.into(),
                operator: "In".into(),
                values: Some(vec![names::label_value(group)]),
            }]),
            match_labels: None,
        }),
        topology_key: "kubernetes.io/hostname".into(),
        ..PodAffinityTerm::default()
    };
    for g in &placement.pod_affinity_groups {
        pod.affinity
            .get_or_insert_with(Affinity::default)
            .pod_affinity
            .get_or_insert_with(PodAffinity::default)
            .required_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(group_term(g));
    }
    for g in &placement.pod_anti_affinity_groups {
        anti_affinity(pod)
            .required_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(group_term(g));
    }
}

/// Placement strategies. `binpack_scheduler` is the scheduler to use for binpack, if any.
pub fn strategies(
    list: &[PlacementStrategy],
    base: &str,
    own: &BTreeMap<String, String>,
    binpack_scheduler: Option<&str>,
    pod: &mut PodSpec,
    report: &mut Report,
) {
    for (i, s) in list.iter().enumerate() {
        let path = format!("{base}[{i}]");
        match s.r#type {
            Some(PlacementStrategyType::Spread) => {
                let field = s.field.as_deref().unwrap_or("instanceId");
                let key = match field {
                    "instanceId" | "host" => "kubernetes.io/hostname".to_string(),
                    f => match f.strip_prefix("attribute:") {
                        Some(attr) => query::node_label(attr),
                        None => {
                            report.error(format!("{path}.field"), format!("'{f}' is not instanceId, host or attribute:NAME"), None);
                            continue;
                        }
                    },
                };
                let constraints = pod.topology_spread_constraints.get_or_insert_with(Vec::new);
                if !constraints.iter().any(|c| c.topology_key == key) {
                    constraints.push(TopologySpreadConstraint {
                        max_skew: 1,
                        topology_key: key,
                        // ECS strategies are best effort, never a reason not to place a task.
                        when_unsatisfiable: "ScheduleAnyway".into(),
                        label_selector: Some(LabelSelector { match_labels: Some(own.clone()), match_expressions: None }),
                        ..TopologySpreadConstraint::default()
                    });
                }
            }
            Some(PlacementStrategyType::Binpack) => match binpack_scheduler {
                Some(name) => pod.scheduler_name = Some(name.to_string()),
                None => report.warn(
                    path,
                    "binpack needs a scheduler that scores MostAllocated; set spec.kubernetes.binpackSchedulerName, otherwise the default scheduler spreads",
                ),
            },
            Some(PlacementStrategyType::Random) => {}
            None => report.error(format!("{path}.type"), "is required: spread, binpack or random", None),
        }
    }
}
