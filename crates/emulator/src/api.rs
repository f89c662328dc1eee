//! Partner Center endpoints under `/v1`. Behaviour (API access, relationships, quota) is derived
//! from the partner's fixture; no body ever names the partner type or the sandbox flag.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::fixtures::{NextLinkStyle, PartnerType};
use super::login::PARTNER_CENTER_RESOURCE;
use super::state::{Address, Billing, Cursor, Customer, EmulatorState, Inner, SANDBOX_CUSTOMER_QUOTA, new_guid};
use super::validation::{self, PostalAddress};
use super::wire::{self, pc_error, pc_json};

type Shared = Arc<EmulatorState>;

/// Largest page the customer list returns.
pub const MAX_PAGE: usize = 500;

const APP_CREDENTIALS_REFUSED: &str = "This resource can't be accessed by application credentials.";
const ROLE_REFUSED: &str = "The supplied role does not have the rights to perform the requested operation.";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    AppOrUser,
    UserOnly,
}

struct Caller {
    tenant: String,
    /// None for app-only tokens.
    upn: Option<String>,
}

fn unauthorized(bom: bool, description: &str) -> Response {
    let mut resp = pc_error(bom, StatusCode::UNAUTHORIZED, 800001, description);
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(
            "OAuth realm=\"urn:cpsvc:cpid:00000000-0000-0000-0000-000000000000\", error=\"invalid_token\"",
        ),
    );
    resp
}

fn unauthorized_boxed(bom: bool, description: &str) -> Box<Response> {
    Box::new(unauthorized(bom, description))
}

/// Bearer token of a request (also used by the request log to attribute the tenant).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

/// Authentication and authorisation in the order Partner Center applies them: token, audience,
/// MFA, throttling, API access of the partner, then app-only refusal.
fn authorize(inner: &mut Inner, now: Timestamp, headers: &HeaderMap, access: Access) -> Result<Caller, Box<Response>> {
    let bom = inner.settings.bom;
    let token = bearer(headers).ok_or_else(|| unauthorized_boxed(bom, "Partner token is missing."))?;
    let record = inner
        .access_tokens
        .get(token)
        .cloned()
        .ok_or_else(|| unauthorized_boxed(bom, "The access token is invalid."))?;
    if now >= record.expires {
        return Err(Box::new(unauthorized(bom, "The access token has expired.")));
    }
    if record.audience.trim_end_matches('/') != PARTNER_CENTER_RESOURCE {
        return Err(Box::new(pc_error(
            bom,
            StatusCode::UNAUTHORIZED,
            900420,
            &format!(
                "The audience '{}' is no longer supported. Request a token for the resource {PARTNER_CENTER_RESOURCE}.",
                record.audience
            ),
        )));
    }
    let partner_type = inner
        .partner(&record.tenant)
        .map(|p| p.partner_type)
        .ok_or_else(|| unauthorized_boxed(bom, "The access token is invalid."))?;
    let app_only = record.upn.is_none();
    if !app_only && !record.mfa {
        return Err(Box::new(pc_error(
            bom,
            StatusCode::UNAUTHORIZED,
            900421,
            "Multi-factor authentication is required. The access token does not contain the MFA claim (amr: mfa).",
        )));
    }
    if let Err(retry_after) = inner.take_rate_token(&record.tenant, now) {
        return Err(Box::new(wire::throttled(retry_after)));
    }
    if partner_type == PartnerType::IndirectReseller {
        return Err(Box::new(pc_error(bom, StatusCode::FORBIDDEN, 403, ROLE_REFUSED)));
    }
    if access == Access::UserOnly && app_only {
        return Err(Box::new(pc_error(
            bom,
            StatusCode::FORBIDDEN,
            403,
            APP_CREDENTIALS_REFUSED,
        )));
    }
    Ok(Caller {
        tenant: record.tenant,
        upn: record.upn,
    })
}

macro_rules! caller {
    ($inner:expr, $state:expr, $headers:expr, $access:expr) => {
        match authorize(&mut $inner, $state.clock.now(), &$headers, $access) {
            Ok(c) => c,
            Err(resp) => return *resp,
        }
    };
}

pub async fn organization_profile(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let mut inner = s.lock();
    let caller = caller!(inner, s, headers, Access::UserOnly);
    let partner = inner.partner(&caller.tenant).expect("authorized tenant exists");
    pc_json(inner.settings.bom, StatusCode::OK, &wire::organization_profile(partner))
}

pub async fn legal_business_profile(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let mut inner = s.lock();
    let caller = caller!(inner, s, headers, Access::AppOrUser);
    let partner = inner.partner(&caller.tenant).expect("authorized tenant exists");
    pc_json(
        inner.settings.bom,
        StatusCode::OK,
        &wire::legal_business_profile(partner),
    )
}

pub async fn mpn_profile(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = s.lock();
    let caller = caller!(inner, s, headers, Access::UserOnly);
    let bom = inner.settings.bom;
    match q.get("mpnId") {
        None => {
            let p = inner.partner(&caller.tenant).expect("authorized tenant exists");
            pc_json(bom, StatusCode::OK, &wire::mpn_profile(&p.mpn_id, &p.company_name))
        }
        Some(id) => match inner.partners.iter().find(|p| p.mpn_id == *id) {
            Some(p) => pc_json(bom, StatusCode::OK, &wire::mpn_profile(&p.mpn_id, &p.company_name)),
            None => pc_error(
                bom,
                StatusCode::NOT_FOUND,
                3000,
                &format!("Partner Organization with partner_id {id} could not be found"),
            ),
        },
    }
}

