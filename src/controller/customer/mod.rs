//! Customer reconciler: provision (create or adopt) a customer's tenant through the reseller's
//! effective connection for its plan, and through no other, exactly once whatever fails
//! (docs/rules.md, rules 11–18). Thin: the rules are `policy::customer`'s; each stage is a module.
//!
//! 1. [`resolve`]: the rules' decision; a refusal is published and nothing is called
//! 2. pin (here): connection, source and a fresh request id in ONE guarded status write, before
//!    any Partner Center call; never changed afterwards
//! 3. [`lookup`]: the domain (or tenant id) under the pinned connection; a match is adopted. An
//!    existing tenant not found gets the connection's invitation URL (phase AwaitingAcceptance); once
//!    waiting, it is looked up again only when the connection's last sync lists it ([`resolve::Listings`])
//! 4. [`check`]: domain free, address valid
//! 5. [`create`]: the create with the recorded request id
//! 6. [`secret`] then [`status`]: the admin credentials, then status Created
//! 7. steady state (Created/Adopted with a tenant id): the rules only, no Partner Center call; a
//!    move the rules allow (same connection) is recorded in status.placement and status.moves
//! 8. [`delete`]: a sandbox tenant with `deletionPolicy: Delete` is deleted with the Customer
//!
//! A lost create answer (dropped, timed out, the process killed) is resolved by stage 3 on the
//! next attempt: Partner Center is asked what exists before anything is created again.

pub mod agreement;
pub mod check;
pub mod clients;
pub mod create;
pub mod delete;
pub mod lookup;
pub mod observed;
pub mod resolve;
pub mod secret;
pub mod status;

use super::connection::memory::Memory;
use super::context::{Context, Shared};
use super::error::{Error, Result};
use super::world::World;
use crate::api::conditions::ConditionStatus;
use crate::api::{Customer, CustomerStatus, Provisioning, ProvisioningPhase};
use crate::partner_center::models::Customer as PcCustomer;
use crate::partner_center::{PartnerCenterApi, PartnerCenterError};
use crate::policy::Finding;
use crate::policy::customer::{CustomerDecision, CustomerFacts, Route, TenantRequest, may_delete_tenant};
use crate::runtime::crashpoint::crashpoint;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use status::{Verdict, reasons};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const KIND: &str = "Customer";

/// How long a refused Customer waits before the rules are asked again without a change.
const REFUSED_REQUEUE: Duration = Duration::from_secs(300);
/// Steady state: the rules are re-checked hourly (no Partner Center call).
const STEADY_REQUEUE: Duration = Duration::from_secs(3600);
/// After a create whose answer was lost: look it up soon.
const UNKNOWN_REQUEUE: Duration = Duration::from_secs(5);
/// An existing tenant that has not accepted the invitation yet is looked up this often while its
/// connection has no inventory in memory (before the first sync after a start).
const AWAITING_REQUEUE: Duration = Duration::from_secs(300);
/// Once the connection's syncs list its customers, a waiting tenant costs no call: the sync that
/// lists it requeues the Customer; this is only the safety net.
const AWAITING_LISTED_REQUEUE: Duration = Duration::from_secs(3600);
/// Bounds of a server's Retry-After (any number from the network is clamped).
const MIN_RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(300);
/// Without a Retry-After.
pub(super) const DEFAULT_RETRY: Duration = Duration::from_secs(10);

/// The Customer reconciler's context.
pub struct CustomerContext {
    pub shared: Arc<Context>,
    /// The connection reconciler's memory: its clients are shared (see `clients`).
    pub memory: Arc<Memory>,
    pub limits: clients::Limits,
    pub facts: Arc<resolve::AllFacts>,
    /// Tenants created whose Secret or status write failed, by Customer uid: kept in memory (never
    /// written anywhere else) so a retry writes the credentials Partner Center showed once.
    created: Mutex<HashMap<String, PcCustomer>>,
    /// The reseller-relationship invitation URL by connection uid: the same for every customer of
    /// a connection, so it is fetched once per connection.
    invitations: Mutex<HashMap<String, String>>,
}

impl Shared for CustomerContext {
    fn shared(&self) -> &Context {
        &self.shared
    }
}

impl CustomerContext {
    pub fn new(
        shared: Arc<Context>,
        memory: Arc<Memory>,
        facts: Arc<resolve::AllFacts>,
        per_connection: usize,
    ) -> Self {
        CustomerContext {
            shared,
            memory,
            limits: clients::Limits::new(per_connection),
            facts,
            created: Mutex::new(HashMap::new()),
            invitations: Mutex::new(HashMap::new()),
        }
    }

