//! One watch per kind, shared by every controller that needs it, with three duties:
//! - decode objects one by one, so one undecodable object is skipped (and logged) instead of
//!   failing every list and wedging the controllers;
//! - trim managedFields and kubectl's last-applied copy before caching (a Reseller is cached in
//!   brief: [`super::cached`]);
//! - after each change, requeue exactly the objects that depend on it (through the caches), also
//!   for changes made while the watch was down (seen on the relist). Objects deleted while the watch
//!   was down are not traced to their dependents; the hourly resync reconciles those.

use super::cached::CachedReseller;
use super::world::{DependentsTracker, World};
use crate::api::{CustomerPlan, PartnerCenterConnection};
use crate::policy::{Dependents, ObjectKey};
use futures::{Stream, StreamExt};
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::reflector::{self, ObjectRef, ReflectHandle, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::{Receiver, Sender, channel};

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
    /// Drives the watch until the process ends. `share` may let a new version of an object reuse
    /// what it has in common with the cached one (a Reseller's facts).
    pub async fn run(
        self,
        world: Arc<World>,
        tracker: Arc<DependentsTracker>,
        triggers: Triggers,
        change: fn(&K) -> (ObjectKey, u64),
        share: fn(&mut K, &K),
    ) {
        let cached = self.reader.clone();
        let events = decoded::<K>(watcher(self.api, watcher::Config::default()).default_backoff())
            .modify(move |o: &mut K| {
                trim(o);
                if let Some(previous) = cached.get(&ObjectRef::from_obj(o)) {
                    share(o, &previous);
                }
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
                        triggers
                            .send_changed(&key, tracker.changed(&world, &key, Some(digest)))
                            .await;
                    }
                }
                Ok(watcher::Event::Apply(obj)) => {
                    let (key, digest) = change(&obj);
                    if tracker.unchanged(&key, digest) {
                        continue;
                    }
                    triggers
                        .send_changed(&key, tracker.changed(&world, &key, Some(digest)))
                        .await;
                }
                Ok(watcher::Event::Delete(obj)) => {
                    let (key, _) = change(&obj);
                    triggers.send_changed(&key, tracker.changed(&world, &key, None)).await;
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
            .modify(trim)
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

/// Nothing of a previous version to share (see [`SharedWatch::run`]'s `share`).
pub fn nothing_shared<K>(_: &mut K, _: &K) {}

/// What every cached object loses: the server's field ownership and kubectl's copy of the spec
/// (never read).
pub fn trim<K: Resource>(o: &mut K) {
    o.managed_fields_mut().clear();
    let meta = o.meta_mut();
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove(LAST_APPLIED);
        // An empty map still holds a B-tree node once it has had an entry.
        if annotations.is_empty() {
            meta.annotations = None;
        }
    }
}

/// The objects a controller is handed, without the echo of the operator's own status writes: an
/// object passes when it is new to the filter or when anything but its status changed (uid,
/// generation, labels, annotations, finalizers, deletion). Annotations such as
/// `channel.csp.dev/sync-requested` and finalizer changes therefore still trigger a reconcile; a
/// status-only change does not (the operator wrote it, or it is reverted by the hourly resync).
/// Changes of *other* objects reach the controller through [`Triggers`], not through this stream.
/// Cold, this took the reconciles per reseller from ~2.4 to ~1 (bench/README.md).
pub fn without_status_echo<K>(
    stream: impl Stream<Item = Arc<K>> + Send + 'static,
    reader: Store<K>,
) -> impl Stream<Item = Arc<K>> + Send + 'static
where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
{
    // (namespace, name) hash -> hash of what a reconcile reacts to. 16 bytes per object: no copy
    // of the names. Deleted objects are pruned once the map is twice the cache's size.
    let mut seen: HashMap<u64, u64> = HashMap::new();
    stream.filter(move |obj| {
        let now = reacts_to(obj.as_ref());
        let pass = seen.insert(object_id(obj.as_ref()), now) != Some(now);
        if seen.len() > 1024 && seen.len() > 2 * reader.len() {
            let live: std::collections::HashSet<u64> = reader.state().iter().map(|o| object_id(o.as_ref())).collect();
            seen.retain(|id, _| live.contains(id));
        }
        futures::future::ready(pass)
    })
}

fn object_id<K: Resource>(obj: &K) -> u64 {
    let mut h = DefaultHasher::new();
    (obj.meta().namespace.as_deref(), obj.meta().name.as_deref()).hash(&mut h);
    h.finish()
}

/// Digest of everything but the status that a reconcile of the object reacts to.
fn reacts_to<K: Resource>(obj: &K) -> u64 {
    let m = obj.meta();
    let mut h = DefaultHasher::new();
    (&m.uid, m.generation, &m.labels, &m.finalizers).hash(&mut h);
    m.deletion_timestamp.as_ref().map(|t| t.0.as_nanosecond()).hash(&mut h);
    for (k, v) in m.annotations.iter().flatten() {
        (k, v).hash(&mut h);
    }
    h.finish()
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

/// Requeue channels into the controllers. Bounded: a burst of dependents (a connection turning
/// Ready requeues every reseller using it) waits for the controllers to take it into their
/// schedulers (which merge repeats) instead of piling up. Until the controllers have taken the
/// receivers (a replica not yet leader), a full channel drops the trigger: controllers reconcile
/// every object when they start, and a standby must neither block its watches nor accumulate.
#[derive(Clone)]
pub struct Triggers {
    connections: Sender<ObjectRef<PartnerCenterConnection>>,
    plans: Sender<ObjectRef<CustomerPlan>>,
    resellers: Sender<ObjectRef<CachedReseller>>,
    /// Objects that changed or whose evaluation may have, for the Customer controller.
    customer_keys: Sender<ObjectKey>,
    receivers: Arc<Mutex<Option<Receivers>>>,
    customer_receiver: Arc<Mutex<Option<Receiver<ObjectKey>>>>,
    /// Whether the controllers have taken the receivers (then a full channel is waited on).
    consumed: Arc<AtomicBool>,
}

/// Capacity of each trigger channel.
const TRIGGER_QUEUE: usize = 1024;

type Receivers = (
    ReceiverStream<ObjectRef<PartnerCenterConnection>>,
    ReceiverStream<ObjectRef<CustomerPlan>>,
    ReceiverStream<ObjectRef<CachedReseller>>,
);

/// A bounded receiver as a stream (without pulling in tokio-stream for one adapter).
pub struct ReceiverStream<T>(Receiver<T>);

impl<T> Stream for ReceiverStream<T> {
    type Item = T;
    fn poll_next(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Option<T>> {
        self.0.poll_recv(cx)
    }
}

impl Triggers {
    pub fn new() -> Self {
        let (c_tx, c_rx) = channel(TRIGGER_QUEUE);
        let (p_tx, p_rx) = channel(TRIGGER_QUEUE);
        let (r_tx, r_rx) = channel(TRIGGER_QUEUE);
        let (cr_tx, cr_rx) = channel(TRIGGER_QUEUE);
        Self {
            connections: c_tx,
            plans: p_tx,
            resellers: r_tx,
            customer_keys: cr_tx,
            receivers: Arc::new(Mutex::new(Some((
                ReceiverStream(c_rx),
                ReceiverStream(p_rx),
                ReceiverStream(r_rx),
            )))),
            customer_receiver: Arc::new(Mutex::new(Some(cr_rx))),
            consumed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The receiving ends, taken once by the controllers.
    pub fn receivers(&self) -> Receivers {
        self.consumed.store(true, Ordering::Release);
        self.receivers
            .lock()
            .expect("triggers")
            .take()
            .expect("receivers are taken once")
    }

    /// The objects that changed (their facts) and their dependents, taken once by the Customer
    /// controller: the Customers that read them are re-resolved.
    pub fn customer_keys(&self) -> ReceiverStream<ObjectKey> {
        ReceiverStream(
            self.customer_receiver
                .lock()
                .expect("triggers")
                .take()
                .expect("the receiver is taken once"),
        )
    }

    /// An object whose facts changed: its dependents among the three kinds are not the only ones
    /// to requeue, the Customers reading it are too.
    pub async fn send_changed(&self, key: &ObjectKey, d: Dependents) {
        self.put(&self.customer_keys, key.clone()).await;
        self.send(d).await;
    }

    pub async fn send(&self, d: Dependents) {
        for c in d.connections {
            self.put(&self.customer_keys, ObjectKey::Connection(c.clone())).await;
            self.put(&self.connections, ObjectRef::new(&c.name).within(&c.namespace))
                .await;
        }
        for p in d.plans {
            self.put(&self.customer_keys, ObjectKey::Plan(p.clone())).await;
            self.put(&self.plans, ObjectRef::new(&p)).await;
        }
        for r in d.resellers {
            self.put(&self.customer_keys, ObjectKey::Reseller(r.clone())).await;
            self.put(&self.resellers, ObjectRef::new(&r)).await;
        }
    }

    async fn put<T>(&self, to: &Sender<T>, item: T) {
        // A closed channel means the controllers stopped (shutdown): nothing to do.
        if self.consumed.load(Ordering::Acquire) {
            let _ = to.send(item).await;
        } else {
            let _ = to.try_send(item);
        }
    }
}

impl Default for Triggers {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Reseller;
    use kube::runtime::reflector::{self, store::Writer};

    fn reseller() -> Reseller {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "channel.csp.dev/v1alpha1",
            "kind": "Reseller",
            "metadata": {"name": "northwind", "uid": "u1", "generation": 2},
            "spec": {"displayName": "Northwind", "shortName": "NWD", "namespace": "reseller-northwind"},
            "status": {"plans": "0/1"},
        }))
        .expect("reseller")
    }

    #[tokio::test]
    async fn a_controller_is_handed_every_change_but_the_echo_of_a_status_write() {
        type Change = fn(&mut Reseller);
        // (what changed since the previous row, handed to the controller)
        let rows: &[(&str, Change, bool)] = &[
            ("first sight", |_| {}, true),
            ("nothing", |_| {}, false),
            (
                "status only (the operator's own write)",
                |r| r.status.as_mut().unwrap().plans = Some("1/1".into()),
                false,
            ),
            (
                "sync-requested annotation",
                |r| {
                    r.annotations_mut()
                        .insert("channel.csp.dev/sync-requested".into(), "now".into());
                },
                true,
            ),
            (
                "a label",
                |r| {
                    r.labels_mut().insert("team".into(), "a".into());
                },
                true,
            ),
            (
                "a finalizer",
                |r| r.finalizers_mut().push("channel.csp.dev/in-use-protection".into()),
                true,
            ),
            ("generation (spec)", |r| r.metadata.generation = Some(3), true),
            (
                "deletion requested",
                |r| {
                    r.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                        jiff::Timestamp::now(),
                    ))
                },
                true,
            ),
            ("recreated under its name", |r| r.metadata.uid = Some("u2".into()), true),
        ];
        let (reader, _writer): (Store<Reseller>, Writer<Reseller>) = reflector::store();
        let mut obj = reseller();
        let mut sent = Vec::new();
        for (i, (_, change, _)) in rows.iter().enumerate() {
            change(&mut obj);
            // The resourceVersion changes with every write and names the row here.
            obj.metadata.resource_version = Some(i.to_string());
            sent.push(Arc::new(obj.clone()));
        }
        let row = |o: Arc<Reseller>| {
            rows[o
                .metadata
                .resource_version
                .as_deref()
                .unwrap()
                .parse::<usize>()
                .unwrap()]
            .0
        };
        let handed: Vec<&str> = without_status_echo(futures::stream::iter(sent), reader)
            .map(row)
            .collect()
            .await;
        let want: Vec<&str> = rows.iter().filter(|r| r.2).map(|r| r.0).collect();
        assert_eq!(handed, want);
    }
}
