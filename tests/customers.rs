//! Customers end to end (docs/rules.md, rules 11–15 and 18): a real kube-apiserver, the Partner
//! Center emulator, the operator binary as its least-privilege user, the checked-in examples
//! (examples/50-customers.yaml among them). Each rule is a scenario whose reason the user sees in
//! status; the refusals "before any call" are checked against the emulator's request log.

mod support;
use reqwest::Method;
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};
use support::{Channel, Operator, PROVIDER_NS, User, apply_ok, condition, output_text, ready_of, tail};

const EUR_TENANT: &str = "11111111-1111-4111-8111-111111111111";
const NZ_TENANT: &str = "22222222-2222-4222-8222-222222222222";
const NORTHWIND_TENANT: &str = "33333333-3333-4333-8333-333333333333";
/// Wingtip's indirect reseller tenant (examples/40-resellers.yaml, examples/emulator/fixtures.yaml).
const WINGTIP_TENANT: &str = "44444444-4444-4444-8444-444444444404";
const NORTHWIND_NS: &str = "reseller-northwind";

/// A new-tenant Customer with a valid postal code for `country`. `extra` is appended to `spec`
/// (two-space indented lines).
fn customer(ns: &str, name: &str, plan: &str, prefix: &str, country: &str, extra: &str) -> String {
    let postal = match country {
        "DE" => "10117",
        "US" => "98052",
        _ => "1010",
    };
    customer_at(ns, name, plan, prefix, country, postal, extra)
}

fn customer_at(ns: &str, name: &str, plan: &str, prefix: &str, country: &str, postal: &str, extra: &str) -> String {
    let state = if country == "US" { "\n        state: WA" } else { "" };
    format!(
        r#"apiVersion: channel.csp.dev/v1alpha1
kind: Customer
metadata: {{name: {name}, namespace: {ns}}}
spec:
  plan: {plan}
  tenant:
    new:
      domainPrefix: {prefix}
      companyName: Customer {name}
      email: it@{prefix}.example
      culture: en-NZ
      language: en
      address:
        addressLine1: 1 Main Street
        city: Somewhere{state}
        postalCode: "{postal}"
        country: {country}
        firstName: Ana
        lastName: Smith
        phoneNumber: "6495550101"
{extra}"#
    )
}

/// Extra channel objects the rules need: a plan that does not allow tenant creation (granted to
/// the root) and a reseller whose indirect reseller tenant the NZ account does not list.
const EXTRAS: &str = r#"
apiVersion: channel.csp.dev/v1alpha1
kind: CustomerPlan
metadata: {name: eur-direct-sandbox-adopt-only}
spec:
  displayName: EUR Direct Sandbox
  region: EUR
  cspType: Direct
  environment: Sandbox
  connectionRef: {namespace: csp-system, name: contoso-eur-sandbox}
---
apiVersion: channel.csp.dev/v1alpha1
kind: Reseller
metadata: {name: adatum}
spec:
  displayName: Adatum
  shortName: ADT
  parent: contoso
  region: NZ
  indirectReseller: {tenantId: 44444444-4444-4444-8444-444444444499}
  services:
    azureAD:
      enabled: true
      customerPlans:
        - plan: nz-indirect-production
"#;

struct Scenario {
    channel: Channel,
    operator: Operator,
}

impl Scenario {
    async fn start() -> Scenario {
        let channel = Channel::start().await;
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
            .args(["--admin-addr", &admin, "--identity", "customers"])
            .env("KUBECONFIG", cp.kubeconfig(User::Operator))
            .env("PCO_LOG_FORMAT", "json")
            .env("PCO_LOG_LEVEL", "info,partner_center_operator=debug")
            .env("PCO_LEADER_ELECTION", "false");
        let operator = Operator::spawn(cmd, cp.dir().join("operator-customers.log"), Some(admin)).expect("operator");
        let s = Scenario { channel, operator };
        s.channel.cp.wait_demo_converged(|| s.operator.log_text());
        s
    }

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

