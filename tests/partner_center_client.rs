//! The Partner Center client against the project's emulator (no mocks): quirks, error kinds, retry
//! rules (counted in the emulator's request log), paging, token cache, refresh-token rotation with
//! persist-before-use, and secrets kept out of Debug/Display.

use async_trait::async_trait;
use partner_center_emulator::{self as emulator, EmulatorConfig, Fixtures, RunningEmulator};
use partner_center_operator::api::{AuthMode, Cloud};
use partner_center_operator::partner_center::consent::{ConsentFlow, code_from_redirect, new_state};
use partner_center_operator::partner_center::models::{
    Address, AddressToValidate, AddressValidation, NewBillingProfile, NewCompanyProfile, NewCustomer,
};
use partner_center_operator::partner_center::{
    ConnectionSettings, Credentials, Endpoints, MemoryRefreshTokenSink, PartnerCenterApi, PartnerCenterClient,
    PartnerCenterError, RefreshTokenSink, Timeouts,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use url::Url;

const PARTNER: &str = "5f0c1a2b-0000-4000-8000-000000000001";
const APP: &str = "a9b8c7d6-0000-4000-8000-0000000000a1";
const SECRET: &str = "emulator-client-secret-contoso-0001";
const RT: &str = "initial-rt-contoso-admin-0001";
const NO_MFA_RT: &str = "initial-rt-contoso-nomfa-0002";
const OTHER_PARTNER: &str = "5f0c1a2b-0000-4000-8000-000000000002";
const OTHER_APP: &str = "a9b8c7d6-0000-4000-8000-0000000000b2";
const OTHER_SECRET: &str = "emulator-client-secret-fabrikam-0002";
const PROVIDER: &str = "5f0c1a2b-0000-4000-8000-000000000003";
const PROVIDER_APP: &str = "a9b8c7d6-0000-4000-8000-0000000000c3";
const PROVIDER_SECRET: &str = "emulator-client-secret-provider-0003";
const PROVIDER_RT: &str = "initial-rt-provider-admin-0003";
const KNOWN_CUSTOMER: &str = "c0000000-0000-4000-8000-00000000c001";

/// Fixtures: a sandbox direct-bill partner with `generated` customers, a second partner (for
/// wrong-tenant tests) and an indirect provider with two resellers.
fn fixtures(settings: &str, generated: usize) -> Fixtures {
    let yaml = format!(
        r#"
settings:
{settings}
partners:
  - tenantId: {PARTNER}
    companyName: Contoso Europe
    domain: contosoeu.onmicrosoft.com
    email: ops@contoso.example
    country: DE
    mpnId: "4847383"
    partnerType: DirectBill
    sandbox: true
    apps:
      - {{ clientId: {APP}, clientSecret: "{SECRET}" }}
    users:
      - {{ upn: admin@contosoeu.onmicrosoft.com, mfa: true, refreshToken: "{RT}" }}
      - {{ upn: nomfa@contosoeu.onmicrosoft.com, mfa: false, refreshToken: "{NO_MFA_RT}" }}
    customers:
      - {{ tenantId: {KNOWN_CUSTOMER}, companyName: Fabrikam, domain: fabrikam.onmicrosoft.com, relationshipToPartner: reseller }}
    generatedCustomers: {generated}
  - tenantId: {OTHER_PARTNER}
    companyName: Fabrikam Partner
    domain: fabrikampartner.onmicrosoft.com
    email: ops@fabrikam.example
    country: US
    mpnId: "1111111"
    partnerType: DirectBill
    apps:
      - {{ clientId: {OTHER_APP}, clientSecret: "{OTHER_SECRET}" }}
  - tenantId: {PROVIDER}
    companyName: Northwind Distribution
    domain: northwinddist.onmicrosoft.com
    email: ops@northwind.example
    country: NL
    mpnId: "2222222"
    partnerType: IndirectProvider
    apps:
      - {{ clientId: {PROVIDER_APP}, clientSecret: "{PROVIDER_SECRET}" }}
    users:
      - {{ upn: admin@northwinddist.onmicrosoft.com, refreshToken: "{PROVIDER_RT}" }}
    indirectResellers:
      - {{ id: 484e548c-0000-4000-8000-000000000001, name: First Up Consultants, mpnId: "4847383", location: NZ }}
      - {{ id: 484e548c-0000-4000-8000-000000000002, name: Second Up, mpnId: "4847384", location: NL, state: Active }}
    customers:
      - {{ tenantId: c0000000-0000-4000-8000-00000000d001, companyName: Contoso, domain: contoso.com }}
      - {{ tenantId: c0000000-0000-4000-8000-00000000d002, companyName: Contoso AU, domain: contoso.com.au }}
      - {{ tenantId: c0000000-0000-4000-8000-00000000d003, companyName: Contoso Community, domain: contoso.community }}
"#
    );
    Fixtures::from_yaml(&yaml).unwrap_or_else(|e| panic!("fixtures: {e}\n{yaml}"))
}

const DEFAULT_SETTINGS: &str = "  bom: false\n  strictRefreshTokenRotation: true\n  rateLimitPerMinute: 100000\n";

struct Env {
    emu: RunningEmulator,
    http: reqwest::Client,
}

impl Env {
    async fn start(settings: &str, generated: usize) -> Env {
        partner_center_operator::tls::install_crypto_provider();
        let emu = emulator::start(EmulatorConfig {
            fixtures: fixtures(settings, generated),
            bind: "127.0.0.1:0".parse().unwrap(),
        })
        .await
        .expect("emulator starts");
        Env {
            emu,
            http: reqwest::Client::new(),
        }
    }

    async fn default() -> Env {
        Env::start(DEFAULT_SETTINGS, 3).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emu.base_url())
    }

    fn settings(&self, tenant: &str, mode: AuthMode) -> ConnectionSettings {
        let base = Url::parse(&self.emu.base_url()).unwrap();
        let mut s = ConnectionSettings::new(tenant, Cloud::Global, mode);
        s.endpoints = Some(Endpoints {
            partner_center: base.clone(),
            login: base,
        });
        s.application_name = "pco-tests".into();
        s.locale = "de-DE".into();
        s.timeouts = Timeouts {
            request: Duration::from_secs(10),
            retry_base_delay: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(5),
            ..Timeouts::default()
        };
        s
    }

    fn client_with(
        &self,
        settings: ConnectionSettings,
        creds: Credentials,
        sink: Arc<dyn RefreshTokenSink>,
    ) -> PartnerCenterClient {
        PartnerCenterClient::new(settings, creds, sink).expect("client builds")
    }

    /// The sandbox partner, App+User with the MFA admin's refresh token.
    fn user_client(&self) -> (PartnerCenterClient, Arc<MemoryRefreshTokenSink>) {
        let sink = Arc::new(MemoryRefreshTokenSink::default());
        let c = self.client_with(
            self.settings(PARTNER, AuthMode::AppPlusUser),
            creds(APP, SECRET, Some(RT)),
            sink.clone(),
        );
        (c, sink)
    }

    fn app_client(&self) -> PartnerCenterClient {
        self.client_with(
            self.settings(PARTNER, AuthMode::AppOnly),
            creds(APP, SECRET, None),
            Arc::new(MemoryRefreshTokenSink::default()),
        )
    }

    async fn requests(&self) -> Vec<Value> {
        self.http
            .get(self.url("/_emulator/requests"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn clear_requests(&self) {
        self.http.delete(self.url("/_emulator/requests")).send().await.unwrap();
    }

    async fn api_requests(&self) -> Vec<Value> {
        self.requests()
            .await
            .into_iter()
            .filter(|r| r["path"].as_str().unwrap().starts_with("/v1/"))
            .collect()
    }

    async fn token_requests(&self) -> Vec<Value> {
        self.requests()
            .await
            .into_iter()
            .filter(|r| r["path"].as_str().unwrap().ends_with("/oauth2/token"))
            .collect()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let resp = self.http.post(self.url(path)).json(&body).send().await.unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.unwrap_or(Value::Null)
    }

    async fn fault(&self, path_prefix: &str, fault: Value, count: Option<u32>) {
        let mut body = json!({"match": {"pathPrefix": path_prefix}, "fault": fault});
        if let Some(c) = count {
            body["count"] = json!(c);
        }
        self.post("/_emulator/faults", body).await;
    }

    async fn advance(&self, seconds: u64) {
        self.post("/_emulator/clock/advance", json!({"seconds": seconds})).await;
    }
}

fn creds(client_id: &str, secret: &str, rt: Option<&str>) -> Credentials {
    Credentials {
        client_id: client_id.into(),
        client_secret: SecretString::from(secret.to_string()),
        refresh_token: rt.map(|t| SecretString::from(t.to_string())),
    }
}

fn header<'a>(entry: &'a Value, name: &str) -> Option<&'a str> {
    entry["headers"][name].as_str()
}

fn assert_no_secrets(text: &str, extra: &[&str]) {
    for s in [SECRET, RT, NO_MFA_RT, OTHER_SECRET, PROVIDER_SECRET, PROVIDER_RT]
        .iter()
        .chain(extra)
    {
        assert!(!text.contains(s), "secret {s:?} leaked into: {text}");
    }
}

fn ceil_div(a: u64, b: u64) -> u64 {
    a.div_ceil(b)
}

#[tokio::test]
async fn app_plus_user_profiles_claims_and_headers() {
    let env = Env::default().await;
    let (client, _sink) = env.user_client();

    let org = client.organization_profile().await.unwrap();
    assert_eq!(org.tenant_id.as_deref(), Some(PARTNER));
    assert_eq!(org.country(), Some("DE"));
    assert_eq!(org.company_name.as_deref(), Some("Contoso Europe"));
    let legal = client.legal_business_profile().await.unwrap();
    assert_eq!(legal.country(), Some("DE"));
    let mpn = client.mpn_profile().await.unwrap();
    assert_eq!(mpn.mpn_id.as_deref(), Some("4847383"));

    let claims = client.token_claims().await.unwrap();
    assert_eq!(claims.tid.as_deref(), Some(PARTNER));
    assert!(claims.has_mfa(), "{claims:?}");
    assert!(claims.is_user_token());

    let api = env.api_requests().await;
    assert_eq!(api.len(), 3);
    let mut request_ids = std::collections::HashSet::new();
    for r in &api {
        assert_eq!(header(r, "X-Locale"), Some("de-DE"), "{r}");
        assert_eq!(header(r, "MS-PartnerCenter-Application"), Some("pco-tests"), "{r}");
        let rid = header(r, "MS-RequestId").expect("MS-RequestId sent");
        assert!(uuid::Uuid::parse_str(rid).is_ok());
        assert!(
            header(r, "MS-CorrelationId").is_some_and(|c| uuid::Uuid::parse_str(c).is_ok()),
            "{r}"
        );
        assert!(
            r["userAgent"].as_str().unwrap().starts_with("partner-center-operator/"),
            "{r}"
        );
        assert_eq!(r["status"], 200);
        request_ids.insert(rid.to_string());
    }
    assert_eq!(request_ids.len(), 3, "a new MS-RequestId per logical call");
    // The profile endpoints are App+User only; the token request carried the v1 resource form.
    assert_eq!(env.token_requests().await.len(), 1);
}

#[tokio::test]
async fn app_only_claims_and_app_only_refusal() {
    let env = Env::default().await;
    let client = env.app_client();
    let claims = client.token_claims().await.unwrap();
    assert_eq!(claims.tid.as_deref(), Some(PARTNER));
    assert!(claims.amr.is_empty() && !claims.is_user_token(), "{claims:?}");

    // Both-mode endpoints work.
    assert_eq!(client.legal_business_profile().await.unwrap().country(), Some("DE"));
    assert_eq!(client.count_customers().await.unwrap(), 4);

    // App+User-only endpoints are refused, typed, not retried.
    env.clear_requests().await;
    for (name, result) in [
        ("organization_profile", client.organization_profile().await.err()),
        ("mpn_profile", client.mpn_profile().await.err()),
    ] {
        let err = result.unwrap_or_else(|| panic!("{name} must fail app-only"));
        assert_eq!(err.reason(), "AppOnlyNotAllowed", "{name}: {err}");
    }
    assert_eq!(env.api_requests().await.len(), 2, "403 is never retried");
}

#[tokio::test]
async fn quirks_bom_and_next_link_styles() {
    // 1200 = 3 + 1197: two full pages and a short one; every next-link style; BOM on and off.
    for style in ["withV1", "withoutV1", "alternate"] {
        for bom in [true, false] {
            let settings = format!(
                "  bom: {bom}\n  nextLinkStyle: {style}\n  rateLimitPerMinute: 100000\n  strictRefreshTokenRotation: true\n"
            );
            let env = Env::start(&settings, 1196).await;
            let client = env.app_client();
            let customers = client
                .list_customers()
                .await
                .unwrap_or_else(|e| panic!("{style} bom={bom}: {e}"));
            assert_eq!(customers.len(), 1197, "{style} bom={bom}");
            let ids: std::collections::HashSet<_> = customers.iter().map(|c| c.id.clone()).collect();
            assert_eq!(ids.len(), 1197, "no page read twice ({style} bom={bom})");
            let fabrikam = customers
                .iter()
                .find(|c| c.id == KNOWN_CUSTOMER)
                .expect("fixture customer listed");
            assert_eq!(fabrikam.domain(), Some("fabrikam.onmicrosoft.com"));

            let lists: Vec<Value> = env
                .api_requests()
                .await
                .into_iter()
                .filter(|r| r["path"] == "/v1/customers")
                .collect();
            assert_eq!(lists.len(), 3, "{style} bom={bom}: {lists:?}");
            assert_eq!(lists[0]["query"], "size=500");
            for r in &lists[1..] {
                assert!(
                    header(r, "MS-ContinuationToken").is_some(),
                    "continuation header sent: {r}"
                );
                assert!(r["query"].as_str().unwrap().contains("seekOperation=Next"), "{r}");
                assert_eq!(r["status"], 200);
            }
            // One operation: one correlation id across its pages, a request id per page.
            let corr: std::collections::HashSet<_> = lists.iter().map(|r| header(r, "MS-CorrelationId")).collect();
            assert_eq!(corr.len(), 1);
            let rids: std::collections::HashSet<_> = lists.iter().map(|r| header(r, "MS-RequestId")).collect();
            assert_eq!(rids.len(), 3);

            // BOM-prefixed single objects decode too.
            assert_eq!(
                client.get_customer(KNOWN_CUSTOMER).await.unwrap().company_name(),
                Some("Fabrikam")
            );
        }
    }
}

#[tokio::test]
async fn paging_stops_on_400_code_2000_after_a_full_last_page() {
    // 1000 customers = two full pages; the emulator (like Partner Center) still offers a next link,
    // and the follow-up answers 400 code 2000, which ends paging without an error.
    let env = Env::start(DEFAULT_SETTINGS, 999).await;
    let client = env.app_client();
    assert_eq!(client.count_customers().await.unwrap(), 1000);
    let lists: Vec<Value> = env.api_requests().await;
    let statuses: Vec<u64> = lists.iter().map(|r| r["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, vec![200, 200, 400]);
}

#[tokio::test]
async fn paging_10000_customers_uses_the_largest_page() {
    for (total, expected_calls) in [
        // Exact multiple of 500: 20 pages plus the 400/2000 end-of-paging answer.
        (10_000u64, ceil_div(10_000, 500) + 1),
        // Not a multiple: the short last page has no next link; exactly ceil(N/500).
        (10_250, ceil_div(10_250, 500)),
    ] {
        let env = Env::start(DEFAULT_SETTINGS, total as usize - 1).await;
        let client = env.app_client();
        let (count, calls) = client.count_customers_with_calls().await.unwrap();
        assert_eq!(count, total);
        assert_eq!(calls, expected_calls, "{total}");
        let lists = env.api_requests().await;
        assert_eq!(lists.len() as u64, expected_calls);
        assert!(lists[0]["query"].as_str().unwrap().contains("size=500"));
        assert_eq!(env.token_requests().await.len(), 1, "one token for the whole walk");
        assert_eq!(client.list_customers().await.unwrap().len() as u64, total);
    }
}

#[tokio::test]
async fn token_cache_one_token_request_for_many_calls() {
    let env = Env::default().await;
    for mode in [AuthMode::AppOnly, AuthMode::AppPlusUser] {
        env.clear_requests().await;
        let client = match mode {
            AuthMode::AppOnly => env.app_client(),
            AuthMode::AppPlusUser => env.user_client().0,
        };
        client.legal_business_profile().await.unwrap();
        client.get_customer(KNOWN_CUSTOMER).await.unwrap();
        client.token_claims().await.unwrap();
        assert_eq!(env.token_requests().await.len(), 1, "{mode:?}");
        let token = &env.token_requests().await[0];
        assert_eq!(token["status"], 200);
    }
}

#[tokio::test]
async fn concurrent_calls_share_one_token_request() {
    // With rotation, two parallel refreshes would race on one refresh token; the client serialises
    // token requests so concurrent callers wait for the same new token.
    let env = Env::default().await;
    let sink = RecordingSink::new(&env);
    let client = Arc::new(env.client_with(
        env.settings(PARTNER, AuthMode::AppPlusUser),
        creds(APP, SECRET, Some(RT)),
        sink.clone(),
    ));
    let calls = (0..8).map(|_| {
        let c = client.clone();
        tokio::spawn(async move { c.get_customer(KNOWN_CUSTOMER).await.map(|c| c.id) })
    });
    for r in futures::future::join_all(calls).await {
        assert_eq!(r.unwrap().unwrap(), KNOWN_CUSTOMER);
    }
    assert_eq!(env.token_requests().await.len(), 1);
    assert_eq!(sink.seen.lock().unwrap().len(), 1);
    assert_eq!(env.api_requests().await.len(), 8);
}

#[tokio::test]
async fn token_refreshed_ahead_of_expiry_margin() {
    // A margin larger than the token's lifetime means every call needs a new token: proves the
    // margin is applied (the default 60 s is unit-tested in auth.rs).
    let env = Env::default().await;
    let mut settings = env.settings(PARTNER, AuthMode::AppOnly);
    settings.timeouts.token_refresh_margin = Duration::from_secs(3600);
    let client = env.client_with(
        settings,
        creds(APP, SECRET, None),
        Arc::new(MemoryRefreshTokenSink::default()),
    );
    client.legal_business_profile().await.unwrap();
    client.legal_business_profile().await.unwrap();
    assert_eq!(env.token_requests().await.len(), 2);
}

/// A sink that records, at each persist, the token and how many requests the emulator had logged,
/// and can be told to fail.
struct RecordingSink {
    log_url: String,
    http: reqwest::Client,
    fail: AtomicBool,
    seen: Mutex<Vec<(String, usize)>>,
}

#[async_trait]
impl RefreshTokenSink for RecordingSink {
    async fn persist(&self, new_refresh_token: &SecretString) -> Result<(), String> {
        let log: Vec<Value> = self.http.get(&self.log_url).send().await.unwrap().json().await.unwrap();
        // Hold a moment: a client that did not wait for us would send its API request meanwhile.
        tokio::time::sleep(Duration::from_millis(100)).await;
        if self.fail.load(Ordering::SeqCst) {
            return Err(format!(
                "secret store unavailable (token {} not written)",
                new_refresh_token.expose_secret()
            ));
        }
        self.seen
            .lock()
            .unwrap()
            .push((new_refresh_token.expose_secret().to_string(), log.len()));
        Ok(())
    }
}

impl RecordingSink {
    fn new(env: &Env) -> Arc<RecordingSink> {
        Arc::new(RecordingSink {
            log_url: env.url("/_emulator/requests"),
            http: reqwest::Client::new(),
            fail: AtomicBool::new(false),
            seen: Mutex::new(vec![]),
        })
    }
}

#[tokio::test]
async fn rotated_refresh_token_is_persisted_before_use() {
    let env = Env::default().await;
    let sink = RecordingSink::new(&env);
    let client = env.client_with(
        env.settings(PARTNER, AuthMode::AppPlusUser),
        creds(APP, SECRET, Some(RT)),
        sink.clone(),
    );

    client.organization_profile().await.unwrap();
    let seen = sink.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let (rt1, log_len_at_persist) = &seen[0];
    assert_ne!(rt1, RT, "a refresh grant returns a new refresh token");
    let log = env.requests().await;
    let token_pos = log
        .iter()
        .position(|r| r["path"].as_str().unwrap().ends_with("/oauth2/token"))
        .unwrap();
    let api_pos = log
        .iter()
        .position(|r| r["path"] == "/v1/profiles/organization")
        .unwrap();
    // At persist time the token request was logged and the API request was not.
    assert_eq!(*log_len_at_persist, token_pos + 1);
    assert!(api_pos >= *log_len_at_persist, "API request after persist: {log:?}");

    // Access token expires server-side (emulator clock) → 401 → one re-auth → rotation again.
    env.advance(3700).await;
    client.mpn_profile().await.unwrap();
    let seen = sink.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_ne!(seen[1].0, seen[0].0);

    // The persisted token works for a new client; the superseded initial one no longer does.
    let latest = seen[1].0.clone();
    let fresh = env.client_with(
        env.settings(PARTNER, AuthMode::AppPlusUser),
        creds(APP, SECRET, Some(&latest)),
        Arc::new(MemoryRefreshTokenSink::default()),
    );
    fresh.organization_profile().await.unwrap();
    let stale = env.user_client().0;
    let err = stale.organization_profile().await.unwrap_err();
    assert_eq!(err.reason(), "ConsentExpired", "{err}");
    assert_no_secrets(&err.to_string(), &[&latest]);
}

#[tokio::test]
async fn persist_failure_sends_nothing_with_the_new_token() {
    let env = Env::default().await;
    let sink = RecordingSink::new(&env);
    sink.fail.store(true, Ordering::SeqCst);
    let client = env.client_with(
        env.settings(PARTNER, AuthMode::AppPlusUser),
        creds(APP, SECRET, Some(RT)),
        sink.clone(),
    );

    let err = client.organization_profile().await.unwrap_err();
    assert_eq!(err.reason(), "PersistFailed", "{err}");
    assert!(matches!(err, PartnerCenterError::PersistFailed { .. }));
    assert!(
        err.to_string().contains("[redacted]"),
        "the sink's text is kept, the token is not: {err}"
    );
    assert_eq!(env.token_requests().await.len(), 1);
    assert!(
        env.api_requests().await.is_empty(),
        "no API request with an unpersisted token"
    );
    let err2 = client.token_claims().await.unwrap_err();
    assert_eq!(err2.reason(), "PersistFailed");
    assert!(env.api_requests().await.is_empty());

    // Once the store recovers, the newest in-memory token rotates again and is persisted: nothing lost
    // even with strict rotation.
    sink.fail.store(false, Ordering::SeqCst);
    client.organization_profile().await.unwrap();
    assert_eq!(sink.seen.lock().unwrap().len(), 1);
    assert_eq!(env.api_requests().await.len(), 1);
}

#[tokio::test]
async fn retry_5xx_then_success_reuses_request_id() {
    let env = Env::default().await;
    let client = env.app_client();
    client.token_claims().await.unwrap();
    env.clear_requests().await;
    env.fault("/v1/customers", json!({"kind": "status", "status": 503}), Some(2))
        .await;
    let c = client.get_customer(KNOWN_CUSTOMER).await.unwrap();
    assert_eq!(c.id, KNOWN_CUSTOMER);
    let api = env.api_requests().await;
    let statuses: Vec<u64> = api.iter().map(|r| r["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, vec![503, 503, 200]);
    let rids: std::collections::HashSet<_> = api.iter().map(|r| header(r, "MS-RequestId").unwrap()).collect();
    assert_eq!(rids.len(), 1, "MS-RequestId reused across retries");
    assert!(api.iter().all(|r| header(r, "MS-CorrelationId").is_some()));

    // Persistent 5xx: first attempt + 3 retries, then a typed error.
    env.clear_requests().await;
    env.fault("/v1/customers", json!({"kind": "status", "status": 500}), None)
        .await;
    let err = client.get_customer(KNOWN_CUSTOMER).await.unwrap_err();
    assert_eq!(err.reason(), "ServerError", "{err}");
    assert_eq!(env.api_requests().await.len(), 4);
}

#[tokio::test]
async fn network_errors_are_retried() {
    let env = Env::default().await;
    let client = env.app_client();
    client.token_claims().await.unwrap();
    env.clear_requests().await;
    env.fault("/v1/customers", json!({"kind": "dropConnection"}), Some(1))
        .await;
    assert_eq!(client.get_customer(KNOWN_CUSTOMER).await.unwrap().id, KNOWN_CUSTOMER);
    let api = env.api_requests().await;
    assert_eq!(api.len(), 2, "{api:?}");
    assert!(api[0]["status"].is_null(), "first attempt dropped");
    assert_eq!(api[0]["requestId"], api[1]["requestId"]);

    env.fault("/v1/customers", json!({"kind": "dropConnection"}), None)
        .await;
    let err = client.get_customer(KNOWN_CUSTOMER).await.unwrap_err();
    assert_eq!(err.reason(), "NetworkError", "{err}");
}

#[tokio::test]
async fn four_xx_is_not_retried() {
    let env = Env::default().await;
    let client = env.app_client();
    client.token_claims().await.unwrap();
    let cases: Vec<(u16, &str)> = vec![
        (400, "RequestRejected"),
        (403, "Forbidden"),
        (404, "NotFound"),
        (409, "RequestRejected"),
    ];
    for (status, reason) in cases {
        env.clear_requests().await;
        env.fault("/v1/customers", json!({"kind": "status", "status": status}), Some(5))
            .await;
        let err = client.get_customer(KNOWN_CUSTOMER).await.unwrap_err();
        assert_eq!(err.reason(), reason, "{status}: {err}");
        assert_eq!(env.api_requests().await.len(), 1, "{status} not retried");
        env.http.delete(env.url("/_emulator/faults")).send().await.unwrap();
    }
    // A real 404 from the API.
    env.clear_requests().await;
    let err = client
        .get_customer("c0000000-0000-4000-8000-00000000ffff")
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "NotFound", "{err}");
    assert_eq!(env.api_requests().await.len(), 1);
}

#[tokio::test]
async fn unauthorized_triggers_exactly_one_reauthentication() {
    let env = Env::default().await;
    let client = env.app_client();
    client.get_customer(KNOWN_CUSTOMER).await.unwrap();
    env.clear_requests().await;

    // Expired server-side (emulator clock); the local cache still thinks it is fresh.
    env.advance(3700).await;
    client.get_customer(KNOWN_CUSTOMER).await.unwrap();
    let api = env.api_requests().await;
    let statuses: Vec<u64> = api.iter().map(|r| r["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, vec![401, 200]);
    assert_eq!(api[0]["requestId"], api[1]["requestId"]);
    assert_eq!(env.token_requests().await.len(), 1);

    // A 401 that never goes away: one re-auth, then a typed error; no loop.
    env.clear_requests().await;
    env.fault("/v1/customers", json!({"kind": "status", "status": 401}), None)
        .await;
    let err = client.get_customer(KNOWN_CUSTOMER).await.unwrap_err();
    assert_eq!(err.reason(), "Unauthorized", "{err}");
    assert_eq!(env.api_requests().await.len(), 2);
    assert_eq!(env.token_requests().await.len(), 1);
}

#[tokio::test]
async fn throttling_waits_retry_after() {
    let env = Env::default().await;
    let client = env.app_client();
    client.token_claims().await.unwrap();
    env.clear_requests().await;
    env.fault(
        "/v1/customers",
        json!({"kind": "throttle", "retryAfterSeconds": 1}),
        Some(1),
    )
    .await;
    let started = std::time::Instant::now();
    client.get_customer(KNOWN_CUSTOMER).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    let api = env.api_requests().await;
    let statuses: Vec<u64> = api.iter().map(|r| r["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, vec![429, 200]);
    let t = |r: &Value| r["time"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap();
    let gap = t(&api[1]).duration_since(t(&api[0]));
    assert!(
        gap >= jiff::SignedDuration::from_secs(1),
        "no call before Retry-After elapsed: {gap:?}"
    );
    assert_eq!(api[0]["requestId"], api[1]["requestId"]);

    // Retry-After above the client's max in-line wait: typed Throttled at once, for the caller to requeue.
    env.clear_requests().await;
    env.fault(
        "/v1/customers",
        json!({"kind": "throttle", "retryAfterSeconds": 57}),
        Some(1),
    )
    .await;
    let err = client.get_customer(KNOWN_CUSTOMER).await.unwrap_err();
    assert_eq!(
        err,
        PartnerCenterError::Throttled {
            retry_after: Some(Duration::from_secs(57))
        }
    );
    assert_eq!(err.reason(), "Throttled");
    assert_eq!(env.api_requests().await.len(), 1);

    // Throttled every time: bounded retries (default 2), then Throttled.
    env.clear_requests().await;
    env.fault(
        "/v1/customers",
        json!({"kind": "throttle", "retryAfterSeconds": 0}),
        None,
    )
    .await;
    let err = client.get_customer(KNOWN_CUSTOMER).await.unwrap_err();
    assert_eq!(err.reason(), "Throttled");
    assert_eq!(env.api_requests().await.len(), 3);
}

#[tokio::test]
async fn timeouts_and_malformed_bodies() {
    let env = Env::default().await;
    let mut settings = env.settings(PARTNER, AuthMode::AppOnly);
    settings.timeouts.request = Duration::from_millis(300);
    settings.timeouts.max_retries = 1;
    let client = env.client_with(
        settings,
        creds(APP, SECRET, None),
        Arc::new(MemoryRefreshTokenSink::default()),
    );
    client.token_claims().await.unwrap();

    env.fault("/v1/customers", json!({"kind": "delay", "millis": 2000}), Some(1))
        .await;
    // The first attempt times out, the retry succeeds.
    assert_eq!(client.get_customer(KNOWN_CUSTOMER).await.unwrap().id, KNOWN_CUSTOMER);
    env.fault("/v1/customers", json!({"kind": "delay", "millis": 2000}), None)
        .await;
    let err = client.get_customer(KNOWN_CUSTOMER).await.unwrap_err();
    assert_eq!(err.reason(), "Timeout", "{err}");
    env.http.delete(env.url("/_emulator/faults")).send().await.unwrap();

    env.fault("/v1/customers", json!({"kind": "malformed"}), Some(1)).await;
    let err = client.get_customer(KNOWN_CUSTOMER).await.unwrap_err();
    assert_eq!(err.reason(), "DecodeError", "{err}");
}

#[tokio::test]
async fn token_error_kinds() {
    let env = Env::default().await;
    let sink = || Arc::new(MemoryRefreshTokenSink::default()) as Arc<dyn RefreshTokenSink>;
    let user = |tenant: &str, app: &str, secret: &str, rt: &str| {
        env.client_with(
            env.settings(tenant, AuthMode::AppPlusUser),
            creds(app, secret, Some(rt)),
            sink(),
        )
    };
    let app_only = |tenant: &str, app: &str, secret: &str| {
        env.client_with(
            env.settings(tenant, AuthMode::AppOnly),
            creds(app, secret, None),
            sink(),
        )
    };

    let mut errors: Vec<(String, PartnerCenterError)> = vec![];
    let mut expect = |name: &str, err: PartnerCenterError, reason: &str| {
        assert_eq!(err.reason(), reason, "{name}: {err}");
        errors.push((name.to_string(), err));
    };

    expect(
        "wrong secret",
        app_only(PARTNER, APP, "not-the-secret-0000")
            .token_claims()
            .await
            .unwrap_err(),
        "InvalidClientSecret",
    );
    expect(
        "app of another tenant",
        app_only(PARTNER, OTHER_APP, OTHER_SECRET)
            .token_claims()
            .await
            .unwrap_err(),
        "WrongTenantOrClient",
    );
    expect(
        "refresh token of another client",
        user(OTHER_PARTNER, OTHER_APP, OTHER_SECRET, RT)
            .token_claims()
            .await
            .unwrap_err(),
        "WrongTenantOrClient",
    );
    // No MFA claim: Entra issues the token, Partner Center refuses it with 401/900421; not re-authenticated.
    env.clear_requests().await;
    let no_mfa = user(PARTNER, APP, SECRET, NO_MFA_RT);
    assert!(!no_mfa.token_claims().await.unwrap().has_mfa());
    expect(
        "user without MFA",
        no_mfa.organization_profile().await.unwrap_err(),
        "MfaRequired",
    );
    assert_eq!(env.api_requests().await.len(), 1, "900421 is not cured by a new token");
    assert_eq!(env.token_requests().await.len(), 1);

    // Revoked consent.
    env.post(
        "/_emulator/refresh-tokens/revoke",
        json!({"tenantId": PARTNER, "upn": "admin@contosoeu.onmicrosoft.com"}),
    )
    .await;
    expect(
        "revoked",
        user(PARTNER, APP, SECRET, RT).organization_profile().await.unwrap_err(),
        "ConsentRevoked",
    );

    // Expired after 90 idle days: a fresh consent, then the clock moves past its lifetime.
    let fresh = env
        .post(
            "/_emulator/refresh-tokens",
            json!({"tenantId": PARTNER, "upn": "admin@contosoeu.onmicrosoft.com", "clientId": APP}),
        )
        .await;
    let fresh_rt = fresh["refreshToken"].as_str().unwrap().to_string();
    env.advance(91 * 24 * 3600).await;
    let err = user(PARTNER, APP, SECRET, &fresh_rt)
        .organization_profile()
        .await
        .unwrap_err();
    assert_no_secrets(&err.to_string(), &[&fresh_rt]);
    expect("expired", err, "ConsentExpired");

    for (name, err) in &errors {
        assert_no_secrets(&err.to_string(), &[]);
        assert_no_secrets(&format!("{err:?}"), &[]);
        assert!(err.needs_credentials_fix(), "{name}");
        assert!(!err.is_transient(), "{name}");
    }
}

#[tokio::test]
async fn token_endpoint_5xx_is_retried() {
    let env = Env::default().await;
    let client = env.app_client();
    env.fault(
        &format!("/{PARTNER}/oauth2/token"),
        json!({"kind": "status", "status": 503}),
        Some(2),
    )
    .await;
    client.token_claims().await.unwrap();
    let statuses: Vec<u64> = env
        .token_requests()
        .await
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, vec![503, 503, 200]);
}

#[tokio::test]
async fn domains_customers_and_resellers() {
    let env = Env::default().await;
    let client = env.app_client();
    assert!(
        !client.domain_available("fabrikam.onmicrosoft.com").await.unwrap(),
        "taken"
    );
    assert!(
        client.domain_available("free-name-4711.onmicrosoft.com").await.unwrap(),
        "free"
    );
    let err = client.domain_available("bad/domain").await.unwrap_err();
    assert!(err.to_string().contains("domain"), "{err}");

    let full = client.get_customer(KNOWN_CUSTOMER).await.unwrap();
    assert_eq!(full.domain(), Some("fabrikam.onmicrosoft.com"));
    assert_eq!(full.relationship_to_partner.as_deref(), Some("reseller"));

    // Create is idempotent on MS-RequestId.
    let new = new_customer("wingtip4711.onmicrosoft.com", "Wingtip Toys");
    let before = client.count_customers().await.unwrap();
    let request_id = uuid::Uuid::new_v4();
    let a = client.create_customer(&new, request_id).await.unwrap();
    let b = client.create_customer(&new, request_id).await.unwrap();
    assert_eq!(a.id, b.id, "same MS-RequestId → same customer");
    assert!(!a.id.is_empty());
    assert_eq!(client.count_customers().await.unwrap(), before + 1);
    assert!(!client.domain_available("wingtip4711.onmicrosoft.com").await.unwrap());
    let posts: Vec<Value> = env
        .api_requests()
        .await
        .into_iter()
        .filter(|r| r["method"] == "POST")
        .collect();
    assert!(
        posts
            .iter()
            .all(|r| header(r, "MS-RequestId") == Some(request_id.to_string().as_str()))
    );

    // Indirect provider: resellers (App+User).
    let provider = env.client_with(
        env.settings(PROVIDER, AuthMode::AppPlusUser),
        creds(PROVIDER_APP, PROVIDER_SECRET, Some(PROVIDER_RT)),
        Arc::new(MemoryRefreshTokenSink::default()),
    );
    let resellers = provider.indirect_resellers().await.unwrap();
    assert_eq!(resellers.len(), 2);
    assert!(resellers.iter().all(|r| r.is_active()));
    assert!(resellers.iter().any(|r| r.location.as_deref() == Some("NZ")));
    // A direct-bill partner has none.
    assert!(env.user_client().0.indirect_resellers().await.unwrap().is_empty());
}

#[tokio::test]
async fn sandbox_quota_is_typed() {
    let env = Env::start(DEFAULT_SETTINGS, 74).await;
    let client = env.app_client();
    assert_eq!(client.count_customers().await.unwrap(), 75);
    let new = new_customer("onetoomany.onmicrosoft.com", "One Too Many");
    let err = client.create_customer(&new, uuid::Uuid::new_v4()).await.unwrap_err();
    assert_eq!(err.reason(), "SandboxLimitReached", "{err}");
}

/// A customer to create: its domain and company name; the rest is a valid US billing profile.
fn new_customer(domain: &str, company_name: &str) -> NewCustomer {
    NewCustomer {
        company_profile: NewCompanyProfile {
            domain: domain.into(),
            organization_registration_number: None,
        },
        billing_profile: NewBillingProfile {
            email: format!("it@{domain}"),
            culture: "en-US".into(),
            language: "en".into(),
            company_name: company_name.into(),
            default_address: Address {
                first_name: Some("Gena".into()),
                last_name: Some("Soto".into()),
                address_line1: Some("1 Microsoft Way".into()),
                city: Some("Redmond".into()),
                state: Some("WA".into()),
                postal_code: Some("98052".into()),
                country: Some("US".into()),
                phone_number: Some("4255550101".into()),
                ..Default::default()
            },
        },
        associated_partner_id: None,
        enable_gdap_by_default: Some(false),
    }
}

#[tokio::test]
async fn consent_flow_against_the_emulator() {
    let env = Env::default().await;
    let settings = env.settings(PARTNER, AuthMode::AppPlusUser);
    let flow = ConsentFlow::new(&settings, APP).unwrap();
    let state = new_state();
    let redirect = "http://127.0.0.1:9/callback";
    let url = flow.authorize_url(
        redirect,
        &state,
        Some("consent"),
        Some("admin@contosoeu.onmicrosoft.com"),
    );
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = no_redirects.get(url).send().await.unwrap();
    assert!(resp.status().is_redirection(), "{}", resp.status());
    let location = Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(redirect));
    let code = code_from_redirect(location.query().unwrap_or(""), &state).unwrap();
    assert_eq!(
        code_from_redirect(location.query().unwrap(), "other-state")
            .unwrap_err()
            .reason(),
        "InvalidConfiguration"
    );

    let result = flow
        .redeem(code.expose_secret(), redirect, &SecretString::from(SECRET.to_string()))
        .await
        .unwrap();
    assert_eq!(result.claims.tid.as_deref(), Some(PARTNER));
    assert!(result.claims.has_mfa());
    assert!(!format!("{result:?}").contains(result.refresh_token.expose_secret()));

    // The redeemed refresh token drives an App+User client.
    let client = env.client_with(
        settings.clone(),
        creds(APP, SECRET, Some(result.refresh_token.expose_secret())),
        Arc::new(MemoryRefreshTokenSink::default()),
    );
    assert_eq!(
        client.organization_profile().await.unwrap().tenant_id.as_deref(),
        Some(PARTNER)
    );

    // A code is single-use.
    let err = flow
        .redeem(code.expose_secret(), redirect, &SecretString::from(SECRET.to_string()))
        .await
        .unwrap_err();
    assert!(
        err.needs_credentials_fix() || err.reason() == "TokenRequestFailed",
        "{err}"
    );
    assert_no_secrets(&err.to_string(), &[code.expose_secret()]);
}

#[tokio::test]
async fn debug_and_display_never_show_secrets() {
    let env = Env::default().await;
    let settings = env.settings(PARTNER, AuthMode::AppPlusUser);
    let credentials = creds(APP, SECRET, Some(RT));
    let (client, sink) = env.user_client();
    client.organization_profile().await.unwrap();
    let rotated = sink.latest().unwrap();
    let text = format!(
        "{settings:?} {credentials:?} {client:?} {:?}",
        client.token_claims().await.unwrap()
    );
    assert_no_secrets(&text, &[rotated.expose_secret()]);
    assert!(text.contains(APP), "the client id is not secret and helps debugging");
    // The emulator log never sees secrets either (it logs no Authorization or form fields), and the
    // client never puts them in a URL.
    let log = serde_json::to_string(&env.requests().await).unwrap();
    assert_no_secrets(&log, &[rotated.expose_secret()]);
}

#[tokio::test]
async fn bad_settings_are_refused_with_the_field() {
    let env = Env::default().await;
    let cases: Vec<(ConnectionSettings, Credentials, &str)> = vec![
        (
            env.settings("", AuthMode::AppOnly),
            creds(APP, SECRET, None),
            "partnerTenantId",
        ),
        (
            env.settings(PARTNER, AuthMode::AppPlusUser),
            creds(APP, SECRET, None),
            "refreshToken",
        ),
        (
            env.settings(PARTNER, AuthMode::AppOnly),
            creds("", SECRET, None),
            "clientId",
        ),
        (
            env.settings(PARTNER, AuthMode::AppOnly),
            creds(APP, "", None),
            "clientSecret",
        ),
    ];
    for (settings, credentials, field) in cases {
        let err =
            PartnerCenterClient::new(settings, credentials, Arc::new(MemoryRefreshTokenSink::default())).unwrap_err();
        assert_eq!(err.reason(), "InvalidConfiguration");
        assert!(err.to_string().contains(field), "{err} names {field}");
    }
}

impl Env {
    fn provider_client(&self) -> PartnerCenterClient {
        self.client_with(
            self.settings(PROVIDER, AuthMode::AppPlusUser),
            creds(PROVIDER_APP, PROVIDER_SECRET, Some(PROVIDER_RT)),
            Arc::new(MemoryRefreshTokenSink::default()),
        )
    }

    /// How many customers with exactly `domain` the emulator holds for `partner` (the test kit's
    /// client of its control API).
    async fn customers_at_emulator(&self, partner: &str, domain: &str) -> usize {
        pco_test_kit::EmulatorControl::new(&self.emu)
            .customers(partner, Some(domain))
            .await
            .unwrap()
            .len()
    }

    async fn clear_faults(&self) {
        pco_test_kit::EmulatorControl::new(&self.emu)
            .clear_faults()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn customers_by_domain_keeps_only_the_exact_domain_among_prefix_matches() {
    let env = Env::default().await;
    let client = env.provider_client();
    // The emulator's prefix filter matches contoso.com, contoso.com.au and contoso.community.
    let cases: [(&str, &[&str]); 5] = [
        ("contoso.com", &["c0000000-0000-4000-8000-00000000d001"]),
        ("CONTOSO.COM", &["c0000000-0000-4000-8000-00000000d001"]),
        ("contoso.com.au", &["c0000000-0000-4000-8000-00000000d002"]),
        ("contoso.co", &[]),
        ("nobody.onmicrosoft.com", &[]),
    ];
    for (domain, want) in cases {
        let got: Vec<String> = client
            .customers_by_domain(domain)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(got, want, "{domain}");
    }
    let lookups: Vec<Value> = env
        .api_requests()
        .await
        .into_iter()
        .filter(|r| r["path"] == "/v1/customers")
        .collect();
    assert_eq!(lookups.len(), 5, "one list request per lookup");
    let query = lookups[0]["query"].as_str().unwrap();
    let params: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    assert_eq!(params["size"], "0");
    let filter: Value = serde_json::from_str(&params["filter"]).unwrap();
    assert_eq!(
        filter,
        json!({"Field": "Domain", "Value": "contoso.com", "Operator": "starts_with"})
    );
    let err = client.customers_by_domain("contoso.com\"}").await.unwrap_err();
    assert!(err.to_string().contains("domain"), "{err}");
}

fn address(state: &str, postal_code: &str, country: &str) -> AddressToValidate {
    AddressToValidate {
        address_line1: "1 Microsoft Way".into(),
        address_line2: None,
        city: "Redmond".into(),
        state: Some(state.into()),
        postal_code: postal_code.into(),
        country: country.into(),
    }
}

#[tokio::test]
async fn address_validation_and_country_rules_against_the_emulator() {
    let env = Env::default().await;
    let client = env.app_client();
    let invalid = |code: u32, reason: &str, corrected: Option<AddressToValidate>| AddressValidation::Invalid {
        code: Some(code),
        reason: reason.into(),
        corrected,
    };
    let cases = [
        (address("WA", "98052", "US"), AddressValidation::Valid),
        (address("Anywhere", "10117", "DE"), AddressValidation::Valid),
        (
            address("NY", "98052", "US"),
            invalid(60071, "ZipCityInvalid", Some(address("WA", "98052", "US"))),
        ),
        (address("WA", "00000", "US"), invalid(60071, "ZipCityInvalid", None)),
        (address("XX", "98052", "US"), invalid(60072, "StateInvalid", None)),
        (address("ON", "12345", "CA"), invalid(60073, "PostalCodeInvalid", None)),
    ];
    for (a, want) in cases {
        assert_eq!(client.validate_address(&a).await.unwrap(), want, "{a:?}");
    }
    // A malformed request is an error naming Partner Center's code, not an invalid address.
    let mut no_city = address("WA", "98052", "US");
    no_city.city.clear();
    let err = client.validate_address(&no_city).await.unwrap_err();
    assert_eq!((err.reason(), err.code()), ("RequestRejected", Some(3000)), "{err}");

    let de = client.country_rules("de").await.unwrap();
    assert_eq!(de.iso2, "DE");
    assert_eq!(de.default_culture.as_deref(), Some("de-DE"));
    assert!(!de.state_required);
    let us = client.country_rules("US").await.unwrap();
    assert!(us.state_required);
    assert_eq!(us.postal_code_regex.as_deref(), Some(r"^\d{5}(-\d{4})?$"));
    assert!(us.supported_cultures.contains(&"en-US".to_string()));
    let unknown = client.country_rules("ZZ").await.unwrap_err();
    assert_eq!(
        (unknown.reason(), unknown.code()),
        ("NotFound", Some(1000)),
        "{unknown}"
    );
    let bad = client.country_rules("USA").await.unwrap_err();
    assert!(bad.to_string().contains("country"), "{bad}");
}

/// The answer of every attempt is lost after the emulator created the tenant: the client reports
/// an unknown outcome (not a plain network error), every retry carried the caller's MS-RequestId,
/// and the tenant exists exactly once — which a domain lookup then finds.
#[tokio::test]
async fn a_lost_create_response_is_outcome_unknown_and_the_tenant_exists_once() {
    let env = Env::default().await;
    let client = env.app_client();
    let cases = [
        (
            json!({"kind": "dropConnection", "after": true}),
            "lostdrop1.onmicrosoft.com",
            "NetworkError",
        ),
        (
            json!({"kind": "delay", "millis": 1500, "after": true}),
            "lostdelay1.onmicrosoft.com",
            "Timeout",
        ),
    ];
    for (fault, domain, cause) in cases {
        let client = if cause == "Timeout" {
            let mut settings = env.settings(PARTNER, AuthMode::AppOnly);
            settings.timeouts.request = Duration::from_millis(300);
            env.client_with(
                settings,
                creds(APP, SECRET, None),
                Arc::new(MemoryRefreshTokenSink::default()),
            )
        } else {
            env.app_client()
        };
        client.token_claims().await.unwrap();
        env.clear_requests().await;
        env.fault("/v1/customers", fault, None).await;
        let request_id = uuid::Uuid::new_v4();
        let err = client
            .create_customer(&new_customer(domain, "Lost Answer"), request_id)
            .await
            .unwrap_err();
        env.clear_faults().await;
        assert!(err.is_outcome_unknown(), "{cause}: {err:?}");
        assert_eq!(err.reason(), "OutcomeUnknown");
        assert!(err.is_transient());
        assert!(format!("{err}").contains("look it up"), "{err}");
        let PartnerCenterError::OutcomeUnknown { cause: inner, .. } = &err else {
            unreachable!()
        };
        assert_eq!(inner.reason(), cause, "{err}");
        assert_no_secrets(&format!("{err} {err:?}"), &[]);
        let posts: Vec<Value> = env
            .api_requests()
            .await
            .into_iter()
            .filter(|r| r["method"] == "POST")
            .collect();
        assert_eq!(posts.len(), 4, "{cause}: first attempt + 3 retries");
        assert!(
            posts
                .iter()
                .all(|r| header(r, "MS-RequestId") == Some(request_id.to_string().as_str())),
            "{cause}: every retry reuses the caller's request id"
        );
        assert_eq!(env.customers_at_emulator(PARTNER, domain).await, 1, "{cause}");
        let found = client.customers_by_domain(domain).await.unwrap();
        assert_eq!(found.len(), 1, "{cause}: the lookup finds the tenant");
        // Creating again with the same request id answers the same customer and creates none.
        let again = env
            .app_client()
            .create_customer(&new_customer(domain, "Lost Answer"), request_id)
            .await
            .unwrap();
        assert_eq!(again.id, found[0].id, "{cause}");
        assert_eq!(env.customers_at_emulator(PARTNER, domain).await, 1, "{cause}");
    }
    // A definite refusal stays what it is.
    let taken = client
        .create_customer(
            &new_customer("lostdrop1.onmicrosoft.com", "Again"),
            uuid::Uuid::new_v4(),
        )
        .await
        .unwrap_err();
    assert!(!taken.is_outcome_unknown(), "{taken:?}");
}

#[tokio::test]
async fn a_create_retried_with_the_same_request_id_creates_once() {
    let env = Env::default().await;
    let client = env.app_client();
    client.token_claims().await.unwrap();
    env.clear_requests().await;
    env.fault(
        "/v1/customers",
        json!({"kind": "dropConnection", "after": true}),
        Some(1),
    )
    .await;
    let request_id = uuid::Uuid::new_v4();
    let created = client
        .create_customer(&new_customer("retried1.onmicrosoft.com", "Retried"), request_id)
        .await
        .unwrap();
    assert_eq!(created.domain(), Some("retried1.onmicrosoft.com"));
    let posts: Vec<Value> = env
        .api_requests()
        .await
        .into_iter()
        .filter(|r| r["method"] == "POST")
        .collect();
    assert_eq!(posts.len(), 2, "dropped once, answered on the retry");
    assert!(posts[0]["status"].is_null());
    assert_eq!(posts[1]["status"], 201);
    assert!(
        posts
            .iter()
            .all(|r| header(r, "MS-RequestId") == Some(request_id.to_string().as_str()))
    );
    assert_eq!(env.customers_at_emulator(PARTNER, "retried1.onmicrosoft.com").await, 1);
    let dbg = format!("{created:?}");
    let password = created
        .user_credentials
        .as_ref()
        .and_then(|c| c.password.as_ref())
        .expect("the create response carries the initial password")
        .expose_secret()
        .to_string();
    assert!(!dbg.contains(&password), "{dbg}");
}

/// Creation refusals keep Partner Center's numeric code, and none is mistaken for an unknown outcome.
#[tokio::test]
async fn creation_refusals_expose_the_partner_center_code() {
    let env = Env::default().await;
    let client = env.app_client();
    let with = |domain: &str, edit: &dyn Fn(&mut NewCustomer)| {
        let mut n = new_customer(domain, "Refused");
        edit(&mut n);
        n
    };
    let country = |c: &'static str| {
        move |n: &mut NewCustomer| {
            n.billing_profile.default_address.country = Some(c.into());
            n.billing_profile.default_address.state = None;
            n.billing_profile.default_address.postal_code = Some("12345".into());
        }
    };
    let cases: Vec<(&str, NewCustomer, &str, u64)> = vec![
        (
            "RU without registration number",
            with("refru1.onmicrosoft.com", &country("RU")),
            "RequestRejected",
            600049,
        ),
        (
            "US with a registration number",
            with("refus1.onmicrosoft.com", &|n| {
                n.company_profile.organization_registration_number = Some("123".into())
            }),
            "RequestRejected",
            600002,
        ),
        (
            "IN without phone",
            with("refin1.onmicrosoft.com", &|n| {
                country("IN")(n);
                n.billing_profile.default_address.phone_number = None;
            }),
            "RequestRejected",
            600051,
        ),
    ];
    for (name, new, reason, code) in cases {
        let err = client.create_customer(&new, uuid::Uuid::new_v4()).await.unwrap_err();
        assert_eq!((err.reason(), err.code()), (reason, Some(code)), "{name}: {err}");
        assert!(!err.is_outcome_unknown(), "{name}");
        assert!(err.to_string().contains(&code.to_string()), "{name}: {err}");
    }
    env.post(
        &format!("/_emulator/partners/{PARTNER}"),
        json!({"sellCountries": ["DE"]}),
    )
    .await;
    let err = client
        .create_customer(
            &new_customer("refsell1.onmicrosoft.com", "Refused"),
            uuid::Uuid::new_v4(),
        )
        .await
        .unwrap_err();
    assert_eq!((err.reason(), err.code()), ("Forbidden", Some(2030)), "{err}");
    env.post(
        &format!("/_emulator/partners/{PARTNER}"),
        json!({"customerCreationAllowed": false}),
    )
    .await;
    let err = client
        .create_customer(
            &new_customer("refblock1.onmicrosoft.com", "Refused"),
            uuid::Uuid::new_v4(),
        )
        .await
        .unwrap_err();
    assert_eq!((err.reason(), err.code()), ("Forbidden", Some(600006)), "{err}");
}

#[tokio::test]
async fn delete_customer_only_in_the_sandbox() {
    let env = Env::default().await;
    let sandbox = env.app_client();
    let created = sandbox
        .create_customer(
            &new_customer("deleteme1.onmicrosoft.com", "Delete Me"),
            uuid::Uuid::new_v4(),
        )
        .await
        .unwrap();
    sandbox.delete_customer(&created.id).await.unwrap();
    let gone = sandbox.get_customer(&created.id).await.unwrap_err();
    assert_eq!(gone.reason(), "NotFound", "{gone}");
    assert_eq!(env.customers_at_emulator(PARTNER, "deleteme1.onmicrosoft.com").await, 0);

    let production = env.client_with(
        env.settings(OTHER_PARTNER, AuthMode::AppOnly),
        creds(OTHER_APP, OTHER_SECRET, None),
        Arc::new(MemoryRefreshTokenSink::default()),
    );
    let kept = production
        .create_customer(
            &new_customer("keepme1.onmicrosoft.com", "Keep Me"),
            uuid::Uuid::new_v4(),
        )
        .await
        .unwrap();
    let err = production.delete_customer(&kept.id).await.unwrap_err();
    assert_eq!((err.reason(), err.code()), ("Forbidden", Some(600006)), "{err}");
    assert_eq!(
        env.customers_at_emulator(OTHER_PARTNER, "keepme1.onmicrosoft.com")
            .await,
        1
    );
    let err = sandbox.delete_customer("..").await.unwrap_err();
    assert!(err.to_string().contains("customer id"), "{err}");
}

/// The next issue's calls (adoption and the Microsoft Customer Agreement) against the emulator.
#[tokio::test]
async fn adoption_agreements_and_reseller_customers() {
    use partner_center_operator::partner_center::models::{AgreementContact, AgreementOutcome, NewAgreement};
    let env = Env::default().await;
    let provider = env.provider_client();
    let url = provider.relationship_request_url().await.unwrap();
    assert!(url.starts_with("https://admin.microsoft.com/"), "{url}");
    assert!(url.contains(&format!("partnerId={PROVIDER}")), "{url}");

    // Before the tenant accepts, Partner Center does not know it as a customer; afterwards it does.
    let adopted = "c0000000-0000-4000-8000-00000000e001";
    assert_eq!(provider.get_customer(adopted).await.unwrap_err().reason(), "NotFound");
    env.post(
        &format!("/_emulator/partners/{PROVIDER}/invitations/accept"),
        json!({"tenantId": adopted, "domain": "adopted1.onmicrosoft.com", "companyName": "Adopted"}),
    )
    .await;
    let got = provider.get_customer(adopted).await.unwrap();
    assert_eq!(got.domain(), Some("adopted1.onmicrosoft.com"));
    assert_eq!(
        provider
            .customers_by_domain("adopted1.onmicrosoft.com")
            .await
            .unwrap()
            .len(),
        1
    );

    let templates = provider.agreement_templates().await.unwrap();
    assert_eq!(templates.len(), 1);
    assert_eq!(
        templates[0].agreement_type.as_deref(),
        Some("MicrosoftCustomerAgreement")
    );
    let new = NewAgreement {
        primary_contact: AgreementContact {
            first_name: "Gena".into(),
            last_name: "Soto".into(),
            email: "gena@adopted1.example".into(),
            phone_number: None,
        },
        template_id: templates[0].template_id.clone(),
        date_agreed: "2026-12-01T00:00:00Z".into(),
        agreement_type: "MicrosoftCustomerAgreement".into(),
    };
    let AgreementOutcome::Recorded(first) = provider.record_agreement(adopted, &new).await.unwrap() else {
        panic!("the first record is new");
    };
    assert_eq!(first.template_id.as_deref(), Some(templates[0].template_id.as_str()));
    assert!(first.user_id.is_some(), "the user comes from the token");
    assert_eq!(
        provider.record_agreement(adopted, &new).await.unwrap(),
        AgreementOutcome::AlreadyRecorded,
        "600061 is success"
    );
    let recorded = provider.customer_agreements(adopted).await.unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        recorded[0].primary_contact.as_ref().map(|c| c.email.as_str()),
        Some("gena@adopted1.example")
    );
    let bad = NewAgreement {
        template_id: "not-a-template".into(),
        ..new.clone()
    };
    let err = provider.record_agreement(adopted, &bad).await.unwrap_err();
    assert_eq!(err.code(), Some(3000), "{err}");

    // Customers of one indirect reseller (the IndirectReseller filter).
    let reseller = "484e548c-0000-4000-8000-000000000001";
    let mut for_reseller = new_customer("resold1.onmicrosoft.com", "Resold");
    for_reseller.associated_partner_id = Some(reseller.into());
    let created = provider
        .create_customer(&for_reseller, uuid::Uuid::new_v4())
        .await
        .unwrap();
    assert_eq!(created.relationship_to_partner.as_deref(), Some("reseller"));
    assert_eq!(created.associated_partner_id.as_deref(), Some(reseller));
    let resold: Vec<String> = provider
        .customers_of_reseller(reseller)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(resold, vec![created.id]);
    assert!(
        provider
            .customers_of_reseller("484e548c-0000-4000-8000-000000000002")
            .await
            .unwrap()
            .is_empty()
    );
}
