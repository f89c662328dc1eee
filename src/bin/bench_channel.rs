//! Scale benchmark of the operator on a real control plane (issue 6): a generated channel of
//! connections (emulator partners), plans and resellers; cold convergence and fan-out against a
//! floor measured in the same run, steady-state writes and Partner Center calls, peak memory and
//! reconcile counts. Prints a table and writes JSON. Figures only; nothing is asserted.
//!
//! `bash hack/bench.sh` builds release and runs it; `bench_channel --help` lists the knobs.
//!
//! The floor is a minimal kube-rs client (same client library, no client-side rate limit — the
//! operator has none either) that server-side-applies as many status patches per kind as the
//! operator wrote in the phase (counted in the API server's audit log), with the operator's
//! concurrency per kind, while the operator is stopped. The ratio therefore measures what the
//! operator spends beyond the API server's own cost of those writes.

use anyhow::{Context as _, Result, bail};
use clap::Parser;
use futures::{StreamExt, stream};
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use partner_center_emulator::{self as emulator, EmulatorConfig, Fixtures};
use partner_center_operator::api::{CustomerPlan, PartnerCenterConnection, Reseller};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Seek};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PROVIDER_NS: &str = "csp-system";
const SYNC_ANNOTATION: &str = "channel.csp.dev/sync-requested";
/// Partner Center calls per sync of an AppPlusUser connection with a cached access token:
/// organization profile, MPN profile, customers (one page: < 500 customers), indirect resellers.
const CALLS_PER_SYNC: u64 = 4;

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
    #[arg(long, default_value_t = 5000)]
    resellers: usize,
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

/// (region, cspType, environment, partner country) of each connection pair.
const PROFILES: [(&str, &str, &str, &str); 10] = [
    ("NZ", "IndirectProvider", "Production", "NZ"),
    ("EUR", "Direct", "Production", "DE"),
    ("DE", "Direct", "Production", "DE"),
    ("NAM", "IndirectProvider", "Production", "US"),
    ("AU", "Direct", "Production", "AU"),
    ("APAC", "IndirectProvider", "Production", "JP"),
    ("GB", "Direct", "Production", "GB"),
    ("FR", "IndirectProvider", "Production", "FR"),
    ("EUR", "Direct", "Sandbox", "DE"),
    ("US", "Direct", "Sandbox", "US"),
];

/// Deterministic generator (xorshift64*): the same channel on every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// `k` distinct items of `from` (all of them when there are fewer).
    fn pick(&mut self, from: &[usize], k: usize) -> Vec<usize> {
        let mut v = from.to_vec();
        let k = k.min(v.len());
        for i in 0..k {
            let j = i + self.below(v.len() - i);
            v.swap(i, j);
        }
        v.truncate(k);
        v
    }
}

struct Conn {
    name: String,
    tenant: String,
    client_id: String,
    profile: (&'static str, &'static str, &'static str, &'static str),
}

struct Plan {
    name: String,
    connection: usize,
}

struct Rsl {
    name: String,
    parent: Option<usize>,
    grants: Vec<usize>,
    /// Plan index overridden with the pair partner of the plan's connection.
    override_plan: Option<usize>,
    demo: bool,
}

struct Channel {
    conns: Vec<Conn>,
    plans: Vec<Plan>,
    resellers: Vec<Rsl>,
}