    /// What the connection syncs list, from the connection reconciler's memory (no call).
    fn listings(&self) -> &dyn resolve::Listings {
        self.memory.as_ref()
    }

    fn remember_created(&self, uid: &str, c: &PcCustomer) {
        self.created.lock().expect("created").insert(uid.to_string(), c.clone());
    }
    fn created_for(&self, uid: &str) -> Option<PcCustomer> {
        self.created.lock().expect("created").get(uid).cloned()
    }
    fn forget_created(&self, uid: &str) {
        self.created.lock().expect("created").remove(uid);
    }
}

pub async fn reconcile(customer: Arc<Customer>, cctx: Arc<CustomerContext>) -> Result<Action> {
    let ctx = &cctx.shared;
    let ns = customer.namespace().ok_or(Error::MissingField("metadata.namespace"))?;
    let api: Api<Customer> = Api::namespaced(ctx.client.clone(), &ns);
    let (facts, decision) = resolve::resolve(&ctx.world, &cctx.facts, cctx.listings(), &customer);

    if customer.meta().deletion_timestamp.is_some() {
        return delete::on_deletion(&cctx, &api, &customer, &facts).await;
    }
    let route = match decision {
        CustomerDecision::Refused(finding) => {
            refused(ctx, &api, &customer, &finding).await?;
            return Ok(Action::requeue(super::jitter(REFUSED_REQUEUE)));
        }
        CustomerDecision::Proceed(route) => route,
    };
    delete::keep_finalizer_in_line(&api, &customer, may_delete_tenant(&route, &facts)).await?;
    if let Some(st) = steady(&customer) {
        let st = observed::with_observed(&cctx, &customer, st.clone());
        let st = match agreement::ensure(&cctx, &api, &customer, &st).await? {
            agreement::Next::Steady(st) => *st,
            agreement::Next::Requeue(action) => return Ok(action),
        };
        publish_steady(ctx, &api, &customer, &st, &route).await?;
        return Ok(Action::requeue(super::jitter(STEADY_REQUEUE)));
    }
    provision(&cctx, &api, &customer, &facts, &route).await
}

pub fn error_policy(customer: Arc<Customer>, error: &Error, cctx: Arc<CustomerContext>) -> Action {
    super::error_policy(KIND, customer.as_ref(), error, &cctx.shared)
}

/// The other Customers claiming the domain or tenant `changed` claims (rule 14): its change or
/// deletion may decide which of them keeps it.
pub fn same_claims(store: &Store<Customer>, changed: &Customer) -> Vec<ObjectRef<Customer>> {
    let claims = |c: &Customer| {
        let f = crate::controller::facts::customer_facts(c);
        let mut keys: Vec<String> = Vec::new();
        match f.tenant {
            TenantRequest::New { domain, .. } => keys.push(domain),
            TenantRequest::Existing { tenant_id, domain } => keys.extend(tenant_id.into_iter().chain(domain)),
        }
        keys.extend(f.tenant_id);
        keys
    };
    let mine = claims(changed);
    if mine.is_empty() {
        return Vec::new();
    }
    store
        .state()
        .iter()
        .filter(|c| c.uid() != changed.uid() && claims(c).iter().any(|k| mine.contains(k)))
        .map(|c| ObjectRef::from_obj(c.as_ref()))
        .collect()
}

/// The Customers whose decision reads `key`: a reseller they resolve to, a plan they name, a
/// connection they are pinned to (or their reseller's plan resolves to, through its dependents).
pub fn reading(world: &World, store: &Store<Customer>, key: &crate::policy::ObjectKey) -> Vec<ObjectRef<Customer>> {
    use crate::policy::ObjectKey;
    match key {
        ObjectKey::Reseller(r) => of_reseller(world, store, r),
        ObjectKey::Plan(p) => store
            .state()
            .iter()
            .filter(|c| &c.spec.plan == p)
            .map(|c| ObjectRef::from_obj(c.as_ref()))
            .collect(),
        ObjectKey::Connection(conn) => store
            .state()
            .iter()
            .filter(|c| c.status.as_ref().and_then(|s| s.connection.as_ref()) == Some(conn))
            .map(|c| ObjectRef::from_obj(c.as_ref()))
            .collect(),
    }
}

