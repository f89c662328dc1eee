//! PartnerCenterConnection reconciler: authenticate with the connection's own credentials, read what
//! Partner Center reports, verify it against the declared identity (rule 3, decided in `policy`),
//! and publish it. Partner Center is called once per connection per sync interval, never per plan
//! or reseller.

use super::context::Context;
use super::credentials::{self, SecretCredentials, SecretRefreshTokenSink};
use super::error::Result;
use super::set_condition;
use super::{finalizer, status};
use crate::api::conditions;
use crate::api::{AuthMode, PartnerCenterConnection, PartnerCenterConnectionStatus, PartnerInfo, UsedBy};
use crate::partner_center::{ConnectionSettings, Endpoints, PartnerCenterApi, PartnerCenterError};
use crate::policy::{self, ConnectionOwner, DeclaredIdentity, Observed, ResellerListing, Verification};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const KIND: &str = "PartnerCenterConnection";
/// Changing this annotation's value asks for a sync now, like Flux's `reconcile.fluxcd.io/requestedAt`
/// (e.g. after re-running the consent flow): `kubectl annotate pcc X channel.csp.dev/sync-requested="$(date)" --overwrite`.
pub const SYNC_REQUESTED_ANNOTATION: &str = "channel.csp.dev/sync-requested";
/// Refresh tokens live 90 days from issue, sliding with each redemption (partner-center.md §1.3).
const REFRESH_TOKEN_LIFETIME: Duration = Duration::from_secs(90 * 24 * 3600);

/// Per-connection memory of the reconciler: the Partner Center client (its token cache must
/// outlive one reconcile) and the last sync's outcome, so a reconcile between syncs publishes the
/// same result without calling Partner Center.
#[derive(Default)]
pub struct ConnectionRuntime {
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Default)]
struct Entry {
    /// The client and what it was built for; dropped when credentials fail, so the next attempt
    /// reads the Secret afresh.
    client: Option<(Inputs, Arc<dyn PartnerCenterApi>)>,
    /// Fingerprint of the refresh token the Secret should hold: moves when the operator persists a
    /// rotation, so only someone else's write (a re-consent) counts as new credentials.
    expected_refresh_token: Arc<Mutex<Option<String>>>,
    last: Option<SyncRecord>,
}

/// What a sync result depends on besides time: spec generation, app id and secret fingerprint.
type Inputs = (Option<i64>, String, String);

#[derive(Clone)]
struct SyncRecord {
    at: Instant,
    inputs: Inputs,
    /// The sync-requested annotation this sync answered.
    requested: Option<String>,
    outcome: Outcome,
    /// When this outcome was first observed (published as lastSyncTime: it moves when the result does).
    since: jiff::Timestamp,
    failures: u32,
}

#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Synced {
        partner: PartnerInfo,
        customers: u64,
        resellers: Option<u64>,
        verification: Verification,
    },
    /// No usable token: consent expired or revoked, MFA, wrong app credentials or tenant.
    NotAuthenticated { reason: String, message: String },
    /// Authenticated, but a Partner Center call failed.
    CallFailed {
        reason: String,
        message: String,
        retry_after: Option<Duration>,
    },
}

impl ConnectionRuntime {
    pub fn forget(&self, key: &str) {
        self.entries.lock().expect("connection runtime").remove(key);
    }
}

/// Static problems that stop a connection before any Partner Center call.
struct Blocked {
    reason: String,
    message: String,
}

