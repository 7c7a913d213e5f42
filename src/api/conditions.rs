//! Status vocabulary shared by every kind: kstatus-compatible conditions (`Ready`, `Progressing`,
//! `Stalled`) with `observedGeneration`, and the one place where a condition transitions, so
//! `lastTransitionTime` moves only when the status of a condition flips.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Condition types, as kstatus (Flux, Argo CD, `kubectl wait`) reads them.
pub const READY: &str = "Ready";
/// The resource is moving towards its desired state.
pub const PROGRESSING: &str = "Progressing";
/// The resource cannot make progress without a change by the user.
pub const STALLED: &str = "Stalled";

/// One observation of the resource's state, in the shape of `metav1.Condition`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Condition type: Ready, Progressing or Stalled.
    #[serde(rename = "type")]
    pub type_: String,
    /// "True", "False" or "Unknown".
    pub status: String,
    /// A CamelCase word that says why, for machines.
    #[serde(default)]
    pub reason: String,
    /// A sentence that says why, for people.
    #[serde(default)]
    pub message: String,
    /// The generation of the spec this condition was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// When the status last flipped (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

impl Condition {
    /// A condition whose status is `true`/`false`; the transition time is filled by [`set_condition`].
    pub fn new(type_: &str, status: bool, reason: &str, message: impl Into<String>) -> Self {
        Condition {
            type_: type_.to_string(),
            status: if status { "True" } else { "False" }.to_string(),
            reason: reason.to_string(),
            message: message.into(),
            observed_generation: None,
            last_transition_time: None,
        }
    }

    /// Whether the condition holds.
    pub fn is_true(&self) -> bool {
        self.status == "True"
    }
}

/// Put `new` into `conditions`, keeping the old `lastTransitionTime` unless the status flipped.
/// `now` is injected so callers (and tests) control time.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    mut new: Condition,
    generation: Option<i64>,
    now: &str,
) {
    new.observed_generation = generation;
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        Some(old) => {
            new.last_transition_time = if old.status == new.status {
                old.last_transition_time.clone()
            } else {
                Some(now.to_string())
            };
            *old = new;
        }
        None => {
            new.last_transition_time = Some(now.to_string());
            conditions.push(new);
        }
    }
}

/// Find a condition by type.
pub fn find_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Schema attribute helper: conditions are a list-map keyed by `type`.
pub(crate) fn conditions_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let mut schema = generator.subschema_for::<Vec<Condition>>();
    schema.insert("x-kubernetes-list-type".into(), "map".into());
    schema.insert(
        "x-kubernetes-list-map-keys".into(),
        serde_json::json!(["type"]),
    );
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_time_moves_only_when_status_flips() {
        let mut conditions = Vec::new();
        set_condition(
            &mut conditions,
            Condition::new(READY, false, "Deploying", "x"),
            Some(1),
            "t1",
        );
        set_condition(
            &mut conditions,
            Condition::new(READY, false, "Deploying", "y"),
            Some(2),
            "t2",
        );
        assert_eq!(conditions[0].last_transition_time.as_deref(), Some("t1"));
        assert_eq!(conditions[0].message, "y");
        assert_eq!(conditions[0].observed_generation, Some(2));
        set_condition(
            &mut conditions,
            Condition::new(READY, true, "SteadyState", "z"),
            Some(2),
            "t3",
        );
        assert_eq!(conditions[0].last_transition_time.as_deref(), Some("t3"));
        assert_eq!(conditions.len(), 1);
    }
}