pub async fn list_customers(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let filter = q.get("filter").map(|f| parse_filter(f)).transpose();
    let access = match &filter {
        Ok(Some(f)) if f.field == FilterField::IndirectReseller => Access::UserOnly,
        _ => Access::AppOrUser,
    };
    let mut inner = s.lock();
    // Authentication first: a bad filter from an unauthenticated caller is still a 401.
    let caller = caller!(inner, s, headers, access);
    let bom = inner.settings.bom;
    let bad = |msg: &str| pc_error(bom, StatusCode::BAD_REQUEST, 2000, msg);
    let filter = match filter {
        Ok(f) => f,
        Err(msg) => return bad(&msg),
    };

    if let Some(f) = filter {
        let limit = match q.get("size").map(|v| v.parse::<usize>()) {
            None | Some(Ok(0)) => usize::MAX,
            Some(Ok(n)) => n.min(MAX_PAGE),
            Some(Err(_)) => return bad("size: must be a non-negative integer, e.g. size=500"),
        };
        let partner = inner.partner(&caller.tenant).expect("authorized tenant exists");
        let items: Vec<Value> = partner
            .customers
            .iter()
            .filter(|c| f.matches(c))
            .take(limit)
            .map(wire::customer_list_item)
            .collect();
        let self_uri = format!(
            "/v1/customers?size={}",
            q.get("size").map(String::as_str).unwrap_or("0")
        );
        return pc_json(bom, StatusCode::OK, &wire::collection(items, &self_uri));
    }

    let cursor = match q.get("seekOperation") {
        Some(op) if op.eq_ignore_ascii_case("next") => {
            let Some(token) = headers.get("MS-ContinuationToken").and_then(|v| v.to_str().ok()) else {
                return bad("seekOperation=Next needs the MS-ContinuationToken request header from links.next.headers");
            };
            match inner.cursors.get(token) {
                Some(c) if c.tenant == caller.tenant => c.clone(),
                _ => return bad("The continuation token is invalid."),
            }
        }
        Some(op) => return bad(&format!("seekOperation '{op}' is not supported; use Next")),
        None => {
            let size = match q.get("size").map(|v| v.parse::<usize>()) {
                None | Some(Ok(0)) => MAX_PAGE,
                Some(Ok(n)) => n.min(MAX_PAGE),
                Some(Err(_)) => return bad("size: must be a non-negative integer, e.g. size=500"),
            };
            Cursor {
                tenant: caller.tenant.clone(),
                offset: 0,
                size,
                page: 0,
            }
        }
    };
    let partner = inner.partner(&caller.tenant).expect("authorized tenant exists");
    let total = partner.customers.len();
    if cursor.offset >= total && cursor.page > 0 {
        // Microsoft's own sample treats this as "all records read".
        return bad("There are no more records to read.");
    }
    let end = (cursor.offset + cursor.size).min(total);
    let items: Vec<Value> = partner.customers[cursor.offset..end]
        .iter()
        .map(wire::customer_list_item)
        .collect();
    // A full page always advertises a next page, even when it was the last one; the follow-up
    // then gets 400/2000 (the documented end-of-paging signal).
    let has_next = end < total || (items.len() == cursor.size && !items.is_empty());
    let mut body = wire::collection(items, &format!("/v1/customers?size={}", cursor.size));
    if has_next {
        let token = continuation_token();
        let with_v1 = match inner.settings.next_link_style {
            NextLinkStyle::WithV1 => true,
            NextLinkStyle::WithoutV1 => false,
            NextLinkStyle::Alternate => cursor.page % 2 == 0,
        };
        let prefix = if with_v1 { "/v1" } else { "" };
        body["continuationToken"] = json!(token);
        body["links"]["next"] = json!({
            "uri": format!("{prefix}/customers?size={}&seekOperation=Next", cursor.size),
            "method": "GET",
            "headers": [{"key": "MS-ContinuationToken", "value": token}],
        });
        inner.cursors.insert(
            token,
            Cursor {
                tenant: caller.tenant.clone(),
                offset: end,
                size: cursor.size,
                page: cursor.page + 1,
            },
        );
    }
    pc_json(bom, StatusCode::OK, &body)
}

