//! Prometheus metrics of the operator. Labels never carry secret values. Object names appear only in
//! gauges with at most one series per object (`pco_object_ready` for objects not Ready, the
//! per-connection gauges), whose stale series are removed; every other label is a kind, a reason or a Partner Center operation.
//! Counters start at zero for every known label value, so `rate()` and `increase()` see the first
//! failure instead of a series that appears with it.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The kinds the operator reconciles (the `kind` label of the per-kind metrics).
pub const KINDS: [&str; 3] = ["PartnerCenterConnection", "CustomerPlan", "Reseller"];

/// Partner Center operations of a connection sync (src/controller/connection/sync.rs), the
/// `operation` label of the call counter and the latency histogram.
pub const PARTNER_CENTER_OPERATIONS: [&str; 5] = [
    "token",
    "organization_profile",
    "mpn_profile",
    "list_customers",
    "indirect_resellers",
];

/// Outcomes of a Partner Center call: `Ok` or a `PartnerCenterError::reason()` (a unit test keeps
/// this list in step with src/partner_center/errors.rs).
pub const PARTNER_CENTER_OUTCOMES: [&str; 23] = [
    "Ok",
    "InvalidConfiguration",
    "ConsentExpired",
    "ConsentRevoked",
    "MfaRequired",
    "WrongTenantOrClient",
    "InvalidClientSecret",
    "TokenRequestFailed",
    "WrongAudience",
    "AppOnlyNotAllowed",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "SandboxLimitReached",
    "RequestRejected",
    "Throttled",
    "ServerError",
    "Timeout",
    "NetworkError",
    "DecodeError",
    "PersistFailed",
    "ResponseTooLarge",
    "OutcomeUnknown",
];

/// Reconcile error reasons known in advance (src/controller/error.rs); `Api<code>` reasons appear
/// with their first occurrence (the API server's codes are not enumerable).
pub const RECONCILE_ERROR_REASONS: [&str; 3] = ["ApiUnreachable", "MissingField", "Panic"];

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

/// One audit finding of one connection: `finding` is one of a fixed few (undeclared, missing,
/// outsideRegion, wrongReseller, detailsPending), so the series are five per connection.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FindingLabels {
    pub connection_namespace: String,
    pub connection: String,
    pub finding: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VersionLabels {
    pub version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: String,
}

/// One object's readiness: `reason` is a label *value* that changes, so the series of an object is
/// replaced (never added to) when its reason changes — see [`ObjectReady`].
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ObjectLabels {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub reason: String,
}

/// `pco_object_ready`: exactly one series per object. A refresh ([`ObjectReady::round`]) sets every
/// object's series and then removes the series of deleted objects and the old series of an object
/// whose reason changed.
#[derive(Clone, Default)]
pub struct ObjectReady {
    family: Family<ObjectLabels, Gauge>,
    live: Arc<Mutex<Live>>,
}

/// The labels of each object's one live series, keyed by a hash of (kind, namespace, name) rather
/// than a copy of them: at start-up every object is `Pending` and has a series (tens of
/// thousands). Updated in place, each entry marked with the round that last set it (a counter, not
/// a flag: a round dropped unfinished cannot make the next one keep a stale series).
#[derive(Default)]
struct Live {
    round: u32,
    series: HashMap<u64, (ObjectLabels, u32)>,
}

fn object_key(l: &ObjectLabels) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (&l.kind, &l.namespace, &l.name).hash(&mut h);
    h.finish()
}

/// One refresh of `pco_object_ready`: [`Round::set`] each object, then [`Round::finish`].
pub struct Round<'a> {
    family: &'a Family<ObjectLabels, Gauge>,
    live: std::sync::MutexGuard<'a, Live>,
}

impl ObjectReady {
    pub fn round(&self) -> Round<'_> {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.round = live.round.wrapping_add(1);
        Round {
            family: &self.family,
            live,
        }
    }
}

