//! Control API under `/_emulator` for tests and the demo (not part of Partner Center): request
//! log, faults, refresh-token revocation and re-consent, clock, partner patches, health.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::faults::{Fault, FaultSpec};
use super::fixtures::{PartnerType, ResellerFixture, is_guid};
use super::login::new_refresh_token;
use super::state::{EmulatorState, RefreshState, added_customer, adopted_customer, derived_guid, generated_customers};

type Shared = Arc<EmulatorState>;

fn bad_request(message: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": message.into()}))).into_response()
}

fn not_found(message: impl Into<String>) -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"error": message.into()}))).into_response()
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| Box::new(bad_request(format!("request body: {e}"))))
}

pub async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

pub async fn list_requests(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let since = match q.get("since").map(|v| v.parse::<u64>()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return bad_request("since: must be a sequence number (integer)"),
    };
    let inner = s.lock();
    let entries: Vec<_> = inner.log.iter().filter(|e| e.seq > since).cloned().collect();
    Json(entries).into_response()
}

pub async fn clear_requests(State(s): State<Shared>) -> Response {
    s.lock().log.clear();
    StatusCode::NO_CONTENT.into_response()
}

pub async fn list_faults(State(s): State<Shared>) -> Response {
    Json(s.lock().faults.clone()).into_response()
}

