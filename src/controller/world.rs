//! What the three controllers share: the watch caches (stores) of the three kinds, the rules'
//! evaluation of them, and which objects depend on a changed one. Related objects are found through
//! these caches, never through extra API calls.

use super::cached::CachedReseller;
use super::facts::{connection_facts, plan_facts};
use crate::api::{CustomerPlan, PartnerCenterConnection};
use crate::policy::{self, Dependents, Evaluator, ObjectKey, Snapshot};
use crate::runtime::metrics::Evaluations;
use kube::ResourceExt;
use kube::runtime::reflector::Store;
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub struct World {
    pub connections: Store<PartnerCenterConnection>,
    pub plans: Store<CustomerPlan>,
    pub resellers: Store<CachedReseller>,
    pub settings: policy::Settings,
    /// Counts facts changes seen by the watches; the cached evaluation is valid for one count.
    version: AtomicU64,
    cache: Mutex<Option<(u64, Arc<Evaluator>)>>,
    evaluating: Mutex<()>,
    evaluations: Evaluations,
}

impl World {
    pub fn new(
        connections: Store<PartnerCenterConnection>,
        plans: Store<CustomerPlan>,
        resellers: Store<CachedReseller>,
        settings: policy::Settings,
        evaluations: Evaluations,
    ) -> Self {
        Self {
            connections,
            plans,
            resellers,
            settings,
            version: AtomicU64::new(0),
            cache: Mutex::new(None),
            evaluating: Mutex::new(()),
            evaluations,
        }
    }

    /// Records that some object's facts changed (called by the watches after the store has the
    /// change, before its dependents are requeued): the next evaluation is a fresh one.
    pub fn facts_changed(&self) {
        self.version.fetch_add(1, Ordering::AcqRel);
    }

    /// The evaluation of the current caches. Re-evaluated only when some object's facts changed —
    /// a status write elsewhere does not count, so converging N objects does not cost N evaluations.
    pub fn evaluated(&self) -> Arc<Evaluator> {
        self.evaluated_seeing(|_| true)
    }

    /// As [`World::evaluated`], for a reconciler holding an object: `sees_own` tells whether an
    /// evaluation saw that object's current facts. A controller can get an object from the cache
    /// before the watch has counted its change; a cached evaluation that missed it is not used.
    pub fn evaluated_seeing(&self, sees_own: impl Fn(&Snapshot) -> bool) -> Arc<Evaluator> {
        let usable = |version| self.cached(version).filter(|hit| sees_own(hit.snapshot()));
        if let Some(hit) = usable(self.version.load(Ordering::Acquire)) {
            return hit;
        }
        // One evaluation at a time: concurrent reconciles that miss together would otherwise each
        // build a full snapshot and evaluation (memory peaks with the controllers' concurrency).
        let _single_flight = self.evaluating.lock().expect("world evaluation");
        // Read before the stores: a change counted later is at worst evaluated twice, never missed.
        let version = self.version.load(Ordering::Acquire);
        if let Some(hit) = usable(version) {
            return hit;
        }
        // The stale result is of no further use here: free it before building the next one
        // (reconciles still holding it keep it alive until they finish).
        *self.cache.lock().expect("world cache") = None;
        let started = std::time::Instant::now();
        let snapshot = Snapshot::new(
            // Shared with the cache, not copied: one set of facts per reseller however many evaluations.
            self.resellers.state().iter().map(|r| r.facts.clone()),
            self.plans.state().iter().map(|p| plan_facts(p)),
            self.connections.state().iter().map(|c| connection_facts(c)),
        );
        let evaluated = Arc::new(Evaluator::new(snapshot, &self.settings));
        self.evaluations.observe(started.elapsed());
        *self.cache.lock().expect("world cache") = Some((version, evaluated.clone()));
        evaluated
    }

    /// Whether every cached connection has a verdict (Ready True or False) for its generation.
    /// Until then a plan or reseller evaluates to `Ready=Unknown` (connection pending) and is
    /// evaluated again when the verdict arrives: two reconciles and two writes instead of one.
    pub fn connections_checked(&self) -> bool {
        self.connections
            .state()
            .iter()
            .all(|c| super::facts::connection_health(c) != policy::ConnectionHealth::Unknown)
    }

