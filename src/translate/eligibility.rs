//! Which nodes a pod template may run on, from node labels alone: the count of eligible nodes
//! is a DAEMON service's task count N, from which its deployment bounds are ECS's integers
//! (DeploymentConfiguration, ECS API model; `service::Observed::daemon_nodes`). Pure: the
//! Service controller feeds it the labels of the nodes in its cache and re-renders as nodes
//! come and go. Taints are not seen (the node cache keeps metadata only): a node whose taint
//! the pods do not tolerate is still counted, which can let the DaemonSet stop more tasks than
//! ECS would; exclude such nodes (e.g. by a label the pool sets) before counting.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, PodSpec};

/// How many of `nodes` (their labels) the pod's nodeSelector and required node affinity admit.
pub fn eligible_nodes<'a>(
    nodes: impl IntoIterator<Item = &'a BTreeMap<String, String>>,
    pod: &PodSpec,
) -> i32 {
    nodes
        .into_iter()
        .filter(|labels| admits(pod, labels))
        .count() as i32
}

/// Whether a node with `labels` satisfies the pod's nodeSelector and required node affinity.
pub fn admits(pod: &PodSpec, labels: &BTreeMap<String, String>) -> bool {
    let selector_ok = pod
        .node_selector
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let terms = pod
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .map(|r| r.node_selector_terms.as_slice())
        .unwrap_or_default();
    // Terms are ORed, the expressions of a term ANDed; no terms: no constraint.
    let affinity_ok = terms.is_empty()
        || terms.iter().any(|t| {
            t.match_expressions
                .iter()
                .flatten()
                .all(|e| matches(e, labels))
        });
    selector_ok && affinity_ok
}

fn matches(e: &NodeSelectorRequirement, labels: &BTreeMap<String, String>) -> bool {
    let value = labels.get(&e.key);
    let values = e.values.as_deref().unwrap_or_default();
    let number = |s: &str| s.parse::<i64>().ok();
    match e.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" => value
            .and_then(|v| number(v))
            .zip(values.first().and_then(|b| number(b)))
            .is_some_and(|(v, b)| v > b),
        "Lt" => value
            .and_then(|v| number(v))
            .zip(values.first().and_then(|b| number(b)))
            .is_some_and(|(v, b)| v < b),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Affinity, NodeAffinity, NodeSelector, NodeSelectorTerm};

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn node_selector_and_required_affinity_pick_the_nodes() {
        let pod = PodSpec {
            node_selector: Some(labels(&[("kubernetes.io/os", "linux")])),
            affinity: Some(Affinity {
                node_affinity: Some(NodeAffinity {
                    required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                        node_selector_terms: vec![NodeSelectorTerm {
                            match_expressions: Some(vec![NodeSelectorRequirement {
                                key: "topology.kubernetes.io/zone".into(),
                                operator: "In".into(),
                                values: Some(vec!["a".into(), "b".into()]),
                            }]),
                            match_fields: None,
                        }],
                    }),
                    ..NodeAffinity::default()
                }),
                ..Affinity::default()
            }),
            ..PodSpec::default()
        };
        let nodes = [
            labels(&[
                ("kubernetes.io/os", "linux"),
                ("topology.kubernetes.io/zone", "a"),
            ]),
            labels(&[
                ("kubernetes.io/os", "linux"),
                ("topology.kubernetes.io/zone", "c"),
            ]),
            labels(&[
                ("kubernetes.io/os", "windows"),
                ("topology.kubernetes.io/zone", "b"),
            ]),
            labels(&[
                ("kubernetes.io/os", "linux"),
                ("topology.kubernetes.io/zone", "b"),
            ]),
        ];
        assert_eq!(eligible_nodes(&nodes, &pod), 2);
        assert_eq!(eligible_nodes(&nodes, &PodSpec::default()), 4);
    }
}