fn continuation_token() -> String {
    use base64::Engine;
    let bytes: [u8; 24] = rand::random();
    format!(
        "{},{}_{}",
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

#[derive(PartialEq, Eq)]
enum FilterField {
    CompanyName,
    Domain,
    IndirectReseller,
}

struct Filter {
    field: FilterField,
    value: String,
}

impl Filter {
    fn matches(&self, c: &Customer) -> bool {
        let v = self.value.to_lowercase();
        match self.field {
            FilterField::CompanyName => c.company_name.to_lowercase().starts_with(&v),
            FilterField::Domain => c.domain.to_lowercase().starts_with(&v),
            FilterField::IndirectReseller => c
                .associated_partner_id
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(&v)),
        }
    }
}

fn parse_filter(raw: &str) -> Result<Filter, String> {
    let v: Value = serde_json::from_str(raw).map_err(|_| "filter: must be a JSON object such as {\"Field\":\"CompanyName\",\"Value\":\"con\",\"Operator\":\"starts_with\"}".to_string())?;
    let get = |k: &str| v.get(k).or_else(|| v.get(k.to_lowercase())).and_then(Value::as_str);
    let field = match get("Field") {
        Some("CompanyName") => FilterField::CompanyName,
        Some("Domain") => FilterField::Domain,
        Some("IndirectReseller") => FilterField::IndirectReseller,
        other => {
            return Err(format!(
                "filter.Field: unsupported value {other:?}; use CompanyName, Domain or IndirectReseller"
            ));
        }
    };
    if field != FilterField::IndirectReseller && get("Operator") != Some("starts_with") {
        return Err("filter.Operator: only starts_with is supported".into());
    }
    let value = get("Value").ok_or("filter.Value: required")?.to_string();
    Ok(Filter { field, value })
}

pub async fn get_customer(State(s): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let mut inner = s.lock();
    let caller = caller!(inner, s, headers, Access::AppOrUser);
    let bom = inner.settings.bom;
    let id = id.to_lowercase();
    if uuid::Uuid::parse_str(&id).is_err() {
        return pc_error(
            bom,
            StatusCode::BAD_REQUEST,
            2000,
            "The customer id must be a GUID (the customer's tenant id).",
        );
    }
    let partner = inner.partner(&caller.tenant).expect("authorized tenant exists");
    if let Some(c) = partner.customers.iter().find(|c| c.id == id) {
        return pc_json(bom, StatusCode::OK, &wire::customer_full(c));
    }
    if inner.customer_owner(&id).is_some() {
        return pc_error(
            bom,
            StatusCode::FORBIDDEN,
            20002,
            "The partner has no commerce relationship with the customer.",
        );
    }
    pc_error(
        bom,
        StatusCode::NOT_FOUND,
        1000,
        &format!("Customer {id} was not found."),
    )
}

pub async fn head_domain(State(s): State<Shared>, headers: HeaderMap, Path(domain): Path<String>) -> Response {
    let mut inner = s.lock();
    let _caller = caller!(inner, s, headers, Access::AppOrUser);
    let status = if inner.domain_taken(&domain) {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = status;
    resp
}

pub async fn relationships(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = s.lock();
    let caller = caller!(inner, s, headers, Access::UserOnly);
    let bom = inner.settings.bom;
    let kind = q.get("relationship_type").map(|k| k.to_lowercase());
    let partner = inner.partner(&caller.tenant).expect("authorized tenant exists");
    let items: Vec<Value> = match kind.as_deref() {
        Some("isindirectcloudsolutionproviderof") => {
            if partner.partner_type == PartnerType::IndirectProvider {
                partner.resellers.iter().map(wire::reseller_relationship).collect()
            } else {
                Vec::new()
            }
        }
        // Indirect resellers are refused API access before reaching here, so no providers to list.
        Some("isindirectresellerof") => Vec::new(),
        _ => {
            return pc_error(
                bom,
                StatusCode::BAD_REQUEST,
                2000,
                "relationship_type: required; use IsIndirectCloudSolutionProviderOf or IsIndirectResellerOf",
            );
        }
    };
    let self_uri = format!(
        "/v1/relationships?relationship_type={}",
        q.get("relationship_type").map(String::as_str).unwrap_or_default()
    );
    pc_json(bom, StatusCode::OK, &wire::collection(items, &self_uri))
}

/// Countries where organizationRegistrationNumber is mandatory (600049) — elsewhere refused (600002).
const REGISTRATION_COUNTRIES: &[&str] = &["AM", "AZ", "BY", "HU", "KZ", "KG", "MD", "RU", "TJ", "UZ", "UA"];
/// Countries where phoneNumber is mandatory (600051).
const PHONE_COUNTRIES: &[&str] = &[
    "AM", "AZ", "BY", "HU", "KZ", "KG", "MD", "RU", "TJ", "UZ", "UA", "IN", "BR", "ZA", "PL", "AE", "SA", "TR", "TH",
    "VN",
];

/// The pattern a registration number must match per country (600050 names it), as
/// (shape, regex): `9` a digit; `*` any of 1-50 letters, digits and '-'.
fn registration_rule(country: &str) -> (&'static str, &'static str) {
    match country {
        "HU" => ("99-99-999999", r"^\d{2}-\d{2}-\d{6}$"),
        "RU" => ("9999999999999", r"^\d{13}$"),
        _ => ("*", r"^[A-Za-z0-9-]{1,50}$"),
    }
}

fn registration_pattern(country: &str) -> &'static str {
    registration_rule(country).1
}

fn registration_number_valid(country: &str, value: &str) -> bool {
    match registration_rule(country).0 {
        "*" => (1..=50).contains(&value.len()) && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
        shape => {
            shape.len() == value.len()
                && shape.chars().zip(value.chars()).all(|(s, v)| match s {
                    '9' => v.is_ascii_digit(),
                    other => other == v,
                })
        }
    }
}

/// Request bodies are accepted in PascalCase too: normalise every key to camelCase.
fn camel_keys(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let mut chars = k.chars();
                    let key = match chars.next() {
                        Some(first) => first.to_lowercase().collect::<String>() + chars.as_str(),
                        None => k,
                    };
                    (key, camel_keys(v))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(camel_keys).collect()),
        other => other,
    }
}

struct Invalid {
    status: StatusCode,
    code: i64,
    description: String,
}

fn invalid(code: i64, description: impl Into<String>) -> Invalid {
    Invalid {
        status: StatusCode::BAD_REQUEST,
        code,
        description: description.into(),
    }
}

