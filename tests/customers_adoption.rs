//! Adoption of existing tenants and moves, end to end (docs/customers.md; docs/rules.md, rules 12,
//! 15 and 16): a real kube-apiserver, the Partner Center emulator, the operator binary as its
//! least-privilege user, the checked-in examples. An existing tenant waits with the connection's
//! invitation URL, accepts it through the emulator's control API, and is adopted — never created;
//! every refusal before a call is checked against the emulator's request log.

mod support;
use reqwest::Method;
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};
use support::{Channel, EmulatorControl, Operator, PROVIDER_NS, User, apply_ok, condition, output_text, ready_of};

const NZ_TENANT: &str = "22222222-2222-4222-8222-222222222222";
const NORTHWIND_TENANT: &str = "33333333-3333-4333-8333-333333333333";
const NORTHWIND_NS: &str = "reseller-northwind";

/// Tenants that exist in Microsoft's cloud but are nobody's customer until they accept.
const FERN: &str = "55555555-5555-4555-8555-000000000001";
const RATA: &str = "55555555-5555-4555-8555-000000000002";
const WATTLE: &str = "55555555-5555-4555-8555-000000000003";
const KOWHAI: &str = "55555555-5555-4555-8555-000000000004";
const TOTARA: &str = "55555555-5555-4555-8555-000000000005";

/// A second plan on the provider's NZ account and a reseller without an indirect reseller, so a
/// Customer can move between plans and resellers of one connection.
const EXTRAS: &str = r#"
apiVersion: channel.csp.dev/v1alpha1
kind: CustomerPlan
metadata: {name: nz-indirect-production-gold}
spec:
  displayName: NZ Indirect Production
  region: NZ
  cspType: IndirectProvider
  environment: Production
  connectionRef: {namespace: csp-system, name: contoso-nz-production}
---
apiVersion: channel.csp.dev/v1alpha1
kind: Reseller
metadata: {name: kiwi}
spec:
  displayName: Kiwi Services
  shortName: KIWI
  parent: contoso
  region: NZ
  services:
    azureAD:
      enabled: true
      customerPlans:
        - plan: nz-indirect-production
        - plan: nz-indirect-production-gold
"#;

/// A Customer adopting an existing tenant; `tenant` is `tenantId: …` or `domain: …`; `extra` is
/// appended to spec (two-space indented lines).
fn adopting(ns: &str, name: &str, plan: &str, tenant: &str, extra: &str) -> String {
    format!(
        "apiVersion: channel.csp.dev/v1alpha1\nkind: Customer\nmetadata: {{name: {name}, namespace: {ns}}}\n\
         spec:\n  plan: {plan}\n  tenant:\n    existing: {{{tenant}}}\n{extra}"
    )
}

fn spawn_operator(channel: &Channel, run: u32) -> Operator {
    let cp = &channel.cp;
    let admin = support::free_loopback_addr();
    let mut cmd = Command::new(support::operator_bin());
    cmd.arg("run")
        .args([
            "--provider-namespace",
            PROVIDER_NS,
            "--endpoint-allow-list",
            &channel.addr,
        ])
        .args(["--admin-addr", &admin, "--identity", "adoption"])
        .env("KUBECONFIG", cp.kubeconfig(User::Operator))
        .env("PCO_LOG_FORMAT", "json")
        .env("PCO_LOG_LEVEL", "info,partner_center_operator=debug")
        .env("PCO_LEADER_ELECTION", "false");
    Operator::spawn(cmd, cp.dir().join(format!("operator-adoption-{run}.log")), Some(admin)).expect("operator")
}

struct Scenario {
    channel: Channel,
    operator: Operator,
}

impl Scenario {
    fn log(&self) -> String {
        self.operator.log_text()
    }

    async fn wait_ready(&self, ns: &str, name: &str, status: &str, reason: &str) -> Value {
        self.channel
            .cp
            .wait_condition(
                &["-n", ns, "customer", name],
                "Ready",
                status,
                Some(reason),
                Duration::from_secs(120),
                || self.log(),
            )
            .await
    }

