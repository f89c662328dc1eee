//! Kubernetes Events for meaningful transitions and errors, through one shared recorder.
//!
//! Events are published off the reconcile path: a reconcile queues its Event and moves on, and a
//! background task writes them (a few at a time). Events are a courtesy to humans, so a full
//! queue drops the Event with a log line rather than slowing reconciles down.

use futures::StreamExt;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use tokio::sync::mpsc;

const QUEUE: usize = 4096;
const WRITERS: usize = 4;

/// Shared Event publisher; cheap to clone.
#[derive(Clone)]
pub struct Events {
    queue: mpsc::Sender<(Event, ObjectReference)>,
}

impl Events {
    /// Starts the background writer (needs a Tokio runtime).
    pub fn new(client: kube::Client, identity: &str) -> Self {
        let reporter = Reporter {
            controller: "partner-center-operator".into(),
            instance: Some(identity.into()),
        };
        let recorder = Recorder::new(client, reporter);
        let (queue, rx) = mpsc::channel::<(Event, ObjectReference)>(QUEUE);
        tokio::spawn(async move {
            tokio_stream_from(rx)
                .for_each_concurrent(WRITERS, |(event, reference)| {
                    let recorder = recorder.clone();
                    async move {
                        if let Err(e) = recorder.publish(&event, &reference).await {
                            tracing::warn!(error = %e, reason = %event.reason, "could not publish event");
                        }
                    }
                })
                .await;
        });
        Self { queue }
    }

    /// Queues an Event about `obj`. Never fails the caller: Events are a courtesy.
    pub fn publish<K: Resource<DynamicType = ()>>(
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
        if self.queue.try_send((event, obj.object_ref(&()))).is_err() {
            tracing::warn!(reason, "event queue full; dropping an event");
        }
    }
}

/// A receiver as a stream (without pulling in tokio-stream for one adapter).
fn tokio_stream_from<T: Send + 'static>(mut rx: mpsc::Receiver<T>) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
