//! Hand-written wire shapes, copied from the documented examples (Partner Center and Entra ID documentation).
//! Deliberately independent of the client's types so the two cannot drift together.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::state::{Address, Customer, Partner};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A Partner Center JSON response, optionally with the UTF-8 BOM some real responses carry.
pub fn pc_json(bom: bool, status: StatusCode, value: &Value) -> Response {
    let mut bytes = if bom { BOM.to_vec() } else { Vec::new() };
    bytes.extend_from_slice(value.to_string().as_bytes());
    raw_json(status, bytes)
}

pub fn raw_json(status: StatusCode, bytes: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

/// Partner Center error body `{code, description, data, source}`.
pub fn pc_error(bom: bool, status: StatusCode, code: i64, description: &str) -> Response {
    pc_json(
        bom,
        status,
        &json!({"code": code, "description": description, "data": [], "source": "PartnerFD"}),
    )
}

/// The throttling answer, which does not follow the error shape.
pub fn throttled(retry_after: u64) -> Response {
    let mut resp = raw_json(
        StatusCode::TOO_MANY_REQUESTS,
        json!({"statusCode": 429, "message": format!("Rate limit is exceeded. Try again in {retry_after} seconds.")})
            .to_string()
            .into_bytes(),
    );
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    resp
}

/// A body cut off mid-document.
pub fn malformed() -> Response {
    raw_json(StatusCode::OK, br#"{"totalCount":1,"items":[{"id":"0f0e1d2c-"#.to_vec())
}

/// Entra ID error body, e.g. invalid_grant + AADSTS700082.
pub fn entra_error(status: StatusCode, error: &str, code: u32, message: &str, now: Timestamp) -> Response {
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {message}\r\nTrace ID: {t}\r\nCorrelation ID: {c}\r\nTimestamp: {ts}",
            t = uuid::Uuid::new_v4(), c = uuid::Uuid::new_v4(), ts = entra_time(now)),
        "error_codes": [code],
        "timestamp": entra_time(now),
        "trace_id": uuid::Uuid::new_v4().to_string(),
        "correlation_id": uuid::Uuid::new_v4().to_string(),
    });
    raw_json(status, body.to_string().into_bytes())
}

fn entra_time(now: Timestamp) -> String {
    now.strftime("%Y-%m-%d %H:%M:%SZ").to_string()
}

pub struct TokenGrant {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    /// base64url `{"uid","utid"}`, when the request sent `client_info=1`.
    pub client_info: Option<String>,
    pub resource: String,
    /// v2 scope string as requested (v1 reports "user_impersonation" for user tokens).
    pub scope: Option<String>,
    pub not_before: i64,
    pub expires_on: i64,
    pub expires_in: i64,
}

/// v1 token response: every number is a string.
pub fn token_v1(g: &TokenGrant) -> Value {
    let mut v = json!({
        "token_type": "Bearer",
        "expires_in": g.expires_in.to_string(),
        "ext_expires_in": g.expires_in.to_string(),
        "expires_on": g.expires_on.to_string(),
        "not_before": g.not_before.to_string(),
        "resource": g.resource,
        "access_token": g.access_token,
    });
    if let Some(rt) = &g.refresh_token {
        v["scope"] = json!("user_impersonation");
        v["refresh_token"] = json!(rt);
    }
    if let Some(id) = &g.id_token {
        v["id_token"] = json!(id);
    }
    if let Some(info) = &g.client_info {
        v["client_info"] = json!(info);
    }
    v
}

/// v2 token response: integers, no expires_on/resource.
pub fn token_v2(g: &TokenGrant) -> Value {
    let mut v = json!({
        "token_type": "Bearer",
        "expires_in": g.expires_in,
        "ext_expires_in": g.expires_in,
        "access_token": g.access_token,
    });
    if let Some(scope) = &g.scope {
        v["scope"] = json!(scope);
    }
    if let Some(rt) = &g.refresh_token {
        v["refresh_token"] = json!(rt);
    }
    if let Some(id) = &g.id_token {
        v["id_token"] = json!(id);
    }
    if let Some(info) = &g.client_info {
        v["client_info"] = json!(info);
    }
    v
}

fn link(uri: &str) -> Value {
    json!({"uri": uri, "method": "GET", "headers": []})
}

fn address(a: &Address) -> Value {
    let mut v = json!({
        "country": a.country,
        "city": a.city,
        "addressLine1": a.address_line1,
        "postalCode": a.postal_code,
        "firstName": a.first_name,
        "lastName": a.last_name,
    });
    for (k, val) in [
        ("region", &a.region),
        ("state", &a.state),
        ("addressLine2", &a.address_line2),
        ("phoneNumber", &a.phone_number),
    ] {
        if let Some(val) = val {
            v[k] = json!(val);
        }
    }
    v
}

