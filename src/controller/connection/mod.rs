//! PartnerCenterConnection reconciler: authenticate with the connection's own credentials, read what
//! Partner Center reports, verify it against the declared identity (rule 3, decided in `policy`),
//! and publish it. Partner Center is called once per connection per sync interval, never per plan
//! or reseller. The work is in stages, each its own module with its own tests:
//!
//! - [`dereference`]: the Secret by name, parsed into credentials
//! - [`decide`]: blocked? due? (pure; the tests run on a fake clock)
//! - [`sync`]: the Partner Center calls, error classification, the total deadline
//! - [`status`]: the status built from the outcome
//! - [`memory`]: what is remembered between reconciles (keyed by object uid and the sync's inputs)
//!   and the scheduler that runs syncs off the reconcile workers, one per namespace at a time
//!
//! A reconcile never waits for Partner Center: a due sync is spawned (when its namespace's turn
//! comes) and its completion requeues the connection, whose next reconcile publishes the outcome.

pub mod audit;
pub mod decide;
pub mod dereference;
#[cfg(test)]
mod fake;
pub mod inventory;
pub mod memory;
pub mod status;
pub mod sync;

use super::context::{Context, Shared};
use super::credentials::SecretRefreshTokenSink;
use super::error::{Error, Result};
use super::finalizer;
use crate::api::{ConnectionRef, PartnerCenterConnection, PartnerCenterConnectionStatus};
use crate::partner_center::{ConnectionSettings, Endpoints, PartnerCenterApi, PartnerCenterError};
use crate::policy::{ConnectionOwner, DeclaredIdentity};
use decide::Decision;
use futures::FutureExt;
use futures::channel::mpsc::UnboundedSender;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use memory::{Memory, Scheduler, SyncKey, SyncRecord};
use std::sync::Arc;
use std::time::{Duration, Instant};
use sync::{Failure, Outcome};

pub const KIND: &str = "PartnerCenterConnection";
/// Changing this annotation's value asks for a sync now, like Flux's `reconcile.fluxcd.io/requestedAt`
/// (e.g. after re-running the consent flow): `kubectl annotate pcc X channel.csp.dev/sync-requested="$(date)" --overwrite`.
/// Requests of one connection are answered at most every `decide::MIN_REQUEST_INTERVAL`.
pub const SYNC_REQUESTED_ANNOTATION: &str = "channel.csp.dev/sync-requested";

/// The connection reconciler's context: the shared one, its memory, the sync scheduler, and the
/// channel through which a finished sync requeues its connection.
pub struct ConnectionContext {
    pub shared: Arc<Context>,
    pub memory: Arc<Memory>,
    pub scheduler: Arc<Scheduler>,
    pub requeue: UnboundedSender<ObjectRef<PartnerCenterConnection>>,
    /// Every Customer's facts (the audit compares the Customers pinned to a connection).
    pub customers: Arc<super::customer::resolve::AllFacts>,
    /// Requeues the Customers whose audit verdict a sync may have changed.
    pub requeue_customers: UnboundedSender<ObjectRef<crate::api::Customer>>,
}

impl Shared for ConnectionContext {
    fn shared(&self) -> &Context {
        &self.shared
    }
}

impl ConnectionContext {
    /// Forgets connections that are gone from the watch cache (deleted while the reconciler never
    /// saw the deleted object); returns how many.
    pub fn forget_deleted(&self) -> usize {
        let store = &self.shared.world.connections;
        self.memory.retain_existing(|name, uid| {
            let (ns, name) = name.split_once('/').unwrap_or(("", name));
            store
                .get(&ObjectRef::new(name).within(ns))
                .is_some_and(|c| c.uid().as_deref() == Some(uid))
        })
    }
}