fn text(v: &Value, path: &str, min: usize, max: usize) -> Result<String, Invalid> {
    let mut cur = v;
    for part in path.split('.') {
        cur = cur.get(part).unwrap_or(&Value::Null);
    }
    match cur.as_str() {
        Some(s) if (min..=max).contains(&s.chars().count()) => Ok(s.to_string()),
        Some(_) => Err(invalid(3000, format!("{path}: must be {min} to {max} characters"))),
        None => Err(invalid(3000, format!("{path}: is required"))),
    }
}

fn optional(v: &Value, path: &str) -> Option<String> {
    let mut cur = v;
    for part in path.split('.') {
        cur = cur.get(part)?;
    }
    cur.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

/// Validated customer request (field names as documented in create-a-customer).
struct NewCustomer {
    enable_gdap_by_default: Option<bool>,
    domain: String,
    billing: Billing,
    associated_partner_id: Option<String>,
}

fn validate_new_customer(v: &Value) -> Result<NewCustomer, Invalid> {
    let domain = text(v, "companyProfile.domain", 1, 256)?.to_lowercase();
    let prefix = domain.strip_suffix(".onmicrosoft.com").unwrap_or("");
    if prefix.is_empty() || prefix.len() > 27 || !prefix.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(invalid(
            3000,
            "companyProfile.domain: must be <prefix>.onmicrosoft.com with a 1-27 character alphanumeric prefix",
        ));
    }
    let email = text(v, "billingProfile.email", 3, 256)?;
    if !email.contains('@') {
        return Err(invalid(3000, "billingProfile.email: must be an email address"));
    }
    let culture = text(v, "billingProfile.culture", 2, 10)?;
    let language = text(v, "billingProfile.language", 2, 10)?;
    let company_name = text(v, "billingProfile.companyName", 1, 256)?;
    let country = text(v, "billingProfile.defaultAddress.country", 2, 2)?;
    if !country.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(invalid(
            3000,
            "billingProfile.defaultAddress.country: must be an ISO-3166 alpha-2 code such as US",
        ));
    }
    let address = Address {
        first_name: text(v, "billingProfile.defaultAddress.firstName", 1, 50)?,
        last_name: text(v, "billingProfile.defaultAddress.lastName", 1, 50)?,
        address_line1: text(v, "billingProfile.defaultAddress.addressLine1", 1, 200)?,
        address_line2: optional(v, "billingProfile.defaultAddress.addressLine2"),
        city: text(v, "billingProfile.defaultAddress.city", 1, 100)?,
        state: optional(v, "billingProfile.defaultAddress.state"),
        region: optional(v, "billingProfile.defaultAddress.region"),
        postal_code: optional(v, "billingProfile.defaultAddress.postalCode").unwrap_or_default(),
        phone_number: optional(v, "billingProfile.defaultAddress.phoneNumber"),
        country: country.clone(),
    };
    let registration = optional(v, "companyProfile.organizationRegistrationNumber");
    let needs_registration = REGISTRATION_COUNTRIES.contains(&country.as_str());
    match (&registration, needs_registration) {
        (None, true) => {
            return Err(invalid(
                600049,
                format!("companyProfile.organizationRegistrationNumber is required for country {country}"),
            ));
        }
        (Some(_), false) => {
            return Err(invalid(
                600002,
                format!("companyProfile.organizationRegistrationNumber is not accepted for country {country}"),
            ));
        }
        (Some(r), true) if !registration_number_valid(&country, r) => {
            return Err(invalid(
                600050,
                format!(
                    "companyProfile.organizationRegistrationNumber has an invalid format; it must match {}",
                    registration_pattern(&country)
                ),
            ));
        }
        _ => {}
    }
    if address.phone_number.is_none() && PHONE_COUNTRIES.contains(&country.as_str()) {
        return Err(invalid(
            600051,
            format!("billingProfile.defaultAddress.phoneNumber is required for country {country}"),
        ));
    }
    if optional(v, "userCredentials.password").is_some() {
        return Err(invalid(
            3000,
            "userCredentials.password: is not accepted; Partner Center generates the password",
        ));
    }
    let enable_gdap_by_default = match v.get("enableGDAPByDefault") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(invalid(3000, "enableGDAPByDefault: must be true or false")),
    };
    Ok(NewCustomer {
        enable_gdap_by_default,
        domain,
        billing: Billing {
            id: new_guid(),
            email,
            culture,
            language,
            company_name,
            address,
        },
        associated_partner_id: optional(v, "associatedPartnerId").map(|s| s.to_lowercase()),
    })
}