    /// Waits until the Customer's status satisfies `done`.
    async fn wait_status(&self, ns: &str, name: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let obj = self.channel.cp.get_json(&["-n", ns, "customer", name]);
            if done(&obj["status"]) {
                return obj;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "{ns}/{name}: {what} not reached; status {:#}\n{}",
                obj["status"],
                support::tail(&self.log(), 40)
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
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

    /// The tenant accepts `partner`'s reseller invitation (what its Global Admin does with the URL).
    async fn accept(&self, partner: &str, tenant: &str, domain: &str, company: &str, country: &str) {
        let answer = self
            .channel
            .emulator_control(
                Method::POST,
                &format!("/_emulator/partners/{partner}/invitations/accept"),
                Some(json!({"tenantId": tenant, "domain": domain, "companyName": company, "country": country})),
            )
            .await;
        assert_eq!(answer["customerId"], tenant, "{answer:#}");
    }

    /// Requests a sync of a connection (of Partner Center account `partner`) and waits until it has
    /// listed the account's customers at the emulator.
    async fn sync(&self, ns: &str, name: &str, partner: &str, value: &str) {
        let seq = self.last_seq().await;
        self.channel.cp.request_sync(ns, name, value);
        let start = Instant::now();
        loop {
            let listed = self.requests_since(seq).await.iter().any(|e| {
                e["method"] == "GET"
                    && e["path"] == "/v1/customers"
                    && e["tenantId"] == partner
                    && !e["query"].as_str().unwrap_or_default().contains("filter")
            });
            if listed {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(90), "{ns}/{name} did not sync");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        // The sync publishes its inventory right after its last page.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// The Partner Center calls a Customer's provisioning or adoption makes (look-ups, checks,
/// creates, the invitation): none of the connection syncs' listings.
fn adoption_requests(log: &[Value]) -> Vec<String> {
    log.iter()
        .filter(|e| {
            let path = e["path"].as_str().unwrap_or_default();
            let query = e["query"].as_str().unwrap_or_default();
            let method = e["method"].as_str().unwrap_or_default();
            path.starts_with("/v1/domains/")
                || path.starts_with("/v1/validations")
                || path == "/v1/customers/relationshiprequests"
                || (path.starts_with("/v1/customers") && method != "GET")
                || (path.starts_with("/v1/customers") && query.contains("Domain"))
                || (path.starts_with("/v1/customers/") && method == "GET")
        })
        .map(|e| format!("{} {}?{}", e["method"], e["path"], e["query"]))
        .collect()
}

fn creates(log: &[Value]) -> usize {
    log.iter()
        .filter(|e| e["method"] == "POST" && e["path"] == "/v1/customers")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_tenants_are_adopted_by_invitation_and_moves_are_recorded() {
    let channel = Channel::start().await;
    let operator = spawn_operator(&channel, 1);
    let mut s = Scenario { channel, operator };
    s.channel.cp.wait_demo_converged(|| s.operator.log_text());
    let cp = &s.channel.cp;
    s.channel.apply(EXTRAS);
    support::kubectl_ok(
        cp,
        User::Admin,
        &[
            "patch",
            "rsl",
            "contoso",
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/spec/services/azureAD/customerPlans/-","value":{"plan":"nz-indirect-production-gold"}}]"#,
        ],
    );
    cp.wait(&["--for=condition=Ready", "rsl", "contoso", "kiwi", "--timeout=60s"]);
    let seq_start = s.last_seq().await;

    // --- Refused before any call: a Sandbox account cannot invite.
    let seq = s.last_seq().await;
    s.channel.apply(&adopting(
        PROVIDER_NS,
        "sandbox-adopt",
        "eur-direct-sandbox",
        "domain: sbxadopt.onmicrosoft.com",
        "",
    ));
    let obj = s
        .wait_ready(PROVIDER_NS, "sandbox-adopt", "False", "SandboxCannotInvite")
        .await;
    let msg = ready_of(&obj["status"])["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        msg.contains("Production account") && msg.contains("spec.tenant.new"),
        "the message names the fix: {msg}"
    );
    assert!(obj["status"]["connection"].is_null(), "{:#}", obj["status"]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let calls = adoption_requests(&s.requests_since(seq).await);
    assert!(calls.is_empty(), "SandboxCannotInvite called Partner Center: {calls:?}");

    // --- Waiting: two tenants, one by id and one by domain, get the connection's invitation URL,
    // fetched once for both.
    let seq = s.last_seq().await;
    s.channel.apply(&adopting(
        PROVIDER_NS,
        "fern",
        "nz-indirect-production",
        &format!("tenantId: {FERN}"),
        "",
    ));
    s.channel.apply(&adopting(
        PROVIDER_NS,
        "rata",
        "nz-indirect-production",
        "domain: ratatimber.onmicrosoft.com",
        "",
    ));
    for name in ["fern", "rata"] {
        let obj = s.wait_ready(PROVIDER_NS, name, "False", "AwaitingAcceptance").await;
        let st = &obj["status"];
        assert_eq!(st["provisioning"]["phase"], "AwaitingAcceptance", "{st:#}");
        assert_eq!(st["connection"]["name"], "contoso-nz-production", "{st:#}");
        let url = st["invitationUrl"].as_str().unwrap_or_default();
        assert!(
            url.starts_with("https://admin.microsoft.com/") && url.contains(&format!("partnerId={NZ_TENANT}")),
            "{name}: {url}"
        );
        let msg = ready_of(st)["message"].as_str().unwrap_or_default().to_string();
        assert!(
            msg.contains("Global Admin") && msg.contains("status.invitationUrl"),
            "{name}: says who must open the URL: {msg}"
        );
    }
    let log = s.requests_since(seq).await;
    let invitations = adoption_requests(&log)
        .into_iter()
        .filter(|r| r.contains("relationshiprequests"))
        .count();
    assert_eq!(invitations, 1, "one invitation URL per connection");

    // While waiting, a sync that does not list them costs no call per pending Customer.
    s.sync(PROVIDER_NS, "contoso-nz-production", NZ_TENANT, "waiting-1")
        .await;
    let seq = s.last_seq().await;
    s.sync(PROVIDER_NS, "contoso-nz-production", NZ_TENANT, "waiting-2")
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let calls = adoption_requests(&s.requests_since(seq).await);
    assert!(calls.is_empty(), "pending Customers called Partner Center: {calls:?}");

    // --- Acceptance: the tenant accepts; the next sync lists it; it is adopted with what Partner
    // Center reports.
    s.accept(NZ_TENANT, FERN, "fernbird.onmicrosoft.com", "Fern Bird Ltd", "NZ")
        .await;
    s.sync(PROVIDER_NS, "contoso-nz-production", NZ_TENANT, "accepted-1")
        .await;
    let obj = s.wait_ready(PROVIDER_NS, "fern", "True", "Adopted").await;
    let st = &obj["status"];
    assert_eq!(
        (
            st["tenantId"].as_str(),
            st["domain"].as_str(),
            st["companyName"].as_str(),
            st["country"].as_str(),
            st["provisioning"]["phase"].as_str(),
        ),
        (
            Some(FERN),
            Some("fernbird.onmicrosoft.com"),
            Some("Fern Bird Ltd"),
            Some("NZ"),
            Some("Adopted")
        ),
        "{st:#}"
    );
    assert!(st["invitationUrl"].is_null(), "{st:#}");
    assert_eq!(condition(st, "Provisioned")["status"], "True", "{st:#}");
    assert_eq!(
        st["placement"],
        json!({"reseller": "contoso", "plan": "nz-indirect-production"}),
        "{st:#}"
    );
    assert!(
        ready_of(st)["message"]
            .as_str()
            .unwrap_or_default()
            .contains("country NZ"),
        "{st:#}"
    );

    // --- Acceptance while the operator is down: adopted after the restart.
    s.operator.stop();
    s.accept(NZ_TENANT, RATA, "ratatimber.onmicrosoft.com", "Rata Timber", "NZ")
        .await;
    s.operator = spawn_operator(&s.channel, 2);
    let obj = s.wait_ready(PROVIDER_NS, "rata", "True", "Adopted").await;
    assert_eq!(obj["status"]["tenantId"], RATA, "{:#}", obj["status"]);
    assert_eq!(obj["status"]["companyName"], "Rata Timber", "{:#}", obj["status"]);
    let cp = &s.channel.cp;

    // --- Rule 12: an adopted tenant whose country Partner Center reports outside the plan's region.
    s.channel.apply(&adopting(
        PROVIDER_NS,
        "wattle-adopt",
        "nz-indirect-production",
        &format!("tenantId: {WATTLE}"),
        "",
    ));
    s.wait_ready(PROVIDER_NS, "wattle-adopt", "False", "AwaitingAcceptance")
        .await;
    s.accept(NZ_TENANT, WATTLE, "wattlemines.onmicrosoft.com", "Wattle Mines", "AU")
        .await;
    s.sync(PROVIDER_NS, "contoso-nz-production", NZ_TENANT, "accepted-2")
        .await;
    let obj = s
        .wait_ready(PROVIDER_NS, "wattle-adopt", "False", "CountryOutsideRegion")
        .await;
    let st = &obj["status"];
    assert_eq!(
        (st["country"].as_str(), st["provisioning"]["phase"].as_str()),
        (Some("AU"), Some("Adopted")),
        "{st:#}"
    );
    assert_eq!(condition(st, "Provisioned")["status"], "True", "{st:#}");
    let msg = ready_of(st)["message"].as_str().unwrap_or_default().to_string();
    assert!(msg.contains("'AU'") && msg.contains("region 'NZ'"), "{msg}");

    // --- Rule 16: TenantClaimed, refused before any call.
    // A tenant already a customer of Northwind's own account (another of the operator's connections).
    s.accept(
        NORTHWIND_TENANT,
        KOWHAI,
        "kowhai.onmicrosoft.com",
        "Kowhai Design",
        "NZ",
    )
    .await;
    s.sync(NORTHWIND_NS, "northwind-nz-production", NORTHWIND_TENANT, "kowhai")
        .await;
    let seq = s.last_seq().await;
    s.channel.apply(&adopting(
        PROVIDER_NS,
        "kowhai",
        "nz-indirect-production",
        &format!("tenantId: {KOWHAI}"),
        "",
    ));
    let obj = s.wait_ready(PROVIDER_NS, "kowhai", "False", "TenantClaimed").await;
    let msg = ready_of(&obj["status"])["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(msg.contains("reseller-northwind/northwind-nz-production"), "{msg}");
    assert!(obj["status"]["connection"].is_null(), "{:#}", obj["status"]);

    // A reseller's admins: Customers only in their own namespace and subtree; a tenant the
    // provider's Customer already claims is TenantClaimed (that Customer is not named).
    let rendered = support::read_repo_file("deploy/rbac/reseller-admin-template.yaml")
        .replace("${RESELLER}", "northwind")
        .replace("${NAMESPACE}", NORTHWIND_NS)
        .replace("${SUBJECT_KIND}", "User")
        .replace("${SUBJECT_NAME}", "reseller-admin-a");
    apply_ok(cp, User::Admin, &rendered);
    let admin_a = User::ResellerAdmin("a");
    s.channel.apply(&adopting(
        PROVIDER_NS,
        "totara",
        "nz-indirect-production",
        &format!("tenantId: {TOTARA}"),
        "",
    ));
    s.wait_ready(PROVIDER_NS, "totara", "False", "AwaitingAcceptance").await;
    let seq_admin = s.last_seq().await;
    // (case, namespace, name, tenant, extra spec, refused at admission, Ready reason)
    let rows: &[(&str, &str, &str, String, &str, bool, &str)] = &[
        (
            "another reseller's subtree",
            NORTHWIND_NS,
            "not-mine",
            "domain: notmine.onmicrosoft.com".into(),
            "  reseller: wingtip\n",
            false,
            "NotInSubtree",
        ),
        (
            "a tenant the provider's Customer claims",
            NORTHWIND_NS,
            "totara-too",
            format!("tenantId: {TOTARA}"),
            "",
            false,
            "TenantClaimed",
        ),
        (
            "the provider's namespace",
            PROVIDER_NS,
            "sneaky",
            "domain: sneaky.onmicrosoft.com".into(),
            "",
            true,
            "",
        ),
    ];
    for (case, ns, name, tenant, extra, forbidden, reason) in rows {
        let out = cp.apply_yaml(admin_a, &adopting(ns, name, "nz-indirect-production", tenant, extra));
        let text = output_text(&out);
        if *forbidden {
            assert!(!out.status.success() && text.contains("forbidden"), "{case}: {text}");
            continue;
        }
        assert!(out.status.success(), "{case}: {text}");
        let obj = s.wait_ready(ns, name, "False", reason).await;
        assert!(obj["status"]["connection"].is_null(), "{case}: {:#}", obj["status"]);
        let msg = ready_of(&obj["status"])["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            !msg.contains("csp-system/totara"),
            "{case}: names the other reseller's Customer: {msg}"
        );
    }
    // Its own subtree: waiting with the invitation of Northwind's own account.
    apply_ok(
        cp,
        admin_a,
        &adopting(
            NORTHWIND_NS,
            "mine",
            "nz-indirect-production",
            "domain: mine.onmicrosoft.com",
            "",
        ),
    );
    let obj = s.wait_ready(NORTHWIND_NS, "mine", "False", "AwaitingAcceptance").await;
    let url = obj["status"]["invitationUrl"].as_str().unwrap_or_default();
    assert!(url.contains(&format!("partnerId={NORTHWIND_TENANT}")), "{url}");
    let calls: Vec<String> = adoption_requests(&s.requests_since(seq).await)
        .into_iter()
        .filter(|r| r.contains(KOWHAI) || r.contains("notmine") || r.contains("sneaky"))
        .collect();
    assert!(calls.is_empty(), "refused Customers called Partner Center: {calls:?}");
    let calls: Vec<String> = adoption_requests(&s.requests_since(seq_admin).await)
        .into_iter()
        .filter(|r| r.contains(TOTARA))
        .collect();
    assert!(calls.is_empty(), "the claimed tenant was looked up again: {calls:?}");

    // --- Rule 15: moves of the adopted fern (pinned to contoso-nz-production, no association).
    // (case, spec patch, Ready status, reason, placement after, moves recorded)
    type MoveRow<'a> = (&'a str, Value, &'a str, &'a str, (&'a str, &'a str), usize);
    let moves: &[MoveRow] = &[
        (
            "another plan on the pinned connection: applied",
            json!({"plan": "nz-indirect-production-gold"}),
            "True",
            "Adopted",
            ("contoso", "nz-indirect-production-gold"),
            1,
        ),
        (
            "a reseller on the pinned connection: applied",
            json!({"reseller": "kiwi"}),
            "True",
            "Adopted",
            ("kiwi", "nz-indirect-production-gold"),
            2,
        ),
        (
            "a reseller with another indirect reseller: refused",
            json!({"reseller": "wingtip", "plan": "nz-indirect-production"}),
            "False",
            "IndirectResellerChanged",
            ("kiwi", "nz-indirect-production-gold"),
            2,
        ),
        (
            "a reseller whose override is another connection: refused",
            json!({"reseller": "northwind", "plan": "nz-indirect-production"}),
            "False",
            "EffectiveConnectionChanged",
            ("kiwi", "nz-indirect-production-gold"),
            2,
        ),
        (
            "a plan on another connection: refused",
            json!({"reseller": "contoso", "plan": "eur-direct-sandbox"}),
            "False",
            "EffectiveConnectionChanged",
            ("kiwi", "nz-indirect-production-gold"),
            2,
        ),
        (
            "back to the placement in effect",
            json!({"reseller": "kiwi", "plan": "nz-indirect-production-gold"}),
            "True",
            "Adopted",
            ("kiwi", "nz-indirect-production-gold"),
            2,
        ),
    ];
    let seq_moves = s.last_seq().await;
    for (case, patch, ready, reason, placement, recorded) in moves {
        let generation = cp.get_json(&["-n", PROVIDER_NS, "customer", "fern"])["metadata"]["generation"]
            .as_i64()
            .unwrap_or_default();
        support::kubectl_ok(
            cp,
            User::Admin,
            &[
                "-n",
                PROVIDER_NS,
                "patch",
                "customer",
                "fern",
                "--type=merge",
                "-p",
                &json!({ "spec": patch }).to_string(),
            ],
        );
        let obj = s
            .wait_status(PROVIDER_NS, "fern", case, |st| {
                st["observedGeneration"].as_i64() > Some(generation)
                    && ready_of(st)["status"] == *ready
                    && ready_of(st)["reason"] == *reason
            })
            .await;
        let st = &obj["status"];
        assert_eq!(
            st["placement"],
            json!({"reseller": placement.0, "plan": placement.1}),
            "{case}: {st:#}"
        );
        assert_eq!(st["moves"].as_array().map_or(0, Vec::len), *recorded, "{case}: {st:#}");
        assert_eq!(st["connection"]["name"], "contoso-nz-production", "{case}: {st:#}");
        assert_eq!(condition(st, "Provisioned")["status"], "True", "{case}: {st:#}");
    }
    let st = cp.get_json(&["-n", PROVIDER_NS, "customer", "fern"])["status"].clone();
    assert_eq!(
        st["moves"][1]["from"],
        json!({"reseller": "contoso", "plan": "nz-indirect-production-gold"}),
        "{st:#}"
    );
    assert!(st["moves"][1]["at"].is_string(), "{st:#}");
    let refused = ready_of(&st);
    assert_eq!(refused["status"], "True", "{st:#}");
    let events = cp.get_json(&["-n", PROVIDER_NS, "events.events.k8s.io"]);
    let moved: Vec<String> = events["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["reason"] == "Moved" && e["regarding"]["name"] == "fern")
        .map(|e| e["note"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(moved.len(), 2, "one Moved Event per applied move: {moved:?}");
    assert!(moved.iter().any(|n| n.contains("reseller 'kiwi'")), "{moved:?}");
    let calls = adoption_requests(&s.requests_since(seq_moves).await);
    assert!(calls.is_empty(), "moves called Partner Center: {calls:?}");

    // Nothing was ever created: every tenant here was adopted.
    assert_eq!(creates(&s.requests_since(seq_start).await), 0);
}
