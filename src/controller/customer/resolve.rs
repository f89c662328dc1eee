//! Stage 1, resolve: the rules' decision (src/policy/customer.rs) for one Customer over the watch
//! caches — every Customer's facts (duplicates, the sandbox quota) and the evaluation of the
//! connections, plans and resellers. Nothing is called; a refusal stops the reconcile here.

use crate::api::Customer;
use crate::controller::facts::customer_facts;
use crate::controller::world::World;
use crate::policy::customer::{CustomerDecision, CustomerFacts, decide};
use kube::runtime::reflector::Store;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The facts of every cached Customer, rebuilt only after the Customer watch saw a change (so N
/// reconciles in a row do not rebuild N times).
pub struct AllFacts {
    store: Store<Customer>,
    version: AtomicU64,
    cache: Mutex<Option<(u64, Arc<Vec<CustomerFacts>>)>>,
}

impl AllFacts {
    pub fn new(store: Store<Customer>) -> Self {
        AllFacts {
            store,
            version: AtomicU64::new(0),
            cache: Mutex::new(None),
        }
    }

    /// Called by the Customer watch after its store has a change.
    pub fn changed(&self) {
        self.version.fetch_add(1, Ordering::AcqRel);
    }

    pub fn store(&self) -> &Store<Customer> {
        &self.store
    }

    pub fn get(&self) -> Arc<Vec<CustomerFacts>> {
        // Read before the store: a change counted later is at worst rebuilt twice, never missed.
        let version = self.version.load(Ordering::Acquire);
        let mut cache = self.cache.lock().expect("customer facts");
        if let Some((v, facts)) = cache.as_ref()
            && *v == version
        {
            return facts.clone();
        }
        let facts = Arc::new(self.store.state().iter().map(|c| customer_facts(c)).collect::<Vec<_>>());
        *cache = Some((version, facts.clone()));
        facts
    }
}

/// The decision for `customer` (its own facts from the object in hand, which may be newer than
/// the cache).
pub fn resolve(world: &World, all: &AllFacts, customer: &Customer) -> (CustomerFacts, CustomerDecision) {
    let own = customer_facts(customer);
    let others = all.get();
    let evaluator = world.evaluated();
    let decision = decide(&own, &others, &evaluator, &world.settings);
    (own, decision)
}