pub fn partner_address(p: &Partner) -> Address {
    let a = &p.address;
    Address {
        country: p.country.clone(),
        region: a.region.clone(),
        city: a.city.clone().unwrap_or_else(|| "Capital City".into()),
        state: a.state.clone(),
        address_line1: a.address_line1.clone().unwrap_or_else(|| "1 Main Street".into()),
        address_line2: None,
        postal_code: a.postal_code.clone().unwrap_or_else(|| "10001".into()),
        first_name: a.first_name.clone().unwrap_or_else(|| "Partner".into()),
        last_name: a.last_name.clone().unwrap_or_else(|| "Admin".into()),
        phone_number: Some(a.phone_number.clone().unwrap_or_else(|| "4255550100".into())),
    }
}

pub fn organization_profile(p: &Partner) -> Value {
    json!({
        "id": p.tenant_id,
        "companyName": p.company_name,
        "defaultAddress": address(&partner_address(p)),
        "tenantId": p.tenant_id,
        "domain": p.domain,
        "email": p.email,
        "language": "en",
        "culture": "en-US",
        "profileType": "OrganizationProfile",
        "links": {"self": {"uri": "/profiles/organization", "method": "GET", "headers": []}},
        "attributes": {"etag": super::state::derived_guid(&p.tenant_id, 7), "objectType": "OrganizationProfile"},
    })
}

pub fn legal_business_profile(p: &Partner) -> Value {
    let addr = partner_address(p);
    json!({
        "companyName": p.company_name,
        "address": address(&addr),
        "primaryContact": {"firstName": addr.first_name, "lastName": addr.last_name, "email": p.email, "phoneNumber": addr.phone_number},
        "companyApproverAddress": address(&addr),
        "companyApproverEmail": p.email,
        "vettingStatus": "authorized",
        "vettingSubStatus": "none",
        "profileType": "LegalBusinessProfile",
        "links": {"self": link("/profiles/legalbusiness")},
        "attributes": {"etag": super::state::derived_guid(&p.tenant_id, 8), "objectType": "LegalBusinessProfile"},
    })
}

pub fn mpn_profile(mpn_id: &str, name: &str) -> Value {
    json!({
        "mpnId": mpn_id,
        "partnerName": name,
        "profileType": "MpnProfile",
        "links": {"self": link("/profiles/mpn")},
        "attributes": {"objectType": "MpnProfile"},
    })
}

/// A customer as it appears in list results: no billingProfile, commerceId, allowDelegatedAccess
/// or associatedPartnerId (documented: only get-by-id fills them).
pub fn customer_list_item(c: &Customer) -> Value {
    json!({
        "id": c.id,
        "companyProfile": {
            "tenantId": c.id,
            "domain": c.domain,
            "companyName": c.company_name,
            "attributes": {"objectType": "CustomerCompanyProfile"},
        },
        "relationshipToPartner": c.relationship,
        "links": {"self": link(&format!("/customers/{}", c.id))},
        "attributes": {"objectType": "Customer"},
    })
}

pub fn customer_full(c: &Customer) -> Value {
    let mut v = customer_list_item(c);
    v["commerceId"] = json!(c.commerce_id);
    v["companyProfile"]["address"] = address(&c.billing.address);
    v["companyProfile"]["links"] = json!({"self": link(&format!("/customers/{}/profiles/company", c.id))});
    v["billingProfile"] = json!({
        "id": c.billing.id,
        "firstName": c.billing.address.first_name,
        "lastName": c.billing.address.last_name,
        "email": c.billing.email,
        "culture": c.billing.culture,
        "language": c.billing.language,
        "companyName": c.billing.company_name,
        "defaultAddress": address(&c.billing.address),
        "links": {"self": link(&format!("/customers/{}/profiles/billing", c.id))},
        "attributes": {"etag": c.etag, "objectType": "CustomerBillingProfile"},
    });
    v["allowDelegatedAccess"] = json!(false);
    v["customDomains"] = json!([]);
    if let Some(ap) = &c.associated_partner_id {
        v["associatedPartnerId"] = json!(ap);
    }
    if let Some(gdap) = c.enable_gdap_by_default {
        v["enableGDAPByDefault"] = json!(gdap);
    }
    v
}

pub fn collection(items: Vec<Value>, self_uri: &str) -> Value {
    json!({
        "totalCount": items.len(),
        "items": items,
        "links": {"self": link(self_uri)},
        "attributes": {"objectType": "Collection"},
    })
}

pub fn reseller_relationship(r: &super::fixtures::ResellerFixture) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "relationshipType": "is_indirect_cloud_solution_provider_of",
        "state": r.state,
        "mpnId": r.mpn_id,
        "location": r.location,
        "attributes": {"objectType": "PartnerRelationship"},
    })
}
