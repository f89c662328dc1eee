//! Scale benchmark of the operator on a real control plane: a generated channel of connections
//! (emulator partners), plans and resellers; cold convergence and fan-out against a floor measured
//! in the same run, steady-state writes and Partner Center calls, peak memory and reconcile counts.
//! Prints a table and writes JSON. Figures only; nothing is asserted.
//!
//! `bash hack/bench.sh` builds release and runs it; `bench_channel --help` lists the knobs.
//!
//! The floor is a minimal kube-rs client (same client library, no client-side rate limit — the
//! operator has none either) that server-side-applies as many status patches per kind as the
//! operator wrote in the phase (counted in the API server's audit log), with the operator's
//! concurrency per kind, while the operator is stopped. The ratio therefore measures what the
//! operator spends beyond the API server's own cost of those writes.
//!
//! The steps, in order: [`generate`], [`apply`], [`measure_cold`], [`idle`], [`measure_fanout`],
//! [`floors`] (operator stopped), [`report`]. The control plane, operator process, audit log and
//! emulator are the test kit's (crates/test-kit), the same the integration tests use.

mod floor;
mod generate;
mod report;

use anyhow::Result;
use clap::Parser;
use generate::Channel;
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::runtime::reflector::Store;
use partner_center_emulator::RunningEmulator;
use partner_center_operator::api::{CustomerPlan, PartnerCenterConnection, Reseller};
use pco_bench::{apply_all, done_when, watch_kind};
use pco_test_kit::{AuditLog, ControlPlane, Counts, EmulatorControl, Operator, is_converged, ready_of, wait_until};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

const PROVIDER_NS: &str = "csp-system";
/// The field manager of the objects the benchmark applies.
const FIELD_MANAGER: &str = "bench-channel";
const SYNC_ANNOTATION: &str = "channel.csp.dev/sync-requested";
/// Partner Center calls per sync of an AppPlusUser connection with a cached access token:
/// organization profile, MPN profile, customers (one page: < 500 customers), indirect resellers
/// (`/v1/relationships`), the audit feed (`/v1/auditrecords`).
const CALLS_PER_SYNC: u64 = 5;
/// How often a phase's end condition is checked (on the watch caches: no API calls).
const POLL: Duration = Duration::from_millis(100);
/// The audit log user the operator runs as.
const OPERATOR_USER: &str = "operator";

#[derive(Parser, Debug)]
#[command(about = "Scale benchmark: cold convergence, fan-out, steady state and memory on a real control plane")]
struct Args {
    /// Connections (emulator partners), in pairs of the same region/type/environment. At least 4.
    #[arg(long, default_value_t = 20)]
    connections: usize,
    /// Customer plans (the root Reseller may hold at most 64 of them, so the others are granted to nobody).
    #[arg(long, default_value_t = 200)]
    plans: usize,
    /// Resellers, in a tree of depth 4 (root, 20 distributors, 24 resellers each, the rest below).
    /// A comma-separated list runs one channel per size (each on a fresh control plane) and
    /// writes the cost curve: `--resellers 1000,5000,20000,50000`.
    #[arg(long, value_delimiter = ',', default_value = "5000")]
    resellers: Vec<usize>,
    /// Idle window for the steady-state counts, in seconds.
    #[arg(long, default_value_t = 120)]
    idle_secs: u64,
    /// Reconciliations at once per kind, for the operator and the floor client alike.
    #[arg(long, default_value_t = 8)]
    concurrency: u16,
    /// Concurrent writers creating the channel.
    #[arg(long, default_value_t = 8)]
    writers: usize,
    /// The operator binary (release build).
    #[arg(long, default_value = "target/release/partner-center-operator")]
    operator_bin: PathBuf,
    /// Where to write the JSON results.
    #[arg(long, default_value = "bench/results/channel.json")]
    out: PathBuf,
    /// Keep the control plane directory (logs, audit log) after the run.
    #[arg(long)]
    keep: bool,
}

/// The applied channel: control plane, emulator, watch caches, audit log, no operator yet.
struct Bench {
    ch: Channel,
    cp: ControlPlane,
    emu: RunningEmulator,
    control: EmulatorControl,
    admin: kube::Client,
    stores: Stores,
    audit: AuditLog,
    n_objects: usize,
    create_secs: f64,
}