/// The Customers whose resolved reseller is `reseller` (named in spec.reseller, or owning their
/// namespace): requeued when that reseller's evaluation may have changed.
pub fn of_reseller(world: &World, store: &Store<Customer>, reseller: &str) -> Vec<ObjectRef<Customer>> {
    let owned_namespace =
        world
            .resellers
            .get(&ObjectRef::new(reseller))
            .and_then(|r| match (&r.facts.parent, &r.facts.namespace) {
                (None, _) => Some(world.settings.provider_namespace.clone()),
                (Some(_), ns) => ns.clone(),
            });
    store
        .state()
        .iter()
        .filter(|c| match &c.spec.reseller {
            Some(r) => r == reseller,
            None => owned_namespace.is_some() && c.namespace() == owned_namespace,
        })
        .map(|c| ObjectRef::from_obj(c.as_ref()))
        .collect()
}

/// The status when the tenant exists and nothing is left to call: Created or Adopted with a tenant id.
fn steady(customer: &Customer) -> Option<&CustomerStatus> {
    let st = customer.status.as_ref()?;
    let phase = st.provisioning.as_ref()?.phase?;
    (matches!(phase, ProvisioningPhase::Created | ProvisioningPhase::Adopted) && st.tenant_id.is_some()).then_some(st)
}

/// Publishes `st` with the stage's verdicts — Ready, and Provisioned when given — for the
/// Customer's generation (skipped when unchanged; Events on Ready transitions). Every stage
/// publishes through here, so each states only its verdicts.
async fn publish(
    ctx: &Context,
    api: &Api<Customer>,
    customer: &Customer,
    action: &str,
    st: CustomerStatus,
    ready: Verdict<'_>,
    provisioned: Option<Verdict<'_>>,
) -> Result<()> {
    let st = status::with_conditions(
        st,
        customer.metadata.generation,
        ready,
        provisioned,
        jiff::Timestamp::now(),
    );
    super::status::publish(
        ctx.publisher(),
        api,
        customer,
        KIND,
        action,
        customer.status.as_ref(),
        &st,
    )
    .await?;
    Ok(())
}

/// Ready=False with the rule's finding; what is pinned or provisioned stays as it is.
async fn refused(ctx: &Context, api: &Api<Customer>, customer: &Customer, f: &Finding) -> Result<()> {
    let st = customer.status.clone().unwrap_or_default();
    let (p_status, p_reason, p_message) = status::provisioned_as_is(&st);
    publish(
        ctx,
        api,
        customer,
        "Resolve",
        st,
        Verdict::new(ConditionStatus::False, &f.reason, &f.message),
        Some(Verdict::new(p_status, &p_reason, &p_message)),
    )
    .await
}

/// Steady state: Ready as provisioned, or the rules' first warning (Ready stays True); a new
/// warning is also an Event. A move the rules allowed is recorded (status.placement, status.moves)
/// with one guarded write, so a stale cache can never record it twice, and announced (`Moved`).
async fn publish_steady(
    ctx: &Context,
    api: &Api<Customer>,
    customer: &Customer,
    st: &CustomerStatus,
    route: &Route,
) -> Result<()> {
    let (_, p_reason, p_message) = status::provisioned_as_is(st);
    let previous = crate::api::conditions::find_condition(&st.conditions, crate::api::conditions::types::READY)
        .map(|c| c.reason.clone());
    let (reason, message) = match route.warnings.first() {
        Some(w) => (w.reason.clone(), w.message.clone()),
        None => (p_reason.clone(), p_message.clone()),
    };
    let mut st = st.clone();
    let now = jiff::Timestamp::now();
    if let Some(moved) = status::place(&mut st, &route.placement, route.moved_from.as_ref(), now) {
        let st = status::with_conditions(
            st,
            customer.metadata.generation,
            Verdict::new(ConditionStatus::True, &reason, &message),
            Some(Verdict::new(ConditionStatus::True, &p_reason, &p_message)),
            now,
        );
        status::write_guarded(api, customer, &st).await?;
        let note = format!(
            "moved from {} to {} on its pinned connection {}; the tenant stays where it is in Partner Center",
            moved_placement(&moved.from),
            moved_placement(&moved.to),
            pinned_name(&st)
        );
        ctx.events.publish(customer, false, reasons::MOVED, "Move", note);
        return Ok(());
    }
    publish(
        ctx,
        api,
        customer,
        "Resolve",
        st,
        Verdict::new(ConditionStatus::True, &reason, &message),
        Some(Verdict::new(ConditionStatus::True, &p_reason, &p_message)),
    )
    .await?;
    if let Some(w) = route.warnings.first()
        && previous.as_deref() != Some(w.reason.as_str())
    {
        ctx.events
            .publish(customer, true, &w.reason, "Resolve", w.message.clone());
    }
    Ok(())
}