pub async fn create_customer(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut inner = s.lock();
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&body);
    let parsed: Option<Value> = serde_json::from_slice(body).ok().map(camel_keys);
    let indirect = parsed
        .as_ref()
        .is_some_and(|v| optional(v, "associatedPartnerId").is_some());
    // Creating for an indirect reseller is App+User only.
    let access = if indirect { Access::UserOnly } else { Access::AppOrUser };
    let caller = caller!(inner, s, headers, access);
    let bom = inner.settings.bom;
    let request_id = headers
        .get("MS-RequestId")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(rid) = &request_id
        && let Some(previous) = inner.created_by_request.get(&(caller.tenant.clone(), rid.clone()))
    {
        return pc_json(bom, StatusCode::CREATED, previous);
    }
    let Some(v) = parsed else {
        return pc_error(
            bom,
            StatusCode::BAD_REQUEST,
            2000,
            "The request body must be a JSON Customer object.",
        );
    };
    let result = (|| {
        let partner = inner.partner(&caller.tenant).expect("authorized tenant exists");
        if !partner.customer_creation_allowed {
            return Err(Invalid {
                status: StatusCode::FORBIDDEN,
                code: 600006,
                description: "This action is not allowed for this partner.".into(),
            });
        }
        let new = validate_new_customer(&v)?;
        let country = &new.billing.address.country;
        if partner
            .sell_countries
            .as_ref()
            .is_some_and(|list| !list.iter().any(|c| c.eq_ignore_ascii_case(country)))
        {
            return Err(Invalid {
                status: StatusCode::FORBIDDEN,
                code: 2030,
                description: format!("The partner is not onboarded to sell in country {country}."),
            });
        }
        if let Some(ap) = &new.associated_partner_id {
            let reseller = (partner.partner_type == PartnerType::IndirectProvider)
                .then(|| partner.resellers.iter().find(|r| r.id.eq_ignore_ascii_case(ap)))
                .flatten()
                .filter(|r| r.state.eq_ignore_ascii_case("active"));
            let Some(reseller) = reseller else {
                return Err(invalid(
                    800016,
                    format!("associatedPartnerId: {ap} is not a valid indirect reseller of this partner"),
                ));
            };
            if !reseller.mpa_accepted {
                return Err(Invalid {
                    status: StatusCode::FORBIDDEN,
                    code: 900123,
                    description: format!(
                        "The indirect reseller {ap} has not accepted the Microsoft Partner Agreement."
                    ),
                });
            }
        }
        if partner.sandbox && partner.customers.len() >= SANDBOX_CUSTOMER_QUOTA {
            return Err(invalid(800018, "The sandbox limit has been met"));
        }
        if inner.domain_taken(&new.domain) {
            return Err(Invalid {
                status: StatusCode::CONFLICT,
                code: 3000,
                description: format!(
                    "companyProfile.domain: the domain {} is already in use; choose another prefix",
                    new.domain
                ),
            });
        }
        Ok(new)
    })();
    let new = match result {
        Ok(n) => n,
        Err(e) => return pc_error(bom, e.status, e.code, &e.description),
    };
    let id = new_guid();
    let a = &new.billing.address;
    let address_invalid = validation::validate_address(&PostalAddress {
        address_line1: a.address_line1.clone(),
        address_line2: a.address_line2.clone(),
        city: a.city.clone(),
        state: a.state.clone(),
        postal_code: a.postal_code.clone(),
        country: a.country.clone(),
    })
    .is_err();
    let associated = new.associated_partner_id.is_some();
    let customer = Customer {
        commerce_id: new_guid(),
        company_name: new.billing.company_name.clone(),
        domain: new.domain.clone(),
        relationship: "reseller".into(),
        associated_partner_id: new.associated_partner_id,
        billing: new.billing,
        etag: new_guid(),
        generated: false,
        enable_gdap_by_default: new.enable_gdap_by_default,
        address_invalid,
        id,
    };
    let mut response = wire::customer_full(&customer);
    // The documented create response reports relationshipToPartner "none" (the provider's own
    // customer) or "reseller" with associatedPartnerId (created for an indirect reseller), and the
    // new admin's credentials.
    response["relationshipToPartner"] = json!(if associated { "reseller" } else { "none" });
    response["userCredentials"] = json!({"userName": "admin", "password": generated_password()});
    let now = s.clock.now();
    inner.audit(&caller.tenant, &customer.id, &customer.company_name, "AddCustomer", now);
    inner
        .partner_mut(&caller.tenant)
        .expect("authorized tenant exists")
        .customers
        .push(customer);
    if let Some(rid) = request_id {
        inner.created_by_request.insert((caller.tenant, rid), response.clone());
    }
    pc_json(bom, StatusCode::CREATED, &response)
}

/// `POST /v1/validations/address` (both auth modes): 200 with an empty body, or 400 code 2007 whose
/// description is a JSON string (code, reason, corrected_address); rules in validation.rs.
pub async fn validate_address(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut inner = s.lock();
    let _caller = caller!(inner, s, headers, Access::AppOrUser);
    let bom = inner.settings.bom;
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&body);
    let Some(v) = serde_json::from_slice::<Value>(body).ok().map(camel_keys) else {
        return pc_error(
            bom,
            StatusCode::BAD_REQUEST,
            2000,
            "The request body must be a JSON Address object.",
        );
    };
    let parsed = (|| {
        let country = text(&v, "country", 2, 2)?;
        if !country.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(invalid(3000, "country: must be an ISO-3166 alpha-2 code such as US"));
        }
        Ok(PostalAddress {
            address_line1: text(&v, "addressLine1", 1, 200)?,
            address_line2: optional(&v, "addressLine2"),
            city: text(&v, "city", 1, 100)?,
            state: optional(&v, "state"),
            postal_code: optional(&v, "postalCode").unwrap_or_default(),
            country: country.to_ascii_uppercase(),
        })
    })();
    let address = match parsed {
        Ok(a) => a,
        Err(e) => return pc_error(bom, e.status, e.code, &e.description),
    };
    match validation::validate_address(&address) {
        Ok(()) => {
            let mut resp = Response::new(Body::empty());
            *resp.status_mut() = StatusCode::OK;
            resp
        }
        Err(problem) => pc_error(
            bom,
            StatusCode::BAD_REQUEST,
            2007,
            &validation::problem_description(&problem),
        ),
    }
}