pub async fn add_fault(State(s): State<Shared>, body: Bytes) -> Response {
    let spec: FaultSpec = match parse(&body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    if let Err(msg) = spec.validate() {
        return bad_request(msg);
    }
    let mut inner = s.lock();
    let id = inner.next_fault_id;
    inner.next_fault_id += 1;
    inner.faults.push(Fault { id, spec });
    (StatusCode::CREATED, Json(json!({"id": id}))).into_response()
}

pub async fn clear_faults(State(s): State<Shared>) -> Response {
    s.lock().faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RevokeRequest {
    tenant_id: String,
    upn: Option<String>,
}

pub async fn revoke_refresh_tokens(State(s): State<Shared>, body: Bytes) -> Response {
    let req: RevokeRequest = match parse(&body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let tenant = req.tenant_id.to_lowercase();
    let mut inner = s.lock();
    if inner.partner(&tenant).is_none() {
        return not_found(format!("tenantId: no partner {tenant} in the fixtures"));
    }
    let mut revoked = 0;
    for rt in inner.refresh_tokens.values_mut() {
        if rt.tenant == tenant && req.upn.as_deref().is_none_or(|u| u.eq_ignore_ascii_case(&rt.upn)) {
            rt.state = RefreshState::Revoked;
            revoked += 1;
        }
    }
    Json(json!({"revoked": revoked})).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConsentRequest {
    tenant_id: String,
    upn: String,
    client_id: Option<String>,
}

/// A fresh consent, as if the admin re-ran the consent flow.
pub async fn issue_refresh_token(State(s): State<Shared>, body: Bytes) -> Response {
    let req: ConsentRequest = match parse(&body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let tenant = req.tenant_id.to_lowercase();
    let now = s.clock.now();
    let mut inner = s.lock();
    let Some(partner) = inner.partner(&tenant) else {
        return not_found(format!("tenantId: no partner {tenant} in the fixtures"));
    };
    let Some(user) = partner.users.iter().find(|u| u.upn.eq_ignore_ascii_case(&req.upn)) else {
        return not_found(format!("upn: no user {} in partner {tenant}", req.upn));
    };
    let upn = user.upn.clone();
    let client_id = match req.client_id {
        Some(c) => {
            let c = c.to_lowercase();
            if !partner.apps.iter().any(|a| a.client_id == c) {
                return not_found(format!("clientId: no app {c} registered in partner {tenant}"));
            }
            c
        }
        None => match partner.apps.first() {
            Some(a) => a.client_id.clone(),
            None => return bad_request(format!("clientId: partner {tenant} has no apps")),
        },
    };
    let token = new_refresh_token(&mut inner, now, &tenant, &upn, &client_id);
    Json(json!({"refreshToken": token})).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceRequest {
    seconds: i64,
}

pub async fn advance_clock(State(s): State<Shared>, body: Bytes) -> Response {
    let req: AdvanceRequest = match parse(&body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    if req.seconds < 0 {
        return bad_request("seconds: must be >= 0; the emulator clock only moves forward");
    }
    let now = s.clock.advance(req.seconds);
    Json(json!({"now": now.to_string()})).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UserPatch {
    upn: String,
    mfa: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PartnerPatch {
    country: Option<String>,
    partner_type: Option<PartnerType>,
    sandbox: Option<bool>,
    indirect_resellers: Option<Vec<ResellerFixture>>,
    generated_customers: Option<usize>,
    users: Option<Vec<UserPatch>>,
    /// Replaces the list of countries the partner may sell in; `sellEverywhere: true` removes the
    /// list (every country again).
    sell_countries: Option<Vec<String>>,
    sell_everywhere: Option<bool>,
    customer_creation_allowed: Option<bool>,
}

pub async fn patch_partner(State(s): State<Shared>, Path(tenant): Path<String>, body: Bytes) -> Response {
    let patch: PartnerPatch = match parse(&body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let tenant = tenant.to_lowercase();
    let mut inner = s.lock();
    let Some(partner) = inner.partner_mut(&tenant) else {
        return not_found(format!("tenantId: no partner {tenant} in the fixtures"));
    };
    // Validate everything before changing anything.
    if let Some(c) = &patch.country
        && (c.len() != 2 || !c.chars().all(|x| x.is_ascii_uppercase()))
    {
        return bad_request("country: must be an ISO-3166 alpha-2 code in capitals, e.g. DE");
    }
    if let Some(users) = &patch.users {
        for (i, u) in users.iter().enumerate() {
            if !partner.users.iter().any(|x| x.upn.eq_ignore_ascii_case(&u.upn)) {
                return bad_request(format!("users[{i}].upn: no user {} in this partner", u.upn));
            }
        }
    }
    if let Some(resellers) = &patch.indirect_resellers {
        for (i, r) in resellers.iter().enumerate() {
            if !is_guid(&r.id) {
                return bad_request(format!("indirectResellers[{i}].id: must be a GUID"));
            }
        }
    }
    for (i, c) in patch.sell_countries.iter().flatten().enumerate() {
        if c.len() != 2 || !c.chars().all(|x| x.is_ascii_uppercase()) {
            return bad_request(format!(
                "sellCountries[{i}]: must be an ISO-3166 alpha-2 code in capitals, e.g. DE"
            ));
        }
    }
    if patch.sell_countries.is_some() && patch.sell_everywhere == Some(true) {
        return bad_request("sellEverywhere: cannot be combined with sellCountries; send one of them");
    }
    let new_type = patch.partner_type.unwrap_or(partner.partner_type);
    let resellers_after = patch.indirect_resellers.as_ref().unwrap_or(&partner.resellers);
    if new_type != PartnerType::IndirectProvider && !resellers_after.is_empty() {
        return bad_request(
            "indirectResellers: only an IndirectProvider has indirect resellers; set partnerType: IndirectProvider or send an empty list",
        );
    }
    if let Some(c) = patch.country {
        partner.country = c;
    }
    partner.partner_type = new_type;
    if let Some(sb) = patch.sandbox {
        partner.sandbox = sb;
    }
    if let Some(r) = patch.indirect_resellers {
        partner.resellers = r;
    }
    if let Some(list) = patch.sell_countries {
        partner.sell_countries = Some(list);
    }
    if patch.sell_everywhere == Some(true) {
        partner.sell_countries = None;
    }
    if let Some(allowed) = patch.customer_creation_allowed {
        partner.customer_creation_allowed = allowed;
    }
    if let Some(n) = patch.generated_customers {
        partner.customers.retain(|c| !c.generated);
        let generated = generated_customers(&partner.tenant_id, &partner.country, n);
        partner.customers.extend(generated);
    }
    for u in patch.users.unwrap_or_default() {
        if let (Some(user), Some(mfa)) = (
            partner.users.iter_mut().find(|x| x.upn.eq_ignore_ascii_case(&u.upn)),
            u.mfa,
        ) {
            user.mfa = mfa;
        }
    }
    Json(json!({"tenantId": tenant, "customers": partner.customers.len()})).into_response()
}

/// `POST /_emulator/partners/{t}/indirect-resellers`: adds the reseller, or replaces the one with
/// the same id (e.g. to change its `state` or `mpaAccepted`). The partner must be an IndirectProvider.
pub async fn upsert_reseller(State(s): State<Shared>, Path(tenant): Path<String>, body: Bytes) -> Response {
    let reseller: ResellerFixture = match parse(&body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    if !is_guid(&reseller.id) {
        return bad_request("id: must be a GUID");
    }
    let tenant = tenant.to_lowercase();
    let mut inner = s.lock();
    let Some(partner) = inner.partner_mut(&tenant) else {
        return not_found(format!("tenantId: no partner {tenant} in the fixtures"));
    };
    if partner.partner_type != PartnerType::IndirectProvider {
        return bad_request(
            "partnerType: only an IndirectProvider has indirect resellers; patch the partner's partnerType first",
        );
    }
    partner.resellers.retain(|r| !r.id.eq_ignore_ascii_case(&reseller.id));
    partner.resellers.push(reseller);
    Json(json!({"tenantId": tenant, "indirectResellers": partner.resellers.len()})).into_response()
}

/// `GET /_emulator/customers?partner=<tenant>[&domain=<d>]`: the partner's customers (exact domain,
/// case-insensitive, when given) with what Partner Center recorded at creation. Exactly-once tests
/// count these.
pub async fn list_customers(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(tenant) = q.get("partner").map(|t| t.to_lowercase()) else {
        return bad_request("partner: required (the partner tenant id)");
    };
    let inner = s.lock();
    let Some(partner) = inner.partner(&tenant) else {
        return not_found(format!("partner: no partner {tenant} in the fixtures"));
    };
    let domain = q.get("domain").map(|d| d.trim().to_lowercase());
    let items: Vec<_> = partner
        .customers
        .iter()
        .filter(|c| domain.as_deref().is_none_or(|d| c.domain.eq_ignore_ascii_case(d)))
        .map(|c| {
            json!({
                "id": c.id,
                "domain": c.domain,
                "companyName": c.company_name,
                "relationshipToPartner": c.relationship,
                "associatedPartnerId": c.associated_partner_id,
                "enableGDAPByDefault": c.enable_gdap_by_default,
                "addressInvalid": c.address_invalid,
                "country": c.billing.address.country,
            })
        })
        .collect();
    Json(items).into_response()
}

/// `GET /_emulator/agreements?customer=<tenant id>`: the agreements (attestations) recorded for the
/// customer, as `POST /v1/customers/{id}/agreements` stored them. A repeat answered 600061 stores
/// nothing, so recorded-once tests count these.
pub async fn list_agreements(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(customer) = q.get("customer").map(|t| t.trim().to_lowercase()) else {
        return bad_request("customer: required (the customer's tenant id)");
    };
    let inner = s.lock();
    let items = inner.agreements.get(&customer).cloned().unwrap_or_default();
    Json(items).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Acceptance {
    tenant_id: String,
    domain: String,
    company_name: String,
    country: Option<String>,
}

/// `POST /_emulator/partners/{t}/invitations/accept`: an existing tenant's Global Admin accepts the
/// partner's reseller invitation (`GET /v1/customers/relationshiprequests`): from now on it is
/// listed among the partner's customers and get-by-id answers. Sandbox partners cannot invite.
pub async fn accept_invitation(State(s): State<Shared>, Path(tenant): Path<String>, body: Bytes) -> Response {
    let req: Acceptance = match parse(&body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    if !is_guid(&req.tenant_id) {
        return bad_request("tenantId: must be a GUID (the accepting tenant's id)");
    }
    if !req.domain.contains('.') {
        return bad_request("domain: must be a domain name such as fabrikam.onmicrosoft.com");
    }
    let tenant = tenant.to_lowercase();
    let id = req.tenant_id.to_lowercase();
    let mut inner = s.lock();
    if inner.partner(&id).is_some() || inner.customer_owner(&id).is_some() {
        return bad_request(format!("tenantId: {id} is already a partner or a customer"));
    }
    if inner.domain_taken(&req.domain) {
        return bad_request(format!("domain: {} is already used by another tenant", req.domain));
    }
    let Some(partner) = inner.partner_mut(&tenant) else {
        return not_found(format!("tenantId: no partner {tenant} in the fixtures"));
    };
    if partner.sandbox {
        return bad_request("sandbox partners cannot invite customers; create them instead");
    }
    let country = req.country.unwrap_or_else(|| partner.country.clone());
    partner.customers.push(adopted_customer(
        id.clone(),
        req.company_name,
        req.domain.to_lowercase(),
        country,
    ));
    Json(json!({"tenantId": tenant, "customerId": id})).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewListedCustomer {
    tenant_id: String,
    domain: String,
    company_name: String,
    country: Option<String>,
    associated_partner_id: Option<String>,
    relationship_to_partner: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Generate {
    count: usize,
    /// Distinguishes one batch's ids and domains from another's.
    seed: String,
    country: Option<String>,
    associated_partner_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AddCustomers {
    #[serde(default)]
    customers: Vec<NewListedCustomer>,
    generate: Option<Generate>,
}

/// Most customers one call may add (a benchmark adds 10,000 in one call).
const MAX_ADD: usize = 100_000;

/// `POST /_emulator/partners/{t}/customers {customers: [...], generate: {count, seed, country?,
/// associatedPartnerId?}}`: adds listed customers at once (each an audit record), as if they had
/// been created or adopted outside the operator. Generated ones have deterministic ids
/// (`derived_guid(seed:i)`) and domains `<seed>-<i>.onmicrosoft.com`.
pub async fn add_customers(State(s): State<Shared>, Path(tenant): Path<String>, body: Bytes) -> Response {
    let req: AddCustomers = match parse(&body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let tenant = tenant.to_lowercase();
    let mut new = Vec::new();
    for (i, c) in req.customers.into_iter().enumerate() {
        if !is_guid(&c.tenant_id) {
            return bad_request(format!("customers[{i}].tenantId: must be a GUID"));
        }
        if !c.domain.contains('.') {
            return bad_request(format!(
                "customers[{i}].domain: must be a domain such as fabrikam.onmicrosoft.com"
            ));
        }
        if c.associated_partner_id.as_deref().is_some_and(|a| !is_guid(a)) {
            return bad_request(format!(
                "customers[{i}].associatedPartnerId: must be a GUID (the indirect reseller's tenant id)"
            ));
        }
        new.push(c);
    }
    if let Some(g) = req.generate {
        if g.count > MAX_ADD || g.seed.is_empty() || !g.seed.chars().all(|c| c.is_ascii_alphanumeric()) {
            return bad_request(format!("generate: count at most {MAX_ADD} and seed letters and digits"));
        }
        for i in 0..g.count {
            new.push(NewListedCustomer {
                tenant_id: derived_guid(&format!("{}:{i}", g.seed), 7),
                domain: format!("{}-{i}.onmicrosoft.com", g.seed.to_lowercase()),
                company_name: format!("{} {i}", g.seed),
                country: g.country.clone(),
                associated_partner_id: g.associated_partner_id.clone(),
                relationship_to_partner: None,
            });
        }
    }
    if new.len() > MAX_ADD {
        return bad_request(format!("customers: at most {MAX_ADD} at once"));
    }
    let now = s.clock.now();
    let mut inner = s.lock();
    let Some(partner) = inner.partner(&tenant) else {
        return not_found(format!("tenantId: no partner {tenant} in the fixtures"));
    };
    let country = partner.country.clone();
    let mut ids: std::collections::HashSet<String> = inner
        .partners
        .iter()
        .flat_map(|p| std::iter::once(p.tenant_id.clone()).chain(p.customers.iter().map(|c| c.id.clone())))
        .collect();
    let mut added = Vec::with_capacity(new.len());
    for c in new {
        let id = c.tenant_id.to_lowercase();
        if !ids.insert(id.clone()) {
            return bad_request(format!("tenantId: {id} is already a partner or a customer"));
        }
        added.push(added_customer(
            id,
            c.company_name,
            c.domain.to_lowercase(),
            c.relationship_to_partner.unwrap_or_else(|| "reseller".into()),
            c.associated_partner_id.map(|a| a.to_lowercase()),
            c.country.unwrap_or_else(|| country.clone()),
        ));
    }
    for c in &added {
        inner.audit(&tenant, &c.id, &c.company_name, "AddCustomer", now);
    }
    let n = added.len();
    let partner = inner.partner_mut(&tenant).expect("checked above");
    partner.customers.extend(added);
    Json(json!({"tenantId": tenant, "added": n, "customers": partner.customers.len()})).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CustomerUpdate {
    /// `null` removes the association.
    #[serde(default, deserialize_with = "some")]
    associated_partner_id: Option<Option<String>>,
    country: Option<String>,
}

fn some<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

/// `POST /_emulator/partners/{t}/customers/{id} {associatedPartnerId?, country?}`: changes what
/// get-by-id reports (a customer moved to another indirect reseller, a corrected address).
pub async fn update_customer(
    State(s): State<Shared>,
    Path((tenant, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let req: CustomerUpdate = match parse(&body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let (tenant, id) = (tenant.to_lowercase(), id.to_lowercase());
    let now = s.clock.now();
    let mut inner = s.lock();
    let Some(partner) = inner.partner_mut(&tenant) else {
        return not_found(format!("tenantId: no partner {tenant} in the fixtures"));
    };
    let Some(c) = partner.customers.iter_mut().find(|c| c.id == id) else {
        return not_found(format!("customerId: partner {tenant} has no customer {id}"));
    };
    if let Some(a) = req.associated_partner_id {
        c.associated_partner_id = a.map(|a| a.to_lowercase());
    }
    if let Some(country) = req.country {
        c.billing.address.country = country;
    }
    let name = c.company_name.clone();
    inner.audit(&tenant, &id, &name, "UpdateCustomer", now);
    Json(json!({"tenantId": tenant, "customerId": id})).into_response()
}

/// `DELETE /_emulator/partners/{t}/customers/{id}`: the relationship ended outside the operator
/// (the customer removed the partner): the tenant is no longer listed.
pub async fn remove_customer(State(s): State<Shared>, Path((tenant, id)): Path<(String, String)>) -> Response {
    let (tenant, id) = (tenant.to_lowercase(), id.to_lowercase());
    let now = s.clock.now();
    let mut inner = s.lock();
    let Some(partner) = inner.partner_mut(&tenant) else {
        return not_found(format!("tenantId: no partner {tenant} in the fixtures"));
    };
    let Some(i) = partner.customers.iter().position(|c| c.id == id) else {
        return not_found(format!("customerId: partner {tenant} has no customer {id}"));
    };
    let gone = partner.customers.remove(i);
    inner.audit(&tenant, &id, &gone.company_name, "DeleteCustomer", now);
    StatusCode::NO_CONTENT.into_response()
}
