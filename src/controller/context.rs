//! State shared by the reconcilers.

use super::events::Events;
use super::world::World;
use crate::partner_center::auth::RefreshTokenSink;
use crate::partner_center::{ConnectionSettings, Credentials, PartnerCenterApi, PartnerCenterError};
use crate::runtime::metrics::Metrics;
use crate::runtime::settings::OperatorSettings;
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
}

impl Context {
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
