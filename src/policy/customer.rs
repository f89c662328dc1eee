//! Rules 11–18 (docs/rules.md): whether a Customer may be provisioned, adopted or moved, and through
//! which connection. Pure: the reconciler fills [`CustomerFacts`] (controller/facts.rs), calls [`decide`]
//! and calls Partner Center only through what [`CustomerDecision::Proceed`] names.

use super::evaluate::Evaluator;
use super::finding::{Finding, reasons};
use super::hierarchy::Hierarchy;
use super::snapshot::{ConnectionFacts, ConnectionHealth, Settings, Snapshot};
use super::verify::SANDBOX_CUSTOMER_QUOTA;
use crate::api::{ConnectionRef, ConnectionSource, CspType, Environment, ProvisioningPhase};
use std::cmp::Ordering;

/// A Customer as the rules see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerFacts {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// metadata.creationTimestamp in seconds since the epoch: "the older keeps it" (ties: namespace, then name).
    pub created: i64,
    /// spec.reseller (None = the namespace's owner).
    pub reseller: Option<String>,
    /// spec.plan.
    pub plan: String,
    pub tenant: TenantRequest,
    /// spec.deletionPolicy == Delete.
    pub delete_on_deletion: bool,
    /// status.connection + status.source, once pinned.
    pub pinned: Option<Pinned>,
    /// status.provisioning.phase.
    pub phase: Option<ProvisioningPhase>,
    /// status.provisioning.startedAt, seconds since the epoch.
    pub started_at: Option<i64>,
    /// status.tenantId (lowercased).
    pub tenant_id: Option<String>,
    pub deleting: bool,
    /// status.placement: the reseller and plan in effect, recorded when the tenant was provisioned
    /// and changed only by an applied move (rule 15).
    pub placement: Option<Placement>,
    /// status.associatedPartnerId (lowercased): the indirect association Partner Center recorded.
    pub associated_partner_id: Option<String>,
    /// status.country (upper-case): the tenant's country as Partner Center reported it at adoption.
    pub country: Option<String>,
    /// The connections whose last sync listed this Customer's tenant (by tenant id or domain):
    /// filled by the reconciler from the in-memory inventories, empty in facts built from objects.
    pub listed_under: Vec<ConnectionRef>,
}

/// The reseller and plan a provisioned Customer is placed under (status.placement).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    pub reseller: String,
    pub plan: String,
}

impl std::fmt::Display for Placement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "reseller '{}', plan '{}'", self.reseller, self.plan)
    }
}

/// spec.tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TenantRequest {
    /// domain = "<domainPrefix>.onmicrosoft.com", lowercased; country ISO-2 upper-case.
    New { domain: String, country: String },
    /// Lowercased.
    Existing {
        tenant_id: Option<String>,
        domain: Option<String>,
    },
}

/// The connection a Customer was pinned to at its first Partner Center call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pinned {
    pub connection: ConnectionRef,
    pub source: ConnectionSource,
}

/// What the reconciler may do for one Customer. Pure: nothing here calls anything.
#[derive(Clone, Debug, PartialEq, Eq)]
// One decision per reconcile, never kept in bulk: boxing the Route would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum CustomerDecision {
    /// Nothing may be called; publish Ready=False with this finding (reason + message naming the fix).
    Refused(Finding),
    /// Provision (or keep) through `route`.
    Proceed(Route),
}

/// The one connection a Customer is provisioned through, and what to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The pinned one if pinned, else the effective one.
    pub connection: ConnectionRef,
    pub source: ConnectionSource,
    /// The Partner Center account behind it (ConnectionFacts.partner_tenant_id).
    pub partner_tenant_id: String,
    pub sandbox: bool,
    /// The resolved reseller (spec.reseller or the namespace owner).
    pub reseller: String,
    /// Rule 13: the nearest indirect reseller's tenant id to send as associatedPartnerId, or None.
    pub associated_partner_id: Option<String>,
    /// Rule 15 EffectiveConnectionChanged, etc.: Ready stays True but the warning is published.
    pub warnings: Vec<Finding>,
    /// The reseller and plan in effect once this decision is applied (status.placement).
    pub placement: Placement,
    /// Rule 15: Some(previous placement) when this decision applies a move of a provisioned
    /// Customer on its pinned connection; the reconciler records it and publishes `Moved`.
    pub moved_from: Option<Placement>,
    /// The plan's region (rule 12: an adopted tenant's country is checked against it).
    pub region: String,
}