pub async fn reconcile(conn: Arc<PartnerCenterConnection>, ctx: Arc<Context>) -> Result<Action> {
    let ns = conn
        .namespace()
        .ok_or(super::error::Error::MissingField("metadata.namespace"))?;
    let name = conn.name_any();
    let key = format!("{ns}/{name}");
    let api: Api<PartnerCenterConnection> = Api::namespaced(ctx.client.clone(), &ns);
    let reference = crate::api::ConnectionRef {
        namespace: ns.clone(),
        name: name.clone(),
    };
    // Only this connection's evaluation: the shared evaluator is not held across awaits.
    let own = super::facts::connection_facts(&conn);
    let usage = ctx
        .world
        .evaluated_seeing(|s| s.connections.get(&reference) == Some(&own))
        .connection(&reference);
    let in_use = usage.as_ref().is_some_and(|u| u.in_use());

    if conn.meta().deletion_timestamp.is_some() {
        if in_use {
            let message = format!(
                "deletion waits: {}; re-point or remove those references",
                usage.as_ref().map(|u| u.usage_message()).unwrap_or_default()
            );
            let mut st = conn.status.clone().unwrap_or_default();
            set_condition(
                &mut st.conditions,
                conditions::types::READY,
                "False",
                "Deleting",
                &message,
                conn.metadata.generation,
                jiff::Timestamp::now(),
            );
            st.used_by = usage.as_ref().map(used_by);
            write(&ctx, &api, &conn, st).await?;
            return Ok(Action::requeue(Duration::from_secs(300)));
        }
        ctx.connections.forget(&key);
        if finalizer::has(conn.as_ref()) {
            finalizer::remove(&api, conn.as_ref()).await?;
        }
        return Ok(Action::await_change());
    }
    if !finalizer::has(conn.as_ref()) {
        finalizer::add(&api, conn.as_ref()).await?;
    }

    let owner = usage.as_ref().map(|u| u.owner.clone());
    let blocked = blocked(&conn, &ctx, owner.as_ref());
    let (outcome, since, next, secret) = match blocked {
        Some(b) => {
            ctx.connections.forget(&key);
            publish_blocked(&ctx, &api, &conn, usage.as_ref(), owner.as_ref(), b).await?;
            return Ok(Action::requeue(Duration::from_secs(600)));
        }
        None => {
            // Credentials: read by name, in the connection's own namespace only.
            let secret_name = &conn.spec.auth.secret_ref.name;
            match credentials::read_secret(&ctx.client, &ns, secret_name).await {
                Ok(secret) => {
                    let synced = sync_if_due(&conn, &ctx, &key, secret.as_ref()).await;
                    (synced.0, synced.1, synced.2, secret)
                }
                Err(kube::Error::Api(e)) if e.code == 403 => {
                    let message = format!(
                        "the operator may not read Secret '{secret_name}' in namespace '{ns}': bind the ClusterRole partner-center-operator-secrets to the operator in that namespace (see deploy/rbac/operator.yaml)"
                    );
                    let outcome = Outcome::NotAuthenticated {
                        reason: "SecretForbidden".into(),
                        message,
                    };
                    let record = record(
                        &ctx,
                        &key,
                        outcome,
                        (conn.metadata.generation, String::new(), String::new()),
                        None,
                    );
                    let next = super::jitter(retry_after(&record, Duration::from_secs(300)));
                    (record.outcome, record.since, next, None)
                }
                Err(e) => return Err(e.into()),
            }
        }
    };

    let mut st = build_status(&conn, &outcome, since, usage.as_ref(), owner.as_ref());
    st.refresh_token_expires_at = secret.as_ref().and_then(|s| refresh_token_expiry(&conn, s));
    write(&ctx, &api, &conn, st).await?;
    Ok(Action::requeue(next))
}

pub fn error_policy(conn: Arc<PartnerCenterConnection>, error: &super::error::Error, ctx: Arc<Context>) -> Action {
    super::error_policy(KIND, conn.as_ref(), error, &ctx)
}

fn used_by(u: &policy::ConnectionEvaluation) -> UsedBy {
    let mut examples: Vec<String> = u.plans.iter().map(|p| format!("CustomerPlan/{p}")).collect();
    examples.extend(u.override_resellers.iter().map(|r| format!("Reseller/{r}")));
    examples.truncate(5);
    UsedBy {
        plans: u.plans.len() as i32,
        resellers: u.effective_resellers.len() as i32,
        examples,
    }
}

fn owner_text(owner: Option<&ConnectionOwner>) -> Option<String> {
    match owner? {
        ConnectionOwner::Provider => Some("Provider".into()),
        ConnectionOwner::Reseller(r) => Some(format!("Reseller/{r}")),
        ConnectionOwner::Unusable(_) => None,
    }
}

fn blocked(conn: &PartnerCenterConnection, ctx: &Context, owner: Option<&ConnectionOwner>) -> Option<Blocked> {
    if let Some(ConnectionOwner::Unusable(f)) = owner {
        return Some(Blocked {
            reason: f.reason.clone(),
            message: f.message.clone(),
        });
    }
    if let Some(ep) = &conn.spec.endpoints {
        for (field, value) in [
            ("spec.endpoints.partnerCenter", &ep.partner_center),
            ("spec.endpoints.login", &ep.login),
        ] {
            let Some(value) = value else { continue };
            let url = match url::Url::parse(value) {
                Ok(u) => u,
                Err(e) => {
                    return Some(Blocked {
                        reason: "InvalidEndpoint".into(),
                        message: format!("{field} '{value}' is not a URL ({e})"),
                    });
                }
            };
            if let Err(why) = ctx.settings.endpoint_allowed(&url) {
                return Some(Blocked {
                    reason: "EndpointNotAllowed".into(),
                    message: format!(
                        "{field} '{value}' is not allowed: {why}; remove spec.endpoints to use the real Partner Center, or ask the operator's administrator to allow this endpoint"
                    ),
                });
            }
        }
    }
    None
}

