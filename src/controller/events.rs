//! Kubernetes Events for meaningful transitions and errors.
//!
//! Events are published off the reconcile path: a reconcile queues its Event and moves on, and a
//! background task writes them (a few at a time). Events are a courtesy to humans, so a full
//! queue drops the Event with a log line rather than slowing reconciles down.
//!
//! Each Event is a plain `events.k8s.io/v1` create, not kube's `Recorder`: the Recorder keeps
//! every Event it wrote for six minutes to fold repeats into a series, and scans that cache on
//! every publish. We publish on transitions only, so nothing repeats, and at cold start (thousands
//! of Events) the cache was megabytes of heap for nothing.
//!
//! A Reseller is cluster-scoped, so its Events live in `default`, where its own admins cannot read
//! them: each is also published in the reseller's `spec.namespace` (the one its admins manage).

use super::cached::CachedReseller;
use crate::api::Reseller;
use futures::StreamExt;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Resource;
use kube::api::{Api, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use tokio::sync::mpsc;

const QUEUE: usize = 4096;
const WRITERS: usize = 4;
const CONTROLLER: &str = "partner-center-operator";
/// The API server rejects a longer note (bytes, not chars).
const NOTE_LIMIT: usize = 1024;
/// Object names are DNS subdomains: at most 253 characters.
const NAME_LIMIT: usize = 253;

/// Shared Event publisher; cheap to clone.
#[derive(Clone)]
pub struct Events {
    queue: mpsc::Sender<Event>,
    identity: String,
    /// Where a Reseller's Events are copied (its `spec.namespace`), looked up in the watch cache.
    resellers: Option<Store<CachedReseller>>,
}

impl Events {
    /// Starts the background writer (needs a Tokio runtime).
    pub fn new(client: kube::Client, identity: &str) -> Self {
        let (queue, rx) = mpsc::channel::<Event>(QUEUE);
        tokio::spawn(async move {
            tokio_stream_from(rx)
                .for_each_concurrent(WRITERS, |event| {
                    let client = client.clone();
                    async move {
                        let ns = event.metadata.namespace.as_deref().unwrap_or("default");
                        let api = Api::<Event>::namespaced(client, ns);
                        if let Err(e) = api.create(&PostParams::default(), &event).await {
                            let reason = event.reason.as_deref().unwrap_or_default();
                            tracing::warn!(error = %e, reason, "could not publish event");
                        }
                    }
                })
                .await;
        });
        Self {
            queue,
            identity: identity.into(),
            resellers: None,
        }
    }

    /// Also publishes each Reseller Event in that reseller's `spec.namespace`, read from `resellers`.
    pub fn with_reseller_namespaces(mut self, resellers: Store<CachedReseller>) -> Self {
        self.resellers = Some(resellers);
        self
    }

    /// The reseller's own namespace when `regarding` is a Reseller that has one.
    fn tenant_namespace(&self, regarding: &ObjectReference) -> Option<String> {
        if regarding.kind.as_deref() != Some(Reseller::kind(&()).as_ref()) || regarding.namespace.is_some() {
            return None;
        }
        let name = regarding.name.as_deref()?;
        self.resellers
            .as_ref()?
            .get(&ObjectRef::new(name))?
            .facts
            .namespace
            .clone()
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
        let regarding = obj.object_ref(&());
        let copy = self.tenant_namespace(&regarding).map(|ns| {
            build_in(
                ns,
                regarding.clone(),
                &self.identity,
                warning,
                reason,
                action,
                note.clone(),
            )
        });
        let event = build(regarding, &self.identity, warning, reason, action, note);
        for event in std::iter::once(event).chain(copy) {
            if self.queue.try_send(event).is_err() {
                tracing::warn!(reason, "event queue full; dropping an event");
            }
        }
    }
}

/// The Event kube's Recorder would have created (same reporting fields, same namespace: the
/// object's, or "default" for cluster-scoped ones), minus its cache. The name takes a random
/// suffix rather than the Recorder's timestamp, so concurrent writes about one object never clash.
fn build(regarding: ObjectReference, identity: &str, warning: bool, reason: &str, action: &str, note: String) -> Event {
    let namespace = regarding.namespace.clone().unwrap_or_else(|| "default".into());
    build_in(namespace, regarding, identity, warning, reason, action, note)
}

/// The Event in `namespace`. The API server requires `regarding.namespace` to equal the Event's
/// namespace outside `default` and `kube-system`, so a cluster-scoped object's copy names it there;
/// kind, name and uid still identify the object.
fn build_in(
    namespace: String,
    mut regarding: ObjectReference,
    identity: &str,
    warning: bool,
    reason: &str,
    action: &str,
    note: String,
) -> Event {
    if namespace != "default" {
        regarding.namespace = Some(namespace.clone());
    }
    let suffix = format!(".{:016x}", rand::random::<u64>());
    let base = regarding.name.as_deref().unwrap_or(CONTROLLER);
    let base = truncate(base, NAME_LIMIT - suffix.len()).trim_end_matches(['.', '-']);
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{base}{suffix}")),
            namespace: Some(namespace),
            ..Default::default()
        },
        event_time: Some(MicroTime(Timestamp::now())),
        action: Some(action.into()),
        reason: Some(reason.into()),
        note: Some(truncate(&note, NOTE_LIMIT).into()),
        type_: Some(if warning { "Warning" } else { "Normal" }.into()),
        regarding: Some(regarding),
        reporting_controller: Some(CONTROLLER.into()),
        reporting_instance: Some(identity.into()),
        ..Default::default()
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a char boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A receiver as a stream (without pulling in tokio-stream for one adapter).
fn tokio_stream_from<T: Send + 'static>(mut rx: mpsc::Receiver<T>) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(namespace: Option<&str>, name: &str) -> ObjectReference {
        ObjectReference {
            api_version: Some("channel.csp.dev/v1alpha1".into()),
            kind: Some("Reseller".into()),
            name: Some(name.into()),
            namespace: namespace.map(Into::into),
            uid: Some("u-1".into()),
            ..Default::default()
        }
    }

    #[test]
    fn cluster_scoped_objects_get_their_events_in_default() {
        let e = build(reference(None, "contoso"), "pod-a", true, "Why", "Resolve", "n".into());
        assert_eq!(e.metadata.namespace.as_deref(), Some("default"));
        let e = build(
            reference(Some("rsl-a"), "conn"),
            "pod-a",
            false,
            "Why",
            "Sync",
            "n".into(),
        );
        assert_eq!(e.metadata.namespace.as_deref(), Some("rsl-a"));
    }

    #[test]
    fn a_cluster_scoped_objects_copy_in_a_tenant_namespace_names_that_namespace() {
        // The API server refuses an Event outside default/kube-system whose regarding has no namespace.
        let e = build_in(
            "reseller-northwind".into(),
            reference(None, "northwind"),
            "pod-a",
            true,
            "ConnectionReplaced",
            "Resolve",
            "n".into(),
        );
        assert_eq!(e.metadata.namespace.as_deref(), Some("reseller-northwind"));
        let regarding = e.regarding.unwrap();
        assert_eq!(regarding.namespace.as_deref(), Some("reseller-northwind"));
        assert_eq!(
            (
                regarding.kind.as_deref(),
                regarding.name.as_deref(),
                regarding.uid.as_deref()
            ),
            (Some("Reseller"), Some("northwind"), Some("u-1"))
        );
        let e = build_in(
            "default".into(),
            reference(None, "northwind"),
            "pod-a",
            true,
            "R",
            "A",
            "n".into(),
        );
        assert_eq!(e.regarding.unwrap().namespace, None);
    }

    #[test]
    fn fields_match_what_the_recorder_wrote() {
        let e = build(
            reference(None, "contoso"),
            "pod-a",
            true,
            "ParentNotFound",
            "Resolve",
            "gone".into(),
        );
        assert_eq!(e.type_.as_deref(), Some("Warning"));
        assert_eq!(e.reason.as_deref(), Some("ParentNotFound"));
        assert_eq!(e.action.as_deref(), Some("Resolve"));
        assert_eq!(e.note.as_deref(), Some("gone"));
        assert_eq!(e.reporting_controller.as_deref(), Some("partner-center-operator"));
        assert_eq!(e.reporting_instance.as_deref(), Some("pod-a"));
        assert_eq!(e.regarding, Some(reference(None, "contoso")));
        assert!(e.event_time.is_some() && e.series.is_none());
        let name = e.metadata.name.unwrap();
        let (base, suffix) = name.rsplit_once('.').unwrap();
        assert_eq!(base, "contoso");
        assert!(
            suffix.len() == 16 && suffix.bytes().all(|b| b.is_ascii_hexdigit()),
            "{name}"
        );
        let normal = build(
            reference(None, "contoso"),
            "pod-a",
            false,
            "Ready",
            "Resolve",
            String::new(),
        );
        assert_eq!(normal.type_.as_deref(), Some("Normal"));
        assert_ne!(normal.metadata.name.unwrap(), name, "names are unique");
    }

    #[test]
    fn long_notes_and_names_fit_the_api_limits() {
        let note = "é".repeat(600); // 1200 bytes
        let e = build(reference(None, "x"), "pod-a", false, "R", "A", note.clone() + "€");
        let n = e.note.unwrap();
        assert!(n.len() <= NOTE_LIMIT && note.starts_with(&n), "{}", n.len());
        let odd = format!("a{}", "é".repeat(600)); // 1024 falls inside an 'é'
        let n = build(reference(None, "x"), "pod-a", false, "R", "A", odd).note.unwrap();
        assert_eq!(n.len(), 1023);

        // 253 characters; cutting room for the suffix leaves a trailing '-', which is not valid.
        let long = format!("{}-{}", "a".repeat(235), "b".repeat(17));
        let name = build(reference(None, &long), "pod-a", false, "R", "A", String::new())
            .metadata
            .name
            .unwrap();
        assert!(name.len() <= NAME_LIMIT, "{}", name.len());
        assert!(name.starts_with(&"a".repeat(235)) && !name.contains("-."), "{name}");
    }
}