/// Rule 12 for an adopted tenant: its country as Partner Center reports it must lie in the plan's
/// region. `None` when it does (or when Partner Center reported no country: nothing to judge).
pub fn adopted_country_outside_region(
    who: &str,
    plan: &str,
    region: &str,
    country: Option<&str>,
    settings: &Settings,
) -> Option<Finding> {
    let country = country.map(str::trim).filter(|c| !c.is_empty())?.to_ascii_uppercase();
    if settings.regions.country_in_region(region, &country) {
        return None;
    }
    Some(Finding::new(
        reasons::COUNTRY_OUTSIDE_REGION,
        format!(
            "{who} adopted a tenant whose country in Partner Center is '{country}', which is not in region \
             '{region}' of CustomerPlan '{plan}': move the Customer to a plan (spec.plan) whose region holds \
             '{country}' on the same connection, or delete this Customer; the tenant stays a customer of the \
             connection either way"
        ),
    ))
}

/// Rule 18: the tenant is deleted with the Customer only through a Sandbox connection.
pub fn may_delete_tenant(route: &Route, c: &CustomerFacts) -> bool {
    route.sandbox && c.delete_on_deletion
}

impl CustomerFacts {
    fn who(&self) -> String {
        format!("Customer '{}/{}'", self.namespace, self.name)
    }

    /// Nothing has been created or requested from Partner Center yet: the checks "before any call"
    /// (rules 12, 13) still apply. Once a creation or adoption is under way they no longer refuse,
    /// so a later change of a plan or a count never strands a tenant half-provisioned.
    fn before_first_call(&self) -> bool {
        matches!(self.phase, None | Some(ProvisioningPhase::Pending))
    }

    /// The tenant exists (or its creation is in flight) under this Customer.
    fn holds_tenant(&self) -> bool {
        matches!(
            self.phase,
            Some(ProvisioningPhase::Creating | ProvisioningPhase::Created | ProvisioningPhase::Adopted)
        )
    }

    /// Order for rule 14: a Customer that already holds the tenant first, then the older, then by
    /// namespace and name so the order is total.
    fn claim_cmp(&self, other: &CustomerFacts) -> Ordering {
        let key = |c: &CustomerFacts| (!c.holds_tenant(), c.created);
        key(self)
            .cmp(&key(other))
            .then_with(|| self.namespace.cmp(&other.namespace))
            .then_with(|| self.name.cmp(&other.name))
    }

    fn is_existing(&self) -> bool {
        matches!(self.tenant, TenantRequest::Existing { .. })
    }

    /// The tenant as the messages name it: the tenant id, else the domain.
    fn tenant_named(&self) -> String {
        match &self.tenant {
            TenantRequest::Existing { tenant_id: Some(t), .. } => format!("tenant {t}"),
            _ => match self.domain() {
                Some(d) => format!("tenant '{d}'"),
                None => "the tenant".to_string(),
            },
        }
    }

    fn domain(&self) -> Option<&str> {
        match &self.tenant {
            TenantRequest::New { domain, .. } => Some(domain),
            TenantRequest::Existing { domain, .. } => domain.as_deref(),
        }
    }

    fn tenant_ids(&self) -> impl Iterator<Item = &str> {
        let requested = match &self.tenant {
            TenantRequest::Existing { tenant_id, .. } => tenant_id.as_deref(),
            TenantRequest::New { .. } => None,
        };
        requested.into_iter().chain(self.tenant_id.as_deref())
    }
}

/// Whether, and through which connection, `customer` may be provisioned. `others` is every Customer
/// in the cluster (it may include `customer`, skipped by uid); one pass over it per call.
pub fn decide(
    customer: &CustomerFacts,
    others: &[CustomerFacts],
    evaluator: &Evaluator,
    settings: &Settings,
) -> CustomerDecision {
    match route(customer, others, evaluator, settings) {
        Ok(route) => CustomerDecision::Proceed(route),
        Err(finding) => CustomerDecision::Refused(finding),
    }
}

