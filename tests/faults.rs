//! Fault tests (README, "Fault tolerance"): the operator killed mid-convergence, the API server restarted and a watch
//! expired (410), Partner Center faults from the emulator, two replicas and leader handover. Real
//! parts only: kube-apiserver + etcd, the emulator, the operator binary. Every wait is bounded.

mod support;
use partner_center_emulator::Fixtures;
use serde_json::{Value, json};
use std::ops::Deref;
use std::time::{Duration, Instant};
use support::{Channel, ControlPlane, PROVIDER_NS, User, condition, ready_of, tail};

const NZ_TENANT: &str = "22222222-2222-4222-8222-222222222222";
/// Lease duration of the operator's leader election (src/controller/mod.rs).
const LEASE_DURATION: Duration = Duration::from_secs(15);

/// The demo channel, no operator yet; convergence and the Lease as the fault tests see them.
struct Env {
    channel: Channel,
}

impl Deref for Env {
    type Target = Channel;
    fn deref(&self) -> &Channel {
        &self.channel
    }
}

impl Env {
    /// The demo channel (see [`Channel`]) with extra kube-apiserver flags; its emulator has strict
    /// refresh-token rotation.
    async fn start(apiserver_args: &str) -> Env {
        let fixtures = Fixtures::from_yaml(&support::example_fixtures()).expect("fixtures");
        assert!(
            fixtures.settings.strict_refresh_token_rotation,
            "the fault tests rely on strict rotation"
        );
        Env {
            channel: Channel::start_with_apiserver_args(apiserver_args).await,
        }
    }

    /// (converged, total, names not converged), as the test kit counts them.
    fn convergence(&self) -> (usize, usize, Vec<String>) {
        let c = self.cp.convergence();
        (c.done, c.total, c.pending)
    }

    async fn wait_converged(&self, limit: Duration, log: impl Fn() -> String) {
        self.cp.wait_converged(limit, log).await
    }

    /// The Lease's holder, if any.
    fn lease_holder(&self) -> Option<String> {
        let out = self.cp.kubectl_run(
            User::Admin,
            &[
                "-n",
                PROVIDER_NS,
                "get",
                "lease",
                "partner-center-operator",
                "-o",
                "jsonpath={.spec.holderIdentity}",
            ],
        );
        let holder = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (out.status.success() && !holder.is_empty()).then_some(holder)
    }
}