pub async fn reconcile(conn: Arc<PartnerCenterConnection>, cctx: Arc<ConnectionContext>) -> Result<Action> {
    let ctx = &cctx.shared;
    let ns = conn.namespace().ok_or(Error::MissingField("metadata.namespace"))?;
    let uid = conn.uid().ok_or(Error::MissingField("metadata.uid"))?;
    let name = format!("{ns}/{}", conn.name_any());
    let api: Api<PartnerCenterConnection> = Api::namespaced(ctx.client.clone(), &ns);
    let (usage, owner) = usage(ctx, &conn);

    if conn.meta().deletion_timestamp.is_some() {
        if let Some(u) = usage.as_ref().filter(|u| u.in_use()) {
            write(ctx, &api, &conn, status::deleting(&conn, u, jiff::Timestamp::now())).await?;
            return Ok(Action::requeue(Duration::from_secs(300)));
        }
        cctx.memory.forget(&uid);
        if finalizer::has(conn.as_ref()) {
            finalizer::remove(&api, conn.as_ref()).await?;
        }
        return Ok(Action::await_change());
    }
    if !finalizer::has(conn.as_ref()) {
        finalizer::add(&api, conn.as_ref()).await?;
    }
    if let Some(u) = usage.as_ref() {
        // The same privacy as status.usedBy: a tenant's connection names only its own subtree.
        let used_by = u.used_by();
        let total = usize::try_from(used_by.references.unwrap_or(0)).unwrap_or(0);
        let marker = if u.in_use() {
            finalizer::in_use_text(&used_by.examples, total)
        } else {
            None
        };
        finalizer::set_in_use(&api, conn.as_ref(), marker).await?;
    }

    if let Some(why) = decide::blocked(&conn, &ctx.settings, owner.as_ref()) {
        cctx.memory.forget(&uid);
        let st = status::blocked(&conn, &why, usage.as_ref(), owner.as_ref(), jiff::Timestamp::now());
        write(ctx, &api, &conn, st).await?;
        return Ok(Action::requeue(Duration::from_secs(600)));
    }

    let interval = decide::sync_interval(&conn, ctx.settings.default_sync_interval);
    let requested = conn.annotations().get(SYNC_REQUESTED_ANNOTATION).cloned();
    let secret = match dereference::read(&ctx.client, &conn).await? {
        Ok(secret) => secret,
        Err(forbidden) => {
            // Not readable: no Partner Center call; back off as after a failed sync, at most 5 min.
            let record = record_failure(&cctx, &conn, &uid, &name, forbidden, requested);
            let st = published(&cctx, &conn, &uid, &record, &usage, &owner, None);
            write(ctx, &api, &conn, st).await?;
            let next = decide::wait_after(&record, interval.min(Duration::from_secs(300)));
            return Ok(Action::requeue(super::jitter(next)));
        }
    };
    let creds = match dereference::credentials(&conn, secret.as_ref()) {
        Ok(creds) => creds,
        Err(problem) => {
            let record = record_failure(&cctx, &conn, &uid, &name, problem, requested);
            let st = published(&cctx, &conn, &uid, &record, &usage, &owner, secret.as_ref());
            write(ctx, &api, &conn, st).await?;
            return Ok(Action::requeue(super::jitter(decide::wait_after(&record, interval))));
        }
    };
    let key = SyncKey::of(&conn, &dereference::app_fingerprint(&creds));
    let refresh_token = creds.refresh_token_fingerprint.as_ref();
    let seen = cctx.memory.seen(&uid, &name, refresh_token);
    let current = seen.last.as_ref().filter(|r| r.key == key);
    let next = match decide::decide(&seen, &key, requested.as_ref(), interval, Instant::now()) {
        Decision::Reuse { next, jitter } => {
            if jitter {
                super::jitter(next)
            } else {
                next
            }
        }
        // The completion requeues; this is only a safety net.
        Decision::InFlight => interval,
        Decision::Sync { answers_request } => {
            let client = cctx.memory.client(&uid, &name, &key, refresh_token, |expected| {
                build_client(ctx, &conn, &creds, expected)
            });
            match client {
                Ok(client) => {
                    if cctx.memory.start(&uid, &name, answers_request, Instant::now()) {
                        spawn_sync(&cctx, &conn, uid.clone(), key.clone(), requested.clone(), client);
                    }
                    interval
                }
                Err(e) => {
                    let failure = Failure::new(e.reason(), e.to_string());
                    let record = record_failure(&cctx, &conn, &uid, &name, failure, requested);
                    let st = published(&cctx, &conn, &uid, &record, &usage, &owner, secret.as_ref());
                    write(ctx, &api, &conn, st).await?;
                    return Ok(Action::requeue(super::jitter(decide::wait_after(&record, interval))));
                }
            }
        }
    };
    // Publish what is known for these inputs; before a first sync finishes there is nothing yet
    // (a status of an older generation reads as Unknown, never as Ready).
    if let Some(record) = current {
        write(
            ctx,
            &api,
            &conn,
            published(&cctx, &conn, &uid, record, &usage, &owner, secret.as_ref()),
        )
        .await?;
    }
    Ok(Action::requeue(next))
}

