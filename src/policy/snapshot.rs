//! The facts the rules work on: plain structs the controllers fill from the CRDs in their stores
//! (and from connection status), so the rules never touch Kubernetes.

use super::binding::ConnectionBinding;
use super::regions::RegionTable;
use crate::api::{ConnectionRef, CspType, CustomerType, Environment, MasterDirectory};
use jiff::Timestamp;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// One entry of `spec.services.azureAD.customerPlans[]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantFacts {
    pub plan: String,
    pub connection_override: Option<ConnectionRef>,
}

/// A Reseller as the rules see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResellerFacts {
    pub name: String,
    pub short_name: String,
    pub parent: Option<String>,
    pub customer_type: CustomerType,
    pub namespace: Option<String>,
    pub region: Option<String>,
    pub sandbox_only: bool,
    pub azure_ad_enabled: bool,
    pub grants: Vec<GrantFacts>,
    /// `metadata.creationTimestamp`; with the name it decides "the older object keeps it".
    /// None (not yet persisted) counts as newest.
    pub created: Option<Timestamp>,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    /// Bindings recorded in its status, by plan (`effectivePlans[].connection` and
    /// `.connectionBinding`): the operator's memory of what its overrides resolved to.
    pub bindings: Bindings,
    /// Connection uids the provider confirmed (annotation `channel.csp.dev/confirm-connection`).
    pub confirmed_connections: BTreeSet<String>,
    /// `spec.indirectReseller.tenantId`, lowercased: rule 13 associates customers with it.
    pub indirect_reseller_tenant_id: Option<String>,
}

impl ResellerFacts {
    /// Rule 7: `sandboxOnly` is implied by customer type Test or Demo.
    pub fn is_sandbox_only(&self) -> bool {
        self.sandbox_only || matches!(self.customer_type, CustomerType::Test | CustomerType::Demo)
    }

    pub fn grant(&self, plan: &str) -> Option<&GrantFacts> {
        self.grants.iter().find(|g| g.plan == plan)
    }

    /// Older first; ties broken by name so the order is total and stable.
    pub fn age_cmp(&self, other: &ResellerFacts) -> Ordering {
        let key = |r: &ResellerFacts| (r.created.is_none(), r.created);
        key(self).cmp(&key(other)).then_with(|| self.name.cmp(&other.name))
    }

    /// The facts without the recorded bindings. A binding write never changes an outcome by
    /// itself (it records what the evaluation already decided, see `binding`), so it is not a
    /// change that must re-evaluate anything: otherwise every first status write would.
    pub fn without_bindings(&self) -> ResellerFacts {
        ResellerFacts {
            bindings: Bindings::default(),
            ..self.clone()
        }
    }
}

/// Recorded bindings by plan, sorted by plan. A sorted list, not a `BTreeMap`: a reseller records
/// a few, and a map of even one entry allocates a whole B-tree node (~1.3 KB per reseller held in
/// every facts snapshot; bench/README.md, "Flat memory").
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bindings(Vec<(String, ConnectionBinding)>);

impl Bindings {
    pub fn get(&self, plan: &str) -> Option<&ConnectionBinding> {
        self.0
            .binary_search_by(|(p, _)| p.as_str().cmp(plan))
            .ok()
            .map(|i| &self.0[i].1)
    }
}

/// As collecting into a map: one binding per plan, the last one given wins.
impl FromIterator<(String, ConnectionBinding)> for Bindings {
    fn from_iter<I: IntoIterator<Item = (String, ConnectionBinding)>>(iter: I) -> Self {
        let mut v: Vec<(String, ConnectionBinding)> = iter.into_iter().collect();
        // Stable: among equal plans the given order stays, so keeping the last of each run is "last wins".
        v.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(String, ConnectionBinding)> = Vec::with_capacity(v.len());
        for (plan, binding) in v {
            match out.last_mut() {
                Some(last) if last.0 == plan => last.1 = binding,
                _ => out.push((plan, binding)),
            }
        }
        out.shrink_to_fit();
        Bindings(out)
    }
}