fn moved_placement(p: &crate::api::Placement) -> String {
    format!("reseller '{}', plan '{}'", p.reseller, p.plan)
}

/// Stages 2–6 for a Customer that is not provisioned yet.
async fn provision(
    cctx: &CustomerContext,
    api: &Api<Customer>,
    cached: &Customer,
    facts: &CustomerFacts,
    route: &Route,
) -> Result<Action> {
    let ctx = &cctx.shared;
    let name = cached.name_any();
    // The API server's copy, not the cache's: the pin below must see our own last write.
    let Some(mut customer) = api.get_opt(&name).await? else {
        return Ok(Action::await_change());
    };
    if customer.uid() != cached.uid() || customer.meta().deletion_timestamp.is_some() {
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    let uid = customer.uid().unwrap_or_default();
    let generation = customer.metadata.generation;
    let now = jiff::Timestamp::now();

    // Stage 2, pin: the request id is durable before anything is called.
    let mut st = customer.status.clone().unwrap_or_default();
    let existing = matches!(facts.tenant, TenantRequest::Existing { .. });
    let needs_request_id = !existing && st.provisioning.as_ref().and_then(|p| p.request_id.as_ref()).is_none();
    if st.connection.is_none() || needs_request_id {
        let first = st.connection.is_none();
        if first {
            crashpoint("customer.before-pin");
            st.connection = Some(route.connection.clone());
            st.source = Some(route.source);
        }
        let pinned = st.connection.clone().expect("pinned above");
        st.provisioning = Some(Provisioning {
            phase: Some(if existing {
                ProvisioningPhase::Pending
            } else {
                ProvisioningPhase::Creating
            }),
            request_id: (!existing).then(|| uuid::Uuid::new_v4().to_string()),
            started_at: Some(Time(now)),
        });
        let message = format!(
            "pinned to connection {}/{} ({:?}); {}",
            pinned.namespace,
            pinned.name,
            st.source.unwrap_or(route.source),
            if existing {
                "looking the tenant up"
            } else {
                "creating the tenant"
            }
        );
        st = status::with_conditions(
            st,
            generation,
            Verdict::new(ConditionStatus::Unknown, reasons::PROVISIONING, &message),
            Some(Verdict::new(ConditionStatus::False, reasons::PROVISIONING, &message)),
            now,
        );
        customer = status::write_guarded(api, &customer, &st).await?;
        crashpoint("customer.after-pin");
        if first {
            ctx.events.publish(&customer, false, "Pinned", "Provision", message);
        }
        st = customer.status.clone().unwrap_or_default();
    }
    let pinned = st.connection.clone().expect("pinned");

    // The pinned connection's client; the rules refused already if it is gone or not ready.
    let Some(conn) = clients::connection(ctx, &pinned) else {
        let f = Finding::new(
            crate::policy::reasons::CONNECTION_NOT_FOUND,
            format!(
                "the pinned connection {}/{} is gone: a provisioned customer never moves to another connection (rule 15); restore the connection",
                pinned.namespace, pinned.name
            ),
        );
        refused(ctx, api, &customer, &f).await?;
        return Ok(Action::requeue(super::jitter(REFUSED_REQUEUE)));
    };
    let (conn_uid, pc) = match clients::client(ctx, &cctx.memory, &conn).await? {
        Ok(c) => c,
        Err(failure) => {
            let f = Finding::new(
                &failure.reason,
                format!("connection {}/{}: {}", pinned.namespace, pinned.name, failure.message),
            );
            refused(ctx, api, &customer, &f).await?;
            return Ok(Action::requeue(super::jitter(Duration::from_secs(60))));
        }
    };
    let _permit = cctx.limits.acquire(&conn_uid).await;

    // A tenant created earlier in this process whose Secret or status write failed.
    if let Some(created) = cctx.created_for(&uid) {
        return finish_created(cctx, api, &customer, st, &created, route).await;
    }

    if existing {
        return adoption(cctx, api, &customer, st, facts, route, &conn_uid, pc.as_ref()).await;
    }

    // Stage 3, look up.
    let found = match counted(ctx, "customers_by_domain", lookup::find(pc.as_ref(), &facts.tenant)).await {
        Ok(found) => found,
        Err(e) => return partner_center_failed(ctx, api, &customer, st, &e).await,
    };
    if let Some(found) = found {
        return adopt(ctx, api, &customer, st, &found, route).await;
    }
    let (domain, country, new) = match (&facts.tenant, &customer.spec.tenant.new) {
        (TenantRequest::New { domain, country }, Some(new)) => (domain.clone(), country.clone(), new.clone()),
        // An existing tenant took the branch above; kept total.
        _ => return Ok(Action::requeue(super::jitter(REFUSED_REQUEUE))),
    };

    // Stage 4, check.
    match counted(ctx, "check", check::check(pc.as_ref(), &new, &domain, &pinned)).await {
        Ok(None) => {}
        Ok(Some(f)) => {
            refused(ctx, api, &customer, &f).await?;
            return Ok(Action::requeue(super::jitter(REFUSED_REQUEUE)));
        }
        Err(e) => return partner_center_failed(ctx, api, &customer, st, &e).await,
    }

    // Stage 5, create, with the request id recorded at the pin.
    let request_id = st
        .provisioning
        .as_ref()
        .and_then(|p| p.request_id.as_deref())
        .and_then(|r| uuid::Uuid::parse_str(r).ok());
    let Some(request_id) = request_id else {
        // A request id that is not a UUID (a hand-edited status): never create without a durable one.
        let f = Finding::new(
            reasons::PROVISIONING,
            "status.provisioning.requestId is not a UUID: remove status.provisioning to let the operator record a new one",
        );
        refused(ctx, api, &customer, &f).await?;
        return Ok(Action::requeue(super::jitter(REFUSED_REQUEUE)));
    };
    let body = create::new_customer(&new, route.associated_partner_id.as_deref());
    let target = create::Target {
        connection: &pinned,
        country: &country,
        associated_partner_id: route.associated_partner_id.as_deref(),
    };
    let outcome = create::create(pc.as_ref(), &body, request_id, &target).await;
    ctx.metrics.observe_partner_center_call(
        "create_customer",
        match &outcome {
            create::Created::Tenant(_) => "Ok",
            create::Created::Unknown(_) => "OutcomeUnknown",
            create::Created::Refused(_) => "Refused",
            create::Created::Retry { .. } => "Retry",
        },
    );
    match outcome {
        create::Created::Tenant(created) => {
            crashpoint("customer.after-create");
            cctx.remember_created(&uid, &created);
            finish_created(cctx, api, &customer, st, &created, route).await
        }
        create::Created::Unknown(why) => {
            let message = format!(
                "the answer to the create was lost ({why}); the operator looks the domain {domain} up under connection {}/{} before creating again",
                pinned.namespace, pinned.name
            );
            tracing::warn!(%request_id, "create outcome unknown; looking the domain up next");
            in_progress(ctx, api, &customer, st, &message).await?;
            Ok(Action::requeue(UNKNOWN_REQUEUE))
        }
        create::Created::Refused(f) => {
            refused(ctx, api, &customer, &f).await?;
            Ok(Action::requeue(super::jitter(REFUSED_REQUEUE)))
        }
        create::Created::Retry { message, retry_after } => {
            in_progress(ctx, api, &customer, st, &format!("Partner Center: {message}; retrying")).await?;
            Ok(Action::requeue(retry_wait(retry_after)))
        }
    }
}

/// Awaits one stage's Partner Center calls and counts them by outcome.
pub(super) async fn counted<T>(
    ctx: &Context,
    operation: &str,
    call: impl std::future::Future<Output = std::result::Result<T, PartnerCenterError>>,
) -> std::result::Result<T, PartnerCenterError> {
    let result = call.await;
    ctx.metrics
        .observe_partner_center_call(operation, result.as_ref().err().map(|e| e.reason()).unwrap_or("Ok"));
    result
}

/// `namespace/name` of the pinned connection, for messages.
fn pinned_name(st: &CustomerStatus) -> String {
    st.connection
        .as_ref()
        .map(|c| format!("{}/{}", c.namespace, c.name))
        .unwrap_or_else(|| "(none)".into())
}

/// A server's Retry-After clamped, or a short default.
pub(super) fn retry_wait(retry_after: Option<Duration>) -> Duration {
    retry_after.unwrap_or(DEFAULT_RETRY).clamp(MIN_RETRY, MAX_RETRY)
}

/// Provisioning goes on: Ready=Unknown with what is happening.
async fn in_progress(
    ctx: &Context,
    api: &Api<Customer>,
    customer: &Customer,
    st: CustomerStatus,
    message: &str,
) -> Result<()> {
    publish(
        ctx,
        api,
        customer,
        "Provision",
        st,
        Verdict::new(ConditionStatus::Unknown, reasons::PROVISIONING, message),
        Some(Verdict::new(ConditionStatus::False, reasons::PROVISIONING, message)),
    )
    .await
}

/// A failed look-up or check: passing problems are retried (after Retry-After), others shown.
async fn partner_center_failed(
    ctx: &Context,
    api: &Api<Customer>,
    customer: &Customer,
    st: CustomerStatus,
    e: &PartnerCenterError,
) -> Result<Action> {
    let message = format!("Partner Center through connection {}: {e}", pinned_name(&st));
    if e.is_transient() {
        in_progress(ctx, api, customer, st, &format!("{message}; retrying")).await?;
        let retry_after = match e {
            PartnerCenterError::Throttled { retry_after } => *retry_after,
            _ => None,
        };
        return Ok(Action::requeue(retry_wait(retry_after)));
    }
    refused(ctx, api, customer, &Finding::new(e.reason(), message)).await?;
    Ok(Action::requeue(super::jitter(REFUSED_REQUEUE)))
}

/// The tenant exists under the pinned connection: record it. A created tenant whose credentials
/// Secret is not this Customer's was adopted after a lost answer: say so, never create again. An
/// adopted tenant whose country lies outside the plan's region is recorded but not Ready (rule 12).
async fn adopt(
    ctx: &Context,
    api: &Api<Customer>,
    customer: &Customer,
    mut st: CustomerStatus,
    found: &PcCustomer,
    route: &Route,
) -> Result<Action> {
    let conn = pinned_name(&st);
    let existing = customer.spec.tenant.existing.is_some();
    let phase = if existing {
        ProvisioningPhase::Adopted
    } else {
        ProvisioningPhase::Created
    };
    status::record_tenant(&mut st, found, phase);
    status::place(&mut st, &route.placement, None, jiff::Timestamp::now());
    st.invitation_url = None;
    let (reason, message) = if existing {
        (
            reasons::ADOPTED,
            format!(
                "tenant {} ({}, domain {}, country {}) is a customer of connection {conn} and is adopted",
                found.id,
                st.company_name.as_deref().unwrap_or("company not reported"),
                st.domain.as_deref().unwrap_or("not reported"),
                st.country.as_deref().unwrap_or("not reported"),
            ),
        )
    } else {
        match secret::held(&ctx.client, customer).await? {
            secret::Held::Ours => (
                reasons::PROVISIONED,
                format!(
                    "tenant {} was created under connection {conn}; its initial admin credentials are in Secret '{}'",
                    found.id,
                    secret::name_of(customer)
                ),
            ),
            held => (
                reasons::ADMIN_CREDENTIALS_NOT_CAPTURED,
                format!(
                    "tenant {} exists under connection {conn} and is adopted (never created again), but its initial admin password was not captured{}: reset the admin's password in the Microsoft 365 admin center",
                    found.id,
                    if held == secret::Held::Foreign {
                        format!(
                            " (Secret '{}' exists and is not this Customer's)",
                            secret::name_of(customer)
                        )
                    } else {
                        " (the answer to the create was lost)".to_string()
                    }
                ),
            ),
        }
    };
    let outside = if existing {
        let who = format!(
            "Customer '{}/{}'",
            customer.namespace().unwrap_or_default(),
            customer.name_any()
        );
        crate::policy::adopted_country_outside_region(
            &who,
            &customer.spec.plan,
            &route.region,
            st.country.as_deref(),
            &ctx.world.settings,
        )
    } else {
        None
    };
    let ready = match &outside {
        Some(f) => Verdict::new(ConditionStatus::False, &f.reason, &f.message),
        None => until_agreement(customer, &st, Verdict::new(ConditionStatus::True, reason, &message)),
    };
    publish(
        ctx,
        api,
        customer,
        "Provision",
        st,
        ready,
        Some(Verdict::new(ConditionStatus::True, reason, &message)),
    )
    .await?;
    // A waiting tenant's adoption (Ready False -> True) is announced by `publish` itself.
    if reason == reasons::ADMIN_CREDENTIALS_NOT_CAPTURED {
        ctx.events.publish(customer, true, reason, "Provision", message);
    }
    Ok(Action::requeue(super::jitter(STEADY_REQUEUE)))
}

/// A tenant that has just come to exist is not Ready while `spec.agreement` is still to be recorded
/// (the agreement stage runs on the next reconcile): automation waiting for Ready must not order first.
fn until_agreement<'a>(customer: &Customer, st: &CustomerStatus, ready: Verdict<'a>) -> Verdict<'a> {
    if customer.spec.agreement.is_some() && !agreement::recorded(st) {
        return Verdict {
            status: ConditionStatus::Unknown,
            ..ready
        };
    }
    ready
}

