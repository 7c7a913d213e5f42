//! The field-fate table (`field_fates.tsv`): what happens to every member of every ECS shape
//! the custom resources accept — mapped, warned, rejected, read-only, or covered by its parent —
//! and the walk that turns a spec into the warnings and errors the table prescribes, so no
//! field is ever silently dropped.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;

use crate::api::ecs::model::{Kind, SHAPES};

use super::diagnostics::Report;

/// The table, as committed.
pub const TABLE: &str = include_str!("field_fates.tsv");

/// What happens to a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Has a Kubernetes effect (the translator handles it).
    Mapped,
    /// Accepted without a Kubernetes effect: a warning.
    Warned,
    /// Refused: an error.
    Rejected,
    /// Read-only output accepted and ignored: a warning.
    ReadOnly,
    /// Covered by the fate of the member that holds it.
    Parent,
    /// Acts through the operator's controllers (rollouts, status), not on rendered objects.
    Operator,
    /// Checked against the rest of the spec (an error when inconsistent); no field of its own.
    Validated,
}

/// One row of the table.
#[derive(Clone, Debug)]
pub struct Row {
    pub member: String,
    pub fate: Fate,
    pub note: String,
}

/// The parsed table, by `Shape.member`.
pub fn table() -> &'static BTreeMap<String, Row> {
    static TABLE_ROWS: OnceLock<BTreeMap<String, Row>> = OnceLock::new();
    TABLE_ROWS.get_or_init(|| {
        parse(TABLE).unwrap_or_else(|e| panic!("field_fates.tsv is malformed: {e}"))
    })
}

/// Parse the table text.
pub fn parse(text: &str) -> Result<BTreeMap<String, Row>, String> {
    let mut rows = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut cols = line.splitn(3, '\t');
        let member = cols.next().unwrap_or_default().trim().to_string();
        let fate = match cols.next().map(str::trim) {
            Some("mapped") => Fate::Mapped,
            Some("warned") => Fate::Warned,
            Some("rejected") => Fate::Rejected,
            Some("readonly") => Fate::ReadOnly,
            Some("parent") => Fate::Parent,
            Some("operator") => Fate::Operator,
            Some("validated") => Fate::Validated,
            other => return Err(format!("line {}: unknown fate {other:?}", n + 1)),
        };
        let note = cols.next().unwrap_or_default().trim().to_string();
        if rows
            .insert(member.clone(), Row { member, fate, note })
            .is_some()
        {
            return Err(format!("line {}: duplicate row", n + 1));
        }
    }
    Ok(rows)
}

fn members(shape: &str) -> Option<&'static [crate::api::ecs::model::Member]> {
    SHAPES.iter().find(|(s, _)| *s == shape).map(|(_, m)| *m)
}

/// Nested shapes of the hand-written autoscaling block (camelCase, not in the ECS model).
fn autoscaling_kind(shape: &str, member: &str) -> Kind {
    match (shape, member) {
        ("Autoscaling", "suspendedState") => Kind::Struct("SuspendedState"),
        ("Autoscaling", "targetTrackingScalingPolicies") => {
            Kind::ListOf("TargetTrackingScalingPolicy")
        }
        ("Autoscaling", "stepScalingPolicies") => Kind::ListOf("StepScalingPolicy"),
        ("TargetTrackingScalingPolicy", "predefinedMetricSpecification") => {
            Kind::Struct("PredefinedMetricSpecification")
        }
        ("TargetTrackingScalingPolicy", "customizedMetricSpecification") => {
            Kind::Struct("CustomizedMetricSpecification")
        }
        ("CustomizedMetricSpecification", "dimensions") => Kind::ListOf("MetricDimension"),
        ("StepScalingPolicy", "stepAdjustments") => Kind::ListOf("StepAdjustment"),
        _ => Kind::Scalar,
    }
}

/// What member `member` of `shape` holds: the ECS model's kind, or for the autoscaling block
/// (not an ECS shape) its own nesting.
pub fn member_kind(shape: &str, member: &str) -> Kind {
    members(shape)
        .and_then(|m| m.iter().find(|m| m.name == member))
        .map(|m| m.kind)
        .unwrap_or_else(|| autoscaling_kind(shape, member))
}

