//! What the three controllers share: the watch caches (stores) of the three kinds, the rules'
//! evaluation of them, and which objects depend on a changed one. Related objects are found through
//! these caches, never through extra API calls.

use super::facts::{connection_facts, plan_facts, reseller_facts};
use crate::api::{CustomerPlan, PartnerCenterConnection, Reseller};
use crate::policy::{self, Dependents, Evaluation, ObjectKey, Snapshot};
use kube::runtime::reflector::Store;
use kube::{Resource, ResourceExt};
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};

/// A snapshot of the facts and the rules' verdict on it.
pub struct Evaluated {
    pub snapshot: Snapshot,
    pub evaluation: Evaluation,
}

pub struct World {
    pub connections: Store<PartnerCenterConnection>,
    pub plans: Store<CustomerPlan>,
    pub resellers: Store<Reseller>,
    pub settings: policy::Settings,
    cache: Mutex<Option<(u64, Arc<Evaluated>)>>,
    evaluating: Mutex<()>,
}

impl World {
    pub fn new(
        connections: Store<PartnerCenterConnection>,
        plans: Store<CustomerPlan>,
        resellers: Store<Reseller>,
        settings: policy::Settings,
    ) -> Self {
        Self {
            connections,
            plans,
            resellers,
            settings,
            cache: Mutex::new(None),
            evaluating: Mutex::new(()),
        }
    }

    /// The evaluation of the current caches. Re-evaluated only when some object's facts changed —
    /// a status write elsewhere does not count, so converging N objects does not cost N evaluations.
    /// The key is computed from the stores at call time, so a stale result is never returned for
    /// newer facts (at worst a newer result is cached under an older key and recomputed once).
    pub fn evaluated(&self) -> Arc<Evaluated> {
        let key = self.facts_key();
        if let Some(hit) = self.cached(key) {
            return hit;
        }
        // One evaluation at a time: concurrent reconciles that miss together would otherwise each
        // build a full snapshot and evaluation (memory peaks with the controllers' concurrency).
        let _single_flight = self.evaluating.lock().expect("world evaluation");
        if let Some(hit) = self.cached(key) {
            return hit;
        }
        // The stale result is of no further use here: free it before building the next one
        // (reconciles still holding it keep it alive until they finish).
        *self.cache.lock().expect("world cache") = None;
        let snapshot = Snapshot::new(
            self.resellers.state().iter().map(|r| reseller_facts(r)),
            self.plans.state().iter().map(|p| plan_facts(p)),
            self.connections.state().iter().map(|c| connection_facts(c)),
        );
        let evaluation = policy::evaluate(&snapshot, &self.settings);
        let evaluated = Arc::new(Evaluated { snapshot, evaluation });
        *self.cache.lock().expect("world cache") = Some((key, evaluated.clone()));
        evaluated
    }

    fn cached(&self, key: u64) -> Option<Arc<Evaluated>> {
        match self.cache.lock().expect("world cache").as_ref() {
            Some((cached_key, cached)) if *cached_key == key => Some(cached.clone()),
            _ => None,
        }
    }

    /// Order-independent digest of everything the facts are derived from: identity, generation
    /// (spec), deletion, and for connections the published Ready condition.
    fn facts_key(&self) -> u64 {
        fn h(x: impl Hash) -> u64 {
            let mut s = DefaultHasher::new();
            x.hash(&mut s);
            s.finish()
        }
        let meta_key = |kind: &str, m: &kube::api::ObjectMeta| {
            h((
                kind,
                &m.uid,
                &m.namespace,
                &m.name,
                m.generation,
                m.deletion_timestamp.is_some(),
            ))
        };
        let mut sum: u64 = 0;
        for r in self.resellers.state() {
            sum = sum.wrapping_add(meta_key("r", r.meta()));
        }
        for p in self.plans.state() {
            sum = sum.wrapping_add(meta_key("p", p.meta()));
        }
        for c in self.connections.state() {
            let health = format!("{:?}", super::facts::connection_health(&c));
            sum = sum.wrapping_add(meta_key("c", c.meta()) ^ h(health));
        }
        sum
    }
}

/// Remembers, per object, the digest of its facts and the dependents computed last time, so the
/// event handler (a) ignores events that changed nothing the rules read (status writes), and
/// (b) also requeues objects that depended on the object before the change (a dropped grant, a
/// re-pointed connectionRef, a deleted parent).
#[derive(Default)]
pub struct DependentsTracker {
    seen: Mutex<HashMap<String, (u64, Option<Dependents>)>>,
}

impl DependentsTracker {
    /// Records an object of an initial listing without computing its dependents (every object is
    /// reconciled at start anyway; computing them for N objects would cost O(N^2)). On a relist
    /// (after a 410 or an API server restart) an object whose facts changed while the watch was
    /// down is not recorded but reported (`true`), so its dependents can be requeued once the
    /// relist is in the cache.
    pub fn initial(&self, key: &ObjectKey, facts_digest: u64) -> bool {
        let mut seen = self.seen.lock().expect("dependents tracker");
        match seen.get(&format!("{key:?}")) {
            Some((digest, _)) if *digest != facts_digest => true,
            Some(_) => false,
            None => {
                seen.insert(format!("{key:?}"), (facts_digest, None));
                false
            }
        }
    }

    /// The objects to re-evaluate after `key` changed to `facts_digest` (None: deleted).
    pub fn changed(&self, world: &World, key: &ObjectKey, facts_digest: Option<u64>) -> Dependents {
        let id = format!("{key:?}");
        let mut seen = self.seen.lock().expect("dependents tracker");
        let before = seen.get(&id).cloned();
        if let (Some((digest, _)), Some(now)) = (&before, facts_digest)
            && *digest == now
        {
            return Dependents::default();
        }
        let now = policy::dependents(&world.evaluated().snapshot, key);
        let mut union = now.clone();
        if let Some((_, Some(before))) = before {
            union.extend(before);
        }
        match facts_digest {
            Some(d) => {
                seen.insert(id, (d, Some(now)));
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
pub fn reseller_change(r: &Reseller) -> (ObjectKey, u64) {
    (ObjectKey::Reseller(r.name_any()), digest(&reseller_facts(r)))
}
pub fn plan_change(p: &CustomerPlan) -> (ObjectKey, u64) {
    (ObjectKey::Plan(p.name_any()), digest(&plan_facts(p)))
}
pub fn connection_change(c: &PartnerCenterConnection) -> (ObjectKey, u64) {
    let facts = connection_facts(c);
    (ObjectKey::Connection(facts.reference()), digest(&facts))
}