    fn cached(&self, version: u64) -> Option<Arc<Evaluator>> {
        match self.cache.lock().expect("world cache").as_ref() {
            Some((cached_version, cached)) if *cached_version == version => Some(cached.clone()),
            _ => None,
        }
    }
}

/// Remembers, per object, the digest of its facts and the dependents computed last time, so the
/// event handler (a) ignores events that changed nothing the rules read (status writes), and
/// (b) also requeues objects that depended on the object before the change (a dropped grant, a
/// re-pointed connectionRef, a deleted parent).
/// Keyed by a hash of the object's key, not a copy of its name (memory at tens of thousands).
#[derive(Default)]
pub struct DependentsTracker {
    /// Boxed: most objects never change after the initial listing (8 bytes instead of ~72).
    seen: Mutex<HashMap<u64, Seen>>,
}

/// The digest of an object's facts and the dependents computed at its last change.
type Seen = (u64, Option<Box<Dependents>>);

/// The tracker's key of an object.
fn tracked(key: &ObjectKey) -> u64 {
    let mut s = DefaultHasher::new();
    format!("{key:?}").hash(&mut s);
    s.finish()
}

impl DependentsTracker {
    /// Records an object of an initial listing without computing its dependents (every object is
    /// reconciled at start anyway; computing them for N objects would cost O(N^2)). On a relist
    /// (after a 410 or an API server restart) an object whose facts changed while the watch was
    /// down is not recorded but reported (`true`), so its dependents can be requeued once the
    /// relist is in the cache.
    pub fn initial(&self, key: &ObjectKey, facts_digest: u64) -> bool {
        let mut seen = self.seen.lock().expect("dependents tracker");
        match seen.get(&tracked(key)) {
            Some((digest, _)) if *digest != facts_digest => true,
            Some(_) => false,
            None => {
                seen.insert(tracked(key), (facts_digest, None));
                false
            }
        }
    }

    /// Whether `key`'s facts are still the ones last recorded (a status write, nothing the rules read).
    pub fn unchanged(&self, key: &ObjectKey, facts_digest: u64) -> bool {
        let seen = self.seen.lock().expect("dependents tracker");
        seen.get(&tracked(key)).is_some_and(|(d, _)| *d == facts_digest)
    }

    /// The objects to re-evaluate after `key` changed to `facts_digest` (None: deleted).
    pub fn changed(&self, world: &World, key: &ObjectKey, facts_digest: Option<u64>) -> Dependents {
        let id = tracked(key);
        let mut seen = self.seen.lock().expect("dependents tracker");
        let before = seen.get(&id).cloned();
        if let (Some((digest, _)), Some(now)) = (&before, facts_digest)
            && *digest == now
        {
            return Dependents::default();
        }
        world.facts_changed();
        let now = policy::dependents(world.evaluated().snapshot(), key);
        let mut union = now.clone();
        if let Some((_, Some(before))) = before {
            union.extend(*before);
        }
        match facts_digest {
            Some(d) => {
                seen.insert(id, (d, Some(Box::new(now))));
            }
            None => {
                seen.remove(&id);
            }
        }
        union
    }
}

/// Digest of the facts of one object (Debug of the facts struct: every field the rules read).
pub fn digest<T: std::fmt::Debug>(facts: &T) -> u64 {
    let mut s = DefaultHasher::new();
    format!("{facts:?}").hash(&mut s);
    s.finish()
}

