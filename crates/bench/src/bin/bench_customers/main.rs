//! Customer provisioning benchmark on a real control plane: N Customers (distinct domains) across a
//! generated channel (three Direct connections, one of them a reseller's override; two plans that
//! allow tenant creation; four resellers), the operator running (release build). Measures the time
//! to all Customers Ready against a floor client measured in the same run, Partner Center calls per
//! Customer (emulator request log), tenants per domain, status writes and Secret creates (audit
//! log), peak RSS, and the Partner Center calls of an idle window. Figures only; nothing asserted.
//!
//! `bash hack/bench-customers.sh` builds release and runs it; `bench_customers --help` lists the
//! knobs. The floor ([`floor`]) runs with the operator stopped, after the idle window.

mod floor;
mod generate;
mod report;

use anyhow::{Context as _, Result};
use clap::Parser;
use kube::ResourceExt;
use kube::api::{ApiResource, DynamicObject};
use kube::runtime::reflector::Store;
use partner_center_operator::api::{Customer, CustomerPlan, PartnerCenterConnection, Reseller};
use pco_bench::{apply_all, done_when, watch_kind};
use pco_test_kit::{AuditLog, EmulatorControl, is_converged, ready_of, wait_until};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const PROVIDER_NS: &str = "csp-system";
/// The field manager of the objects the benchmark applies.
const FIELD_MANAGER: &str = "bench-customers";
const POLL: Duration = Duration::from_millis(100);
const OPERATOR_USER: &str = "operator";
/// Partner Center calls a new tenant needs at least: domain look-up, domain check, address
/// validation, create.
const MIN_CALLS_PER_CUSTOMER: f64 = 4.0;

