//! One watch per kind, shared by every controller that needs it, with three duties:
//! - decode objects one by one, so one undecodable object is skipped (and logged) instead of
//!   failing every list and wedging the controllers;
//! - trim managedFields and kubectl's last-applied copy before caching (memory at thousands of
//!   objects);
//! - after each change, requeue exactly the objects that depend on it (through the caches), also
//!   for changes made while the watch was down (seen on the relist). Objects deleted while the watch
//!   was down are not traced to their dependents; the hourly resync reconciles those.

use super::world::{DependentsTracker, World};
use crate::api::{CustomerPlan, PartnerCenterConnection, Reseller};
use crate::policy::{Dependents, ObjectKey};
use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use futures::{Stream, StreamExt};
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::reflector::{self, ObjectRef, ReflectHandle, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

/// `kubectl apply` (and Argo CD's default sync) keep a copy of the whole spec here; never read.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The watch of one kind, before it runs.
pub struct SharedWatch<K: Resource<DynamicType = ()> + Clone + 'static> {
    pub reader: Store<K>,
    writer: Writer<K>,
    api: Api<DynamicObject>,
}

/// A controller's view of a shared watch: objects that changed, and the cache.
pub struct Subscription<K: Resource<DynamicType = ()> + Clone + 'static> {
    pub stream: ReflectHandle<K>,
    pub reader: Store<K>,
}

pub fn shared<K>(client: &kube::Client) -> (SharedWatch<K>, Subscription<K>)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store_shared::<K>(1024);
    let stream = writer.subscribe().expect("shared stores always have subscribers");
    let ar = ApiResource::erase::<K>(&());
    let api = Api::<DynamicObject>::all_with(client.clone(), &ar);
    (
        SharedWatch {
            reader: reader.clone(),
            writer,
            api,
        },
        Subscription { stream, reader },
    )
}

impl<K> SharedWatch<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    /// Drives the watch until the process ends.
    pub async fn run(
        self,
        world: Arc<World>,
        tracker: Arc<DependentsTracker>,
        triggers: Triggers,
        change: fn(&K) -> (ObjectKey, u64),
    ) {
        let events = decoded::<K>(watcher(self.api, watcher::Config::default()).default_backoff())
            .modify(|o: &mut K| {
                o.managed_fields_mut().clear();
                o.annotations_mut().remove(LAST_APPLIED);
            })
            .reflect_shared(self.writer);
        futures::pin_mut!(events);
        // Objects whose facts changed while the watch was down (seen on a relist).
        let mut changed_while_away = Vec::new();
        while let Some(event) = events.next().await {
            match event {
                Ok(watcher::Event::InitApply(obj)) => {
                    let (key, digest) = change(&obj);
                    if tracker.initial(&key, digest) {
                        changed_while_away.push((key, digest));
                    }
                }
                Ok(watcher::Event::InitDone) => {
                    // The store swaps in the (re)listed objects now.
                    world.facts_changed();
                    for (key, digest) in changed_while_away.drain(..) {
                        triggers.send_changed(&key, tracker.changed(&world, &key, Some(digest)));
                    }
                }
                Ok(watcher::Event::Apply(obj)) => {
                    let (key, digest) = change(&obj);
                    if tracker.unchanged(&key, digest) {
                        continue;
                    }
                    triggers.send_changed(&key, tracker.changed(&world, &key, Some(digest)));
                }
                Ok(watcher::Event::Delete(obj)) => {
                    let (key, _) = change(&obj);
                    triggers.send_changed(&key, tracker.changed(&world, &key, None));
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(kind = %K::kind(&()), error = %e, "watch error; retrying with backoff"),
            }
        }
    }
}

impl<K> SharedWatch<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    /// Drives a watch whose changes no rule of the three kinds reads (Customers): after each
    /// change is in the store, `changed` gets the object (`None` after a (re)list).
    pub async fn run_notifying(self, changed: impl Fn(Option<&K>) + Send + 'static) {
        let events = decoded::<K>(watcher(self.api, watcher::Config::default()).default_backoff())
            .modify(|o: &mut K| {
                o.managed_fields_mut().clear();
                o.annotations_mut().remove(LAST_APPLIED);
            })
            .reflect_shared(self.writer);
        futures::pin_mut!(events);
        while let Some(event) = events.next().await {
            match event {
                Ok(watcher::Event::InitDone) => changed(None),
                Ok(watcher::Event::Apply(obj) | watcher::Event::Delete(obj)) => changed(Some(&obj)),
                Ok(_) => {}
                Err(e) => tracing::warn!(kind = %K::kind(&()), error = %e, "watch error; retrying with backoff"),
            }
        }
    }
}