struct Cold {
    elapsed: Duration,
    counts: Counts,
    reconciles: BTreeMap<String, u64>,
    rss_after: f64,
    not_ready: usize,
    /// Warnings in the converged statuses, each a legitimate Event: a Reseller's
    /// `status.warningCount`, and a connection's audit findings (each nonzero count of
    /// `status.inventory` is announced once, as `UndeclaredCustomers` and the like).
    warnings: u64,
    cpu: Cpu,
    evaluations: Evaluations,
}

/// The operator's evaluations of the whole cache in a phase: how many, and their seconds in all.
#[derive(Clone, Copy, Default)]
struct Evaluations {
    count: f64,
    seconds: f64,
}

impl Evaluations {
    fn now(op: &Operator) -> Self {
        Self {
            count: op.counter("pco_evaluations_total"),
            seconds: op.counter("pco_evaluation_duration_seconds_sum"),
        }
    }

    fn since(self, start: Evaluations) -> Self {
        Self {
            count: self.count - start.count,
            seconds: self.seconds - start.seconds,
        }
    }
}

/// CPU seconds of the operator, kube-apiserver and etcd: on a machine of few cores they share it,
/// so a phase slower than its floor shows here whether the operator's own work was the cause.
#[derive(Clone, Copy)]
struct Cpu {
    operator: f64,
    apiserver: f64,
    etcd: f64,
}

impl Cpu {
    /// Before the operator starts: the control plane's so far, the operator's 0 (its process is new).
    fn before_operator(cp: &ControlPlane) -> Self {
        let (apiserver, etcd) = cp.cpu_seconds();
        Self {
            operator: 0.0,
            apiserver,
            etcd,
        }
    }

    fn now(cp: &ControlPlane, op: &Operator) -> Self {
        Self {
            operator: op.cpu_seconds(),
            ..Self::before_operator(cp)
        }
    }

    fn since(self, start: Cpu) -> Self {
        Self {
            operator: self.operator - start.operator,
            apiserver: self.apiserver - start.apiserver,
            etcd: self.etcd - start.etcd,
        }
    }

    fn json(self, seconds: f64) -> Value {
        json!({"operator": self.operator, "apiserver": self.apiserver, "etcd": self.etcd,
            "operator_cores": self.operator / seconds.max(1e-9),
            "all_cores": (self.operator + self.apiserver + self.etcd) / seconds.max(1e-9)})
    }
}

struct Idle {
    settle: Duration,
    counts: Counts,
    calls: usize,
    by_path: BTreeMap<String, u64>,
    syncs: u64,
    calls_allowed: u64,
}

struct Fanout {
    targets: HashSet<String>,
    elapsed: Duration,
    counts: Counts,
    reason: String,
    cpu: Cpu,
    evaluations: Evaluations,
}

/// The operator at the end of the run, before it was stopped.
struct End {
    peak_rss: f64,
    rss: f64,
    reconciles: BTreeMap<String, u64>,
}

/// (seconds, status writes) of the floor client for each phase.
struct Floors {
    cold: (Duration, u64),
    fanout: (Duration, u64),
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let mut sizes = Vec::new();
    for &resellers in &args.resellers {
        eprintln!("== {resellers} resellers");
        sizes.push(run(&args, resellers).await?);
        // Each size's results are kept as soon as they exist: a long curve interrupted later
        // still leaves the sizes it finished.
        write_results(&args, &sizes)?;
    }
    for size in &sizes {
        report::print_table(size);
    }
    report::print_curve(&sizes);
    println!("\nJSON: {}", args.out.display());
    Ok(())
}

/// The one JSON of a run: the machine and commit, and one entry per size (the cost curve).
fn write_results(args: &Args, sizes: &[Value]) -> Result<()> {
    let results = json!({
        "benchmark": "bench_channel",
        "generated_at": jiff::Timestamp::now().to_string(),
        "git_commit": Command::new("git").args(["rev-parse", "--short", "HEAD"]).output().ok().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()),
        "machine_cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "sizes": sizes,
    });
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&args.out, serde_json::to_string_pretty(&results)? + "\n")?;
    Ok(())
}