/// `n` resellers under the root, each granted the NZ production plan: enough objects that
/// convergence takes a while.
fn many_resellers(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "apiVersion: channel.csp.dev/v1alpha1\nkind: Reseller\nmetadata: {{name: load-{i:03}}}\nspec:\n  displayName: Load {i}\n  shortName: LOAD{i:03}\n  parent: contoso\n  services:\n    azureAD:\n      enabled: true\n      customerPlans:\n        - plan: nz-indirect-production\n"
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

/// The refresh token stored in a connection's Secret.
fn stored_refresh_token(cp: &ControlPlane, ns: &str, secret: &str) -> String {
    use base64::Engine;
    let s = cp.get_json(&["-n", ns, "secret", secret]);
    let b = base64::engine::general_purpose::STANDARD
        .decode(s["data"]["refreshToken"].as_str().expect("refreshToken"))
        .expect("base64");
    String::from_utf8(b).expect("utf8")
}

/// Status writes by `user` in the audit log.
fn status_writes(cp: &ControlPlane, user: &str) -> usize {
    support::status_writes_by(cp, user).len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_killed_mid_convergence_loses_no_status_and_no_refresh_token() {
    let env = Env::start("").await;
    env.apply(&many_resellers(200));
    let (_, total, _) = env.convergence();

    // Kill (SIGKILL) three times mid-convergence: right after the refresh-token write-backs of
    // this process (each new process redeems each connection's token once: 3 rotations), then
    // after a few dozen status writes each time. Not *between* Entra's token response and the
    // Secret write: no client can close that window, and under the emulator's strict rotation a
    // kill there loses the token (real Entra keeps the previous one valid).
    let secret_writes = || {
        env.cp
            .audit_events()
            .iter()
            .filter(|e| e["user"]["username"] == "operator" && e["objectRef"]["resource"] == "secrets")
            .count()
    };
    let mut kills = Vec::new();
    for round in 0..3 {
        let secrets_before = secret_writes();
        let mut op = env.start_operator(User::Operator, &format!("killed-{round}"), &[]);
        let writes_before = status_writes(&env.cp, "operator");
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let rotations_persisted = secret_writes() - secrets_before >= 3;
            let writes = status_writes(&env.cp, "operator") - writes_before;
            let ready = rotations_persisted && (round == 0 || writes >= 30);
            if ready {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: no progress to kill in\n{}",
                tail(&op.log_text(), 40)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        op.kill();
        let (converged, _, _) = env.convergence();
        kills.push(converged);
        eprintln!("round {round}: killed with {converged}/{total} converged");
    }
    assert!(
        kills.iter().any(|c| *c < total),
        "every kill came after convergence ({kills:?}/{total}): not mid-convergence"
    );

    let op = env.start_operator(User::Operator, "survivor", &[]);
    env.wait_converged(Duration::from_secs(180), || op.log_text()).await;

    // No refresh token lost: with strict rotation a lost token would be refused, so every connection
    // authenticated with the token its Secret holds now, and that token is no longer the initial one.
    for (ns, name, secret, initial) in [
        (
            PROVIDER_NS,
            "contoso-eur-sandbox",
            "contoso-eur-sandbox-credentials",
            "demo-rt-eur-initial",
        ),
        (
            PROVIDER_NS,
            "contoso-nz-production",
            "contoso-nz-production-credentials",
            "demo-rt-nz-initial",
        ),
        (
            "reseller-northwind",
            "northwind-nz-production",
            "northwind-credentials",
            "demo-rt-northwind-initial",
        ),
    ] {
        let c = env.cp.get_json(&["-n", ns, "pcc", name]);
        assert_eq!(
            condition(&c["status"], "Authenticated")["status"],
            "True",
            "{ns}/{name}: {:#}",
            c["status"]
        );
        assert_eq!(
            ready_of(&c["status"])["status"],
            "True",
            "{ns}/{name}: {:#}",
            c["status"]
        );
        assert_ne!(
            stored_refresh_token(&env.cp, ns, secret),
            initial,
            "{ns}/{name}: the rotated token was not written back"
        );
    }
    // No status lost: every object carries a full status for its generation.
    for kind in ["rsl", "cplan"] {
        for o in env.cp.get_json(&[kind])["items"].as_array().unwrap() {
            let st = &o["status"];
            assert!(
                st["observedGeneration"].as_i64().is_some(),
                "{}: {st:#}",
                o["metadata"]["name"]
            );
            if kind == "rsl" {
                assert!(
                    st["effectivePlans"].as_array().is_some_and(|p| !p.is_empty()),
                    "{}: {st:#}",
                    o["metadata"]["name"]
                );
            }
        }
    }
    let load = env.cp.get_json(&["rsl", "load-007"]);
    assert_eq!(ready_of(&load["status"])["status"], "True", "{:#}", load["status"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_server_restart_and_expired_watch_are_survived_without_a_restart() {
    // No watch cache: a watch resumed from a compacted resourceVersion is answered 410 Gone by etcd.
    let env = Env::start("--watch-cache=false --etcd-compaction-interval=3s").await;
    let mut op = env.start_operator(User::Operator, "survivor", &[]);
    env.wait_converged(Duration::from_secs(120), || op.log_text()).await;

    // Move etcd's revision well past the operator's watches (nothing it watches changes), let the
    // API server compact, then restart it: the resumed watches start from compacted revisions.
    let configmaps: String = (0..40)
        .map(|i| format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: churn-{i}, namespace: default}}\ndata: {{i: \"{i}\"}}\n"))
        .collect::<Vec<_>>()
        .join("---\n");
    env.apply(&configmaps);
    tokio::time::sleep(Duration::from_secs(8)).await;
    env.cp.restart_apiserver().await.expect("restart the API server");

    // The operator notices by itself: a change made after the restart is published.
    env.apply(&many_resellers(1));
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let r = env.cp.get_json(&["rsl", "load-000"]);
        if ready_of(&r["status"])["status"] == "True" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new reseller was not published after the restart: {:#}\nlog:\n{}",
            r["status"],
            tail(&op.log_text(), 60)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(op.is_running(), "the operator exited:\n{}", tail(&op.log_text(), 40));
    let log = op.log_text();
    // The 410 happened (a resumed watch was answered "The resourceVersion for the provided watch is
    // too old.: Expired", i.e. 410 Gone) and was survived.
    assert!(
        log.lines()
            .any(|l| l.contains("watch error") && l.contains("too old") && l.contains("Expired")),
        "no expired watch (410) in the operator's log:\n{}",
        tail(&log, 80)
    );
    env.wait_converged(Duration::from_secs(60), || op.log_text()).await;
}

/// One Partner Center fault: what to inject, the reason the connection must show, and how to recover.
struct FaultCase {
    name: &'static str,
    faults: Vec<Value>,
    /// Revoke the refresh tokens and expire the access token instead of (or besides) faults.
    revoke: bool,
    condition: &'static str,
    status: &'static str,
    reason: &'static str,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_center_faults_show_in_conditions_and_recover_without_a_restart() {
    let env = Env::start("").await;
    // A 2 s attempt timeout keeps the slow-response case short (default 60 s).
    let op = env.start_operator(
        User::Operator,
        "faults",
        &[("PCO_PARTNER_CENTER_REQUEST_TIMEOUT", "2s")],
    );
    env.wait_converged(Duration::from_secs(120), || op.log_text()).await;
    let (ns, name) = (PROVIDER_NS, "contoso-nz-production");
    let on_nz = |fault: Value| json!({"match": {"tenantId": NZ_TENANT, "pathPrefix": "/v1/"}, "fault": fault});
    let cases = [
        FaultCase {
            name: "429 storm",
            faults: vec![on_nz(json!({"kind": "throttle", "retryAfterSeconds": 2}))],
            revoke: false,
            condition: "Ready",
            status: "False",
            reason: "Throttled",
        },
        FaultCase {
            name: "5xx burst",
            faults: vec![
                json!({"match": {"tenantId": NZ_TENANT, "pathPrefix": "/v1/"}, "fault": {"kind": "status", "status": 503}, "count": 12}),
            ],
            revoke: false,
            condition: "Ready",
            status: "False",
            reason: "ServerError",
        },
        FaultCase {
            name: "slow responses past the timeout",
            faults: vec![on_nz(json!({"kind": "delay", "millis": 4000}))],
            revoke: false,
            condition: "Ready",
            status: "False",
            reason: "Timeout",
        },
        FaultCase {
            name: "malformed bodies",
            faults: vec![on_nz(json!({"kind": "malformed"}))],
            revoke: false,
            condition: "Ready",
            status: "False",
            reason: "DecodeError",
        },
        FaultCase {
            name: "revoked refresh token",
            faults: vec![],
            revoke: true,
            condition: "Authenticated",
            status: "False",
            reason: "ConsentRevoked",
        },
    ];
    for (i, case) in cases.iter().enumerate() {
        eprintln!("case: {}", case.name);
        let seq0 = env
            .emulator_control(reqwest::Method::GET, "/_emulator/requests", None)
            .await
            .as_array()
            .and_then(|l| l.last().cloned())
            .map(|e| e["seq"].as_u64().unwrap_or(0))
            .unwrap_or(0);
        for f in &case.faults {
            env.emulator_control(reqwest::Method::POST, "/_emulator/faults", Some(f.clone()))
                .await;
        }
        if case.revoke {
            env.emulator_control(
                reqwest::Method::POST,
                "/_emulator/refresh-tokens/revoke",
                Some(json!({"tenantId": NZ_TENANT})),
            )
            .await;
            // Expire the cached access token (1 h) so the next sync must redeem the refresh token.
            env.emulator_control(
                reqwest::Method::POST,
                "/_emulator/clock/advance",
                Some(json!({"seconds": 3700})),
            )
            .await;
        }
        env.cp.request_sync(ns, name, &format!("fault-{i}"));
        let failed = env
            .cp
            .wait_condition(
                &["-n", ns, "pcc", name],
                case.condition,
                case.status,
                Some(case.reason),
                Duration::from_secs(90),
                || op.log_text(),
            )
            .await;
        assert_eq!(
            ready_of(&failed["status"])["status"],
            "False",
            "{}: {:#}",
            case.name,
            failed["status"]
        );
        // What depends on the connection says so too.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let plan = env.cp.get_json(&["cplan", "nz-indirect-production"]);
            if condition(&plan["status"], "ConnectionReady")["status"] == "False" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{}: the plan does not show it: {:#}",
                case.name,
                plan["status"]
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }

        // Recovery without restarting the operator: the fault ends (or a new consent is stored)
        // and a sync request makes the operator try again.
        env.emulator_control(reqwest::Method::DELETE, "/_emulator/faults", None)
            .await;
        if case.revoke {
            let issued = env
                .emulator_control(
                    reqwest::Method::POST,
                    "/_emulator/refresh-tokens",
                    Some(json!({"tenantId": NZ_TENANT, "upn": "admin@contosonz.onmicrosoft.com"})),
                )
                .await;
            let token = issued["refreshToken"].as_str().expect("new refresh token").to_string();
            env.cp
                .store_refresh_token(ns, "contoso-nz-production-credentials", &token);
        }
        env.cp.request_sync(ns, name, &format!("recover-{i}"));
        env.cp
            .wait_condition(
                &["-n", ns, "pcc", name],
                "Ready",
                "True",
                None,
                Duration::from_secs(60),
                || op.log_text(),
            )
            .await;

        // Retry-After is honoured: after a 429 the operator sends nothing to that partner before it passed.
        let log: Vec<Value> = env
            .emulator_control(reqwest::Method::GET, &format!("/_emulator/requests?since={seq0}"), None)
            .await
            .as_array()
            .cloned()
            .unwrap_or_default();
        let nz: Vec<&Value> = log
            .iter()
            .filter(|e| e["tenantId"] == NZ_TENANT && e["path"].as_str().is_some_and(|p| p.starts_with("/v1/")))
            .collect();
        let time = |e: &Value| e["time"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap();
        let mut throttled = 0;
        for pair in nz.windows(2) {
            if pair[0]["status"] == 429 {
                throttled += 1;
                let gap = time(pair[1]).duration_since(time(pair[0]));
                assert!(
                    gap >= jiff::SignedDuration::from_millis(1950),
                    "{}: request {} came {gap:?} after a 429 with Retry-After: 2",
                    case.name,
                    pair[1]["seq"]
                );
            }
        }
        if case.name == "429 storm" {
            assert!(throttled >= 2, "the storm was not seen: {throttled} answered 429");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_only_the_leader_writes_and_a_killed_leader_hands_over() {
    let env = Env::start("").await;
    env.cp
        .bind_operator_roles(User::Operator2, &support::OPERATOR_NAMESPACES);
    let mut a = env.start_operator(User::Operator, "replica-a", &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while env.lease_holder().as_deref() != Some("replica-a") {
        assert!(
            Instant::now() < deadline,
            "replica-a did not lead:\n{}",
            tail(&a.log_text(), 40)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let b = env.start_operator(User::Operator2, "replica-b", &[]);
    env.wait_converged(Duration::from_secs(120), || a.log_text()).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !b.log_text().contains("caches synced") {
        assert!(
            Instant::now() < deadline,
            "replica-b never started:\n{}",
            tail(&b.log_text(), 40)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Only the leader wrote, and the API server attributes each write to a user and a user agent.
    let writes_of = |user: &str| -> Vec<Value> {
        env.cp
            .audit_events()
            .into_iter()
            .filter(|e| {
                e["user"]["username"] == user
                    && e["objectRef"]["apiGroup"] == "channel.csp.dev"
                    && matches!(e["verb"].as_str(), Some("patch" | "update" | "create"))
            })
            .collect()
    };
    let by_a = writes_of("operator");
    assert!(!by_a.is_empty(), "the leader wrote nothing");
    assert!(
        by_a.iter()
            .all(|e| e["userAgent"].as_str().is_some_and(|ua| ua.contains("(replica-a)"))),
        "user agents: {:?}",
        by_a.iter().map(|e| &e["userAgent"]).collect::<Vec<_>>()
    );
    assert!(
        writes_of("operator-2").is_empty(),
        "the follower wrote: {:#?}",
        writes_of("operator-2")
    );

    // Kill the leader: the follower takes the Lease once it expires, within the lease duration
    // (+ one retry period of the follower), and from then on it is the one writing.
    a.kill();
    let killed = Instant::now();
    let deadline = killed + LEASE_DURATION + Duration::from_secs(10);
    while env.lease_holder().as_deref() != Some("replica-b") {
        assert!(
            Instant::now() < deadline,
            "no handover {:?} after the kill:\n{}",
            killed.elapsed(),
            tail(&b.log_text(), 40)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let handover = killed.elapsed();
    eprintln!("handover after {handover:?} (lease duration {LEASE_DURATION:?})");
    assert!(
        handover <= LEASE_DURATION + Duration::from_secs(5),
        "handover took {handover:?}"
    );
    env.apply(&many_resellers(1));
    env.wait_converged(Duration::from_secs(60), || b.log_text()).await;
    let by_b = writes_of("operator-2");
    assert!(
        by_b.iter()
            .any(|e| e["objectRef"]["name"] == "load-000" && e["objectRef"]["subresource"] == "status"),
        "the new leader did not write the new reseller's status"
    );
    assert!(
        by_b.iter()
            .all(|e| e["userAgent"].as_str().is_some_and(|ua| ua.contains("(replica-b)"))),
        "user agents: {:?}",
        by_b.iter().map(|e| &e["userAgent"]).collect::<Vec<_>>()
    );
}
