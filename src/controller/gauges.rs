//! Gauges derived from the watch caches (object counts by readiness, per-object readiness with its
//! reason, effective plans, per-connection readiness and refresh-token expiry), refreshed
//! periodically: alerting reads them, nothing decides on them.

use super::world::World;
use crate::api::conditions::{ConditionStatus, ready_for_generation};
use crate::runtime::metrics::{ConditionLabels, ConnectionLabels, Metrics, ObjectLabels};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::ResourceExt;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How often the gauges are recomputed from the caches.
pub const REFRESH: Duration = Duration::from_secs(15);

/// Reason of `pco_object_ready` while the object has no Ready condition for its generation yet.
pub const PENDING: &str = "Pending";

pub fn spawn(world: Arc<World>, metrics: Metrics) {
    tokio::spawn(async move {
        loop {
            refresh(&world, &metrics);
            tokio::time::sleep(REFRESH).await;
        }
    });
}

/// The Ready status word and reason of an object for its current generation, from its Ready
/// condition when that was written for the generation (`Pending` without one).
fn ready_of(ready: Option<(ConditionStatus, &str)>) -> (&'static str, String) {
    match ready {
        Some((status, reason)) => (status.as_str(), reason.to_string()),
        None => ("Unknown", PENDING.to_string()),
    }
}

/// The Ready condition of a full status, for [`ready_of`].
fn full_ready(conditions: Option<&Vec<Condition>>, generation: Option<i64>) -> Option<(ConditionStatus, &str)> {
    ready_for_generation(conditions.map(Vec::as_slice).unwrap_or_default(), generation)
        .map(|c| (ConditionStatus::parse(&c.status), c.reason.as_str()))
}

pub fn refresh(world: &World, metrics: &Metrics) {
    let mut counts: HashMap<(&str, &str), i64> = HashMap::new();
    for kind in crate::runtime::metrics::KINDS {
        for ready in ["True", "False", "Unknown"] {
            counts.insert((kind, ready), 0);
        }
    }
    let mut round = metrics.object_ready.round();
    // Per-object series only for objects that are not Ready (value 0): those are what alerts and
    // people look for, and a series per Ready object is 50,000 series (and megabytes of labels
    // in this process) at 50,000 resellers. The Ready ones are counted in `pco_objects`.
    let mut object = |kind: &'static str, namespace: Option<String>, name: String, ready: &str, reason: String| {
        *counts.entry((kind, ready_word(ready))).or_default() += 1;
        if ready == "True" {
            return;
        }
        let labels = ObjectLabels {
            kind: kind.into(),
            namespace: namespace.unwrap_or_default(),
            name,
            reason,
        };
        round.set(labels, false);
    };
    metrics.connection_ready.clear();
    metrics.refresh_token_expiry.clear();
    for c in world.connections.state() {
        let status = c.status.as_ref();
        let (ready, reason) = ready_of(full_ready(status.map(|s| &s.conditions), c.metadata.generation));
        let labels = ConnectionLabels {
            namespace: c.namespace().unwrap_or_default(),
            name: c.name_any(),
        };
        metrics
            .connection_ready
            .get_or_create(&labels)
            .set(i64::from(ready == "True"));
        if let Some(t) = status.and_then(|s| s.refresh_token_expires_at.as_ref()) {
            metrics.refresh_token_expiry.get_or_create(&labels).set(t.0.as_second());
        }
        object("PartnerCenterConnection", c.namespace(), c.name_any(), ready, reason);
    }
    for p in world.plans.state() {
        let (ready, reason) = ready_of(full_ready(
            p.status.as_ref().map(|s| &s.conditions),
            p.metadata.generation,
        ));
        object("CustomerPlan", p.namespace(), p.name_any(), ready, reason);
    }
    let mut plans_total = 0i64;
    let mut unusable: HashMap<String, i64> = HashMap::new();
    for r in world.resellers.state() {
        let status = r.status.as_deref();
        let (ready, reason) = ready_of(status.and_then(|s| s.ready_for_generation(r.metadata.generation)));
        object("Reseller", r.namespace(), r.name_any(), ready, reason);
        for (usable, reason) in status.into_iter().flat_map(|s| s.plan_usability()) {
            plans_total = plans_total.saturating_add(1);
            if !usable {
                *unusable.entry(reason.unwrap_or("Unknown").to_string()).or_default() += 1;
            }
        }
    }
    round.finish();
    for ((kind, ready), n) in counts {
        metrics
            .objects
            .get_or_create(&ConditionLabels {
                kind: kind.into(),
                ready: ready.into(),
            })
            .set(n);
    }
    metrics.publish_effective_plans(plans_total, unusable);
}

fn ready_word(ready: &str) -> &'static str {
    match ready {
        "True" => "True",
        "False" => "False",
        _ => "Unknown",
    }
}
