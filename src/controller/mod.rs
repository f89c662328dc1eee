//! The operator: one thin reconciler per kind over shared watch caches.
//!
//! - [`world`]: the three stores, the rules' evaluation of them, dependents of a change
//! - [`connection`], [`plan`], [`reseller`], [`customer`]: the reconcilers
//! - [`status`], [`events`], [`finalizer`], [`credentials`]: how they write
//! - [`cached`]: what a cached Reseller keeps
//! - [`watch`]: watches that survive undecodable objects and feed the dependents' triggers

pub mod backoff;
pub mod cached;
pub mod connection;
pub mod context;
pub mod credentials;
pub mod customer;
pub mod error;
pub mod events;
pub mod facts;
pub mod finalizer;
pub mod gauges;
pub mod plan;
pub mod reseller;
pub mod status;
pub mod watch;
pub mod world;

use crate::api::{Customer, CustomerPlan, PartnerCenterConnection};
use crate::runtime::admin::{self, Readiness};
use crate::runtime::leader::{self, LeaderSettings};
use crate::runtime::metrics::Metrics;
use crate::runtime::settings::OperatorSettings;
use cached::CachedReseller;
use context::{Connect, Context};
use futures::StreamExt;
use kube::runtime::Controller;
use kube::runtime::controller::{self as kcontroller, Action};
use std::sync::Arc;
use std::time::{Duration, Instant};
use world::World;

/// `d` ± 10 %: spreads periodic work so many objects do not come due at once.
pub fn jitter(d: Duration) -> Duration {
    d.mul_f64(rand::random_range(0.9..1.1))
}

/// A kube client whose User-Agent names this replica, so the API server's audit log attributes writes.
pub async fn client_for(identity: &str) -> anyhow::Result<kube::Client> {
    let mut config = kube::Config::infer().await?;
    config.headers.push((
        http::header::USER_AGENT,
        http::HeaderValue::from_str(&format!(
            "partner-center-operator/{} ({identity})",
            env!("CARGO_PKG_VERSION")
        ))?,
    ));
    Ok(kube::Client::try_from(config)?)
}