#[derive(Parser, Debug)]
#[command(about = "Customer provisioning benchmark: time to Ready against a floor, calls, writes, duplicates, memory")]
struct Args {
    /// Customers to provision.
    #[arg(long, default_value_t = 500)]
    customers: usize,
    /// Idle window after provisioning, in seconds (Partner Center calls counted by path).
    #[arg(long, default_value_t = 60)]
    idle_secs: u64,
    /// The operator's --customer-calls-per-connection, and the floor client's concurrency per connection.
    #[arg(long, default_value_t = 4)]
    customer_calls_per_connection: u16,
    /// The operator's --concurrency (reconciliations at once per kind).
    #[arg(long, default_value_t = 8)]
    concurrency: u16,
    /// Concurrent writers creating the Customer objects.
    #[arg(long, default_value_t = 8)]
    writers: usize,
    /// The operator binary (release build).
    #[arg(long, default_value = "target/release/partner-center-operator")]
    operator_bin: PathBuf,
    /// Where to write the JSON results.
    #[arg(long, default_value = "bench/results/customers.json")]
    out: PathBuf,
    /// Keep the control plane directory (logs, audit log) after the run.
    #[arg(long)]
    keep: bool,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.customers >= 1, "--customers must be at least 1");
    let pco_bench::Setup {
        cp,
        emu,
        control,
        admin,
    } = pco_bench::setup(
        &generate::fixtures_yaml(),
        &generate::namespaces(),
        "bench-customers",
        args.keep,
    )
    .await?;
    let emu_addr = emu.addr.to_string();
    apply_all(
        &admin,
        FIELD_MANAGER,
        generate::connection_objects(&emu_addr),
        args.writers,
    )
    .await?;
    apply_all(&admin, FIELD_MANAGER, generate::plan_objects(), args.writers).await?;
    apply_all(&admin, FIELD_MANAGER, generate::reseller_objects(), args.writers).await?;

    let channel: Vec<Store<DynamicObject>> = vec![
        watch_kind(&admin, ApiResource::erase::<PartnerCenterConnection>(&())),
        watch_kind(&admin, ApiResource::erase::<CustomerPlan>(&())),
        watch_kind(&admin, ApiResource::erase::<Reseller>(&())),
    ];
    let customers_store = watch_kind(&admin, ApiResource::erase::<Customer>(&()));
    let calls = args.customer_calls_per_connection.to_string();
    let mut op = pco_bench::start_operator(
        &args.operator_bin,
        &cp,
        &emu_addr,
        args.concurrency,
        &["--customer-calls-per-connection", &calls],
        &[],
    )?;
    let n_channel = generate::CONNS.len() + generate::PLANS.len() + generate::RESELLERS.len();
    eprintln!("channel: {n_channel} objects; waiting for the operator to converge it");
    wait_until("channel convergence", Duration::from_secs(300), POLL, || {
        let all: Vec<_> = channel.iter().flat_map(|s| s.state()).collect();
        let n = all
            .iter()
            .filter(|o| is_converged(o.metadata.generation, &o.data["status"]))
            .count();
        done_when(
            n == n_channel && all.len() == n_channel,
            format!("{n}/{n_channel} converged"),
        )
    })
    .await?;
    let channel_not_ready: Vec<String> = channel
        .iter()
        .flat_map(|s| s.state())
        .filter(|o| ready_of(&o.data["status"])["status"] != "True")
        .map(|o| {
            format!(
                "{} {}",
                o.types.as_ref().map(|t| t.kind.clone()).unwrap_or_default(),
                o.name_any()
            )
        })
        .collect();
    if !channel_not_ready.is_empty() {
        eprintln!("  not Ready: {channel_not_ready:?}");
    }
    let mut audit = AuditLog::from_now(&cp);
    let seq0 = last_seq(&control).await?;

    // Provisioning: from the first Customer applied to the last one Ready.
    let custs = generate::customers(args.customers, "benchc");
    eprintln!("phase: provisioning {} Customers", custs.len());
    let started = Instant::now();
    apply_all(
        &admin,
        FIELD_MANAGER,
        custs.iter().map(generate::customer_object).collect(),
        args.writers,
    )
    .await?;
    let apply_secs = started.elapsed().as_secs_f64();
    let n = custs.len();
    wait_until("all Customers Ready", Duration::from_secs(3600), POLL, || {
        let done = customers_store.state().iter().filter(|o| provisioned(o)).count();
        done_when(done == n, format!("{done}/{n} Ready (Provisioned)"))
    })
    .await?;
    let elapsed = started.elapsed();
    // Writes still in flight when the last Customer turned Ready belong to the phase too.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let counts = audit.take(OPERATOR_USER)?;
    let seq1 = last_seq(&control).await?;
    let calls = control.requests_since(seq0).await?;
    let calls: Vec<Value> = calls
        .into_iter()
        .filter(|e| e["seq"].as_u64().is_some_and(|s| s <= seq1))
        .collect();
    let rss_after = op.memory_mib().1;
    eprintln!(
        "  all Ready in {:.1}s ({} status writes, {} Partner Center requests)",
        elapsed.as_secs_f64(),
        counts.total(),
        calls.len()
    );

    // Tenants per domain at the emulator.
    let mut per_domain: BTreeMap<String, u64> = BTreeMap::new();
    for conn in &generate::CONNS {
        for c in control.customers(conn.tenant, None).await? {
            if let Some(d) = c["domain"].as_str() {
                *per_domain.entry(d.to_ascii_lowercase()).or_default() += 1;
            }
        }
    }
    let domains: HashSet<String> = custs.iter().map(|c| c.domain()).collect();
    let duplicates: u64 = domains
        .iter()
        .map(|d| per_domain.get(d).copied().unwrap_or(0).saturating_sub(1))
        .sum();
    let missing = domains.iter().filter(|d| !per_domain.contains_key(*d)).count();

    // Steady state.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let _ = audit.take(OPERATOR_USER)?;
    let idle_seq = last_seq(&control).await?;
    eprintln!("phase: idle window of {}s", args.idle_secs);
    tokio::time::sleep(Duration::from_secs(args.idle_secs)).await;
    let idle_counts = audit.take(OPERATOR_USER)?;
    let idle_calls = control.requests_since(idle_seq).await?;
    let (peak_rss, rss_end) = op.memory_mib();
    let reconciles = op.reconciles();
    op.stop();

    let secret_creates = cp
        .audit_events()
        .iter()
        .filter(|e| {
            e["user"]["username"] == OPERATOR_USER && e["verb"] == "create" && e["objectRef"]["resource"] == "secrets"
        })
        .count();
    let status_sample = customers_store
        .state()
        .first()
        .map(|o| o.data["status"].clone())
        .context("no Customer in the cache")?;

    eprintln!("phase: floor (operator stopped)");
    let floor_custs = generate::customers(args.customers, "floorc");
    let floor = floor::run(
        &admin,
        &emu.base_url(),
        &floor_custs,
        counts.of("customers"),
        &status_sample,
        args.customer_calls_per_connection.into(),
    )
    .await?;

    let provisioning = by_path(calls.iter().filter(|e| is_provisioning(e)));
    let other = by_path(calls.iter().filter(|e| !is_provisioning(e)));
    let n_f = n as f64;
    let prov_calls: u64 = provisioning.values().sum();
    let results = json!({
        "benchmark": "bench_customers",
        "generated_at": jiff::Timestamp::now().to_string(),
        "git_commit": Command::new("git").args(["rev-parse", "--short", "HEAD"]).output().ok().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()),
        "machine_cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "channel": {"connections": generate::CONNS.len(), "connection_overrides": 1, "plans": generate::PLANS.len(),
            "resellers": generate::RESELLERS.len(), "not_ready": channel_not_ready},
        "customers": n,
        "customer_calls_per_connection": args.customer_calls_per_connection,
        "operator_concurrency_per_kind": args.concurrency,
        "apply_seconds": apply_secs,
        "ready_seconds": elapsed.as_secs_f64(),
        "floor_seconds": floor.elapsed.as_secs_f64(),
        "ratio": elapsed.as_secs_f64() / floor.elapsed.as_secs_f64().max(1e-9),
        "floor_partner_center_calls": floor.pc_calls,
        "floor_status_writes": floor.status_writes,
        "partner_center_provisioning_calls": prov_calls,
        "partner_center_calls_per_customer": prov_calls as f64 / n_f,
        "partner_center_calls_per_customer_min": MIN_CALLS_PER_CUSTOMER,
        "partner_center_provisioning_calls_by_path": provisioning,
        "partner_center_other_calls_by_path": other,
        "tenants_duplicated": duplicates,
        "tenants_missing": missing,
        "status_writes": counts.total(),
        "status_writes_by_resource": counts.status_writes,
        "customer_status_writes_per_customer": counts.of("customers") as f64 / n_f,
        "events_written": counts.events,
        "secret_creates": secret_creates,
        "peak_rss_mib": peak_rss,
        "rss_after_provisioning_mib": rss_after,
        "rss_end_mib": rss_end,
        "idle_window_seconds": args.idle_secs,
        "idle_status_writes": idle_counts.total(),
        "idle_partner_center_calls_by_path": by_path(idle_calls.iter()),
        "idle_partner_center_provisioning_calls": idle_calls.iter().filter(|e| is_provisioning(e)).count(),
        "reconciles_total": reconciles,
    });
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&args.out, serde_json::to_string_pretty(&results)? + "\n")?;
    report::print_table(&results);
    println!("\nJSON: {}", args.out.display());
    emu.shutdown().await;
    if args.keep {
        eprintln!("control plane data kept in {}", cp.dir().display());
    }
    Ok(())
}