fn route(c: &CustomerFacts, others: &[CustomerFacts], ev: &Evaluator, settings: &Settings) -> Result<Route, Finding> {
    let hierarchy = ev.hierarchy();
    let snapshot = ev.snapshot();
    let who = c.who();

    // Rule 11: the namespace's owner, and spec.reseller in its subtree.
    let owner = hierarchy.reseller_for_namespace(&c.namespace).ok_or_else(|| {
        Finding::new(
            reasons::NAMESPACE_NOT_OWNED,
            format!(
                "{who} is in namespace '{}', which is neither the provider namespace nor any Reseller's \
                 spec.namespace: create Customers in the namespace of the reseller that manages them",
                c.namespace
            ),
        )
    })?;
    let reseller = match c.reseller.as_deref() {
        None => owner,
        Some(r) if r == owner || hierarchy.is_ancestor(owner, r) => r,
        // Same message whether `r` exists or not: a reseller's admins learn nothing about the
        // resellers outside their subtree.
        Some(r) => {
            return Err(Finding::new(
                reasons::NOT_IN_SUBTREE,
                format!(
                    "spec.reseller of {who} names '{r}', which is neither '{owner}' (the Reseller that owns \
                     namespace '{}') nor in its subtree: name '{owner}' or one of its sub-resellers, or \
                     leave spec.reseller out",
                    c.namespace
                ),
            ));
        }
    };

    // Rule 11: the plan granted to that reseller, as its status.effectivePlans says.
    let evaluation = ev.reseller(reseller);
    let effective = evaluation
        .as_ref()
        .and_then(|e| e.effective_plans.iter().find(|p| p.plan == c.plan));
    let Some(effective) = effective else {
        let azure_ad_enabled = snapshot.resellers.get(reseller).is_some_and(|r| r.azure_ad_enabled);
        let granted: Vec<&str> = evaluation
            .iter()
            .flat_map(|e| &e.effective_plans)
            .map(|p| p.plan.as_str())
            .collect();
        let what = if !azure_ad_enabled {
            "its spec.services.azureAD.enabled is false, so no plan is active".to_string()
        } else if granted.is_empty() {
            "it is granted no plan".to_string()
        } else {
            format!("it is granted {}", granted.join(", "))
        };
        return Err(Finding::new(
            reasons::PLAN_NOT_GRANTED,
            format!(
                "spec.plan of {who} is '{}', which is not granted to Reseller '{reseller}' ({what}): choose \
                 a granted plan, or have the provider grant '{}' in spec.services.azureAD.customerPlans of \
                 '{reseller}'",
                c.plan, c.plan
            ),
        ));
    };

    // Rule 15: a move is a change of spec.reseller or spec.plan of a Customer whose placement is
    // recorded (a provisioned one).
    let placement = Placement {
        reseller: reseller.to_string(),
        plan: c.plan.clone(),
    };
    let moved_from = c.placement.clone().filter(|p| *p != placement);

    // Rule 15: a pinned Customer stays on its connection whatever the effective plan says now.
    let (connection, source, warnings) = match &c.pinned {
        Some(pinned) if effective.connection.as_ref() != Some(&pinned.connection) => {
            // What concerns the grant itself still blocks; what concerns only the new effective
            // connection does not, since that connection is not used.
            if let Some(f) = effective.problems.iter().find(|f| is_grant_problem(&f.reason)) {
                return Err(f.clone());
            }
            let conn = pinned_connection(c, &pinned.connection, snapshot)?;
            let now = match &effective.connection {
                Some(e) => format!("is now {e}"),
                None => "has no connection now".to_string(),
            };
            if let Some(from) = &moved_from {
                // The move itself is refused; the tenant stays provisioned, pinned and placed as before.
                return Err(Finding::new(
                    reasons::EFFECTIVE_CONNECTION_CHANGED,
                    format!(
                        "{who} cannot move from {from} to {placement}: the effective connection of Reseller \
                         '{reseller}' for plan '{}' {now}, not the pinned PartnerCenterConnection {} \
                         (status.connection); moving a tenant between Partner Center accounts is a Microsoft \
                         transition, not an operator action. The tenant stays under {} and status.placement \
                         stays {from}: set spec.reseller and spec.plan back, or choose a plan and reseller whose \
                         effective connection is {}",
                        c.plan, pinned.connection, pinned.connection, pinned.connection
                    ),
                ));
            }
            let unusable = match (&effective.reason, &effective.message) {
                (Some(r), Some(m)) if !effective.usable => format!(" (and is not usable: {r}: {m})"),
                _ => String::new(),
            };
            let warning = Finding::new(
                reasons::EFFECTIVE_CONNECTION_CHANGED,
                format!(
                    "{who} stays on its pinned PartnerCenterConnection {} (status.connection), but the \
                     effective connection of Reseller '{reseller}' for plan '{}' {now}{unusable}: moving a \
                     tenant between Partner Center accounts is a Microsoft transition, not an operator \
                     action; the operator keeps using {} for this Customer",
                    pinned.connection, c.plan, pinned.connection
                ),
            );
            (conn, pinned.source, vec![warning])
        }
        _ => {
            if let Some(f) = effective.problems.first() {
                return Err(f.clone());
            }
            let conn = effective
                .connection
                .as_ref()
                .and_then(|r| snapshot.connections.get(r))
                // A usable effective plan names an existing connection; kept total all the same.
                .ok_or_else(|| connection_not_found(c, effective.connection.as_ref()))?;
            (conn, effective.source, Vec::new())
        }
    };
    let conn_ref = connection.reference();
    let sandbox = connection.environment == Environment::Sandbox;
    let region = snapshot
        .plans
        .get(&c.plan)
        .map(|p| p.region.clone())
        .or_else(|| effective.region.clone())
        .unwrap_or_default();

    // Rule 12: region, tenant creation and the sandbox quota, before the first call.
    if let TenantRequest::New { country, .. } = &c.tenant
        && c.before_first_call()
    {
        if !settings.regions.country_in_region(&region, country) {
            return Err(Finding::new(
                reasons::COUNTRY_OUTSIDE_REGION,
                format!(
                    "spec.tenant.new.address.country of {who} is '{country}', which is not in region \
                     '{region}' of CustomerPlan '{}': choose a plan (spec.plan) whose region holds \
                     '{country}' (the country is immutable; for another country create another Customer)",
                    c.plan
                ),
            ));
        }
        if !effective.allow_tenant_creation {
            return Err(Finding::new(
                reasons::TENANT_CREATION_NOT_ALLOWED,
                format!(
                    "{who} asks for a new tenant (spec.tenant.new), but CustomerPlan '{}' does not allow \
                     tenant creation (spec.allowTenantCreation is not true): choose a plan that allows it, \
                     have the provider set spec.allowTenantCreation: true on '{}', or adopt an existing \
                     tenant with another Customer (spec.tenant.existing)",
                    c.plan, c.plan
                ),
            ));
        }
        if sandbox {
            check_sandbox_quota(c, connection, others)?;
        }
    }

    // Rule 12: an adopted tenant's country, as Partner Center reported it, in the plan's region.
    if c.is_existing()
        && let Some(f) = adopted_country_outside_region(&who, &c.plan, &region, c.country.as_deref(), settings)
    {
        return Err(f);
    }

    // Rule 16: adoption by invitation, before any call.
    if c.is_existing() && !c.holds_tenant() {
        check_adoption(c, &conn_ref, sandbox)?;
    }

    // Rule 13: the indirect association.
    let associated_partner_id = association(c, reseller, connection, hierarchy, snapshot, settings)?;

    // Rule 15: a move keeps the indirect association Partner Center recorded (there is no call to
    // re-associate a customer with another indirect reseller).
    if let Some(from) = &moved_from
        && connection.csp_type == CspType::IndirectProvider
        && associated_partner_id != c.associated_partner_id
    {
        let name = |a: &Option<String>| match a {
            Some(t) => format!("indirect reseller {t}"),
            None => "no indirect reseller, as the provider's own customer,".to_string(),
        };
        return Err(Finding::new(
            reasons::INDIRECT_RESELLER_CHANGED,
            format!(
                "{who} cannot move from {from} to {placement}: the tenant is associated in Partner Center with {} \
                 (status.associatedPartnerId), but under Reseller '{reseller}' it would be associated with {}, and \
                 Partner Center has no call to re-associate a customer: move it only to resellers whose nearest \
                 spec.indirectReseller is the same, or set spec.reseller and spec.plan back (status.placement \
                 stays {from})",
                name(&c.associated_partner_id),
                name(&associated_partner_id)
            ),
        ));
    }

    // Rules 14 and 16: one Customer per domain and per tenant.
    check_duplicates(c, owner, others, hierarchy)?;

    // Rule 18: Delete only through a Sandbox connection; refused before anything is created, so a
    // production tenant never carries a policy the operator will not honour.
    if c.delete_on_deletion && !sandbox {
        return Err(Finding::new(
            reasons::DELETION_POLICY_NOT_ALLOWED,
            format!(
                "spec.deletionPolicy of {who} is Delete, but its connection {conn_ref} is a {:?} account: \
                 the operator deletes only sandbox tenants; set spec.deletionPolicy to Orphan (or remove \
                 it). Until then nothing is provisioned, and deleting the Customer leaves the tenant in place",
                connection.environment
            ),
        ));
    }

    Ok(Route {
        connection: conn_ref,
        source,
        partner_tenant_id: connection.partner_tenant_id.clone(),
        sandbox,
        reseller: reseller.to_string(),
        associated_partner_id,
        warnings,
        placement,
        moved_from,
        region,
    })
}

