//! Exactly one tenant per Customer, whatever fails (docs/rules.md, rule 14): one row per moment a
//! failure can strike between the operator's durable writes and Partner Center's create — the
//! process killed at each crash point (src/runtime/crashpoint.rs), killed while the create is in
//! flight, the answer lost, the client timing out after the tenant was made, the API server
//! restarted mid-provisioning. Each row: start the operator, inject the fault, create a Customer
//! (its own domain), let the operator die or not, restart it, converge; then the emulator holds
//! exactly ONE tenant for the domain, every create carried the request id recorded in status, and
//! the admin credentials are in the Secret or the status says AdminCredentialsNotCaptured — which
//! one, each row says. One control plane for all rows; the operator is restarted per row.

mod support;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::{Channel, Operator, PROVIDER_NS, User, condition, tail};

/// The EUR sandbox account (examples/20-connections.yaml) the rows create their tenants under.
const EUR_TENANT: &str = "11111111-1111-4111-8111-111111111111";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Ready=True Provisioned, the Secret holds the tenant's credentials.
    Secret,
    /// Ready=True AdminCredentialsNotCaptured, no Secret: the tenant was adopted, not re-created.
    NotCaptured,
}

/// What strikes, and when.
#[derive(Clone, Copy, Debug)]
enum Strike {
    /// The process aborts at this crash point (PCO_CRASHPOINT).
    Crashpoint(&'static str),
    /// SIGKILL once the tenant exists at the emulator while the create's answer is held back.
    KillDuringDelay,
    /// The API server is restarted once the tenant exists while the answer is held back.
    RestartApiServerDuringDelay,
    /// Nothing is killed: the fault alone (and the operator's own retries) decide.
    None,
}

struct Row {
    case: &'static str,
    /// Emulator faults (crates/emulator/src/faults.rs) on POST /v1/customers of the EUR account.
    fault: Option<Value>,
    /// How many POSTs the fault applies to (None: until cleared, at the end of the row).
    count: Option<u32>,
    strike: Strike,
    /// Extra environment of the first operator of the row.
    env: &'static [(&'static str, &'static str)],
    expect: Expect,
}

fn rows() -> Vec<Row> {
    vec![
        Row {
            case: "killed before the pin: nothing recorded, nothing called",
            fault: None,
            count: None,
            strike: Strike::Crashpoint("customer.before-pin"),
            env: &[],
            expect: Expect::Secret,
        },
        Row {
            case: "killed after the pin: request id recorded, create not called",
            fault: None,
            count: None,
            strike: Strike::Crashpoint("customer.after-pin"),
            env: &[],
            expect: Expect::Secret,
        },
        Row {
            case: "killed after the create's answer, before the Secret",
            fault: None,
            count: None,
            strike: Strike::Crashpoint("customer.after-create"),
            env: &[],
            expect: Expect::NotCaptured,
        },
        Row {
            case: "killed after the Secret, before status Created",
            fault: None,
            count: None,
            strike: Strike::Crashpoint("customer.after-secret"),
            env: &[],
            expect: Expect::Secret,
        },
        Row {
            case: "SIGKILL after the call, before the answer is read",
            fault: Some(json!({"kind": "delay", "millis": 8000, "after": true})),
            count: Some(1),
            strike: Strike::KillDuringDelay,
            env: &[],
            expect: Expect::NotCaptured,
        },
        Row {
            case: "the answer is lost once: the client's retry with the same request id gets it",
            fault: Some(json!({"kind": "dropConnection", "after": true})),
            count: Some(1),
            strike: Strike::None,
            env: &[],
            expect: Expect::Secret,
        },
        Row {
            case: "every answer is lost: the look-up adopts the tenant",
            fault: Some(json!({"kind": "dropConnection", "after": true})),
            count: None,
            strike: Strike::None,
            env: &[],
            expect: Expect::NotCaptured,
        },
        Row {
            case: "the client times out after the tenant was created",
            fault: Some(json!({"kind": "delay", "millis": 4000, "after": true})),
            count: None,
            strike: Strike::None,
            env: &[("PCO_PARTNER_CENTER_REQUEST_TIMEOUT", "1s")],
            expect: Expect::NotCaptured,
        },
        Row {
            case: "the API server restarts while the create is in flight",
            fault: Some(json!({"kind": "delay", "millis": 6000, "after": true})),
            count: Some(1),
            strike: Strike::RestartApiServerDuringDelay,
            env: &[],
            expect: Expect::Secret,
        },
    ]
}

/// A Customer of the provider through the EUR sandbox plan, with its own domain.
fn customer(name: &str) -> String {
    format!(
        r#"apiVersion: channel.csp.dev/v1alpha1
kind: Customer
metadata: {{name: {name}, namespace: {PROVIDER_NS}}}
spec:
  plan: eur-direct-sandbox
  tenant:
    new:
      domainPrefix: {prefix}
      companyName: Exactly Once {name}
      email: it@{prefix}.example
      culture: de-DE
      language: de
      address: {{addressLine1: Unter den Linden 1, city: Berlin, postalCode: "10117", country: DE, firstName: Eva, lastName: Once}}
"#,
        prefix = name.replace('-', "")
    )
}

struct Env {
    channel: Channel,
}

impl Env {
    fn operator(&self, tag: &str, env: &[(&str, &str)]) -> Operator {
        let mut all = vec![("PCO_LEADER_ELECTION", "false")];
        all.extend_from_slice(env);
        self.channel.start_operator(User::Operator, tag, &all)
    }

