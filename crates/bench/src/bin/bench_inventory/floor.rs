//! The floor of a sync's listing: the operator's own Partner Center client (as the partner's second
//! admin user, App+User, like crates/bench/src/bin/bench_customers/floor.rs) paging the same
//! customer list with nothing else to do — each page counted and dropped. Run while the operator is
//! stopped, so the emulator's request log holds only its requests and the same measure (first to
//! last list page, by the log's timestamps) applies to both.

use super::generate;
use anyhow::Result;
use partner_center_operator::api::{AuthMode, Cloud};
use partner_center_operator::partner_center::{
    ConnectionSettings, Credentials, Endpoints, MemoryRefreshTokenSink, PartnerCenterApi, PartnerCenterClient,
};
use secrecy::SecretString;
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
    let base = url::Url::parse(emulator_base)?;
    let mut settings = ConnectionSettings::new(generate::PARTNER_TENANT, Cloud::Global, AuthMode::AppPlusUser);
    settings.endpoints = Some(Endpoints {
        partner_center: base.clone(),
        login: base,
    });
    let client = PartnerCenterClient::new(
        settings,
        Credentials {
            client_id: generate::CLIENT_ID.into(),
            client_secret: SecretString::from(generate::CLIENT_SECRET),
            refresh_token: Some(SecretString::from(generate::FLOOR_REFRESH_TOKEN)),
        },
        Arc::new(MemoryRefreshTokenSink::default()),
    )?;
    Ok(Arc::new(client))
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
