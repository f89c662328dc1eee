//! The `Observed` condition of a provisioned Customer (docs/customers.md, "Audit"): what the last
//! sync of its pinned connection listed, read from the connection reconciler's memory; no Partner
//! Center call here. The verdict is `policy::inventory::observe`'s, the same the connection's counts
//! come from. A new False reason is also a Warning Event (not repeated while it stays).

use super::CustomerContext;
use crate::api::conditions::{self, ConditionStatus};
use crate::api::{Customer, CustomerStatus};
use crate::controller::connection::audit;
use crate::policy::inventory as rules;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

pub const OBSERVED: &str = "Observed";

/// `st` with its `Observed` condition as of the pinned connection's last sync.
pub fn with_observed(cctx: &CustomerContext, customer: &Customer, mut st: CustomerStatus) -> CustomerStatus {
    let ctx = &cctx.shared;
    let Some(reference) = st.connection.clone() else {
        return st;
    };
    let facts = crate::controller::facts::customer_facts(customer);
    let conn = ctx
        .world
        .connections
        .get(&ObjectRef::new(&reference.name).within(&reference.namespace));
    let uid = conn.as_ref().and_then(|c| c.uid());
    let inventory = uid.as_deref().and_then(|u| cctx.memory.inventory(u));
    let details = uid.as_deref().and_then(|u| cctx.memory.details_of(u));
    let evaluator = ctx.world.evaluated();
    let conn_facts = evaluator.snapshot().connections.get(&reference);
    let declared = audit::declared_one(&facts, conn_facts, &evaluator, &ctx.world);
    let listed = inventory
        .as_ref()
        .map(|i| declared.tenant_id.as_deref().is_some_and(|t| i.lists_tenant(t)));
    let detail = match (&details, &declared.tenant_id) {
        (Some(d), Some(t)) => d.lock().expect("details").get(t).cloned(),
        _ => None,
    };
    let region = conn.as_ref().map(|c| c.spec.region.clone()).unwrap_or_default();
    let listed_at = inventory.as_ref().map(|i| i.synced_at.as_second()).unwrap_or(0);
    let verdict = rules::observe(
        &declared,
        listed,
        listed_at,
        detail.as_ref(),
        &region,
        &ctx.world.settings.regions,
    );
    let who = format!("Customer '{}'", declared.key);
    let (status, reason, message) = rules::condition(&verdict, &who, &format!("{reference}"));
    let before = conditions::find_condition(&st.conditions, OBSERVED).map(|c| (c.status.clone(), c.reason.clone()));
    conditions::set(
        &mut st.conditions,
        OBSERVED,
        status,
        reason,
        &message,
        customer.metadata.generation,
        jiff::Timestamp::now(),
    );
    let was_this_finding = before.is_some_and(|(s, r)| s == ConditionStatus::False.as_str() && r == reason);
    // Announced once per finding: the memory also covers a second reconcile that still sees the
    // old status in the watch cache.
    let finding = verdict.finding();
    let new_finding = match (&details, &declared.tenant_id) {
        (Some(d), Some(t)) => d.lock().expect("details").announce(t, finding),
        _ => finding.is_some(),
    };
    if status == ConditionStatus::False && !was_this_finding && new_finding {
        ctx.events.publish(customer, true, reason, "Audit", message);
    }
    st
}
