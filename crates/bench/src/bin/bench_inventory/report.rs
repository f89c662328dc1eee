//! The tables printed from the results JSON (bench/results/inventory.json): one per size, then the
//! curve over the sizes.

use serde_json::Value;

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// A JSON value as text that honours the table's widths (Value's Display does not pad); null as "-".
fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A number with two decimals, "-" when it is not known (null, or no time to divide by).
fn two(v: &Value) -> String {
    let x = num(v);
    if x.is_finite() { format!("{x:.2}") } else { "-".into() }
}

fn list(v: &Value) -> String {
    v.as_array()
        .map(|a| a.iter().map(Value::to_string).collect::<Vec<_>>().join(" / "))
        .unwrap_or_default()
}

/// Seconds (JSON) as milliseconds: a listing of a few thousand customers takes well under a second.
fn millis(v: &Value) -> String {
    v.as_array()
        .map(|a| a.iter().map(ms).collect::<Vec<_>>().join(" / "))
        .unwrap_or_default()
}

fn ms(v: &Value) -> String {
    let x = num(v) * 1000.0;
    if x.is_finite() { format!("{x:.1}") } else { "-".into() }
}

pub fn print_table(r: &Value) {
    let f = |k: &str| num(&r[k]);
    println!(
        "\n{} customers in the account, {} declared, detail budget {} calls per hour; {} requested syncs measured\n",
        r["customers"], r["declared"], r["detail_budget_per_hour"], r["syncs_measured"]
    );
    println!("{:<44} {:>20} {:>20} {:>8}", "measure", "operator", "floor", "ratio");
    println!(
        "{:<44} {:>20} {:>20} {:>8}",
        "list pages per sync",
        list(&r["list_pages_per_sync"]),
        text(&r["list_pages_floor"]),
        two(&r["list_pages_ratio"])
    );
    println!(
        "{:<44} {:>20} {:>20} {:>8}",
        "first to last list page (ms)",
        millis(&r["sync_list_seconds"]),
        millis(&r["floor_list_seconds"]),
        two(&r["sync_ratio"])
    );
    println!(
        "{:<44} {:>20} {:>20}",
        "detail calls (get-by-id), whole operator run",
        text(&r["detail_calls"]),
        format!("budget {}", r["detail_budget_per_hour"])
    );
    println!(
        "{:<44} {:>20}",
        "  of them in the measured syncs",
        list(&r["detail_calls_in_measured_syncs"])
    );
    println!(
        "{:<44} {:>20} {:>20}",
        "get-by-id at the emulator / adoption look-ups",
        text(&r["get_by_id_at_emulator"]),
        text(&r["adoption_get_by_id_calls"])
    );
    println!(
        "{:<44} {:>20} {:>20}",
        "details pending (status)",
        text(&r["details_pending"]),
        format!("expected {}", r["details_pending_expected"])
    );
    let over = &r["peak_rss_over_empty_mib"];
    println!(
        "{:<44} {:>19.1}M {:>20} {}",
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
        "{:<44} first sync {:.1}s, {} Customers adopted {:.1}s after the operator started",
        "cold start",
        f("first_sync_seconds"),
        r["declared"],
        f("adoption_seconds")
    );
}

pub fn print_curve(empty: &Value, sizes: &[Value], slopes: &[Value]) {
    println!(
        "\n{:>9} {:>8} {:>7} {:>6} {:>6} {:>8} {:>8} {:>6} {:>8} {:>7} {:>8} {:>9} {:>9}",
        "customers",
        "declared",
        "pages",
        "floor",
        "ratio",
        "list ms",
        "floor ms",
        "ratio",
        "details",
        "budget",
        "pending",
        "peak MiB",
        "MiB/1000"
    );
    for r in std::iter::once(empty).chain(sizes) {
        println!(
            "{:>9} {:>8} {:>7} {:>6} {:>6} {:>8} {:>8} {:>6} {:>8} {:>7} {:>8} {:>9.1} {:>9}",
            text(&r["customers"]),
            text(&r["declared"]),
            list(&r["list_pages_per_sync"]),
            text(&r["list_pages_floor"]),
            two(&r["list_pages_ratio"]),
            ms(&r["sync_list_seconds_median"]),
            ms(&r["floor_list_seconds_median"]),
            two(&r["sync_ratio"]),
            text(&r["detail_calls"]),
            text(&r["detail_budget_per_hour"]),
            text(&r["details_pending"]),
            num(&r["peak_rss_mib"]),
            two(&r["peak_rss_over_empty_mib_per_1000_customers"])
        );
    }
    for s in slopes {
        println!(
            "peak RSS from {} to {} customers: {} MiB per 1,000 customers",
            text(&s["from"]),
            text(&s["to"]),
            two(&s["mib_per_1000"])
        );
    }
}