async fn publish_blocked(
    ctx: &Context,
    api: &Api<PartnerCenterConnection>,
    conn: &PartnerCenterConnection,
    usage: Option<&policy::ConnectionEvaluation>,
    owner: Option<&ConnectionOwner>,
    b: Blocked,
) -> Result<()> {
    let generation = conn.metadata.generation;
    let now = jiff::Timestamp::now();
    let mut st = conn.status.clone().unwrap_or_default();
    st.observed_generation = generation;
    st.owner = owner_text(owner);
    st.used_by = usage.map(used_by);
    let not_checked = format!("not checked: {}", b.message);
    for (type_, status, message) in [
        ("Authenticated", "Unknown", &not_checked),
        ("Verified", "Unknown", &not_checked),
        (conditions::types::READY, "False", &b.message),
    ] {
        set_condition(&mut st.conditions, type_, status, &b.reason, message, generation, now);
    }
    write(ctx, api, conn, st).await
}

async fn write(
    ctx: &Context,
    api: &Api<PartnerCenterConnection>,
    conn: &PartnerCenterConnection,
    st: PartnerCenterConnectionStatus,
) -> Result<()> {
    status::publish(ctx, api, conn, KIND, "Verify", conn.status.as_ref(), &st).await?;
    Ok(())
}

/// Runs a Partner Center sync when one is due and returns the outcome to publish, since when it
/// holds, and when to reconcile next.
async fn sync_if_due(
    conn: &PartnerCenterConnection,
    ctx: &Context,
    key: &str,
    secret: Option<&k8s_openapi::api::core::v1::Secret>,
) -> (Outcome, jiff::Timestamp, Duration) {
    let ns = conn.namespace().unwrap_or_default();
    let interval = conn.spec.sync_interval_or(ctx.settings.default_sync_interval);
    let app_plus_user = conn.spec.auth.mode == AuthMode::AppPlusUser;
    let secret_name = conn.spec.auth.secret_ref.name.clone();

    let inputs_of = |c: Option<&SecretCredentials>| -> Inputs {
        use secrecy::ExposeSecret;
        match c {
            Some(c) => (
                conn.metadata.generation,
                c.credentials.client_id.clone(),
                credentials::fingerprint(c.credentials.client_secret.expose_secret()),
            ),
            None => (conn.metadata.generation, String::new(), String::new()),
        }
    };
    let parsed = match secret {
        None => Err((
            "SecretNotFound".to_string(),
            format!(
                "Secret '{secret_name}' not found in namespace '{ns}': create it with keys clientId, clientSecret{} (see `partner-center-operator consent`)",
                if app_plus_user { ", refreshToken" } else { "" }
            ),
        )),
        Some(s) => credentials::parse_secret(s, app_plus_user).map_err(|p| (p.reason.to_string(), p.message)),
    };
    let creds = parsed.as_ref().ok();
    let inputs = inputs_of(creds);

    // Not due: publish the last result again (no Partner Center call).
    {
        let mut entries = ctx.connections.entries.lock().expect("connection runtime");
        let entry = entries.entry(key.to_string()).or_default();
        let new_refresh_token = creds.is_some_and(|c| {
            *entry.expected_refresh_token.lock().expect("expected token") != c.refresh_token_fingerprint
        });
        // Partner Center's Retry-After holds even for a sync request or new inputs: no call before it passed.
        if let Some(last) = &entry.last
            && let Outcome::CallFailed {
                retry_after: Some(wait),
                ..
            } = &last.outcome
            && last.at.elapsed() < *wait
        {
            let next = wait.saturating_sub(last.at.elapsed()) + Duration::from_millis(50);
            return (last.outcome.clone(), last.since, next);
        }
        if let Some(last) = &entry.last
            && last.inputs == inputs
            && !new_refresh_token
            && last.requested.as_ref() == requested(conn)
            && last.at.elapsed() < retry_after(last, interval)
        {
            let next = retry_after(last, interval).saturating_sub(last.at.elapsed());
            return (last.outcome.clone(), last.since, super::jitter(next));
        }
    }

    let outcome = match creds {
        None => {
            let (reason, message) = parsed.as_ref().err().cloned().unwrap_or_default();
            Outcome::NotAuthenticated { reason, message }
        }
        Some(c) => match reverted(&secret_name, c) {
            Some(f) => Outcome::NotAuthenticated {
                reason: f.reason,
                message: f.message,
            },
            None => match client_for(conn, ctx, key, c, &inputs) {
                Err(e) => Outcome::NotAuthenticated {
                    reason: e.reason().to_string(),
                    message: e.to_string(),
                },
                Ok(client) => {
                    let started = Instant::now();
                    let outcome = sync(conn, ctx, client.as_ref(), app_plus_user).await;
                    let labels = crate::runtime::metrics::ConnectionLabels {
                        namespace: ns.clone(),
                        name: conn.name_any(),
                    };
                    ctx.metrics
                        .connection_last_sync
                        .get_or_create(&labels)
                        .set(jiff::Timestamp::now().as_second());
                    tracing::info!(connection = %key, took_ms = started.elapsed().as_millis() as u64, outcome = outcome_reason(&outcome), "synced with Partner Center");
                    outcome
                }
            },
        },
    };
    let record = record(ctx, key, outcome, inputs, requested(conn).cloned());
    let next = retry_after(&record, interval);
    (record.outcome, record.since, super::jitter(next))
}

