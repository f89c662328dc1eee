//! The table printed from the results JSON (bench/results/customers.json).

use serde_json::Value;

pub fn print_table(r: &Value) {
    let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
    println!(
        "\n{} Customers over {} connections ({} override), {} plans, {} resellers; {} Partner Center calls at once per connection\n",
        r["customers"],
        r["channel"]["connections"],
        r["channel"]["connection_overrides"],
        r["channel"]["plans"],
        r["channel"]["resellers"],
        r["customer_calls_per_connection"]
    );
    println!("{:<44} {:>12} {:>12} {:>8}", "measure", "operator", "floor", "ratio");
    println!(
        "{:<44} {:>11.1}s {:>11.1}s {:>8.2}",
        "all Customers Ready (Provisioned)",
        f("ready_seconds"),
        f("floor_seconds"),
        f("ratio")
    );
    println!(
        "{:<44} {:>12.2} {:>12}",
        "Partner Center calls per Customer (min 4)",
        f("partner_center_calls_per_customer"),
        r["partner_center_calls_per_customer_min"]
    );
    if let Some(paths) = r["partner_center_provisioning_calls_by_path"].as_object() {
        for (p, n) in paths {
            println!("  {:<42} {:>12}", p, n);
        }
    }
    println!(
        "{:<44} {:>12} {:>12}",
        "tenants duplicated / missing", r["tenants_duplicated"], r["tenants_missing"]
    );
    println!(
        "{:<44} {:>12.2} {:>12}",
        "Customer status writes per Customer",
        f("customer_status_writes_per_customer"),
        r["floor_status_writes"]
    );
    println!("{:<44} {:>12}", "Secret creates", r["secret_creates"]);
    println!("{:<44} {:>12}", "events written", r["events_written"]);
    println!("{:<44} {:>11.1}M", "peak RSS (VmHWM)", f("peak_rss_mib"));
    println!(
        "{:<44} {:>12}",
        format!("idle {}s: status writes", r["idle_window_seconds"]),
        r["idle_status_writes"]
    );
    println!(
        "{:<44} {:>12}",
        "idle: provisioning calls (beyond syncs)", r["idle_partner_center_provisioning_calls"]
    );
    if let Some(paths) = r["idle_partner_center_calls_by_path"].as_object() {
        for (p, n) in paths {
            println!("  {:<42} {:>12}", p, n);
        }
    }
}