fn generate(n_conn: usize, n_plans: usize, n_rsl: usize) -> Result<Channel> {
    if n_conn < 4 || !n_conn.is_multiple_of(2) || n_plans < 2 || n_rsl < 21 + 20 * 24 {
        bail!("--connections must be an even number >= 4, --plans >= 2, --resellers >= 501");
    }
    let conns: Vec<Conn> = (0..n_conn)
        .map(|c| {
            let profile = PROFILES[(c / 2) % PROFILES.len()];
            Conn {
                name: format!("pc-{c:02}-{}-{}", profile.0.to_lowercase(), profile.2.to_lowercase()),
                tenant: format!("be{c:06x}-0000-4000-8000-00000000be01"),
                client_id: format!("a0{c:06x}-0000-4000-8000-00000000be01"),
                profile,
            }
        })
        .collect();
    // Plan 0 is the only plan through connection 0 (the fan-out target); connection 1 is its spare.
    let plans: Vec<Plan> = (0..n_plans)
        .map(|j| {
            let connection = if j == 0 { 0 } else { 2 + (j - 1) % (n_conn - 2) };
            let (region, csp, env, _) = conns[connection].profile;
            let word = if csp == "Direct" { "direct" } else { "indirect" };
            Plan {
                name: format!("{}-{word}-{}-{j:03}", region.to_lowercase(), env.to_lowercase()),
                connection,
            }
        })
        .collect();
    let mut rng = Rng(0x5eed_cafe_f00d_0001);
    // The root may hold at most 64 grants (CRD limit) and descendants only get what it has.
    let root_plans: Vec<usize> = (0..n_plans.min(64)).collect();
    let mut resellers = vec![Rsl {
        name: "bench-root".into(),
        parent: None,
        grants: root_plans.clone(),
        override_plan: None,
        demo: false,
    }];
    // Distributors 0..3 (and their whole subtrees) hold plan 0: about a thousand resellers.
    let hot = |d: usize| d < 4;
    let level3_per = 24;
    let level4_total = n_rsl - 1 - 20 - 20 * level3_per;
    let mut level3 = Vec::new();
    for d in 0..20 {
        let others: Vec<usize> = root_plans.iter().copied().filter(|p| *p != 0).collect();
        let mut grants = rng.pick(&others, 29);
        if hot(d) {
            grants.insert(0, 0);
        }
        resellers.push(Rsl {
            name: format!("bench-d{d:02}"),
            parent: Some(0),
            grants,
            override_plan: None,
            demo: false,
        });
        let di = resellers.len() - 1;
        for k in 0..level3_per {
            let parent_grants: Vec<usize> = resellers[di].grants.iter().copied().filter(|p| *p != 0).collect();
            let mut grants = rng.pick(&parent_grants, 7);
            if hot(d) {
                grants.insert(0, 0);
            }
            resellers.push(Rsl {
                name: format!("bench-d{d:02}-r{k:02}"),
                parent: Some(di),
                grants,
                override_plan: None,
                demo: false,
            });
            level3.push((resellers.len() - 1, hot(d)));
        }
    }
    for i in 0..level4_total {
        let (pi, is_hot) = level3[i % level3.len()];
        let parent_grants: Vec<usize> = resellers[pi].grants.iter().copied().filter(|p| *p != 0).collect();
        let k = 2 + rng.below(2);
        let mut grants = rng.pick(&parent_grants, k);
        if is_hot {
            grants.insert(0, 0);
        }
        // A few Demo resellers (sandbox-only) granted production plans: legitimately not Ready.
        let demo = !is_hot && i % 200 == 7;
        let parent_name = resellers[pi].name.clone();
        resellers.push(Rsl {
            name: format!("{parent_name}-s{:03}", i / level3.len()),
            parent: Some(pi),
            grants,
            override_plan: None,
            demo,
        });
    }
    // 10 % of the resellers override one grant (never plan 0) with the pair partner connection.
    for (i, r) in resellers.iter_mut().enumerate().skip(1) {
        if i % 10 == 3
            && let Some(&p) = r.grants.iter().find(|p| **p != 0)
        {
            r.override_plan = Some(p);
        }
    }
    Ok(Channel {
        conns,
        plans,
        resellers,
    })
}

fn fixtures_yaml(ch: &Channel) -> String {
    let mut y = String::from("settings:\n  strictRefreshTokenRotation: true\n  rateLimitPerMinute: 500\npartners:\n");
    for (c, conn) in ch.conns.iter().enumerate() {
        let (_, csp, env, country) = conn.profile;
        let ptype = if csp == "Direct" {
            "DirectBill"
        } else {
            "IndirectProvider"
        };
        y.push_str(&format!(
            "  - tenantId: {t}\n    companyName: Bench Partner {c}\n    domain: bench{c}.onmicrosoft.com\n    email: ops@bench{c}.example\n    country: {country}\n    mpnId: \"{mpn}\"\n    partnerType: {ptype}\n    sandbox: {sb}\n    apps:\n      - {{ clientId: {app}, clientSecret: bench-secret-{c} }}\n    users:\n      - {{ upn: admin@bench{c}.onmicrosoft.com, mfa: true, refreshToken: bench-rt-{c} }}\n    generatedCustomers: 40\n",
            t = conn.tenant,
            mpn = 7_000_000 + c,
            sb = env == "Sandbox",
            app = conn.client_id,
        ));
    }
    y
}