/// Rule 10: the Secret holds a refresh token the operator already rotated away.
fn reverted(secret_name: &str, c: &SecretCredentials) -> Option<crate::policy::Finding> {
    let fp = c.refresh_token_fingerprint.as_ref()?;
    policy::check_refresh_token(secret_name, fp, &c.rotated_away)
}

fn outcome_reason(o: &Outcome) -> &str {
    match o {
        Outcome::Synced { verification, .. } => &verification.reason,
        Outcome::NotAuthenticated { reason, .. } | Outcome::CallFailed { reason, .. } => reason,
    }
}

/// When to sync again: the interval when the last sync worked; exponential backoff (capped by the
/// interval) after failures, or Partner Center's Retry-After.
fn retry_after(r: &SyncRecord, interval: Duration) -> Duration {
    match &r.outcome {
        Outcome::Synced { .. } => interval,
        Outcome::CallFailed {
            retry_after: Some(d), ..
        } => *d,
        _ => {
            let backoff = Duration::from_secs(5).saturating_mul(1 << r.failures.min(10));
            backoff.min(interval).min(Duration::from_secs(300))
        }
    }
}

fn requested(conn: &PartnerCenterConnection) -> Option<&String> {
    conn.annotations().get(SYNC_REQUESTED_ANNOTATION)
}

fn record(ctx: &Context, key: &str, outcome: Outcome, inputs: Inputs, requested: Option<String>) -> SyncRecord {
    let mut entries = ctx.connections.entries.lock().expect("connection runtime");
    let entry = entries.entry(key.to_string()).or_default();
    let previous = entry.last.take();
    let failed = !matches!(outcome, Outcome::Synced { .. });
    if matches!(outcome, Outcome::NotAuthenticated { .. }) {
        // Unusable credentials: forget the client (and its token cache); the next attempt rebuilds it.
        entry.client = None;
    }
    let record = SyncRecord {
        at: Instant::now(),
        inputs,
        requested,
        since: match &previous {
            Some(p) if p.outcome == outcome => p.since,
            _ => jiff::Timestamp::now(),
        },
        failures: if failed {
            previous.map(|p| p.failures + 1).unwrap_or(1)
        } else {
            0
        },
        outcome,
    };
    entry.last = Some(record.clone());
    record
}