    /// Waits until `op` has finished a sync of every connection (each start redeems each
    /// connection's refresh token once; a process killed later must not be mid-rotation).
    async fn synced(&self, op: &Operator) {
        let deadline = Instant::now() + Duration::from_secs(90);
        while op.log_text().matches("synced with Partner Center").count() < 3 {
            assert!(Instant::now() < deadline, "no syncs:\n{}", tail(&op.log_text(), 40));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The tenants of the EUR account with `domain`, at the emulator.
    async fn tenants(&self, domain: &str) -> Vec<Value> {
        let v = self
            .channel
            .emulator_control(
                Method::GET,
                &format!("/_emulator/customers?partner={EUR_TENANT}&domain={domain}"),
                None,
            )
            .await;
        v.as_array().cloned().unwrap_or_default()
    }

    async fn wait_tenant(&self, domain: &str, op: &Operator) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.tenants(domain).await.is_empty() {
            assert!(
                Instant::now() < deadline,
                "{domain} never created:\n{}",
                tail(&op.log_text(), 40)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn wait_exit(op: &mut Operator, case: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
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
async fn one_tenant_per_customer_whatever_fails() {
    let env = Env {
        channel: Channel::start().await,
    };
    let cp = &env.channel.cp;
    let mut failures = Vec::new();
    let mut passwords = Vec::new();
    for (i, row) in rows().into_iter().enumerate() {
        let name = format!("once-{i}");
        let domain = format!("{}.onmicrosoft.com", name.replace('-', ""));
        let clear = || env.channel.emulator_control(Method::DELETE, "/_emulator/faults", None);
        clear().await;
        let seq0 = env
            .channel
            .emulator_control(Method::GET, "/_emulator/requests", None)
            .await
            .as_array()
            .and_then(|l| l.last().and_then(|e| e["seq"].as_u64()))
            .unwrap_or(0);
        if let Some(fault) = &row.fault {
            let mut spec = json!({
                "match": {"tenantId": EUR_TENANT, "pathPrefix": "/v1/customers", "method": "POST"},
                "fault": fault,
            });
            if let Some(n) = row.count {
                spec["count"] = json!(n);
            }
            env.channel
                .emulator_control(Method::POST, "/_emulator/faults", Some(spec))
                .await;
        }
        let crash: Vec<(&str, &str)> = match row.strike {
            Strike::Crashpoint(p) => vec![("PCO_CRASHPOINT", p)],
            _ => vec![],
        };
        let mut first_env = crash.clone();
        first_env.extend_from_slice(row.env);
        let mut op = env.operator(&format!("row{i}"), &first_env);
        if i == 0 {
            cp.wait_demo_converged(|| op.log_text());
        }
        env.synced(&op).await;
        env.channel.apply(&customer(&name));

        match row.strike {
            Strike::Crashpoint(_) => wait_exit(&mut op, row.case).await,
            Strike::KillDuringDelay => {
                env.wait_tenant(&domain, &op).await;
                op.kill();
            }
            Strike::RestartApiServerDuringDelay => {
                env.wait_tenant(&domain, &op).await;
                cp.restart_apiserver().await.expect("restart the API server");
            }
            Strike::None => {}
        }
        let restarted = !op.is_running();
        if restarted {
            clear().await;
            op = env.operator(&format!("row{i}-restarted"), &[]);
        }
        let obj = cp
            .wait_condition(
                &["-n", PROVIDER_NS, "customer", &name],
                "Provisioned",
                "True",
                None,
                Duration::from_secs(150),
                || op.log_text(),
            )
            .await;
        clear().await;

        let st = &obj["status"];
        let ready = condition(st, "Ready");
        let tenants = env.tenants(&domain).await;
        let secret_name = format!("{name}-admin");
        let secret = cp
            .exists(&["-n", PROVIDER_NS, "secret", &secret_name])
            .then(|| cp.get_json(&["-n", PROVIDER_NS, "secret", &secret_name]));
        let got = match (ready["reason"].as_str(), &secret) {
            (Some("Provisioned"), Some(_)) => Some(Expect::Secret),
            (Some("AdminCredentialsNotCaptured"), None) => Some(Expect::NotCaptured),
            _ => None,
        };
        let request_id = st["provisioning"]["requestId"].as_str().unwrap_or_default().to_string();
        let creates: Vec<Value> = env
            .channel
            .emulator_control(Method::GET, &format!("/_emulator/requests?since={seq0}"), None)
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e["method"] == "POST" && e["path"] == "/v1/customers")
            .collect();
        let foreign_ids: Vec<&Value> = creates
            .iter()
            .filter(|e| e["requestId"] != request_id.as_str())
            .collect();

        let mut problems = Vec::new();
        if tenants.len() != 1 {
            problems.push(format!("{} tenants for {domain} at the emulator", tenants.len()));
        }
        if tenants.first().and_then(|t| t["id"].as_str()) != st["tenantId"].as_str() {
            problems.push(format!(
                "status.tenantId {} is not the emulator's tenant {:?}",
                st["tenantId"],
                tenants.first().map(|t| &t["id"])
            ));
        }
        if got != Some(row.expect) {
            problems.push(format!(
                "wanted {:?}, got Ready {}/{} with Secret {}",
                row.expect,
                ready["status"],
                ready["reason"],
                secret.is_some()
            ));
        }
        if let Some(s) = &secret {
            use base64::Engine;
            let key = |k: &str| {
                s["data"][k]
                    .as_str()
                    .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default()
            };
            if key("tenantId") != st["tenantId"].as_str().unwrap_or("-") || key("password").is_empty() {
                problems.push(format!(
                    "the Secret does not hold the tenant's credentials: {:?}",
                    s["data"].as_object().map(|d| d.keys().collect::<Vec<_>>())
                ));
            }
            passwords.push(key("password"));
        }
        if request_id.is_empty() || creates.is_empty() || !foreign_ids.is_empty() {
            problems.push(format!(
                "creates must all carry the recorded request id {request_id:?}: {} creates, {} others",
                creates.len(),
                foreign_ids.len()
            ));
        }
        eprintln!(
            "row {i} ({}): {} tenant(s), {} create(s), {:?}, restarted {restarted}{}",
            row.case,
            tenants.len(),
            creates.len(),
            got,
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
        op.kill();
    }
    // No admin password in any operator log line of any row (crashed processes included).
    for entry in std::fs::read_dir(cp.dir()).expect("control plane dir").flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if file.starts_with("operator-") {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            for p in passwords.iter().filter(|p| !p.is_empty()) {
                assert!(!text.contains(p.as_str()), "an admin password is in {file}");
            }
        }
    }
    assert!(!passwords.is_empty(), "no row captured credentials to look for");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