/// A CustomerPlan as the rules see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanFacts {
    pub name: String,
    pub display_name: String,
    pub region: String,
    pub csp_type: CspType,
    pub environment: Environment,
    pub connection_ref: ConnectionRef,
    pub allow_tenant_creation: bool,
    /// `spec.syncPolicy.masterDirectory`, carried through untouched.
    pub master_directory: Option<MasterDirectory>,
    pub deleting: bool,
    /// The binding recorded in its status (`status.connection` and `.connectionBinding`).
    pub binding: Option<ConnectionBinding>,
    /// Connection uids the provider confirmed (annotation `channel.csp.dev/confirm-connection`).
    pub confirmed_connections: BTreeSet<String>,
}

impl PlanFacts {
    /// The facts without the recorded binding (see [`ResellerFacts::without_bindings`]).
    pub fn without_binding(&self) -> PlanFacts {
        PlanFacts {
            binding: None,
            ..self.clone()
        }
    }
}

/// Outcome of rule 3 as the connection reconciler decided it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectionHealth {
    Ready,
    NotReady {
        reason: String,
        message: String,
    },
    /// Not checked yet (new connection, operator just started).
    Unknown,
}

/// A PartnerCenterConnection as the rules see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionFacts {
    pub namespace: String,
    pub name: String,
    /// `metadata.uid`: a connection deleted and recreated under the same name is another one.
    pub uid: String,
    /// `spec.partnerTenantId`: the Partner Center account.
    pub partner_tenant_id: String,
    pub region: String,
    pub csp_type: CspType,
    pub environment: Environment,
    pub health: ConnectionHealth,
    pub deleting: bool,
    /// `status.customerCount` at the last sync (rule 12's sandbox quota counts from it).
    pub customer_count: Option<u64>,
    /// `status.lastSyncTime`, seconds since the epoch.
    pub last_sync: Option<i64>,
    /// `status.linkedIndirectResellers`, lowercased: the declared indirect resellers the last sync
    /// saw Active (rule 13).
    pub linked_indirect_resellers: BTreeSet<String>,
}

impl ConnectionFacts {
    pub fn reference(&self) -> ConnectionRef {
        ConnectionRef {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }
}

/// Operator settings the rules depend on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Namespace whose connections belong to the service provider (the root's namespace).
    pub provider_namespace: String,
    /// Rule 7: a non-root Standard reseller granted a Sandbox plan is an error, not a warning.
    pub sandbox_standard_is_error: bool,
    pub regions: RegionTable,
}

impl Settings {
    pub fn new(provider_namespace: impl Into<String>) -> Self {
        Settings {
            provider_namespace: provider_namespace.into(),
            sandbox_standard_is_error: false,
            regions: RegionTable::default(),
        }
    }
}

/// Everything the rules see at one moment, keyed for lookup. A reseller's facts are shared (the
/// operator's cache holds the same ones): a snapshot at tens of thousands of resellers is an index,
/// not a copy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub resellers: BTreeMap<String, Arc<ResellerFacts>>,
    pub plans: BTreeMap<String, PlanFacts>,
    pub connections: BTreeMap<ConnectionRef, ConnectionFacts>,
}

impl Snapshot {
    pub fn new(
        resellers: impl IntoIterator<Item = impl Into<Arc<ResellerFacts>>>,
        plans: impl IntoIterator<Item = PlanFacts>,
        connections: impl IntoIterator<Item = ConnectionFacts>,
    ) -> Self {
        Snapshot {
            resellers: resellers
                .into_iter()
                .map(|r| {
                    let r = r.into();
                    (r.name.clone(), r)
                })
                .collect(),
            plans: plans.into_iter().map(|p| (p.name.clone(), p)).collect(),
            connections: connections.into_iter().map(|c| (c.reference(), c)).collect(),
        }
    }
}
