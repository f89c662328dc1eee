//! Steady-state stage, rule 17 (docs/customers.md, "Agreements"): once the tenant exists, the
//! Microsoft Customer Agreement of `spec.agreement` is recorded through the pinned connection,
//! once. The rule's checks and what is sent are `policy::agreement`'s; this module calls.
//!
//! Exactly once needs no durable write before the call: Partner Center keeps one agreement per
//! contact and answers a repeat with code 600061, which counts as done. So a process killed
//! between the POST and the status write sends the same attestation again on restart, gets
//! 600061, reads the agreement back and records it; Partner Center holds one attestation.

use super::{CustomerContext, DEFAULT_RETRY, KIND, clients, counted, retry_wait, status};
use crate::api::conditions::{self, ConditionStatus};
use crate::api::{AgreementStatus, ConnectionRef, Customer, CustomerStatus};
use crate::controller::context::Context;
use crate::controller::error::Result;
use crate::controller::world::World;
use crate::partner_center::PartnerCenterError;
use crate::partner_center::models::{AgreementOutcome, AgreementTemplate};
use crate::policy::Finding;
use crate::policy::agreement::{self as rule, Attester, reasons};
use crate::runtime::crashpoint::crashpoint;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

/// How long a connection's template is reused: Microsoft publishes a new version rarely.
const TEMPLATE_TTL: Duration = Duration::from_secs(24 * 3600);
/// A refusal (bad date, indirect reseller, no template) is looked at again after this long.
const REFUSED_REQUEUE: Duration = Duration::from_secs(300);
/// The connection's Secret is unusable: its own sync reports why; look again soon.
const CONNECTION_REQUEUE: Duration = Duration::from_secs(60);

/// What the steady state does after this stage.
pub enum Next {
    /// Publish the steady state from this status (it may now hold `agreement`): one write.
    Steady(Box<CustomerStatus>),
    /// The stage wrote the status itself (not recorded, and why); come back then.
    Requeue(Action),
}

/// The Microsoft Customer Agreement template per connection uid, fetched once per TTL however many
/// Customers record at the same time (each connection's slot is locked while it is fetched).
pub struct Templates {
    ttl: Duration,
    by_connection: Mutex<HashMap<String, Slot>>,
}

/// One connection's cached template id and when it was listed.
type Slot = Arc<tokio::sync::Mutex<Option<(Instant, String)>>>;

/// Why no template id came back.
#[derive(Debug)]
pub enum TemplateFailure {
    /// Partner Center answered, with no usable template.
    Refused(Finding),
    /// The call failed.
    Call(PartnerCenterError),
}

impl Templates {
    pub fn new(ttl: Duration) -> Self {
        Templates {
            ttl,
            by_connection: Mutex::new(HashMap::new()),
        }
    }

    /// The template id for connection `uid`: cached, or `fetch`ed (only successes are cached).
    pub async fn get<F, Fut>(&self, uid: &str, fetch: F) -> std::result::Result<String, TemplateFailure>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<Vec<AgreementTemplate>, PartnerCenterError>>,
    {
        let slot = self
            .by_connection
            .lock()
            .expect("templates")
            .entry(uid.to_string())
            .or_default()
            .clone();
        let mut slot = slot.lock().await;
        if let Some((fetched, id)) = slot.as_ref()
            && Instant::now().saturating_duration_since(*fetched) < self.ttl
        {
            return Ok(id.clone());
        }
        let templates = fetch().await.map_err(TemplateFailure::Call)?;
        let id = rule::choose_template(&templates)
            .map_err(TemplateFailure::Refused)?
            .template_id
            .clone();
        *slot = Some((Instant::now(), id.clone()));
        Ok(id)
    }
}

/// One Customer controller runs per process, so its cache lives with this stage (the Customer
/// context's fields belong to the provisioning stages).
static TEMPLATES: LazyLock<Templates> = LazyLock::new(|| Templates::new(TEMPLATE_TTL));