pub fn error_policy(conn: Arc<PartnerCenterConnection>, error: &Error, cctx: Arc<ConnectionContext>) -> Action {
    super::error_policy(KIND, conn.as_ref(), error, &cctx.shared)
}

/// What references the connection (as far as its owner may know) and who owns it, from the
/// evaluation of the caches that saw this connection's current facts. The shared evaluator is not
/// held across awaits.
fn usage(ctx: &Context, conn: &PartnerCenterConnection) -> (Option<status::Usage>, Option<ConnectionOwner>) {
    let reference = ConnectionRef {
        namespace: conn.namespace().unwrap_or_default(),
        name: conn.name_any(),
    };
    let own = super::facts::connection_facts(conn);
    let evaluator = ctx
        .world
        .evaluated_seeing(|s| s.connections.get(&reference) == Some(&own));
    match evaluator.connection(&reference) {
        Some(u) => (
            Some(status::Usage::of(&u, &evaluator.snapshot().resellers)),
            Some(u.owner.clone()),
        ),
        None => (None, None),
    }
}

fn published(
    cctx: &ConnectionContext,
    conn: &PartnerCenterConnection,
    uid: &str,
    record: &SyncRecord,
    usage: &Option<status::Usage>,
    owner: &Option<ConnectionOwner>,
    secret: Option<&k8s_openapi::api::core::v1::Secret>,
) -> PartnerCenterConnectionStatus {
    let mut st = status::from_outcome(
        conn,
        &record.outcome,
        record.since,
        usage.as_ref(),
        owner.as_ref(),
        jiff::Timestamp::now(),
    );
    st.refresh_token_expires_at = secret.and_then(|s| status::refresh_token_expiry(conn, s));
    // The last successful sync's audit stays published while later syncs fail.
    if let Some(c) = audit::comparison(cctx, conn, uid) {
        audit::publish(&cctx.shared, conn, &c.counts, cctx.memory.details_of(uid).as_deref());
        st.inventory = Some(c.counts);
    }
    st
}

/// Records a problem found before any Partner Center call as the connection's outcome.
fn record_failure(
    cctx: &ConnectionContext,
    conn: &PartnerCenterConnection,
    uid: &str,
    name: &str,
    failure: Failure,
    requested: Option<String>,
) -> SyncRecord {
    cctx.memory.record(
        uid,
        name,
        SyncKey::of(conn, ""),
        Outcome::NotAuthenticated(failure),
        requested,
        (Instant::now(), jiff::Timestamp::now()),
    )
}

async fn write(
    ctx: &Context,
    api: &Api<PartnerCenterConnection>,
    conn: &PartnerCenterConnection,
    st: PartnerCenterConnectionStatus,
) -> Result<()> {
    super::status::publish(ctx.publisher(), api, conn, KIND, "Verify", conn.status.as_ref(), &st).await?;
    Ok(())
}

