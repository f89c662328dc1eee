//! The in-use finalizer of connections and plans (rule 6): deletion waits until nothing
//! references the object.

use super::error::Result;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use std::fmt::Debug;

pub const FINALIZER: &str = "channel.csp.dev/in-use-protection";

pub fn has<K: Resource>(obj: &K) -> bool {
    obj.finalizers().iter().any(|f| f == FINALIZER)
}

/// Adds the finalizer (a JSON patch guarded by the resourceVersion, so a concurrent change of the
/// list is retried rather than lost).
pub async fn add<K>(api: &Api<K>, obj: &K) -> Result<()>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let mut finalizers = obj.finalizers().to_vec();
    finalizers.push(FINALIZER.to_string());
    patch_finalizers(api, obj, finalizers).await
}

pub async fn remove<K>(api: &Api<K>, obj: &K) -> Result<()>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let finalizers = obj.finalizers().iter().filter(|f| *f != FINALIZER).cloned().collect();
    patch_finalizers(api, obj, finalizers).await
}

async fn patch_finalizers<K>(api: &Api<K>, obj: &K, finalizers: Vec<String>) -> Result<()>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let patch = serde_json::json!({
        "metadata": {"resourceVersion": obj.resource_version(), "finalizers": finalizers}
    });
    api.patch(&obj.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}