/// Per Customer uid, the earliest next call after a transient failure: the status write that
/// reports the failure wakes the reconciler at once, and that wake must not call before the
/// server's Retry-After.
static NOT_BEFORE: LazyLock<Mutex<HashMap<String, Instant>>> = LazyLock::new(Default::default);

/// How long until `uid` may call again (None: now).
fn wait_left(uid: &str) -> Option<Duration> {
    let mut map = NOT_BEFORE.lock().expect("not before");
    let left = map
        .get(uid)
        .map(|t| t.saturating_duration_since(Instant::now()))
        .filter(|d| !d.is_zero());
    if left.is_none() {
        map.remove(uid);
    }
    left
}

fn call_not_before(uid: &str, wait: Duration) {
    if let Some(t) = Instant::now().checked_add(wait) {
        NOT_BEFORE.lock().expect("not before").insert(uid.to_string(), t);
    }
}

/// The stage: records `spec.agreement` once the tenant exists (`st` is the steady status).
pub async fn ensure(
    cctx: &CustomerContext,
    api: &Api<Customer>,
    customer: &Customer,
    st: &CustomerStatus,
) -> Result<Next> {
    let ctx = &cctx.shared;
    let mut st = st.clone();
    let Some(spec) = customer.spec.agreement.as_ref() else {
        // Nothing declared: a refusal shown earlier no longer applies (a recorded one stays a fact).
        if st.agreement.is_none() {
            conditions::remove_condition(&mut st.conditions, reasons::AGREEMENT_RECORDED);
        }
        return Ok(Next::Steady(Box::new(st)));
    };
    if recorded(&st) {
        return Ok(Next::Steady(Box::new(st)));
    }
    let Some(pinned) = st.connection.clone() else {
        return Ok(Next::Steady(Box::new(st)));
    };
    let Some(tenant) = st.tenant_id.clone() else {
        return Ok(Next::Steady(Box::new(st)));
    };
    let attester = attester(&ctx.world, &pinned);
    if let Some(f) = rule::refusal(spec, &attester, jiff::Timestamp::now()) {
        return not_recorded(ctx, api, customer, st, &f, REFUSED_REQUEUE).await;
    }
    let uid = customer.uid().unwrap_or_default();
    if let Some(left) = wait_left(&uid) {
        return Ok(Next::Requeue(Action::requeue(left)));
    }
    // The API server's copy: a cache that has not seen our own last write would send again
    // (harmless, 600061, but a call).
    let Some(latest) = api.get_opt(&customer.name_any()).await? else {
        return Ok(Next::Requeue(Action::await_change()));
    };
    if latest.uid() != customer.uid() || latest.status.as_ref().is_some_and(recorded) {
        return Ok(Next::Requeue(Action::requeue(Duration::from_secs(1))));
    }

    let Some(conn) = clients::connection(ctx, &pinned) else {
        let f = Finding::new(
            crate::policy::reasons::CONNECTION_NOT_FOUND,
            format!(
                "the pinned connection {}/{} is gone, so the agreement cannot be recorded: restore the connection",
                pinned.namespace, pinned.name
            ),
        );
        return not_recorded(ctx, api, customer, st, &f, REFUSED_REQUEUE).await;
    };
    let (conn_uid, pc) = match clients::client(ctx, &cctx.memory, &conn).await? {
        Ok(c) => c,
        Err(failure) => {
            let f = Finding::new(
                &failure.reason,
                format!("connection {}/{}: {}", pinned.namespace, pinned.name, failure.message),
            );
            return not_recorded(ctx, api, customer, st, &f, CONNECTION_REQUEUE).await;
        }
    };
    let _permit = cctx.limits.acquire(&conn_uid).await;

    let template_id = match TEMPLATES
        .get(&conn_uid, || {
            counted(ctx, "agreement_templates", pc.agreement_templates())
        })
        .await
    {
        Ok(id) => id,
        Err(TemplateFailure::Refused(f)) => return not_recorded(ctx, api, customer, st, &f, REFUSED_REQUEUE).await,
        Err(TemplateFailure::Call(e)) => return call_failed(ctx, api, customer, st, &pinned, &e).await,
    };
    let body = rule::new_agreement(spec, &template_id);
    crashpoint("customer.before-agreement");
    let outcome = pc.record_agreement(&tenant, &body).await;
    ctx.metrics.observe_partner_center_call(
        "record_agreement",
        match &outcome {
            Ok(AgreementOutcome::Recorded(_)) => "Ok",
            Ok(AgreementOutcome::AlreadyRecorded) => "AlreadyRecorded",
            Err(e) => e.reason(),
        },
    );
    if let Err(e) = outcome {
        return call_failed(ctx, api, customer, st, &pinned, &e).await;
    }
    crashpoint("customer.after-agreement");

    let listed = match counted(ctx, "customer_agreements", pc.customer_agreements(&tenant)).await {
        Ok(l) => l,
        Err(e) => return call_failed(ctx, api, customer, st, &pinned, &e).await,
    };
    let Some(found) = rule::confirmed(&listed, spec) else {
        // Accepted (or "already recorded") but not listed yet: sending again is safe (600061).
        let f = Finding::new(
            reasons::AGREEMENT_NOT_CONFIRMED,
            format!(
                "Partner Center accepted the agreement for tenant {tenant} through connection {}/{} but does not list it for the contact of spec.agreement.primaryContact yet; retrying",
                pinned.namespace, pinned.name
            ),
        );
        call_not_before(&uid, DEFAULT_RETRY);
        return not_recorded(ctx, api, customer, st, &f, DEFAULT_RETRY).await;
    };
    let template = found
        .template_id
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or(template_id);
    let message = format!(
        "the Microsoft Customer Agreement accepted on {} is recorded for tenant {tenant} through connection {}/{} (template {template})",
        spec.date_agreed.trim(),
        pinned.namespace,
        pinned.name
    );
    st.agreement = Some(AgreementStatus {
        recorded_at: Some(Time(jiff::Timestamp::now())),
        template_id: Some(template),
    });
    conditions::set(
        &mut st.conditions,
        reasons::AGREEMENT_RECORDED,
        ConditionStatus::True,
        reasons::AGREEMENT_RECORDED,
        &message,
        customer.metadata.generation,
        jiff::Timestamp::now(),
    );
    tracing::info!(%tenant, "agreement recorded");
    ctx.events
        .publish(customer, false, reasons::AGREEMENT_RECORDED, "Agreement", message);
    Ok(Next::Steady(Box::new(st)))
}