/// The facts digest and key of an object as a mapper sees it (a deleted object has digest 0).
/// Recorded bindings are left out: the operator writes them, and they never change an outcome by
/// themselves (see `ResellerFacts::without_bindings`). A connection's uid is in: a connection
/// deleted and recreated under its name is a change its dependents must see.
pub fn reseller_change(r: &CachedReseller) -> (ObjectKey, u64) {
    (ObjectKey::Reseller(r.name_any()), digest(&r.facts.without_bindings()))
}
pub fn plan_change(p: &CustomerPlan) -> (ObjectKey, u64) {
    (ObjectKey::Plan(p.name_any()), digest(&plan_facts(p).without_binding()))
}
pub fn connection_change(c: &PartnerCenterConnection) -> (ObjectKey, u64) {
    let facts = connection_facts(c);
    (ObjectKey::Connection(facts.reference()), digest(&facts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Reseller;
    use kube::runtime::reflector::{self, store::Writer};
    use kube::runtime::watcher::Event;

    fn reseller(name: &str, short_name: &str) -> Reseller {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "channel.csp.dev/v1alpha1",
            "kind": "Reseller",
            "metadata": {"name": name, "uid": name, "generation": 1},
            "spec": {"displayName": name, "shortName": short_name, "namespace": "csp-system"},
        }))
        .expect("reseller")
    }

    fn world() -> (World, Writer<CachedReseller>) {
        let (connections, _) = reflector::store();
        let (plans, _) = reflector::store();
        let (resellers, writer) = reflector::store();
        let world = World::new(
            connections,
            plans,
            resellers,
            policy::Settings::new("csp-system"),
            Evaluations::default(),
        );
        (world, writer)
    }

    fn short_name(e: &Evaluator, name: &str) -> String {
        e.snapshot().resellers[name].short_name.clone()
    }

    #[test]
    fn the_evaluation_is_cached_until_the_watch_counts_a_facts_change() {
        let (world, mut writer) = world();
        writer.apply_watcher_event(&Event::Apply(reseller("root", "OLD").into()));
        world.facts_changed();
        let first = world.evaluated();
        assert!(
            Arc::ptr_eq(&first, &world.evaluated()),
            "no change: the same evaluation"
        );

        // The store has the change, the watch has not counted it yet: the plain lookup may
        // return the cached evaluation, a reconciler holding the new object must not get it.
        let changed = CachedReseller::from(reseller("root", "NEW"));
        writer.apply_watcher_event(&Event::Apply(changed.clone()));
        assert_eq!(short_name(&world.evaluated(), "root"), "OLD");
        let seen = world.evaluated_seeing(|s| s.resellers.get("root") == Some(&changed.facts));
        assert_eq!(short_name(&seen, "root"), "NEW");

        world.facts_changed();
        assert_eq!(short_name(&world.evaluated(), "root"), "NEW");
    }

    fn connection(uid: &str) -> PartnerCenterConnection {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "channel.csp.dev/v1alpha1",
            "kind": "PartnerCenterConnection",
            "metadata": {"name": "own", "namespace": "reseller-a", "uid": uid, "generation": 1},
            "spec": {
                "partnerTenantId": "33333333-3333-4333-8333-333333333333",
                "region": "NZ", "cspType": "IndirectProvider", "environment": "Production",
                "auth": {"mode": "AppPlusUser", "secretRef": {"name": "creds"}},
            },
        }))
        .expect("connection")
    }

    #[test]
    fn a_recreated_connection_is_a_change_a_recorded_binding_is_not() {
        // Same spec, another uid (deleted and recreated): its dependents must be requeued.
        assert_ne!(
            connection_change(&connection("u1")),
            connection_change(&connection("u2"))
        );
        assert_eq!(
            connection_change(&connection("u1")),
            connection_change(&connection("u1"))
        );

        // The operator recording a binding in the status is not a change of the rules' input;
        // the provider confirming a connection is.
        let plain = reseller("northwind", "NWD");
        let mut recorded = plain.clone();
        recorded.status = Some(
            serde_json::from_value(serde_json::json!({
                "effectivePlans": [{"plan": "p", "source": "Override", "usable": true,
                    "connection": {"namespace": "reseller-a", "name": "own"},
                    "connectionBinding": {"uid": "u1", "partnerTenantId": "t1"}}],
            }))
            .expect("status"),
        );
        assert_eq!(
            super::super::facts::reseller_facts(&recorded)
                .bindings
                .get("p")
                .map(|b| b.uid.as_str()),
            Some("u1"),
            "the binding is read from the status"
        );
        let change = |r: &Reseller| reseller_change(&r.clone().into());
        assert_eq!(change(&plain), change(&recorded));
        let mut confirmed = plain.clone();
        confirmed
            .annotations_mut()
            .insert(policy::CONFIRM_ANNOTATION.into(), "u2".into());
        assert_ne!(change(&plain), change(&confirmed));
    }
}