/// Ready=True with a tenant id recorded: created (or adopted) and its Secret written.
fn provisioned(o: &DynamicObject) -> bool {
    let st = &o.data["status"];
    is_converged(o.metadata.generation, st) && ready_of(st)["status"] == "True" && st["tenantId"].is_string()
}

/// The calls a Customer's provisioning makes (look-ups, checks, create), none of the connection
/// syncs' (those list customers without a filter).
fn is_provisioning(e: &Value) -> bool {
    let path = e["path"].as_str().unwrap_or_default();
    let query = e["query"].as_str().unwrap_or_default();
    let method = e["method"].as_str().unwrap_or_default();
    path.starts_with("/v1/domains/")
        || path.starts_with("/v1/validations")
        || path.starts_with("/v1/countryvalidationrules")
        || (path.starts_with("/v1/customers") && (method != "GET" || query.contains("filter")))
        || (path.starts_with("/v1/customers/") && method == "GET")
}

/// Requests counted by method and path, ids and domains replaced by placeholders.
fn by_path<'a>(log: impl Iterator<Item = &'a Value>) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for e in log {
        let path: Vec<String> = e["path"]
            .as_str()
            .unwrap_or_default()
            .split('/')
            .map(|seg| {
                if seg.len() == 36 && seg.matches('-').count() == 4 {
                    "{id}".to_string()
                } else if seg.contains(".onmicrosoft.com") {
                    "{domain}".to_string()
                } else {
                    seg.to_string()
                }
            })
            .collect();
        let query = e["query"].as_str().unwrap_or_default();
        let q = if query.contains("filter") { "?filter" } else { "" };
        *m.entry(format!(
            "{} {}{q}",
            e["method"].as_str().unwrap_or_default(),
            path.join("/")
        ))
        .or_default() += 1;
    }
    m
}

async fn last_seq(control: &EmulatorControl) -> Result<u64> {
    Ok(control
        .requests_since(0)
        .await?
        .last()
        .and_then(|e| e["seq"].as_u64())
        .unwrap_or(0))
}
