//! State shared by the reconcilers.

use super::events::Events;
use super::world::World;
use crate::partner_center::auth::RefreshTokenSink;
use crate::partner_center::{ConnectionSettings, Credentials, PartnerCenterApi, PartnerCenterError};
use crate::runtime::metrics::Metrics;
use crate::runtime::settings::OperatorSettings;
use kube::runtime::reflector::{ObjectRef, Store};
use std::sync::Arc;

/// Builds a Partner Center client for one connection: the seam that keeps reconcilers free of HTTP.
pub type Connect = Arc<
    dyn Fn(
            ConnectionSettings,
            Credentials,
            Arc<dyn RefreshTokenSink>,
        ) -> Result<Arc<dyn PartnerCenterApi>, PartnerCenterError>
        + Send
        + Sync,
>;

/// The production connector: the reqwest client.
pub fn http_connector() -> Connect {
    Arc::new(|settings, credentials, sink| {
        let client = crate::partner_center::PartnerCenterClient::new(settings, credentials, sink)?;
        Ok(Arc::new(client) as Arc<dyn PartnerCenterApi>)
    })
}

/// What every reconciler shares. The connection reconciler's own memory (sync cache, scheduler) is
/// not here but in `connection::ConnectionContext`, so this module depends on no reconciler.
pub struct Context {
    pub client: kube::Client,
    pub world: Arc<World>,
    pub settings: OperatorSettings,
    pub metrics: Metrics,
    pub events: Events,
    pub connect: Connect,
    pub backoff: super::backoff::ErrorBackoff,
    /// Resolves once every connection has its first verdict, or after [`FIRST_VERDICTS_WAIT`].
    pub first_verdicts: futures::future::Shared<futures::future::BoxFuture<'static, ()>>,
}

/// How long plans and resellers wait at start for the connections' first verdicts: long enough for
/// the first syncs of a healthy account, short enough that a connection that cannot be checked
/// (an endpoint that never answers) delays nothing much.
pub const FIRST_VERDICTS_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// The wait behind [`Context::first_verdicts`]: polls the connection cache (no API calls).
pub fn first_verdicts(world: Arc<World>) -> futures::future::Shared<futures::future::BoxFuture<'static, ()>> {
    use futures::FutureExt;
    async move {
        let started = std::time::Instant::now();
        while !world.connections_checked() && started.elapsed() < FIRST_VERDICTS_WAIT {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    .boxed()
    .shared()
}

impl Context {
    /// Waits, once per process start, until every connection has its first verdict (bounded by
    /// [`FIRST_VERDICTS_WAIT`]): a plan or reseller reconciled before that is published as
    /// `Ready=Unknown` and again moments later, which at start is a second reconcile and status
    /// write per object (bench/README.md, "Flat memory, quiet start-up"). Returns `obj` as the
    /// cache has it after the wait (the one the reconcile was handed may be older by then).
    pub async fn after_first_verdicts<K>(&self, obj: Arc<K>, cache: &Store<K>) -> Arc<K>
    where
        K: kube::Resource<DynamicType = ()> + Clone + 'static,
    {
        if self.first_verdicts.peek().is_some() {
            return obj;
        }
        self.first_verdicts.clone().await;
        cache.get(&ObjectRef::from_obj(obj.as_ref())).unwrap_or(obj)
    }

    /// What a status write needs (not the whole context).
    pub fn publisher(&self) -> super::status::Publisher<'_> {
        super::status::Publisher {
            metrics: &self.metrics,
            events: &self.events,
        }
    }
}

/// The shared context of a reconciler's own context (the connection reconciler wraps it).
pub trait Shared: Send + Sync + 'static {
    fn shared(&self) -> &Context;
}

impl Shared for Context {
    fn shared(&self) -> &Context {
        self
    }
}
