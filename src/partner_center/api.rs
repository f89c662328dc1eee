//! The small, object-safe trait the controllers use, and its reqwest implementation.
//!
//! Request identity: `MS-RequestId` is new for each logical request (one page, one GET, one POST)
//! and reused across that request's retries and its 401 re-authentication, so Partner Center can
//! de-duplicate (POST /customers is idempotent on it). `MS-CorrelationId` is new for each trait call
//! and shared by all its pages and retries, so one operation's requests can be found together.

use async_trait::async_trait;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use url::Url;
use uuid::Uuid;

use super::auth::{Authenticator, CachedToken, RefreshTokenSink, TokenClaims, token_url};
use super::config::{ConnectionSettings, Credentials, Timeouts, cloud_resource};
use super::errors::{ApiFault, PartnerCenterError, api_error, decode_detail, echoes_secret, strip_bom};
use super::http::{MS_CONTINUATION_TOKEN, RawResponse, RetryPolicy, USER_AGENT, send_with_retries, standard_headers};
use super::models::{
    AddressToValidate, AddressValidation, Agreement, AgreementOutcome, AgreementTemplate, Collection, CountryRules,
    Customer, LegalBusinessProfile, MpnProfile, NewAgreement, NewCustomer, OrganizationProfile, PartnerRelationship,
    RelationshipRequest,
};
use super::paging::{MAX_PAGES, NextPage, PAGE_SIZE, is_end_of_paging, next_page};

pub type Result<T, E = PartnerCenterError> = std::result::Result<T, E>;

/// What the operator asks Partner Center. Object-safe: controllers hold `Arc<dyn PartnerCenterApi>`.
#[async_trait]
pub trait PartnerCenterApi: Send + Sync {
    /// `GET /v1/profiles/organization` (App+User only).
    async fn organization_profile(&self) -> Result<OrganizationProfile>;
    /// `GET /v1/profiles/legalbusiness?vettingVersion=Current`.
    async fn legal_business_profile(&self) -> Result<LegalBusinessProfile>;
    /// `GET /v1/profiles/mpn` (App+User only).
    async fn mpn_profile(&self) -> Result<MpnProfile>;
    /// All customers, every page (page size 500).
    async fn list_customers(&self) -> Result<Vec<Customer>>;
    /// Number of customers, counted over every page without keeping them.
    async fn count_customers(&self) -> Result<u64>;
    /// `GET /v1/auditrecords?startDate=…`: the customer ids (lowercased) named by the account's audit
    /// records since `start` (Partner Center refuses a start more than 90 days back). Default: not
    /// supported (an implementation without the feed makes callers keep what they cached).
    async fn audited_customers(&self, _start: jiff::Timestamp) -> Result<Vec<String>> {
        Err(PartnerCenterError::config(
            "audit records",
            "not supported by this client",
        ))
    }
    /// Every customer, page by page (page size 500), each page handed to `each` and then dropped
    /// (the connection sync keeps a compact inventory, not the pages); returns the list requests made.
    async fn each_customer_page(&self, each: &mut (dyn FnMut(Vec<Customer>) + Send)) -> Result<u64> {
        each(self.list_customers().await?);
        Ok(1)
    }
    /// `GET /v1/customers/{id}`.
    async fn get_customer(&self, customer_tenant_id: &str) -> Result<Customer>;
    /// `HEAD /v1/domains/{domain}`: true when the domain is still free (404), false when taken (200).
    async fn domain_available(&self, domain: &str) -> Result<bool>;
    /// The indirect resellers of an indirect provider (App+User only).
    async fn indirect_resellers(&self) -> Result<Vec<PartnerRelationship>>;
    /// `POST /v1/customers`, idempotent on `request_id` (store it and reuse it when retrying). Every
    /// retry inside the call carries the same `request_id`. A create whose answer was lost (timeout,
    /// dropped connection, 5xx, unreadable 201) fails with [`PartnerCenterError::is_outcome_unknown`]:
    /// the customer may exist, so look the domain up before creating again. Business refusals keep
    /// Partner Center's numeric code ([`PartnerCenterError::code`]: 600002, 600049, 2030, 800016, ...).
    async fn create_customer(&self, new: &NewCustomer, request_id: Uuid) -> Result<Customer>;
    /// Customers whose domain is exactly `domain` (case-insensitive): `GET /v1/customers?size=0&filter=
    /// {"Field":"Domain","Value":domain,"Operator":"starts_with"}`. The filter matches prefixes only,
    /// so the other prefixes' matches are dropped here.
    async fn customers_by_domain(&self, domain: &str) -> Result<Vec<Customer>>;
    /// `POST /v1/validations/address`: a 400 with code 2007 is an answer
    /// ([`AddressValidation::Invalid`] with the code, reason and corrected address), not an error.
    async fn validate_address(&self, address: &AddressToValidate) -> Result<AddressValidation>;
    /// `GET /v1/countryvalidationrules/{iso2}`.
    async fn country_rules(&self, country: &str) -> Result<CountryRules>;
    /// `DELETE /v1/customers/{id}` (integration sandbox only; production answers 403).
    async fn delete_customer(&self, customer_tenant_id: &str) -> Result<()>;
    /// Claims (`tid`, `amr`, ...) of the access token in use, authenticating first if needed.
    async fn token_claims(&self) -> Result<TokenClaims>;
    /// `GET /v1/customers/relationshiprequests` (App+User): the https invitation link an existing
    /// tenant's Global Admin opens to accept the partner as its reseller.
    async fn relationship_request_url(&self) -> Result<String>;
    /// `GET /v1/agreements?agreementType=MicrosoftCustomerAgreement` (App+User).
    async fn agreement_templates(&self) -> Result<Vec<AgreementTemplate>>;
    /// `POST /v1/customers/{id}/agreements` (App+User). Partner Center's code 600061 (the agreement
    /// already exists for this contact) is [`AgreementOutcome::AlreadyRecorded`], matched on the code
    /// because the HTTP status it comes with is not documented consistently.
    async fn record_agreement(&self, customer_tenant_id: &str, new: &NewAgreement) -> Result<AgreementOutcome>;
    /// `GET /v1/customers/{id}/agreements?agreementType=MicrosoftCustomerAgreement` (App+User).
    async fn customer_agreements(&self, customer_tenant_id: &str) -> Result<Vec<Agreement>>;
    /// The customers of one indirect reseller (App+User): the `IndirectReseller` list filter.
    async fn customers_of_reseller(&self, reseller_tenant_id: &str) -> Result<Vec<Customer>>;
}

