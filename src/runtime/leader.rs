//! Leader election on a coordination.k8s.io Lease, so two replicas never both write.

use kube_lease_manager::{LeaseManagerBuilder, LeaseParams};
use std::time::Duration;
use tokio::sync::watch;

pub struct LeaderSettings {
    pub lease_name: String,
    pub namespace: String,
    pub identity: String,
    pub duration: Duration,
    pub grace: Duration,
}

/// A running campaign: `state` turns `true` while this replica holds the lease.
pub struct Campaign {
    pub state: watch::Receiver<bool>,
    task: tokio::task::JoinHandle<kube_lease_manager::Result<kube_lease_manager::LeaseManager>>,
}

impl Campaign {
    /// Stops campaigning and releases the lease (so a standby takes over at once, not after the
    /// lease duration), waiting at most `timeout` for the release.
    pub async fn step_down(self, timeout: Duration) {
        drop(self.state);
        match tokio::time::timeout(timeout, self.task).await {
            Ok(Ok(Ok(_))) => tracing::info!("leader lease released"),
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "could not release the leader lease"),
            Ok(Err(e)) => tracing::warn!(error = %e, "leader election task failed"),
            Err(_) => tracing::warn!("timed out releasing the leader lease"),
        }
    }
}

/// Starts campaigning for the lease.
pub async fn campaign(client: kube::Client, s: LeaderSettings) -> anyhow::Result<Campaign> {
    let params = LeaseParams::new(s.identity.clone(), s.duration.as_secs(), s.grace.as_secs())
        .with_field_manager(format!("partner-center-operator-lease/{}", s.identity));
    let manager = LeaseManagerBuilder::new(client, s.lease_name)
        .with_namespace(s.namespace)
        .with_parameters(params)
        .build()
        .await?;
    let (state, task) = manager.watch().await;
    Ok(Campaign { state, task })
}
