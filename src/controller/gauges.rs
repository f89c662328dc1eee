//! Gauges derived from the watch caches (object counts by readiness, per-connection readiness and
//! refresh-token expiry), refreshed periodically: alerting reads them, nothing decides on them.

use super::world::World;
use crate::api::conditions::ready_status_for_generation;
use crate::runtime::metrics::{ConditionLabels, ConnectionLabels, Metrics};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::ResourceExt;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub fn spawn(world: Arc<World>, metrics: Metrics) {
    tokio::spawn(async move {
        loop {
            refresh(&world, &metrics);
            tokio::time::sleep(Duration::from_secs(15)).await;
        }
    });
}

fn ready_word(conditions: Option<&Vec<Condition>>, generation: Option<i64>) -> &'static str {
    ready_status_for_generation(conditions.map(Vec::as_slice).unwrap_or_default(), generation).as_str()
}

pub fn refresh(world: &World, metrics: &Metrics) {
    let mut counts: HashMap<(&str, &str), i64> = HashMap::new();
    for kind in ["PartnerCenterConnection", "CustomerPlan", "Reseller"] {
        for ready in ["True", "False", "Unknown"] {
            counts.insert((kind, ready), 0);
        }
    }
    metrics.connection_ready.clear();
    metrics.refresh_token_expiry.clear();
    for c in world.connections.state() {
        let ready = ready_word(c.status.as_ref().map(|s| &s.conditions), c.metadata.generation);
        *counts.entry(("PartnerCenterConnection", ready)).or_default() += 1;
        let labels = ConnectionLabels {
            namespace: c.namespace().unwrap_or_default(),
            name: c.name_any(),
        };
        metrics
            .connection_ready
            .get_or_create(&labels)
            .set(i64::from(ready == "True"));
        if let Some(t) = c.status.as_ref().and_then(|s| s.refresh_token_expires_at.as_ref()) {
            metrics.refresh_token_expiry.get_or_create(&labels).set(t.0.as_second());
        }
    }
    for p in world.plans.state() {
        let ready = ready_word(p.status.as_ref().map(|s| &s.conditions), p.metadata.generation);
        *counts.entry(("CustomerPlan", ready)).or_default() += 1;
    }
    for r in world.resellers.state() {
        let ready = ready_word(r.status.as_ref().map(|s| &s.conditions), r.metadata.generation);
        *counts.entry(("Reseller", ready)).or_default() += 1;
    }
    for ((kind, ready), n) in counts {
        metrics
            .objects
            .get_or_create(&ConditionLabels {
                kind: kind.into(),
                ready: ready.into(),
            })
            .set(n);
    }
}
