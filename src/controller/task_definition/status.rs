//! A TaskDefinition's status (ECS `TaskDefinition.status`: ACTIVE, or INVALID here for a spec
//! the translator refuses), written only when it changed, with Events for what a user can act on.

use kube::api::Api;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};

use super::super::{Context, Error, apply, events, now};
use crate::api::{
    Condition, READY, RevisionRecord, STALLED, TaskDefinition, TaskDefinitionStatus, set_condition,
};

fn api(ctx: &Context, td: &TaskDefinition) -> Result<Api<TaskDefinition>, Error> {
    let ns = td.namespace().ok_or(Error::MissingMetadata("namespace"))?;
    Ok(Api::namespaced(ctx.client.clone(), &ns))
}

fn base(td: &TaskDefinition) -> TaskDefinitionStatus {
    let prev = td.status.clone().unwrap_or_default();
    TaskDefinitionStatus {
        revision: prev.revision,
        revisions: prev.revisions,
        conditions: prev.conditions,
        observed_generation: td.meta().generation,
        ..TaskDefinitionStatus::default()
    }
}

fn set(st: &mut TaskDefinitionStatus, conditions: [Condition; 2]) {
    let stamp = now();
    for c in conditions {
        set_condition(&mut st.conditions, c, st.observed_generation, &stamp);
    }
}

/// The spec is refused: INVALID, Stalled with every problem and its JSON path; an Event once.
pub async fn invalid(ctx: &Context, td: &TaskDefinition, message: &str) -> Result<Action, Error> {
    let mut st = base(td);
    st.status = Some("INVALID".into());
    set(
        &mut st,
        [
            Condition::new(READY, false, "InvalidSpec", message),
            Condition::new(STALLED, true, "InvalidSpec", message),
        ],
    );
    if apply::status(ctx, &api(ctx, td)?, &td.name_any(), td.status.as_ref(), &st).await? {
        events::publish(ctx, td, true, "InvalidSpec", message.to_string()).await;
    }
    Ok(Action::await_change())
}

/// Registered: ACTIVE, the latest revision and the history; fields accepted without a
/// Kubernetes effect as warnings (an Event when they change).
pub async fn registered(
    ctx: &Context,
    td: &TaskDefinition,
    number: i64,
    revisions: Vec<RevisionRecord>,
    warnings: Vec<String>,
    behind: &[String],
) -> Result<(), Error> {
    let prev_warnings = td
        .status
        .as_ref()
        .map(|s| s.warnings.clone())
        .unwrap_or_default();
    let mut st = base(td);
    st.status = Some("ACTIVE".into());
    st.revision = Some(number);
    st.revisions = revisions;
    st.warnings = warnings;
    let latest = format!("{}:{number} is the latest revision", td.family());
    let ready = if behind.is_empty() {
        Condition::new(READY, true, "Registered", latest)
    } else {
        // GitOps tools (kstatus: Ready=False is InProgress) must not call a change applied
        // while the Services it rolls have not even started on it.
        Condition::new(
            READY,
            false,
            "RollingOut",
            format!(
                "{latest}; waiting for Service(s) {} to start deploying it",
                behind.join(", ")
            ),
        )
    };
    set(
        &mut st,
        [ready, Condition::new(STALLED, false, "Registered", "")],
    );
    let written =
        apply::status(ctx, &api(ctx, td)?, &td.name_any(), td.status.as_ref(), &st).await?;
    if written && !st.warnings.is_empty() && prev_warnings != st.warnings {
        events::publish(ctx, td, true, "FieldsWithoutEffect", st.warnings.join("; ")).await;
    }
    Ok(())
}
