//! The audit after each successful sync (docs/customers.md, "Audit"): the listed customers against
//! the Customers pinned to the connection. The rules are `policy::inventory`'s; this module only
//! gathers their inputs from the watch caches and the memory, fetches details within the budget,
//! requeues the Customers whose verdict may have changed and publishes counts, metrics and Events.

use super::ConnectionContext;
use super::inventory::{Changes, Inventory};
use crate::api::{ConnectionRef, PartnerCenterConnection, ProvisioningPhase};
use crate::controller::context::Context;
use crate::controller::world::World;
use crate::partner_center::PartnerCenterApi;
use crate::policy::inventory::{self as rules, Comparison, Declared};
use crate::policy::{ConnectionFacts, CustomerFacts, Evaluator, TenantRequest};
use crate::runtime::metrics::{ConnectionLabels, FindingLabels};
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use std::collections::BTreeSet;

/// One Customer as the comparison sees it, with the association rule 13 expects under `conn`.
pub fn declared_one(
    f: &CustomerFacts,
    conn: Option<&ConnectionFacts>,
    evaluator: &Evaluator,
    world: &World,
) -> Declared {
    let reseller = f.reseller.clone().or_else(|| {
        evaluator
            .hierarchy()
            .reseller_for_namespace(&f.namespace)
            .map(str::to_string)
    });
    let association = match conn {
        Some(c) => rules::expected_association(
            c,
            reseller.as_deref(),
            evaluator.hierarchy(),
            evaluator.snapshot(),
            &world.settings,
        ),
        None => rules::Association::NotChecked,
    };
    Declared {
        key: format!("{}/{}", f.namespace, f.name),
        tenant_id: f.tenant_id.clone(),
        provisioned: f.tenant_id.is_some()
            && matches!(f.phase, Some(ProvisioningPhase::Created | ProvisioningPhase::Adopted)),
        started_at: f.started_at,
        association,
    }
}

fn pinned_to<'a>(facts: &'a [CustomerFacts], conn: &'a ConnectionRef) -> impl Iterator<Item = &'a CustomerFacts> {
    facts
        .iter()
        .filter(move |f| f.pinned.as_ref().map(|p| &p.connection) == Some(conn))
}

/// The comparison of connection `conn` (uid `uid`) as of its last sync; None before one.
pub fn comparison(cctx: &ConnectionContext, conn: &PartnerCenterConnection, uid: &str) -> Option<Comparison> {
    let inventory = cctx.memory.inventory(uid)?;
    let world = &cctx.shared.world;
    let reference = ConnectionRef {
        namespace: conn.namespace().unwrap_or_default(),
        name: conn.name_any(),
    };
    let evaluator = world.evaluated();
    let conn_facts = evaluator.snapshot().connections.get(&reference);
    let all = cctx.customers.get();
    let declared: Vec<Declared> = pinned_to(&all, &reference)
        .map(|f| declared_one(f, conn_facts, &evaluator, world))
        .collect();
    let details = cctx.memory.details_of(uid).unwrap_or_default();
    let details = details.lock().expect("details");
    Some(rules::compare(
        inventory.len(),
        inventory.synced_at.as_second(),
        &|t| inventory.lists_tenant(t),
        &declared,
        &|t| details.get(t).cloned(),
        &conn.spec.region,
        &world.settings.regions,
    ))
}

/// After a sync listed `inventory`: fetch the details the budget allows, then requeue the Customers
/// whose verdict may have changed (their tenant appeared, vanished or changed, or its details came;
/// all pinned ones after the first inventory of this process).
#[allow(clippy::too_many_arguments)]
pub async fn after_sync(
    cctx: &ConnectionContext,
    uid: &str,
    name: &str,
    namespace: &str,
    conn_name: &str,
    inventory: &Inventory,
    changes: Option<Changes>,
    pc: &dyn PartnerCenterApi,
) {
    let ctx = &cctx.shared;
    let reference = ConnectionRef {
        namespace: namespace.to_string(),
        name: conn_name.to_string(),
    };
    let all = cctx.customers.get();
    let details = cctx.memory.details(uid, name);
    let mut affected: BTreeSet<String> = BTreeSet::new();
    affected.extend(read_audit_feed(pc, &details, &ctx.metrics).await);
    let pending: Vec<String> = {
        let d = details.lock().expect("details");
        let mut seen = BTreeSet::new();
        pinned_to(&all, &reference)
            .filter_map(|f| f.tenant_id.clone())
            .filter(|t| inventory.lists_tenant(t) && d.get(t).is_none() && seen.insert(t.clone()))
            .collect()
    };
    if !pending.is_empty() && ctx.settings.inventory_detail_calls_per_hour > 0 {
        let made = super::sync::fetch_details(
            pc,
            &pending,
            &details,
            ctx.settings.inventory_detail_calls_per_hour,
            ctx.settings.partner_center_sync_deadline,
            &ctx.metrics,
        )
        .await;
        let d = details.lock().expect("details");
        affected.extend(pending.iter().filter(|t| d.get(t).is_some()).cloned());
        tracing::debug!(
            made,
            pending = pending.len(),
            "fetched customer details within the budget"
        );
    }
    let everyone = changes.is_none();
    if let Some(c) = changes {
        affected.extend(c.appeared.into_iter().chain(c.vanished).chain(c.changed));
    }
    if !everyone && affected.is_empty() {
        return;
    }
    for f in pinned_to(&all, &reference) {
        let by_tenant = f.tenant_id.as_ref().is_some_and(|t| affected.contains(t));
        // Awaiting acceptance: the tenant id may not be recorded yet, only the domain asked for.
        let by_domain = match &f.tenant {
            TenantRequest::Existing { tenant_id: Some(t), .. } => affected.contains(t),
            TenantRequest::Existing { domain: Some(d), .. } => {
                inventory.lists_domain(d).is_some_and(|t| affected.contains(&t))
            }
            _ => false,
        };
        if everyone || by_tenant || by_domain {
            let _ = cctx
                .requeue_customers
                .unbounded_send(ObjectRef::new(&f.name).within(&f.namespace));
        }
    }
}