    async fn requests_since(&self, seq: u64) -> Vec<Value> {
        self.channel
            .emulator_control(Method::GET, &format!("/_emulator/requests?since={seq}"), None)
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    async fn last_seq(&self) -> u64 {
        self.requests_since(0)
            .await
            .last()
            .and_then(|e| e["seq"].as_u64())
            .unwrap_or(0)
    }

    /// The tenants of `partner` with `domain`, at the emulator.
    async fn tenants(&self, partner: &str, domain: &str) -> Vec<Value> {
        self.channel
            .emulator_control(
                Method::GET,
                &format!("/_emulator/customers?partner={partner}&domain={domain}"),
                None,
            )
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

/// Requests a Customer's provisioning makes (look-up, checks, create, delete): none of the
/// connection syncs' calls.
fn provisioning_requests(log: &[Value]) -> Vec<String> {
    log.iter()
        .filter(|e| {
            let path = e["path"].as_str().unwrap_or_default();
            let query = e["query"].as_str().unwrap_or_default();
            let method = e["method"].as_str().unwrap_or_default();
            path.starts_with("/v1/domains/")
                || path.starts_with("/v1/validations")
                || path.starts_with("/v1/countryvalidationrules")
                || (path.starts_with("/v1/customers") && method != "GET")
                || (path.starts_with("/v1/customers") && query.contains("filter"))
                || (path.starts_with("/v1/customers/") && method == "GET")
        })
        .map(|e| format!("{} {}?{}", e["method"], e["path"], e["query"]))
        .collect()
}

fn secret_key(s: &Value, k: &str) -> String {
    use base64::Engine;
    s["data"][k]
        .as_str()
        .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_are_provisioned_through_the_effective_connection_only() {
    let s = Scenario::start().await;
    let cp = &s.channel.cp;
    s.channel.apply(EXTRAS);
    // The root is granted the adopt-only plan too.
    support::kubectl_ok(
        cp,
        User::Admin,
        &[
            "patch",
            "rsl",
            "contoso",
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/spec/services/azureAD/customerPlans/-","value":{"plan":"eur-direct-sandbox-adopt-only"}}]"#,
        ],
    );
    cp.wait(&["--for=condition=Ready", "rsl", "contoso", "adatum", "--timeout=60s"]);

    // --- Refused before any Partner Center call: one row per rule, the reason in status.
    // (case, namespace, name, plan, domain prefix, country, extra spec, reason, message holds)
    type Refusal<'a> = (
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        &'a str,
    );
    let refusals: &[Refusal] = &[
        (
            "a namespace no reseller owns",
            "default",
            "stray",
            "eur-direct-sandbox",
            "stray1",
            "DE",
            "",
            "NamespaceNotOwned",
            "default",
        ),
        (
            "spec.reseller outside the namespace owner's subtree",
            NORTHWIND_NS,
            "outside",
            "nz-indirect-production",
            "outside1",
            "NZ",
            "  reseller: contoso-test\n",
            "NotInSubtree",
            "contoso-test",
        ),
        (
            "a plan not granted to the reseller",
            NORTHWIND_NS,
            "ungranted",
            "eur-direct-sandbox",
            "ungranted1",
            "DE",
            "",
            "PlanNotGranted",
            "eur-direct-sandbox",
        ),
        (
            "a country outside the plan's region",
            PROVIDER_NS,
            "abroad",
            "eur-direct-sandbox",
            "abroad1",
            "US",
            "",
            "CountryOutsideRegion",
            "US",
        ),
        (
            "a plan that does not allow tenant creation",
            PROVIDER_NS,
            "adopt-only",
            "eur-direct-sandbox-adopt-only",
            "adoptonly1",
            "DE",
            "",
            "TenantCreationNotAllowed",
            "allowTenantCreation",
        ),
        (
            "an indirect reseller the connection does not list as Active",
            PROVIDER_NS,
            "unlinked",
            "nz-indirect-production",
            "unlinked1",
            "NZ",
            "  reseller: adatum\n",
            "IndirectResellerNotLinked",
            "44444444-4444-4444-8444-444444444499",
        ),
        (
            "deletionPolicy Delete through a production connection",
            PROVIDER_NS,
            "prod-delete",
            "nz-indirect-production",
            "proddelete1",
            "NZ",
            "  reseller: wingtip\n  deletionPolicy: Delete\n",
            "DeletionPolicyNotAllowed",
            "is a Production account",
        ),
    ];
    let seq_refusals = s.last_seq().await;
    for (_, ns, name, plan, prefix, country, extra, _, _) in refusals {
        s.channel.apply(&customer(ns, name, plan, prefix, country, extra));
    }
    for (case, ns, name, _, _, _, _, reason, text) in refusals {
        let obj = s.wait_ready(ns, name, "False", reason).await;
        let ready = ready_of(&obj["status"]);
        assert!(
            ready["message"].as_str().unwrap_or_default().contains(text),
            "{case}: {ready:#}"
        );
        assert!(
            obj["status"]["connection"].is_null(),
            "{case}: pinned although refused: {:#}",
            obj["status"]
        );
        assert_eq!(
            obj["status"]["observedGeneration"], obj["metadata"]["generation"],
            "{case}"
        );
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let calls = provisioning_requests(&s.requests_since(seq_refusals).await);
    assert!(
        calls.is_empty(),
        "refused Customers made Partner Center calls: {calls:?}"
    );

    // --- Provisioned: through a plan, through Northwind's override, through the provider's
    // IndirectProvider plan on behalf of the nearest indirect reseller; and what is refused only
    // after looking at Partner Center.
    let examples = support::examples(&["50-customers.yaml"], &s.channel.addr);
    s.channel.apply(&examples);
    s.channel.apply(&customer(
        PROVIDER_NS,
        "through-plan",
        "eur-direct-sandbox",
        "throughplan",
        "DE",
        "",
    ));
    s.channel.apply(&customer(
        PROVIDER_NS,
        "dup-a",
        "eur-direct-sandbox",
        "duplicated",
        "DE",
        "",
    ));
    // Another second: creationTimestamp has second granularity ("the older keeps it").
    tokio::time::sleep(Duration::from_millis(1100)).await;
    s.channel.apply(&customer(
        PROVIDER_NS,
        "dup-b",
        "eur-direct-sandbox",
        "duplicated",
        "DE",
        "",
    ));
    // Northwind's partner domain exists at Partner Center, under no connection of the provider.
    s.channel.apply(&customer(
        PROVIDER_NS,
        "taken",
        "eur-direct-sandbox",
        "northwindnz",
        "DE",
        "",
    ));
    // A postal code the emulator refuses everywhere (docs/emulator.md).
    s.channel.apply(&customer_at(
        PROVIDER_NS,
        "bad-address",
        "eur-direct-sandbox",
        "badaddress",
        "DE",
        "00000",
        "",
    ));

    // (namespace, name, Ready, reason, message holds, account the tenant is under, source, associatedPartnerId)
    type Row<'a> = (
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
    );
    let rows: &[Row] = &[
        (
            NORTHWIND_NS,
            "kauri-health",
            "True",
            "Provisioned",
            "reseller-northwind/northwind-nz-production",
            Some(NORTHWIND_TENANT),
            Some("Override"),
            None,
        ),
        (
            PROVIDER_NS,
            "pohutukawa-cafe",
            "True",
            "Provisioned",
            "csp-system/contoso-nz-production",
            Some(NZ_TENANT),
            Some("Plan"),
            Some(WINGTIP_TENANT),
        ),
        (
            PROVIDER_NS,
            "through-plan",
            "True",
            "Provisioned",
            "csp-system/contoso-eur-sandbox",
            Some(EUR_TENANT),
            Some("Plan"),
            None,
        ),
        (
            PROVIDER_NS,
            "dup-a",
            "True",
            "Provisioned",
            "csp-system/contoso-eur-sandbox",
            Some(EUR_TENANT),
            Some("Plan"),
            None,
        ),
        (
            PROVIDER_NS,
            "dup-b",
            "False",
            "DuplicateTenant",
            "csp-system/dup-a",
            None,
            None,
            None,
        ),
        (
            PROVIDER_NS,
            "taken",
            "False",
            "DomainTaken",
            "choose another spec.tenant.new.domainPrefix",
            None,
            Some("Plan"),
            None,
        ),
        (
            PROVIDER_NS,
            "wattle-mining",
            "False",
            "CountryOutsideRegion",
            "AU",
            None,
            None,
            None,
        ),
        (
            PROVIDER_NS,
            "bad-address",
            "False",
            "AddressInvalid",
            "ZipCityInvalid): correct spec.tenant.new.address",
            None,
            Some("Plan"),
            None,
        ),
    ];
    let mut passwords = Vec::new();
    for (ns, name, status, reason, text, account, source, associated) in rows {
        let obj = s.wait_ready(ns, name, status, reason).await;
        let st = &obj["status"];
        let ready = ready_of(st);
        assert!(
            ready["message"].as_str().unwrap_or_default().contains(text),
            "{name}: {ready:#}"
        );
        assert_eq!(st["source"].as_str(), *source, "{name}: {st:#}");
        let Some(account) = account else { continue };
        let domain = st["domain"].as_str().unwrap_or_default().to_string();
        assert_eq!(
            domain,
            format!(
                "{}.onmicrosoft.com",
                obj["spec"]["tenant"]["new"]["domainPrefix"].as_str().unwrap()
            ),
            "{name}"
        );
        let tenants = s.tenants(account, &domain).await;
        assert_eq!(tenants.len(), 1, "{name}: {tenants:#?}");
        assert_eq!(tenants[0]["id"], st["tenantId"], "{name}");
        assert_eq!(st["associatedPartnerId"].as_str(), *associated, "{name}: {st:#}");
        assert_eq!(st["provisioning"]["phase"], "Created", "{name}");
        assert_eq!(condition(st, "Provisioned")["status"], "True", "{name}");
        for other in [EUR_TENANT, NZ_TENANT, NORTHWIND_TENANT]
            .iter()
            .filter(|t| *t != account)
        {
            assert!(s.tenants(other, &domain).await.is_empty(), "{name}: also under {other}");
        }
        // The credentials, in the Secret, owned by the Customer.
        let secret = cp.get_json(&["-n", ns, "secret", &format!("{name}-admin")]);
        assert_eq!(
            secret_key(&secret, "tenantId"),
            st["tenantId"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(secret_key(&secret, "domain"), domain, "{name}");
        assert!(!secret_key(&secret, "userName").is_empty(), "{name}");
        let password = secret_key(&secret, "password");
        assert!(!password.is_empty(), "{name}: no password in the Secret");
        passwords.push(password);
        assert_eq!(
            secret["metadata"]["ownerReferences"][0]["uid"], obj["metadata"]["uid"],
            "{name}"
        );
        assert_eq!(
            secret["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "partner-center-operator"
        );
    }
    assert!(
        !cp.exists(&["-n", PROVIDER_NS, "secret", "dup-b-admin"]),
        "the duplicate got credentials"
    );

    // --- Steady state: a provisioned Customer reconciled again calls nothing at Partner Center.
    let seq_steady = s.last_seq().await;
    for (ns, name) in [
        (NORTHWIND_NS, "kauri-health"),
        (PROVIDER_NS, "pohutukawa-cafe"),
        (PROVIDER_NS, "through-plan"),
    ] {
        support::kubectl_ok(
            cp,
            User::Admin,
            &[
                "-n",
                ns,
                "patch",
                "customer",
                name,
                "--type=merge",
                "-p",
                r#"{"spec":{"deletionPolicy":"Orphan"}}"#,
            ],
        );
    }
    for (ns, name) in [
        (NORTHWIND_NS, "kauri-health"),
        (PROVIDER_NS, "pohutukawa-cafe"),
        (PROVIDER_NS, "through-plan"),
    ] {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let obj = cp.get_json(&["-n", ns, "customer", name]);
            if obj["status"]["observedGeneration"] == obj["metadata"]["generation"] {
                assert_eq!(ready_of(&obj["status"])["status"], "True", "{name}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{name} not re-evaluated:\n{}",
                tail(&s.log(), 30)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let calls = provisioning_requests(&s.requests_since(seq_steady).await);
    assert!(
        calls.is_empty(),
        "provisioned Customers called Partner Center again: {calls:?}"
    );

    // --- A reseller's admins: Customers in their own namespace only, of their own subtree only.
    let rendered = support::read_repo_file("deploy/rbac/reseller-admin-template.yaml")
        .replace("${RESELLER}", "northwind")
        .replace("${NAMESPACE}", NORTHWIND_NS)
        .replace("${SUBJECT_KIND}", "User")
        .replace("${SUBJECT_NAME}", "reseller-admin-a");
    apply_ok(cp, User::Admin, &rendered);
    let admin_a = User::ResellerAdmin("a");
    let own = customer(
        NORTHWIND_NS,
        "by-reseller-admin",
        "nz-indirect-production",
        "byreselleradmin",
        "NZ",
        "",
    );
    apply_ok(cp, admin_a, &own);
    let elsewhere = cp.apply_yaml(
        admin_a,
        &customer(PROVIDER_NS, "sneaky", "eur-direct-sandbox", "sneaky1", "DE", ""),
    );
    let text = output_text(&elsewhere);
    assert!(!elsewhere.status.success() && text.contains("forbidden"), "{text}");
    let other_subtree = customer(
        NORTHWIND_NS,
        "not-mine",
        "nz-indirect-production",
        "notmine1",
        "NZ",
        "  reseller: wingtip\n",
    );
    apply_ok(cp, admin_a, &other_subtree);
    s.wait_ready(NORTHWIND_NS, "by-reseller-admin", "True", "Provisioned")
        .await;
    let not_mine = s.wait_ready(NORTHWIND_NS, "not-mine", "False", "NotInSubtree").await;
    assert!(not_mine["status"]["connection"].is_null(), "{:#}", not_mine["status"]);

    // --- Rule 15: the effective connection changes (Northwind's override removed); the Customer
    // stays pinned and warns.
    support::kubectl_ok(
        cp,
        User::Admin,
        &[
            "patch",
            "rsl",
            "northwind",
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/spec/services/azureAD/customerPlans/0/connectionOverride"}]"#,
        ],
    );
    let moved = s
        .wait_ready(NORTHWIND_NS, "kauri-health", "True", "EffectiveConnectionChanged")
        .await;
    let st = &moved["status"];
    assert_eq!(st["connection"]["name"], "northwind-nz-production", "{st:#}");
    assert_eq!(st["source"], "Override", "{st:#}");
    let msg = ready_of(st)["message"].as_str().unwrap_or_default().to_string();
    assert!(msg.contains("contoso-nz-production"), "{msg}");

    // --- Rule 18: a sandbox tenant is deleted with its Customer; a production one never.
    s.channel.apply(&customer(
        PROVIDER_NS,
        "sandbox-delete",
        "eur-direct-sandbox",
        "sandboxdelete",
        "DE",
        "  deletionPolicy: Delete\n",
    ));
    let obj = s.wait_ready(PROVIDER_NS, "sandbox-delete", "True", "Provisioned").await;
    assert!(
        obj["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f == "channel.csp.dev/customer-tenant")),
        "{:#}",
        obj["metadata"]
    );
    passwords.push(secret_key(
        &cp.get_json(&["-n", PROVIDER_NS, "secret", "sandbox-delete-admin"]),
        "password",
    ));
    assert_eq!(s.tenants(EUR_TENANT, "sandboxdelete.onmicrosoft.com").await.len(), 1);
    support::kubectl_ok(
        cp,
        User::Admin,
        &[
            "-n",
            PROVIDER_NS,
            "delete",
            "customer",
            "sandbox-delete",
            "--timeout=60s",
        ],
    );
    assert!(
        s.tenants(EUR_TENANT, "sandboxdelete.onmicrosoft.com").await.is_empty(),
        "the sandbox tenant is still there"
    );
    // Production: the provisioned indirect customer asks for Delete: refused, and deleting it orphans.
    let seq_prod = s.last_seq().await;
    support::kubectl_ok(
        cp,
        User::Admin,
        &[
            "-n",
            PROVIDER_NS,
            "patch",
            "customer",
            "pohutukawa-cafe",
            "--type=merge",
            "-p",
            r#"{"spec":{"deletionPolicy":"Delete"}}"#,
        ],
    );
    let refused = s
        .wait_ready(PROVIDER_NS, "pohutukawa-cafe", "False", "DeletionPolicyNotAllowed")
        .await;
    assert!(refused["metadata"]["finalizers"].is_null(), "{:#}", refused["metadata"]);
    support::kubectl_ok(
        cp,
        User::Admin,
        &[
            "-n",
            PROVIDER_NS,
            "delete",
            "customer",
            "pohutukawa-cafe",
            "--timeout=60s",
        ],
    );
    assert_eq!(
        s.tenants(NZ_TENANT, "pohutukawacafe.onmicrosoft.com").await.len(),
        1,
        "the production tenant was deleted"
    );
    let deletes: Vec<String> = provisioning_requests(&s.requests_since(seq_prod).await)
        .into_iter()
        .filter(|r| r.starts_with("\"DELETE\""))
        .collect();
    assert!(deletes.is_empty(), "{deletes:?}");

    // --- Secrets: the admin passwords are in no log line, status, Event or metric.
    let (code, metrics) = s.operator.admin_get("/metrics");
    assert_eq!(code, 200);
    assert!(
        metrics.contains("pco_partner_center_calls_total{operation=\"create_customer\""),
        "create calls are counted"
    );
    let statuses = output_text(&cp.kubectl_run(User::Admin, &["get", "customers", "-A", "-o", "json"]));
    let events = output_text(&cp.kubectl_run(User::Admin, &["get", "events.events.k8s.io", "-A", "-o", "json"]));
    let log = s.log();
    assert!(passwords.len() >= 5, "{}", passwords.len());
    for p in &passwords {
        for (what, text) in [
            ("log", &log),
            ("status", &statuses),
            ("events", &events),
            ("metrics", &metrics),
        ] {
            assert!(
                !text.contains(p.as_str()),
                "an admin password is in the operator's {what}"
            );
        }
    }
}