/// `GET /v1/countryvalidationrules/{iso2}` (both auth modes) for the countries validation.rs knows.
pub async fn country_rules(State(s): State<Shared>, headers: HeaderMap, Path(iso2): Path<String>) -> Response {
    let mut inner = s.lock();
    let _caller = caller!(inner, s, headers, Access::AppOrUser);
    let bom = inner.settings.bom;
    if iso2.len() != 2 || !iso2.chars().all(|c| c.is_ascii_alphabetic()) {
        return pc_error(
            bom,
            StatusCode::BAD_REQUEST,
            2000,
            "The country must be an ISO-3166 alpha-2 code such as US.",
        );
    }
    match validation::country_rules(&iso2) {
        Some(rules) => pc_json(bom, StatusCode::OK, &rules),
        None => pc_error(
            bom,
            StatusCode::NOT_FOUND,
            1000,
            &format!(
                "No validation rules were found for country {}.",
                iso2.to_ascii_uppercase()
            ),
        ),
    }
}

/// `DELETE /v1/customers/{id}`: integration sandbox only (production answers 403 code 600006); a
/// customer created with an invalid address can never be deleted (403 code 600006 as well, with
/// its own description). Success is 204 and frees the domain.
pub async fn delete_customer(State(s): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let mut inner = s.lock();
    let caller = caller!(inner, s, headers, Access::AppOrUser);
    let bom = inner.settings.bom;
    let id = id.to_lowercase();
    if uuid::Uuid::parse_str(&id).is_err() {
        return pc_error(
            bom,
            StatusCode::BAD_REQUEST,
            2000,
            "The customer id must be a GUID (the customer's tenant id).",
        );
    }
    let partner = inner.partner_mut(&caller.tenant).expect("authorized tenant exists");
    let Some(index) = partner.customers.iter().position(|c| c.id == id) else {
        let other_owner = inner.customer_owner(&id).is_some();
        return if other_owner {
            pc_error(
                bom,
                StatusCode::FORBIDDEN,
                20002,
                "The partner has no commerce relationship with the customer.",
            )
        } else {
            pc_error(
                bom,
                StatusCode::NOT_FOUND,
                1000,
                &format!("Customer {id} was not found."),
            )
        };
    };
    if !partner.sandbox {
        return pc_error(
            bom,
            StatusCode::FORBIDDEN,
            600006,
            "This action is not allowed: customers can only be deleted in an integration sandbox.",
        );
    }
    if partner.customers[index].address_invalid {
        return pc_error(
            bom,
            StatusCode::FORBIDDEN,
            600006,
            "This action is not allowed: the customer was created with an invalid address and cannot be deleted.",
        );
    }
    let gone = partner.customers.remove(index);
    let (tenant, now) = (partner.tenant_id.clone(), s.clock.now());
    inner.audit(&tenant, &gone.id, &gone.company_name, "DeleteCustomer", now);
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}

/// The Microsoft Customer Agreement template the emulator offers (and the older Microsoft Cloud
/// Agreement, the default without `agreementType`).
const MCA_TEMPLATE: &str = "117a15ad-fe9d-4ed2-8bd2-8d6f2c0a0001";
const MCA_LINK: &str = "https://aka.ms/customeragreement";
const MCLOUD_TEMPLATE: &str = "998b88de-aa99-4388-a42c-8d6f2c0a0002";

fn agreement_type(q: &HashMap<String, String>) -> Result<&'static str, String> {
    match q.get("agreementType").map(String::as_str) {
        None => Ok("MicrosoftCloudAgreement"),
        Some(t) if t.eq_ignore_ascii_case("MicrosoftCustomerAgreement") => Ok("MicrosoftCustomerAgreement"),
        Some(t) if t.eq_ignore_ascii_case("MicrosoftCloudAgreement") => Ok("MicrosoftCloudAgreement"),
        Some(t) => Err(format!(
            "agreementType: unsupported value {t:?}; use MicrosoftCustomerAgreement or MicrosoftCloudAgreement"
        )),
    }
}

/// `GET /v1/agreements[?agreementType=...]` (App+User): the current template of that agreement type.
pub async fn agreement_templates(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = s.lock();
    let _caller = caller!(inner, s, headers, Access::UserOnly);
    let bom = inner.settings.bom;
    let kind = match agreement_type(&q) {
        Ok(k) => k,
        Err(msg) => return pc_error(bom, StatusCode::BAD_REQUEST, 2000, &msg),
    };
    let (template, link) = if kind == "MicrosoftCustomerAgreement" {
        (MCA_TEMPLATE, MCA_LINK)
    } else {
        (MCLOUD_TEMPLATE, "https://aka.ms/microsoftcloudagreement")
    };
    let item = json!({
        "templateId": template,
        "agreementType": kind,
        "agreementLink": link,
        "versionRank": 0,
        "attributes": {"objectType": "AgreementMetaData"},
    });
    pc_json(bom, StatusCode::OK, &wire::collection(vec![item], "/v1/agreements"))
}

