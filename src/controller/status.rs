//! The one way the operator writes status: server-side apply of the status subresource with a single
//! field manager, skipped when the status would not change (no churn, no echo loops).

use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;

/// Field manager of every status write (and of nothing else).
pub const FIELD_MANAGER: &str = "partner-center-operator";

/// Outcome of [`apply_status`], so callers can count writes honestly.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    Patched,
    Unchanged,
}

/// Applies `desired` as the status of `obj` unless it equals the current status.
/// Both are compared as JSON, so `None` fields and empty lists compare as the API server stores them.
/// `obj` is the object as cached (a Reseller is cached in brief), `api` that of its kind.
pub async fn apply_status<K, O, S>(api: &Api<K>, obj: &O, current: Option<&S>, desired: &S) -> kube::Result<Written>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
    O: Resource<DynamicType = ()>,
    S: Serialize + Status,
{
    let as_json = |s: &S| serde_json::to_value(s).unwrap_or(serde_json::Value::Null);
    // A cache that trimmed the status kept the digest of the whole one (controller/watch.rs).
    let unchanged = match current.and_then(Status::cached_digest) {
        Some(cached) => cached == digest(desired),
        None => current.map(as_json) == Some(as_json(desired)),
    };
    if unchanged {
        return Ok(Written::Unchanged);
    }
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": desired,
    });
    api.patch_status(
        &obj.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(Written::Patched)
}

/// Digest of a status as JSON (a `serde_json::Value`'s text: keys in one order however the status
/// was built), for the "unchanged" comparison against a trimmed cache. Not a security boundary:
/// only this process computes and compares it.
pub fn digest<S: Serialize>(status: &S) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    serde_json::to_value(status)
        .unwrap_or(serde_json::Value::Null)
        .to_string()
        .hash(&mut h);
    h.finish()
}

/// A status as publishing reads it: its conditions (Ready transitions of any kind), and the digest
/// of the whole status when the cache kept only a brief form of it.
pub trait Status {
    fn conditions(&self) -> &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition];
    fn cached_digest(&self) -> Option<u64> {
        None
    }
}

impl Status for crate::api::PartnerCenterConnectionStatus {
    fn conditions(&self) -> &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition] {
        &self.conditions
    }
}
impl Status for crate::api::CustomerPlanStatus {
    fn conditions(&self) -> &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition] {
        &self.conditions
    }
}
impl Status for crate::api::CustomerStatus {
    fn conditions(&self) -> &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition] {
        &self.conditions
    }
}
impl Status for crate::api::ResellerStatus {
    fn conditions(&self) -> &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition] {
        &self.conditions
    }
    fn cached_digest(&self) -> Option<u64> {
        self.cached.as_ref().map(|c| c.digest)
    }
}

/// What publishing a status uses besides the object's API: the write counter and the Event sink.
#[derive(Clone, Copy)]
pub struct Publisher<'a> {
    pub metrics: &'a crate::runtime::metrics::Metrics,
    pub events: &'a super::events::Events,
}

/// Writes `desired` (unless unchanged), counts the write, and publishes an Event when Ready became
/// False (or False for a new reason), or True again after False. A first success is not an Event:
/// at thousands of objects that would double the writes of a cold start for nothing.
pub async fn publish<K, O, S>(
    to: Publisher<'_>,
    api: &Api<K>,
    obj: &O,
    kind: &str,
    action: &str,
    current: Option<&S>,
    desired: &S,
) -> kube::Result<Written>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
    O: Resource<DynamicType = ()>,
    S: Serialize + Status,
{
    use crate::api::conditions::{find_condition, types::READY};
    let written = apply_status(api, obj, current, desired).await?;
    if written == Written::Patched {
        to.metrics.observe_status_write(kind);
        let before = current
            .and_then(|s| find_condition(s.conditions(), READY))
            .map(|c| (c.status.clone(), c.reason.clone()));
        let was_false = before.as_ref().is_some_and(|(status, _)| status == "False");
        if let Some(after) = find_condition(desired.conditions(), READY)
            && before != Some((after.status.clone(), after.reason.clone()))
            && (after.status == "False" || (after.status == "True" && was_false))
        {
            // Once per change (the write happens only then); the reconcile span names the object.
            // `detail`, not `message`: that is the JSON key of the line's own text.
            if after.status == "True" {
                tracing::info!(reason = %after.reason, "Ready again");
            } else {
                tracing::warn!(reason = %after.reason, detail = %after.message, "not Ready");
            }
            to.events.publish(
                obj,
                after.status != "True",
                &after.reason,
                action,
                after.message.clone(),
            );
        }
    }
    Ok(written)
}
