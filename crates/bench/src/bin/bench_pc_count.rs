//! Benchmark: count N customers through the Partner Center client against the emulator and print
//! the number of list calls (against the floor ceil(N / page size)) and the time taken.
//! Figures only; nothing is asserted.
//!
//! `cargo run --release -p pco-bench --bin bench_pc_count -- [CUSTOMERS] [RUNS]` (defaults 10000 and 5).

use partner_center_operator::api::AuthMode;
use partner_center_operator::partner_center::paging::PAGE_SIZE;
use pco_test_kit::start_emulator;
use std::time::{Duration, Instant};

const TENANT: &str = "5f0c1a2b-0000-4000-8000-00000000be01";
const APP: &str = "a9b8c7d6-0000-4000-8000-00000000be01";
const SECRET: &str = "bench-client-secret";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let customers: u64 = match args.next() {
        Some(a) => a
            .parse()
            .map_err(|_| anyhow::anyhow!("CUSTOMERS: must be a positive integer, got {a:?}"))?,
        None => 10_000,
    };
    let runs: u32 = match args.next() {
        Some(a) => a
            .parse()
            .map_err(|_| anyhow::anyhow!("RUNS: must be a positive integer, got {a:?}"))?,
        None => 5,
    };
    anyhow::ensure!(customers >= 1 && runs >= 1, "CUSTOMERS and RUNS must be at least 1");
    partner_center_operator::tls::install_crypto_provider();

    let yaml = format!(
        r#"
settings:
  rateLimitPerMinute: 1000000
partners:
  - tenantId: {TENANT}
    companyName: Bench Partner
    domain: benchpartner.onmicrosoft.com
    email: ops@bench.example
    country: US
    mpnId: "1234567"
    partnerType: DirectBill
    apps:
      - {{ clientId: {APP}, clientSecret: "{SECRET}" }}
    generatedCustomers: {customers}
"#
    );
    let emu = start_emulator(&yaml).await?;
    let client = pco_bench::emulator_client(&emu.base_url(), TENANT, AuthMode::AppOnly, APP, SECRET, None)?;

    let floor = customers.div_ceil(PAGE_SIZE as u64);
    println!("bench_pc_count: {customers} customers, page size {PAGE_SIZE}, {runs} runs");
    println!("floor (ceil(customers / page size)) = {floor} list calls");
    let mut times: Vec<Duration> = Vec::new();
    for run in 1..=runs {
        let started = Instant::now();
        let (count, calls) = client.count_customers_with_calls().await?;
        let took = started.elapsed();
        times.push(took);
        let extra = calls.saturating_sub(floor);
        println!(
            "run {run}: counted {count} customers in {calls} list calls ({extra} above floor{}), {:.1} ms",
            if extra > 0 {
                ": the end-of-paging 400/2000 answer after a full last page"
            } else {
                ""
            },
            took.as_secs_f64() * 1000.0
        );
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "time to count: min {:.1} ms, median {:.1} ms, max {:.1} ms (first run includes the token request)",
        times[0].as_secs_f64() * 1000.0,
        median.as_secs_f64() * 1000.0,
        times[times.len() - 1].as_secs_f64() * 1000.0
    );
    emu.shutdown().await;
    Ok(())
}
