//! Connection syncs under load and abuse, end to end (real API server, the emulator, the operator
//! process): a tenant whose Partner Center host never answers does not delay the provider's
//! requested sync; a connection deleted and recreated under the same name inherits nothing; a
//! burst of sync requests costs a handful of syncs.

mod support;
use reqwest::Method;
use serde_json::Value;
use std::time::{Duration, Instant};
use support::{Channel, Operator, PROVIDER_NS, User, output_text, ready_of};

const TENANT_NS: &str = "reseller-northwind";
const NZ_TENANT: &str = "22222222-2222-4222-8222-222222222222";
const EUR_TENANT: &str = "11111111-1111-4111-8111-111111111111";
/// In no fixture: the emulator knows no such partner.
const UNKNOWN_TENANT: &str = "55555555-5555-4555-8555-555555555555";

/// A loopback TCP listener that accepts connections and never answers (a silent host on the
/// allow-list). The accepted sockets are kept open until the test ends.
async fn black_hole() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    addr
}

/// The channel's operator, also allowed to call `extra_host`.
fn start_operator(channel: &Channel, extra_host: &str) -> Operator {
    let mut args: Vec<String> = channel
        .operator_args("fairness")
        .iter()
        .map(|s| s.to_string())
        .collect();
    let allow = args
        .iter()
        .position(|a| a == "--endpoint-allow-list")
        .expect("operator_args sets the allow-list");
    args[allow + 1] = format!("{},{extra_host}", args[allow + 1]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Operator::start_with(&channel.cp, User::Operator, &args, &[], "fairness")
}

fn connection(
    ns: &str,
    name: &str,
    tenant: &str,
    region: &str,
    kind: (&str, &str),
    secret: &str,
    host: &str,
) -> String {
    format!(
        r#"apiVersion: channel.csp.dev/v1alpha1
kind: PartnerCenterConnection
metadata:
  name: {name}
  namespace: {ns}
spec:
  partnerTenantId: {tenant}
  region: {region}
  cspType: {}
  environment: {}
  auth:
    mode: AppPlusUser
    secretRef:
      name: {secret}
  endpoints:
    partnerCenter: http://{host}
    login: http://{host}
"#,
        kind.0, kind.1
    )
}

/// The emulator's request log after `since` (a sequence number).
async fn requests(channel: &Channel, since: u64) -> Vec<Value> {
    channel
        .emulator_control(Method::GET, &format!("/_emulator/requests?since={since}"), None)
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn last_seq(channel: &Channel) -> u64 {
    requests(channel, 0)
        .await
        .last()
        .and_then(|e| e["seq"].as_u64())
        .unwrap_or(0)
}

/// Syncs of `tenant` in the log: each sync reads the organization profile once.
fn syncs_of(log: &[Value], tenant: &str) -> usize {
    log.iter()
        .filter(|e| e["tenantId"] == tenant && e["path"] == "/v1/profiles/organization")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_tenant_host_does_not_delay_the_provider_and_requests_are_rate_limited() {
    let channel = Channel::start().await;
    let hole = black_hole().await;
    let operator = start_operator(&channel, &hole);
    let log = || operator.log_text();
    channel
        .cp
        .wait(&["--for=condition=Ready", "pcc", "--all", "-A", "--timeout=120s"]);

    // Ten connections of one tenant namespace pointed at the silent host.
    let silent: String = (0..10)
        .map(|i| {
            connection(
                TENANT_NS,
                &format!("silent-{i}"),
                &format!("44444444-4444-4444-8444-4444444444{i:02}"),
                "NZ",
                ("IndirectProvider", "Production"),
                "northwind-credentials",
                &hole,
            )
        })
        .collect::<Vec<_>>()
        .join("---\n");
    channel.apply(&silent);
    // Let their syncs start (one in flight against the silent host, nine queued behind it).
    tokio::time::sleep(Duration::from_secs(5)).await;

    // The provider asks for a sync of its own connection.
    let seq0 = last_seq(&channel).await;
    let asked = Instant::now();
    channel
        .cp
        .request_sync(PROVIDER_NS, "contoso-nz-production", "fairness-1");
    let took = loop {
        if syncs_of(&requests(&channel, seq0).await, NZ_TENANT) > 0 {
            break asked.elapsed();
        }
        assert!(
            asked.elapsed() < Duration::from_secs(60),
            "the provider's requested sync did not happen within 60 s\n{}",
            support::tail(&log(), 40)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!(
        "benchmark: provider's requested sync with 10 silent connections in {TENANT_NS}: {took:?} \
         (design bound: debounce + one sync, a few seconds; the silent tenant's syncs run one at a time \
         in their own namespace, each ending at the 90 s sync deadline)"
    );
    // The silent tenant's connections are not Ready (and not blocking anyone): the first one ends
    // at the sync deadline as Timeout.
    let silent_0 = channel.cp.get_json(&["-n", TENANT_NS, "pcc", "silent-0"]);
    assert_ne!(
        ready_of(&silent_0["status"])["status"],
        "True",
        "{:#}",
        silent_0["status"]
    );

    // A connection deleted behind the operator's back and recreated under the same name, with the
    // same Secret and another partnerTenantId: not Ready from memory, it syncs afresh.
    let eur = |tenant: &str| {
        connection(
            PROVIDER_NS,
            "recreated",
            tenant,
            "EUR",
            ("Direct", "Sandbox"),
            "contoso-eur-sandbox-credentials",
            &channel.addr,
        )
    };
    channel.apply(&eur(EUR_TENANT));
    channel
        .cp
        .wait_condition(
            &["-n", PROVIDER_NS, "pcc", "recreated"],
            "Ready",
            "True",
            Some("Verified"),
            Duration::from_secs(60),
            log,
        )
        .await;
    // Drop the finalizer and delete at once: the reconciler need not see the deleted object.
    for args in [
        &[
            "-n",
            PROVIDER_NS,
            "patch",
            "pcc",
            "recreated",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ][..],
        &["-n", PROVIDER_NS, "delete", "pcc", "recreated", "--wait=true"][..],
    ] {
        let out = channel.cp.kubectl_run(User::Admin, args);
        assert!(out.status.success(), "{args:?}: {}", output_text(&out));
    }
    let seq1 = last_seq(&channel).await;
    channel.apply(&eur(UNKNOWN_TENANT));
    let recreated = channel
        .cp
        .wait_condition(
            &["-n", PROVIDER_NS, "pcc", "recreated"],
            "Ready",
            "False",
            None,
            Duration::from_secs(60),
            log,
        )
        .await;
    let st = &recreated["status"];
    assert_ne!(st["partner"]["tenantId"], EUR_TENANT, "the old partner leaked: {st:#}");
    let fresh = requests(&channel, seq1)
        .await
        .iter()
        .filter(|e| e["path"].as_str().is_some_and(|p| p.contains(UNKNOWN_TENANT)))
        .count();
    println!(
        "recreated connection: Ready=False/{} after {fresh} fresh login request(s) for the new tenant",
        ready_of(st)["reason"]
    );
    assert!(fresh >= 1, "the recreated connection did not sync afresh: {st:#}");

    // Twenty sync requests in a burst: the first answered at once, the rest at the end of the
    // 30 s minimum interval — a handful of syncs, not one per request.
    let seq2 = last_seq(&channel).await;
    let burst = Instant::now();
    for i in 0..20 {
        channel
            .cp
            .request_sync(PROVIDER_NS, "contoso-eur-sandbox", &format!("burst-{i}"));
        // Slower than the controller's 200 ms debounce, so each request is seen on its own (a
        // faster burst is coalesced into one reconcile before the rate limit even applies).
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let burst_took = burst.elapsed();
    tokio::time::sleep(Duration::from_secs(40)).await;
    let syncs = syncs_of(&requests(&channel, seq2).await, EUR_TENANT);
    println!("benchmark: 20 sync requests in {burst_took:?} -> {syncs} syncs (design: 1 + 1 per 30 s)");
    // At least two: the requests after the first are answered at the end of the interval, not dropped.
    assert!(
        (2..=4).contains(&syncs),
        "{syncs} syncs for 20 requests\n{}",
        support::tail(&log(), 40)
    );
    let eur_conn = channel.cp.get_json(&["-n", PROVIDER_NS, "pcc", "contoso-eur-sandbox"]);
    assert_eq!(
        ready_of(&eur_conn["status"])["status"],
        "True",
        "{:#}",
        eur_conn["status"]
    );
}
