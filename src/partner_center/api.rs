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
use super::errors::{PartnerCenterError, api_error, decode_detail, strip_bom};
use super::http::{MS_CONTINUATION_TOKEN, RawResponse, RetryPolicy, USER_AGENT, send_with_retries, standard_headers};
use super::models::{
    Collection, Customer, LegalBusinessProfile, MpnProfile, NewCustomer, OrganizationProfile, PartnerRelationship,
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
    /// `GET /v1/customers/{id}`.
    async fn get_customer(&self, customer_tenant_id: &str) -> Result<Customer>;
    /// `HEAD /v1/domains/{domain}`: true when the domain is still free (404), false when taken (200).
    async fn domain_available(&self, domain: &str) -> Result<bool>;
    /// The indirect resellers of an indirect provider (App+User only).
    async fn indirect_resellers(&self) -> Result<Vec<PartnerRelationship>>;
    /// `POST /v1/customers`, idempotent on `request_id` (store it and reuse it when retrying).
    async fn create_customer(&self, new: &NewCustomer, request_id: Uuid) -> Result<Customer>;
    /// Claims (`tid`, `amr`, ...) of the access token in use, authenticating first if needed.
    async fn token_claims(&self) -> Result<TokenClaims>;
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

    async fn get_customer(&self, customer_tenant_id: &str) -> Result<Customer> {
        let id = segment("customer id", customer_tenant_id)?;
        self.get_json(&format!("/v1/customers/{id}")).await
    }

    async fn domain_available(&self, domain: &str) -> Result<bool> {
        let d = domain.trim();
        if d.is_empty() || !d.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
            return Err(PartnerCenterError::config(
                "domain",
                "must be a DNS name such as contoso.onmicrosoft.com (letters, digits, '-' and '.')",
            ));
        }
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
        let resp = self.execute(&call).await?;
        if !resp.is_success() {
            return Err(self.fail(&resp));
        }
        decode(&resp, "/v1/customers")
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