/// Rule 16: an existing tenant listed under another of the operator's connections belongs to that
/// Partner Center account; a Sandbox account cannot invite (Partner Center refuses sandbox partners'
/// invitations), unless its last sync already lists the tenant.
fn check_adoption(c: &CustomerFacts, conn_ref: &ConnectionRef, sandbox: bool) -> Result<(), Finding> {
    let who = c.who();
    let tenant = c.tenant_named();
    if let Some(other) = c.listed_under.iter().find(|r| *r != conn_ref) {
        return Err(Finding::new(
            reasons::TENANT_CLAIMED,
            format!(
                "{who} asks to adopt {tenant}, but the last sync of PartnerCenterConnection {other} lists it among \
                 that account's customers: a tenant is provisioned through one of the operator's Partner Center \
                 accounts; adopt it with a plan whose effective connection is {other}, or delete this Customer"
            ),
        ));
    }
    if sandbox && !c.listed_under.contains(conn_ref) {
        return Err(Finding::new(
            reasons::SANDBOX_CANNOT_INVITE,
            format!(
                "{who} asks to adopt {tenant} (spec.tenant.existing) through the Sandbox PartnerCenterConnection \
                 {conn_ref}, but sandbox partners cannot invite customers to a reseller relationship: choose a \
                 plan (spec.plan) whose connection is a Production account, or create a sandbox tenant with \
                 another Customer (spec.tenant.new)"
            ),
        ));
    }
    Ok(())
}