/// Stage 6: the Secret, then status Created.
async fn finish_created(
    cctx: &CustomerContext,
    api: &Api<Customer>,
    customer: &Customer,
    mut st: CustomerStatus,
    created: &PcCustomer,
    route: &Route,
) -> Result<Action> {
    let ctx = &cctx.shared;
    let uid = customer.uid().unwrap_or_default();
    let conn = pinned_name(&st);
    let ours = secret::write(&ctx.client, customer, created).await?;
    crashpoint("customer.after-secret");
    let (reason, message) = if ours {
        (
            reasons::PROVISIONED,
            format!(
                "tenant {} was created under connection {conn}; its initial admin credentials are in Secret '{}'",
                created.id,
                secret::name_of(customer)
            ),
        )
    } else {
        (
            reasons::ADMIN_CREDENTIALS_NOT_CAPTURED,
            format!(
                "tenant {} was created under connection {conn}, but Secret '{}' exists and is not this Customer's, so the initial admin password was not stored: reset the admin's password in the Microsoft 365 admin center",
                created.id,
                secret::name_of(customer)
            ),
        )
    };
    status::record_tenant(&mut st, created, ProvisioningPhase::Created);
    if st.country.is_none() {
        st.country = customer
            .spec
            .tenant
            .new
            .as_ref()
            .map(|n| n.address.country.to_ascii_uppercase());
    }
    status::place(&mut st, &route.placement, None, jiff::Timestamp::now());
    let ready = until_agreement(customer, &st, Verdict::new(ConditionStatus::True, reason, &message));
    publish(
        ctx,
        api,
        customer,
        "Provision",
        st,
        ready,
        Some(Verdict::new(ConditionStatus::True, reason, &message)),
    )
    .await?;
    cctx.forget_created(&uid);
    ctx.events.publish(customer, !ours, reason, "Provision", message);
    Ok(Action::requeue(super::jitter(STEADY_REQUEUE)))
}