/// The reqwest implementation.
pub struct PartnerCenterClient {
    http: reqwest::Client,
    api_base: Url,
    locale: String,
    application_name: String,
    policy: RetryPolicy,
    auth: Authenticator,
    client_secret: SecretString,
}

impl fmt::Debug for PartnerCenterClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PartnerCenterClient")
            .field("api_base", &self.api_base.as_str())
            .finish_non_exhaustive()
    }
}

/// One logical request: its method, `/v1/...` path and identity headers.
struct Call<'a> {
    method: Method,
    path_and_query: String,
    json_body: Option<&'a serde_json::Value>,
    request_id: String,
    correlation_id: &'a str,
    continuation_token: Option<&'a str>,
}

/// One HTTP client per pair of timeouts, shared by every connection's client: reqwest clients are
/// meant to be shared (one connection pool), and each carries its own TLS roots and session cache
/// (~100 KB; 2 MB of the heap at 20 connections). Credentials travel per request, never in here.
fn shared_http(timeouts: &Timeouts) -> Result<reqwest::Client> {
    static CLIENTS: Mutex<BTreeMap<(Duration, Duration), reqwest::Client>> = Mutex::new(BTreeMap::new());
    let mut clients = CLIENTS.lock().expect("shared http clients");
    let key = (timeouts.request, timeouts.connect);
    if let Some(http) = clients.get(&key) {
        return Ok(http.clone());
    }
    let http = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .timeout(timeouts.request)
        .connect_timeout(timeouts.connect)
        // Never follow a redirect with the bearer token attached.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| PartnerCenterError::config("http client", &e.to_string()))?;
    clients.insert(key, http.clone());
    Ok(http)
}