/// Reasons of an effective plan that are about the reseller's grant or the plan, not about the
/// connection it resolves to (src/policy/effective.rs, src/policy/plans.rs).
fn is_grant_problem(reason: &str) -> bool {
    [
        reasons::HIERARCHY_INVALID,
        reasons::PLAN_NOT_FOUND,
        reasons::PARENT_LACKS_PLAN,
        reasons::PLAN_NOT_FOR_RESELLER,
        reasons::NAMED_RESELLER_NOT_FOUND,
        reasons::SANDBOX_ONLY_RESELLER,
        reasons::SANDBOX_PLAN_FOR_STANDARD_RESELLER,
        reasons::PLAN_REGION_NOT_ALLOWED,
        reasons::INVALID_PLAN_NAME,
        reasons::PLAN_NAME_MISMATCH,
        reasons::UNKNOWN_REGION,
    ]
    .contains(&reason)
}

fn connection_not_found(c: &CustomerFacts, reference: Option<&ConnectionRef>) -> Finding {
    let named = reference.map_or_else(|| "no connection".to_string(), ToString::to_string);
    Finding::new(
        reasons::CONNECTION_NOT_FOUND,
        format!(
            "the connection of {} ({named}) does not exist: nothing is called until it does",
            c.who()
        ),
    )
}

