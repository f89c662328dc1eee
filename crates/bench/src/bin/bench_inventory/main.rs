//! Inventory (audit) benchmark on a real control plane: one Partner Center account (an emulator
//! partner, Indirect provider, Production) behind one PartnerCenterConnection, a plan, two
//! resellers, and Customers adopting tenants the account lists — more of them than the detail
//! budget allows, so the budget binds. For each account size (a fresh control plane, emulator and
//! operator process each) it measures, on syncs requested with the sync-requested annotation:
//! list pages per sync against ceil(customers / 500) (+1 when the last page is full), the time
//! from the first to the last list page against the operator's own Partner Center client paging
//! the same list (the floor, measured in the same run), detail calls (get-by-id) against the
//! budget and `status.inventory.detailsPending` against declared − budget, and peak memory against
//! the same operator and channel with an empty account (measured first). Figures only; nothing is
//! asserted.
//!
//! `bash hack/bench-inventory.sh` builds release and runs it; `bench_inventory --help` lists the
//! knobs. The connection sync and its audit are src/controller/connection/{sync,audit}.rs.

mod floor;
mod generate;
mod report;

use anyhow::{Context as _, Result};
use clap::Parser;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::runtime::reflector::Store;
use partner_center_operator::api::{Customer, CustomerPlan, PartnerCenterConnection, Reseller};
use pco_bench::{apply_all, done_when, watch_kind};
use pco_test_kit::{EmulatorControl, Operator, is_converged, ready_of, wait_until};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const PROVIDER_NS: &str = "csp-system";
/// The field manager of the objects the benchmark applies.
const FIELD_MANAGER: &str = "bench-inventory";
const SYNC_ANNOTATION: &str = "channel.csp.dev/sync-requested";
/// The page size the operator's client asks for (src/partner_center/api.rs).
const PAGE_SIZE: u64 = 500;
/// How often a phase's end condition is checked (on the watch caches: no API calls).
const POLL: Duration = Duration::from_millis(100);
/// The operator answers a requested sync at most every 30 s; a sync of 10,000 customers on a busy
/// debug build takes seconds. Beyond this the sync is reported as not seen.
const SYNC_WAIT: Duration = Duration::from_secs(150);
/// After the sync's last Partner Center call (the indirect resellers), the audit's calls (audit
/// feed, details) follow; the emulator counts as quiet after this long without a request.
const QUIET: Duration = Duration::from_secs(2);

#[derive(Parser, Debug)]
#[command(
    about = "Inventory benchmark: list pages and sync time per sync against a floor, detail calls against the budget, memory against an empty account"
)]
struct Args {
    /// Customers in the account; a comma-separated list runs one size after the other, each on a
    /// fresh control plane, emulator and operator (the empty account is always measured first).
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    customers: Vec<usize>,
    /// Customers declared (adopting listed tenants); more than --detail-budget so the budget binds.
    #[arg(long, default_value_t = 150)]
    declared: usize,
    /// The operator's detail calls per connection and hour (PCO_INVENTORY_DETAIL_CALLS_PER_HOUR).
    #[arg(long, default_value_t = 100)]
    detail_budget: u32,
    /// Requested syncs measured per size (answered at most every 30 s).
    #[arg(long, default_value_t = 3)]
    syncs: usize,
    /// Pagings of the whole list by the floor client per size.
    #[arg(long, default_value_t = 5)]
    floor_runs: usize,
    /// The operator's --concurrency (reconciliations at once per kind).
    #[arg(long, default_value_t = 8)]
    concurrency: u16,
    /// Concurrent writers creating the objects.
    #[arg(long, default_value_t = 8)]
    writers: usize,
    /// The operator binary (release build).
    #[arg(long, default_value = "target/release/partner-center-operator")]
    operator_bin: PathBuf,
    /// Where to write the JSON results (rewritten after each size).
    #[arg(long, default_value = "bench/results/inventory.json")]
    out: PathBuf,
    /// Keep each control plane's directory (logs, audit log) after the run.
    #[arg(long)]
    keep: bool,
    /// Print the tables of an earlier run's JSON instead of running.
    #[arg(long)]
    report: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(path) = &args.report {
        let r: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
        let sizes = r["sizes"].as_array().cloned().unwrap_or_default();
        print_all(&r["empty_account"], &sizes);
        return Ok(());
    }
    anyhow::ensure!(
        args.syncs >= 1 && args.floor_runs >= 1,
        "--syncs and --floor-runs must be at least 1"
    );
    eprintln!("== empty account (the memory floor)");
    let empty = run(&args, 0, None).await?;
    let empty_peak = empty["peak_rss_mib"].as_f64();
    write_results(&args, &empty, &[])?;
    let mut sizes = Vec::new();
    for &n in &args.customers {
        eprintln!("== {n} customers");
        sizes.push(run(&args, n, empty_peak).await?);
        // Each size's results are kept as soon as they exist: a long curve interrupted later
        // still leaves the sizes it finished.
        write_results(&args, &empty, &sizes)?;
    }
    print_all(&empty, &sizes);
    println!("\nJSON: {}", args.out.display());
    Ok(())
}