impl PartnerCenterClient {
    /// Builds a client. `sink` receives rotated refresh tokens (App+User); it is not called for App-only.
    pub fn new(
        settings: ConnectionSettings,
        credentials: Credentials,
        sink: Arc<dyn RefreshTokenSink>,
    ) -> Result<Self> {
        settings.validate()?;
        credentials.validate(settings.auth_mode)?;
        let endpoints = settings.effective_endpoints();
        crate::tls::install_crypto_provider();
        let http = shared_http(&settings.timeouts)?;
        let policy = RetryPolicy {
            on_throttled: settings.on_throttled.clone(),
            ..RetryPolicy::from(&settings.timeouts)
        };
        let auth = Authenticator::new(
            http.clone(),
            token_url(&endpoints.login, settings.partner_tenant_id.trim()),
            cloud_resource(settings.cloud).to_string(),
            credentials.client_id.trim().to_string(),
            credentials.client_secret.clone(),
            credentials.refresh_token.clone(),
            settings.auth_mode,
            settings.timeouts.token_refresh_margin,
            policy.clone(),
            sink,
        );
        Ok(PartnerCenterClient {
            http,
            api_base: endpoints.partner_center,
            locale: settings.locale,
            application_name: settings.application_name,
            policy,
            auth,
            client_secret: credentials.client_secret,
        })
    }

    fn url(&self, path_and_query: &str) -> Result<Url> {
        let base = self.api_base.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}{path_and_query}")).map_err(|e| {
            PartnerCenterError::config("endpoints.partnerCenter", &format!("cannot form a request URL: {e}"))
        })
    }

    async fn send_once(&self, call: &Call<'_>, token: &CachedToken) -> Result<RawResponse> {
        let url = self.url(&call.path_and_query)?;
        let headers = standard_headers(
            &call.request_id,
            call.correlation_id,
            &self.locale,
            &self.application_name,
        );
        let what = format!("Partner Center {} {}", call.method, path_only(&call.path_and_query));
        send_with_retries(&self.policy, &what, || {
            let mut req = self
                .http
                .request(call.method.clone(), url.clone())
                .headers(headers.clone())
                .bearer_auth(token.access_token.expose_secret());
            if let Some(ct) = call.continuation_token {
                req = req.header(MS_CONTINUATION_TOKEN, ct);
            }
            if let Some(body) = call.json_body {
                req = req.json(body);
            }
            req
        })
        .await
    }

    /// Sends with retries; on a plain 401 (expired or revoked access token, not the MFA or audience
    /// refusals, which a new token cannot cure) drops the token, re-authenticates once and resends.
    async fn execute(&self, call: &Call<'_>) -> Result<RawResponse> {
        let token = self.auth.access_token().await?;
        let resp = self.send_once(call, &token).await?;
        if resp.status == 401 && !is_permanent_401(&resp) {
            tracing::debug!(
                path = path_only(&call.path_and_query),
                "401 from Partner Center; re-authenticating once"
            );
            self.auth.invalidate(&token).await;
            let token = self.auth.access_token().await?;
            return self.send_once(call, &token).await;
        }
        Ok(resp)
    }

    fn fail(&self, resp: &RawResponse) -> PartnerCenterError {
        api_error(resp.status, &resp.body, resp.retry_after()).redact(&[self.client_secret.expose_secret()])
    }

    async fn get_json<T: DeserializeOwned>(&self, path_and_query: &str) -> Result<T> {
        let correlation_id = Uuid::new_v4().to_string();
        let call = Call {
            method: Method::GET,
            path_and_query: path_and_query.to_string(),
            json_body: None,
            request_id: Uuid::new_v4().to_string(),
            correlation_id: &correlation_id,
            continuation_token: None,
        };
        let resp = self.execute(&call).await?;
        if !resp.is_success() {
            return Err(self.fail(&resp));
        }
        decode(&resp, path_and_query)
    }

    /// One request with an optional JSON body and a new request id; the raw response, whatever its status.
    async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<RawResponse> {
        let correlation_id = Uuid::new_v4().to_string();
        let call = Call {
            method,
            path_and_query: path_and_query.to_string(),
            json_body: body,
            request_id: Uuid::new_v4().to_string(),
            correlation_id: &correlation_id,
            continuation_token: None,
        };
        self.execute(&call).await
    }

    /// Walks every page of a seek-based collection, handing each page's items to `each`.
    /// Returns the number of list requests made.
    async fn for_each_page<T, F>(&self, first: &str, mut each: F) -> Result<u64>
    where
        T: DeserializeOwned,
        F: FnMut(Vec<T>) + Send,
    {
        let correlation_id = Uuid::new_v4().to_string();
        let mut next: Option<NextPage> = None;
        let mut requests = 0u64;
        loop {
            let (path, token) = match &next {
                None => (first.to_string(), None),
                Some(n) => (n.path_and_query.clone(), Some(n.continuation_token.as_str())),
            };
            let call = Call {
                method: Method::GET,
                path_and_query: path.clone(),
                json_body: None,
                request_id: Uuid::new_v4().to_string(),
                correlation_id: &correlation_id,
                continuation_token: token,
            };
            if requests >= MAX_PAGES {
                return Err(PartnerCenterError::Decode {
                    what: format!("paging {}", path_only(first)),
                    detail: format!("paging did not end after {MAX_PAGES} pages"),
                });
            }
            let resp = self.execute(&call).await?;
            requests += 1;
            if !resp.is_success() {
                if next.is_some() && is_end_of_paging(resp.status, &resp.body) {
                    return Ok(requests);
                }
                return Err(self.fail(&resp));
            }
            let page: Collection<T> = decode(&resp, &path)?;
            let following = next_page(&page)?;
            each(page.items);
            match following {
                Some(f)
                    if next
                        .as_ref()
                        .is_some_and(|n| n.continuation_token == f.continuation_token) =>
                {
                    return Err(PartnerCenterError::Decode {
                        what: format!("paging {}", path_only(first)),
                        detail: "the continuation token did not advance".into(),
                    });
                }
                Some(f) => next = Some(f),
                None => return Ok(requests),
            }
        }
    }

    /// Counts customers and returns `(customers, list requests made)`; used by the benchmark.
    pub async fn count_customers_with_calls(&self) -> Result<(u64, u64)> {
        let mut count = 0u64;
        let calls = self
            .for_each_page::<serde::de::IgnoredAny, _>(&customers_first_page(), |items| count += items.len() as u64)
            .await?;
        Ok((count, calls))
    }
}