pub(super) fn recorded(st: &CustomerStatus) -> bool {
    st.agreement.as_ref().is_some_and(|a| a.recorded_at.is_some())
}

/// The owner of the pinned connection's namespace: the provider, or the reseller whose
/// `spec.namespace` it is (the rules refused already when no one owns it).
fn attester(world: &World, pinned: &ConnectionRef) -> Attester {
    if pinned.namespace == world.settings.provider_namespace {
        return Attester::Provider;
    }
    world
        .resellers
        .state()
        .iter()
        .find(|r| r.facts.namespace.as_deref() == Some(pinned.namespace.as_str()))
        .map(|r| Attester::Reseller {
            name: r.name_any(),
            indirect_reseller: r.facts.indirect_reseller_tenant_id.is_some(),
        })
        .unwrap_or(Attester::Provider)
}

/// A failed call: passing problems are retried after the clamped Retry-After, others looked at
/// again later; either way shown.
async fn call_failed(
    ctx: &Context,
    api: &Api<Customer>,
    customer: &Customer,
    st: CustomerStatus,
    pinned: &ConnectionRef,
    e: &PartnerCenterError,
) -> Result<Next> {
    let mut message = format!(
        "recording the agreement through connection {}/{}: {e}",
        pinned.namespace, pinned.name
    );
    let wait = if e.is_transient() {
        message.push_str("; retrying");
        let wait = retry_wait(match e {
            PartnerCenterError::Throttled { retry_after } => *retry_after,
            _ => None,
        });
        call_not_before(&customer.uid().unwrap_or_default(), wait);
        wait
    } else {
        message.push_str("; fix the cause, the operator tries again every 5 min");
        crate::controller::jitter(REFUSED_REQUEUE)
    };
    not_recorded(ctx, api, customer, st, &Finding::new(e.reason(), message), wait).await
}