fn print_all(empty: &Value, sizes: &[Value]) {
    report::print_table(empty);
    for size in sizes {
        report::print_table(size);
    }
    report::print_curve(empty, sizes, &slopes(sizes));
}

fn write_results(args: &Args, empty: &Value, sizes: &[Value]) -> Result<()> {
    let results = json!({
        "benchmark": "bench_inventory",
        "generated_at": jiff::Timestamp::now().to_string(),
        "git_commit": Command::new("git").args(["rev-parse", "--short", "HEAD"]).output().ok().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()),
        "machine_cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "operator_bin": args.operator_bin.display().to_string(),
        "page_size": PAGE_SIZE,
        "empty_account": empty,
        "sizes": sizes,
        "peak_rss_mib_per_1000_between_sizes": slopes(sizes),
    });
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&args.out, serde_json::to_string_pretty(&results)? + "\n")?;
    Ok(())
}

/// One requested sync as the emulator saw it.
struct Sync {
    /// List requests of the sync's listing (one correlation id: src/partner_center/api.rs pages
    /// with one per listing).
    pages: u64,
    /// First to last list page, by the request log's timestamps.
    list_seconds: f64,
    /// Detail calls the operator counted during the sync and its audit.
    detail_calls: u64,
}

/// One account size: `customers` in the account, min(--declared, customers) declared.
async fn run(args: &Args, customers: usize, empty_peak: Option<f64>) -> Result<Value> {
    let declared = args.declared.min(customers);
    let pco_bench::Setup {
        cp,
        emu,
        control,
        admin,
    } = pco_bench::setup(
        &generate::fixtures_yaml(customers),
        &[PROVIDER_NS],
        "bench-inventory",
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

    // The declared Customers name tenants the account lists (as the emulator holds them), and
    // exist before the operator starts: it meets a channel with an existing book of customers.
    let listed = control.customers(generate::PARTNER_TENANT, None).await?;
    let tenants: Vec<String> = listed
        .iter()
        .filter_map(|c| c["id"].as_str().map(str::to_string))
        .take(declared)
        .collect();
    anyhow::ensure!(
        tenants.len() == declared,
        "the emulator lists {} customers, {declared} to declare",
        listed.len()
    );
    apply_all(
        &admin,
        FIELD_MANAGER,
        tenants
            .iter()
            .enumerate()
            .map(|(i, t)| generate::customer_object(i, t))
            .collect(),
        args.writers,
    )
    .await?;

    let conns = watch_kind(&admin, ApiResource::erase::<PartnerCenterConnection>(&()));
    let channel: Vec<Store<DynamicObject>> = vec![
        watch_kind(&admin, ApiResource::erase::<CustomerPlan>(&())),
        watch_kind(&admin, ApiResource::erase::<Reseller>(&())),
    ];
    let customers_store = watch_kind(&admin, ApiResource::erase::<Customer>(&()));
    let seq_start = control.last_seq().await?;
    let mut op = pco_bench::start_operator(
        &args.operator_bin,
        &cp,
        &emu_addr,
        args.concurrency,
        &[],
        &[("PCO_INVENTORY_DETAIL_CALLS_PER_HOUR", args.detail_budget.to_string())],
    )?;
    let op_started = Instant::now();

    // The first sync: the connection's status carries the inventory of the whole account.
    let (_, first_sync) = wait_until("first sync", Duration::from_secs(600), POLL, || {
        let inv = connection(&conns).map(|c| c.data["status"]["inventory"].clone());
        let n = inv.as_ref().and_then(|i| i["customers"].as_u64());
        done_when(
            n == Some(customers as u64),
            format!("status.inventory.customers {n:?} of {customers}"),
        )
    })
    .await?;
    // The plan, the two resellers and the connection.
    let n_channel = 4;
    wait_until("channel convergence", Duration::from_secs(300), POLL, || {
        let mut all: Vec<std::sync::Arc<DynamicObject>> = channel.iter().flat_map(|s| s.state()).collect();
        all.extend(connection(&conns));
        let n = all
            .iter()
            .filter(|o| is_converged(o.metadata.generation, &o.data["status"]))
            .count();
        done_when(n == n_channel, format!("{n}/{n_channel} converged"))
    })
    .await?;
    let conn_ready = connection(&conns)
        .map(|c| ready_of(&c.data["status"]))
        .unwrap_or(Value::Null);
    if conn_ready["status"] != "True" {
        eprintln!("  connection not Ready: {conn_ready}");
    }
    wait_until("Customers adopted", Duration::from_secs(900), POLL, || {
        let done = customers_store.state().iter().filter(|o| adopted(o)).count();
        done_when(done == declared, format!("{done}/{declared} Ready (Adopted)"))
    })
    .await?;
    let adoption = op_started.elapsed();
    eprintln!(
        "  first sync {:.1}s, {declared} Customers adopted {:.1}s after the operator started",
        first_sync.as_secs_f64(),
        adoption.as_secs_f64()
    );

    let mut syncs = Vec::new();
    for i in 0..args.syncs {
        let s = measured_sync(&admin, &control, &op, &format!("bench-inventory-{i}")).await?;
        eprintln!(
            "  requested sync {}: {} list pages in {:.2}s, {} detail calls",
            i + 1,
            s.pages,
            s.list_seconds,
            s.detail_calls
        );
        syncs.push(s);
    }
    // The status follows the audit at the reconcile the sync queues.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let inventory = connection(&conns)
        .map(|c| c.data["status"]["inventory"].clone())
        .unwrap_or(Value::Null);
    let metrics = op.admin_get("/metrics").1;
    let detail_calls = calls_of(&metrics, "get_customer_details");
    let adoption_calls = calls_of(&metrics, "get_customer");
    let log = control.requests_since(seq_start).await?;
    let by_id_at_emulator = log.iter().filter(|e| is_get_by_id(e)).count();
    let list_pages_window = log.iter().filter(|e| is_list_page(e)).count();
    let (peak_rss, rss) = op.memory_mib();
    let reconciles = op.reconciles();
    op.stop();

    eprintln!(
        "  floor: the operator's client paging the list {} times (operator stopped)",
        args.floor_runs
    );
    let pc = floor::client(&emu.base_url())?;
    let floor_seq = control.last_seq().await?;
    let pagings = floor::run(pc.as_ref(), args.floor_runs).await?;
    let floor_log = control.requests_since(floor_seq).await?;
    let floor_listings = listings(&floor_log);
    emu.shutdown().await;
    if args.keep {
        eprintln!("  control plane data kept in {}", cp.dir().display());
    }

    let pages_floor = expected_pages(customers as u64);
    let sync_secs: Vec<f64> = syncs.iter().map(|s| s.list_seconds).collect();
    let floor_secs: Vec<f64> = floor_listings.iter().map(|l| l.1).collect();
    let pages: Vec<u64> = syncs.iter().map(|s| s.pages).collect();
    let pages_median = median(&pages.iter().map(|p| *p as f64).collect::<Vec<_>>());
    let (op_med, floor_med) = (median(&sync_secs), median(&floor_secs));
    let pending = inventory["detailsPending"].as_i64();
    let expected_pending = declared.saturating_sub(args.detail_budget as usize);
    let over_empty = empty_peak.map(|e| peak_rss - e);
    let per_1000 = over_empty
        .filter(|_| customers > 0)
        .map(|d| d / (customers as f64 / 1000.0));
    Ok(json!({
        "customers": customers,
        "declared": declared,
        "detail_budget_per_hour": args.detail_budget,
        "operator_concurrency_per_kind": args.concurrency,
        "connection_ready": conn_ready,
        "first_sync_seconds": first_sync.as_secs_f64(),
        "adoption_seconds": adoption.as_secs_f64(),
        "syncs_measured": syncs.len(),
        "list_pages_per_sync": pages,
        "list_pages_floor": pages_floor,
        "list_pages_ratio": ratio(pages_median, pages_floor as f64),
        "sync_list_seconds": sync_secs,
        "sync_list_seconds_median": op_med,
        "floor_list_seconds": floor_secs,
        "floor_list_seconds_median": floor_med,
        "floor_list_pages": floor_listings.iter().map(|l| l.0).collect::<Vec<_>>(),
        "floor_wall_seconds": pagings.iter().map(|p| p.elapsed.as_secs_f64()).collect::<Vec<_>>(),
        "floor_requests": pagings.iter().map(|p| p.requests).collect::<Vec<_>>(),
        "floor_customers_listed": pagings.first().map(|p| p.customers),
        "sync_ratio": ratio(op_med, floor_med),
        "detail_calls": detail_calls,
        "detail_calls_in_measured_syncs": syncs.iter().map(|s| s.detail_calls).collect::<Vec<_>>(),
        "adoption_get_by_id_calls": adoption_calls,
        "get_by_id_at_emulator": by_id_at_emulator,
        "list_pages_in_window": list_pages_window,
        "details_pending": pending,
        "details_pending_expected": expected_pending,
        "inventory": inventory,
        "peak_rss_mib": peak_rss,
        "rss_end_mib": rss,
        "peak_rss_over_empty_mib": over_empty,
        "peak_rss_over_empty_mib_per_1000_customers": per_1000,
        "reconciles_total": reconciles,
    }))
}

fn connection(store: &Store<DynamicObject>) -> Option<std::sync::Arc<DynamicObject>> {
    store.state().into_iter().next()
}

/// Ready=True with the tenant id recorded.
fn adopted(o: &DynamicObject) -> bool {
    let st = &o.data["status"];
    is_converged(o.metadata.generation, st) && ready_of(st)["status"] == "True" && st["tenantId"].is_string()
}

/// Asks for a sync with the documented annotation and waits until the emulator has seen its
/// listing, its last call (the indirect resellers) and the audit's calls after it.
async fn measured_sync(admin: &kube::Client, control: &EmulatorControl, op: &Operator, value: &str) -> Result<Sync> {
    let before = calls_of(&op.admin_get("/metrics").1, "get_customer_details");
    let from = control.last_seq().await?;
    let api: Api<DynamicObject> = Api::namespaced_with(
        admin.clone(),
        PROVIDER_NS,
        &ApiResource::erase::<PartnerCenterConnection>(&()),
    );
    api.patch(
        generate::CONNECTION,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {SYNC_ANNOTATION: value}}})),
    )
    .await
    .context("request a sync")?;
    let started = Instant::now();
    let mut seen = None;
    while started.elapsed() < SYNC_WAIT {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let log = control.requests_since(from).await?;
        let first_page = log.iter().position(is_list_page);
        let done = first_page.is_some_and(|p| log[p..].iter().any(is_reseller_listing));
        if done {
            seen = Some(());
            break;
        }
    }
    anyhow::ensure!(seen.is_some(), "requested sync {value}: not seen within {SYNC_WAIT:?}");
    // The audit's calls (audit feed, details) come after the sync's last call.
    let mut last = control.last_seq().await?;
    let mut quiet_since = Instant::now();
    let quiet_started = Instant::now();
    while quiet_since.elapsed() < QUIET && quiet_started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = control.last_seq().await?;
        if now != last {
            last = now;
            quiet_since = Instant::now();
        }
    }
    let log = control.requests_since(from).await?;
    let (pages, list_seconds) = listings(&log).first().copied().unwrap_or((0, f64::NAN));
    let after = calls_of(&op.admin_get("/metrics").1, "get_customer_details");
    Ok(Sync {
        pages,
        list_seconds,
        detail_calls: after.saturating_sub(before),
    })
}

