//! Mutable emulator state: partners and customers, issued tokens, paging cursors, idempotency
//! records, the request log, faults and rate-limit buckets. One mutex; never held across `.await`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use jiff::Timestamp;
use serde::Serialize;

use super::clock::Clock;
use super::faults::Fault;
use super::fixtures::{AddressFixture, Fixtures, PartnerFixture, PartnerType, ResellerFixture, Settings};
use super::keys::Signer;

/// Access token lifetime in emulator seconds (Entra issues 3599).
pub const ACCESS_TOKEN_SECONDS: i64 = 3599;
/// Refresh tokens live 90 days from issue; every redemption issues a fresh one.
pub const REFRESH_TOKEN_SECONDS: i64 = 90 * 24 * 3600;
/// Authorization codes are short-lived.
pub const AUTH_CODE_SECONDS: i64 = 600;
/// Integration sandbox customer quota.
pub const SANDBOX_CUSTOMER_QUOTA: usize = 75;

pub struct App {
    pub client_id: String,
    pub client_secret: String,
    /// None: any http loopback redirect URI (see fixtures.rs).
    pub redirect_uris: Option<Vec<String>>,
}

pub struct User {
    pub upn: String,
    pub oid: String,
    pub mfa: bool,
}

#[derive(Clone)]
pub struct Address {
    pub country: String,
    pub region: Option<String>,
    pub city: String,
    pub state: Option<String>,
    pub address_line1: String,
    pub address_line2: Option<String>,
    pub postal_code: String,
    pub first_name: String,
    pub last_name: String,
    pub phone_number: Option<String>,
}

#[derive(Clone)]
pub struct Billing {
    pub id: String,
    pub email: String,
    pub culture: String,
    pub language: String,
    pub company_name: String,
    pub address: Address,
}

#[derive(Clone)]
pub struct Customer {
    pub id: String,
    pub commerce_id: String,
    pub company_name: String,
    pub domain: String,
    pub relationship: String,
    pub associated_partner_id: Option<String>,
    pub billing: Billing,
    pub etag: String,
    /// Synthesised from `generatedCustomers` (regenerated when that count is patched).
    pub generated: bool,
    /// As sent at creation (`enableGDAPByDefault`); None for fixture customers and when omitted.
    pub enable_gdap_by_default: Option<bool>,
    /// Created with an address the validator refuses: such a sandbox customer can never be deleted.
    pub address_invalid: bool,
}

pub struct Partner {
    pub tenant_id: String,
    pub company_name: String,
    pub domain: String,
    pub email: String,
    pub country: String,
    pub mpn_id: String,
    pub partner_type: PartnerType,
    pub sandbox: bool,
    pub address: AddressFixture,
    pub apps: Vec<App>,
    pub users: Vec<User>,
    pub customers: Vec<Customer>,
    pub resellers: Vec<ResellerFixture>,
    /// None: onboarded in every country.
    pub sell_countries: Option<Vec<String>>,
    pub customer_creation_allowed: bool,
}

