//! The floor of a sync's listing: the operator's own Partner Center client (as the partner's second
//! admin user, App+User, like crates/bench/src/bin/bench_customers/floor.rs) paging the same
//! customer list with nothing else to do — each page counted and dropped. Run while the operator is
//! stopped, so the emulator's request log holds only its requests and the same measure (first to
//! last list page, by the log's timestamps) applies to both.

use super::generate;
use anyhow::Result;
use partner_center_operator::api::AuthMode;
use partner_center_operator::partner_center::PartnerCenterApi;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One paging of the whole list by the floor client.
pub struct Paging {
    /// Wall time of the paging in this process (the token is fetched before, not counted).
    pub elapsed: Duration,
    /// List requests the client made.
    pub requests: u64,
    /// Customers it was handed.
    pub customers: u64,
}

pub fn client(emulator_base: &str) -> Result<Arc<dyn PartnerCenterApi>> {
    Ok(Arc::new(pco_bench::emulator_client(
        emulator_base,
        generate::PARTNER_TENANT,
        AuthMode::AppPlusUser,
        generate::CLIENT_ID,
        generate::CLIENT_SECRET,
        Some(generate::FLOOR_REFRESH_TOKEN),
    )?))
}

/// Pages through the account's customers `runs` times, one after the other; a token is fetched
/// first (the organization profile call), so no paging pays for the login.
pub async fn run(pc: &dyn PartnerCenterApi, runs: usize) -> Result<Vec<Paging>> {
    pc.organization_profile().await?;
    let mut out = Vec::with_capacity(runs);
    for _ in 0..runs {
        let mut customers = 0u64;
        let started = Instant::now();
        let requests = pc
            .each_customer_page(&mut |page| customers = customers.saturating_add(page.len() as u64))
            .await?;
        out.push(Paging {
            elapsed: started.elapsed(),
            requests,
            customers,
        });
    }
    Ok(out)
}