/// A request of the partner's plain customer listing (no filter: the look-ups by domain and by
/// indirect reseller filter), either path form of the next links.
fn is_list_page(e: &Value) -> bool {
    let path = e["path"].as_str().unwrap_or_default();
    let query = e["query"].as_str().unwrap_or_default();
    e["tenantId"] == generate::PARTNER_TENANT
        && e["method"] == "GET"
        && (path == "/v1/customers" || path == "/customers")
        && !query.contains("filter")
}

/// `GET /v1/customers/{id}`: a detail call of the audit or an adoption's look-up.
fn is_get_by_id(e: &Value) -> bool {
    let path = e["path"].as_str().unwrap_or_default();
    e["tenantId"] == generate::PARTNER_TENANT
        && e["method"] == "GET"
        && path.starts_with("/v1/customers/")
        && path.matches('/').count() == 3
        && path != "/v1/customers/relationshiprequests"
}

/// The sync's last Partner Center call: the indirect resellers (src/controller/connection/sync.rs).
fn is_reseller_listing(e: &Value) -> bool {
    e["tenantId"] == generate::PARTNER_TENANT && e["path"].as_str().is_some_and(|p| p.ends_with("/relationships"))
}

/// The listings in `log`, in order: (list pages, seconds from the first page to the last by the
/// log's timestamps), one per correlation id.
fn listings(log: &[Value]) -> Vec<(u64, f64)> {
    let mut order: Vec<String> = Vec::new();
    let mut by_id: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for e in log.iter().filter(|e| is_list_page(e)) {
        let id = e["correlationId"].as_str().unwrap_or_default().to_string();
        if !by_id.contains_key(&id) {
            order.push(id.clone());
        }
        by_id.entry(id).or_default().push(e);
    }
    order
        .iter()
        .map(|id| {
            let pages = &by_id[id];
            let time = |e: &Value| e["time"].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok());
            let secs = match (pages.first().and_then(|e| time(e)), pages.last().and_then(|e| time(e))) {
                // Saturating: a clock moved backwards reads as zero, not as a negative time.
                (Some(a), Some(b)) => (b.as_nanosecond().saturating_sub(a.as_nanosecond())).max(0) as f64 / 1e9,
                _ => f64::NAN,
            };
            (pages.len() as u64, secs)
        })
        .collect()
}

