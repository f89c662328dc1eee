//! The results: JSON in the shape of bench/results/channel.json, and the table printed.

use serde_json::Value;

pub fn print_table(r: &Value) {
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
