//! What a platform team observes: the live `/metrics` of an operator under the real API server
//! (names, counters at zero, one `pco_object_ready` series per object across a reason change), the
//! chart's alerts and the Grafana dashboard's queries against those names, the alerts checked and
//! unit-tested with Prometheus' own promtool (Debian's pinned package, fetched by hack/tools/build.sh promtool), and the log lines of a refusal.

mod support;
use serde_json::Value;
use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use support::{Operator, PROVIDER_NS, User, output_text, repo_root, tool_bin, wait_until};

fn chart() -> PathBuf {
    repo_root().join("charts/partner-center-operator")
}

/// The chart rendered with `set` by the pinned helm 4 (the PrometheusRule needs no cluster).
fn render(set: &str) -> Vec<Value> {
    let out = Command::new(tool_bin().join("helm4"))
        .args(["template", "pco"])
        .arg(chart())
        .args(["-n", PROVIDER_NS, "--kube-version", "v1.34.0", "--set", set])
        .output()
        .expect("helm4");
    assert!(out.status.success(), "{}", output_text(&out));
    let docs: Vec<Value> = serde_saphyr::from_multiple(&String::from_utf8(out.stdout).unwrap()).unwrap();
    docs.into_iter().filter(Value::is_object).collect()
}

/// The rules of the chart's PrometheusRule: (alert, expr).
fn alert_rules() -> Vec<(String, String)> {
    let docs = render("prometheusRule.enabled=true");
    let rule = docs
        .iter()
        .find(|d| d["kind"] == "PrometheusRule")
        .expect("PrometheusRule");
    rule["spec"]["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["alert"].as_str().unwrap().to_string(),
                r["expr"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The dashboard's queries, with its `$namespace` variable set to the release namespace.
fn dashboard_queries() -> Vec<(String, String)> {
    let path = chart().join("files/dashboards/partner-center-operator.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap().replace("$namespace", PROVIDER_NS);
            queries.push((panel["title"].as_str().unwrap().to_string(), expr));
        }
    }
    let variable = dashboard["templating"]["list"][1]["query"]["query"].as_str().unwrap();
    queries.push(("variable namespace".into(), variable.to_string()));
    queries
}

/// The `pco_*` metric names a PromQL expression uses.
fn metric_names(expr: &str) -> BTreeSet<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("pco_"))
        .map(str::to_string)
        .collect()
}

/// The sample names of a text exposition (`name{...} value` or `name value`).
fn sample_names(metrics: &str) -> BTreeSet<String> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect()
}

/// The value of the sample written exactly `series` (name and labels), if exported.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The `pco_object_ready` series of one object.
fn object_series<'a>(metrics: &'a str, kind: &str, name: &str) -> Vec<&'a str> {
    let prefix = format!("pco_object_ready{{kind=\"{kind}\",namespace=\"\",name=\"{name}\",");
    metrics.lines().filter(|l| l.starts_with(&prefix)).collect()
}