impl Round<'_> {
    pub fn set(&mut self, labels: ObjectLabels, ready: bool) {
        // Set before the old series goes, so a scrape in between never misses the object.
        self.family.get_or_create(&labels).set(i64::from(ready));
        let round = self.live.round;
        match self.live.series.entry(object_key(&labels)) {
            std::collections::hash_map::Entry::Occupied(mut e) => {
                let (old, seen) = e.get_mut();
                if *old != labels {
                    self.family.remove(old);
                    *old = labels;
                }
                *seen = round;
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert((labels, round));
            }
        }
    }

    /// Removes the series of the objects this round did not set (deleted, or now Ready).
    pub fn finish(mut self) {
        let (round, family) = (self.live.round, self.family);
        self.live.series.retain(|_, (labels, seen)| {
            let keep = *seen == round;
            if !keep {
                family.remove(labels);
            }
            keep
        });
        // Shrinks after a start-up in which every object had a series.
        if self.live.series.capacity() > 2 * self.live.series.len() + 64 {
            self.live.series.shrink_to_fit();
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConditionLabels {
    pub kind: String,
    pub ready: String,
}

fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// The rules' evaluations of the whole cache (src/controller/world.rs): one per facts change that
/// some reconcile or dependents lookup needed, each over every connection, plan and reseller, so
/// their rate and duration are the cost that grows with the channel.
#[derive(Clone)]
pub struct Evaluations {
    pub count: Counter,
    pub duration: Histogram,
}

impl Default for Evaluations {
    fn default() -> Self {
        Self {
            count: Counter::default(),
            duration: duration_histogram(),
        }
    }
}

impl Evaluations {
    pub fn observe(&self, took: Duration) {
        self.count.inc();
        self.duration.observe(took.as_secs_f64());
    }
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
    /// The last audit's counts per connection and finding.
    pub inventory_findings: Family<FindingLabels, Gauge>,
    /// Customers the connection's last sync listed.
    pub inventory_customers: Family<ConnectionLabels, Gauge>,
    pub reconcile_panics: Family<KindLabels, Counter>,
    pub build_info: Family<VersionLabels, Gauge>,
    pub partner_center_duration: Family<OperationLabels, Histogram, fn() -> Histogram>,
    pub object_ready: ObjectReady,
    pub effective_plans: Gauge,
    pub unusable_effective_plans: Family<ReasonLabels, Gauge>,
    pub evaluations: Evaluations,
    /// Reasons `unusable_effective_plans` has had a series for.
    unusable_reasons: Arc<Mutex<std::collections::BTreeSet<String>>>,
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
            inventory_findings: Family::default(),
            inventory_customers: Family::default(),
            reconcile_panics: Family::default(),
            build_info: Family::default(),
            partner_center_duration: Family::new_with_constructor(duration_histogram),
            object_ready: ObjectReady::default(),
            effective_plans: Gauge::default(),
            unusable_effective_plans: Family::default(),
            evaluations: Evaluations::default(),
            unusable_reasons: Default::default(),
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
            "inventory_findings",
            "Audit findings of the connection's last sync, by finding (undeclared, missing, outsideRegion, wrongReseller, detailsPending)",
            m.inventory_findings.clone(),
        );
        r.register(
            "inventory_customers",
            "Customers the connection's last sync listed",
            m.inventory_customers.clone(),
        );
        r.register(
            "reconcile_panics",
            "Reconciliations (or connection syncs) that panicked and were caught, by kind",
            m.reconcile_panics.clone(),
        );
        r.register(
            "build_info",
            "Always 1; the operator's version in the label",
            m.build_info.clone(),
        );
        r.register(
            "partner_center_request_duration_seconds",
            "Duration of Partner Center operations of a connection sync, retries and Retry-After waits included, by operation",
            m.partner_center_duration.clone(),
        );
        r.register(
            "object_ready",
            "0 for each object not Ready for its generation (one series per such object, reason = its Ready reason, Pending before the first status of its generation); Ready objects have no series and are counted in pco_objects",
            m.object_ready.family.clone(),
        );
        r.register(
            "effective_plans",
            "Effective plans over all resellers",
            m.effective_plans.clone(),
        );
        r.register(
            "unusable_effective_plans",
            "Effective plans that provisioning may not use, by reason (0 once none has that reason)",
            m.unusable_effective_plans.clone(),
        );
        r.register(
            "evaluations",
            "Evaluations of the rules over every cached connection, plan and reseller (one per change of what the rules read, when a reconcile or a dependents lookup needs it)",
            m.evaluations.count.clone(),
        );
        r.register(
            "evaluation_duration_seconds",
            "Duration of one evaluation of the rules over the whole cache",
            m.evaluations.duration.clone(),
        );
        m.init();
        m
    }

    /// Creates every series whose label values are known at start: the build info, and each counter
    /// (and the latency histogram) at zero.
    fn init(&self) {
        self.build_info
            .get_or_create(&VersionLabels {
                version: env!("CARGO_PKG_VERSION").to_string(),
            })
            .set(1);
        for kind in KINDS {
            let labels = KindLabels { kind: kind.into() };
            let _ = self.reconciles.get_or_create(&labels);
            let _ = self.status_writes.get_or_create(&labels);
            let _ = self.reconcile_panics.get_or_create(&labels);
            let _ = self.reconcile_duration.get_or_create(&labels);
            for reason in RECONCILE_ERROR_REASONS {
                let _ = self.reconcile_errors.get_or_create(&ErrorLabels {
                    kind: kind.into(),
                    reason: reason.into(),
                });
            }
        }
        for operation in PARTNER_CENTER_OPERATIONS {
            let _ = self.partner_center_duration.get_or_create(&OperationLabels {
                operation: operation.into(),
            });
            for outcome in PARTNER_CENTER_OUTCOMES {
                let _ = self.partner_center_calls.get_or_create(&CallLabels {
                    operation: operation.into(),
                    outcome: outcome.into(),
                });
            }
        }
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

    /// Publishes the effective plans of all resellers: the total and the unusable ones by reason. A
    /// reason seen once stays as a series at 0 (bounded by the rules' reasons), so an alert on it
    /// resolves rather than its series vanishing.
    pub fn publish_effective_plans(&self, total: i64, unusable: HashMap<String, i64>) {
        self.effective_plans.set(total);
        let mut seen = self.unusable_reasons.lock().unwrap_or_else(|e| e.into_inner());
        for reason in seen.iter().filter(|r| !unusable.contains_key(*r)) {
            self.unusable_effective_plans
                .get_or_create(&ReasonLabels { reason: reason.clone() })
                .set(0);
        }
        for (reason, n) in unusable {
            self.unusable_effective_plans
                .get_or_create(&ReasonLabels { reason: reason.clone() })
                .set(n);
            seen.insert(reason);
        }
    }

    /// Counts one Partner Center operation by outcome and records how long it took.
    pub fn observe_partner_center_call_took(&self, operation: &str, outcome: &str, took: Duration) {
        self.partner_center_duration
            .get_or_create(&OperationLabels {
                operation: operation.into(),
            })
            .observe(took.as_secs_f64());
        self.observe_partner_center_call(operation, outcome);
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

    fn encode(registry: &Registry) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
        text
    }

    #[test]
    fn counters_start_at_zero_for_every_known_label_value() {
        let mut registry = Registry::default();
        let _m = Metrics::register(&mut registry);
        let text = encode(&registry);
        let version = env!("CARGO_PKG_VERSION");
        let mut want = vec![
            format!("pco_build_info{{version=\"{version}\"}} 1"),
            "pco_partner_center_throttled_total 0".to_string(),
        ];
        for kind in KINDS {
            for family in [
                "pco_reconciles_total",
                "pco_status_writes_total",
                "pco_reconcile_panics_total",
            ] {
                want.push(format!("{family}{{kind=\"{kind}\"}} 0"));
            }
            for reason in RECONCILE_ERROR_REASONS {
                want.push(format!(
                    "pco_reconcile_errors_total{{kind=\"{kind}\",reason=\"{reason}\"}} 0"
                ));
            }
        }
        for operation in PARTNER_CENTER_OPERATIONS {
            want.push(format!(
                "pco_partner_center_request_duration_seconds_count{{operation=\"{operation}\"}} 0"
            ));
            for outcome in PARTNER_CENTER_OUTCOMES {
                want.push(format!(
                    "pco_partner_center_calls_total{{operation=\"{operation}\",outcome=\"{outcome}\"}} 0"
                ));
            }
        }
        let missing: Vec<_> = want.iter().filter(|w| !text.lines().any(|l| l == w.as_str())).collect();
        assert!(missing.is_empty(), "missing {missing:#?} in\n{text}");
        assert_eq!(
            want.len(),
            2 + 3 * (3 + 3) + PARTNER_CENTER_OPERATIONS.len() * (1 + PARTNER_CENTER_OUTCOMES.len())
        );
    }

    /// The outcome list names exactly the reasons `PartnerCenterError::reason()` returns.
    #[test]
    fn partner_center_outcomes_match_the_error_reasons() {
        let source = include_str!("../partner_center/errors.rs");
        let body = source
            .split("pub fn reason(&self) -> &'static str {")
            .nth(1)
            .and_then(|rest| rest.split("\n    }\n").next())
            .expect("PartnerCenterError::reason in src/partner_center/errors.rs");
        let mut reasons: Vec<&str> = body
            .lines()
            .filter_map(|l| l.split("=> \"").nth(1))
            .filter_map(|rest| rest.split('"').next())
            .collect();
        reasons.sort_unstable();
        let mut listed: Vec<&str> = PARTNER_CENTER_OUTCOMES[1..].to_vec();
        listed.sort_unstable();
        assert_eq!(listed, reasons);
    }

    /// Rows: the objects published in one refresh, and the series then exported.
    #[test]
    fn object_ready_keeps_one_series_per_object() {
        let obj = |name: &str, reason: &str| ObjectLabels {
            kind: "Reseller".into(),
            namespace: String::new(),
            name: name.into(),
            reason: reason.into(),
        };
        let mut registry = Registry::default();
        let m = Metrics::register(&mut registry);
        type Published<'a> = &'a [(&'a str, &'a str, bool)];
        let rows: [(Published, &[&str]); 4] = [
            (
                &[("a", "Ready", true), ("b", "Pending", false)],
                &[
                    "pco_object_ready{kind=\"Reseller\",namespace=\"\",name=\"a\",reason=\"Ready\"} 1",
                    "pco_object_ready{kind=\"Reseller\",namespace=\"\",name=\"b\",reason=\"Pending\"} 0",
                ],
            ),
            // b's reason changes: its old series goes.
            (
                &[("a", "Ready", true), ("b", "SandboxOnlyReseller", false)],
                &[
                    "pco_object_ready{kind=\"Reseller\",namespace=\"\",name=\"a\",reason=\"Ready\"} 1",
                    "pco_object_ready{kind=\"Reseller\",namespace=\"\",name=\"b\",reason=\"SandboxOnlyReseller\"} 0",
                ],
            ),
            // a is deleted.
            (
                &[("b", "SandboxOnlyReseller", false)],
                &["pco_object_ready{kind=\"Reseller\",namespace=\"\",name=\"b\",reason=\"SandboxOnlyReseller\"} 0"],
            ),
            (&[], &[]),
        ];
        for (objects, want) in rows {
            let mut round = m.object_ready.round();
            for (n, r, ready) in objects {
                round.set(obj(n, r), *ready);
            }
            round.finish();
            let text = encode(&registry);
            let mut got: Vec<&str> = text.lines().filter(|l| l.starts_with("pco_object_ready{")).collect();
            got.sort_unstable();
            assert_eq!(got, want, "after publishing {objects:?}");
        }
    }
}