fn customers_first_page() -> String {
    format!("/v1/customers?size={PAGE_SIZE}")
}

/// A domain as Partner Center names tenants: letters, digits, '-' and '.'.
fn checked_domain(domain: &str) -> Result<&str> {
    let d = domain.trim();
    if d.is_empty() || d.len() > 253 || !d.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
        return Err(PartnerCenterError::config(
            "domain",
            "must be a DNS name such as contoso.onmicrosoft.com (letters, digits, '-' and '.')",
        ));
    }
    Ok(d)
}

/// The prefix filter of the customer list, URL-encoded (a JSON object inside the query string).
fn customers_filter_path(field: &str, value: &str) -> String {
    let filter = serde_json::json!({"Field": field, "Value": value, "Operator": "starts_with"}).to_string();
    let encoded: String = url::form_urlencoded::byte_serialize(filter.as_bytes()).collect();
    format!("/v1/customers?size=0&filter={encoded}")
}

/// PartnerConfirmedAgreementAlreadyExists.
const AGREEMENT_ALREADY_EXISTS: u64 = 600061;

/// Partner Center's code for an invalid address (`POST /v1/validations/address`).
const ADDRESS_INVALID: &str = "2007";
/// Longest validation reason kept (the documented ones are short names such as `ZipCityInvalid`).
const MAX_REASON: usize = 64;

