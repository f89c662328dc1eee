//! The Partner Center side of the Customer reconciler: the pinned connection's client (the very
//! client its syncs use, from the connection reconciler's memory: one token cache and one
//! refresh-token rotation per connection) and a bound on provisioning calls per connection.

use crate::api::{ConnectionRef, PartnerCenterConnection};
use crate::controller::connection::memory::Memory;
use crate::controller::connection::sync::Failure;
use crate::controller::context::Context;
use crate::partner_center::PartnerCenterApi;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Provisioning calls in flight per connection: Partner Center's rate limit is per partner
/// tenant, and a burst of new Customers must not starve that connection's syncs.
pub struct Limits {
    per_connection: usize,
    semaphores: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Limits {
    pub fn new(per_connection: usize) -> Self {
        Limits {
            per_connection: per_connection.max(1),
            semaphores: Mutex::new(HashMap::new()),
        }
    }

    /// A permit to call Partner Center through the connection `uid`; waits while N are out.
    pub async fn acquire(&self, uid: &str) -> OwnedSemaphorePermit {
        let semaphore = self
            .semaphores
            .lock()
            .expect("customer limits")
            .entry(uid.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_connection)))
            .clone();
        semaphore.acquire_owned().await.expect("never closed")
    }
}

/// The pinned connection from the watch cache, or None when it is gone.
pub fn connection(ctx: &Context, reference: &ConnectionRef) -> Option<Arc<PartnerCenterConnection>> {
    ctx.world
        .connections
        .get(&ObjectRef::new(&reference.name).within(&reference.namespace))
}

/// The client of `conn`, shared with its syncs; `Ok(Err(..))` when its Secret is unusable (a
/// condition of the Customer, not a reconcile error).
pub async fn client(
    ctx: &Context,
    memory: &Memory,
    conn: &PartnerCenterConnection,
) -> crate::controller::error::Result<Result<(String, Arc<dyn PartnerCenterApi>), Failure>> {
    let uid = conn.uid().unwrap_or_default();
    Ok(crate::controller::connection::shared_client(ctx, memory, conn)
        .await?
        .map(|c| (uid, c)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn at_most_n_calls_per_connection_others_are_not_held_up() {
        let limits = Limits::new(2);
        let a1 = limits.acquire("a").await;
        let _a2 = limits.acquire("a").await;
        let third = tokio::time::timeout(Duration::from_millis(50), limits.acquire("a")).await;
        assert!(third.is_err(), "a third call through connection a waits");
        let other = tokio::time::timeout(Duration::from_millis(50), limits.acquire("b")).await;
        assert!(other.is_ok(), "connection b has its own permits");
        drop(a1);
        let after = tokio::time::timeout(Duration::from_millis(50), limits.acquire("a")).await;
        assert!(after.is_ok(), "a permit returned is handed on");
    }
}