/// Runs one sync in its own task, when the scheduler gives its namespace a turn, within the sync
/// deadline; records the outcome and requeues the connection. A panic inside is caught, counted
/// and recorded as the outcome, so the connection is not left "in flight" forever.
fn spawn_sync(
    cctx: &Arc<ConnectionContext>,
    conn: &PartnerCenterConnection,
    uid: String,
    key: SyncKey,
    requested: Option<String>,
    client: Arc<dyn PartnerCenterApi>,
) {
    let cctx = cctx.clone();
    let ns = conn.namespace().unwrap_or_default();
    let conn_name = conn.name_any();
    let name = format!("{ns}/{conn_name}");
    let declared = DeclaredIdentity {
        tenant_id: conn.spec.partner_tenant_id.clone(),
        region: conn.spec.region.clone(),
        csp_type: conn.spec.csp_type,
        environment: conn.spec.environment,
        auth_mode: conn.spec.auth.mode,
    };
    use tracing::Instrument;
    // The reconcile's span goes along: the sync's log lines name the object too.
    let span = tracing::Span::current();
    tokio::spawn(async move {
        let ctx = &cctx.shared;
        let slot = cctx.scheduler.slot(&ns).await;
        let started = Instant::now();
        let deadline = ctx.settings.partner_center_sync_deadline;
        let run = sync::run_within(
            deadline,
            client.as_ref(),
            &declared,
            &ctx.world.settings.regions,
            &ctx.metrics,
        );
        let outcome = match std::panic::AssertUnwindSafe(run).catch_unwind().await {
            Ok(outcome) => outcome,
            Err(panic) => {
                let text = super::error::panic_text(panic.as_ref());
                tracing::error!(panic = %text, "the sync panicked; caught, backing off");
                ctx.metrics
                    .reconcile_panics
                    .get_or_create(&crate::runtime::metrics::KindLabels { kind: KIND.into() })
                    .inc();
                Outcome::CallFailed {
                    failure: Failure::new(
                        "InternalError",
                        "the operator failed during this sync; it is retried with backoff",
                    ),
                    retry_after: None,
                }
            }
        };
        drop(slot);
        ctx.metrics
            .connection_last_sync
            .get_or_create(&crate::runtime::metrics::ConnectionLabels {
                namespace: ns.clone(),
                name: conn_name.clone(),
            })
            .set(jiff::Timestamp::now().as_second());
        let took_ms = started.elapsed().as_millis() as u64;
        match &outcome {
            Outcome::Synced(s) if s.verification.verified => {
                tracing::info!(took_ms, outcome = outcome.reason(), "synced with Partner Center")
            }
            Outcome::Synced(s) => tracing::warn!(took_ms, reason = %s.verification.reason, detail = %s.verification.message, "synced, but Partner Center contradicts the connection"),
            Outcome::NotAuthenticated(f) | Outcome::CallFailed { failure: f, .. } => {
                tracing::warn!(took_ms, reason = %f.reason, detail = %f.message, "sync with Partner Center failed")
            }
        }
        if let Outcome::Synced(s) = &outcome {
            let changes = cctx.memory.set_inventory(&uid, &name, s.inventory.clone());
            audit::after_sync(&cctx, &uid, &name, &ns, &conn_name, &s.inventory, changes, client.as_ref()).await;
        }
        cctx.memory.record(
            &uid,
            &name,
            key,
            outcome,
            requested,
            (Instant::now(), jiff::Timestamp::now()),
        );
        let _ = cctx.requeue.unbounded_send(ObjectRef::new(&conn_name).within(&ns));
    }
    .instrument(span));
}

/// The client of `conn` for another reconciler (the Customer reconciler's provisioning calls): the
/// one this connection's syncs use when it exists, so one token cache and one refresh-token
/// rotation serve both (two clients of one account would each rotate the refresh token, and the
/// second rotation would supersede the first's). `Ok(Err(..))` when the Secret is unusable.
pub async fn shared_client(
    ctx: &Context,
    memory: &Memory,
    conn: &PartnerCenterConnection,
) -> Result<std::result::Result<Arc<dyn PartnerCenterApi>, Failure>> {
    let uid = conn.uid().ok_or(Error::MissingField("metadata.uid"))?;
    let name = format!("{}/{}", conn.namespace().unwrap_or_default(), conn.name_any());
    let secret = match dereference::read(&ctx.client, conn).await? {
        Ok(secret) => secret,
        Err(forbidden) => return Ok(Err(forbidden)),
    };
    let creds = match dereference::credentials(conn, secret.as_ref()) {
        Ok(creds) => creds,
        Err(problem) => return Ok(Err(problem)),
    };
    let key = SyncKey::of(conn, &dereference::app_fingerprint(&creds));
    let client = memory.client(
        &uid,
        &name,
        &key,
        creds.refresh_token_fingerprint.as_ref(),
        |expected| build_client(ctx, conn, &creds, expected),
    );
    Ok(client.map_err(|e| Failure::new(e.reason(), e.to_string())))
}

/// A new Partner Center client for the connection's settings and credentials; its Secret sink
/// moves `expected` when it persists a rotation, so the operator's own write is not a re-consent.
fn build_client(
    ctx: &Context,
    conn: &PartnerCenterConnection,
    creds: &super::credentials::SecretCredentials,
    expected: Arc<memory::ExpectedRefreshToken>,
) -> std::result::Result<Arc<dyn PartnerCenterApi>, PartnerCenterError> {
    let on_persisted = Arc::new(move |fp: String| expected.set(Some(fp))) as Arc<dyn Fn(String) + Send + Sync>;
    let sink = Arc::new(SecretRefreshTokenSink::new(
        ctx.client.clone(),
        conn.namespace().unwrap_or_default(),
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
    (ctx.connect)(settings, creds.credentials.clone(), sink)
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