/// Decodes each watched object into `K`, skipping (and logging) those that do not decode.
fn decoded<K>(
    events: impl Stream<Item = watcher::Result<watcher::Event<DynamicObject>>> + Send,
) -> impl Stream<Item = watcher::Result<watcher::Event<K>>> + Send
where
    K: Resource<DynamicType = ()> + DeserializeOwned + Send,
{
    fn decode<K: Resource<DynamicType = ()> + DeserializeOwned>(obj: DynamicObject) -> Option<K> {
        let name = format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any());
        match serde_json::to_value(obj).and_then(serde_json::from_value::<K>) {
            Ok(k) => Some(k),
            Err(e) => {
                tracing::error!(kind = %K::kind(&()), object = %name, error = %e, "skipping an object that does not decode; fix or delete it");
                None
            }
        }
    }
    events.filter_map(|event| async move {
        Some(match event {
            Err(e) => Err(e),
            Ok(watcher::Event::Apply(o)) => Ok(watcher::Event::Apply(decode::<K>(o)?)),
            Ok(watcher::Event::InitApply(o)) => Ok(watcher::Event::InitApply(decode::<K>(o)?)),
            Ok(watcher::Event::Delete(o)) => Ok(watcher::Event::Delete(decode::<K>(o)?)),
            Ok(watcher::Event::Init) => Ok(watcher::Event::Init),
            Ok(watcher::Event::InitDone) => Ok(watcher::Event::InitDone),
        })
    })
}

/// Requeue channels into the three controllers.
#[derive(Clone)]
pub struct Triggers {
    connections: UnboundedSender<ObjectRef<PartnerCenterConnection>>,
    plans: UnboundedSender<ObjectRef<CustomerPlan>>,
    resellers: UnboundedSender<ObjectRef<Reseller>>,
    /// Objects that changed or whose evaluation may have, for the Customer controller.
    customer_keys: UnboundedSender<ObjectKey>,
    receivers: Arc<Mutex<Option<Receivers>>>,
    customer_receiver: Arc<Mutex<Option<UnboundedReceiver<ObjectKey>>>>,
}

type Receivers = (
    UnboundedReceiver<ObjectRef<PartnerCenterConnection>>,
    UnboundedReceiver<ObjectRef<CustomerPlan>>,
    UnboundedReceiver<ObjectRef<Reseller>>,
);

impl Triggers {
    pub fn new() -> Self {
        let (c_tx, c_rx) = unbounded();
        let (p_tx, p_rx) = unbounded();
        let (r_tx, r_rx) = unbounded();
        let (cr_tx, cr_rx) = unbounded();
        Self {
            connections: c_tx,
            plans: p_tx,
            resellers: r_tx,
            customer_keys: cr_tx,
            receivers: Arc::new(Mutex::new(Some((c_rx, p_rx, r_rx)))),
            customer_receiver: Arc::new(Mutex::new(Some(cr_rx))),
        }
    }

    /// The receiving ends, taken once by the controllers.
    pub fn receivers(&self) -> Receivers {
        self.receivers
            .lock()
            .expect("triggers")
            .take()
            .expect("receivers are taken once")
    }

    /// The objects that changed (their facts) and their dependents, taken once by the Customer
    /// controller: the Customers that read them are re-resolved.
    pub fn customer_keys(&self) -> UnboundedReceiver<ObjectKey> {
        self.customer_receiver
            .lock()
            .expect("triggers")
            .take()
            .expect("the receiver is taken once")
    }

    /// An object whose facts changed: its dependents among the three kinds are not the only ones
    /// to requeue, the Customers reading it are too.
    pub fn send_changed(&self, key: &ObjectKey, d: Dependents) {
        let _ = self.customer_keys.unbounded_send(key.clone());
        self.send(d);
    }

    pub fn send(&self, d: Dependents) {
        // A closed channel means the controllers are not running (not leader yet): nothing to do,
        // they reconcile everything when they start.
        for c in d.connections {
            let _ = self.customer_keys.unbounded_send(ObjectKey::Connection(c.clone()));
            let _ = self
                .connections
                .unbounded_send(ObjectRef::new(&c.name).within(&c.namespace));
        }
        for p in d.plans {
            let _ = self.customer_keys.unbounded_send(ObjectKey::Plan(p.clone()));
            let _ = self.plans.unbounded_send(ObjectRef::new(&p));
        }
        for r in d.resellers {
            let _ = self.customer_keys.unbounded_send(ObjectKey::Reseller(r.clone()));
            let _ = self.resellers.unbounded_send(ObjectRef::new(&r));
        }
    }
}

impl Default for Triggers {
    fn default() -> Self {
        Self::new()
    }
}
