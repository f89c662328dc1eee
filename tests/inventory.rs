//! The audit in every connection sync (docs/customers.md, "Audit"), end to end: a real
//! kube-apiserver, the Partner Center emulator with the example fixtures, the operator binary as
//! its least-privilege user. Each finding is made at the emulator (its control API), seen in the
//! connection's `status.inventory` and the Customer's `Observed` condition, and cleared again;
//! Events come only for new findings; the calls are counted at the emulator.

mod support;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::{Channel, EmulatorControl, Operator, PROVIDER_NS, User, condition};

const NZ_TENANT: &str = "22222222-2222-4222-8222-222222222222";
/// Wingtip's indirect reseller tenant (examples/40-resellers.yaml).
const WINGTIP_TENANT: &str = "44444444-4444-4444-8444-444444444404";
/// Another of the NZ account's indirect resellers (examples/emulator/fixtures.yaml).
const OTHER_RESELLER: &str = "44444444-4444-4444-8444-444444444402";
const CONN: &str = "contoso-nz-production";
const BUDGET: u64 = 50;

struct Scenario {
    channel: Channel,
    operator: Operator,
    syncs: std::cell::Cell<u32>,
}

impl Scenario {
    async fn start() -> Scenario {
        let channel = Channel::start().await;
        let budget = BUDGET.to_string();
        let operator = channel.start_operator(
            User::Operator,
            "inventory",
            &[
                ("PCO_LEADER_ELECTION", "false"),
                ("PCO_INVENTORY_DETAIL_CALLS_PER_HOUR", budget.as_str()),
            ],
        );
        channel.cp.wait_demo_converged(|| operator.log_text());
        channel.apply(&support::examples(&["50-customers.yaml"], &channel.addr));
        channel.cp.wait_or_show(
            &[
                "--for=condition=Ready",
                "-n",
                PROVIDER_NS,
                "customer",
                "pohutukawa-cafe",
                "--timeout=120s",
            ],
            || operator.log_text(),
        );
        Scenario {
            channel,
            operator,
            syncs: std::cell::Cell::new(0),
        }
    }

    fn connection(&self) -> Value {
        self.channel.cp.get_json(&["-n", PROVIDER_NS, "pcc", CONN])
    }