fn connection_objects(ch: &Channel, emulator: &str) -> Vec<(Option<String>, Value, ApiResource)> {
    let mut out = Vec::new();
    for (c, conn) in ch.conns.iter().enumerate() {
        let (region, csp, env, _) = conn.profile;
        out.push((
            Some(PROVIDER_NS.to_string()),
            json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": format!("{}-credentials", conn.name), "namespace": PROVIDER_NS},
                "stringData": {"clientId": conn.client_id, "clientSecret": format!("bench-secret-{c}"), "refreshToken": format!("bench-rt-{c}")}}),
            ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&()),
        ));
        out.push((
            Some(PROVIDER_NS.to_string()),
            json!({"apiVersion": "channel.csp.dev/v1alpha1", "kind": "PartnerCenterConnection",
                "metadata": {"name": conn.name, "namespace": PROVIDER_NS},
                "spec": {"partnerTenantId": conn.tenant, "region": region, "cspType": csp, "environment": env,
                    "auth": {"mode": "AppPlusUser", "secretRef": {"name": format!("{}-credentials", conn.name)}},
                    "endpoints": {"partnerCenter": format!("http://{emulator}"), "login": format!("http://{emulator}")},
                    "syncInterval": "1m"}}),
            ApiResource::erase::<PartnerCenterConnection>(&()),
        ));
    }
    out
}

fn plan_objects(ch: &Channel) -> Vec<(Option<String>, Value, ApiResource)> {
    ch.plans
        .iter()
        .map(|p| {
            let (region, csp, env, _) = ch.conns[p.connection].profile;
            let word = if csp == "Direct" { "Direct" } else { "Indirect" };
            (
                None,
                json!({"apiVersion": "channel.csp.dev/v1alpha1", "kind": "CustomerPlan", "metadata": {"name": p.name},
                    "spec": {"displayName": format!("{region} {word} {env}"), "region": region, "cspType": csp, "environment": env,
                        "connectionRef": {"namespace": PROVIDER_NS, "name": ch.conns[p.connection].name}}}),
                ApiResource::erase::<CustomerPlan>(&()),
            )
        })
        .collect()
}

fn reseller_objects(ch: &Channel) -> Vec<(Option<String>, Value, ApiResource)> {
    ch.resellers
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let grants: Vec<Value> = r
                .grants
                .iter()
                .map(|&p| {
                    if r.override_plan == Some(p) {
                        let partner = ch.plans[p].connection ^ 1;
                        json!({"plan": ch.plans[p].name, "connectionOverride": {"namespace": PROVIDER_NS, "name": ch.conns[partner].name}})
                    } else {
                        json!({"plan": ch.plans[p].name})
                    }
                })
                .collect();
            let mut spec = json!({"displayName": format!("Bench reseller {i}"), "shortName": format!("B{i:05}"),
                "services": {"azureAD": {"enabled": true, "customerPlans": grants}}});
            match r.parent {
                None => spec["namespace"] = json!(PROVIDER_NS),
                Some(p) => spec["parent"] = json!(ch.resellers[p].name),
            }
            if r.demo {
                spec["customerType"] = json!("Demo");
            }
            (None, json!({"apiVersion": "channel.csp.dev/v1alpha1", "kind": "Reseller", "metadata": {"name": r.name}, "spec": spec}), ApiResource::erase::<Reseller>(&()))
        })
        .collect()
}

/// Server-side applies `objects` with `writers` at once.
async fn apply_all(
    client: &kube::Client,
    objects: Vec<(Option<String>, Value, ApiResource)>,
    writers: usize,
) -> Result<()> {
    let pp = PatchParams::apply("bench-channel").force();
    let results: Vec<Result<()>> = stream::iter(objects)
        .map(|(ns, obj, ar)| {
            let client = client.clone();
            let pp = pp.clone();
            async move {
                let api: Api<DynamicObject> = match &ns {
                    Some(ns) => Api::namespaced_with(client, ns, &ar),
                    None => Api::all_with(client, &ar),
                };
                let name = obj["metadata"]["name"].as_str().unwrap_or_default().to_string();
                api.patch(&name, &pp, &Patch::Apply(&obj))
                    .await
                    .with_context(|| format!("apply {} {name}", ar.kind))?;
                Ok(())
            }
        })
        .buffer_unordered(writers)
        .collect()
        .await;
    results.into_iter().collect()
}

/// A control plane started by hack/control-plane.sh; stopped on drop.
struct ControlPlane {
    dir: PathBuf,
    tools: PathBuf,
    keep: bool,
}

