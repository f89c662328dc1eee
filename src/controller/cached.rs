//! What the operator keeps of a Reseller in its watch cache: the metadata, the rules' facts (shared
//! by reference with every evaluation's snapshot) and a brief of the status — not the spec, which
//! nothing reads once its facts are taken. At tens of thousands of resellers the cache is most of
//! the process's memory (bench/README.md, "Flat memory").

use super::facts::reseller_facts;
use crate::api::{CachedPlan, CachedStatus, Reseller, ResellerStatus};
use crate::policy::ResellerFacts;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use std::borrow::Cow;
use std::sync::Arc;

/// A Reseller as cached: decoded from the API server's object through [`Reseller`], which it
/// replaces at once (`serde(from)`), so the whole typed object lives only while it is converted.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(from = "Reseller")]
pub struct CachedReseller {
    pub metadata: ObjectMeta,
    /// Everything the rules read of it, the recorded bindings included (`facts::reseller_facts`).
    pub facts: Arc<ResellerFacts>,
    /// The status in brief ([`brief`]).
    pub status: Option<ResellerStatus>,
}

impl From<Reseller> for CachedReseller {
    fn from(mut r: Reseller) -> Self {
        let facts = Arc::new(reseller_facts(&r));
        let status = r.status.take().map(brief);
        CachedReseller {
            metadata: r.metadata,
            facts,
            status,
        }
    }
}

/// Keeps the cached version's facts when a new version has the same (a status write that recorded
/// nothing new): the last evaluation's snapshot holds those, so cache and snapshot share one copy.
pub fn share_facts(new: &mut CachedReseller, cached: &CachedReseller) {
    if new.facts == cached.facts {
        new.facts = cached.facts.clone();
    }
}

/// Everything about the kind is the Reseller's: Events, status writes and object references name
/// a Reseller.
impl Resource for CachedReseller {
    type DynamicType = ();
    type Scope = <Reseller as Resource>::Scope;