    /// Asks for a sync of the NZ connection and waits until its status answers that request
    /// (requested syncs are answered at most every 30 s).
    async fn sync(&self) -> Value {
        let n = self.syncs.get() + 1;
        self.syncs.set(n);
        let from = self.last_seq().await;
        let value = format!("inventory-{n}");
        support::kubectl_ok(
            &self.channel.cp,
            User::Admin,
            &[
                "annotate",
                "pcc",
                "-n",
                PROVIDER_NS,
                CONN,
                &format!("channel.csp.dev/sync-requested={value}"),
                "--overwrite",
            ],
        );
        // The sync's last call lists the indirect resellers; the audit and the status follow.
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(90) {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let log = self.requests_since(from).await;
            if log.iter().any(|e| {
                e["tenantId"] == NZ_TENANT && e["path"].as_str().is_some_and(|p| p.ends_with("/relationships"))
            }) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        self.connection()
    }

    /// Syncs until `status.inventory` has the fields of `want` (details arrive within the sync that
    /// fetched them; the status follows at the next reconcile).
    async fn sync_until(&self, case: &str, want: &Value) -> Value {
        let mut last = Value::Null;
        for _ in 0..3 {
            let conn = self.sync().await;
            last = conn["status"]["inventory"].clone();
            if subset(want, &last) {
                return last;
            }
        }
        panic!(
            "{case}: status.inventory {last} lacks {want}\n{}",
            tail(&self.operator.log_text())
        );
    }

    async fn observed(&self, ns: &str, name: &str, status: &str, reason: &str) -> Value {
        self.channel
            .cp
            .wait_condition(
                &["-n", ns, "customer", name],
                "Observed",
                status,
                Some(reason),
                Duration::from_secs(60),
                || self.operator.log_text(),
            )
            .await
    }

    async fn control(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        self.channel.emulator_control(method, path, body).await
    }

    async fn requests_since(&self, seq: u64) -> Vec<Value> {
        EmulatorControl::new(&self.channel.emulator)
            .requests_since(seq)
            .await
            .expect("the emulator's request log")
    }

    async fn last_seq(&self) -> u64 {
        EmulatorControl::new(&self.channel.emulator)
            .last_seq()
            .await
            .expect("the emulator's request log")
    }

    /// Warning Events with `reason` about `kind/name` in `ns`.
    fn events(&self, ns: &str, name: &str, reason: &str) -> usize {
        let list = self.channel.cp.get_json(&["-n", ns, "events.events.k8s.io"]);
        list["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter(|e| e["regarding"]["name"] == name && e["reason"] == reason && e["type"] == "Warning")
                    .count()
            })
            .unwrap_or(0)
    }
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Every field of `want` (an object) is in `got` with the same value.
fn subset(want: &Value, got: &Value) -> bool {
    want.as_object().is_some_and(|w| w.iter().all(|(k, v)| &got[k] == v))
}

/// Requests of the NZ account's sync: plain list pages and get-by-id details.
fn sync_calls(log: &[Value]) -> (usize, usize) {
    let of_nz = log
        .iter()
        .filter(|e| e["tenantId"] == NZ_TENANT && e["method"] == "GET");
    let (mut pages, mut details) = (0, 0);
    for e in of_nz {
        let path = e["path"].as_str().unwrap_or_default();
        let query = e["query"].as_str().unwrap_or_default();
        if (path == "/v1/customers" || path == "/customers") && !query.contains("filter") {
            pages += 1;
        } else if path.starts_with("/v1/customers/") && path.matches('/').count() == 3 {
            details += 1;
        }
    }
    (pages, details)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_finding_appears_and_clears_and_the_calls_stay_within_budget() {
    let s = Scenario::start().await;
    let cafe = s
        .channel
        .cp
        .get_json(&["-n", PROVIDER_NS, "customer", "pohutukawa-cafe"]);
    let tenant = cafe["status"]["tenantId"]
        .as_str()
        .expect("provisioned tenant")
        .to_string();
    let nz = format!("/_emulator/partners/{NZ_TENANT}");

    // The examples: 640 generated customers and the cafe, declared through Wingtip.
    let base = s
        .sync_until(
            "examples",
            &json!({"customers": 641, "declared": 1, "undeclared": 640, "missing": 0, "outsideRegion": 0, "wrongReseller": 0, "detailsPending": 0}),
        )
        .await;
    s.observed(PROVIDER_NS, "pohutukawa-cafe", "True", "Listed").await;
    let undeclared = base["undeclared"].as_i64().unwrap();
    // The first audit found 640 undeclared customers: one Event, not one per sync.
    assert_eq!(
        s.events(PROVIDER_NS, CONN, "UndeclaredCustomers"),
        1,
        "the first audit's Event"
    );

    // (case, emulator change, counts the connection then shows, Observed of the cafe (status, reason))
    type Step = (&'static str, Method, String, Value, Value, (&'static str, &'static str));
    let steps: Vec<Step> = vec![
        (
            "customers nobody declares appear",
            Method::POST,
            format!("{nz}/customers"),
            json!({"generate": {"count": 3, "seed": "stray", "country": "NZ"}}),
            json!({"customers": 644, "undeclared": undeclared + 3}),
            ("True", "Listed"),
        ),
        (
            "associated with another indirect reseller",
            Method::POST,
            format!("{nz}/customers/{tenant}"),
            json!({"associatedPartnerId": OTHER_RESELLER}),
            json!({"wrongReseller": 1}),
            ("False", "WrongReseller"),
        ),
        (
            "the association is corrected",
            Method::POST,
            format!("{nz}/customers/{tenant}"),
            json!({"associatedPartnerId": WINGTIP_TENANT}),
            json!({"wrongReseller": 0}),
            ("True", "Listed"),
        ),
        (
            "its country moves outside the region",
            Method::POST,
            format!("{nz}/customers/{tenant}"),
            json!({"country": "AU"}),
            json!({"outsideRegion": 1, "wrongReseller": 0}),
            ("False", "CountryOutsideRegion"),
        ),
        (
            "the country is corrected",
            Method::POST,
            format!("{nz}/customers/{tenant}"),
            json!({"country": "NZ"}),
            json!({"outsideRegion": 0}),
            ("True", "Listed"),
        ),
        (
            "the relationship ends",
            Method::DELETE,
            format!("{nz}/customers/{tenant}"),
            Value::Null,
            json!({"customers": 643, "declared": 0, "missing": 1}),
            ("False", "TenantGone"),
        ),
        (
            "the tenant is back",
            Method::POST,
            format!("{nz}/customers"),
            json!({"customers": [{"tenantId": tenant, "domain": "pohutukawacafe.onmicrosoft.com", "companyName": "Pohutukawa Cafe", "country": "NZ", "associatedPartnerId": WINGTIP_TENANT}]}),
            json!({"customers": 644, "declared": 1, "missing": 0, "wrongReseller": 0, "outsideRegion": 0}),
            ("True", "Listed"),
        ),
    ];
    for (case, method, path, body, counts, (status, reason)) in steps {
        let body = (!body.is_null()).then_some(body);
        s.control(method, &path, body).await;
        s.sync_until(case, &counts).await;
        let c = s.observed(PROVIDER_NS, "pohutukawa-cafe", status, reason).await;
        assert_eq!(condition(&c["status"], "Observed")["reason"], reason, "{case}");
    }

    // Events for new findings only: one per finding, not one per sync.
    for reason in ["WrongReseller", "CountryOutsideRegion", "TenantGone"] {
        let list = s.channel.cp.get_json(&["-n", PROVIDER_NS, "events.events.k8s.io"]);
        for e in list["items"].as_array().into_iter().flatten() {
            if e["regarding"]["name"] == "pohutukawa-cafe" && e["reason"] == reason {
                eprintln!(
                    "event {reason}: {} {} {}",
                    e["metadata"]["creationTimestamp"], e["reportingInstance"], e["note"]
                );
            }
        }
        assert_eq!(
            s.events(PROVIDER_NS, "pohutukawa-cafe", reason),
            1,
            "{reason} Events on the Customer"
        );
    }
    assert_eq!(
        s.events(PROVIDER_NS, CONN, "UndeclaredCustomers"),
        2,
        "one more when the strays appeared"
    );
    s.sync().await;
    assert_eq!(
        s.events(PROVIDER_NS, CONN, "UndeclaredCustomers"),
        2,
        "an unchanged audit says nothing"
    );

    // 10,000 customers on the connection: each sync lists ceil(n / 500) pages, and details are
    // fetched for declared tenants only, within the budget.
    s.control(
        Method::POST,
        &format!("{nz}/customers"),
        Some(json!({"generate": {"count": 9356, "seed": "scale", "country": "NZ"}})),
    )
    .await;
    s.sync_until("10,000 customers", &json!({"customers": 10_000, "undeclared": 9_999}))
        .await;
    let from = s.last_seq().await;
    s.sync_until("another sync", &json!({"customers": 10_000})).await;
    let (pages, details) = sync_calls(&s.requests_since(from).await);
    // ceil(10000 / 500) = 20; a full last page is followed by the documented end-of-paging answer.
    assert!((20..=21).contains(&pages), "{pages} list pages for 10,000 customers");
    let (_, all_details) = sync_calls(&s.requests_since(0).await);
    assert!(
        (details as u64) <= BUDGET && (all_details as u64) <= BUDGET,
        "{details} detail calls in the last sync, {all_details} in all; budget {BUDGET} per hour"
    );
    assert!(all_details >= 1, "the declared tenant's details were fetched");
}