/// Rule 15: the pinned connection must exist and be Ready; otherwise nothing is called.
fn pinned_connection<'s>(
    c: &CustomerFacts,
    reference: &ConnectionRef,
    snapshot: &'s Snapshot,
) -> Result<&'s ConnectionFacts, Finding> {
    let who = c.who();
    let Some(conn) = snapshot.connections.get(reference) else {
        return Err(Finding::new(
            reasons::CONNECTION_NOT_FOUND,
            format!(
                "the pinned PartnerCenterConnection {reference} of {who} (status.connection) does not exist: \
                 the tenant stays under that Partner Center account and nothing is called until the \
                 connection exists again"
            ),
        ));
    };
    if conn.deleting {
        return Err(Finding::new(
            reasons::DELETING,
            format!(
                "the pinned PartnerCenterConnection {reference} of {who} (status.connection) is being deleted: \
                 nothing is called through it; keep the connection, or delete this Customer first"
            ),
        ));
    }
    match &conn.health {
        ConnectionHealth::Ready => Ok(conn),
        ConnectionHealth::NotReady { reason, message } => Err(Finding::new(
            reason,
            format!("the pinned PartnerCenterConnection {reference} of {who} is not ready: {message}"),
        )),
        ConnectionHealth::Unknown => Err(Finding::new(
            reasons::CONNECTION_PENDING,
            format!(
                "the pinned PartnerCenterConnection {reference} of {who} has not been checked against Partner \
                 Center yet: nothing is called until it is Ready"
            ),
        )),
    }
}

/// Rule 12: the connection's customers at its last sync, plus this connection's creations that
/// started since (in flight or done), plus this one, stay within the sandbox quota.
fn check_sandbox_quota(c: &CustomerFacts, conn: &ConnectionFacts, others: &[CustomerFacts]) -> Result<(), Finding> {
    let reference = conn.reference();
    let synced = conn.customer_count.unwrap_or(0);
    let since_sync = others
        .iter()
        .filter(|o| o.uid != c.uid)
        .filter(|o| o.pinned.as_ref().is_some_and(|p| p.connection == reference))
        .filter(|o| matches!(o.phase, Some(ProvisioningPhase::Creating | ProvisioningPhase::Created)))
        // A creation that started at the sync's second may or may not be in its count: counted, so
        // the quota errs on the safe side. Unknown start: counted too.
        .filter(|o| match (o.started_at, conn.last_sync) {
            (Some(started), Some(synced_at)) => started >= synced_at,
            _ => true,
        })
        .count();
    let since_sync = u64::try_from(since_sync).unwrap_or(u64::MAX);
    let total = synced.saturating_add(since_sync).saturating_add(1);
    if total <= SANDBOX_CUSTOMER_QUOTA {
        return Ok(());
    }
    let at = match conn.last_sync.and_then(|s| jiff::Timestamp::from_second(s).ok()) {
        Some(t) => format!("at its last sync ({t})"),
        None => "(never synced)".to_string(),
    };
    Err(Finding::new(
        reasons::SANDBOX_QUOTA_EXCEEDED,
        format!(
            "Sandbox PartnerCenterConnection {reference} held {synced} customers {at} and {since_sync} more \
             have been created or are being created through it since; creating {} would make {total}, above \
             the sandbox quota of {SANDBOX_CUSTOMER_QUOTA}: delete sandbox customers (Customers with \
             spec.deletionPolicy: Delete) or use another sandbox connection",
            c.who()
        ),
    ))
}

