//! Fixture file: which partner tenants exist, what they are (partner type, sandbox), their apps,
//! users and customers. Everything the emulator does is derived from these settings; nothing in a
//! response names the partner type or the sandbox flag.

use std::collections::HashSet;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fixtures {
    #[serde(default)]
    pub settings: Settings,
    #[serde(default)]
    pub partners: Vec<PartnerFixture>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum NextLinkStyle {
    /// Next links alternate between `/v1/customers?...` and `/customers?...` (both seen in the wild).
    Alternate,
    WithV1,
    WithoutV1,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Settings {
    /// Prefix JSON bodies with a UTF-8 BOM (EF BB BF), as some Partner Center responses do.
    pub bom: bool,
    /// A superseded refresh token stops working at once. Off by default, as in Entra, where the
    /// previous refresh token stays valid until its own expiry; tests of a client's rotation
    /// handling turn it on.
    pub strict_refresh_token_rotation: bool,
    /// Token bucket size and refill per minute, per partner tenant. 0 disables throttling.
    pub rate_limit_per_minute: u32,
    pub next_link_style: NextLinkStyle,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bom: false,
            strict_refresh_token_rotation: false,
            rate_limit_per_minute: 500,
            next_link_style: NextLinkStyle::Alternate,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub enum PartnerType {
    DirectBill,
    IndirectProvider,
    IndirectReseller,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PartnerFixture {
    pub tenant_id: String,
    pub company_name: String,
    pub domain: String,
    pub email: String,
    pub country: String,
    pub mpn_id: String,
    pub partner_type: PartnerType,
    #[serde(default)]
    pub sandbox: bool,
    /// Optional address details for the profiles (defaults are generic placeholders).
    #[serde(default)]
    pub address: Option<AddressFixture>,
    #[serde(default)]
    pub apps: Vec<AppFixture>,
    #[serde(default)]
    pub users: Vec<UserFixture>,
    #[serde(default)]
    pub customers: Vec<CustomerFixture>,
    #[serde(default)]
    pub generated_customers: usize,
    #[serde(default)]
    pub indirect_resellers: Vec<ResellerFixture>,
    /// Countries the partner is onboarded to sell in (ISO-2); creating a customer elsewhere is 403
    /// code 2030. Not set: every country.
    #[serde(default)]
    pub sell_countries: Option<Vec<String>>,
    /// `false`: creating a customer is refused with 403 code 600006 (action not allowed).
    #[serde(default = "yes")]
    pub customer_creation_allowed: bool,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AddressFixture {
    pub address_line1: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub region: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone_number: Option<String>,
}

#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppFixture {
    pub client_id: String,
    pub client_secret: String,
    /// Redirect URIs the authorize endpoint accepts, matched as Entra does (exactly, except that an
    /// http `localhost` / `127.0.0.1` / `[::1]` entry matches any port); any other is AADSTS50011.
    /// Not set: any http loopback URI (any port and path), a development convenience.
    #[serde(default)]
    pub redirect_uris: Option<Vec<String>>,
}

impl std::fmt::Debug for AppFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppFixture")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("redirect_uris", &self.redirect_uris)
            .finish()
    }
}

#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserFixture {
    pub upn: String,
    #[serde(default = "yes")]
    pub mfa: bool,
    /// An initial refresh token (issued to the partner's first app at emulator start).
    #[serde(default)]
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for UserFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserFixture")
            .field("upn", &self.upn)
            .field("mfa", &self.mfa)
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomerFixture {
    pub tenant_id: String,
    pub company_name: String,
    pub domain: String,
    #[serde(default = "reseller")]
    pub relationship_to_partner: String,
    #[serde(default)]
    pub associated_partner_id: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
}

fn reseller() -> String {
    "reseller".to_string()
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResellerFixture {
    pub id: String,
    pub name: String,
    pub mpn_id: String,
    pub location: String,
    #[serde(default = "active")]
    pub state: String,
    /// Whether the reseller has accepted the Microsoft Partner Agreement; `false`: creating a
    /// customer for it is 403 code 900123.
    #[serde(default = "yes")]
    pub mpa_accepted: bool,
}

fn active() -> String {
    "Active".to_string()
}

/// Fixture problems, each naming the field and the fix.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("fixtures YAML could not be parsed: {0}")]
    Parse(String),
    #[error("{field}: {problem}")]
    Invalid { field: String, problem: String },
}

pub(crate) fn is_guid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok() && s.len() == 36
}

impl Fixtures {
    pub fn from_yaml(text: &str) -> Result<Fixtures, FixtureError> {
        let fixtures: Fixtures = serde_saphyr::from_str(text).map_err(|e| FixtureError::Parse(e.to_string()))?;
        fixtures.validate()?;
        Ok(fixtures)
    }

    /// Cross-field checks serde cannot express.
    pub fn validate(&self) -> Result<(), FixtureError> {
        let bad = |field: String, problem: &str| FixtureError::Invalid {
            field,
            problem: problem.to_string(),
        };
        let mut tenants = HashSet::new();
        let mut clients = HashSet::new();
        let mut domains = HashSet::new();
        let mut refresh_tokens = HashSet::new();
        for (p, partner) in self.partners.iter().enumerate() {
            let at = format!("partners[{p}]");
            if !is_guid(&partner.tenant_id) {
                return Err(bad(
                    format!("{at}.tenantId"),
                    "must be a GUID like 5f0c1a2b-0000-4000-8000-000000000001",
                ));
            }
            if !tenants.insert(partner.tenant_id.to_lowercase()) {
                return Err(bad(
                    format!("{at}.tenantId"),
                    "duplicate tenant id; every partner needs its own tenant",
                ));
            }
            if partner.country.len() != 2 || !partner.country.chars().all(|c| c.is_ascii_uppercase()) {
                return Err(bad(
                    format!("{at}.country"),
                    "must be an ISO-3166 alpha-2 code in capitals, e.g. DE",
                ));
            }
            if !partner.domain.contains('.') || !domains.insert(partner.domain.to_lowercase()) {
                return Err(bad(
                    format!("{at}.domain"),
                    "must be a unique domain name such as contoso.onmicrosoft.com",
                ));
            }
            for (a, app) in partner.apps.iter().enumerate() {
                if !is_guid(&app.client_id) {
                    return Err(bad(format!("{at}.apps[{a}].clientId"), "must be a GUID"));
                }
                if !clients.insert(app.client_id.to_lowercase()) {
                    return Err(bad(
                        format!("{at}.apps[{a}].clientId"),
                        "duplicate client id; an app is registered in exactly one tenant",
                    ));
                }
                if app.client_secret.is_empty() {
                    return Err(bad(format!("{at}.apps[{a}].clientSecret"), "must not be empty"));
                }
                for (r, uri) in app.redirect_uris.iter().flatten().enumerate() {
                    if url::Url::parse(uri).is_err() {
                        return Err(bad(
                            format!("{at}.apps[{a}].redirectUris[{r}]"),
                            "must be an absolute URL such as http://localhost:8400/ or https://app.example/callback",
                        ));
                    }
                }
            }
            for (u, user) in partner.users.iter().enumerate() {
                if !user.upn.contains('@') {
                    return Err(bad(
                        format!("{at}.users[{u}].upn"),
                        "must look like admin@contoso.onmicrosoft.com",
                    ));
                }
                if let Some(rt) = &user.refresh_token {
                    if partner.apps.is_empty() {
                        return Err(bad(
                            format!("{at}.users[{u}].refreshToken"),
                            "needs an app: the initial refresh token is issued to the partner's first app; add one under apps",
                        ));
                    }
                    if rt.is_empty() || !refresh_tokens.insert(rt.clone()) {
                        return Err(bad(
                            format!("{at}.users[{u}].refreshToken"),
                            "must be non-empty and unique across all users",
                        ));
                    }
                }
            }
            for (c, customer) in partner.customers.iter().enumerate() {
                if !is_guid(&customer.tenant_id) {
                    return Err(bad(format!("{at}.customers[{c}].tenantId"), "must be a GUID"));
                }
                if !tenants.insert(customer.tenant_id.to_lowercase()) {
                    return Err(bad(
                        format!("{at}.customers[{c}].tenantId"),
                        "duplicate tenant id (already used by a partner or customer)",
                    ));
                }
                if !domains.insert(customer.domain.to_lowercase()) {
                    return Err(bad(
                        format!("{at}.customers[{c}].domain"),
                        "duplicate domain; domains are global",
                    ));
                }
            }
            for (r, reseller) in partner.indirect_resellers.iter().enumerate() {
                if !is_guid(&reseller.id) {
                    return Err(bad(format!("{at}.indirectResellers[{r}].id"), "must be a GUID"));
                }
            }
            for (i, c) in partner.sell_countries.iter().flatten().enumerate() {
                if c.len() != 2 || !c.chars().all(|x| x.is_ascii_uppercase()) {
                    return Err(bad(
                        format!("{at}.sellCountries[{i}]"),
                        "must be an ISO-3166 alpha-2 code in capitals, e.g. DE",
                    ));
                }
            }
            if !partner.indirect_resellers.is_empty() && partner.partner_type != PartnerType::IndirectProvider {
                return Err(bad(
                    format!("{at}.indirectResellers"),
                    "only an IndirectProvider has indirect resellers; set partnerType: IndirectProvider or remove the list",
                ));
            }
        }
        Ok(())
    }
}