/// Runs the operator until SIGTERM/SIGINT (or until leadership is lost, which ends the process so
/// a fresh replica can campaign again).
pub async fn run(settings: OperatorSettings, connect: Connect) -> anyhow::Result<()> {
    crate::tls::install_crypto_provider();
    crate::runtime::crashpoint::validate().map_err(|e| anyhow::anyhow!(e))?;
    let identity = settings.identity();
    let client = client_for(&identity).await?;
    let regions = crate::policy::RegionTable::with_overrides(&settings.region_overrides()?)
        .map_err(|e| anyhow::anyhow!("region table: {e}"))?;
    let mut policy_settings = crate::policy::Settings::new(settings.provider_namespace());
    policy_settings.sandbox_standard_is_error = settings.sandbox_standard_is_error;
    policy_settings.regions = regions;

    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = Metrics::register(&mut registry);
    let readiness = Readiness::default();
    let shutdown = shutdown_signal();
    let (admin_addr, _admin) = admin::serve(
        settings.admin_addr,
        Arc::new(registry),
        readiness.clone(),
        shutdown.clone(),
    )
    .await?;
    tracing::info!(%admin_addr, identity, provider_namespace = %policy_settings.provider_namespace, "starting");

    let triggers = watch::Triggers::new();
    let (connections, conn_sub) = watch::shared::<PartnerCenterConnection>(&client);
    let (plans, plan_sub) = watch::shared::<CustomerPlan>(&client);
    let (resellers, reseller_sub) = watch::shared::<CachedReseller>(&client);
    let world = Arc::new(World::new(
        connections.reader.clone(),
        plans.reader.clone(),
        resellers.reader.clone(),
        policy_settings,
        metrics.evaluations.clone(),
    ));
    let tracker = Arc::new(world::DependentsTracker::default());
    tokio::spawn(connections.run(
        world.clone(),
        tracker.clone(),
        triggers.clone(),
        world::connection_change,
        watch::nothing_shared,
    ));
    tokio::spawn(plans.run(
        world.clone(),
        tracker.clone(),
        triggers.clone(),
        world::plan_change,
        watch::nothing_shared,
    ));
    tokio::spawn(resellers.run(
        world.clone(),
        tracker.clone(),
        triggers.clone(),
        world::reseller_change,
        cached::share_facts,
    ));
    // Customers: no rule of the other kinds reads them; a change re-resolves the Customers that
    // claim the same domain or tenant (rule 14: the newer may proceed once the older is gone).
    let (customers, customer_sub) = watch::shared::<Customer>(&client);
    let customer_facts = Arc::new(customer::resolve::AllFacts::new(customers.reader.clone()));
    let (claims_tx, claims_rx) = futures::channel::mpsc::unbounded();
    // The connection syncs' audit requeues Customers through the same channel.
    let audit_tx = claims_tx.clone();
    {
        let facts = customer_facts.clone();
        tokio::spawn(customers.run_notifying(move |changed: Option<&Customer>| {
            facts.changed();
            if let Some(c) = changed {
                for other in customer::same_claims(facts.store(), c) {
                    let _ = claims_tx.unbounded_send(other);
                }
            }
        }));
    }

    let synced = Instant::now();
    world.connections.wait_until_ready().await?;
    world.plans.wait_until_ready().await?;
    world.resellers.wait_until_ready().await?;
    customer_facts.store().wait_until_ready().await?;
    readiness.set_ready();
    gauges::spawn(world.clone(), metrics.clone());
    tracing::info!(took_ms = synced.elapsed().as_millis() as u64, "caches synced");

    if settings.leader_election {
        let campaign = leader::campaign(
            client.clone(),
            LeaderSettings {
                lease_name: settings.lease_name.clone(),
                namespace: settings.own_namespace(),
                identity: identity.clone(),
                duration: Duration::from_secs(15),
                grace: Duration::from_secs(5),
            },
        )
        .await?;
        let mut state = campaign.state.clone();
        let elected = tokio::select! {
            r = state.wait_for(|l| *l) => { r?; true }
            _ = shutdown.clone() => false,
        };
        if !elected {
            campaign.step_down(Duration::from_secs(5)).await;
            return Ok(());
        }
        tracing::info!(identity, "became leader");
        metrics.leader.set(1);
        let lost = async move {
            let _ = state.wait_for(|l| !*l).await;
        };
        let ctx = context(client, world, settings, metrics, connect, &identity);
        let customers = Customers {
            sub: customer_sub,
            facts: customer_facts,
            claims: claims_rx,
            audit: audit_tx,
        };
        let outcome = tokio::select! {
            _ = run_controllers(ctx, conn_sub, plan_sub, reseller_sub, customers, triggers, shutdown.clone()) => Ok(()),
            _ = lost => Err(anyhow::anyhow!("lost the leader lease; exiting so that a new replica campaigns")),
        };
        campaign.step_down(Duration::from_secs(5)).await;
        outcome
    } else {
        let ctx = context(client, world, settings, metrics, connect, &identity);
        let customers = Customers {
            sub: customer_sub,
            facts: customer_facts,
            claims: claims_rx,
            audit: audit_tx,
        };
        run_controllers(ctx, conn_sub, plan_sub, reseller_sub, customers, triggers, shutdown).await;
        Ok(())
    }
}

fn context(
    client: kube::Client,
    world: Arc<World>,
    settings: OperatorSettings,
    metrics: Metrics,
    connect: Connect,
    identity: &str,
) -> Arc<Context> {
    Arc::new(Context {
        events: events::Events::new(client.clone(), identity).with_reseller_namespaces(world.resellers.clone()),
        first_verdicts: context::first_verdicts(world.clone()),
        client,
        world,
        settings,
        metrics,
        connect,
        backoff: Default::default(),
    })
}

/// What the Customer controller runs on: its watch, every Customer's facts, and the requeues of
/// Customers whose claim another Customer's change may have freed.
struct Customers {
    sub: watch::Subscription<Customer>,
    facts: Arc<customer::resolve::AllFacts>,
    claims: futures::channel::mpsc::UnboundedReceiver<kube::runtime::reflector::ObjectRef<Customer>>,
    audit: futures::channel::mpsc::UnboundedSender<kube::runtime::reflector::ObjectRef<Customer>>,
}

