//! Write a Task's status (only when it changed) and tell what happened as Events: the stop
//! (ECS `stopCode` and `stoppedReason`), or why the task cannot start (Stalled, naming the field).

use kube::api::Api;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};

use super::super::{Context, Error, apply, events, now};
use super::lifecycle::Outcome;
use crate::api::{Condition, READY, STALLED, Task, set_condition};

fn api(ctx: &Context, task: &Task) -> Result<Api<Task>, Error> {
    let ns = task
        .namespace()
        .ok_or(Error::MissingMetadata("namespace"))?;
    Ok(Api::namespaced(ctx.client.clone(), &ns))
}

/// Write the computed status; an Event when the task stopped in this round (a warning unless
/// an essential container exited with code 0).
pub async fn write(ctx: &Context, task: &Task, outcome: &Outcome) -> Result<(), Error> {
    let st = &outcome.status;
    apply::status(
        ctx,
        &api(ctx, task)?,
        &task.name_any(),
        task.status.as_ref(),
        st,
    )
    .await?;
    if outcome.stopped_now {
        let reason = st.stopped_reason.clone().unwrap_or_default();
        let clean_exit = st.stop_code.as_deref() == Some("UserInitiated")
            || (st.stop_code.as_deref() == Some("EssentialContainerExited")
                && (!reason.contains("code") || reason.ends_with("code 0")));
        events::publish(ctx, task, !clean_exit, "TaskStopped", reason).await;
    }
    Ok(())
}

/// The task cannot start: Ready false and Stalled with the reason; waits for a change.
pub async fn stall(
    ctx: &Context,
    task: &Task,
    reason: &str,
    message: &str,
) -> Result<Action, Error> {
    let mut status = task.status.clone().unwrap_or_default();
    let generation = task.meta().generation;
    let stamp = now();
    status.observed_generation = generation;
    for (type_, value) in [(READY, false), (STALLED, true)] {
        set_condition(
            &mut status.conditions,
            Condition::new(type_, value, reason, message),
            generation,
            &stamp,
        );
    }
    let api = api(ctx, task)?;
    if apply::status(ctx, &api, &task.name_any(), task.status.as_ref(), &status).await? {
        events::publish(ctx, task, true, reason, message.to_string()).await;
    }
    Ok(Action::await_change())
}