/// One size: generate, apply, measure, report (as JSON).
async fn run(args: &Args, resellers: usize) -> Result<Value> {
    let ch = generate::generate(args.connections, args.plans, resellers)?;
    describe(&ch);
    let mut bench = apply(args, ch).await?;
    let cpu_at_start = Cpu::before_operator(&bench.cp);
    let mut op = pco_bench::start_operator(
        &args.operator_bin,
        &bench.cp,
        &bench.emu.addr.to_string(),
        args.concurrency,
        &[],
        &[],
    )?;
    let cold = measure_cold(&mut bench, &op, cpu_at_start).await?;
    let idle = idle(&mut bench, args).await?;
    let fanout = measure_fanout(&mut bench, &op).await?;
    let (peak_rss, rss) = op.memory_mib();
    let end = End {
        peak_rss,
        rss,
        reconciles: op.reconciles(),
    };
    op.stop();
    let floors = floors(&bench, &cold, &fanout, args.concurrency.into()).await?;
    let results = results(args, &bench, &cold, &idle, &fanout, &end, &floors);
    bench.emu.shutdown().await;
    if args.keep {
        eprintln!("control plane data kept in {}", bench.cp.dir().display());
    }
    Ok(results)
}

fn describe(ch: &Channel) {
    let overrides = ch.resellers.iter().filter(|r| r.override_plan.is_some()).count();
    eprintln!(
        "channel: {} connections, {} plans, {} resellers (depth 4, {:.2} plans each on average, {overrides} with an override)",
        ch.conns.len(),
        ch.plans.len(),
        ch.resellers.len(),
        ch.grants_per_reseller()
    );
}

/// A control plane, the emulator with one partner per connection, the channel created by
/// server-side apply (no operator running yet), and watch caches that have seen all of it.
async fn apply(args: &Args, ch: Channel) -> Result<Bench> {
    let pco_bench::Setup {
        cp,
        emu,
        control,
        admin,
    } = pco_bench::setup(
        &generate::fixtures_yaml(&ch),
        &[PROVIDER_NS],
        "bench-channel",
        args.keep,
    )
    .await?;

    let created = std::time::Instant::now();
    let emu_addr = emu.addr.to_string();
    apply_all(
        &admin,
        FIELD_MANAGER,
        generate::connection_objects(&ch, &emu_addr),
        args.writers,
    )
    .await?;
    apply_all(&admin, FIELD_MANAGER, generate::plan_objects(&ch), args.writers).await?;
    apply_all(&admin, FIELD_MANAGER, generate::reseller_objects(&ch), args.writers).await?;
    let create_secs = created.elapsed().as_secs_f64();
    let n_objects = ch.conns.len() + ch.plans.len() + ch.resellers.len();
    eprintln!(
        "created {n_objects} objects (+{} Secrets) in {create_secs:.1}s",
        ch.conns.len()
    );

    let stores = Stores {
        conns: watch_kind(&admin, ApiResource::erase::<PartnerCenterConnection>(&())),
        plans: watch_kind(&admin, ApiResource::erase::<CustomerPlan>(&())),
        resellers: watch_kind(&admin, ApiResource::erase::<Reseller>(&())),
    };
    wait_until("bench watch caches", Duration::from_secs(120), POLL, || {
        let n = stores.all().len();
        done_when(n == n_objects, format!("{n}/{n_objects} cached"))
    })
    .await?;
    let audit = AuditLog::from_now(&cp);
    Ok(Bench {
        ch,
        cp,
        emu,
        control,
        admin,
        stores,
        audit,
        n_objects,
        create_secs,
    })
}