/// AgreementRecorded=False and Ready=False with why (a provider orders only for a customer whose
/// agreement is recorded); Provisioned stays as it is.
async fn not_recorded(
    ctx: &Context,
    api: &Api<Customer>,
    customer: &Customer,
    mut st: CustomerStatus,
    f: &Finding,
    wait: Duration,
) -> Result<Next> {
    let now = jiff::Timestamp::now();
    let generation = customer.metadata.generation;
    conditions::set(
        &mut st.conditions,
        reasons::AGREEMENT_RECORDED,
        ConditionStatus::False,
        &f.reason,
        &f.message,
        generation,
        now,
    );
    let (p_status, p_reason, p_message) = status::provisioned_as_is(&st);
    let ready = format!(
        "the tenant is provisioned, but its Microsoft Customer Agreement is not recorded: {}",
        f.message
    );
    let st = status::with_conditions(
        st,
        generation,
        status::Verdict::new(ConditionStatus::False, &f.reason, &ready),
        Some(status::Verdict::new(p_status, &p_reason, &p_message)),
        now,
    );
    crate::controller::status::publish(
        ctx.publisher(),
        api,
        customer,
        KIND,
        "Agreement",
        customer.status.as_ref(),
        &st,
    )
    .await?;
    Ok(Next::Requeue(Action::requeue(wait)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn offered(id: &str) -> Vec<AgreementTemplate> {
        vec![AgreementTemplate {
            template_id: id.into(),
            agreement_type: Some(rule::AGREEMENT_TYPE.into()),
            agreement_link: None,
            version_rank: Some(0),
        }]
    }

    #[tokio::test]
    async fn the_template_is_fetched_once_per_connection_for_many_customers() {
        let templates = Arc::new(Templates::new(TEMPLATE_TTL));
        let fetches = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..20 {
            let (templates, fetches) = (templates.clone(), fetches.clone());
            let uid = if i % 2 == 0 { "conn-a" } else { "conn-b" };
            tasks.push(tokio::spawn(async move {
                templates
                    .get(uid, || async {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        // Slow enough that the others queue up behind the first fetch.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok(offered(uid))
                    })
                    .await
                    .expect("template")
            }));
        }
        for (i, t) in tasks.into_iter().enumerate() {
            let want = if i % 2 == 0 { "conn-a" } else { "conn-b" };
            assert_eq!(t.await.expect("task"), want);
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 2, "one fetch per connection");
    }

    #[tokio::test]
    async fn failures_are_not_cached_and_the_ttl_expires() {
        // (TTL, first fetch's answer, fetches after a second get)
        let cases: Vec<(Duration, bool, usize)> = vec![
            (TEMPLATE_TTL, true, 1),
            (TEMPLATE_TTL, false, 2),
            (Duration::ZERO, true, 2),
        ];
        for (ttl, first_ok, want) in cases {
            let templates = Templates::new(ttl);
            let fetches = AtomicUsize::new(0);
            let first = templates
                .get("c", || async {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    if first_ok {
                        Ok(offered("t"))
                    } else {
                        Err(PartnerCenterError::Throttled {
                            retry_after: Some(Duration::from_secs(1)),
                        })
                    }
                })
                .await;
            assert_eq!(first.is_ok(), first_ok);
            let second = templates
                .get("c", || async {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    Ok(offered("t"))
                })
                .await;
            assert_eq!(second.expect("second").as_str(), "t");
            assert_eq!(fetches.load(Ordering::SeqCst), want, "ttl {ttl:?}, first ok {first_ok}");
        }
        let empty = Templates::new(TEMPLATE_TTL).get("c", || async { Ok(Vec::new()) }).await;
        assert!(
            matches!(&empty, Err(TemplateFailure::Refused(f)) if f.reason == reasons::AGREEMENT_TEMPLATE_MISSING),
            "{empty:?}"
        );
    }
}
