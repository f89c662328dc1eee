//! Prometheus metrics of the operator. Labels never carry secret values; object names are not labels
//! either (cardinality), only kinds, reasons and Partner Center operations.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub kind: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub operation: String,
    pub outcome: String,
}

/// Connections are few (one per Partner Center account), so naming them in labels is affordable,
/// and alerts need to say which one is broken.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConnectionLabels {
    pub namespace: String,
    pub name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConditionLabels {
    pub kind: String,
    pub ready: String,
}

fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// All metrics, registered once; cheap to clone (each metric is an `Arc` inside).
#[derive(Clone)]
pub struct Metrics {
    pub reconciles: Family<KindLabels, Counter>,
    pub reconcile_errors: Family<ErrorLabels, Counter>,
    pub reconcile_duration: Family<KindLabels, Histogram, fn() -> Histogram>,
    pub status_writes: Family<KindLabels, Counter>,
    pub partner_center_calls: Family<CallLabels, Counter>,
    pub partner_center_throttled: Counter,
    pub objects: Family<ConditionLabels, Gauge>,
    pub leader: Gauge,
    pub connection_ready: Family<ConnectionLabels, Gauge>,
    pub refresh_token_expiry: Family<ConnectionLabels, Gauge>,
    pub connection_last_sync: Family<ConnectionLabels, Gauge>,
    pub reconcile_panics: Family<KindLabels, Counter>,
}

impl Metrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = Metrics {
            reconciles: Family::default(),
            reconcile_errors: Family::default(),
            reconcile_duration: Family::new_with_constructor(duration_histogram),
            status_writes: Family::default(),
            partner_center_calls: Family::default(),
            partner_center_throttled: Counter::default(),
            objects: Family::default(),
            leader: Gauge::default(),
            connection_ready: Family::default(),
            refresh_token_expiry: Family::default(),
            connection_last_sync: Family::default(),
            reconcile_panics: Family::default(),
        };
        let r = registry.sub_registry_with_prefix("pco");
        r.register("reconciles", "Reconciliations run, by kind", m.reconciles.clone());
        r.register(
            "reconcile_errors",
            "Reconciliations that failed, by kind and reason",
            m.reconcile_errors.clone(),
        );
        r.register(
            "reconcile_duration_seconds",
            "Reconciliation duration",
            m.reconcile_duration.clone(),
        );
        r.register(
            "status_writes",
            "Status patches sent to the API server, by kind",
            m.status_writes.clone(),
        );
        r.register(
            "partner_center_calls",
            "Partner Center HTTP calls, by operation and outcome",
            m.partner_center_calls.clone(),
        );
        r.register(
            "partner_center_throttled",
            "Partner Center 429 answers",
            m.partner_center_throttled.clone(),
        );
        r.register("objects", "Objects by kind and Ready status", m.objects.clone());
        r.register(
            "leader",
            "1 while this replica holds the leader lease",
            m.leader.clone(),
        );
        r.register(
            "connection_ready",
            "1 when the connection is Ready for its generation, else 0",
            m.connection_ready.clone(),
        );
        r.register(
            "connection_refresh_token_expiry_timestamp_seconds",
            "Estimated expiry of the connection's refresh token (unix seconds; 90 days after the last rotation)",
            m.refresh_token_expiry.clone(),
        );
        r.register(
            "connection_last_sync_timestamp_seconds",
            "When the operator last synced the connection with Partner Center (unix seconds)",
            m.connection_last_sync.clone(),
        );
        r.register(
            "reconcile_panics",
            "Reconciliations (or connection syncs) that panicked and were caught, by kind",
            m.reconcile_panics.clone(),
        );
        m
    }

    pub fn observe_reconcile(&self, kind: &str, took: Duration) {
        let labels = KindLabels { kind: kind.to_string() };
        self.reconciles.get_or_create(&labels).inc();
        self.reconcile_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    pub fn observe_error(&self, kind: &str, reason: &str) {
        self.reconcile_errors
            .get_or_create(&ErrorLabels {
                kind: kind.into(),
                reason: reason.into(),
            })
            .inc();
    }

    pub fn observe_status_write(&self, kind: &str) {
        self.status_writes
            .get_or_create(&KindLabels { kind: kind.into() })
            .inc();
    }

    pub fn observe_partner_center_call(&self, operation: &str, outcome: &str) {
        self.partner_center_calls
            .get_or_create(&CallLabels {
                operation: operation.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    /// Counts every HTTP 429 a Partner Center client receives, retried or not, in
    /// `pco_partner_center_throttled_total` (the controller hands it to each connection's client).
    /// A call's final `Throttled` outcome is one of those 429s, so it is not counted again here.
    pub fn throttle_observer(&self) -> crate::partner_center::ThrottleObserver {
        let counter = self.partner_center_throttled.clone();
        crate::partner_center::ThrottleObserver::new(move || {
            counter.inc();
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_encode_with_prefix_and_labels() {
        let mut registry = Registry::default();
        let m = Metrics::register(&mut registry);
        m.observe_reconcile("Reseller", Duration::from_millis(3));
        m.observe_error("PartnerCenterConnection", "ConsentExpired");
        m.observe_partner_center_call("list_customers", "Throttled");
        // The outcome alone is not a 429 count; the client's observer is (two 429s seen here).
        let observe = m.throttle_observer();
        (observe.0)();
        (observe.0)();
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(text.contains("pco_reconciles_total{kind=\"Reseller\"} 1"), "{text}");
        assert!(
            text.contains("pco_reconcile_errors_total{kind=\"PartnerCenterConnection\",reason=\"ConsentExpired\"} 1"),
            "{text}"
        );
        assert!(text.contains("pco_partner_center_throttled_total 2"), "{text}");
        assert!(text.contains("pco_reconcile_duration_seconds_bucket"), "{text}");
    }
}
