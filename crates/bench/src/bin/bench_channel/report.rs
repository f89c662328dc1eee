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
        "{:<34} {:>11.1}s {:>11.1}s {:>8.2}  <=1.1 {}",
        "cold convergence",
        f("convergence_seconds"),
        f("convergence_floor_seconds"),
        f("convergence_ratio"),
        verdict(f("convergence_ratio") <= 1.1)
    );
    println!(
        "{:<34} {:>11.1}s {:>11.1}s {:>8.2}  <=1.1 {}",
        format!("fan-out ({} resellers)", r["fanout_resellers"]),
        f("fanout_seconds"),
        f("fanout_floor_seconds"),
        f("fanout_ratio"),
        verdict(f("fanout_ratio") <= 1.1)
    );
    println!(
        "{:<34} {:>12} {:>12}",
        "status writes: cold / fan-out", r["convergence_status_writes"], r["fanout_status_writes"]
    );
    println!(
        "{:<34} {:>12} {:>12}  cold <= {} (not Ready {} + warnings {}) {}",
        "events written: cold / fan-out",
        r["convergence_events_written"],
        r["fanout_events_written"],
        r["targets"]["convergence_events_max"],
        r["converged_not_ready_objects"],
        r["converged_warnings"],
        verdict(r["convergence_events_written"].as_u64() <= r["targets"]["convergence_events_max"].as_u64())
    );
    for phase in ["convergence", "fanout"] {
        let cpu = &r[format!("{phase}_cpu_seconds")];
        let g = |k: &str| cpu[k].as_f64().unwrap_or(f64::NAN);
        println!(
            "{:<34} {:>11.1}s {:>11.1}s  ({:.2} cores in all; {} evaluations, {:.1}s)",
            format!("CPU {phase}: operator / API+etcd"),
            g("operator"),
            g("apiserver") + g("etcd"),
            g("all_cores"),
            r[format!("{phase}_evaluations")],
            r[format!("{phase}_evaluation_seconds")].as_f64().unwrap_or(f64::NAN)
        );
    }
    println!(
        "{:<34} {:>12.2} {:>12}  <=1.2 {}",
        "reconciles per object, cold",
        f("reconciles_per_object_cold"),
        "",
        verdict(f("reconciles_per_object_cold") <= 1.2)
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
    let rss_max = r["targets"]["peak_rss_mib_max"].as_f64().unwrap_or(f64::NAN);
    println!(
        "{:<34} {:>11.1}M {:>12}  <={rss_max:.0} {}",
        "peak RSS (VmHWM)",
        f("peak_rss_mib"),
        "",
        verdict(f("peak_rss_mib") <= rss_max)
    );
    println!("{:<34} {}", "reconciles (pco_reconciles_total)", r["reconciles_total"]);
}

/// The cost curve: one line per size.
pub fn print_curve(sizes: &[Value]) {
    println!(
        "\n{:>9} {:>8} {:>9} {:>11} {:>9} {:>7} {:>9} {:>7} {:>9} {:>8} {:>10}",
        "resellers",
        "objects",
        "peak MiB",
        "MiB/1000obj",
        "cold s",
        "ratio",
        "fan-out s",
        "ratio",
        "writes",
        "Events",
        "rec/object"
    );
    for r in sizes {
        let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
        println!(
            "{:>9} {:>8} {:>9.1} {:>11.2} {:>9.1} {:>7.2} {:>9.1} {:>7.2} {:>9} {:>8} {:>10.2}",
            r["channel"]["resellers"].as_u64().unwrap_or(0),
            r["channel"]["objects"].as_u64().unwrap_or(0),
            f("peak_rss_mib"),
            f("peak_rss_mib_per_1000_objects"),
            f("convergence_seconds"),
            f("convergence_ratio"),
            f("fanout_seconds"),
            f("fanout_ratio"),
            r["convergence_status_writes"].as_u64().unwrap_or(0),
            r["convergence_events_written"].as_u64().unwrap_or(0),
            f("reconciles_per_object_cold"),
        );
    }
}
