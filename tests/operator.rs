//! The operator end to end: real kube-apiserver, the Partner Center emulator, the operator binary
//! running as its own least-privilege user, and the checked-in examples.

mod support;
use reqwest::Method;
use serde_json::{Value, json};
use std::ops::Deref;
use std::time::Duration;
use support::{Channel, Operator, PROVIDER_NS, User, output_text, ready_of};

/// The demo channel with the operator running as `operator`, converged.
struct Scenario {
    channel: Channel,
    operator: Operator,
}

impl Deref for Scenario {
    type Target = Channel;
    fn deref(&self) -> &Channel {
        &self.channel
    }
}

impl Scenario {
    /// Control plane + emulator (demo fixtures) + operator + examples/, converged.
    async fn start() -> Scenario {
        let channel = Channel::start().await;
        let operator = channel.start_operator(User::Operator, "test-operator", &[]);
        let s = Scenario { channel, operator };
        s.cp.wait_demo_converged(|| s.operator.log_text());
        s
    }

    fn status(&self, args: &[&str]) -> Value {
        self.cp.get_json(args)["status"].clone()
    }

    /// Waits until the Ready condition of the object has `status` and `reason`.
    async fn wait_ready(&self, args: &[&str], status: &str, reason: &str) -> Value {
        let obj = self
            .cp
            .wait_condition(args, "Ready", status, Some(reason), Duration::from_secs(90), || {
                self.operator.log_text()
            })
            .await;
        obj["status"].clone()
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        self.emulator_control(Method::POST, path, Some(body)).await
    }
}

