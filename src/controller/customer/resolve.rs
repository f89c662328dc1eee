//! Stage 1, resolve: the rules' decision (src/policy/customer.rs) for one Customer over the watch
//! caches — every Customer's facts (duplicates, the sandbox quota) and the evaluation of the
//! connections, plans and resellers. Nothing is called; a refusal stops the reconcile here.

use crate::api::{ConnectionRef, Customer};
use crate::controller::facts::customer_facts;
use crate::controller::world::World;
use crate::policy::customer::{CustomerDecision, CustomerFacts, TenantRequest, decide};
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

/// What the connection syncs' inventories (kept in the connection reconciler's memory) say about a
/// tenant. Read from memory only: asking costs no Partner Center call.
pub trait Listings: Send + Sync {
    /// Every connection whose last sync listed the tenant `tenant` names (tenant id or domain).
    fn listed_under(&self, tenant: &TenantRequest) -> Vec<ConnectionRef>;
    /// What the last sync of connection `conn_uid` says about `tenant`.
    fn listed(&self, conn_uid: &str, tenant: &TenantRequest) -> Listed;
}

/// One connection's inventory about one tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listed {
    /// The connection has not synced an inventory since the operator started.
    NoInventory,
    NotListed,
    /// Listed, with its tenant id.
    Listed(String),
}

/// The decision for `customer` (its own facts from the object in hand, which may be newer than
/// the cache, and the inventories' listings of its tenant).
pub fn resolve(
    world: &World,
    all: &AllFacts,
    listings: &dyn Listings,
    customer: &Customer,
) -> (CustomerFacts, CustomerDecision) {
    let mut own = customer_facts(customer);
    if matches!(own.tenant, TenantRequest::Existing { .. }) {
        own.listed_under = listings.listed_under(&own.tenant);
    }
    let others = all.get();
    let evaluator = world.evaluated();
    let decision = decide(&own, &others, &evaluator, &world.settings);
    (own, decision)
}

/// The inventories the connection syncs keep (src/controller/connection/inventory.rs).
impl Listings for crate::controller::connection::memory::Memory {
    fn listed_under(&self, tenant: &TenantRequest) -> Vec<ConnectionRef> {
        self.inventories()
            .into_iter()
            .filter(|(_, _, inventory)| listed_in(inventory, tenant).is_some())
            .map(|(_, connection, _)| connection)
            .collect()
    }

    fn listed(&self, conn_uid: &str, tenant: &TenantRequest) -> Listed {
        match self.inventory(conn_uid) {
            None => Listed::NoInventory,
            Some(inventory) => listed_in(&inventory, tenant).map_or(Listed::NotListed, Listed::Listed),
        }
    }
}

/// The tenant id under which `inventory` lists `tenant` (by tenant id, else by domain).
fn listed_in(
    inventory: &crate::controller::connection::inventory::Inventory,
    tenant: &TenantRequest,
) -> Option<String> {
    let TenantRequest::Existing { tenant_id, domain } = tenant else {
        return None;
    };
    if let Some(id) = tenant_id.as_deref().filter(|id| inventory.lists_tenant(id)) {
        return Some(id.to_ascii_lowercase());
    }
    domain.as_deref().and_then(|d| inventory.lists_domain(d))
}