/// Reads a 400/2007 answer of the address validation. Its `description` is itself a JSON string with
/// the validation code, reason and corrected address; anything in it that is not well-formed is
/// dropped (the reason becomes `Unknown`, the corrected address `None`) rather than failing the call,
/// because the refusal itself is the answer. Nothing the server sent is kept unless it fits the shape
/// of its field, and a field that echoes a client secret (any encoding) is dropped.
fn address_invalid(description: &str, secrets: &[&str]) -> AddressValidation {
    let inner: serde_json::Value = serde_json::from_str(description.trim()).unwrap_or_default();
    let field = |keys: &[&str]| keys.iter().find_map(|k| inner.get(*k)).cloned();
    let code = field(&["code", "validation_code", "validationCode", "Code"]).and_then(|v| match v {
        serde_json::Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        serde_json::Value::String(s) => s.trim().parse::<u32>().ok(),
        _ => None,
    });
    let reason = field(&["reason", "validation_reason", "validationReason", "Reason"])
        .and_then(|v| v.as_str().map(str::trim).map(str::to_string))
        .filter(|r| {
            !r.is_empty() && r.len() <= MAX_REASON && r.chars().all(|c| c.is_ascii_alphanumeric() || " _-.".contains(c))
        })
        .filter(|r| !echoes_secret(r, secrets))
        .unwrap_or_else(|| "Unknown".to_string());
    let corrected = field(&["corrected_address", "correctedAddress", "CorrectedAddress"])
        .and_then(|v| serde_json::from_value::<AddressToValidate>(v).ok())
        .filter(plausible_address)
        .filter(|a| {
            let fields = [
                Some(&a.address_line1),
                a.address_line2.as_ref(),
                Some(&a.city),
                a.state.as_ref(),
                Some(&a.postal_code),
                Some(&a.country),
            ];
            !fields.into_iter().flatten().any(|f| echoes_secret(f, secrets))
        })
        .map(|mut a| {
            a.country.make_ascii_uppercase();
            a
        });
    AddressValidation::Invalid {
        code,
        reason,
        corrected,
    }
}

/// Within the documented address limits (addressLine1 1-200 characters, ISO-2 country) and no
/// control characters: a suggestion outside them is not one the caller could submit.
fn plausible_address(a: &AddressToValidate) -> bool {
    let ok = |s: &str, max: usize| s.chars().count() <= max && !s.chars().any(char::is_control);
    !a.address_line1.trim().is_empty()
        && ok(&a.address_line1, 200)
        && a.address_line2.as_deref().is_none_or(|l| ok(l, 200))
        && ok(&a.city, 100)
        && a.state.as_deref().is_none_or(|s| ok(s, 100))
        && ok(&a.postal_code, 20)
        && a.country.len() == 2
        && a.country.chars().all(|c| c.is_ascii_alphabetic())
}

/// 900421 (no MFA claim) and 900420 (wrong audience) describe the token's kind, not its age.
fn is_permanent_401(resp: &RawResponse) -> bool {
    matches!(
        api_error(401, &resp.body, None).reason(),
        "MfaRequired" | "WrongAudience"
    )
}

fn path_only(path_and_query: &str) -> &str {
    path_and_query.split('?').next().unwrap_or(path_and_query)
}

fn decode<T: DeserializeOwned>(resp: &RawResponse, path: &str) -> Result<T> {
    serde_json::from_slice(strip_bom(&resp.body)).map_err(|e| PartnerCenterError::Decode {
        what: format!("Partner Center {}", path_only(path)),
        detail: decode_detail(&e),
    })
}

/// One URL path segment, percent-encoded; refuses empty values and dot segments.
fn segment(field: &str, value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() || v == "." || v == ".." {
        return Err(PartnerCenterError::config(field, "must be a non-empty identifier"));
    }
    let mut u = Url::parse("http://x/").expect("static");
    u.path_segments_mut().expect("base").push(v);
    Ok(u.path().trim_start_matches('/').to_string())
}

#[async_trait]
impl PartnerCenterApi for PartnerCenterClient {
    async fn organization_profile(&self) -> Result<OrganizationProfile> {
        self.get_json("/v1/profiles/organization").await
    }

    async fn legal_business_profile(&self) -> Result<LegalBusinessProfile> {
        self.get_json("/v1/profiles/legalbusiness?vettingVersion=Current").await
    }

    async fn mpn_profile(&self) -> Result<MpnProfile> {
        self.get_json("/v1/profiles/mpn").await
    }

    async fn list_customers(&self) -> Result<Vec<Customer>> {
        let mut all = Vec::new();
        self.for_each_page(&customers_first_page(), |items| all.extend(items))
            .await?;
        Ok(all)
    }

    async fn count_customers(&self) -> Result<u64> {
        Ok(self.count_customers_with_calls().await?.0)
    }

