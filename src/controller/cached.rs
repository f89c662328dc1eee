//! What the operator keeps of a Reseller in its watch cache: the metadata, the rules' facts (shared
//! by reference with every evaluation's snapshot) and a brief of the status — not the spec, which
//! nothing reads once its facts are taken, nor the status's texts. At tens of thousands of
//! resellers the cache is most of the process's memory (bench/README.md, "Flat memory").

use super::facts::reseller_facts;
use super::status::{Ready, Status};
use crate::api::conditions::{ConditionStatus, types::READY};
use crate::api::{Reseller, ResellerStatus};
use crate::policy::ResellerFacts;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta, Time};
use kube::Resource;
use std::borrow::Cow;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

/// A Reseller as cached: decoded from the API server's object through [`Reseller`], which it
/// replaces at once (`serde(from)`), so the whole typed object lives only while it is converted.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(from = "Reseller")]
pub struct CachedReseller {
    pub metadata: ObjectMeta,
    /// Everything the rules read of it, the recorded bindings included (`facts::reseller_facts`).
    pub facts: Arc<ResellerFacts>,
    pub status: Option<Box<StatusBrief>>,
}

impl From<Reseller> for CachedReseller {
    fn from(r: Reseller) -> Self {
        CachedReseller {
            facts: Arc::new(reseller_facts(&r)),
            status: r.status.as_ref().map(|s| Box::new(StatusBrief::of(s))),
            metadata: r.metadata,
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

/// What is read of a Reseller's status from the cache: the digest of the whole status for the
/// "unchanged, skip the write" comparison (`status::apply_status`); the conditions without their
/// messages (Ready transitions for Events, transition times kept across writes, the gauges); the
/// warnings as hashes (an Event for each new one); each effective plan's usability and reason (the
/// gauges). The reseller reconciler recomputes everything else before it writes, and the CLIs
/// (`trace`, `what-if`) read the API server, not this cache.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusBrief {
    digest: u64,
    conditions: Box<[ConditionBrief]>,
    warnings: Box<[u64]>,
    plans: Box<[(bool, Option<Box<str>>)]>,
}

#[derive(Clone, Debug, PartialEq)]
struct ConditionBrief {
    type_: Box<str>,
    status: ConditionStatus,
    reason: Box<str>,
    observed_generation: Option<i64>,
    last_transition_time: Time,
}

impl StatusBrief {
    pub fn of(st: &ResellerStatus) -> Self {
        StatusBrief {
            digest: super::status::digest(st),
            conditions: st
                .conditions
                .iter()
                .map(|c| ConditionBrief {
                    type_: c.type_.as_str().into(),
                    status: ConditionStatus::parse(&c.status),
                    reason: c.reason.as_str().into(),
                    observed_generation: c.observed_generation,
                    last_transition_time: c.last_transition_time.clone(),
                })
                .collect(),
            warnings: st.warnings.iter().map(|w| text_hash(w)).collect(),
            plans: st
                .effective_plans
                .iter()
                .map(|p| (p.usable, p.reason.as_deref().map(Box::from)))
                .collect(),
        }
    }

    /// The conditions as the reconciler updates them (their messages are set anew).
    pub fn conditions(&self) -> Vec<Condition> {
        self.conditions
            .iter()
            .map(|c| Condition {
                type_: c.type_.to_string(),
                status: c.status.as_str().to_string(),
                reason: c.reason.to_string(),
                message: String::new(),
                observed_generation: c.observed_generation,
                last_transition_time: c.last_transition_time.clone(),
            })
            .collect()
    }

    /// The Ready condition's status and reason when it was written for `generation` (else Unknown,
    /// as `conditions::ready_for_generation` decides for full statuses).
    pub fn ready_for_generation(&self, generation: Option<i64>) -> Option<(ConditionStatus, &str)> {
        self.ready_condition()
            .filter(|c| c.observed_generation == generation)
            .map(|c| (c.status, &*c.reason))
    }

    /// Whether `warning` (a `status.warnings` entry) was among the warnings.
    pub fn had_warning(&self, warning: &str) -> bool {
        self.warnings.contains(&text_hash(warning))
    }

    /// Each effective plan's usability and reason.
    pub fn plan_usability(&self) -> impl Iterator<Item = (bool, Option<&str>)> {
        self.plans.iter().map(|(usable, reason)| (*usable, reason.as_deref()))
    }

    fn ready_condition(&self) -> Option<&ConditionBrief> {
        self.conditions.iter().find(|c| &*c.type_ == READY)
    }
}

impl Status for StatusBrief {
    fn ready(&self) -> Option<Ready<'_>> {
        self.ready_condition().map(|c| Ready {
            status: c.status.as_str(),
            reason: &c.reason,
            message: "",
        })
    }
    fn digest(&self) -> u64 {
        self.digest
    }
}

fn text_hash(text: &str) -> u64 {
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
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
        let whole = full.status.as_ref().unwrap();
        // As the watch decodes and trims it.
        let mut cached: CachedReseller = serde_json::from_value(reseller()).expect("cached reseller");
        trim(&mut cached);
        let brief = cached.status.as_deref().expect("cached status");
        // The digest is the whole status's; only the provider's annotation is left.
        assert_eq!(brief.digest(), status::digest(whole));
        assert_eq!(brief.digest(), whole.digest(), "a full status digests alike");
        assert_eq!(
            cached.annotations().keys().collect::<Vec<_>>(),
            ["channel.csp.dev/confirm-connection"]
        );
        // The rules' input and the watch's change digest are the same as from the full object;
        // the kind is the Reseller's.
        assert_eq!(*cached.facts, reseller_facts(&full));
        assert_eq!(
            reseller_change(&cached).1,
            crate::controller::world::digest(&reseller_facts(&full).without_bindings())
        );
        assert_eq!(cached.object_ref(&()), full.object_ref(&()), "Events name the Reseller");
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
        // The gauges' input.
        assert_eq!(
            brief.plan_usability().collect::<Vec<_>>(),
            [(false, Some("RegionMismatch")), (true, None)]
        );
        assert_eq!(
            brief.ready_for_generation(Some(2)),
            Some((ConditionStatus::False, "PlanNotUsable"))
        );
        assert_eq!(
            brief.ready_for_generation(Some(3)),
            None,
            "written for another generation"
        );
        // Publishing's input: Ready before the write, and the warnings that were there.
        assert_eq!(
            brief.ready(),
            Some(Ready {
                status: "False",
                reason: "PlanNotUsable",
                message: ""
            })
        );
        assert!(brief.had_warning("W: w") && !brief.had_warning("W: other"));
        // The conditions the reconciler starts from: all but the message, which it sets anew.
        let mut expected = whole.conditions.clone();
        expected[0].message = String::new();
        assert_eq!(brief.conditions(), expected);
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