/// `/metrics` of `op` once `done` holds for it (the gauges follow the caches every 15 s,
/// src/controller/gauges.rs); panics with the last scrape and the log otherwise.
async fn metrics_when(op: &Operator, what: &str, done: &dyn Fn(&str) -> bool) -> String {
    let mut last = String::new();
    let result = wait_until(what, Duration::from_secs(60), Duration::from_millis(500), || {
        let (code, text) = op.admin_get("/metrics");
        assert_eq!(code, 200, "{text}");
        if done(&text) {
            return ControlFlow::Break(text);
        }
        last = text;
        ControlFlow::Continue(String::new())
    })
    .await;
    match result {
        Ok((text, _)) => text,
        Err(e) => panic!("{e}:\n{last}\n{}", op.log_text()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_metrics_alerts_dashboard_and_refusal_logs() {
    let channel = support::Channel::start().await;
    let cp = &channel.cp;
    // The kit's operator, on an admin address chosen here so /metrics can be scraped.
    let admin = support::free_loopback_addr();
    let args: Vec<&str> = channel
        .operator_args("observability")
        .into_iter()
        .map(|a| if a == "127.0.0.1:0" { admin.as_str() } else { a })
        .collect();
    let mut cmd = Command::new(support::operator_bin());
    cmd.arg("run")
        .args(&args)
        .env("KUBECONFIG", cp.kubeconfig(User::Operator))
        .env("PCO_LOG_FORMAT", "json")
        .env("PCO_LOG_LEVEL", "info");
    let op = Operator::spawn(cmd, cp.dir().join("operator-observability.log"), Some(admin.clone())).unwrap();
    cp.wait_demo_converged(|| op.log_text());

    let metrics = metrics_when(&op, "the misconfigured reseller in pco_object_ready", &|m| {
        object_series(m, "Reseller", "tailspin-demo")
            .iter()
            .any(|l| l.contains("reason=\"SandboxOnlyReseller\"} 0"))
    })
    .await;

    // Names and counters at zero: rows of (series, value).
    let version = env!("CARGO_PKG_VERSION");
    let rows = [
        (format!("pco_build_info{{version=\"{version}\"}}"), Some(1.0)),
        ("pco_leader".to_string(), Some(1.0)),
        ("pco_reconcile_panics_total{kind=\"Reseller\"}".to_string(), Some(0.0)),
        (
            "pco_reconcile_errors_total{kind=\"CustomerPlan\",reason=\"ApiUnreachable\"}".to_string(),
            Some(0.0),
        ),
        (
            "pco_partner_center_calls_total{operation=\"token\",outcome=\"ConsentRevoked\"}".to_string(),
            Some(0.0),
        ),
        (
            "pco_partner_center_calls_total{operation=\"indirect_resellers\",outcome=\"Throttled\"}".to_string(),
            Some(0.0),
        ),
        ("pco_partner_center_throttled_total".to_string(), Some(0.0)),
        ("pco_effective_plans".to_string(), Some(7.0)),
        (
            "pco_unusable_effective_plans{reason=\"SandboxOnlyReseller\"}".to_string(),
            Some(1.0),
        ),
        // A Ready object has no per-object series (src/controller/gauges.rs); it is counted.
        (
            "pco_object_ready{kind=\"Reseller\",namespace=\"\",name=\"northwind\",reason=\"Ready\"}".to_string(),
            None,
        ),
    ];
    for (series, want) in &rows {
        assert_eq!(sample(&metrics, series), *want, "{series} in\n{metrics}");
    }
    // Every sync operation was timed: the histogram's count equals the calls counted.
    for operation in ["token", "list_customers"] {
        let calls: f64 = metrics
            .lines()
            .filter(|l| l.starts_with(&format!("pco_partner_center_calls_total{{operation=\"{operation}\",")))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        let timed = sample(
            &metrics,
            &format!("pco_partner_center_request_duration_seconds_count{{operation=\"{operation}\"}}"),
        );
        assert!(calls >= 1.0, "{operation}: no call counted\n{metrics}");
        assert_eq!(timed, Some(calls), "{operation}\n{metrics}");
    }
    // One series per object that is not Ready: as many as the API server holds of the three kinds
    // without Ready=True, and the Ready ones counted in pco_objects.
    let not_ready_objects = || -> (usize, usize) {
        let items: Vec<Value> = ["pcc", "cplan", "rsl"]
            .iter()
            .flat_map(|kind| cp.get_json(&[kind, "-A"])["items"].as_array().unwrap().clone())
            .collect();
        let ready = items
            .iter()
            .filter(|o| {
                o["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
            .count();
        (items.len() - ready, ready)
    };
    let (not_ready, ready) = not_ready_objects();
    assert!(not_ready >= 1, "tailspin-demo is not Ready");
    let ready_series = metrics.lines().filter(|l| l.starts_with("pco_object_ready{")).count();
    assert_eq!(ready_series, not_ready, "{metrics}");
    let counted_ready: f64 = ["PartnerCenterConnection", "CustomerPlan", "Reseller"]
        .iter()
        .filter_map(|kind| sample(&metrics, &format!("pco_objects{{kind=\"{kind}\",ready=\"True\"}}")))
        .sum();
    assert_eq!(counted_ready, ready as f64, "{metrics}");

    // The Argo CD advice of docs/operations.md (`managedFieldsManagers: [partner-center-operator]`)
    // holds only if the rotated refresh token is owned by a field manager of that name.
    let secret = cp.get_json(&[
        "-n",
        PROVIDER_NS,
        "secret",
        "contoso-nz-production-credentials",
        "--show-managed-fields",
    ]);
    let owners: Vec<&str> = secret["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["fieldsV1"]["f:data"].get("f:refreshToken").is_some())
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert!(
        owners.contains(&"partner-center-operator"),
        "refreshToken owned by {owners:?}: {secret:#}"
    );

    let before_change = metrics.clone();
    // The reason changes (the reseller is granted a Sandbox plan, and is Ready): its series goes.
    let patch =
        r#"[{"op":"replace","path":"/spec/services/azureAD/customerPlans/0/plan","value":"eur-direct-sandbox"}]"#;
    let out = cp.kubectl_run(
        User::Admin,
        &["patch", "rsl", "tailspin-demo", "--type=json", "-p", patch],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    let metrics = metrics_when(&op, "tailspin-demo's new reason", &|m| {
        object_series(m, "Reseller", "tailspin-demo")
            .iter()
            .all(|l| !l.contains("SandboxOnlyReseller"))
    })
    .await;
    // Ready now: its series is gone (not kept at 1).
    let series = object_series(&metrics, "Reseller", "tailspin-demo");
    assert_eq!(series, Vec::<&str>::new(), "tailspin-demo is Ready");
    // The old reason stays as a zero (its alert resolves instead of vanishing).
    assert_eq!(
        sample(&metrics, "pco_unusable_effective_plans{reason=\"SandboxOnlyReseller\"}"),
        Some(0.0)
    );
    assert_eq!(
        metrics.lines().filter(|l| l.starts_with("pco_object_ready{")).count(),
        not_ready_objects().0,
        "{metrics}"
    );

    // Every metric the alerts and the dashboard query is in this operator's live /metrics, now or
    // before the change (pco_object_ready has no series while every object is Ready, as now).
    let mut exported = sample_names(&metrics);
    exported.extend(sample_names(&before_change));
    let mut queried = 0;
    for (what, expr) in alert_rules().into_iter().chain(dashboard_queries()) {
        let names = metric_names(&expr);
        assert!(!names.is_empty(), "{what}: {expr} queries no operator metric");
        for name in names {
            assert!(
                exported.contains(&name),
                "{what} queries {name}, which the operator does not export: {expr}\n{metrics}"
            );
            queried += 1;
        }
    }
    assert!(queried >= 25, "{queried}");

    // A refusal by Partner Center (consent revoked): the sync is a WARN naming the reason, the
    // Ready change is logged once, the failure is counted from its zero.
    for (path, body) in [
        (
            "/_emulator/refresh-tokens/revoke",
            serde_json::json!({"tenantId": "11111111-1111-4111-8111-111111111111"}),
        ),
        ("/_emulator/clock/advance", serde_json::json!({"seconds": 3700})),
    ] {
        channel.emulator_control(reqwest::Method::POST, path, Some(body)).await;
    }
    cp.request_sync(PROVIDER_NS, "contoso-eur-sandbox", "observability");
    let object = format!("{PROVIDER_NS}/contoso-eur-sandbox");
    let lines_of = |text: &str| -> Vec<Value> {
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["span"]["object"] == object.as_str())
            .collect()
    };
    metrics_when(&op, "the revoked consent counted", &|m| {
        sample(
            m,
            "pco_partner_center_calls_total{operation=\"token\",outcome=\"ConsentRevoked\"}",
        ) >= Some(1.0)
    })
    .await;
    // Let the requeues after the failed sync run; the Ready change must still be logged once.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let log = op.log_text();
    let lines = lines_of(&log);
    let failed: Vec<_> = lines
        .iter()
        .filter(|l| l["message"] == "sync with Partner Center failed")
        .collect();
    assert!(!failed.is_empty(), "no failed-sync line for {object}:\n{log}");
    for l in &failed {
        assert_eq!(l["level"], "WARN", "{l}");
        assert_eq!(l["reason"], "ConsentRevoked", "{l}");
    }
    for l in lines.iter().filter(|l| l["message"] == "synced with Partner Center") {
        assert_eq!(l["level"], "INFO", "{l}");
        assert!(
            matches!(l["outcome"].as_str(), Some("Verified" | "PartiallyVerified")),
            "a failed sync logged as synced: {l}"
        );
    }
    let not_ready: Vec<_> = lines.iter().filter(|l| l["message"] == "not Ready").collect();
    assert_eq!(not_ready.len(), 1, "the Ready change logged once: {not_ready:#?}");
    assert_eq!(not_ready[0]["level"], "WARN");
    assert_eq!(not_ready[0]["reason"], "ConsentRevoked", "{}", not_ready[0]);
    assert!(
        not_ready[0]["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{}",
        not_ready[0]
    );
    // The object is named once per line: by the span, never again as a field of the event.
    for l in &lines {
        for field in ["object", "connection", "plan", "reseller", "kind"] {
            assert!(l.get(field).is_none(), "{field} repeated beside the span: {l}");
        }
    }
}

/// Prometheus' own checker on the chart's rules and the dashboard's queries, and promtool unit
/// tests: the absent leader fires when nothing is scraped, unusable effective plans fire after
/// `prometheusRule.unusableFor` and not before, failing syncs fire.
#[test]
fn promtool_checks_and_unit_tests_the_alerts() {
    let out = Command::new("bash")
        .arg(repo_root().join("hack/tools/build.sh"))
        .arg("promtool")
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("hack/tools/build.sh promtool");
    assert!(out.status.success(), "building promtool failed");
    let promtool = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim()).join("promtool");
    let dir = tempfile::tempdir().unwrap();

    let docs = render("prometheusRule.enabled=true");
    let rule = docs.iter().find(|d| d["kind"] == "PrometheusRule").unwrap();
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, serde_json::to_string(&rule["spec"]).unwrap()).unwrap();
    // The dashboard's queries as recording rules: promtool parses and checks each expression.
    let records: Vec<Value> = dashboard_queries()
        .iter()
        .enumerate()
        .map(|(i, (_, expr))| {
            // Grafana's label_values(selector, label) is not PromQL: promtool checks its selector.
            let expr = match expr.strip_prefix("label_values(") {
                Some(rest) => rest.rsplit_once(',').map(|(selector, _)| selector).unwrap_or(rest),
                None => expr,
            };
            serde_json::json!({"record": format!("dashboard:query_{i}"), "expr": expr})
        })
        .collect();
    let dashboard = dir.path().join("dashboard-queries.yaml");
    std::fs::write(
        &dashboard,
        serde_json::json!({"groups": [{"name": "dashboard", "rules": records}]}).to_string(),
    )
    .unwrap();
    let check = Command::new(&promtool)
        .args(["check", "rules"])
        .arg(&rules)
        .arg(&dashboard)
        .output()
        .unwrap();
    let text = output_text(&check);
    assert!(check.status.success(), "promtool check rules: {text}");
    assert!(text.contains("SUCCESS: 6 rules found"), "{text}");
    assert!(
        text.contains(&format!("SUCCESS: {} rules found", records.len())),
        "{text}"
    );

    let tests = dir.path().join("alerts_test.yaml");
    std::fs::write(&tests, ALERT_TESTS).unwrap();
    let test = Command::new(&promtool)
        .args(["test", "rules"])
        .arg(&tests)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text = output_text(&test);
    assert!(test.status.success(), "promtool test rules: {text}");
    assert!(text.contains("SUCCESS"), "{text}");
}

/// promtool unit tests of the rendered rules (rules.yaml, release namespace csp-system). Each case
/// is a series history and the alerts expected at a time.
const ALERT_TESTS: &str = r#"
rule_files: [rules.yaml]
evaluation_interval: 1m
tests:
  # Nothing scraped at all: absent() fires (max() of nothing would not).
  - interval: 1m
    input_series:
      - series: 'pco_build_info{namespace="other",version="0.1.0"}'
        values: '1x10'
    alert_rule_test:
      - eval_time: 6m
        alertname: PartnerCenterOperatorNoLeader
        exp_alerts:
          - exp_labels: {severity: critical, namespace: csp-system}
            exp_annotations:
              runbook_url: https://github.com/csp-dev/partner-center-operator/blob/main/docs/operations.md#partnercenteroperatornoleader
              summary: "No partner-center-operator replica holds the leader Lease: nothing is reconciled"
              description: "Check the pods and the Lease partner-center-operator in namespace csp-system (no pco_leader series at all: no replica is scraped)."
  # Two replicas, one leading: no alert; then neither leads.
  - interval: 1m
    input_series:
      - series: 'pco_leader{namespace="csp-system",pod="a"}'
        values: '1x5 0x10'
      - series: 'pco_leader{namespace="csp-system",pod="b"}'
        values: '0x15'
    alert_rule_test:
      - eval_time: 5m
        alertname: PartnerCenterOperatorNoLeader
        exp_alerts: []
      - eval_time: 12m
        alertname: PartnerCenterOperatorNoLeader
        exp_alerts:
          - exp_labels: {severity: critical}
            exp_annotations:
              runbook_url: https://github.com/csp-dev/partner-center-operator/blob/main/docs/operations.md#partnercenteroperatornoleader
              summary: "No partner-center-operator replica holds the leader Lease: nothing is reconciled"
              description: "Check the pods and the Lease partner-center-operator in namespace csp-system (no pco_leader series at all: no replica is scraped)."
  # An unusable effective plan: pending until unusableFor (15m), then firing; resolved at 0.
  - interval: 1m
    input_series:
      - series: 'pco_unusable_effective_plans{namespace="csp-system",reason="SandboxOnlyReseller"}'
        values: '0 0 8x20 0x5'
    alert_rule_test:
      - eval_time: 10m
        alertname: PartnerCenterUnusableEffectivePlans
        exp_alerts: []
      - eval_time: 20m
        alertname: PartnerCenterUnusableEffectivePlans
        exp_alerts:
          - exp_labels: {severity: warning, reason: SandboxOnlyReseller}
            exp_annotations:
              runbook_url: https://github.com/csp-dev/partner-center-operator/blob/main/docs/operations.md#partnercenterunusableeffectiveplans
              summary: "8 effective plans are unusable (SandboxOnlyReseller)"
              description: 'Provisioning through them is refused (there is no fallback). The resellers concerned: pco_object_ready{kind="Reseller"} == 0, or kubectl get rsl.'
      - eval_time: 25m
        alertname: PartnerCenterUnusableEffectivePlans
        exp_alerts: []
  # Token calls failing from a zero-initialised counter: rate() sees the first failures.
  - interval: 1m
    input_series:
      - series: 'pco_partner_center_calls_total{namespace="csp-system",operation="token",outcome="ConsentRevoked"}'
        values: '0+1x60'
      - series: 'pco_partner_center_calls_total{namespace="csp-system",operation="mpn_profile",outcome="NotFound"}'
        values: '0+1x60'
    alert_rule_test:
      - eval_time: 50m
        alertname: PartnerCenterSyncsFailing
        exp_alerts:
          - exp_labels: {severity: warning, operation: token, outcome: ConsentRevoked}
            exp_annotations:
              runbook_url: https://github.com/csp-dev/partner-center-operator/blob/main/docs/operations.md#partnercentersyncsfailing
              summary: "Partner Center token calls failing: ConsentRevoked"
              description: "Connection syncs fail; the connections' Ready conditions and the operator's WARN lines name the connection, the reason and the fix."
"#;
