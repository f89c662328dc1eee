//! Kubernetes Events for meaningful transitions and errors, through one shared recorder.

use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

/// Shared Event recorder; cheap to clone.
#[derive(Clone)]
pub struct Events {
    recorder: Recorder,
}

impl Events {
    pub fn new(client: kube::Client, identity: &str) -> Self {
        let reporter = Reporter {
            controller: "partner-center-operator".into(),
            instance: Some(identity.into()),
        };
        Self {
            recorder: Recorder::new(client, reporter),
        }
    }

    /// Publishes an Event about `obj`. Failing to publish is logged, never fatal: Events are a courtesy.
    pub async fn publish<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        warning: bool,
        reason: &str,
        action: &str,
        note: String,
    ) {
        let event = Event {
            type_: if warning { EventType::Warning } else { EventType::Normal },
            reason: reason.into(),
            note: Some(note),
            action: action.into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, &obj.object_ref(&())).await {
            tracing::warn!(error = %e, reason, "could not publish event");
        }
    }
}