/// Stage 3 for an existing tenant (rule 16). The first look-up asks Partner Center; once waiting,
/// the Customer asks only when the connection's last sync lists the tenant (no call otherwise),
/// or — while the connection has no inventory in memory yet — at the slow look-up interval.
#[allow(clippy::too_many_arguments)]
async fn adoption(
    cctx: &CustomerContext,
    api: &Api<Customer>,
    customer: &Customer,
    st: CustomerStatus,
    facts: &CustomerFacts,
    route: &Route,
    conn_uid: &str,
    pc: &dyn PartnerCenterApi,
) -> Result<Action> {
    let ctx = &cctx.shared;
    let waiting = facts.phase == Some(ProvisioningPhase::AwaitingAcceptance);
    let listed = cctx.listings().listed(conn_uid, &facts.tenant);
    let found = match (&listed, waiting) {
        (resolve::Listed::NotListed, true) => {
            return awaiting_acceptance(cctx, api, customer, st, conn_uid, pc, true).await;
        }
        (resolve::Listed::Listed(id), _) => counted(ctx, "get_customer", lookup::by_id(pc, id)).await,
        _ => counted(ctx, "customers_by_domain", lookup::find(pc, &facts.tenant)).await,
    };
    match found {
        Ok(Some(found)) => adopt(ctx, api, customer, st, &found, route).await,
        Ok(None) => {
            let inventory = listed != resolve::Listed::NoInventory;
            awaiting_acceptance(cctx, api, customer, st, conn_uid, pc, inventory).await
        }
        Err(e) => partner_center_failed(ctx, api, customer, st, &e).await,
    }
}

