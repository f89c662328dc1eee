//! Microsoft Customer Agreements (docs/customers.md, "Agreements"; rule 17) end to end: a real
//! kube-apiserver, the Partner Center emulator, the operator binary. Each row provisions its own
//! Customer with `spec.agreement` and says what the user sees (AgreementRecorded, Ready) and what
//! the emulator holds: the attestations it stored (`/_emulator/agreements`, where a repeat
//! answered 600061 adds nothing) and the agreement calls in its request log. One control plane
//! for all rows; the operator is restarted where a row kills it.

mod support;
use reqwest::Method;
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};
use support::{Channel, Operator, PROVIDER_NS, User, condition, tail};

/// The EUR sandbox account (examples/20-connections.yaml).
const EUR_TENANT: &str = "11111111-1111-4111-8111-111111111111";
/// The NZ IndirectProvider account.
const NZ_TENANT: &str = "22222222-2222-4222-8222-222222222222";
/// Northwind's own account, its override for "NZ Indirect Production".
const NORTHWIND_TENANT: &str = "33333333-3333-4333-8333-333333333333";
const NORTHWIND_NS: &str = "reseller-northwind";
/// The Microsoft Customer Agreement template the emulator offers (crates/emulator/src/api.rs).
const MCA_TEMPLATE: &str = "117a15ad-fe9d-4ed2-8bd2-8d6f2c0a0001";

/// Where a row's Customer is provisioned.
#[derive(Clone, Copy, Debug)]
enum Through {
    /// The provider's EUR Direct Sandbox plan.
    Eur,
    /// The provider's NZ IndirectProvider plan, on behalf of the indirect reseller Wingtip.
    NzForWingtip,
    /// Northwind's override (its own account), with Northwind declared an indirect reseller.
    NorthwindOverride,
}

/// What strikes during a row.
#[derive(Clone, Copy, Debug)]
enum Strike {
    None,
    /// The operator aborts at this crash point (PCO_CRASHPOINT) and is restarted.
    Crashpoint(&'static str),
    /// SIGKILL once the emulator holds the attestation while its answer is held back; restarted.
    KillDuringDelay,
}

/// What the user sees at the end of a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// AgreementRecorded=True, Ready=True, status.agreement set, one attestation at the emulator.
    Recorded,
    /// AgreementRecorded=False and Ready=False with this reason; no agreement call at all.
    Refused(&'static str),
}

struct Row {
    case: &'static str,
    through: Through,
    date: &'static str,
    /// A fault (crates/emulator/src/faults.rs) on the agreement POSTs of the row's account, with
    /// its count.
    fault: Option<(Value, Option<u32>)>,
    strike: Strike,
    expect: Expect,
    /// The emulator's log must show this many agreement POSTs answered 409 (code 600061) after the
    /// first: the repeat a kill causes, counted as done.
    repeats: usize,
}

fn rows() -> Vec<Row> {
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string();
    let today: &'static str = Box::leak(today.into_boxed_str());
    vec![
        Row {
            case: "recorded once, through the provider's Direct account",
            through: Through::Eur,
            date: "2026-11-30",
            fault: None,
            strike: Strike::None,
            expect: Expect::Recorded,
            repeats: 0,
        },
        Row {
            case: "accepted today",
            through: Through::Eur,
            date: today,
            fault: None,
            strike: Strike::None,
            expect: Expect::Recorded,
            repeats: 0,
        },
        Row {
            case: "the provider attests for an indirect reseller's customer",
            through: Through::NzForWingtip,
            date: "2026-11-29",
            fault: None,
            strike: Strike::None,
            expect: Expect::Recorded,
            repeats: 0,
        },
        Row {
            case: "killed before the attestation is sent",
            through: Through::Eur,
            date: "2026-11-30",
            fault: None,
            strike: Strike::Crashpoint("customer.before-agreement"),
            expect: Expect::Recorded,
            repeats: 0,
        },
        Row {
            case: "killed after Partner Center answered, before the status write: the repeat answers 600061",
            through: Through::Eur,
            date: "2026-11-30",
            fault: None,
            strike: Strike::Crashpoint("customer.after-agreement"),
            expect: Expect::Recorded,
            repeats: 1,
        },
        Row {
            case: "SIGKILL while the answer is held back: the repeat answers 600061",
            through: Through::Eur,
            date: "2026-11-30",
            fault: Some((json!({"kind": "delay", "millis": 8000, "after": true}), Some(1))),
            strike: Strike::KillDuringDelay,
            expect: Expect::Recorded,
            repeats: 1,
        },
        Row {
            case: "throttled twice (Retry-After 2 s), then recorded",
            through: Through::Eur,
            date: "2026-11-30",
            fault: Some((json!({"kind": "throttle", "retryAfterSeconds": 2}), Some(2))),
            strike: Strike::None,
            expect: Expect::Recorded,
            repeats: 0,
        },
        Row {
            case: "server errors (503) twice, then recorded",
            through: Through::Eur,
            date: "2026-11-30",
            fault: Some((json!({"kind": "status", "status": 503}), Some(2))),
            strike: Strike::None,
            expect: Expect::Recorded,
            repeats: 0,
        },
        Row {
            case: "dateAgreed in the future: refused before any agreement call",
            through: Through::Eur,
            date: "2099-01-01",
            fault: None,
            strike: Strike::None,
            expect: Expect::Refused("AgreementDateInFuture"),
            repeats: 0,
        },
        Row {
            case: "an indirect reseller's own account cannot attest: refused before any agreement call",
            through: Through::NorthwindOverride,
            date: "2026-11-30",
            fault: None,
            strike: Strike::None,
            expect: Expect::Refused("IndirectResellerCannotAttest"),
            repeats: 0,
        },
    ]
}

impl Through {
    fn namespace(self) -> &'static str {
        match self {
            Through::NorthwindOverride => NORTHWIND_NS,
            _ => PROVIDER_NS,
        }
    }
    fn partner(self) -> &'static str {
        match self {
            Through::Eur => EUR_TENANT,
            Through::NzForWingtip => NZ_TENANT,
            Through::NorthwindOverride => NORTHWIND_TENANT,
        }
    }
}

