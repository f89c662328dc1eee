//! The tables printed from the results JSON (bench/results/inventory.json): one per size, then the
//! curve over the sizes.

use serde_json::Value;

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn list(v: &Value) -> String {
    v.as_array()
        .map(|a| a.iter().map(Value::to_string).collect::<Vec<_>>().join(" / "))
        .unwrap_or_default()
}

fn secs(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| format!("{:.2}", num(x)))
                .collect::<Vec<_>>()
                .join(" / ")
        })
        .unwrap_or_default()
}

pub fn print_table(r: &Value) {
    let f = |k: &str| num(&r[k]);
    println!(
        "\n{} customers in the account, {} declared, detail budget {} calls per hour; {} requested syncs measured\n",
        r["customers"], r["declared"], r["detail_budget_per_hour"], r["syncs_measured"]
    );
    println!("{:<44} {:>16} {:>16} {:>8}", "measure", "operator", "floor", "ratio");
    println!(
        "{:<44} {:>16} {:>16} {:>8.2}",
        "list pages per sync",
        list(&r["list_pages_per_sync"]),
        r["list_pages_floor"],
        f("list_pages_ratio")
    );
    println!(
        "{:<44} {:>16} {:>16} {:>8.2}",
        "first to last list page (s)",
        secs(&r["sync_list_seconds"]),
        secs(&r["floor_list_seconds"]),
        f("sync_ratio")
    );
    println!(
        "{:<44} {:>16} {:>16}",
        "detail calls (get-by-id) over the window",
        r["detail_calls"],
        format!("budget {}", r["detail_budget_per_hour"])
    );
    println!(
        "{:<44} {:>16}",
        "  of them in the measured syncs",
        list(&r["detail_calls_in_measured_syncs"])
    );
    println!(
        "{:<44} {:>16} {:>16}",
        "get-by-id at the emulator / adoption look-ups", r["get_by_id_at_emulator"], r["adoption_get_by_id_calls"]
    );
    println!(
        "{:<44} {:>16} {:>16}",
        "details pending (status)",
        r["details_pending"],
        format!("expected {}", r["details_pending_expected"])
    );
    let over = &r["peak_rss_over_empty_mib"];
    println!(
        "{:<44} {:>15.1}M {:>16} {}",
        "peak RSS (VmHWM)",
        f("peak_rss_mib"),
        if over.is_null() {
            String::new()
        } else {
            format!("{:+.1}M vs empty", num(over))
        },
        if r["peak_rss_over_empty_mib_per_1000_customers"].is_null() {
            String::new()
        } else {
            format!(
                "{:+.2}M per 1,000 customers",
                f("peak_rss_over_empty_mib_per_1000_customers")
            )
        }
    );
    let inv = &r["inventory"];
    println!(
        "{:<44} customers {} declared {} undeclared {} missing {} outsideRegion {} wrongReseller {} detailsPending {}",
        "status.inventory",
        inv["customers"],
        inv["declared"],
        inv["undeclared"],
        inv["missing"],
        inv["outsideRegion"],
        inv["wrongReseller"],
        inv["detailsPending"]
    );
    println!(
        "{:<44} first sync {:.1}s, {} Customers adopted {:.1}s later",
        "cold start",
        f("first_sync_seconds"),
        r["declared"],
        f("adoption_seconds")
    );
}

pub fn print_curve(empty: &Value, sizes: &[Value]) {
    println!(
        "\n{:>9} {:>8} {:>7} {:>6} {:>6} {:>8} {:>8} {:>6} {:>8} {:>7} {:>8} {:>9} {:>9}",
        "customers",
        "declared",
        "pages",
        "floor",
        "ratio",
        "list s",
        "floor s",
        "ratio",
        "details",
        "budget",
        "pending",
        "peak MiB",
        "MiB/1000"
    );
    for r in std::iter::once(empty).chain(sizes) {
        println!(
            "{:>9} {:>8} {:>7} {:>6} {:>6.2} {:>8.2} {:>8.2} {:>6.2} {:>8} {:>7} {:>8} {:>9.1} {:>9.2}",
            r["customers"],
            r["declared"],
            list(&r["list_pages_per_sync"]),
            r["list_pages_floor"],
            num(&r["list_pages_ratio"]),
            num(&r["sync_list_seconds_median"]),
            num(&r["floor_list_seconds_median"]),
            num(&r["sync_ratio"]),
            r["detail_calls"],
            r["detail_budget_per_hour"],
            r["details_pending"],
            num(&r["peak_rss_mib"]),
            num(&r["peak_rss_over_empty_mib_per_1000_customers"])
        );
    }
}