/// The operator (release build) as user "operator", its admin server on a known port.
/// Phase 1: operator start → every object converged (judged on the bench's watch caches).
async fn measure_cold(bench: &mut Bench, op: &Operator, start: Cpu) -> Result<Cold> {
    eprintln!("phase: cold convergence");
    let n_objects = bench.n_objects;
    let ((), elapsed) = wait_until("cold convergence", Duration::from_secs(1800), POLL, || {
        let n = bench.stores.all().iter().filter(|o| converged(o)).count();
        done_when(n == n_objects, format!("{n}/{n_objects} converged"))
    })
    .await?;
    let counts = bench.audit.take(OPERATOR_USER)?;
    let cpu = Cpu::now(&bench.cp, op).since(start);
    let evaluations = Evaluations::now(op);
    let reconciles = op.reconciles();
    let (_, rss_after) = op.memory_mib();
    let not_ready = bench
        .stores
        .all()
        .iter()
        .filter(|o| ready_of(&o.data["status"])["status"] == "False")
        .count();
    let findings = |o: &DynamicObject| {
        let inventory = &o.data["status"]["inventory"];
        ["undeclared", "missing", "outsideRegion", "wrongReseller"]
            .iter()
            .filter(|f| inventory[**f].as_i64().unwrap_or(0) > 0)
            .count() as u64
    };
    let warnings = bench
        .stores
        .all()
        .iter()
        .map(|o| o.data["status"]["warningCount"].as_u64().unwrap_or(0) + findings(o))
        .sum();
    eprintln!(
        "  converged in {:.1}s, {} status writes, {not_ready} objects with final verdict Ready=False",
        elapsed.as_secs_f64(),
        counts.total()
    );
    Ok(Cold {
        elapsed,
        counts,
        reconciles,
        rss_after,
        not_ready,
        warnings,
        cpu,
        evaluations,
    })
}

/// Phase 2: steady state over an idle window — status writes (audit log) and Partner Center
/// calls (the emulator's request log).
async fn idle(bench: &mut Bench, args: &Args) -> Result<Idle> {
    let settle = Duration::from_secs(10);
    tokio::time::sleep(settle).await;
    let _ = bench.audit.take(OPERATOR_USER)?;
    let seq0 = bench
        .control
        .requests_since(0)
        .await?
        .last()
        .and_then(|e| e["seq"].as_u64())
        .unwrap_or(0);
    eprintln!("phase: idle window of {}s", args.idle_secs);
    tokio::time::sleep(Duration::from_secs(args.idle_secs)).await;
    let counts = bench.audit.take(OPERATOR_USER)?;
    let calls = bench.control.requests_since(seq0).await?;
    let syncs = calls
        .iter()
        .filter(|e| {
            e["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/v1/profiles/organization"))
        })
        .count() as u64;
    // What the calls were, by path without query (ids included: a per-tenant call would show).
    let mut by_path: BTreeMap<String, u64> = BTreeMap::new();
    for e in &calls {
        let path = e["path"].as_str().unwrap_or_default();
        let path = path.split('?').next().unwrap_or_default();
        *by_path
            .entry(format!("{} {path}", e["method"].as_str().unwrap_or_default()))
            .or_default() += 1;
    }
    // Sync interval 1m with ±10 % jitter: at most ceil(window / 54 s) syncs per connection.
    let max_syncs_per_conn = args.idle_secs.div_ceil(54);
    let calls_allowed = max_syncs_per_conn
        .saturating_mul(CALLS_PER_SYNC)
        .saturating_mul(bench.ch.conns.len() as u64);
    Ok(Idle {
        settle,
        counts,
        calls: calls.len(),
        by_path,
        syncs,
        calls_allowed,
    })
}