/// The cached client for this connection, rebuilt when the spec or the credentials changed
/// (a refresh token the operator itself wrote back is not a change).
fn client_for(
    conn: &PartnerCenterConnection,
    ctx: &Context,
    key: &str,
    creds: &SecretCredentials,
    inputs: &Inputs,
) -> std::result::Result<Arc<dyn PartnerCenterApi>, PartnerCenterError> {
    let mut entries = ctx.connections.entries.lock().expect("connection runtime");
    let entry = entries.entry(key.to_string()).or_default();
    let same_refresh_token =
        *entry.expected_refresh_token.lock().expect("expected token") == creds.refresh_token_fingerprint;
    if let Some((built_for, client)) = &entry.client
        && built_for == inputs
        && same_refresh_token
    {
        return Ok(client.clone());
    }
    *entry.expected_refresh_token.lock().expect("expected token") = creds.refresh_token_fingerprint.clone();
    let on_persisted = {
        let expected = entry.expected_refresh_token.clone();
        Arc::new(move |fp: String| *expected.lock().expect("expected token") = Some(fp))
            as Arc<dyn Fn(String) + Send + Sync>
    };
    let ns = conn.namespace().unwrap_or_default();
    let sink = Arc::new(SecretRefreshTokenSink::new(
        ctx.client.clone(),
        ns,
        conn.spec.auth.secret_ref.name.clone(),
        creds,
        on_persisted,
    ));
    let mut settings = ConnectionSettings::new(
        conn.spec.partner_tenant_id.clone(),
        conn.spec.cloud,
        conn.spec.auth.mode,
    );
    settings.endpoints = endpoints(conn)?;
    settings.timeouts.request = ctx.settings.partner_center_request_timeout;
    settings.on_throttled = Some(ctx.metrics.throttle_observer());
    let client = (ctx.connect)(settings, creds.credentials.clone(), sink)?;
    entry.client = Some((inputs.clone(), client.clone()));
    Ok(client)
}

fn endpoints(conn: &PartnerCenterConnection) -> std::result::Result<Option<Endpoints>, PartnerCenterError> {
    let Some(ep) = &conn.spec.endpoints else {
        return Ok(None);
    };
    let defaults = crate::partner_center::config::cloud_endpoints(conn.spec.cloud);
    let parse = |field: &str, v: &Option<String>, default: url::Url| match v {
        None => Ok(default),
        Some(s) => url::Url::parse(s).map_err(|e| PartnerCenterError::config(field, &format!("is not a URL: {e}"))),
    };
    Ok(Some(Endpoints {
        partner_center: parse(
            "spec.endpoints.partnerCenter",
            &ep.partner_center,
            defaults.partner_center,
        )?,
        login: parse("spec.endpoints.login", &ep.login, defaults.login)?,
    }))
}

/// Awaits one Partner Center call and counts it by operation and outcome.
async fn counted<T>(
    metrics: &crate::runtime::metrics::Metrics,
    operation: &str,
    call: impl std::future::Future<Output = std::result::Result<T, PartnerCenterError>>,
) -> std::result::Result<T, PartnerCenterError> {
    let result = call.await;
    metrics.observe_partner_center_call(operation, result.as_ref().err().map(|e| e.reason()).unwrap_or("Ok"));
    result
}

/// One sync: token, profiles, customer count, indirect resellers; then rule 3.
async fn sync(
    conn: &PartnerCenterConnection,
    ctx: &Context,
    pc: &dyn PartnerCenterApi,
    app_plus_user: bool,
) -> Outcome {
    let m = &ctx.metrics;
    let claims = match counted(m, "token", pc.token_claims()).await {
        Ok(c) => c,
        Err(e) => return failed(e, true),
    };
    let (org, mpn) = if app_plus_user {
        let org = match counted(m, "organization_profile", pc.organization_profile()).await {
            Ok(o) => o,
            Err(e) => return failed(e, false),
        };
        // The partner id is informational: its failure does not fail the sync.
        let mpn = counted(m, "mpn_profile", pc.mpn_profile()).await.ok();
        (Some(org), mpn)
    } else {
        (None, None)
    };
    let customers = match counted(m, "count_customers", pc.count_customers()).await {
        Ok(n) => n,
        Err(e) => return failed(e, false),
    };
    let resellers = if app_plus_user {
        match counted(m, "indirect_resellers", pc.indirect_resellers()).await {
            Ok(list) => ResellerListing::Count(list.len() as u64),
            Err(PartnerCenterError::Forbidden { .. } | PartnerCenterError::AppOnlyNotAllowed { .. }) => {
                ResellerListing::Denied
            }
            Err(e) => return failed(e, false),
        }
    } else {
        ResellerListing::NotChecked
    };
    let declared = DeclaredIdentity {
        tenant_id: conn.spec.partner_tenant_id.clone(),
        region: conn.spec.region.clone(),
        csp_type: conn.spec.csp_type,
        environment: conn.spec.environment,
        auth_mode: conn.spec.auth.mode,
    };
    let observed = Observed {
        token_tid: claims.tid.clone().unwrap_or_default(),
        org_profile_tenant: org.as_ref().and_then(|o| o.tenant_id.clone()),
        country: org.as_ref().and_then(|o| o.country().map(str::to_string)),
        indirect_resellers: resellers,
        customer_count: Some(customers),
    };
    let verification = policy::verify_connection(&declared, &observed, &ctx.world.settings.regions);
    Outcome::Synced {
        partner: PartnerInfo {
            company_name: org.as_ref().and_then(|o| o.company_name.clone()),
            tenant_id: org.as_ref().and_then(|o| o.tenant_id.clone()).or(claims.tid),
            partner_id: mpn.and_then(|m| m.mpn_id),
            country: observed.country.clone(),
            default_domain: org.as_ref().and_then(|o| o.domain.clone()),
        },
        customers,
        resellers: match resellers {
            ResellerListing::Count(n) => Some(n),
            _ => None,
        },
        verification,
    }
}

