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

/// Starts campaigning; the receiver turns `true` while this replica holds the lease.
/// Dropping the receiver stops the campaign (the task ends and the lease expires).
pub async fn campaign(client: kube::Client, s: LeaderSettings) -> anyhow::Result<watch::Receiver<bool>> {
    let params = LeaseParams::new(s.identity.clone(), s.duration.as_secs(), s.grace.as_secs())
        .with_field_manager(format!("partner-center-operator-lease/{}", s.identity));
    let manager = LeaseManagerBuilder::new(client, s.lease_name)
        .with_namespace(s.namespace)
        .with_parameters(params)
        .build()
        .await?;
    let (rx, task) = manager.watch().await;
    tokio::spawn(async move {
        match task.await {
            Ok(Ok(_)) => tracing::info!("leader election stopped"),
            Ok(Err(e)) => tracing::error!(error = %e, "leader election failed"),
            Err(e) => tracing::error!(error = %e, "leader election task panicked"),
        }
    });
    Ok(rx)
}