/// The partner's own customer, or the error answer Partner Center gives for it.
fn own_customer(inner: &Inner, tenant: &str, id: &str, bom: bool) -> Result<String, Box<Response>> {
    let id = id.to_lowercase();
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(Box::new(pc_error(
            bom,
            StatusCode::BAD_REQUEST,
            2000,
            "The customer id must be a GUID (the customer's tenant id).",
        )));
    }
    let partner = inner.partner(tenant).expect("authorized tenant exists");
    if partner.customers.iter().any(|c| c.id == id) {
        return Ok(id);
    }
    if inner.customer_owner(&id).is_some() {
        return Err(Box::new(pc_error(
            bom,
            StatusCode::FORBIDDEN,
            20002,
            "The partner has no commerce relationship with the customer.",
        )));
    }
    Err(Box::new(pc_error(
        bom,
        StatusCode::NOT_FOUND,
        1000,
        &format!("Customer {id} was not found."),
    )))
}

/// `POST /v1/customers/{id}/agreements` (App+User): records the customer's acceptance; 201 with the
/// agreement. The same contact (e-mail) and type again answers 409 code 600061.
pub async fn record_agreement(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let mut inner = s.lock();
    let caller = caller!(inner, s, headers, Access::UserOnly);
    let bom = inner.settings.bom;
    let id = match own_customer(&inner, &caller.tenant, &id, bom) {
        Ok(id) => id,
        Err(resp) => return *resp,
    };
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&body);
    let Some(v) = serde_json::from_slice::<Value>(body).ok().map(camel_keys) else {
        return pc_error(
            bom,
            StatusCode::BAD_REQUEST,
            2000,
            "The request body must be a JSON Agreement object.",
        );
    };
    let parsed = (|| {
        let first = text(&v, "primaryContact.firstName", 1, 50)?;
        let last = text(&v, "primaryContact.lastName", 1, 50)?;
        let email = text(&v, "primaryContact.email", 3, 256)?;
        if !email.contains('@') {
            return Err(invalid(3000, "primaryContact.email: must be an email address"));
        }
        let template = text(&v, "templateId", 1, 64)?;
        let date = text(&v, "dateAgreed", 1, 64)?;
        if date.parse::<Timestamp>().is_err() && date.parse::<jiff::civil::Date>().is_err() {
            return Err(invalid(
                3000,
                "dateAgreed: must be an ISO 8601 date such as 2026-12-01T00:00:00Z",
            ));
        }
        let kind = text(&v, "type", 1, 64)?;
        if !kind.eq_ignore_ascii_case("MicrosoftCustomerAgreement") || !template.eq_ignore_ascii_case(MCA_TEMPLATE) {
            return Err(invalid(
                3000,
                "templateId/type: must be the MicrosoftCustomerAgreement template from GET /v1/agreements?agreementType=MicrosoftCustomerAgreement",
            ));
        }
        Ok(json!({
            "primaryContact": {"firstName": first, "lastName": last, "email": email,
                "phoneNumber": optional(&v, "primaryContact.phoneNumber")},
            "templateId": MCA_TEMPLATE,
            "dateAgreed": date,
            "type": "MicrosoftCustomerAgreement",
            "agreementLink": MCA_LINK,
            "userId": super::state::derived_guid(caller.upn.as_deref().unwrap_or(&caller.tenant), 9),
            "attributes": {"objectType": "Agreement"},
        }))
    })();
    let agreement = match parsed {
        Ok(a) => a,
        Err(e) => return pc_error(bom, e.status, e.code, &e.description),
    };
    let recorded = inner.agreements.entry(id).or_default();
    let email = agreement["primaryContact"]["email"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    if recorded.iter().any(|a| {
        a["primaryContact"]["email"]
            .as_str()
            .is_some_and(|e| e.eq_ignore_ascii_case(&email))
    }) {
        return pc_error(
            bom,
            StatusCode::CONFLICT,
            600061,
            "PartnerConfirmedAgreementAlreadyExists: an agreement for this contact was already recorded.",
        );
    }
    recorded.push(agreement.clone());
    pc_json(bom, StatusCode::CREATED, &agreement)
}

/// `GET /v1/customers/{id}/agreements[?agreementType=...]` (App+User).
pub async fn customer_agreements(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = s.lock();
    let caller = caller!(inner, s, headers, Access::UserOnly);
    let bom = inner.settings.bom;
    let id = match own_customer(&inner, &caller.tenant, &id, bom) {
        Ok(id) => id,
        Err(resp) => return *resp,
    };
    let kind = match q.get("agreementType") {
        None => None,
        Some(_) => match agreement_type(&q) {
            Ok(k) => Some(k),
            Err(msg) => return pc_error(bom, StatusCode::BAD_REQUEST, 2000, &msg),
        },
    };
    let items: Vec<Value> = inner
        .agreements
        .get(&id)
        .into_iter()
        .flatten()
        .filter(|a| kind.is_none_or(|k| a["type"] == k))
        .cloned()
        .collect();
    pc_json(
        bom,
        StatusCode::OK,
        &wire::collection(items, &format!("/v1/customers/{id}/agreements")),
    )
}

fn generated_password() -> String {
    let n: u64 = rand::random();
    format!("Pw{n:016x}!")
}

/// Any other path: the emulator does not model it.
/// `GET /v1/customers/relationshiprequests` (App+User): the invitation link a partner sends to an
/// existing tenant to become its reseller.
pub async fn relationship_request(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let mut inner = s.lock();
    let caller = caller!(inner, s, headers, Access::UserOnly);
    pc_json(
        inner.settings.bom,
        StatusCode::OK,
        &json!({
            "url": format!(
                "https://admin.microsoft.com/Adminportal/Home?invType=ResellerRelationship&partnerId={}&msppId=0&DAP=false#/BillingAccounts/partner-invitation",
                caller.tenant
            ),
            "attributes": {"objectType": "RelationshipRequest"},
        }),
    )
}