/// List requests a sync needs at least: ceil(n / 500) pages, plus the documented end-of-paging
/// answer after a full last page (and the one page of an empty account) — floor(n / 500) + 1.
fn expected_pages(customers: u64) -> u64 {
    customers / PAGE_SIZE + 1
}

/// pco_partner_center_calls_total of `operation`, every outcome (0 when the admin server did not
/// answer). Clamped: a value that is not a finite count reads as 0.
fn calls_of(metrics: &str, operation: &str) -> u64 {
    let prefix = format!("pco_partner_center_calls_total{{operation=\"{operation}\",");
    metrics
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| v as u64)
        .fold(0u64, u64::saturating_add)
}

/// Peak RSS added per 1,000 customers from one size to the next: the inventory's own cost, without
/// the declared Customers (the same number at every size) that the difference to the empty account
/// includes.
fn slopes(sizes: &[Value]) -> Vec<Value> {
    sizes
        .windows(2)
        .filter_map(|w| {
            let (a, b) = (w[0]["customers"].as_f64()?, w[1]["customers"].as_f64()?);
            let (ma, mb) = (w[0]["peak_rss_mib"].as_f64()?, w[1]["peak_rss_mib"].as_f64()?);
            (b > a).then(|| json!({"from": a as u64, "to": b as u64, "mib_per_1000": (mb - ma) / ((b - a) / 1000.0)}))
        })
        .collect()
}

fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// `a / b`, or null when the floor is zero or unknown (one page: no time between pages).
fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0 && a.is_finite() && b.is_finite()).then(|| a / b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(seq: u64, correlation: &str, time: &str, path: &str) -> Value {
        json!({"seq": seq, "tenantId": generate::PARTNER_TENANT, "method": "GET", "path": path,
            "query": "size=500", "correlationId": correlation, "time": time})
    }

    #[test]
    fn pages_a_sync_needs() {
        // (customers, list requests): a full last page is followed by the end-of-paging answer.
        for (n, pages) in [
            (0, 1),
            (1, 1),
            (499, 1),
            (500, 2),
            (501, 2),
            (1000, 3),
            (9_999, 20),
            (10_000, 21),
        ] {
            assert_eq!(expected_pages(n), pages, "{n} customers");
        }
    }

    #[test]
    fn listings_are_grouped_by_correlation_id_and_timed_first_to_last_page() {
        let log = vec![
            page(1, "a", "2026-12-01T20:00:00.100Z", "/v1/customers"),
            page(2, "a", "2026-12-01T20:00:00.350Z", "/customers"),
            // A look-up by domain is no list page.
            json!({"seq": 3, "tenantId": generate::PARTNER_TENANT, "method": "GET", "path": "/v1/customers",
                "query": "size=0&filter=x", "correlationId": "b", "time": "2026-12-01T20:00:00.400Z"}),
            page(4, "c", "2026-12-01T20:00:01Z", "/v1/customers"),
            page(5, "a", "2026-12-01T20:00:00.600Z", "/v1/customers"),
        ];
        let got = listings(&log);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, 3);
        assert!((got[0].1 - 0.5).abs() < 1e-9, "{}", got[0].1);
        assert_eq!(got[1], (1, 0.0));
        // A clock that went backwards reads as no time, not a negative one.
        let back = vec![
            page(1, "a", "2026-12-01T20:00:01Z", "/v1/customers"),
            page(2, "a", "2026-12-01T20:00:00Z", "/customers"),
        ];
        assert_eq!(listings(&back), vec![(2, 0.0)]);
    }

    #[test]
    fn calls_are_summed_over_outcomes_and_clamped() {
        let metrics = "pco_partner_center_calls_total{operation=\"get_customer_details\",outcome=\"Ok\"} 98\n\
            pco_partner_center_calls_total{operation=\"get_customer_details\",outcome=\"Throttled\"} 2\n\
            pco_partner_center_calls_total{operation=\"get_customer\",outcome=\"Ok\"} 151\n\
            pco_partner_center_calls_total{operation=\"get_customer\",outcome=\"Bad\"} NaN\n\
            pco_partner_center_calls_total{operation=\"get_customer\",outcome=\"Neg\"} -4\n";
        assert_eq!(calls_of(metrics, "get_customer_details"), 100);
        assert_eq!(calls_of(metrics, "get_customer"), 151);
        assert_eq!(calls_of(metrics, "list_customers"), 0);
        assert_eq!(calls_of("", "get_customer"), 0);
    }

    #[test]
    fn medians_ratios_and_slopes() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, f64::NAN]), 2.5);
        assert!(median(&[]).is_nan());
        assert_eq!(ratio(2.0, 0.0), None);
        assert_eq!(ratio(3.0, 2.0), Some(1.5));
        let sizes = vec![
            json!({"customers": 1000, "peak_rss_mib": 30.0}),
            json!({"customers": 10000, "peak_rss_mib": 39.0}),
        ];
        assert_eq!(
            slopes(&sizes),
            vec![json!({"from": 1000, "to": 10000, "mib_per_1000": 1.0})]
        );
    }
}