    fn kind(dt: &()) -> Cow<'_, str> {
        Reseller::kind(dt)
    }
    fn group(dt: &()) -> Cow<'_, str> {
        Reseller::group(dt)
    }
    fn version(dt: &()) -> Cow<'_, str> {
        Reseller::version(dt)
    }
    fn plural(dt: &()) -> Cow<'_, str> {
        Reseller::plural(dt)
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// Of a status, what something reads from the cache, and the digest of the whole status (in
/// `status.cached`, which exists only in this process) for the "unchanged, skip the write"
/// comparison (`status::apply_status`). Read from the cache: the conditions' status, reason,
/// generation and transition time (Ready transitions for Events, transition times kept across
/// writes, the gauges), the warnings (Events for new ones), and of each effective plan its
/// usability and reason (the gauges), kept as a [`CachedPlan`]. The recorded bindings are read
/// into the facts before this. Everything dropped here the reseller reconciler recomputes in full
/// before it writes, and the CLIs (`trace`, `what-if`) read the API server, not this cache.
pub fn brief(mut st: ResellerStatus) -> ResellerStatus {
    let digest = super::status::digest(&st);
    for c in &mut st.conditions {
        c.message = String::new();
    }
    st.ancestors = Vec::new();
    st.plans = None;
    let plans = std::mem::take(&mut st.effective_plans)
        .into_iter()
        .map(|p| CachedPlan {
            usable: p.usable,
            reason: p.reason.map(String::into_boxed_str),
        })
        .collect();
    st.cached = Some(Box::new(CachedStatus { digest, plans }));
    st
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::{status, watch::trim, world::reseller_change};
    use kube::ResourceExt;

    fn reseller() -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "channel.csp.dev/v1alpha1",
            "kind": "Reseller",
            "metadata": {"name": "northwind", "uid": "u1", "generation": 2,
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}",
                    "channel.csp.dev/confirm-connection": "c1"}},
            "spec": {"displayName": "Northwind", "shortName": "NWD", "parent": "provider",
                "namespace": "reseller-northwind"},
            "status": {
                "observedGeneration": 2,
                "conditions": [{"type": "Ready", "status": "False", "reason": "PlanNotUsable",
                    "message": "a long explanation", "lastTransitionTime": "2026-12-01T10:00:00Z",
                    "observedGeneration": 2}],
                "warnings": ["W: w"], "warningCount": 1, "plans": "0/1", "ancestors": ["provider"],
                "effectivePlans": [{"plan": "p", "displayName": "P", "source": "Override",
                    "inheritedFrom": "provider", "region": "NZ", "usable": false,
                    "reason": "RegionMismatch", "message": "why, at length",
                    "connection": {"namespace": "reseller-a", "name": "own"},
                    "connectionBinding": {"uid": "c1", "partnerTenantId": "t1"}},
                    {"plan": "q", "source": "Plan", "usable": true,
                    "connection": {"namespace": "csp-system", "name": "nz"},
                    "connectionBinding": {"uid": "c2", "partnerTenantId": "t2"}}],
            },
        })
    }

    #[test]
    fn a_cached_reseller_keeps_what_is_read_and_the_digest_of_its_whole_status() {
        let full: Reseller = serde_json::from_value(reseller()).expect("reseller");
        // As the watch decodes and trims it.
        let mut cached: CachedReseller = serde_json::from_value(reseller()).expect("cached reseller");
        trim(&mut cached);
        // The digest is the whole status's; only the provider's annotation is left.
        let brief = cached
            .status
            .as_ref()
            .unwrap()
            .cached
            .as_deref()
            .expect("cached status");
        assert_eq!(brief.digest, status::digest(full.status.as_ref().unwrap()));
        assert_eq!(
            cached.annotations().keys().collect::<Vec<_>>(),
            ["channel.csp.dev/confirm-connection"]
        );
        // The rules' input, the watch's change digest and the gauges' input are the same as from
        // the full object; the kind is the Reseller's.
        assert_eq!(*cached.facts, reseller_facts(&full));
        assert_eq!(
            reseller_change(&cached).1,
            crate::controller::world::digest(&reseller_facts(&full).without_bindings())
        );
        assert_eq!(cached.object_ref(&()), full.object_ref(&()), "Events name the Reseller");
        let (st, whole) = (cached.status.as_ref().unwrap(), full.status.as_ref().unwrap());
        assert_eq!(
            st.plan_usability().collect::<Vec<_>>(),
            whole.plan_usability().collect::<Vec<_>>()
        );
        assert_eq!(
            cached.facts.bindings.get("p").map(|b| b.uid.as_str()),
            Some("c1"),
            "the recorded binding of its own override is in the facts"
        );
        assert_eq!(
            cached.facts.bindings.get("q"),
            None,
            "through the plan's connection the plan's binding decides"
        );
        let ready = &st.conditions[0];
        assert_eq!(
            (
                ready.status.as_str(),
                ready.reason.as_str(),
                ready.last_transition_time.clone(),
                ready.message.as_str()
            ),
            (
                "False",
                "PlanNotUsable",
                whole.conditions[0].last_transition_time.clone(),
                ""
            )
        );
        assert_eq!(st.warnings, whole.warnings);
        assert_eq!(
            (st.effective_plans.len(), &st.ancestors, &st.plans),
            (0, &Vec::<String>::new(), &None)
        );
        // The brief form is never written and cannot be sent: it is not in the JSON either way.
        let json = serde_json::to_value(st).expect("status as JSON");
        assert_eq!(json.get("cached"), None);
        let forged: ResellerStatus =
            serde_json::from_value(serde_json::json!({"cached": {"digest": 1}})).expect("status");
        assert_eq!(forged.cached, None);
        // Without a status there is nothing to compare against.
        let mut bare = reseller();
        bare.as_object_mut().unwrap().remove("status");
        let bare: CachedReseller = serde_json::from_value(bare).expect("cached reseller");
        assert!(bare.status.is_none());
    }

    #[test]
    fn a_new_version_with_the_same_facts_shares_them_with_the_cached_one() {
        let cached: CachedReseller = serde_json::from_value(reseller()).expect("cached reseller");
        // A status write that changed the conditions only: the same facts, one copy.
        let mut written = reseller();
        written["status"]["conditions"][0]["reason"] = "Other".into();
        let mut new: CachedReseller = serde_json::from_value(written).expect("cached reseller");
        share_facts(&mut new, &cached);
        assert!(Arc::ptr_eq(&new.facts, &cached.facts));
        // A changed spec: its own facts.
        let mut changed = reseller();
        changed["spec"]["shortName"] = "NWX".into();
        let mut new: CachedReseller = serde_json::from_value(changed).expect("cached reseller");
        share_facts(&mut new, &cached);
        assert!(!Arc::ptr_eq(&new.facts, &cached.facts));
        assert_eq!(new.facts.short_name, "NWX");
    }
}