/// How far before the last read the next one starts: records are dated by Partner Center's clock.
const AUDIT_OVERLAP: jiff::SignedDuration = jiff::SignedDuration::from_secs(300);
/// Partner Center refuses start dates more than 90 days back; stay inside with a margin.
const AUDIT_MAX_BACK: jiff::SignedDuration = jiff::SignedDuration::from_hours(24 * 89);

/// One audit-feed call per sync once details are cached: the customers its records name since the
/// last read lose their cached details (fetched again within the budget). Cheaper than re-fetching
/// every tenant; a failed read keeps the watermark and is tried at the next sync. Returns the
/// tenants invalidated.
async fn read_audit_feed(
    pc: &dyn PartnerCenterApi,
    details: &std::sync::Mutex<super::inventory::Details>,
    metrics: &crate::runtime::metrics::Metrics,
) -> Vec<String> {
    let now = jiff::Timestamp::now();
    let since = {
        let mut d = details.lock().expect("details");
        match d.audited_since {
            // Nothing cached before the first read: there is nothing to invalidate yet.
            None => {
                d.audited_since = Some(now);
                return Vec::new();
            }
            Some(s) => s,
        }
    };
    let floor = now.checked_sub(AUDIT_MAX_BACK).unwrap_or(now);
    let start = since.checked_sub(AUDIT_OVERLAP).unwrap_or(since).max(floor);
    let started = std::time::Instant::now();
    let result = pc.audited_customers(start).await;
    let outcome = result.as_ref().err().map(|e| e.reason()).unwrap_or("Ok");
    metrics.observe_partner_center_call_took("audit_records", outcome, started.elapsed());
    let Ok(ids) = result else {
        return Vec::new();
    };
    let mut d = details.lock().expect("details");
    d.audited_since = Some(now);
    ids.into_iter().filter(|t| d.invalidate(t)).collect()
}

/// The findings counted per connection, with the label each has in `pco_inventory_findings`.
fn findings(i: &crate::api::Inventory) -> [(&'static str, i64); 5] {
    [
        ("undeclared", i.undeclared),
        ("missing", i.missing),
        ("outsideRegion", i.outside_region),
        ("wrongReseller", i.wrong_reseller),
        ("detailsPending", i.details_pending),
    ]
}

/// Sets the metrics of the connection's counts, and queues a Warning Event for each finding whose
/// count rose since the published status (new findings only; an unchanged audit says nothing).
pub fn publish(
    ctx: &Context,
    conn: &PartnerCenterConnection,
    counts: &crate::api::Inventory,
    details: Option<&std::sync::Mutex<super::inventory::Details>>,
) {
    let namespace = conn.namespace().unwrap_or_default();
    let name = conn.name_any();
    ctx.metrics
        .inventory_customers
        .get_or_create(&ConnectionLabels {
            namespace: namespace.clone(),
            name: name.clone(),
        })
        .set(counts.customers);
    // The counts last announced in this process (else the published ones): a second reconcile
    // before the watch cache has the new status must not announce the same rise again.
    let announced = details.and_then(|d| d.lock().expect("details").announced_counts.replace(counts.clone()));
    let before = announced.or_else(|| conn.status.as_ref().and_then(|s| s.inventory.clone()));
    let before_counts = before.as_ref().map(findings);
    for (i, (finding, n)) in findings(counts).into_iter().enumerate() {
        ctx.metrics
            .inventory_findings
            .get_or_create(&FindingLabels {
                connection_namespace: namespace.clone(),
                connection: name.clone(),
                finding: finding.to_string(),
            })
            .set(n);
        let was = before_counts.map(|b| b[i].1).unwrap_or(0);
        if finding == "detailsPending" || n <= was {
            continue;
        }
        let (reason, note) = match finding {
            "undeclared" => (
                "UndeclaredCustomers",
                format!(
                    "the account lists {n} customers that no Customer pinned to this connection declares (was {was}): \
                     declare them as Customers with spec.tenant.existing, or end the relationship in Partner Center"
                ),
            ),
            "missing" => (
                rules::reasons::TENANT_GONE,
                format!(
                    "{n} provisioned Customers pinned to this connection are no longer listed by the account (was {was}); \
                     their Observed condition names them"
                ),
            ),
            "outsideRegion" => (
                rules::reasons::COUNTRY_OUTSIDE_REGION,
                format!(
                    "{n} declared customers have a country outside region {} (was {was}); their Observed condition names them",
                    conn.spec.region
                ),
            ),
            _ => (
                rules::reasons::WRONG_RESELLER,
                format!(
                    "{n} declared customers are associated with another indirect reseller than declared (was {was}); \
                     their Observed condition names them"
                ),
            ),
        };
        ctx.events.publish(conn, true, reason, "Audit", note);
    }
}