    async fn audited_customers(&self, start: jiff::Timestamp) -> Result<Vec<String>> {
        #[derive(serde::Deserialize, Default)]
        #[serde(default, rename_all = "camelCase")]
        struct Record {
            customer_id: Option<String>,
        }
        // Whole seconds, UTC: the form Partner Center's examples use.
        let start = start.round(jiff::Unit::Second).unwrap_or(start);
        let encoded: String = url::form_urlencoded::byte_serialize(start.to_string().as_bytes()).collect();
        let mut ids = Vec::new();
        self.for_each_page::<Record, _>(&format!("/v1/auditrecords?startDate={encoded}"), |items| {
            ids.extend(
                items
                    .into_iter()
                    .filter_map(|r| r.customer_id)
                    .map(|c| c.trim().to_ascii_lowercase()),
            )
        })
        .await?;
        Ok(ids)
    }

    async fn each_customer_page(&self, each: &mut (dyn FnMut(Vec<Customer>) + Send)) -> Result<u64> {
        self.for_each_page(&customers_first_page(), each).await
    }

    async fn get_customer(&self, customer_tenant_id: &str) -> Result<Customer> {
        let id = segment("customer id", customer_tenant_id)?;
        self.get_json(&format!("/v1/customers/{id}")).await
    }

    async fn domain_available(&self, domain: &str) -> Result<bool> {
        let d = checked_domain(domain)?;
        let correlation_id = Uuid::new_v4().to_string();
        let call = Call {
            method: Method::HEAD,
            path_and_query: format!("/v1/domains/{}", segment("domain", d)?),
            json_body: None,
            request_id: Uuid::new_v4().to_string(),
            correlation_id: &correlation_id,
            continuation_token: None,
        };
        let resp = self.execute(&call).await?;
        match resp.status {
            200..=299 => Ok(false),
            404 => Ok(true),
            _ => Err(self.fail(&resp)),
        }
    }

    async fn indirect_resellers(&self) -> Result<Vec<PartnerRelationship>> {
        let mut all = Vec::new();
        self.for_each_page(
            "/v1/relationships?relationship_type=IsIndirectCloudSolutionProviderOf",
            |items| all.extend(items),
        )
        .await?;
        Ok(all)
    }

    async fn create_customer(&self, new: &NewCustomer, request_id: Uuid) -> Result<Customer> {
        let body = serde_json::to_value(new).map_err(|e| PartnerCenterError::config("customer", &e.to_string()))?;
        let correlation_id = Uuid::new_v4().to_string();
        let call = Call {
            method: Method::POST,
            path_and_query: "/v1/customers".into(),
            json_body: Some(&body),
            request_id: request_id.to_string(),
            correlation_id: &correlation_id,
            continuation_token: None,
        };
        const WHAT: &str = "Partner Center POST /v1/customers";
        let resp = self.execute(&call).await.map_err(|e| e.for_create(WHAT))?;
        if !resp.is_success() {
            return Err(self.fail(&resp).for_create(WHAT));
        }
        decode(&resp, "/v1/customers").map_err(|e| e.for_create(WHAT))
    }

    async fn customers_by_domain(&self, domain: &str) -> Result<Vec<Customer>> {
        let d = checked_domain(domain)?;
        let mut all = Vec::new();
        self.for_each_page(&customers_filter_path("Domain", d), |items: Vec<Customer>| {
            all.extend(
                items
                    .into_iter()
                    .filter(|c| c.domain().is_some_and(|cd| cd.trim().eq_ignore_ascii_case(d))),
            )
        })
        .await?;
        Ok(all)
    }

    async fn validate_address(&self, address: &AddressToValidate) -> Result<AddressValidation> {
        let body = serde_json::to_value(address).map_err(|e| PartnerCenterError::config("address", &e.to_string()))?;
        let resp = self.call(Method::POST, "/v1/validations/address", Some(&body)).await?;
        if resp.is_success() {
            return Ok(AddressValidation::Valid);
        }
        if resp.status == 400 {
            let fault = ApiFault::parse(&resp.body);
            if fault.code.0 == ADDRESS_INVALID {
                let description = fault.description.as_deref().unwrap_or("");
                return Ok(address_invalid(description, &[self.client_secret.expose_secret()]));
            }
        }
        Err(self.fail(&resp))
    }