impl ControlPlane {
    fn start(keep: bool) -> Result<Self> {
        let out = Command::new("bash")
            .arg("hack/tools/build.sh")
            .stderr(Stdio::inherit())
            .output()?;
        anyhow::ensure!(out.status.success(), "hack/tools/build.sh failed");
        let tools = PathBuf::from(String::from_utf8(out.stdout)?.lines().last().unwrap_or_default().trim());
        let dir = std::env::temp_dir().join(format!("pco-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let status = Command::new("bash")
            .arg("hack/control-plane.sh")
            .arg("start")
            .arg(&dir)
            .status()?;
        anyhow::ensure!(status.success(), "hack/control-plane.sh start failed");
        Ok(Self { dir, tools, keep })
    }

    fn kubeconfig(&self, user: &str) -> PathBuf {
        self.dir.join(format!("kubeconfig-{user}"))
    }

    async fn client(&self, user: &str) -> Result<kube::Client> {
        let kc = kube::config::Kubeconfig::read_from(self.kubeconfig(user))?;
        let mut config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
        config.headers.push((
            http::header::USER_AGENT,
            http::HeaderValue::from_static("bench-channel"),
        ));
        Ok(kube::Client::try_from(config)?)
    }

    fn install(&self) -> Result<()> {
        let status = Command::new("bash")
            .arg("hack/install-dev.sh")
            .arg(PROVIDER_NS)
            .env("KUBECONFIG", self.kubeconfig("admin"))
            .env(
                "PATH",
                format!("{}:{}", self.tools.display(), std::env::var("PATH").unwrap_or_default()),
            )
            .status()?;
        anyhow::ensure!(status.success(), "hack/install-dev.sh failed");
        Ok(())
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg("hack/control-plane.sh")
            .arg("stop")
            .arg(&self.dir)
            .status();
        if self.keep {
            eprintln!("control plane data kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Status writes (patch/update of the status subresource) per user and resource, read from the
/// API server's audit log as it grows.
struct AuditCounter {
    path: PathBuf,
    offset: u64,
}

#[derive(Default, Debug, Clone)]
struct Counts {
    /// resource -> status writes by user "operator"
    status_writes: BTreeMap<String, u64>,
    events: u64,
}

impl Counts {
    fn total(&self) -> u64 {
        self.status_writes.values().sum()
    }
    fn of(&self, resource: &str) -> u64 {
        self.status_writes.get(resource).copied().unwrap_or(0)
    }
}

impl AuditCounter {
    fn new(path: PathBuf) -> Self {
        let offset = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        Self { path, offset }
    }

    /// Counts what was logged since the last call.
    fn take(&mut self, user: &str) -> Result<Counts> {
        let mut file = std::fs::File::open(&self.path)?;
        file.seek(std::io::SeekFrom::Start(self.offset))?;
        let mut reader = std::io::BufReader::new(file);
        let mut counts = Counts::default();
        let mut line = String::new();
        loop {
            line.clear();
            let n = reader.read_line(&mut line)?;
            if n == 0 || !line.ends_with('\n') {
                break; // a partial last line is read next time
            }
            self.offset += n as u64;
            let Ok(e) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if e["user"]["username"] != user || e["stage"] != "ResponseComplete" {
                continue;
            }
            let resource = e["objectRef"]["resource"].as_str().unwrap_or_default();
            let verb = e["verb"].as_str().unwrap_or_default();
            if e["objectRef"]["subresource"] == "status" && matches!(verb, "patch" | "update") {
                *counts.status_writes.entry(resource.to_string()).or_default() += 1;
            } else if resource == "events" {
                counts.events += 1;
            }
        }
        Ok(counts)
    }
}

/// A watch cache of one kind in the bench process (what convergence is judged on).
fn watch_kind(client: &kube::Client, ar: ApiResource) -> Store<DynamicObject> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
    let writer = reflector::store::Writer::new(ar);
    let reader = writer.as_reader();
    let events = watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(|o: &mut DynamicObject| o.managed_fields_mut().clear())
        .reflect(writer)
        .applied_objects();
    tokio::spawn(async move {
        futures::pin_mut!(events);
        while events.next().await.is_some() {}
    });
    reader
}

fn ready_of(o: &DynamicObject) -> Option<&str> {
    o.data["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")?["status"]
        .as_str()
}

/// Ready for its generation, or with its final verdict: observedGeneration == generation and a
/// Ready condition that is not Unknown.
fn converged(o: &DynamicObject) -> bool {
    o.data["status"]["observedGeneration"].as_i64() == o.metadata.generation
        && ready_of(o).is_some_and(|s| s != "Unknown")
}

struct Stores {
    conns: Store<DynamicObject>,
    plans: Store<DynamicObject>,
    resellers: Store<DynamicObject>,
}

impl Stores {
    fn all(&self) -> Vec<std::sync::Arc<DynamicObject>> {
        let mut v = self.conns.state();
        v.extend(self.plans.state());
        v.extend(self.resellers.state());
        v
    }
}

/// Polls `done` every 100 ms until it holds; the time it took, or an error after `limit`.
async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> (bool, String)) -> Result<Duration> {
    let started = Instant::now();
    let mut last_print = Instant::now();
    loop {
        let (ok, progress) = done();
        if ok {
            return Ok(started.elapsed());
        }
        if started.elapsed() > limit {
            bail!("{what}: not done after {limit:?} ({progress})");
        }
        if last_print.elapsed() > Duration::from_secs(10) {
            eprintln!("  {what}: {progress} after {:.0}s", started.elapsed().as_secs_f64());
            last_print = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The operator process (release build) running as user "operator".
struct OperatorProcess {
    child: Child,
    admin: String,
}

impl OperatorProcess {
    fn start(bin: &Path, cp: &ControlPlane, emulator: &str, concurrency: u16) -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let admin = format!("127.0.0.1:{port}");
        let log = std::fs::File::create(cp.dir.join("operator.log"))?;
        let child = Command::new(bin)
            .args([
                "run",
                "--provider-namespace",
                PROVIDER_NS,
                "--endpoint-allow-list",
                emulator,
                "--admin-addr",
                &admin,
            ])
            .args(["--identity", "bench", "--concurrency", &concurrency.to_string()])
            .env("KUBECONFIG", cp.kubeconfig("operator"))
            .env("PCO_LOG_LEVEL", "info")
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("start {} (build it: cargo build --release)", bin.display()))?;
        Ok(Self { child, admin })
    }

    /// (VmHWM, VmRSS) in MiB.
    fn memory_mib(&self) -> (f64, f64) {
        let text = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let field = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .map(|kib| kib / 1024.0)
                .unwrap_or(f64::NAN)
        };
        (field("VmHWM:"), field("VmRSS:"))
    }

    /// pco_reconciles_total per kind, from /metrics.
    async fn reconciles(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        let Ok(resp) = reqwest::get(format!("http://{}/metrics", self.admin)).await else {
            return out;
        };
        let text = resp.text().await.unwrap_or_default();
        for line in text.lines().filter(|l| l.starts_with("pco_reconciles_total{")) {
            let kind = line
                .split("kind=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or_default();
            let value = line
                .rsplit(' ')
                .next()
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0);
            out.insert(kind.to_string(), value as u64);
        }
        out
    }

    fn stop(&mut self) {
        // SIGTERM (graceful), then wait.
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The floor: `counts[resource]` status patches spread round-robin over `targets` of that
/// resource, `concurrency` at once per resource, all resources in parallel. Each patch re-applies
/// the object's current status with a marker in the Ready message (a real write of the same size).
async fn floor(
    client: &kube::Client,
    targets: &BTreeMap<String, Vec<std::sync::Arc<DynamicObject>>>,
    counts: &Counts,
    concurrency: usize,
) -> Result<(Duration, u64)> {
    let started = Instant::now();
    let mut per_kind = Vec::new();
    for (resource, objects) in targets {
        let n = counts.of(resource) as usize;
        if n == 0 || objects.is_empty() {
            continue;
        }
        let client = client.clone();
        let objects = objects.clone();
        per_kind.push(async move {
            let results: Vec<Result<()>> = stream::iter(0..n)
                .map(|i| {
                    let o = objects[i % objects.len()].clone();
                    let round = i / objects.len();
                    let client = client.clone();
                    async move {
                        let ar = ApiResource::from_gvk(&o.types.as_ref().context("object without type")?.try_into()?);
                        let api: Api<DynamicObject> = match o.namespace() {
                            Some(ns) => Api::namespaced_with(client, &ns, &ar),
                            None => Api::all_with(client, &ar),
                        };
                        let mut status = o.data["status"].clone();
                        if let Some(conds) = status["conditions"].as_array_mut() {
                            for c in conds.iter_mut().filter(|c| c["type"] == "Ready") {
                                let m = c["message"].as_str().unwrap_or_default().to_string();
                                c["message"] = json!(format!("{m} [floor {round}]"));
                            }
                        }
                        let patch = json!({"apiVersion": ar.api_version, "kind": ar.kind, "status": status});
                        api.patch_status(
                            &o.name_any(),
                            &PatchParams::apply("bench-floor").force(),
                            &Patch::Apply(&patch),
                        )
                        .await?;
                        Ok(())
                    }
                })
                .buffer_unordered(concurrency)
                .collect()
                .await;
            results.into_iter().collect::<Result<Vec<()>>>().map(|v| v.len() as u64)
        });
    }
    let written: u64 = futures::future::join_all(per_kind)
        .await
        .into_iter()
        .collect::<Result<Vec<u64>>>()?
        .into_iter()
        .sum();
    Ok((started.elapsed(), written))
}

fn group_by_resource(
    objects: Vec<std::sync::Arc<DynamicObject>>,
) -> BTreeMap<String, Vec<std::sync::Arc<DynamicObject>>> {
    let mut m: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for o in objects {
        let resource = match o.types.as_ref().map(|t| t.kind.as_str()) {
            Some("Reseller") => "resellers",
            Some("CustomerPlan") => "customerplans",
            Some("PartnerCenterConnection") => "partnercenterconnections",
            _ => continue,
        };
        m.entry(resource.to_string()).or_default().push(o);
    }
    m
}

/// The effective plan of `plan` in a reseller's status through `connection`, if any.
fn effective_through<'a>(o: &'a DynamicObject, plan: &str, connection: &str) -> Option<&'a Value> {
    o.data["status"]["effectivePlans"].as_array()?.iter().find(|p| {
        p["plan"] == plan && p["connection"]["name"] == connection && p["connection"]["namespace"] == PROVIDER_NS
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    partner_center_operator::tls::install_crypto_provider();
    let ch = generate(args.connections, args.plans, args.resellers)?;
    let overrides = ch.resellers.iter().filter(|r| r.override_plan.is_some()).count();
    let grants: usize = ch.resellers.iter().map(|r| r.grants.len()).sum();
    eprintln!(
        "channel: {} connections, {} plans, {} resellers (depth 4, {:.2} plans each on average, {overrides} with an override)",
        ch.conns.len(),
        ch.plans.len(),
        ch.resellers.len(),
        grants as f64 / ch.resellers.len() as f64
    );

    let cp = ControlPlane::start(args.keep)?;
    let fixtures = Fixtures::from_yaml(&fixtures_yaml(&ch)).map_err(|e| anyhow::anyhow!("fixtures: {e}"))?;
    let emu = emulator::start(EmulatorConfig {
        fixtures,
        bind: "127.0.0.1:0".parse()?,
    })
    .await?;
    let emu_addr = emu.addr.to_string();
    let http = reqwest::Client::new();
    cp.install()?;
    let admin = cp.client("admin").await?;

    // Create the channel (no operator running yet).
    let created = Instant::now();
    apply_all(&admin, connection_objects(&ch, &emu_addr), args.writers).await?;
    apply_all(&admin, plan_objects(&ch), args.writers).await?;
    apply_all(&admin, reseller_objects(&ch), args.writers).await?;
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
    wait_until("bench watch caches", Duration::from_secs(120), || {
        let n = stores.all().len();
        (n == n_objects, format!("{n}/{n_objects} cached"))
    })
    .await?;
    let mut audit = AuditCounter::new(cp.dir.join("audit.log"));

    // Phase 1: cold convergence.
    eprintln!("phase: cold convergence");
    let mut op = OperatorProcess::start(&args.operator_bin, &cp, &emu_addr, args.concurrency)?;
    let cold = wait_until("cold convergence", Duration::from_secs(1800), || {
        let all = stores.all();
        let n = all.iter().filter(|o| converged(o)).count();
        (n == n_objects, format!("{n}/{n_objects} converged"))
    })
    .await?;
    let cold_counts = audit.take("operator")?;
    let cold_reconciles = op.reconciles().await;
    let (_, rss_after_cold) = op.memory_mib();
    let not_ready = stores.all().iter().filter(|o| ready_of(o) == Some("False")).count();
    eprintln!(
        "  converged in {:.1}s, {} status writes, {not_ready} objects with final verdict Ready=False",
        cold.as_secs_f64(),
        cold_counts.total()
    );

    // Phase 2: steady state over an idle window.
    let settle = Duration::from_secs(10);
    tokio::time::sleep(settle).await;
    let _ = audit.take("operator")?;
    let emu_log: Vec<Value> = http
        .get(format!("{}/_emulator/requests", emu.base_url()))
        .send()
        .await?
        .json()
        .await?;
    let seq0 = emu_log.last().and_then(|e| e["seq"].as_u64()).unwrap_or(0);
    eprintln!("phase: idle window of {}s", args.idle_secs);
    tokio::time::sleep(Duration::from_secs(args.idle_secs)).await;
    let idle_counts = audit.take("operator")?;
    let idle_calls: Vec<Value> = http
        .get(format!("{}/_emulator/requests?since={seq0}", emu.base_url()))
        .send()
        .await?
        .json()
        .await?;
    let idle_syncs = idle_calls
        .iter()
        .filter(|e| {
            e["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/v1/profiles/organization"))
        })
        .count() as u64;
    // Sync interval 1m with ±10 % jitter: at most ceil(window / 54 s) syncs per connection.
    let max_syncs_per_conn = (args.idle_secs as f64 / 54.0).ceil() as u64;
    let idle_calls_allowed = max_syncs_per_conn * CALLS_PER_SYNC * ch.conns.len() as u64;

    // Phase 3: fan-out. Partner Center now reports a country outside connection 0's region; a sync
    // request makes the operator see it; every reseller with plan 0 must show it unusable.
    let hot_conn = &ch.conns[0];
    let hot_plan = &ch.plans[0].name;
    let targets: Vec<String> = stores
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
    let resp = http
        .post(format!("{}/_emulator/partners/{}", emu.base_url(), hot_conn.tenant))
        .json(&json!({"country": "US"}))
        .send()
        .await?;
    anyhow::ensure!(resp.status().is_success(), "emulator partner patch: {}", resp.status());
    let _ = audit.take("operator")?;
    let fanout_started = Instant::now();
    let conns: Api<PartnerCenterConnection> = Api::namespaced(admin.clone(), PROVIDER_NS);
    conns
        .patch(
            &hot_conn.name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {SYNC_ANNOTATION: "bench-fanout"}}})),
        )
        .await?;
    let by_name: HashMap<String, ()> = targets.iter().map(|t| (t.clone(), ())).collect();
    wait_until("fan-out", Duration::from_secs(900), || {
        let done = stores
            .resellers
            .state()
            .iter()
            .filter(|o| by_name.contains_key(&o.name_any()))
            .filter(|o| effective_through(o, hot_plan, &hot_conn.name).is_some_and(|p| p["usable"] == false))
            .count();
        (done == targets.len(), format!("{done}/{} reflect it", targets.len()))
    })
    .await?;
    let fanout = fanout_started.elapsed();
    // Writes still in flight when the last target flipped belong to the phase too.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let fanout_counts = audit.take("operator")?;
    let hot_reason = stores
        .resellers
        .state()
        .iter()
        .find(|o| o.name_any() == "bench-root")
        .and_then(|o| {
            effective_through(o, hot_plan, &hot_conn.name).map(|p| p["reason"].as_str().unwrap_or_default().to_string())
        })
        .unwrap_or_default();
    eprintln!(
        "  reflected in {:.1}s ({hot_reason}), {} status writes",
        fanout.as_secs_f64(),
        fanout_counts.total()
    );

    let (peak_rss, rss_end) = op.memory_mib();
    let reconciles = op.reconciles().await;
    op.stop();

    // Floors, with the operator stopped.
    eprintln!("phase: floors");
    let concurrency = args.concurrency as usize;
    let cold_targets = group_by_resource(stores.all());
    let (cold_floor, cold_floor_writes) = floor(&admin, &cold_targets, &cold_counts, concurrency).await?;
    let fan_objects: Vec<_> = stores
        .all()
        .into_iter()
        .filter(|o| {
            by_name.contains_key(&o.name_any())
                || (o.types.as_ref().is_some_and(|t| t.kind == "CustomerPlan") && o.name_any() == *hot_plan)
                || (o.types.as_ref().is_some_and(|t| t.kind == "PartnerCenterConnection")
                    && o.name_any() == hot_conn.name)
        })
        .collect();
    let (fan_floor, fan_floor_writes) =
        floor(&admin, &group_by_resource(fan_objects), &fanout_counts, concurrency).await?;

    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
    let results = json!({
        "benchmark": "bench_channel",
        "generated_at": jiff::Timestamp::now().to_string(),
        "git_commit": Command::new("git").args(["rev-parse", "--short", "HEAD"]).output().ok().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()),
        "machine_cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "channel": {"connections": ch.conns.len(), "plans": ch.plans.len(), "resellers": ch.resellers.len(),
            "max_depth": 4, "plans_per_reseller_avg": grants as f64 / ch.resellers.len() as f64, "resellers_with_override": overrides,
            "objects": n_objects},
        "operator_concurrency_per_kind": args.concurrency,
        "create_seconds": create_secs,
        "convergence_seconds": cold.as_secs_f64(),
        "convergence_floor_seconds": cold_floor.as_secs_f64(),
        "convergence_ratio": ratio(cold, cold_floor),
        "convergence_status_writes": cold_counts.total(),
        "convergence_status_writes_by_resource": cold_counts.status_writes,
        "convergence_events_written": cold_counts.events,
        "convergence_floor_status_writes": cold_floor_writes,
        "converged_not_ready_objects": not_ready,
        "fanout_resellers": targets.len(),
        "fanout_reason": hot_reason,
        "fanout_seconds": fanout.as_secs_f64(),
        "fanout_floor_seconds": fan_floor.as_secs_f64(),
        "fanout_ratio": ratio(fanout, fan_floor),
        "fanout_status_writes": fanout_counts.total(),
        "fanout_status_writes_by_resource": fanout_counts.status_writes,
        "fanout_events_written": fanout_counts.events,
        "fanout_floor_status_writes": fan_floor_writes,
        "idle_window_seconds": args.idle_secs,
        "idle_settle_seconds": settle.as_secs(),
        "idle_status_writes": idle_counts.total(),
        "idle_events_written": idle_counts.events,
        "idle_partner_center_calls": idle_calls.len(),
        "idle_partner_center_syncs": idle_syncs,
        "idle_partner_center_calls_allowed": idle_calls_allowed,
        "peak_rss_mib": peak_rss,
        "rss_after_convergence_mib": rss_after_cold,
        "rss_end_mib": rss_end,
        "reconciles_cold": cold_reconciles,
        "reconciles_total": reconciles,
        "targets": {"convergence_ratio_max": 1.5, "fanout_ratio_max": 1.5, "idle_status_writes": 0, "peak_rss_mib_max": 64},
    });
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&args.out, serde_json::to_string_pretty(&results)? + "\n")?;
    print_table(&results);
    println!("\nJSON: {}", args.out.display());
    emu.shutdown().await;
    drop(cp);
    Ok(())
}