/// A new-tenant Customer with `spec.agreement` (its contact named after the Customer).
fn customer(name: &str, through: Through, date: &str) -> String {
    let prefix = name.replace('-', "");
    let (plan, reseller, country, postal) = match through {
        Through::Eur => ("eur-direct-sandbox", "", "DE", "10117"),
        Through::NzForWingtip => ("nz-indirect-production", "\n  reseller: wingtip", "NZ", "1010"),
        Through::NorthwindOverride => ("nz-indirect-production", "", "NZ", "1010"),
    };
    format!(
        r#"apiVersion: channel.csp.dev/v1alpha1
kind: Customer
metadata: {{name: {name}, namespace: {ns}}}
spec:{reseller}
  plan: {plan}
  tenant:
    new:
      domainPrefix: {prefix}
      companyName: Agreement {name}
      email: it@{prefix}.example
      culture: en-NZ
      language: en
      address: {{addressLine1: 1 Main Street, city: Somewhere, postalCode: "{postal}", country: {country}, firstName: Ana, lastName: Smith, phoneNumber: "6495550101"}}
  agreement:
    primaryContact: {{firstName: Ana, lastName: Smith, email: ana@{prefix}.example}}
    dateAgreed: "{date}"
"#,
        ns = through.namespace(),
    )
}

struct Env {
    channel: Channel,
}

impl Env {
    /// The operator with its own admin address (for /metrics) and extra `env`.
    fn operator(&self, tag: &str, env: &[(&str, &str)]) -> Operator {
        let cp = &self.channel.cp;
        let admin = support::free_loopback_addr();
        let mut cmd = Command::new(support::operator_bin());
        cmd.arg("run")
            .args([
                "--provider-namespace",
                PROVIDER_NS,
                "--endpoint-allow-list",
                &self.channel.addr,
            ])
            .args(["--admin-addr", &admin, "--identity", tag])
            .env("KUBECONFIG", cp.kubeconfig(User::Operator))
            .env("PCO_LOG_FORMAT", "json")
            .env("PCO_LOG_LEVEL", "info,partner_center_operator=debug")
            .env("PCO_LEADER_ELECTION", "false")
            .envs(env.iter().copied());
        Operator::spawn(
            cmd,
            cp.dir().join(format!("operator-agreements-{tag}.log")),
            Some(admin),
        )
        .expect("operator")
    }