fn effective<'a>(status: &'a Value, plan: &str) -> &'a Value {
    status["effectivePlans"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["plan"] == plan))
        .unwrap_or_else(|| panic!("no effective plan {plan} in {status:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_scenarios_publish_the_connection_provisioning_must_use() {
    let s = Scenario::start().await;

    // The provider's own reseller uses the plans' connections; Northwind its own account (override);
    // its sub-reseller inherits the override; the sandbox-only Demo reseller's production grant is refused.
    // (reseller, plan, connection, source, usable, reason)
    type Case<'a> = (
        &'a str,
        &'a str,
        Option<(&'a str, &'a str)>,
        &'a str,
        bool,
        Option<&'a str>,
    );
    let cases: &[Case] = &[
        (
            "contoso",
            "eur-direct-sandbox",
            Some((PROVIDER_NS, "contoso-eur-sandbox")),
            "Plan",
            true,
            None,
        ),
        (
            "contoso",
            "nz-indirect-production",
            Some((PROVIDER_NS, "contoso-nz-production")),
            "Plan",
            true,
            None,
        ),
        (
            "contoso-test",
            "eur-direct-sandbox",
            Some((PROVIDER_NS, "contoso-eur-sandbox")),
            "Plan",
            true,
            None,
        ),
        (
            "northwind",
            "nz-indirect-production",
            Some(("reseller-northwind", "northwind-nz-production")),
            "Override",
            true,
            None,
        ),
        (
            "northwind-wellington",
            "nz-indirect-production",
            Some(("reseller-northwind", "northwind-nz-production")),
            "Inherited",
            true,
            None,
        ),
        (
            "tailspin-demo",
            "nz-indirect-production",
            Some((PROVIDER_NS, "contoso-nz-production")),
            "Plan",
            false,
            Some("SandboxOnlyReseller"),
        ),
    ];
    for (reseller, plan, connection, source, usable, reason) in cases {
        let st = s.status(&["rsl", reseller]);
        let p = effective(&st, plan);
        if let Some((ns, name)) = connection {
            assert_eq!(
                (p["connection"]["namespace"].as_str(), p["connection"]["name"].as_str()),
                (Some(*ns), Some(*name)),
                "{reseller}/{plan}"
            );
        }
        assert_eq!(p["source"], *source, "{reseller}/{plan}");
        assert_eq!(p["usable"], *usable, "{reseller}/{plan}");
        assert_eq!(p["reason"].as_str(), *reason, "{reseller}/{plan}");
    }
    let wellington = s.status(&["rsl", "northwind-wellington"]);
    assert_eq!(
        effective(&wellington, "nz-indirect-production")["inheritedFrom"],
        "northwind"
    );
    assert_eq!(wellington["ancestors"], json!(["northwind", "contoso"]));
    let tailspin = s
        .wait_ready(&["rsl", "tailspin-demo"], "False", "SandboxOnlyReseller")
        .await;
    assert!(
        ready_of(&tailspin)["message"]
            .as_str()
            .unwrap()
            .contains("nz-indirect-production")
    );

    // What Partner Center reports is published on the connection.
    let nz = s.status(&["-n", PROVIDER_NS, "pcc", "contoso-nz-production"]);
    assert_eq!(nz["partner"]["country"], "NZ");
    assert_eq!(nz["partner"]["tenantId"], "22222222-2222-4222-8222-222222222222");
    assert_eq!(nz["customerCount"], 640);
    assert_eq!(nz["indirectResellerCount"], 3);
    // Of the three Active indirect resellers, only the one a Reseller declares (wingtip's
    // spec.indirectReseller, examples/40-resellers.yaml) is published as linked.
    assert_eq!(
        nz["linkedIndirectResellers"],
        json!(["44444444-4444-4444-8444-444444444404"])
    );
    assert_eq!(nz["owner"], "Provider");
    assert_eq!(
        s.status(&["-n", "reseller-northwind", "pcc", "northwind-nz-production"])["owner"],
        "Reseller/northwind"
    );
    let plan = s.status(&["cplan", "nz-indirect-production"]);
    assert_eq!(plan["resellerCount"], 5, "{plan:#}");

    // The rotated refresh token is in the Secret, and the emulator (strict rotation) still accepts it.
    let secret =
        s.cp.get_json(&["-n", PROVIDER_NS, "secret", "contoso-nz-production-credentials"]);
    let rt = String::from_utf8(base64_decode(secret["data"]["refreshToken"].as_str().unwrap())).unwrap();
    assert_ne!(
        rt, "demo-rt-nz-initial",
        "the operator must write the rotated refresh token back"
    );
    assert!(
        secret["metadata"]["annotations"]["channel.csp.dev/rotated-away-refresh-tokens"]
            .as_str()
            .is_some_and(|v| !v.is_empty())
    );

    // Events on transitions (the refused grant is a Warning).
    let events = s.cp.get_json(&["events.events.k8s.io", "-A"]);
    assert!(
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["regarding"]["name"] == "tailspin-demo"
                && e["type"] == "Warning"
                && e["reason"] == "SandboxOnlyReseller"),
        "{events:#}"
    );

    // Re-applying the same manifests changes nothing and kubectl diff shows nothing. (Not the
    // credentials Secrets: the operator rotates refreshToken, so Git must not own that key.)
    let manifests: String = support::example_manifests(&s.emulator.addr.to_string())
        .split("\n---\n")
        .filter(|doc| !doc.contains("kind: Secret"))
        .collect::<Vec<_>>()
        .join("\n---\n");
    let diff = s.cp.kubectl_stdin(User::Admin, &["diff", "-f", "-"], &manifests);
    assert_eq!(
        diff.status.code(),
        Some(0),
        "kubectl diff after convergence: {}",
        output_text(&diff)
    );

    // Steady state: no status writes at all, counted at the API server.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = support::status_writes_by(&s.cp, "operator").len();
    assert!(before > 0, "the audit log must show the operator's convergence writes");
    tokio::time::sleep(Duration::from_secs(15)).await;
    let after = support::status_writes_by(&s.cp, "operator");
    assert_eq!(
        after.len(),
        before,
        "status writes in an idle window: {:#?}",
        &after[before..]
    );

    // Secret values never appear in the operator's logs, statuses or events.
    let log = s.operator.log_text();
    let statuses = output_text(&s.cp.kubectl_run(User::Admin, &["get", "channel", "-A", "-o", "yaml"]));
    let event_text = output_text(
        &s.cp
            .kubectl_run(User::Admin, &["get", "events.events.k8s.io", "-A", "-o", "yaml"]),
    );
    for canary in [
        "demo-secret-eur",
        "demo-secret-nz",
        "demo-secret-northwind",
        "demo-rt-nz-initial",
        rt.as_str(),
    ] {
        for (what, text) in [("log", &log), ("status", &statuses), ("events", &event_text)] {
            assert!(!text.contains(canary), "secret value found in {what}");
        }
    }
    assert!(
        log.contains("synced with Partner Center"),
        "the log is the operator's: {log}"
    );

    // Probes and metrics on the admin port (its address is in the startup log line).
    let admin = log
        .split("\"admin_addr\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("startup line names admin_addr")
        .to_string();
    let get = |path: &str| {
        let url = format!("http://{admin}{path}");
        async move { reqwest::get(url).await.expect("admin server") }
    };
    assert_eq!(get("/readyz").await.status(), 200);
    assert_eq!(get("/livez").await.status(), 200);
    // Gauges are refreshed every 15 s from the caches.
    tokio::time::sleep(Duration::from_secs(16)).await;
    let metrics = get("/metrics").await.text().await.unwrap();
    for want in [
        "pco_connection_ready{namespace=\"csp-system\",name=\"contoso-nz-production\"} 1",
        "pco_objects{kind=\"Reseller\",ready=\"False\"} 1",
        "pco_reconciles_total{kind=\"Reseller\"}",
        "pco_partner_center_calls_total{operation=\"list_customers\",outcome=\"Ok\"}",
        "pco_connection_refresh_token_expiry_timestamp_seconds{namespace=\"csp-system\",name=\"contoso-nz-production\"}",
        "pco_connection_last_sync_timestamp_seconds",
        "pco_leader 1",
    ] {
        assert!(metrics.contains(want), "{want} in\n{metrics}");
    }
    for canary in ["demo-secret-nz", rt.as_str()] {
        assert!(!metrics.contains(canary), "secret value in metrics");
    }
    // Every log line of a reconcile names its object.
    for line in log.lines().filter(|l| l.contains("synced with Partner Center")) {
        assert!(line.contains("\"object\":"), "{line}");
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).expect("base64")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_rules_refuse_bad_configuration_with_a_reason() {
    let s = Scenario::start().await;
    // Each case adds objects to the converged seed and names the object and the Ready reason it must get.
    let cases: &[(&str, &str, &[&str], &str)] = &[
        (
            "reseller region differs from the plan's (rule 9)",
            r#"{"apiVersion":"channel.csp.dev/v1alpha1","kind":"Reseller","metadata":{"name":"aussie"},"spec":{"displayName":"Aussie","shortName":"AUS","parent":"contoso","region":"AU","services":{"azureAD":{"enabled":true,"customerPlans":[{"plan":"nz-indirect-production"}]}}}}"#,
            &["rsl", "aussie"],
            "PlanRegionNotAllowed",
        ),
        (
            "a parent that does not exist (rule 8)",
            r#"{"apiVersion":"channel.csp.dev/v1alpha1","kind":"Reseller","metadata":{"name":"orphan"},"spec":{"displayName":"Orphan","shortName":"ORPH","parent":"nobody"}}"#,
            &["rsl", "orphan"],
            "ParentNotFound",
        ),
        (
            "a plan the parent does not have (rule 8)",
            r#"{"apiVersion":"channel.csp.dev/v1alpha1","kind":"Reseller","metadata":{"name":"test-child"},"spec":{"displayName":"Test child","shortName":"TCHILD","parent":"contoso-test","customerType":"Test","services":{"azureAD":{"enabled":true,"customerPlans":[{"plan":"nz-indirect-production"}]}}}}"#,
            &["rsl", "test-child"],
            "ParentLacksPlan",
        ),
        (
            "an override into a sibling's namespace (rule 5)",
            r#"{"apiVersion":"channel.csp.dev/v1alpha1","kind":"Reseller","metadata":{"name":"fabrikam"},"spec":{"displayName":"Fabrikam","shortName":"FAB","parent":"contoso","namespace":"reseller-fabrikam","services":{"azureAD":{"enabled":true,"customerPlans":[{"plan":"nz-indirect-production","connectionOverride":{"namespace":"reseller-northwind","name":"northwind-nz-production"}}]}}}}"#,
            &["rsl", "fabrikam"],
            "OverrideNamespaceNotAllowed",
        ),
        (
            "a granted plan that does not exist (rule 8)",
            r#"{"apiVersion":"channel.csp.dev/v1alpha1","kind":"Reseller","metadata":{"name":"ghostly"},"spec":{"displayName":"Ghostly","shortName":"GHOST","parent":"contoso","services":{"azureAD":{"enabled":true,"customerPlans":[{"plan":"no-such-plan"}]}}}}"#,
            &["rsl", "ghostly"],
            "PlanNotFound",
        ),
        (
            "a shortName another reseller already holds (rule 8)",
            r#"{"apiVersion":"channel.csp.dev/v1alpha1","kind":"Reseller","metadata":{"name":"copycat"},"spec":{"displayName":"Copycat","shortName":"NWD","parent":"contoso"}}"#,
            &["rsl", "copycat"],
            "DuplicateShortName",
        ),
        (
            "a plan whose connection is in another region (rule 2)",
            r#"{"apiVersion":"channel.csp.dev/v1alpha1","kind":"CustomerPlan","metadata":{"name":"au-direct-sandbox"},"spec":{"displayName":"AU Direct Sandbox","region":"AU","cspType":"Direct","environment":"Sandbox","connectionRef":{"namespace":"csp-system","name":"contoso-eur-sandbox"}}}"#,
            &["cplan", "au-direct-sandbox"],
            "PlanConnectionMismatch",
        ),
        (
            "a plan named for one reseller granted to another (rule 1)",
            r#"{"apiVersion":"channel.csp.dev/v1alpha1","kind":"CustomerPlan","metadata":{"name":"nwd-nz-indirect-production"},"spec":{"displayName":"NWD NZ Indirect Production","region":"NZ","cspType":"IndirectProvider","environment":"Production","connectionRef":{"namespace":"reseller-northwind","name":"northwind-nz-production"}}}
---
{"apiVersion":"channel.csp.dev/v1alpha1","kind":"Reseller","metadata":{"name":"contoso"},"spec":{"displayName":"Contoso (service provider)","shortName":"CSO","namespace":"csp-system","services":{"azureAD":{"enabled":true,"customerPlans":[{"plan":"eur-direct-sandbox"},{"plan":"nz-indirect-production"},{"plan":"nwd-nz-indirect-production"}]}}}}
---
{"apiVersion":"channel.csp.dev/v1alpha1","kind":"Reseller","metadata":{"name":"wrongful"},"spec":{"displayName":"Wrongful","shortName":"WRONG","parent":"contoso","services":{"azureAD":{"enabled":true,"customerPlans":[{"plan":"nwd-nz-indirect-production"}]}}}}"#,
            &["rsl", "wrongful"],
            "PlanNotForReseller",
        ),
    ];
    for (what, yaml, object, _) in cases {
        let _ = object;
        s.apply(yaml);
        let _ = what;
    }
    for (what, _, object, reason) in cases {
        let st = s.wait_ready(object, "False", reason).await;
        let message = ready_of(&st)["message"].as_str().unwrap_or_default().to_string();
        assert!(!message.is_empty(), "{what}: a refusal says what to do");
    }
    // None of these broke what was already valid.
    s.cp.wait(&[
        "--for=condition=Ready",
        "rsl",
        "northwind",
        "northwind-wellington",
        "--timeout=30s",
    ]);

    // A non-root Standard reseller granted a Sandbox plan: a warning (and an Event), still Ready.
    s.apply(r#"{"apiVersion":"channel.csp.dev/v1alpha1","kind":"Reseller","metadata":{"name":"standard-sandbox"},"spec":{"displayName":"Std","shortName":"STDSBX","parent":"contoso","services":{"azureAD":{"enabled":true,"customerPlans":[{"plan":"eur-direct-sandbox"}]}}}}"#);
    let st = s.wait_ready(&["rsl", "standard-sandbox"], "True", "Ready").await;
    assert!(
        st["warnings"].as_array().is_some_and(|w| w
            .iter()
            .any(|w| w.as_str().unwrap().starts_with("SandboxPlanForStandardReseller"))),
        "{st:#}"
    );

    // Deleting a parent invalidates its subtree (no finalizer on resellers: re-evaluated on the delete).
    let out =
        s.cp.kubectl_run(User::Admin, &["delete", "rsl", "northwind", "--wait=false"]);
    assert!(out.status.success(), "{}", output_text(&out));
    s.wait_ready(&["rsl", "northwind-wellington"], "False", "ParentNotFound")
        .await;

    // One object the operator cannot decode (stored under a tampered schema) does not wedge the
    // watch: it is skipped and logged, and everything else is still reconciled.
    let tamper = r#"[{"op":"replace","path":"/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/region","value":{"type":"integer","description":"tampered"}}]"#;
    let out = s.cp.kubectl_run(
        User::Admin,
        &["patch", "crd", "resellers.channel.csp.dev", "--type=json", "-p", tamper],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    s.apply(r#"{"apiVersion":"channel.csp.dev/v1alpha1","kind":"Reseller","metadata":{"name":"undecodable"},"spec":{"displayName":"x","shortName":"UNDEC","region":42,"parent":"contoso"}}"#);
    // A later change to a decodable Reseller (one without a region, so the tampered field does not
    // concern it) is still picked up: a second grant appears in its effective plans.
    let grant = r#"{"spec":{"services":{"azureAD":{"enabled":true,"customerPlans":[{"plan":"eur-direct-sandbox"},{"plan":"nz-indirect-production"}]}}}}"#;
    let out = s.cp.kubectl_run(
        User::Admin,
        &["patch", "rsl", "standard-sandbox", "--type=merge", "-p", grant],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let st = s.status(&["rsl", "standard-sandbox"]);
        if st["effectivePlans"].as_array().is_some_and(|p| p.len() == 2) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the reseller watch is wedged: {st:#}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        s.operator.log_text().contains("does not decode"),
        "the skipped object is logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_problems_make_every_plan_through_it_unusable_and_recover_without_restart() {
    let s = Scenario::start().await;

    // Credentials of another tenant (Northwind's app) behind the Contoso NZ connection.
    let out = s.cp.kubectl_run(
        User::Admin,
        &[
            "-n",
            PROVIDER_NS,
            "create",
            "secret",
            "generic",
            "foreign-credentials",
            "--from-literal=clientId=5a0c1e2d-0000-4000-8000-00000000e003",
            "--from-literal=clientSecret=demo-secret-northwind",
            "--from-literal=refreshToken=demo-rt-northwind-initial-unused",
        ],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    // Points the NZ production connection at another Secret.
    let use_secret = |name: &str| {
        let patch = json!({"spec": {"auth": {"secretRef": {"name": name}}}}).to_string();
        let args = [
            "-n",
            PROVIDER_NS,
            "patch",
            "pcc",
            "contoso-nz-production",
            "--type=merge",
            "-p",
            &patch,
        ];
        let out = s.cp.kubectl_run(User::Admin, &args);
        assert!(out.status.success(), "{}", output_text(&out));
    };
    use_secret("foreign-credentials");
    let conn = s
        .wait_ready(
            &["-n", PROVIDER_NS, "pcc", "contoso-nz-production"],
            "False",
            "WrongTenantOrClient",
        )
        .await;
    assert_eq!(support::condition(&conn, "Authenticated")["status"], "False");
    s.wait_ready(&["cplan", "nz-indirect-production"], "False", "WrongTenantOrClient")
        .await;
    let contoso = s.wait_ready(&["rsl", "contoso"], "False", "WrongTenantOrClient").await;
    assert_eq!(effective(&contoso, "nz-indirect-production")["usable"], false);
    // Northwind's override does not go through that connection: still usable.
    s.cp.wait(&["--for=condition=Ready", "rsl", "northwind", "--timeout=30s"]);

    // Back to the right Secret: recovers.
    use_secret("contoso-nz-production-credentials");
    s.wait_ready(&["rsl", "contoso"], "True", "Ready").await;

    // Consent revoked in Partner Center (and the cached access token expired): not Ready, plans unusable.
    s.control(
        "/_emulator/refresh-tokens/revoke",
        json!({"tenantId": "11111111-1111-4111-8111-111111111111"}),
    )
    .await;
    s.control("/_emulator/clock/advance", json!({"seconds": 3700})).await;
    s.cp.request_sync(PROVIDER_NS, "contoso-eur-sandbox", "revoked");
    s.wait_ready(
        &["-n", PROVIDER_NS, "pcc", "contoso-eur-sandbox"],
        "False",
        "ConsentRevoked",
    )
    .await;
    let test_reseller = s.wait_ready(&["rsl", "contoso-test"], "False", "ConsentRevoked").await;
    assert_eq!(effective(&test_reseller, "eur-direct-sandbox")["usable"], false);

    // The admin consents again (a new refresh token into the Secret): recovery, same operator process.
    let fresh = s
        .control(
            "/_emulator/refresh-tokens",
            json!({"tenantId": "11111111-1111-4111-8111-111111111111", "upn": "admin@contosoeu.onmicrosoft.com"}),
        )
        .await;
    let token = fresh["refreshToken"].as_str().expect("refresh token").to_string();
    s.cp.store_refresh_token(PROVIDER_NS, "contoso-eur-sandbox-credentials", &token);
    s.cp.request_sync(PROVIDER_NS, "contoso-eur-sandbox", "reconsented");
    s.wait_ready(&["-n", PROVIDER_NS, "pcc", "contoso-eur-sandbox"], "True", "Verified")
        .await;
    s.wait_ready(&["rsl", "contoso-test"], "True", "Ready").await;

    // Rule 10: a refresh token the operator already rotated away, restored into the Secret.
    s.cp.store_refresh_token(PROVIDER_NS, "contoso-eur-sandbox-credentials", &token);
    s.cp.request_sync(PROVIDER_NS, "contoso-eur-sandbox", "reverted");
    let st = s
        .wait_ready(
            &["-n", PROVIDER_NS, "pcc", "contoso-eur-sandbox"],
            "False",
            "RefreshTokenReverted",
        )
        .await;
    assert!(!ready_of(&st)["message"].as_str().unwrap().contains(&token));
    assert!(
        !s.operator.log_text().contains(&token),
        "the refresh token must never be logged"
    );
}