/// Rule 13: through the provider's IndirectProvider connection, a non-root reseller's customer is
/// associated with the nearest reseller (from it up to the root) with spec.indirectReseller, which
/// the connection must list as linked. Through a reseller's own connection: no association.
fn association(
    c: &CustomerFacts,
    reseller: &str,
    conn: &ConnectionFacts,
    hierarchy: &Hierarchy,
    snapshot: &Snapshot,
    settings: &Settings,
) -> Result<Option<String>, Finding> {
    if conn.csp_type != CspType::IndirectProvider || conn.namespace != settings.provider_namespace {
        return Ok(None);
    }
    let Some(node) = hierarchy.node(reseller) else {
        return Ok(None);
    };
    if node.is_root {
        return Ok(None);
    }
    let reference = conn.reference();
    let who = c.who();
    let nearest = std::iter::once(reseller)
        .chain(node.ancestors.iter().map(String::as_str))
        .filter(|n| hierarchy.root.as_deref() != Some(*n))
        .find_map(|n| {
            let tenant = snapshot.resellers.get(n)?.indirect_reseller_tenant_id.as_deref()?;
            Some((n, tenant))
        });
    let Some((holder, tenant)) = nearest else {
        if !c.before_first_call() {
            return Ok(None);
        }
        return Err(Finding::new(
            reasons::INDIRECT_RESELLER_NOT_LINKED,
            format!(
                "{who} would be provisioned through the provider's IndirectProvider connection {reference} for \
                 Reseller '{reseller}', but no reseller on the path from '{reseller}' to the root declares \
                 spec.indirectReseller, so there is no indirect reseller to associate it with: have the \
                 provider set spec.indirectReseller on '{reseller}' or an ancestor, or use a Direct plan"
            ),
        ));
    };
    let tenant = tenant.to_ascii_lowercase();
    if c.before_first_call() && !conn.linked_indirect_resellers.contains(&tenant) {
        let at = match conn.last_sync.and_then(|s| jiff::Timestamp::from_second(s).ok()) {
            Some(t) => format!("as of its last sync ({t})"),
            None => "(it has not synced yet)".to_string(),
        };
        return Err(Finding::new(
            reasons::INDIRECT_RESELLER_NOT_LINKED,
            format!(
                "{who} would be created on behalf of Reseller '{holder}' (the nearest with spec.indirectReseller \
                 on the path from '{reseller}'), but its indirect reseller tenant id {tenant} is not among the \
                 linked indirect resellers of PartnerCenterConnection {reference} {at}: the connection lists an \
                 indirect reseller only once its reseller relationship with the provider is Active in Partner \
                 Center; have '{holder}' accept the relationship, then wait for the next connection sync"
            ),
        ));
    }
    Ok(Some(tenant))
}

/// Rule 14: two Customers naming the same domain or tenant: the one that already holds the tenant,
/// else the older, keeps it. A Customer in a namespace no reseller owns holds nothing (it would
/// let anyone who can create one squat a domain). The other Customer is named only when it is in
/// this one's reseller subtree.
fn check_duplicates(
    c: &CustomerFacts,
    owner: &str,
    others: &[CustomerFacts],
    hierarchy: &Hierarchy,
) -> Result<(), Finding> {
    let domain = c.domain();
    let same = |o: &CustomerFacts| -> Option<String> {
        if let (Some(d), Some(od)) = (domain, o.domain())
            && d.eq_ignore_ascii_case(od)
        {
            return Some(format!("domain '{d}'"));
        }
        c.tenant_ids()
            .find(|t| o.tenant_ids().any(|ot| t.eq_ignore_ascii_case(ot)))
            .map(|t| format!("tenant {t}"))
    };
    let winner = others
        .iter()
        .filter(|o| o.uid != c.uid)
        .filter_map(|o| same(o).map(|what| (o, what)))
        .filter(|(o, _)| o.claim_cmp(c) == Ordering::Less)
        .filter(|(o, _)| hierarchy.reseller_for_namespace(&o.namespace).is_some())
        .min_by(|(a, _), (b, _)| a.claim_cmp(b));
    let Some((other, what)) = winner else {
        return Ok(());
    };
    let other_owner = hierarchy.reseller_for_namespace(&other.namespace).unwrap_or_default();
    let visible = other_owner == owner || hierarchy.is_ancestor(owner, other_owner);
    let holder = if visible {
        format!("Customer '{}/{}'", other.namespace, other.name)
    } else {
        "another Customer".to_string()
    };
    let why = if other.holds_tenant() && !c.holds_tenant() {
        "already holds"
    } else {
        "keeps, being older (ties: namespace, then name)"
    };
    // Rule 16: an existing tenant another reseller's Customer claims is that reseller's; within the
    // subtree it is a duplicate the reseller's admins can resolve themselves (rule 14).
    if !visible && c.is_existing() {
        return Err(Finding::new(
            reasons::TENANT_CLAIMED,
            format!(
                "{} asks to adopt {what}, which a Customer of another reseller already claims and {why}: one \
                 tenant has one Customer, and a reseller adopts only tenants no other reseller has; delete {} \
                 or name another tenant",
                c.who(),
                c.who()
            ),
        ));
    }
    Err(Finding::new(
        reasons::DUPLICATE_TENANT,
        format!(
            "{} names {what}, which {holder} also names and {why}: one tenant has one Customer; delete {} \
             or name another tenant",
            c.who(),
            c.who()
        ),
    ))
}

#[cfg(test)]
mod tests;