/// Audit records may reach this far back (Partner Center refuses older start dates).
const AUDIT_MAX_DAYS: i64 = 90;
/// Without a start date the window is the last 30 days.
const AUDIT_DEFAULT_DAYS: i64 = 30;

/// `GET /v1/auditrecords?startDate=…[&endDate=…]` (both auth modes): the partner's audit records in
/// the window, oldest first; a start date more than 90 days back (or unreadable) is 400.
pub async fn audit_records(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = s.lock();
    let caller = caller!(inner, s, headers, Access::AppOrUser);
    let bom = inner.settings.bom;
    let now = s.clock.now();
    let day = jiff::SignedDuration::from_hours(24);
    let parse = |k: &str| -> Result<Option<Timestamp>, Box<Response>> {
        let Some(v) = q.get(k) else { return Ok(None) };
        let as_date = || {
            v.parse::<jiff::civil::Date>()
                .ok()
                .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
                .map(|z| z.timestamp())
        };
        match v.parse::<Timestamp>().ok().or_else(as_date) {
            Some(t) => Ok(Some(t)),
            None => Err(Box::new(pc_error(
                bom,
                StatusCode::BAD_REQUEST,
                2000,
                &format!("{k}: must be a date such as 2026-11-01 or an RFC 3339 time"),
            ))),
        }
    };
    let start = match parse("startDate") {
        Ok(v) => v.unwrap_or(now - day * AUDIT_DEFAULT_DAYS as i32),
        Err(r) => return *r,
    };
    let end = match parse("endDate") {
        Ok(v) => v.unwrap_or(now),
        Err(r) => return *r,
    };
    if start < now - day * AUDIT_MAX_DAYS as i32 {
        return pc_error(
            bom,
            StatusCode::BAD_REQUEST,
            2000,
            "startDate: audit records are kept for 90 days; use a start date within the last 90 days",
        );
    }
    let items: Vec<Value> = inner
        .audit
        .iter()
        .filter(|r| r.partner == caller.tenant && r.date >= start && r.date <= end)
        .map(|r| {
            json!({
                "partnerId": r.partner,
                "customerId": r.customer_id,
                "customerName": r.customer_name,
                "resourceType": "Customer",
                "operationType": r.operation,
                "operationStatus": "Succeeded",
                "operationDate": r.date.to_string(),
                "attributes": {"objectType": "AuditRecord"},
            })
        })
        .collect();
    pc_json(bom, StatusCode::OK, &wire::collection(items, "/v1/auditrecords"))
}

/// Anything no route models. Login paths answer as Entra does (JSON error, no BOM); API paths
/// authenticate first, as Partner Center does, so a caller without a valid token sees 401, not 404.
pub async fn not_modeled(State(s): State<Shared>, uri: axum::http::Uri, headers: HeaderMap) -> Response {
    let now = s.clock.now();
    if super::login::is_login_path(uri.path()) {
        return wire::entra_error(
            StatusCode::NOT_FOUND,
            "invalid_request",
            90013,
            &format!(
                "Invalid input received: the emulator does not model the login path '{}'.",
                uri.path()
            ),
            now,
        );
    }
    let mut inner = s.lock();
    let _caller = caller!(inner, s, headers, Access::AppOrUser);
    pc_error(
        inner.settings.bom,
        StatusCode::NOT_FOUND,
        1000,
        "The emulator does not model this resource.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pascal_case_keys_are_normalised() {
        let v = camel_keys(
            json!({"CompanyProfile": {"Domain": "x"}, "BillingProfile": {"DefaultAddress": {"Country": "US"}}}),
        );
        assert_eq!(v["companyProfile"]["domain"], "x");
        assert_eq!(v["billingProfile"]["defaultAddress"]["country"], "US");
    }

    fn body(country: &str, extra: Value) -> Value {
        let mut v = json!({"companyProfile":{"domain":"wingtip123.onmicrosoft.com"},
            "billingProfile":{"email":"it@wingtip.com","culture":"en-US","language":"en","companyName":"Wingtip Toys",
              "defaultAddress":{"firstName":"Gena","lastName":"Soto","addressLine1":"1 Microsoft Way","city":"Redmond",
                "state":"WA","postalCode":"98052","country":country}}});
        if let Value::Object(m) = extra {
            for (k, val) in m {
                let (a, b) = k.split_once('.').unwrap();
                v[a][b] = val;
            }
        }
        v
    }

    #[test]
    fn create_validation_table() {
        let cases: Vec<(Value, Option<i64>)> = vec![
            (body("US", json!({})), None),
            (body("US", json!({"companyProfile.domain": "bad domain"})), Some(3000)),
            (body("US", json!({"billingProfile.email": null})), Some(3000)),
            (body("USA", json!({})), Some(3000)),
            (body("RU", json!({})), Some(600049)),
            (
                body("US", json!({"companyProfile.organizationRegistrationNumber": "123"})),
                Some(600002),
            ),
            (
                body("HU", json!({"companyProfile.organizationRegistrationNumber": "12$"})),
                Some(600050),
            ),
            (body("IN", json!({})), Some(600051)),
        ];
        for (v, want) in cases {
            let got = validate_new_customer(&v).err().map(|e| e.code);
            assert_eq!(got, want, "{v}");
        }
    }
}