    /// Waits until `op` has finished a sync of each of the three connections: each start redeems
    /// each refresh token once (strict rotation), and a process killed later must not be
    /// mid-rotation.
    async fn synced(&self, op: &Operator) {
        let deadline = Instant::now() + Duration::from_secs(90);
        while op.log_text().matches("synced with Partner Center").count() < 3 {
            assert!(Instant::now() < deadline, "no syncs:\n{}", tail(&op.log_text(), 40));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn control(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        self.channel.emulator_control(method, path, body).await
    }

    async fn last_seq(&self) -> u64 {
        self.control(Method::GET, "/_emulator/requests", None)
            .await
            .as_array()
            .and_then(|l| l.last().and_then(|e| e["seq"].as_u64()))
            .unwrap_or(0)
    }

    /// Agreement calls (template list, POST, read-back) in the request log after `seq`.
    async fn agreement_calls(&self, seq: u64) -> Vec<Value> {
        self.control(Method::GET, &format!("/_emulator/requests?since={seq}"), None)
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|e| {
                let path = e["path"].as_str().unwrap_or_default();
                path == "/v1/agreements" || path.ends_with("/agreements")
            })
            .collect()
    }

    /// The attestations the emulator stored for `tenant`.
    async fn attestations(&self, tenant: &str) -> Vec<Value> {
        self.control(Method::GET, &format!("/_emulator/agreements?customer={tenant}"), None)
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    async fn tenant_of(&self, partner: &str, domain: &str) -> Option<String> {
        self.control(
            Method::GET,
            &format!("/_emulator/customers?partner={partner}&domain={domain}"),
            None,
        )
        .await
        .as_array()
        .and_then(|l| l.first().and_then(|c| c["id"].as_str().map(str::to_string)))
    }
}

async fn wait_exit(op: &mut Operator, case: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while op.is_running() {
        assert!(
            Instant::now() < deadline,
            "{case}: the operator did not reach its crash point:\n{}",
            tail(&op.log_text(), 40)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agreements_are_recorded_exactly_once() {
    let env = Env {
        channel: Channel::start().await,
    };
    let cp = &env.channel.cp;
    // Northwind is also a Microsoft indirect reseller of the provider (examples/emulator/
    // fixtures.yaml lists it under the NZ account): its own account may provision, not attest.
    support::kubectl_ok(
        cp,
        User::Admin,
        &[
            "patch",
            "rsl",
            "northwind",
            "--type=merge",
            "-p",
            r#"{"spec":{"indirectReseller":{"tenantId":"44444444-4444-4444-8444-444444444401"}}}"#,
        ],
    );
    let mut op = env.operator("first", &[]);
    cp.wait_demo_converged(|| op.log_text());
    env.synced(&op).await;
    let template_fetches_seq = env.last_seq().await;

    let mut failures = Vec::new();
    for (i, row) in rows().into_iter().enumerate() {
        let name = format!("mca-{i}");
        let ns = row.through.namespace();
        let domain = format!("{}.onmicrosoft.com", name.replace('-', ""));
        env.control(Method::DELETE, "/_emulator/faults", None).await;
        let seq0 = env.last_seq().await;
        if let Some((fault, count)) = &row.fault {
            let mut spec = json!({
                "match": {"tenantId": row.through.partner(), "pathPrefix": "/v1/customers/", "method": "POST"},
                "fault": fault,
            });
            if let Some(n) = count {
                spec["count"] = json!(n);
            }
            env.control(Method::POST, "/_emulator/faults", Some(spec)).await;
        }
        if let Strike::Crashpoint(p) = row.strike {
            op.kill();
            op = env.operator(&format!("row{i}-crash"), &[("PCO_CRASHPOINT", p)]);
            env.synced(&op).await;
        }
        env.channel.apply(&customer(&name, row.through, row.date));
        match row.strike {
            Strike::Crashpoint(_) => wait_exit(&mut op, row.case).await,
            Strike::KillDuringDelay => {
                let deadline = Instant::now() + Duration::from_secs(90);
                loop {
                    if let Some(t) = env.tenant_of(row.through.partner(), &domain).await
                        && !env.attestations(&t).await.is_empty()
                    {
                        break;
                    }
                    assert!(Instant::now() < deadline, "{}: never attested", row.case);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                op.kill();
            }
            Strike::None => {}
        }
        if !op.is_running() {
            op = env.operator(&format!("row{i}-restarted"), &[]);
            env.synced(&op).await;
        }
        let want_status = match row.expect {
            Expect::Recorded => "True",
            Expect::Refused(_) => "False",
        };
        let reason = match row.expect {
            Expect::Recorded => "AgreementRecorded",
            Expect::Refused(r) => r,
        };
        let obj = cp
            .wait_condition(
                &["-n", ns, "customer", &name],
                "AgreementRecorded",
                want_status,
                Some(reason),
                Duration::from_secs(150),
                || op.log_text(),
            )
            .await;
        // A refusal must stay one: give the operator time to (wrongly) call anyway.
        if matches!(row.expect, Expect::Refused(_)) {
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        let obj = match row.expect {
            // Ready follows in the same write (recorded) or the next reconcile.
            Expect::Recorded => {
                cp.wait_condition(
                    &["-n", ns, "customer", &name],
                    "Ready",
                    "True",
                    None,
                    Duration::from_secs(30),
                    || op.log_text(),
                )
                .await
            }
            Expect::Refused(_) => obj,
        };
        env.control(Method::DELETE, "/_emulator/faults", None).await;

        let st = &obj["status"];
        let tenant = st["tenantId"].as_str().unwrap_or_default().to_string();
        let ready = condition(st, "Ready");
        let recorded = condition(st, "AgreementRecorded");
        let attestations = if tenant.is_empty() {
            Vec::new()
        } else {
            env.attestations(&tenant).await
        };
        let calls = env.agreement_calls(seq0).await;
        let posts: Vec<&Value> = calls
            .iter()
            .filter(|e| e["method"] == "POST" && e["path"] == format!("/v1/customers/{tenant}/agreements"))
            .collect();
        let repeats = posts.iter().filter(|e| e["status"] == 409).count();

        let mut problems = Vec::new();
        match row.expect {
            Expect::Recorded => {
                if attestations.len() != 1 {
                    problems.push(format!("{} attestations at the emulator", attestations.len()));
                }
                if attestations.first().map(|a| &a["primaryContact"]["email"])
                    != Some(&json!(format!("ana@{}.example", name.replace('-', ""))))
                    || attestations.first().map(|a| &a["dateAgreed"]) != Some(&json!(format!("{}T00:00:00Z", row.date)))
                {
                    problems.push(format!("attested {attestations:?}"));
                }
                if st["agreement"]["templateId"] != MCA_TEMPLATE || !st["agreement"]["recordedAt"].is_string() {
                    problems.push(format!("status.agreement {}", st["agreement"]));
                }
                if ready["status"] != "True" || ready["reason"] != "Provisioned" {
                    problems.push(format!("Ready {}/{}", ready["status"], ready["reason"]));
                }
                if repeats != row.repeats {
                    problems.push(format!(
                        "{repeats} repeats answered 409 (600061), wanted {}: {:?}",
                        row.repeats,
                        posts.iter().map(|e| &e["status"]).collect::<Vec<_>>()
                    ));
                }
            }
            Expect::Refused(reason) => {
                if !calls.is_empty() || !attestations.is_empty() {
                    problems.push(format!(
                        "{} agreement calls, {} attestations: wanted none",
                        calls.len(),
                        attestations.len()
                    ));
                }
                if ready["status"] != "False" || ready["reason"] != reason {
                    problems.push(format!("Ready {}/{}", ready["status"], ready["reason"]));
                }
                if !st["agreement"].is_null() {
                    problems.push(format!("status.agreement {}", st["agreement"]));
                }
                if condition(st, "Provisioned")["status"] != "True" {
                    problems.push("the tenant must stay provisioned".into());
                }
                let names = match reason {
                    "AgreementDateInFuture" => "spec.agreement.dateAgreed",
                    _ => "the provider must attest",
                };
                let message = recorded["message"].as_str().unwrap_or_default();
                if !message.contains(names) || !ready["message"].as_str().unwrap_or_default().contains(names) {
                    problems.push(format!("messages do not say {names:?}: {message}"));
                }
            }
        }
        // No agreement POST before the Retry-After of the 429 that answered the one before it.
        if row.fault.as_ref().is_some_and(|(f, _)| f["kind"] == "throttle") {
            let at = |e: &Value| e["time"].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok());
            for pair in posts.windows(2) {
                if pair[0]["status"] == 429
                    && let (Some(a), Some(b)) = (at(pair[0]), at(pair[1]))
                    && b.duration_since(a) < jiff::SignedDuration::from_millis(1900)
                {
                    problems.push(format!(
                        "a POST {:?} after a 429 with Retry-After 2 s",
                        b.duration_since(a)
                    ));
                }
            }
        }
        if row.fault.is_some() {
            let faulted = posts.iter().filter(|e| e["fault"].is_string()).count();
            if faulted == 0 {
                problems.push("the fault never struck an agreement POST".into());
            }
        }
        eprintln!(
            "row {i} ({}): AgreementRecorded {}/{}, Ready {}/{}, {} attestation(s), {} POST(s) {:?}{}",
            row.case,
            recorded["status"],
            recorded["reason"],
            ready["status"],
            ready["reason"],
            attestations.len(),
            posts.len(),
            posts.iter().map(|e| &e["status"]).collect::<Vec<_>>(),
            if problems.is_empty() {
                String::new()
            } else {
                format!(" — {problems:?}")
            }
        );
        if !problems.is_empty() {
            failures.push(format!(
                "{}: {}\n{}",
                row.case,
                problems.join("; "),
                tail(&op.log_text(), 30)
            ));
        }
    }

    // The fix of a refused date: set the date of acceptance and it is recorded.
    let fixed = cp.get_json(&["-n", PROVIDER_NS, "customer", "mca-8"]);
    assert_eq!(
        condition(&fixed["status"], "AgreementRecorded")["reason"],
        "AgreementDateInFuture"
    );
    support::kubectl_ok(
        cp,
        User::Admin,
        &[
            "-n",
            PROVIDER_NS,
            "patch",
            "customer",
            "mca-8",
            "--type=merge",
            "-p",
            r#"{"spec":{"agreement":{"dateAgreed":"2026-11-30"}}}"#,
        ],
    );
    let obj = cp
        .wait_condition(
            &["-n", PROVIDER_NS, "customer", "mca-8"],
            "Ready",
            "True",
            Some("Provisioned"),
            Duration::from_secs(60),
            || op.log_text(),
        )
        .await;
    assert_eq!(condition(&obj["status"], "AgreementRecorded")["status"], "True");
    let tenant = obj["status"]["tenantId"].as_str().expect("tenant").to_string();
    assert_eq!(
        env.attestations(&tenant).await.len(),
        1,
        "the fixed date is attested once"
    );

    // The template is listed once per connection and operator process: the first operator ran
    // rows 0-2 (two through EUR, one through NZ); the later ones each record through EUR.
    let template_lists: Vec<(String, String)> = env
        .agreement_calls(template_fetches_seq)
        .await
        .into_iter()
        .filter(|e| e["path"] == "/v1/agreements")
        .map(|e| {
            (
                e["tenantId"].as_str().unwrap_or_default().to_string(),
                e["userAgent"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let eur = template_lists.iter().filter(|(t, _)| t == EUR_TENANT).count();
    let nz = template_lists.iter().filter(|(t, _)| t == NZ_TENANT).count();
    let northwind = template_lists.iter().filter(|(t, _)| t == NORTHWIND_TENANT).count();
    eprintln!("template lists: EUR {eur}, NZ {nz}, Northwind {northwind}");
    assert_eq!(nz, 1, "one NZ Customer, one list: {template_lists:?}");
    assert_eq!(northwind, 0, "refused before any call: {template_lists:?}");
    // Processes that recorded (or crashed recording) through EUR, each listing the template once:
    // the first (rows 0, 1: two Customers), row 3's crashed one (it lists before its crash point)
    // and its restart, row 4's likewise, and row 5's restart, which also records rows 6-8 and the
    // fixed date from its cache. Row 5's killed process is row 4's restart, cached already.
    assert_eq!(eur, 6, "EUR template listed once per process: {template_lists:?}");

    // Calls are counted like the other stages'.
    let (code, metrics) = op.admin_get("/metrics");
    assert_eq!(code, 200, "metrics");
    for line in [
        "pco_partner_center_calls_total{operation=\"record_agreement\",outcome=\"Ok\"}",
        "pco_partner_center_calls_total{operation=\"customer_agreements\",outcome=\"Ok\"}",
    ] {
        assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    }
    op.kill();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