    async fn country_rules(&self, country: &str) -> Result<CountryRules> {
        let c = country.trim();
        if c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_alphabetic()) {
            return Err(PartnerCenterError::config(
                "country",
                "must be an ISO 3166 alpha-2 code such as US or DE",
            ));
        }
        self.get_json(&format!("/v1/countryvalidationrules/{}", c.to_ascii_uppercase()))
            .await
    }

    async fn delete_customer(&self, customer_tenant_id: &str) -> Result<()> {
        let id = segment("customer id", customer_tenant_id)?;
        let resp = self.call(Method::DELETE, &format!("/v1/customers/{id}"), None).await?;
        if !resp.is_success() {
            return Err(self.fail(&resp));
        }
        Ok(())
    }

    async fn relationship_request_url(&self) -> Result<String> {
        let r: RelationshipRequest = self.get_json("/v1/customers/relationshiprequests").await?;
        match Url::parse(r.url.trim()) {
            Ok(u) if u.scheme() == "https" => Ok(u.to_string()),
            _ => Err(PartnerCenterError::Decode {
                what: "Partner Center GET /v1/customers/relationshiprequests".into(),
                detail: "the invitation url is not an https URL".into(),
            }),
        }
    }

    async fn agreement_templates(&self) -> Result<Vec<AgreementTemplate>> {
        let page: Collection<AgreementTemplate> = self
            .get_json("/v1/agreements?agreementType=MicrosoftCustomerAgreement")
            .await?;
        Ok(page.items)
    }

    async fn record_agreement(&self, customer_tenant_id: &str, new: &NewAgreement) -> Result<AgreementOutcome> {
        let id = segment("customer id", customer_tenant_id)?;
        let body = serde_json::to_value(new).map_err(|e| PartnerCenterError::config("agreement", &e.to_string()))?;
        let path = format!("/v1/customers/{id}/agreements");
        let resp = self.call(Method::POST, &path, Some(&body)).await?;
        if resp.is_success() {
            return Ok(AgreementOutcome::Recorded(Box::new(decode(&resp, &path)?)));
        }
        let err = self.fail(&resp);
        if err.code() == Some(AGREEMENT_ALREADY_EXISTS) {
            return Ok(AgreementOutcome::AlreadyRecorded);
        }
        Err(err)
    }

    async fn customer_agreements(&self, customer_tenant_id: &str) -> Result<Vec<Agreement>> {
        let id = segment("customer id", customer_tenant_id)?;
        let page: Collection<Agreement> = self
            .get_json(&format!(
                "/v1/customers/{id}/agreements?agreementType=MicrosoftCustomerAgreement"
            ))
            .await?;
        Ok(page.items)
    }

    async fn customers_of_reseller(&self, reseller_tenant_id: &str) -> Result<Vec<Customer>> {
        let r = reseller_tenant_id.trim();
        if Uuid::parse_str(r).is_err() {
            return Err(PartnerCenterError::config(
                "indirect reseller",
                "must be the reseller's tenant id (a GUID)",
            ));
        }
        let mut all = Vec::new();
        self.for_each_page(&customers_filter_path("IndirectReseller", r), |items| all.extend(items))
            .await?;
        Ok(all)
    }
    async fn token_claims(&self) -> Result<TokenClaims> {
        Ok(self.auth.access_token().await?.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(segment("id", "b44b-1").unwrap(), "b44b-1");
        assert_eq!(segment("id", "a/b?c").unwrap(), "a%2Fb%3Fc");
        for bad in ["", " ", "..", "."] {
            assert!(
                segment("customer id", bad)
                    .unwrap_err()
                    .to_string()
                    .contains("customer id")
            );
        }
    }

    #[test]
    fn domain_filter_is_url_encoded_json() {
        let p = customers_filter_path("Domain", "wingtip.onmicrosoft.com");
        let q = p.split_once("filter=").unwrap().1;
        let decoded: String = url::form_urlencoded::parse(format!("f={q}").as_bytes())
            .next()
            .unwrap()
            .1
            .into_owned();
        let v: serde_json::Value = serde_json::from_str(&decoded).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"Field":"Domain","Value":"wingtip.onmicrosoft.com","Operator":"starts_with"})
        );
        assert!(p.starts_with("/v1/customers?size=0&filter=%7B"), "{p}");
        for bad in ["", "a b.com", "x/y", "a?b"] {
            assert!(checked_domain(bad).unwrap_err().to_string().contains("domain"), "{bad}");
        }
    }

    #[test]
    fn address_invalid_descriptions() {
        let corrected = AddressToValidate {
            address_line1: "1 Microsoft Way".into(),
            address_line2: None,
            city: "Redmond".into(),
            state: Some("WA".into()),
            postal_code: "98052-6399".into(),
            country: "US".into(),
        };
        let long_line = "x".repeat(201);
        let secret = "client-secret-value";
        let cases: Vec<(String, Option<u32>, &str, Option<AddressToValidate>)> = vec![
            (
                r#"{"code":60071,"reason":"ZipCityInvalid","corrected_address":{"address_line1":"1 Microsoft Way","city":"Redmond","state":"WA","postal_code":"98052-6399","country":"US"}}"#.into(),
                Some(60071),
                "ZipCityInvalid",
                Some(corrected.clone()),
            ),
            (
                r#"{"validation_code":"60071","validation_reason":"ZipCityInvalid","correctedAddress":{"addressLine1":"1 Microsoft Way","city":"Redmond","state":"WA","postalCode":"98052-6399","country":"us"}}"#.into(),
                Some(60071),
                "ZipCityInvalid",
                Some(corrected),
            ),
            ("not json at all".into(), None, "Unknown", None),
            (String::new(), None, "Unknown", None),
            (r#"{"code":-1,"reason":"has
newline"}"#.into(), None, "Unknown", None),
            (format!(r#"{{"code":99999999999,"reason":"{}"}}"#, "R".repeat(65)), None, "Unknown", None),
            (
                format!(r#"{{"code":1,"reason":"A","corrected_address":{{"address_line1":"{long_line}","city":"c","postal_code":"1","country":"US"}}}}"#),
                Some(1),
                "A",
                None,
            ),
            (format!(r#"{{"code":2,"reason":"Leak {secret}"}}"#), Some(2), "Unknown", None),
            (
                r#"{"code":3,"reason":"R","corrected_address":{"address_line1":"1 client-secret Way","city":"c","postal_code":"1","country":"US"}}"#.to_string(),
                Some(3),
                "R",
                None,
            ),
        ];
        for (description, code, reason, corrected) in cases {
            let want = AddressValidation::Invalid {
                code,
                reason: reason.to_string(),
                corrected,
            };
            assert_eq!(address_invalid(&description, &[secret]), want, "{description}");
        }
    }

    #[test]
    fn permanent_401s() {
        let resp = |body: &str| RawResponse {
            status: 401,
            headers: Default::default(),
            body: body.as_bytes().to_vec(),
        };
        assert!(is_permanent_401(&resp(r#"{"code":900421,"description":"mfa"}"#)));
        assert!(is_permanent_401(&resp(r#"{"code":"900420","description":"aud"}"#)));
        assert!(!is_permanent_401(&resp("")));
        assert!(!is_permanent_401(&resp(
            r#"{"code":800001,"description":"token missing"}"#
        )));
    }

    #[test]
    fn client_debug_has_no_secrets() {
        let settings =
            ConnectionSettings::new("tenant-1", crate::api::Cloud::Global, crate::api::AuthMode::AppPlusUser);
        let creds = Credentials {
            client_id: "app".into(),
            client_secret: SecretString::from("client-secret-value"),
            refresh_token: Some(SecretString::from("refresh-token-value")),
        };
        let client = PartnerCenterClient::new(
            settings.clone(),
            creds,
            Arc::new(super::super::auth::MemoryRefreshTokenSink::default()),
        )
        .unwrap();
        let dbg = format!("{client:?} {settings:?}");
        assert!(
            !dbg.contains("client-secret-value") && !dbg.contains("refresh-token-value"),
            "{dbg}"
        );
        assert!(dbg.contains("api.partnercenter.microsoft.com"));
    }
}