fn print_table(r: &Value) {
    let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "\n{} connections, {} plans, {} resellers ({} objects); operator concurrency {} per kind\n",
        r["channel"]["connections"],
        r["channel"]["plans"],
        r["channel"]["resellers"],
        r["channel"]["objects"],
        r["operator_concurrency_per_kind"]
    );
    println!(
        "{:<34} {:>12} {:>12} {:>8}  {:<8}",
        "measure", "operator", "floor", "ratio", "target"
    );
    println!(
        "{:<34} {:>11.1}s {:>11.1}s {:>8.2}  <=1.5 {}",
        "cold convergence",
        f("convergence_seconds"),
        f("convergence_floor_seconds"),
        f("convergence_ratio"),
        verdict(f("convergence_ratio") <= 1.5)
    );
    println!(
        "{:<34} {:>11.1}s {:>11.1}s {:>8.2}  <=1.5 {}",
        format!("fan-out ({} resellers)", r["fanout_resellers"]),
        f("fanout_seconds"),
        f("fanout_floor_seconds"),
        f("fanout_ratio"),
        verdict(f("fanout_ratio") <= 1.5)
    );
    println!(
        "{:<34} {:>12} {:>12}",
        "status writes: cold / fan-out", r["convergence_status_writes"], r["fanout_status_writes"]
    );
    println!(
        "{:<34} {:>12} {:>12}",
        "events written: cold / fan-out", r["convergence_events_written"], r["fanout_events_written"]
    );
    println!(
        "{:<34} {:>12} {:>12}  0 {}",
        format!("idle {}s: status writes", r["idle_window_seconds"]),
        r["idle_status_writes"],
        "",
        verdict(r["idle_status_writes"] == 0)
    );
    println!(
        "{:<34} {:>12} {:>12}  syncs only {}",
        "idle: Partner Center calls (allowed)",
        r["idle_partner_center_calls"],
        r["idle_partner_center_calls_allowed"],
        verdict(r["idle_partner_center_calls"].as_u64() <= r["idle_partner_center_calls_allowed"].as_u64())
    );
    println!(
        "{:<34} {:>11.1}M {:>12}  <64 {}",
        "peak RSS (VmHWM)",
        f("peak_rss_mib"),
        "",
        verdict(f("peak_rss_mib") < 64.0)
    );
    println!("{:<34} {}", "reconciles (pco_reconciles_total)", r["reconciles_total"]);
}
