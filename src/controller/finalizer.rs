//! The in-use finalizer of connections and plans (rule 6): deletion waits until nothing
//! references the object.

use super::error::Result;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use std::fmt::Debug;

pub const FINALIZER: &str = "channel.csp.dev/in-use-protection";

/// What uses the object, kept by the operator for the admission policy that refuses deleting it
/// (deploy/admission/delete-in-use.yaml); guarded like the finalizer
/// (deploy/admission/in-use-protection.yaml). Absent when nothing uses it.
pub const IN_USE_ANNOTATION: &str = "channel.csp.dev/in-use-by";

/// How many users the marker names (the total follows them).
const MARKER_NAMES: usize = 5;

/// The marker's text: the first `names` (already filtered to what the object's readers may see)
/// and the total; None when `total` is 0.
pub fn in_use_text(names: &[String], total: usize) -> Option<String> {
    if total == 0 {
        return None;
    }
    let shown: Vec<&str> = names.iter().take(MARKER_NAMES).map(String::as_str).collect();
    let hidden = total.saturating_sub(shown.len());
    Some(match (shown.is_empty(), hidden) {
        (true, n) => format!("{n} object(s)"),
        (false, 0) => shown.join(", "),
        (false, n) => format!("{} and {n} more", shown.join(", ")),
    })
}

/// Sets (or removes) the in-use marker when it differs from `want` (a metadata patch; nothing is
/// written when it already says so).
pub async fn set_in_use<K>(api: &Api<K>, obj: &K, want: Option<String>) -> Result<()>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    if obj.annotations().get(IN_USE_ANNOTATION) == want.as_ref() {
        return Ok(());
    }
    let patch = serde_json::json!({"metadata": {"annotations": {IN_USE_ANNOTATION: want}}});
    api.patch(&obj.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_names_a_few_users_and_the_total() {
        let names = |n: usize| (1..=n).map(|i| format!("Reseller/r{i}")).collect::<Vec<_>>();
        let cases = [
            (names(0), 0, None),
            (names(1), 1, Some("Reseller/r1")),
            (names(2), 2, Some("Reseller/r1, Reseller/r2")),
            (
                names(7),
                7,
                Some("Reseller/r1, Reseller/r2, Reseller/r3, Reseller/r4, Reseller/r5 and 2 more"),
            ),
            // Users the reader may not see are counted, not named.
            (names(1), 3, Some("Reseller/r1 and 2 more")),
            (names(0), 2, Some("2 object(s)")),
        ];
        for (names, total, want) in cases {
            assert_eq!(in_use_text(&names, total).as_deref(), want, "{names:?} {total}");
        }
    }
}