fn failed(e: PartnerCenterError, at_token: bool) -> Outcome {
    let auth_problem = at_token || e.needs_credentials_fix();
    if auth_problem && !e.is_transient() {
        Outcome::NotAuthenticated {
            reason: e.reason().to_string(),
            message: e.to_string(),
        }
    } else {
        let retry_after = match &e {
            PartnerCenterError::Throttled { retry_after } => *retry_after,
            _ => None,
        };
        Outcome::CallFailed {
            reason: e.reason().to_string(),
            message: e.to_string(),
            retry_after,
        }
    }
}

fn build_status(
    conn: &PartnerCenterConnection,
    outcome: &Outcome,
    since: jiff::Timestamp,
    usage: Option<&policy::ConnectionEvaluation>,
    owner: Option<&ConnectionOwner>,
) -> PartnerCenterConnectionStatus {
    let generation = conn.metadata.generation;
    let now = jiff::Timestamp::now();
    let mut st = conn.status.clone().unwrap_or_default();
    st.observed_generation = generation;
    st.owner = owner_text(owner);
    st.used_by = usage.map(used_by);
    // (status, reason, message) of Authenticated, Verified and Ready.
    let authenticated = (
        "True",
        "Authenticated",
        "a Partner Center token was issued for the connection's credentials".to_string(),
    );
    let [auth, verified, ready] = match outcome {
        Outcome::Synced {
            partner,
            customers,
            resellers,
            verification,
        } => {
            st.partner = Some(partner.clone());
            st.customer_count = Some(*customers as i64);
            st.indirect_reseller_count = resellers.map(|n| n as i64);
            st.last_sync_time = Some(Time(since));
            let mut message = verification.message.clone();
            if !verification.unchecked.is_empty() {
                message = format!("{message} (not checked: {})", verification.unchecked.join("; "));
            }
            let v = if verification.verified { "True" } else { "False" };
            let reason = verification.reason.as_str();
            [authenticated, (v, reason, message.clone()), (v, reason, message)]
        }
        Outcome::NotAuthenticated { reason, message } => [
            ("False", reason.as_str(), message.clone()),
            ("Unknown", reason, "not checked: not authenticated".to_string()),
            ("False", reason, message.clone()),
        ],
        Outcome::CallFailed { reason, message, .. } => [
            authenticated,
            ("Unknown", reason.as_str(), message.clone()),
            ("False", reason, message.clone()),
        ],
    };
    for (type_, (status, reason, message)) in ["Authenticated", "Verified", conditions::types::READY]
        .into_iter()
        .zip([auth, verified, ready])
    {
        set_condition(&mut st.conditions, type_, status, reason, &message, generation, now);
    }
    st
}

/// Estimate: the last rotation the operator stored, plus 90 days — rounded to the day, because an
/// hourly-moving timestamp would mean a status write every hour for nothing.
fn refresh_token_expiry(conn: &PartnerCenterConnection, secret: &k8s_openapi::api::core::v1::Secret) -> Option<Time> {
    if conn.spec.auth.mode != AuthMode::AppPlusUser {
        return None;
    }
    let rotated_at: jiff::Timestamp = secret
        .metadata
        .annotations
        .as_ref()?
        .get(credentials::ROTATED_AT_ANNOTATION)?
        .parse()
        .ok()?;
    let expires = rotated_at.checked_add(REFRESH_TOKEN_LIFETIME).ok()?;
    let day = 24 * 3600;
    let rounded = jiff::Timestamp::from_second(expires.as_second() / day * day).ok()?;
    Some(Time(rounded))
}