async fn run_controllers(
    ctx: Arc<Context>,
    conn_sub: watch::Subscription<PartnerCenterConnection>,
    plan_sub: watch::Subscription<CustomerPlan>,
    reseller_sub: watch::Subscription<CachedReseller>,
    customers: Customers,
    triggers: watch::Triggers,
    shutdown: futures::future::Shared<futures::future::BoxFuture<'static, ()>>,
) {
    let concurrency = ctx.settings.concurrency;
    let config = || {
        kcontroller::Config::default()
            .concurrency(concurrency)
            .debounce(Duration::from_millis(200))
    };
    let (conn_rx, plan_rx, reseller_rx) = triggers.receivers();
    // Finished connection syncs requeue their connection through this channel.
    let (sync_done_tx, sync_done_rx) = futures::channel::mpsc::unbounded();
    // One memory of connections: the Customer reconciler calls Partner Center with the very
    // clients the syncs use (one token cache and refresh-token rotation per connection).
    let memory: Arc<connection::memory::Memory> = Default::default();
    let conn_ctx = Arc::new(connection::ConnectionContext {
        shared: ctx.clone(),
        memory: memory.clone(),
        scheduler: Arc::new(connection::memory::Scheduler::new(usize::from(concurrency))),
        requeue: sync_done_tx,
        customers: customers.facts.clone(),
        requeue_customers: customers.audit.clone(),
    });
    tokio::spawn(forget_deleted_connections(conn_ctx.clone()));
    let connections = Controller::for_shared_stream(conn_sub.stream, conn_sub.reader)
        .with_config(config())
        .reconcile_on(futures::stream::select(conn_rx, sync_done_rx))
        .graceful_shutdown_on(shutdown.clone())
        .run(
            timed(connection::KIND, connection::reconcile),
            connection::error_policy,
            conn_ctx,
        )
        .for_each(|_| async {});
    // Plans and resellers (thousands) are not handed the echo of their own status writes; the
    // connection reconciler (a few dozen, staged) sees every change of its objects.
    let plans = Controller::for_shared_stream(
        watch::without_status_echo(plan_sub.stream, plan_sub.reader.clone()),
        plan_sub.reader,
    )
    .with_config(config())
    .reconcile_on(plan_rx)
    .graceful_shutdown_on(shutdown.clone())
    .run(timed(plan::KIND, plan::reconcile), plan::error_policy, ctx.clone())
    .for_each(|_| async {});
    let resellers = Controller::for_shared_stream(
        watch::without_status_echo(reseller_sub.stream, reseller_sub.reader.clone()),
        reseller_sub.reader,
    )
    .with_config(config())
    .reconcile_on(reseller_rx)
    .graceful_shutdown_on(shutdown.clone())
    .run(
        timed(reseller::KIND, reseller::reconcile),
        reseller::error_policy,
        ctx.clone(),
    )
    .for_each(|_| async {});
    let customer_ctx = Arc::new(customer::CustomerContext::new(
        ctx.clone(),
        memory,
        customers.facts.clone(),
        usize::from(ctx.settings.customer_calls_per_connection),
    ));
    let of_resellers = {
        let world = ctx.world.clone();
        let store = customers.facts.store().clone();
        triggers
            .customer_keys()
            .flat_map(move |k| futures::stream::iter(customer::reading(&world, &store, &k)))
    };
    let customers = Controller::for_shared_stream(customers.sub.stream, customers.sub.reader)
        .with_config(config())
        .reconcile_on(futures::stream::select(customers.claims, of_resellers))
        .graceful_shutdown_on(shutdown)
        .run(
            timed(customer::KIND, customer::reconcile),
            customer::error_policy,
            customer_ctx,
        )
        .for_each(|_| async {});
    futures::join!(connections, plans, resellers, customers);
}

/// The watch does not hand deleted objects to the controller, so a connection deleted without the
/// reconciler seeing it (no finalizer yet, or removed by force) is forgotten here.
async fn forget_deleted_connections(ctx: Arc<connection::ConnectionContext>) {
    loop {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let forgotten = ctx.forget_deleted();
        if forgotten > 0 {
            tracing::debug!(forgotten, "forgot the sync state of deleted connections");
        }
    }
}