/// Phase 3: fan-out. Partner Center now reports a country outside connection 0's region; a sync
/// request makes the operator see it; every reseller with plan 0 must show it unusable.
async fn measure_fanout(bench: &mut Bench, op: &Operator) -> Result<Fanout> {
    let hot_conn = &bench.ch.conns[0];
    let hot_plan = &bench.ch.plans[0].name;
    let targets: HashSet<String> = bench
        .stores
        .resellers
        .state()
        .iter()
        .filter(|o| effective_through(o, hot_plan, &hot_conn.name).is_some_and(|p| p["usable"] == true))
        .map(|o| o.name_any())
        .collect();
    eprintln!(
        "phase: fan-out to {} resellers through {}",
        targets.len(),
        hot_conn.name
    );
    let partner = format!("/_emulator/partners/{}", hot_conn.tenant);
    bench
        .control
        .call(reqwest::Method::POST, &partner, Some(json!({"country": "US"})))
        .await?;
    let _ = bench.audit.take(OPERATOR_USER)?;
    let (cpu_start, evaluations_start) = (Cpu::now(&bench.cp, op), Evaluations::now(op));
    let conns: Api<PartnerCenterConnection> = Api::namespaced(bench.admin.clone(), PROVIDER_NS);
    let request = json!({"metadata": {"annotations": {SYNC_ANNOTATION: "bench-fanout"}}});
    conns
        .patch(&hot_conn.name, &PatchParams::default(), &Patch::Merge(request))
        .await?;
    let ((), elapsed) = wait_until("fan-out", Duration::from_secs(900), POLL, || {
        let done = bench
            .stores
            .resellers
            .state()
            .iter()
            .filter(|o| targets.contains(&o.name_any()))
            .filter(|o| effective_through(o, hot_plan, &hot_conn.name).is_some_and(|p| p["usable"] == false))
            .count();
        done_when(done == targets.len(), format!("{done}/{} reflect it", targets.len()))
    })
    .await?;
    // Writes still in flight when the last target flipped belong to the phase too.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let counts = bench.audit.take(OPERATOR_USER)?;
    let cpu = Cpu::now(&bench.cp, op).since(cpu_start);
    let evaluations = Evaluations::now(op).since(evaluations_start);
    let reason = bench
        .stores
        .resellers
        .state()
        .iter()
        .find(|o| o.name_any() == "bench-root")
        .and_then(|o| {
            effective_through(o, hot_plan, &hot_conn.name).map(|p| p["reason"].as_str().unwrap_or_default().to_string())
        })
        .unwrap_or_default();
    eprintln!(
        "  reflected in {:.1}s ({reason}), {} status writes",
        elapsed.as_secs_f64(),
        counts.total()
    );
    Ok(Fanout {
        targets,
        elapsed,
        counts,
        reason,
        cpu,
        evaluations,
    })
}

/// The floor of each phase, with the operator stopped: the cold phase's writes over every
/// object, the fan-out's over its targets, the hot plan and the hot connection.
async fn floors(bench: &Bench, cold: &Cold, fanout: &Fanout, concurrency: usize) -> Result<Floors> {
    eprintln!("phase: floors");
    let hot_conn = &bench.ch.conns[0].name;
    let hot_plan = &bench.ch.plans[0].name;
    let cold_targets = floor::group_by_resource(bench.stores.all());
    let cold_floor = floor::floor(&bench.admin, &cold_targets, &cold.counts, concurrency).await?;
    let is = |o: &DynamicObject, kind: &str, name: &str| {
        o.types.as_ref().is_some_and(|t| t.kind == kind) && o.name_any() == *name
    };
    let fan_objects: Vec<_> = bench
        .stores
        .all()
        .into_iter()
        .filter(|o| {
            fanout.targets.contains(&o.name_any())
                || is(o, "CustomerPlan", hot_plan)
                || is(o, "PartnerCenterConnection", hot_conn)
        })
        .collect();
    let fan_targets = floor::group_by_resource(fan_objects);
    let fanout_floor = floor::floor(&bench.admin, &fan_targets, &fanout.counts, concurrency).await?;
    Ok(Floors {
        cold: cold_floor,
        fanout: fanout_floor,
    })
}

