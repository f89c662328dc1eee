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
/// Both are compared as JSON (through their digests), so `None` fields and empty lists compare as
/// the API server stores them. `obj` and `current` are as cached (a Reseller and its status are
/// cached in brief: controller/cached.rs), `api` is that of the kind.
pub async fn apply_status<K, O, C, S>(api: &Api<K>, obj: &O, current: Option<&C>, desired: &S) -> kube::Result<Written>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
    O: Resource<DynamicType = ()>,
    C: Status,
    S: Serialize,
{
    if current.map(Status::digest) == Some(digest(desired)) {
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

/// A status as publishing reads it: its Ready condition (Ready transitions of any kind), and the
/// digest of the whole status ("unchanged, skip the write").
pub trait Status {
    fn ready(&self) -> Option<Ready<'_>>;
    fn digest(&self) -> u64;
}

/// A Ready condition as [`publish`] reads it (the message is empty in a cached brief).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ready<'a> {
    pub status: &'a str,
    pub reason: &'a str,
    pub message: &'a str,
}

/// The statuses the operator writes, as they are cached in full.
macro_rules! full_status {
    ($($t:ty),*) => {$(
        impl Status for $t {
            fn ready(&self) -> Option<Ready<'_>> {
                crate::api::conditions::find_condition(&self.conditions, crate::api::conditions::types::READY)
                    .map(|c| Ready { status: &c.status, reason: &c.reason, message: &c.message })
            }
            fn digest(&self) -> u64 {
                digest(self)
            }
        }
    )*};
}
full_status!(
    crate::api::PartnerCenterConnectionStatus,
    crate::api::CustomerPlanStatus,
    crate::api::CustomerStatus,
    crate::api::ResellerStatus
);

/// What publishing a status uses besides the object's API: the write counter and the Event sink.
#[derive(Clone, Copy)]
pub struct Publisher<'a> {
    pub metrics: &'a crate::runtime::metrics::Metrics,
    pub events: &'a super::events::Events,
}

/// Writes `desired` (unless unchanged), counts the write, and publishes an Event when Ready became
/// False (or False for a new reason), or True again after False. A first success is not an Event:
/// at thousands of objects that would double the writes of a cold start for nothing.
pub async fn publish<K, O, C, S>(
    to: Publisher<'_>,
    api: &Api<K>,
    obj: &O,
    kind: &str,
    action: &str,
    current: Option<&C>,
    desired: &S,
) -> kube::Result<Written>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
    O: Resource<DynamicType = ()>,
    C: Status,
    S: Serialize + Status,
{
    let written = apply_status(api, obj, current, desired).await?;
    if written == Written::Patched {
        to.metrics.observe_status_write(kind);
        let before = current.and_then(Status::ready).map(|r| (r.status, r.reason));
        let was_false = before.is_some_and(|(status, _)| status == "False");
        if let Some(after) = desired.ready()
            && before != Some((after.status, after.reason))
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
                after.reason,
                action,
                after.message.to_string(),
            );
        }
    }
    Ok(written)
}
