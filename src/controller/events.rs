//! Kubernetes Events for what a user can act on (invalid specs, failed rollouts, rollbacks,
//! stopped tasks), published through kube-runtime's recorder.

use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder};

use super::Context;

/// Publish an Event about `obj`; failures to publish are logged, never fatal.
pub async fn publish<K: Resource<DynamicType = ()>>(
    ctx: &Context,
    obj: &K,
    warning: bool,
    reason: &str,
    note: String,
) {
    let recorder = Recorder::new(ctx.client.clone(), ctx.reporter.clone());
    let event = Event {
        type_: if warning {
            EventType::Warning
        } else {
            EventType::Normal
        },
        reason: reason.into(),
        note: Some(truncate(note)),
        action: "Reconcile".into(),
        secondary: None,
    };
    ctx.metrics.write("create", "events");
    if let Err(e) = recorder.publish(&event, &obj.object_ref(&())).await {
        tracing::warn!(error = %e, "could not publish an Event");
    }
}

/// Events notes are limited to 1 KiB.
fn truncate(mut s: String) -> String {
    if s.len() > 1000 {
        let mut cut = 1000;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}