#[derive(Clone)]
pub struct AccessToken {
    pub tenant: String,
    /// None for app-only tokens.
    pub upn: Option<String>,
    pub mfa: bool,
    pub audience: String,
    pub expires: Timestamp,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RefreshState {
    Active,
    Superseded(Timestamp),
    Revoked,
}

#[derive(Clone)]
pub struct RefreshToken {
    pub tenant: String,
    pub upn: String,
    pub client_id: String,
    pub issued: Timestamp,
    pub expires: Timestamp,
    pub state: RefreshState,
}

pub struct AuthCode {
    pub tenant: String,
    pub upn: String,
    pub client_id: String,
    pub expires: Timestamp,
    pub redeemed: bool,
    /// The authorize request's redirect_uri; the redemption must send the same.
    pub redirect_uri: String,
    /// PKCE (method, challenge) from the authorize request.
    pub pkce: Option<(PkceMethod, String)>,
    /// Echoed in the id_token.
    pub nonce: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PkceMethod {
    Plain,
    S256,
}

/// Server-side seek cursor behind a continuation token.
#[derive(Clone)]
pub struct Cursor {
    pub tenant: String,
    pub offset: usize,
    pub size: usize,
    /// How many next links this enumeration has produced (drives the /v1 alternation).
    pub page: usize,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    pub seq: u64,
    pub time: String,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub tenant_id: Option<String>,
    /// None when the connection was dropped by a fault.
    pub status: Option<u16>,
    pub request_id: String,
    pub correlation_id: String,
    pub user_agent: Option<String>,
    pub headers: std::collections::BTreeMap<String, String>,
    /// Injected fault kind, if one was applied.
    pub fault: Option<String>,
}

/// One entry of the partner's audit feed (`GET /v1/auditrecords`).
#[derive(Clone)]
pub struct AuditRecord {
    pub partner: String,
    pub customer_id: String,
    pub customer_name: String,
    /// e.g. `AddCustomer`, `UpdateCustomer`, `DeleteCustomer`.
    pub operation: &'static str,
    pub date: Timestamp,
}

pub struct Bucket {
    pub tokens: f64,
    pub last: Timestamp,
}

pub struct Inner {
    pub settings: Settings,
    pub partners: Vec<Partner>,
    pub access_tokens: HashMap<String, AccessToken>,
    pub refresh_tokens: HashMap<String, RefreshToken>,
    pub codes: HashMap<String, AuthCode>,
    pub cursors: HashMap<String, Cursor>,
    /// (partner tenant, MS-RequestId) → the 201 body that request produced (idempotent replay).
    pub created_by_request: HashMap<(String, String), serde_json::Value>,
    /// Customer id → the agreements recorded for it (`POST /v1/customers/{id}/agreements`).
    pub agreements: HashMap<String, Vec<serde_json::Value>>,
    pub log: Vec<LogEntry>,
    pub next_seq: u64,
    pub faults: Vec<Fault>,
    pub next_fault_id: u64,
    pub buckets: HashMap<String, Bucket>,
    pub audit: Vec<AuditRecord>,
}

pub struct EmulatorState {
    pub clock: Clock,
    pub signer: Signer,
    /// "https" behind the TLS listener; discovery documents name endpoints with it.
    pub scheme: &'static str,
    inner: Mutex<Inner>,
}

impl EmulatorState {
    pub fn new(fixtures: Fixtures, scheme: &'static str) -> Self {
        let clock = Clock::default();
        let now = clock.now();
        let mut refresh_tokens = HashMap::new();
        let partners = fixtures
            .partners
            .iter()
            .map(|p| {
                for user in &p.users {
                    if let (Some(rt), Some(app)) = (&user.refresh_token, p.apps.first()) {
                        refresh_tokens.insert(
                            rt.clone(),
                            RefreshToken {
                                tenant: p.tenant_id.to_lowercase(),
                                upn: user.upn.clone(),
                                client_id: app.client_id.to_lowercase(),
                                issued: now,
                                expires: now + jiff::SignedDuration::from_secs(REFRESH_TOKEN_SECONDS),
                                state: RefreshState::Active,
                            },
                        );
                    }
                }
                build_partner(p)
            })
            .collect();
        EmulatorState {
            clock,
            signer: Signer::generate(),
            scheme,
            inner: Mutex::new(Inner {
                settings: fixtures.settings.clone(),
                partners,
                access_tokens: HashMap::new(),
                refresh_tokens,
                codes: HashMap::new(),
                cursors: HashMap::new(),
                created_by_request: HashMap::new(),
                agreements: HashMap::new(),
                log: Vec::new(),
                next_seq: 1,
                faults: Vec::new(),
                next_fault_id: 1,
                buckets: HashMap::new(),
                audit: Vec::new(),
            }),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking handler must not wedge the emulator for every later test step.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    pub fn partner(&self, tenant: &str) -> Option<&Partner> {
        self.partners.iter().find(|p| p.tenant_id == tenant)
    }

    pub fn partner_mut(&mut self, tenant: &str) -> Option<&mut Partner> {
        self.partners.iter_mut().find(|p| p.tenant_id == tenant)
    }

    /// Resolves an authority path segment (GUID or verified domain) to a partner tenant id.
    pub fn resolve_authority(&self, segment: &str) -> Option<String> {
        let s = segment.to_lowercase();
        self.partners
            .iter()
            .find(|p| p.tenant_id == s || p.domain.to_lowercase() == s)
            .map(|p| p.tenant_id.clone())
    }

    /// Home tenant of an app registration.
    pub fn app_home(&self, client_id: &str) -> Option<(String, &App)> {
        let id = client_id.to_lowercase();
        self.partners.iter().find_map(|p| {
            p.apps
                .iter()
                .find(|a| a.client_id == id)
                .map(|a| (p.tenant_id.clone(), a))
        })
    }

    /// True when any tenant (partner or customer) already uses the domain.
    pub fn domain_taken(&self, domain: &str) -> bool {
        let d = domain.to_lowercase();
        self.partners
            .iter()
            .any(|p| p.domain.to_lowercase() == d || p.customers.iter().any(|c| c.domain.to_lowercase() == d))
    }

    /// Token bucket per partner tenant; Err carries the Retry-After seconds.
    pub fn take_rate_token(&mut self, tenant: &str, now: Timestamp) -> Result<(), u64> {
        let limit = f64::from(self.settings.rate_limit_per_minute);
        if limit == 0.0 {
            return Ok(());
        }
        let bucket = self.buckets.entry(tenant.to_string()).or_insert(Bucket {
            tokens: limit,
            last: now,
        });
        let elapsed = now.duration_since(bucket.last).as_secs_f64().max(0.0);
        bucket.tokens = (bucket.tokens + elapsed * limit / 60.0).min(limit);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err((((1.0 - bucket.tokens) * 60.0 / limit).ceil() as u64).max(1))
        }
    }

    /// Appends to the partner's audit feed.
    pub fn audit(
        &mut self,
        partner: &str,
        customer_id: &str,
        customer_name: &str,
        operation: &'static str,
        date: Timestamp,
    ) {
        self.audit.push(AuditRecord {
            partner: partner.to_string(),
            customer_id: customer_id.to_string(),
            customer_name: customer_name.to_string(),
            operation,
            date,
        });
    }

    pub fn customer_owner(&self, customer_id: &str) -> Option<&str> {
        self.partners
            .iter()
            .find(|p| p.customers.iter().any(|c| c.id == customer_id))
            .map(|p| p.tenant_id.as_str())
    }
}

fn build_partner(p: &PartnerFixture) -> Partner {
    let mut customers: Vec<Customer> = p
        .customers
        .iter()
        .map(|c| {
            fixture_customer(
                c.tenant_id.to_lowercase(),
                c.company_name.clone(),
                c.domain.clone(),
                c.relationship_to_partner.clone(),
                c.associated_partner_id.clone(),
                c.country.clone().unwrap_or_else(|| p.country.clone()),
                false,
            )
        })
        .collect();
    customers.extend(generated_customers(&p.tenant_id, &p.country, p.generated_customers));
    Partner {
        tenant_id: p.tenant_id.to_lowercase(),
        company_name: p.company_name.clone(),
        domain: p.domain.clone(),
        email: p.email.clone(),
        country: p.country.clone(),
        mpn_id: p.mpn_id.clone(),
        partner_type: p.partner_type,
        sandbox: p.sandbox,
        address: p.address.clone().unwrap_or_default(),
        apps: p
            .apps
            .iter()
            .map(|a| App {
                client_id: a.client_id.to_lowercase(),
                client_secret: a.client_secret.clone(),
                redirect_uris: a.redirect_uris.clone(),
            })
            .collect(),
        users: p
            .users
            .iter()
            .map(|u| User {
                upn: u.upn.clone(),
                oid: derived_guid(&u.upn, 0),
                mfa: u.mfa,
            })
            .collect(),
        customers,
        resellers: p.indirect_resellers.clone(),
        sell_countries: p.sell_countries.clone(),
        customer_creation_allowed: p.customer_creation_allowed,
    }
}

/// A customer added through the control API (tests and benchmarks add thousands at once).
pub fn added_customer(
    id: String,
    company_name: String,
    domain: String,
    relationship: String,
    associated_partner_id: Option<String>,
    country: String,
) -> Customer {
    fixture_customer(
        id,
        company_name,
        domain,
        relationship,
        associated_partner_id,
        country,
        false,
    )
}

/// A tenant that accepted the partner's reseller invitation (control API): listed like any customer.
pub fn adopted_customer(id: String, company_name: String, domain: String, country: String) -> Customer {
    fixture_customer(id, company_name, domain, "reseller".into(), None, country, false)
}

fn fixture_customer(
    id: String,
    company_name: String,
    domain: String,
    relationship: String,
    associated_partner_id: Option<String>,
    country: String,
    generated: bool,
) -> Customer {
    Customer {
        commerce_id: derived_guid(&id, 1),
        billing: Billing {
            id: derived_guid(&id, 2),
            email: format!("admin@{domain}"),
            culture: "en-US".into(),
            language: "en".into(),
            company_name: company_name.clone(),
            address: Address {
                country,
                region: None,
                city: "Redmond".into(),
                state: Some("WA".into()),
                address_line1: "1 Microsoft Way".into(),
                address_line2: None,
                postal_code: "98052".into(),
                first_name: "Admin".into(),
                last_name: "User".into(),
                phone_number: None,
            },
        },
        etag: derived_guid(&id, 3),
        id,
        company_name,
        domain,
        relationship,
        associated_partner_id,
        generated,
        enable_gdap_by_default: None,
        address_invalid: false,
    }
}

/// Deterministic synthesised customers, so runs and tests see the same ids and names.
pub fn generated_customers(partner_tenant: &str, country: &str, n: usize) -> Vec<Customer> {
    let h = fnv32(partner_tenant);
    (1..=n)
        .map(|i| {
            fixture_customer(
                format!("{h:08x}-0000-4000-8000-{i:012x}"),
                format!("Generated Customer {i:05}"),
                format!("gen{i:05}x{h:08x}.onmicrosoft.com"),
                "reseller".into(),
                None,
                country.to_string(),
                true,
            )
        })
        .collect()
}

fn fnv32(s: &str) -> u32 {
    s.to_lowercase()
        .bytes()
        .fold(0x811c9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x01000193))
}

/// A stable GUID-shaped id derived from a seed string.
pub fn derived_guid(seed: &str, salt: u32) -> String {
    let a = fnv32(seed);
    let b = fnv32(&format!("{salt}:{seed}"));
    let c = fnv32(&format!("{seed}:{salt}:c"));
    format!(
        "{a:08x}-{:04x}-4{:03x}-8{:03x}-{c:08x}{:04x}",
        b >> 16,
        b & 0xfff,
        (c >> 4) & 0xfff,
        a & 0xffff
    )
}

pub fn new_guid() -> String {
    uuid::Uuid::new_v4().to_string()
}