/// The results of one size, in the shape of an entry of bench/results/channel.json's `sizes`.
fn results(args: &Args, bench: &Bench, cold: &Cold, idle: &Idle, fanout: &Fanout, end: &End, floors: &Floors) -> Value {
    let ch = &bench.ch;
    let objects = bench.n_objects.max(1) as f64;
    let per_object = |m: &BTreeMap<String, u64>, kind: Option<&str>, n: usize| {
        let total: u64 = m
            .iter()
            .filter(|(k, _)| kind.is_none_or(|kind| k.as_str() == kind))
            .map(|(_, v)| v)
            .sum();
        total as f64 / n.max(1) as f64
    };
    let mut results = json!({
        "channel": {"connections": ch.conns.len(), "plans": ch.plans.len(), "resellers": ch.resellers.len(),
            "max_depth": 4, "plans_per_reseller_avg": ch.grants_per_reseller(),
            "resellers_with_override": ch.resellers.iter().filter(|r| r.override_plan.is_some()).count(),
            "objects": bench.n_objects},
        "operator_concurrency_per_kind": args.concurrency,
        "create_seconds": bench.create_secs,
        "converged_not_ready_objects": cold.not_ready,
        "converged_warnings": cold.warnings,
        "fanout_resellers": fanout.targets.len(),
        "fanout_reason": fanout.reason,
        "idle_window_seconds": args.idle_secs,
        "idle_settle_seconds": idle.settle.as_secs(),
        "idle_status_writes": idle.counts.total(),
        "idle_events_written": idle.counts.events,
        "idle_partner_center_calls": idle.calls,
        "idle_partner_center_calls_by_path": idle.by_path,
        "idle_partner_center_syncs": idle.syncs,
        "idle_partner_center_calls_allowed": idle.calls_allowed,
        "peak_rss_mib": end.peak_rss,
        "peak_rss_mib_per_1000_objects": end.peak_rss / objects * 1000.0,
        "reconciles_per_object_cold": per_object(&cold.reconciles, None, bench.n_objects),
        "reconciles_per_reseller_cold": per_object(&cold.reconciles, Some("Reseller"), ch.resellers.len()),
        "rss_after_convergence_mib": cold.rss_after,
        "rss_end_mib": end.rss,
        "reconciles_cold": cold.reconciles,
        "reconciles_total": end.reconciles,
        "targets": {"convergence_ratio_max": 1.1, "fanout_ratio_max": 1.1, "idle_status_writes": 0,
            "reconciles_per_object_cold_max": 1.2,
            "convergence_events_max": cold.not_ready as u64 + cold.warnings,
            "peak_rss_mib_max": peak_rss_target(ch.resellers.len())},
    });
    for (phase, elapsed, counts, (floor, floor_writes), cpu, evaluations) in [
        (
            "convergence",
            cold.elapsed,
            &cold.counts,
            floors.cold,
            cold.cpu,
            cold.evaluations,
        ),
        (
            "fanout",
            fanout.elapsed,
            &fanout.counts,
            floors.fanout,
            fanout.cpu,
            fanout.evaluations,
        ),
    ] {
        let fields = json!({
            "cpu_seconds": cpu.json(elapsed.as_secs_f64()),
            "evaluations": evaluations.count,
            "evaluation_seconds": evaluations.seconds,
            "seconds": elapsed.as_secs_f64(),
            "floor_seconds": floor.as_secs_f64(),
            "ratio": elapsed.as_secs_f64() / floor.as_secs_f64().max(1e-9),
            "status_writes": counts.total(),
            "status_writes_by_resource": counts.status_writes,
            "events_written": counts.events,
            "floor_status_writes": floor_writes,
        });
        for (k, v) in fields.as_object().into_iter().flatten() {
            results[format!("{phase}_{k}")] = v.clone();
        }
    }
    results
}

/// The memory targets (32 MiB at 5,000 resellers, 96 MiB at 50,000), interpolated
/// linearly between and beyond them.
fn peak_rss_target(resellers: usize) -> f64 {
    32.0 + (resellers as f64 - 5000.0) * (96.0 - 32.0) / 45_000.0
}

/// Converged as the test kit means it (observedGeneration == generation, Ready not Unknown).
fn converged(o: &DynamicObject) -> bool {
    is_converged(o.metadata.generation, &o.data["status"])
}

struct Stores {
    conns: Store<DynamicObject>,
    plans: Store<DynamicObject>,
    resellers: Store<DynamicObject>,
}

impl Stores {
    fn all(&self) -> Vec<Arc<DynamicObject>> {
        let mut v = self.conns.state();
        v.extend(self.plans.state());
        v.extend(self.resellers.state());
        v
    }
}

/// The effective plan of `plan` in a reseller's status through `connection`, if any.
fn effective_through<'a>(o: &'a DynamicObject, plan: &str, connection: &str) -> Option<&'a Value> {
    o.data["status"]["effectivePlans"].as_array()?.iter().find(|p| {
        p["plan"] == plan && p["connection"]["name"] == connection && p["connection"]["namespace"] == PROVIDER_NS
    })
}