/// An existing tenant not (yet) among the pinned connection's customers: the connection's
/// invitation URL (fetched once per connection) in status.invitationUrl, phase AwaitingAcceptance.
async fn awaiting_acceptance(
    cctx: &CustomerContext,
    api: &Api<Customer>,
    customer: &Customer,
    mut st: CustomerStatus,
    conn_uid: &str,
    pc: &dyn PartnerCenterApi,
    inventory: bool,
) -> Result<Action> {
    let ctx = &cctx.shared;
    let cached = cctx.invitations.lock().expect("invitations").get(conn_uid).cloned();
    let url = match cached.or_else(|| st.invitation_url.clone()) {
        Some(url) => url,
        None => match counted(ctx, "relationship_request", pc.relationship_request_url()).await {
            Ok(url) => match lookup::checked_invitation_url(&url) {
                Some(url) => url,
                None => {
                    let f = Finding::new(
                        reasons::AWAITING_ACCEPTANCE,
                        format!(
                            "Partner Center returned an invitation URL for connection {} that is not a bounded https URL, so it is not published: check the connection's endpoints",
                            pinned_name(&st)
                        ),
                    );
                    refused(ctx, api, customer, &f).await?;
                    return Ok(Action::requeue(super::jitter(REFUSED_REQUEUE)));
                }
            },
            Err(e) => return partner_center_failed(ctx, api, customer, st, &e).await,
        },
    };
    cctx.invitations
        .lock()
        .expect("invitations")
        .insert(conn_uid.to_string(), url.clone());
    let (when, requeue) = if inventory {
        (
            "the operator adopts it when the connection's next sync lists it".to_string(),
            AWAITING_LISTED_REQUEUE,
        )
    } else {
        (
            format!("the operator looks again every {} min", AWAITING_REQUEUE.as_secs() / 60),
            AWAITING_REQUEUE,
        )
    };
    let tenant = match &customer.spec.tenant.existing {
        Some(e) => e
            .tenant_id
            .as_deref()
            .map(|t| format!("tenant {t}"))
            .or_else(|| e.domain.as_deref().map(|d| format!("tenant '{d}'")))
            .unwrap_or_else(|| "the tenant".into()),
        None => "the tenant".into(),
    };
    let message = format!(
        "{tenant} is not a customer of connection {} yet: a Global Admin of {tenant} must open status.invitationUrl and accept the reseller relationship; {when}",
        pinned_name(&st),
    );
    st.invitation_url = Some(url);
    st.provisioning.get_or_insert_with(Default::default).phase = Some(ProvisioningPhase::AwaitingAcceptance);
    publish(
        ctx,
        api,
        customer,
        "Provision",
        st,
        Verdict::new(ConditionStatus::False, reasons::AWAITING_ACCEPTANCE, &message),
        Some(Verdict::new(
            ConditionStatus::False,
            reasons::AWAITING_ACCEPTANCE,
            &message,
        )),
    )
    .await?;
    Ok(Action::requeue(super::jitter(requeue)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_clamped() {
        // (server's Retry-After, wait)
        let cases = [
            (None, DEFAULT_RETRY),
            (Some(Duration::ZERO), MIN_RETRY),
            (Some(Duration::from_secs(7)), Duration::from_secs(7)),
            (Some(Duration::from_secs(86_400 * 365)), MAX_RETRY),
        ];
        for (given, want) in cases {
            assert_eq!(retry_wait(given), want, "{given:?}");
        }
    }

    fn customer(phase: Option<&str>, tenant: Option<&str>) -> Customer {
        let mut status = serde_json::json!({});
        if let Some(p) = phase {
            status["provisioning"] = serde_json::json!({"phase": p});
        }
        if let Some(t) = tenant {
            status["tenantId"] = serde_json::json!(t);
        }
        serde_json::from_value(serde_json::json!({
            "apiVersion": "channel.csp.dev/v1alpha1", "kind": "Customer",
            "metadata": {"name": "c", "namespace": "csp-system", "uid": "u"},
            "spec": {"plan": "p", "tenant": {"existing": {"domain": "x.onmicrosoft.com"}}},
            "status": status,
        }))
        .expect("customer")
    }

    #[test]
    fn only_a_recorded_tenant_is_steady_state() {
        // (phase, tenant id, steady: no Partner Center call)
        let cases = [
            (None, None, false),
            (Some("Pending"), None, false),
            (Some("Creating"), None, false),
            (Some("Creating"), Some("t"), false),
            (Some("AwaitingAcceptance"), None, false),
            (Some("Created"), None, false),
            (Some("Created"), Some("t"), true),
            (Some("Adopted"), Some("t"), true),
        ];
        for (phase, tenant, want) in cases {
            assert_eq!(steady(&customer(phase, tenant)).is_some(), want, "{phase:?} {tenant:?}");
        }
    }
}