/// Wraps a reconciler with duration and count metrics, a tracing span naming the object, the reset
/// of its error backoff on success, and a catch of any panic inside it: counted
/// (`pco_reconcile_panics_total{kind}`), logged with the object, and returned as an error so the
/// error policy backs that object off — one object's bug never ends the process.
fn timed<K, C, F, Fut>(
    kind: &'static str,
    reconcile: F,
) -> impl FnMut(Arc<K>, Arc<C>) -> futures::future::BoxFuture<'static, error::Result<Action>>
where
    K: kube::Resource + Send + Sync + 'static,
    C: context::Shared,
    F: Fn(Arc<K>, Arc<C>) -> Fut + Copy + Send + 'static,
    Fut: std::future::Future<Output = error::Result<Action>> + Send + 'static,
{
    use futures::FutureExt;
    use tracing::Instrument;
    move |obj: Arc<K>, ctx: Arc<C>| {
        let name = object_name(obj.as_ref());
        let span = tracing::info_span!("reconcile", kind, object = %name);
        Box::pin(
            async move {
                let started = Instant::now();
                let key = format!("{kind}/{name}");
                let caught = std::panic::AssertUnwindSafe(reconcile(obj, ctx.clone()))
                    .catch_unwind()
                    .await;
                let shared = ctx.shared();
                let result = caught.unwrap_or_else(|panic| {
                    let text = error::panic_text(panic.as_ref());
                    tracing::error!(panic = %text, "reconcile panicked; caught, backing off");
                    shared
                        .metrics
                        .reconcile_panics
                        .get_or_create(&crate::runtime::metrics::KindLabels { kind: kind.into() })
                        .inc();
                    Err(error::Error::Panicked(text))
                });
                shared.metrics.observe_reconcile(kind, started.elapsed());
                if result.is_ok() {
                    shared.backoff.succeeded(&key);
                }
                result
            }
            .instrument(span),
        )
    }
}

/// `namespace/name` (or `name`), the key of logs and of the error backoff.
pub fn object_name<K: kube::Resource>(obj: &K) -> String {
    match &obj.meta().namespace {
        Some(ns) => format!("{ns}/{}", obj.meta().name.clone().unwrap_or_default()),
        None => obj.meta().name.clone().unwrap_or_default(),
    }
}

/// Resolves on SIGTERM or SIGINT; shareable so every part can wait on it.
pub fn shutdown_signal() -> futures::future::Shared<futures::future::BoxFuture<'static, ()>> {
    use futures::FutureExt;
    async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        }
        tracing::info!("shutting down");
    }
    .boxed()
    .shared()
}

/// The error policy of all three controllers: log, count, and back off per object.
pub fn error_policy<K: kube::Resource>(kind: &'static str, obj: &K, error: &error::Error, ctx: &Context) -> Action {
    let name = object_name(obj);
    tracing::warn!(kind, object = %name, error = %error, "reconcile failed");
    ctx.metrics.observe_error(kind, &error.reason());
    Action::requeue(ctx.backoff.failed(&format!("{kind}/{name}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::reflector;

    /// A context whose API server is nowhere: these tests never reach it.
    fn test_context() -> Arc<Context> {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            s: OperatorSettings,
        }
        let client = kube::Client::try_from(kube::Config::new("http://127.0.0.1:9".parse().unwrap())).expect("client");
        let (connections, _) = reflector::store();
        let (plans, _) = reflector::store();
        let (resellers, _) = reflector::store();
        let world = Arc::new(World::new(
            connections,
            plans,
            resellers,
            crate::policy::Settings::new("csp-system"),
            Default::default(),
        ));
        let metrics = Metrics::register(&mut prometheus_client::registry::Registry::default());
        context(
            client,
            world,
            Cli::parse_from(["x"]).s,
            metrics,
            context::http_connector(),
            "test",
        )
    }

    async fn buggy(_: Arc<CachedReseller>, _: Arc<Context>) -> error::Result<Action> {
        panic!("bug in a reconcile")
    }

    #[tokio::test]
    async fn a_panicking_reconcile_is_caught_counted_and_backed_off() {
        let ctx = test_context();
        let reseller: Arc<CachedReseller> = Arc::new(
            serde_json::from_value(serde_json::json!({
                "apiVersion": "channel.csp.dev/v1alpha1", "kind": "Reseller",
                "metadata": {"name": "contoso"},
                "spec": {"displayName": "Contoso", "shortName": "CON", "namespace": "csp-system"},
            }))
            .expect("reseller"),
        );
        let mut reconcile = timed(reseller::KIND, buggy);
        for attempt in 1..=2u64 {
            let result = reconcile(reseller.clone(), ctx.clone()).await;
            let error = result.expect_err("a panic is an error of that object, not of the process");
            assert!(
                matches!(&error, error::Error::Panicked(m) if m == "bug in a reconcile"),
                "{error}"
            );
            let panics = ctx
                .metrics
                .reconcile_panics
                .get_or_create(&crate::runtime::metrics::KindLabels {
                    kind: reseller::KIND.into(),
                })
                .get();
            assert_eq!(panics, attempt);
            // The error policy backs the object off like any failure (1 s, then 2 s, ...).
            let _ = error_policy(reseller::KIND, reseller.as_ref(), &error, &ctx);
        }
        let third = ctx.backoff.failed("Reseller/contoso");
        assert!(
            third >= Duration::from_millis(3600),
            "backed off twice before: {third:?}"
        );
    }
}