/// Walk `value` (an object of `shape`) and record what the table says about each member set.
/// Members set to null, "", [] or {} count as unset.
pub fn walk(shape: &str, value: &Value, path: &str, report: &mut Report) {
    let Value::Object(map) = value else { return };
    for (key, v) in map {
        if is_unset(v) || key == "kubernetes" {
            continue;
        }
        let member_path = format!("{path}.{key}");
        let Some(row) = table().get(&format!("{shape}.{key}")) else {
            // Not in the table: the coverage test keeps this from happening for model members.
            report.warn(member_path, "has no documented fate and is ignored");
            continue;
        };
        match row.fate {
            Fate::Warned | Fate::ReadOnly => report.warn(member_path, row.note.clone()),
            Fate::Rejected if accepted(&row.member, v) => {}
            Fate::Rejected => report.error(member_path, row.note.clone(), None),
            Fate::Parent => {}
            Fate::Mapped | Fate::Operator | Fate::Validated => match member_kind(shape, key) {
                Kind::Struct(inner) => walk(inner, v, &member_path, report),
                Kind::ListOf(inner) => {
                    for (i, item) in v.as_array().into_iter().flatten().enumerate() {
                        walk(inner, item, &format!("{member_path}[{i}]"), report);
                    }
                }
                Kind::Scalar => {}
            },
        }
    }
}

/// Value-dependent rejections (the table's notes name only the refused values): the values
/// ECS users paste that are the default behaviour here and so are accepted — `describe-*`
/// output carries `isolationMode: SHARED`, `disableNetworking: false`, `deleteOnTermination: true`.
fn accepted(member: &str, v: &Value) -> bool {
    let field_is = |field: &str, ok: &str| v.get(field).is_none_or(|f| f.as_str() == Some(ok));
    match member {
        "RegisterTaskDefinitionRequest.trustedExecutionConfiguration" => {
            field_is("isolationMode", "SHARED")
        }
        "ContainerDefinition.disableNetworking" => v.as_bool() == Some(false),
        "TaskManagedEBSVolumeTerminationPolicy.deleteOnTermination" => v.as_bool() == Some(true),
        _ => false,
    }
}

fn is_unset(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// The table as the Markdown page `docs/field-mapping.md`.
pub fn markdown() -> String {
    let mut out = String::from(
        "# ECS field mapping\n\n\
         Generated from `src/translate/field_fates.tsv` by `cargo test` (set `ECS_OPERATOR_BLESS=1` to rewrite); do not edit.\n\n\
         Every member of every ECS shape the custom resources accept, and what becomes of it:\n\n\
         - **mapped**: has a Kubernetes effect (what it becomes);\n\
         - **warned**: accepted without a Kubernetes effect; the note is the warning shown in `render` and in status;\n\
         - **rejected**: an error naming the field;\n\
         - **readonly**: read-only output (from `describe-*`), accepted and ignored with a warning;\n\
         - **parent**: covered by the fate of the member that holds it;\n\
         - **operator**: acts through the operator's controllers (rollouts, circuit breaker, status), not on the rendered objects;\n\
         - **validated**: checked against the rest of the spec (an error or warning naming it when inconsistent), with no Kubernetes field of its own.\n\n\
         A test removes every *mapped* member set in the render fixtures and fails if the rendered output does not change.\n",
    );
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut shape = String::new();
    for line in TABLE
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut cols = line.splitn(3, '\t');
        let member = cols.next().unwrap_or_default();
        let fate = cols.next().unwrap_or_default().trim();
        let note = cols.next().unwrap_or_default().trim().replace('|', "\\|");
        *counts
            .entry(match fate {
                "mapped" => "mapped",
                "warned" => "warned",
                "rejected" => "rejected",
                "readonly" => "readonly",
                "operator" => "operator",
                "validated" => "validated",
                _ => "parent",
            })
            .or_default() += 1;
        let (s, m) = member.split_once('.').unwrap_or((member, ""));
        if s != shape {
            shape = s.to_string();
            out.push_str(&format!(
                "\n## {shape}\n\n| member | fate | note |\n|---|---|---|\n"
            ));
        }
        out.push_str(&format!("| `{m}` | {fate} | {note} |\n"));
    }
    let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    out.push_str(&format!("\nIn all: {}.\n", summary.join(", ")));
    out
}
