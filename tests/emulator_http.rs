//! The emulator over raw HTTP (reqwest), checked against the documented behaviour of Partner Center
//! and Entra ID. Deliberately not through the project's client.

use std::collections::HashSet;

use partner_center_emulator::{EmulatorConfig, Fixtures, RunningEmulator, start};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

const DIRECT: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const DIRECT_APP: &str = "aaaaaaaa-1111-4000-8000-000000000001";
const DIRECT_SECRET: &str = "secret-direct-app";
const PROVIDER: &str = "bbbbbbbb-0000-4000-8000-000000000002";
const PROVIDER_APP: &str = "bbbbbbbb-1111-4000-8000-000000000002";
const PROVIDER_SECRET: &str = "secret-provider-app";
const RESELLER: &str = "eeeeeeee-0000-4000-8000-000000000003";
const RESELLER_APP: &str = "eeeeeeee-1111-4000-8000-000000000003";
const RESELLER_SECRET: &str = "secret-reseller-app";
const PC: &str = "https://api.partnercenter.microsoft.com";

const BASIC: &str = include_str!("fixtures/emulator-basic.yaml");

struct Emu {
    run: RunningEmulator,
    http: Client,
}

impl Emu {
    async fn new(yaml: &str) -> Emu {
        let fixtures = Fixtures::from_yaml(yaml).expect("test fixtures are valid");
        let run = start(EmulatorConfig {
            fixtures,
            bind: "127.0.0.1:0".parse().unwrap(),
        })
        .await
        .expect("emulator starts");
        partner_center_operator::tls::install_crypto_provider();
        let http = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Emu { run, http }
    }

    async fn basic() -> Emu {
        Emu::new(BASIC).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.run.base_url())
    }

    /// Token endpoint call; returns status and JSON.
    async fn token(&self, authority: &str, v2: bool, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let path = if v2 { "oauth2/v2.0/token" } else { "oauth2/token" };
        let resp = self
            .http
            .post(self.url(&format!("/{authority}/{path}")))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap())
    }

    async fn app_token(&self, tenant: &str, app: &str, secret: &str) -> String {
        let (status, body) = self
            .token(
                tenant,
                false,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", app),
                    ("client_secret", secret),
                    ("resource", PC),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    /// (access token, new refresh token) from a v1 refresh_token grant.
    async fn user_token(&self, tenant: &str, app: &str, secret: &str, rt: &str) -> (String, String) {
        let (status, body) = self.refresh(tenant, app, secret, rt).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        (
            body["access_token"].as_str().unwrap().into(),
            body["refresh_token"].as_str().unwrap().into(),
        )
    }

    async fn refresh(&self, tenant: &str, app: &str, secret: &str, rt: &str) -> (StatusCode, Value) {
        self.token(
            tenant,
            false,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", app),
                ("client_secret", secret),
                ("refresh_token", rt),
                ("resource", PC),
                ("scope", "openid"),
            ],
        )
        .await
    }

    async fn direct_user(&self) -> String {
        self.user_token(DIRECT, DIRECT_APP, DIRECT_SECRET, "rt-direct-admin")
            .await
            .0
    }

    async fn provider_user(&self) -> String {
        self.user_token(PROVIDER, PROVIDER_APP, PROVIDER_SECRET, "rt-provider-admin")
            .await
            .0
    }

    /// Raw call: status, headers, body bytes.
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        (
            resp.status(),
            resp.headers().clone(),
            resp.bytes().await.unwrap().to_vec(),
        )
    }

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let (status, _, body) = self.call(Method::GET, path, Some(token), &[], None).await;
        (status, json_body(&body))
    }

    async fn control(&self, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
        let resp = self
            .http
            .request(method, self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let bytes = resp.bytes().await.unwrap();
        (
            status,
            if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).unwrap()
            },
        )
    }

    async fn requests(&self) -> Vec<Value> {
        let v: Value = self
            .http
            .get(self.url("/_emulator/requests"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v.as_array().unwrap().clone()
    }

    async fn advance(&self, seconds: i64) {
        let (status, _) = self
            .control(Method::POST, "/_emulator/clock/advance", json!({"seconds": seconds}))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
}

fn json_body(bytes: &[u8]) -> Value {
    assert!(!bytes.starts_with(b"\xEF\xBB\xBF"), "BOM present although disabled");
    if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
    }
}

fn jwt_payload(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(1).expect("JWT has three parts");
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[tokio::test]
async fn v1_token_numbers_are_strings_and_v2_numbers_are_integers() {
    let emu = Emu::basic().await;
    let (status, v1) = emu
        .token(
            DIRECT,
            false,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", DIRECT_APP),
                ("client_secret", DIRECT_SECRET),
                ("resource", PC),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for key in ["expires_in", "ext_expires_in", "expires_on", "not_before"] {
        assert!(v1[key].is_string(), "v1 {key} must be a string: {v1}");
    }
    assert_eq!(v1["expires_in"], "3599");
    assert_eq!(v1["resource"], PC);
    assert_eq!(v1["token_type"], "Bearer");
    assert!(
        v1.get("refresh_token").is_none(),
        "client_credentials returns no refresh token"
    );
    let app_claims = jwt_payload(v1["access_token"].as_str().unwrap());
    assert_eq!(app_claims["tid"], DIRECT);
    assert_eq!(app_claims["appid"], DIRECT_APP);
    assert!(
        app_claims.get("roles").is_some() && app_claims.get("amr").is_none(),
        "{app_claims}"
    );

    let (status, v2) = emu
        .token(
            DIRECT,
            true,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", DIRECT_APP),
                ("client_secret", DIRECT_SECRET),
                ("scope", "https://api.partnercenter.microsoft.com/.default"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v2["expires_in"], json!(3599));
    assert!(v2["ext_expires_in"].is_i64());

    let (status, user) = emu
        .token(
            DIRECT,
            true,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", DIRECT_APP),
                ("client_secret", DIRECT_SECRET),
                ("refresh_token", "rt-direct-admin"),
                (
                    "scope",
                    "https://api.partnercenter.microsoft.com/user_impersonation offline_access",
                ),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert!(user["expires_in"].is_i64());
    let claims = jwt_payload(user["access_token"].as_str().unwrap());
    assert_eq!(claims["amr"], json!(["pwd", "mfa"]));
    assert_eq!(claims["upn"], "admin@contosodirect.onmicrosoft.com");
    assert_eq!(claims["aud"], PC);
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3599);
}

#[tokio::test]
async fn refresh_tokens_rotate_and_strict_mode_refuses_the_superseded_one() {
    let emu = Emu::basic().await;
    let (_, rt2) = emu
        .user_token(DIRECT, DIRECT_APP, DIRECT_SECRET, "rt-direct-admin")
        .await;
    assert_ne!(rt2, "rt-direct-admin", "every grant rotates the refresh token");
    let (_, rt3) = emu.user_token(DIRECT, DIRECT_APP, DIRECT_SECRET, &rt2).await;
    assert_ne!(rt3, rt2);
    let (status, err) = emu.refresh(DIRECT, DIRECT_APP, DIRECT_SECRET, &rt2).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"], "invalid_grant");
    assert_eq!(err["error_codes"], json!([700082]));
    assert!(err["error_description"].as_str().unwrap().starts_with("AADSTS700082:"));
    for key in ["timestamp", "trace_id", "correlation_id"] {
        assert!(err[key].is_string(), "Entra error has {key}: {err}");
    }
}

#[tokio::test]
async fn non_strict_rotation_keeps_the_superseded_token_until_its_expiry() {
    let emu = Emu::new(&BASIC.replace("strictRefreshTokenRotation: true", "strictRefreshTokenRotation: false")).await;
    let (_, rt2) = emu
        .user_token(DIRECT, DIRECT_APP, DIRECT_SECRET, "rt-direct-admin")
        .await;
    let (status, _) = emu.refresh(DIRECT, DIRECT_APP, DIRECT_SECRET, "rt-direct-admin").await;
    assert_eq!(status, StatusCode::OK, "old token still valid in non-strict mode");
    // 90 days after the original issue, the superseded token dies while the newest one lives on.
    emu.advance(89 * 86400).await;
    let (_, rt_new) = emu.user_token(DIRECT, DIRECT_APP, DIRECT_SECRET, &rt2).await;
    emu.advance(2 * 86400).await;
    let (status, err) = emu.refresh(DIRECT, DIRECT_APP, DIRECT_SECRET, "rt-direct-admin").await;
    assert_eq!(
        (status, err["error_codes"].clone()),
        (StatusCode::BAD_REQUEST, json!([700082]))
    );
    let (status, _) = emu.refresh(DIRECT, DIRECT_APP, DIRECT_SECRET, &rt_new).await;
    assert_eq!(status, StatusCode::OK, "sliding 90 days from the last issue");
}

#[tokio::test]
async fn revoked_and_expired_refresh_tokens() {
    let emu = Emu::basic().await;
    // Expired: 90 days of inactivity.
    emu.advance(90 * 86400 + 1).await;
    let (status, err) = emu.refresh(DIRECT, DIRECT_APP, DIRECT_SECRET, "rt-direct-admin").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        (err["error"].as_str(), err["error_codes"].clone()),
        (Some("invalid_grant"), json!([700082]))
    );

    // Re-consent through the control API, then revoke.
    let (status, consent) = emu
        .control(
            Method::POST,
            "/_emulator/refresh-tokens",
            json!({"tenantId": DIRECT, "upn": "admin@contosodirect.onmicrosoft.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let fresh = consent["refreshToken"].as_str().unwrap().to_string();
    let (_, rotated) = emu.user_token(DIRECT, DIRECT_APP, DIRECT_SECRET, &fresh).await;
    let (status, revoked) = emu
        .control(
            Method::POST,
            "/_emulator/refresh-tokens/revoke",
            json!({"tenantId": DIRECT, "upn": "admin@contosodirect.onmicrosoft.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(revoked["revoked"].as_u64().unwrap() >= 1);
    let (status, err) = emu.refresh(DIRECT, DIRECT_APP, DIRECT_SECRET, &rotated).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        (err["error"].as_str(), err["error_codes"].clone()),
        (Some("invalid_grant"), json!([50173]))
    );
}

#[tokio::test]
async fn token_endpoint_errors_table() {
    let emu = Emu::basic().await;
    struct Case {
        name: &'static str,
        authority: &'static str,
        form: Vec<(&'static str, &'static str)>,
        status: StatusCode,
        error: &'static str,
        code: u64,
    }
    let cc = |app, secret| {
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", app),
            ("client_secret", secret),
            ("resource", PC),
        ]
    };
    let rt = |app, secret, token| {
        vec![
            ("grant_type", "refresh_token"),
            ("client_id", app),
            ("client_secret", secret),
            ("refresh_token", token),
            ("resource", PC),
        ]
    };
    let cases = vec![
        Case {
            name: "app of tenant B at authority A",
            authority: DIRECT,
            form: cc(PROVIDER_APP, PROVIDER_SECRET),
            status: StatusCode::BAD_REQUEST,
            error: "unauthorized_client",
            code: 700016,
        },
        Case {
            name: "unknown app",
            authority: DIRECT,
            form: cc("00000000-1111-4000-8000-000000000009", "x"),
            status: StatusCode::BAD_REQUEST,
            error: "unauthorized_client",
            code: 700016,
        },
        Case {
            name: "wrong secret",
            authority: DIRECT,
            form: cc(DIRECT_APP, "wrong"),
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            code: 7000215,
        },
        Case {
            name: "refresh token of tenant B at authority A",
            authority: DIRECT,
            form: rt(DIRECT_APP, DIRECT_SECRET, "rt-provider-admin"),
            status: StatusCode::BAD_REQUEST,
            error: "invalid_grant",
            code: 700005,
        },
        Case {
            name: "unknown refresh token",
            authority: DIRECT,
            form: rt(DIRECT_APP, DIRECT_SECRET, "garbage"),
            status: StatusCode::BAD_REQUEST,
            error: "invalid_grant",
            code: 9002313,
        },
        Case {
            name: "missing grant_type",
            authority: DIRECT,
            form: vec![("client_id", DIRECT_APP)],
            status: StatusCode::BAD_REQUEST,
            error: "invalid_request",
            code: 900144,
        },
        Case {
            name: "unsupported grant",
            authority: DIRECT,
            form: vec![
                ("grant_type", "password"),
                ("client_id", DIRECT_APP),
                ("client_secret", DIRECT_SECRET),
            ],
            status: StatusCode::BAD_REQUEST,
            error: "unsupported_grant_type",
            code: 70003,
        },
        Case {
            name: "unknown tenant",
            authority: "99999999-0000-4000-8000-000000000009",
            form: cc(DIRECT_APP, DIRECT_SECRET),
            status: StatusCode::BAD_REQUEST,
            error: "invalid_request",
            code: 90002,
        },
    ];
    for c in cases {
        let (status, body) = emu.token(c.authority, false, &c.form).await;
        assert_eq!(status, c.status, "{}: {body}", c.name);
        assert_eq!(body["error"], c.error, "{}: {body}", c.name);
        assert_eq!(body["error_codes"], json!([c.code]), "{}: {body}", c.name);
    }
}

#[tokio::test]
async fn common_authority_issues_for_the_home_tenant() {
    let emu = Emu::basic().await;
    for authority in ["common", "organizations", "northwinddist.onmicrosoft.com"] {
        let token = emu.app_token(authority, PROVIDER_APP, PROVIDER_SECRET).await;
        assert_eq!(jwt_payload(&token)["tid"], PROVIDER, "{authority}");
    }
}

#[tokio::test]
async fn authorization_code_flow() {
    let emu = Emu::basic().await;
    let resp = emu
        .http
        .get(emu.url("/common/oauth2/authorize"))
        .query(&[
            ("client_id", DIRECT_APP),
            ("response_type", "code"),
            ("redirect_uri", "http://localhost:9999/cb"),
            ("state", "xyz"),
            ("login_hint", "nomfa@contosodirect.onmicrosoft.com"),
            ("resource", PC),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with("http://localhost:9999/cb?"));
    let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "xyz");
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", DIRECT_APP),
        ("client_secret", DIRECT_SECRET),
        ("code", q["code"].as_str()),
        ("resource", PC),
        ("redirect_uri", "http://localhost:9999/cb"),
    ];
    let (status, tokens) = emu.token(DIRECT, false, &form).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(tokens["refresh_token"].is_string());
    let claims = jwt_payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(claims["upn"], "nomfa@contosodirect.onmicrosoft.com");
    assert_eq!(claims["amr"], json!(["pwd"]));
    let (status, again) = emu.token(DIRECT, false, &form).await;
    assert_eq!(
        (status, again["error_codes"].clone()),
        (StatusCode::BAD_REQUEST, json!([54005]))
    );
}

#[tokio::test]
async fn api_authentication_and_authorisation_table() {
    let emu = Emu::basic().await;
    let app = emu.app_token(DIRECT, DIRECT_APP, DIRECT_SECRET).await;
    let user = emu.direct_user().await;
    let (nomfa, _) = emu
        .user_token(DIRECT, DIRECT_APP, DIRECT_SECRET, "rt-direct-nomfa")
        .await;
    let (_, graph) = emu
        .token(
            DIRECT,
            false,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", DIRECT_APP),
                ("client_secret", DIRECT_SECRET),
                ("resource", "https://graph.windows.net"),
            ],
        )
        .await;
    let graph = graph["access_token"].as_str().unwrap().to_string();
    let reseller_app = emu.app_token(RESELLER, RESELLER_APP, RESELLER_SECRET).await;
    let (reseller_user, _) = emu
        .user_token(RESELLER, RESELLER_APP, RESELLER_SECRET, "rt-reseller-admin")
        .await;

    const APP_REFUSED: &str = "This resource can't be accessed by application credentials.";
    #[allow(clippy::type_complexity)] // path, caller, token, status, code, description
    let cases: Vec<(&str, &str, Option<&str>, StatusCode, Option<i64>, Option<&str>)> = vec![
        (
            "/v1/customers?size=1",
            "no token",
            None,
            StatusCode::UNAUTHORIZED,
            Some(800001),
            None,
        ),
        (
            "/v1/customers?size=1",
            "garbage token",
            Some("abc.def.ghi"),
            StatusCode::UNAUTHORIZED,
            Some(800001),
            None,
        ),
        (
            "/v1/customers?size=1",
            "graph audience",
            Some(&graph),
            StatusCode::UNAUTHORIZED,
            Some(900420),
            None,
        ),
        (
            "/v1/customers?size=1",
            "user without mfa",
            Some(&nomfa),
            StatusCode::UNAUTHORIZED,
            Some(900421),
            None,
        ),
        (
            "/v1/profiles/organization",
            "user without mfa",
            Some(&nomfa),
            StatusCode::UNAUTHORIZED,
            Some(900421),
            None,
        ),
        (
            "/v1/customers?size=1",
            "app-only",
            Some(&app),
            StatusCode::OK,
            None,
            None,
        ),
        (
            "/v1/customers?size=1",
            "user",
            Some(user.as_str()),
            StatusCode::OK,
            None,
            None,
        ),
        (
            "/v1/profiles/legalbusiness",
            "app-only",
            Some(&app),
            StatusCode::OK,
            None,
            None,
        ),
        (
            "/v1/profiles/organization",
            "app-only",
            Some(&app),
            StatusCode::FORBIDDEN,
            None,
            Some(APP_REFUSED),
        ),
        (
            "/v1/profiles/mpn",
            "app-only",
            Some(&app),
            StatusCode::FORBIDDEN,
            None,
            Some(APP_REFUSED),
        ),
        (
            "/v1/relationships?relationship_type=IsIndirectCloudSolutionProviderOf",
            "app-only",
            Some(&app),
            StatusCode::FORBIDDEN,
            None,
            Some(APP_REFUSED),
        ),
        (
            "/v1/profiles/organization",
            "user",
            Some(&user),
            StatusCode::OK,
            None,
            None,
        ),
        (
            "/v1/customers?size=1",
            "indirect reseller app",
            Some(&reseller_app),
            StatusCode::FORBIDDEN,
            None,
            None,
        ),
        (
            "/v1/profiles/organization",
            "indirect reseller user",
            Some(&reseller_user),
            StatusCode::FORBIDDEN,
            None,
            None,
        ),
    ];
    for (path, who, token, status, code, description) in cases {
        let (got, headers, body) = emu.call(Method::GET, path, token, &[], None).await;
        let body = json_body(&body);
        assert_eq!(got, status, "{path} as {who}: {body}");
        if let Some(code) = code {
            assert_eq!(body["code"], json!(code), "{path} as {who}: {body}");
            assert_eq!(body["source"], "PartnerFD");
            assert!(body["data"].is_array());
        }
        if let Some(d) = description {
            assert_eq!(body["description"], d, "{path} as {who}");
        }
        if got == StatusCode::UNAUTHORIZED && code == Some(800001) {
            assert!(
                headers.contains_key("www-authenticate"),
                "{path} as {who}: 401 carries WWW-Authenticate"
            );
        }
    }
}

#[tokio::test]
async fn access_tokens_expire_with_the_emulator_clock() {
    let emu = Emu::basic().await;
    let token = emu.app_token(DIRECT, DIRECT_APP, DIRECT_SECRET).await;
    assert_eq!(emu.get("/v1/customers?size=1", &token).await.0, StatusCode::OK);
    emu.advance(3600).await;
    let (status, headers, body) = emu
        .call(Method::GET, "/v1/customers?size=1", Some(&token), &[], None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{}", String::from_utf8_lossy(&body));
    assert!(headers.contains_key("www-authenticate"));
    let fresh = emu.app_token(DIRECT, DIRECT_APP, DIRECT_SECRET).await;
    assert_eq!(emu.get("/v1/customers?size=1", &fresh).await.0, StatusCode::OK);
}

#[tokio::test]
async fn profiles_have_the_documented_shape_and_never_say_sandbox_or_partner_type() {
    let emu = Emu::basic().await;
    let user = emu.direct_user().await;
    let (status, org) = emu.get("/v1/profiles/organization", &user).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(org["id"], DIRECT);
    assert_eq!(org["tenantId"], DIRECT);
    assert_eq!(org["companyName"], "Contoso Direct");
    assert_eq!(org["domain"], "contosodirect.onmicrosoft.com");
    assert_eq!(org["defaultAddress"]["country"], "DE");
    assert_eq!(org["defaultAddress"]["city"], "Berlin");
    assert_eq!(org["profileType"], "OrganizationProfile");
    assert_eq!(org["links"]["self"]["uri"], "/profiles/organization");
    assert_eq!(org["attributes"]["objectType"], "OrganizationProfile");
    assert!(org["attributes"]["etag"].is_string());
    for key in ["email", "language", "culture"] {
        assert!(org[key].is_string(), "{key}");
    }

    let (_, legal) = emu
        .get("/v1/profiles/legalbusiness?vettingVersion=Current", &user)
        .await;
    assert_eq!(legal["profileType"], "LegalBusinessProfile");
    assert_eq!(legal["address"]["country"], "DE");
    assert_eq!(legal["vettingStatus"], "authorized");
    let (_, mpn) = emu.get("/v1/profiles/mpn", &user).await;
    assert_eq!(
        mpn,
        json!({"mpnId": "1111111", "partnerName": "Contoso Direct", "profileType": "MpnProfile", "links": mpn["links"], "attributes": {"objectType": "MpnProfile"}})
    );
    let (_, other) = emu.get("/v1/profiles/mpn?mpnId=2222222", &user).await;
    assert_eq!(other["partnerName"], "Northwind Distribution");
    let (status, missing) = emu.get("/v1/profiles/mpn?mpnId=9999", &user).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["code"], json!(3000));
    assert_eq!(
        missing["description"],
        "Partner Organization with partner_id 9999 could not be found"
    );

    // The sandbox indirect provider: nothing in any body names its type or sandbox status.
    let provider = emu.provider_user().await;
    for path in [
        "/v1/profiles/organization",
        "/v1/profiles/legalbusiness",
        "/v1/profiles/mpn",
        "/v1/customers?size=500",
        "/v1/relationships?relationship_type=IsIndirectCloudSolutionProviderOf",
    ] {
        let (status, _, body) = emu.call(Method::GET, path, Some(&provider), &[], None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let text = String::from_utf8_lossy(&body).to_lowercase();
        for word in [
            "sandbox",
            "partnertype",
            "partner_type",
            "indirectprovider",
            "directbill",
        ] {
            assert!(!text.contains(word), "{path} reveals {word}");
        }
    }
}

#[tokio::test]
async fn seek_paging_over_1200_customers() {
    let emu = Emu::basic().await;
    let token = emu.app_token(DIRECT, DIRECT_APP, DIRECT_SECRET).await;
    let mut ids = HashSet::new();
    let mut sizes = Vec::new();
    let mut next_uris = Vec::new();
    let (status, mut page) = emu.get("/v1/customers?size=600", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        page["links"]["self"]["uri"], "/v1/customers?size=500",
        "page size capped at 500"
    );
    loop {
        let items = page["items"].as_array().unwrap();
        sizes.push(items.len());
        assert_eq!(
            page["totalCount"],
            json!(items.len()),
            "totalCount is the page's item count"
        );
        assert_eq!(page["attributes"]["objectType"], "Collection");
        for item in items {
            assert!(ids.insert(item["id"].as_str().unwrap().to_string()), "duplicate id");
        }
        let Some(next) = page["links"].get("next") else {
            assert!(page.get("continuationToken").is_none());
            break;
        };
        let uri = next["uri"].as_str().unwrap().to_string();
        let header = &next["headers"][0];
        assert_eq!(header["key"], "MS-ContinuationToken");
        assert_eq!(header["value"], page["continuationToken"]);
        next_uris.push(uri.clone());
        let path = if uri.starts_with("/v1/") {
            uri.clone()
        } else {
            format!("/v1{uri}")
        };
        let (status, _, body) = emu
            .call(
                Method::GET,
                &path,
                Some(&token),
                &[("MS-ContinuationToken", header["value"].as_str().unwrap())],
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        page = json_body(&body);
    }
    assert_eq!(sizes, vec![500, 500, 200]);
    assert_eq!(ids.len(), 1200);
    assert_eq!(
        next_uris,
        vec![
            "/v1/customers?size=500&seekOperation=Next",
            "/customers?size=500&seekOperation=Next"
        ]
    );

    // Exactly full last page: a next link is advertised and following it gives 400/2000.
    let mut page = emu.get("/v1/customers?size=400", &token).await.1;
    let mut pages = 1;
    let end = loop {
        let token_value = page["continuationToken"]
            .as_str()
            .expect("full pages advertise a next page")
            .to_string();
        let (status, _, body) = emu
            .call(
                Method::GET,
                "/v1/customers?size=400&seekOperation=Next",
                Some(&token),
                &[("MS-ContinuationToken", &token_value)],
                None,
            )
            .await;
        if status != StatusCode::OK {
            break (status, json_body(&body));
        }
        page = json_body(&body);
        pages += 1;
    };
    assert_eq!(pages, 3);
    assert_eq!(end.0, StatusCode::BAD_REQUEST);
    assert_eq!(end.1["code"], json!(2000));

    // Next without the header, and with a token that is not ours.
    let (status, missing) = emu.get("/v1/customers?size=400&seekOperation=Next", &token).await;
    assert_eq!(
        (status, missing["code"].clone()),
        (StatusCode::BAD_REQUEST, json!(2000))
    );
}

#[tokio::test]
async fn list_items_lack_billing_fields_that_get_by_id_has() {
    let emu = Emu::basic().await;
    let token = emu.app_token(DIRECT, DIRECT_APP, DIRECT_SECRET).await;
    let (_, page) = emu.get("/v1/customers?size=5", &token).await;
    let item = &page["items"][0];
    assert_eq!(item["id"], "cccccccc-0000-4000-8000-000000000001");
    assert_eq!(item["companyProfile"]["domain"], "fabrikam.onmicrosoft.com");
    assert_eq!(
        item["companyProfile"]["attributes"]["objectType"],
        "CustomerCompanyProfile"
    );
    assert_eq!(item["relationshipToPartner"], "reseller");
    assert_eq!(item["attributes"]["objectType"], "Customer");
    for absent in [
        "billingProfile",
        "commerceId",
        "allowDelegatedAccess",
        "associatedPartnerId",
    ] {
        assert!(item.get(absent).is_none(), "list item must not carry {absent}");
    }
    let (status, full) = emu
        .get("/v1/customers/cccccccc-0000-4000-8000-000000000001", &token)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(full["commerceId"].is_string());
    assert_eq!(
        full["billingProfile"]["attributes"]["objectType"],
        "CustomerBillingProfile"
    );
    assert!(full["billingProfile"]["defaultAddress"]["country"].is_string());
    assert!(full["companyProfile"]["address"].is_object());
    assert_eq!(
        full["links"]["self"]["uri"],
        "/customers/cccccccc-0000-4000-8000-000000000001"
    );
    assert!(full["allowDelegatedAccess"].is_boolean());

    // Filter by company name prefix (size=0 as the SDK sends it).
    let filter =
        url::form_urlencoded::byte_serialize(br#"{"Field":"CompanyName","Value":"fabri","Operator":"starts_with"}"#)
            .collect::<String>();
    let (_, filtered) = emu.get(&format!("/v1/customers?size=0&filter={filter}"), &token).await;
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1);

    let provider = emu.app_token(PROVIDER, PROVIDER_APP, PROVIDER_SECRET).await;
    let (status, other) = emu
        .get("/v1/customers/cccccccc-0000-4000-8000-000000000001", &provider)
        .await;
    assert_eq!((status, other["code"].clone()), (StatusCode::FORBIDDEN, json!(20002)));
    let (status, _) = emu
        .get("/v1/customers/12345678-0000-4000-8000-000000000000", &token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn domain_availability_is_head_200_taken_404_free() {
    let emu = Emu::basic().await;
    let token = emu.app_token(DIRECT, DIRECT_APP, DIRECT_SECRET).await;
    for (domain, want) in [
        ("fabrikam.onmicrosoft.com", StatusCode::OK),
        ("FABRIKAM.onmicrosoft.com", StatusCode::OK),
        ("northwinddist.onmicrosoft.com", StatusCode::OK),
        ("unused-name-42.onmicrosoft.com", StatusCode::NOT_FOUND),
    ] {
        let (status, _, body) = emu
            .call(Method::HEAD, &format!("/v1/domains/{domain}"), Some(&token), &[], None)
            .await;
        assert_eq!(status, want, "{domain}");
        assert!(body.is_empty());
    }
}

#[tokio::test]
async fn relationships_only_for_the_indirect_provider() {
    let emu = Emu::basic().await;
    let path = "/v1/relationships?relationship_type=IsIndirectCloudSolutionProviderOf";
    let (_, provider) = emu.get(path, &emu.provider_user().await).await;
    assert_eq!(provider["totalCount"], json!(1));
    let r = &provider["items"][0];
    assert_eq!(r["id"], "dddddddd-0000-4000-8000-000000000001");
    assert_eq!(r["relationshipType"], "is_indirect_cloud_solution_provider_of");
    assert_eq!(r["state"], "Active");
    assert_eq!(r["location"], "NZ");
    assert_eq!(r["mpnId"], "4847383");
    assert_eq!(r["attributes"]["objectType"], "PartnerRelationship");
    let (status, direct) = emu.get(path, &emu.direct_user().await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(direct["items"], json!([]));
    assert_eq!(direct["totalCount"], json!(0));
}

fn new_customer(domain: &str) -> Value {
    json!({"companyProfile":{"domain": domain},
      "billingProfile":{"email":"it@wingtip.com","culture":"en-US","language":"en","companyName":"Wingtip Toys",
        "defaultAddress":{"firstName":"Gena","lastName":"Soto","addressLine1":"1 Microsoft Way","city":"Redmond",
          "state":"WA","postalCode":"98052","country":"US","phoneNumber":"4255550101"}}})
}

#[tokio::test]
async fn create_customer_is_idempotent_per_request_id_and_accepts_pascal_case() {
    let emu = Emu::basic().await;
    let token = emu.app_token(DIRECT, DIRECT_APP, DIRECT_SECRET).await;
    let rid = [("MS-RequestId", "11111111-2222-4333-8444-555555555555")];
    let (status, _, first) = emu
        .call(
            Method::POST,
            "/v1/customers",
            Some(&token),
            &rid,
            Some(new_customer("wingtip123.onmicrosoft.com")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let first = json_body(&first);
    assert!(first["commerceId"].is_string());
    assert_eq!(first["relationshipToPartner"], "none");
    assert_eq!(first["userCredentials"]["userName"], "admin");
    let (status, _, second) = emu
        .call(
            Method::POST,
            "/v1/customers",
            Some(&token),
            &rid,
            Some(new_customer("wingtip123.onmicrosoft.com")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(json_body(&second)["id"], first["id"], "same request id, same customer");
    let id = first["id"].as_str().unwrap();
    let (status, got) = emu.get(&format!("/v1/customers/{id}"), &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["companyProfile"]["domain"], "wingtip123.onmicrosoft.com");
    let (_, _, after) = emu
        .call(
            Method::HEAD,
            "/v1/domains/wingtip123.onmicrosoft.com",
            Some(&token),
            &[],
            None,
        )
        .await;
    assert!(after.is_empty());

    // A new request id with the same domain: the domain is taken now.
    let (status, _, conflict) = emu
        .call(
            Method::POST,
            "/v1/customers",
            Some(&token),
            &[("MS-RequestId", "99999999-2222-4333-8444-555555555555")],
            Some(new_customer("wingtip123.onmicrosoft.com")),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(json_body(&conflict)["code"], json!(3000));

    let pascal = json!({"CompanyProfile":{"Domain":"pascal1.onmicrosoft.com"},
      "BillingProfile":{"Email":"a@b.c","Culture":"en-US","Language":"en","CompanyName":"Pascal",
        "DefaultAddress":{"FirstName":"A","LastName":"B","AddressLine1":"1 Way","City":"Oslo","Country":"NO"}}});
    let (status, _, body) = emu
        .call(Method::POST, "/v1/customers", Some(&token), &[], Some(pascal))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        json_body(&body)["billingProfile"]["companyName"],
        "Pascal",
        "responses are camelCase"
    );

    let mut missing = new_customer("missing1.onmicrosoft.com");
    missing["billingProfile"]["defaultAddress"]["addressLine1"] = Value::Null;
    let (status, _, body) = emu
        .call(Method::POST, "/v1/customers", Some(&token), &[], Some(missing))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body = json_body(&body);
    assert_eq!(body["code"], json!(3000));
    assert!(
        body["description"]
            .as_str()
            .unwrap()
            .contains("billingProfile.defaultAddress.addressLine1")
    );
}

#[tokio::test]
async fn sandbox_quota_of_75_customers() {
    let emu = Emu::basic().await;
    let token = emu.provider_user().await;
    // 73 fixture customers: two more fit, the third hits the quota.
    for (i, want) in [
        (1, StatusCode::CREATED),
        (2, StatusCode::CREATED),
        (3, StatusCode::BAD_REQUEST),
    ] {
        let (status, _, body) = emu
            .call(
                Method::POST,
                "/v1/customers",
                Some(&token),
                &[],
                Some(new_customer(&format!("quota{i}x.onmicrosoft.com"))),
            )
            .await;
        assert_eq!(status, want, "customer {i}");
        if want == StatusCode::BAD_REQUEST {
            let body = json_body(&body);
            assert_eq!(body["code"], json!(800018));
            assert_eq!(body["description"], "The sandbox limit has been met");
        }
    }
    // The non-sandbox direct partner has no such quota (1200 customers already).
    let direct = emu.app_token(DIRECT, DIRECT_APP, DIRECT_SECRET).await;
    let (status, _, _) = emu
        .call(
            Method::POST,
            "/v1/customers",
            Some(&direct),
            &[],
            Some(new_customer("noquota1.onmicrosoft.com")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn indirect_customer_creation_needs_app_user_and_a_known_reseller() {
    let emu = Emu::basic().await;
    let mut body = new_customer("indirect1.onmicrosoft.com");
    body["associatedPartnerId"] = json!("dddddddd-0000-4000-8000-000000000001");
    let app = emu.app_token(PROVIDER, PROVIDER_APP, PROVIDER_SECRET).await;
    let (status, _, _) = emu
        .call(
            Method::POST,
            "/v1/customers",
            Some(app.as_str()),
            &[],
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let user = emu.provider_user().await;
    let (status, _, created) = emu
        .call(
            Method::POST,
            "/v1/customers",
            Some(user.as_str()),
            &[],
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        json_body(&created)["associatedPartnerId"],
        "dddddddd-0000-4000-8000-000000000001"
    );
    body["associatedPartnerId"] = json!("dddddddd-0000-4000-8000-000000000099");
    body["companyProfile"]["domain"] = json!("indirect2.onmicrosoft.com");
    let (status, _, _) = emu
        .call(Method::POST, "/v1/customers", Some(user.as_str()), &[], Some(body))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn rate_limit_gives_429_with_retry_after_and_its_own_body() {
    let emu = Emu::new(&BASIC.replace("rateLimitPerMinute: 100000", "rateLimitPerMinute: 3")).await;
    let token = emu.app_token(DIRECT, DIRECT_APP, DIRECT_SECRET).await;
    for _ in 0..3 {
        assert_eq!(emu.get("/v1/customers?size=1", &token).await.0, StatusCode::OK);
    }
    let (status, headers, body) = emu
        .call(Method::GET, "/v1/customers?size=1", Some(&token), &[], None)
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry), "{retry}");
    assert_eq!(
        json_body(&body),
        json!({"statusCode": 429, "message": format!("Rate limit is exceeded. Try again in {retry} seconds.")})
    );
    // Another partner tenant has its own bucket.
    let other = emu.app_token(PROVIDER, PROVIDER_APP, PROVIDER_SECRET).await;
    assert_eq!(emu.get("/v1/customers?size=1", &other).await.0, StatusCode::OK);
    // The bucket refills with (emulator) time.
    emu.advance(retry as i64).await;
    assert_eq!(emu.get("/v1/customers?size=1", &token).await.0, StatusCode::OK);
}

#[tokio::test]
async fn bom_prefixes_json_bodies_when_enabled() {
    let emu = Emu::new(&BASIC.replace("bom: false", "bom: true")).await;
    let token = emu.app_token(DIRECT, DIRECT_APP, DIRECT_SECRET).await;
    for path in [
        "/v1/customers?size=1",
        "/v1/profiles/legalbusiness",
        "/v1/customers/12345678-0000-4000-8000-000000000000",
    ] {
        let (_, _, body) = emu.call(Method::GET, path, Some(&token), &[], None).await;
        assert!(body.starts_with(b"\xEF\xBB\xBF"), "{path}");
        let _: Value = serde_json::from_slice(&body[3..]).expect("JSON after the BOM");
    }
}

#[tokio::test]
async fn request_log_records_metadata_and_never_secrets() {
    let emu = Emu::basic().await;
    let (access, new_rt) = emu
        .user_token(DIRECT, DIRECT_APP, DIRECT_SECRET, "rt-direct-admin")
        .await;
    let headers = [
        ("MS-RequestId", "aaaa1111-0000-4000-8000-000000000001"),
        ("MS-CorrelationId", "bbbb2222-0000-4000-8000-000000000002"),
        ("X-Locale", "en-US"),
        ("MS-PartnerCenter-Application", "partner-center-operator"),
        ("MS-Contract-Version", "v1"),
        ("User-Agent", "emulator-test/1.0"),
    ];
    let (status, resp_headers, _) = emu
        .call(Method::GET, "/v1/customers?size=2", Some(&access), &headers, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(resp_headers["ms-requestid"], "aaaa1111-0000-4000-8000-000000000001");
    assert_eq!(resp_headers["ms-correlationid"], "bbbb2222-0000-4000-8000-000000000002");

    let log = emu.requests().await;
    let api = log
        .iter()
        .find(|e| e["path"] == "/v1/customers")
        .expect("API call logged");
    assert_eq!(api["method"], "GET");
    assert_eq!(api["query"], "size=2");
    assert_eq!(api["tenantId"], DIRECT);
    assert_eq!(api["status"], json!(200));
    assert_eq!(api["requestId"], "aaaa1111-0000-4000-8000-000000000001");
    assert_eq!(api["correlationId"], "bbbb2222-0000-4000-8000-000000000002");
    assert_eq!(api["userAgent"], "emulator-test/1.0");
    assert_eq!(api["headers"]["X-Locale"], "en-US");
    assert_eq!(
        api["headers"]["MS-PartnerCenter-Application"],
        "partner-center-operator"
    );
    assert_eq!(api["headers"]["MS-Contract-Version"], "v1");
    let login = log
        .iter()
        .find(|e| e["path"] == format!("/{DIRECT}/oauth2/token"))
        .expect("login logged");
    assert_eq!(login["tenantId"], DIRECT);
    assert_eq!(login["status"], json!(200));

    let text = serde_json::to_string(&log).unwrap();
    for secret in [
        DIRECT_SECRET,
        "rt-direct-admin",
        new_rt.as_str(),
        access.as_str(),
        "Bearer",
    ] {
        assert!(!text.contains(secret), "request log leaks {secret}");
    }
    assert!(!text.to_lowercase().contains("authorization"));

    let since = log.last().unwrap()["seq"].as_u64().unwrap();
    emu.get("/v1/profiles/legalbusiness", &access).await;
    let v: Value = emu
        .http
        .get(emu.url(&format!("/_emulator/requests?since={since}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    let (status, _) = emu.control(Method::DELETE, "/_emulator/requests", Value::Null).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(emu.requests().await.is_empty());
}

#[tokio::test]
async fn faults_table() {
    let emu = Emu::basic().await;
    let token = emu.app_token(DIRECT, DIRECT_APP, DIRECT_SECRET).await;
    enum Want {
        Throttled(u64),
        Status(u16),
        Delayed(u64),
        Malformed,
        Dropped,
    }
    let cases = [
        (json!({"kind": "throttle", "retryAfterSeconds": 7}), Want::Throttled(7)),
        (json!({"kind": "status", "status": 503}), Want::Status(503)),
        (json!({"kind": "delay", "millis": 300}), Want::Delayed(300)),
        (json!({"kind": "malformed"}), Want::Malformed),
        (json!({"kind": "dropConnection"}), Want::Dropped),
    ];
    for (fault, want) in cases {
        let (status, created) = emu
            .control(Method::POST, "/_emulator/faults", json!({"match": {"tenantId": DIRECT, "pathPrefix": "/v1/customers", "method": "GET"}, "fault": fault, "count": 1}))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        assert!(created["id"].is_u64());
        // A non-matching request is untouched and does not consume the fault.
        assert_eq!(emu.get("/v1/profiles/legalbusiness", &token).await.0, StatusCode::OK);
        let started = std::time::Instant::now();
        let result = emu
            .http
            .get(emu.url("/v1/customers?size=1"))
            .bearer_auth(&token)
            .send()
            .await;
        match want {
            Want::Throttled(n) => {
                let resp = result.unwrap();
                assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
                assert_eq!(resp.headers()["retry-after"], n.to_string().as_str());
                assert_eq!(resp.json::<Value>().await.unwrap()["statusCode"], json!(429));
            }
            Want::Status(s) => {
                let resp = result.unwrap();
                assert_eq!(resp.status().as_u16(), s);
                assert_eq!(resp.json::<Value>().await.unwrap()["code"], json!(s));
            }
            Want::Delayed(ms) => {
                assert_eq!(result.unwrap().status(), StatusCode::OK);
                assert!(
                    started.elapsed() >= std::time::Duration::from_millis(ms),
                    "delay applied before handling"
                );
            }
            Want::Malformed => {
                let resp = result.unwrap();
                assert_eq!(resp.status(), StatusCode::OK);
                assert!(serde_json::from_slice::<Value>(&resp.bytes().await.unwrap()).is_err());
            }
            Want::Dropped => {
                let err = match result {
                    Err(e) => e,
                    Ok(resp) => resp.bytes().await.expect_err("connection must be dropped"),
                };
                assert!(!err.is_status(), "{err}");
            }
        }
        // count: 1 — the next matching request is handled normally.
        assert_eq!(emu.get("/v1/customers?size=1", &token).await.0, StatusCode::OK);
    }
    let log = emu.requests().await;
    let kinds: Vec<&str> = log.iter().filter_map(|e| e["fault"].as_str()).collect();
    assert_eq!(
        kinds,
        vec!["throttle", "status", "delay", "malformed", "dropConnection"]
    );
    assert!(
        log.iter()
            .any(|e| e["fault"] == "dropConnection" && e["status"].is_null())
    );

    // Faults apply to login paths too, and stay until cleared without a count.
    emu.control(
        Method::POST,
        "/_emulator/faults",
        json!({"match": {"pathPrefix": "/common/oauth2"}, "fault": {"kind": "status", "status": 500}}),
    )
    .await;
    for _ in 0..2 {
        let (status, body) = emu
            .token(
                "common",
                false,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", DIRECT_APP),
                    ("client_secret", DIRECT_SECRET),
                    ("resource", PC),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"], "temporarily_unavailable");
    }
    let (status, _) = emu.control(Method::DELETE, "/_emulator/faults", Value::Null).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    emu.app_token("common", DIRECT_APP, DIRECT_SECRET).await;

    let (status, err) = emu
        .control(Method::POST, "/_emulator/faults", json!({"fault": {"kind": "explode"}}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err["error"].as_str().unwrap().contains("explode"));
}

#[tokio::test]
async fn partner_patch_changes_behaviour() {
    let emu = Emu::basic().await;
    let (status, _) = emu
        .control(Method::POST, &format!("/_emulator/partners/{DIRECT}"), json!({"users": [{"upn": "admin@contosodirect.onmicrosoft.com", "mfa": false}], "generatedCustomers": 9, "country": "FR"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (no_mfa, _) = emu
        .user_token(DIRECT, DIRECT_APP, DIRECT_SECRET, "rt-direct-admin")
        .await;
    let (status, body) = emu.get("/v1/customers?size=500", &no_mfa).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::UNAUTHORIZED, json!(900421))
    );
    let app = emu.app_token(DIRECT, DIRECT_APP, DIRECT_SECRET).await;
    let (_, page) = emu.get("/v1/customers?size=500", &app).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 10);
    let (_, legal) = emu.get("/v1/profiles/legalbusiness", &app).await;
    assert_eq!(legal["address"]["country"], "FR");
    let (status, err) = emu
        .control(
            Method::POST,
            &format!("/_emulator/partners/{DIRECT}"),
            json!({"users": [{"upn": "ghost@x", "mfa": true}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err["error"].as_str().unwrap().starts_with("users[0].upn"));
    let (status, _) = emu
        .control(
            Method::POST,
            &format!("/_emulator/partners/{DIRECT}"),
            json!({"bogus": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn fixture_errors_name_the_field() {
    let cases = [
        (
            BASIC.replace("tenantId: aaaaaaaa-0000-4000-8000-000000000001", "tenantId: not-a-guid"),
            "partners[0].tenantId",
        ),
        (BASIC.replace("country: NL", "country: nl"), "partners[1].country"),
        (
            BASIC.replace(
                "clientId: bbbbbbbb-1111-4000-8000-000000000002",
                "clientId: aaaaaaaa-1111-4000-8000-000000000001",
            ),
            "partners[1].apps[0].clientId",
        ),
        (
            BASIC.replace("partnerType: IndirectProvider", "partnerType: DirectBill"),
            "partners[1].indirectResellers",
        ),
        (
            BASIC.replace("partnerType: DirectBill", "partnerType: Distributor"),
            "Distributor",
        ),
    ];
    for (yaml, field) in cases {
        let err = Fixtures::from_yaml(&yaml).expect_err(field).to_string();
        assert!(err.contains(field), "{err}");
    }
}

#[tokio::test]
async fn control_healthz_and_shutdown() {
    let emu = Emu::basic().await;
    let resp = emu.http.get(emu.url("/_emulator/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let url = emu.url("/_emulator/healthz");
    let http = emu.http.clone();
    emu.run.shutdown().await;
    assert!(http.get(url).send().await.is_err(), "listener closed after shutdown");
}

// ---- Entra rules real SDKs depend on (Microsoft identity platform documentation) ----

/// Authorize at the emulator (auto-consent) and return the code from the redirect, or the refusal.
async fn authorize(emu: &Emu, params: &[(&str, &str)]) -> Result<String, (StatusCode, Value)> {
    let mut q: Vec<(&str, &str)> = vec![
        ("client_id", DIRECT_APP),
        ("response_type", "code"),
        ("login_hint", "admin@contosodirect.onmicrosoft.com"),
    ];
    q.extend_from_slice(params);
    let resp = emu
        .http
        .get(emu.url(&format!("/{DIRECT}/oauth2/v2.0/authorize")))
        .query(&q)
        .send()
        .await
        .unwrap();
    if resp.status() != StatusCode::FOUND {
        let status = resp.status();
        return Err((status, json_body(&resp.bytes().await.unwrap())));
    }
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned());
    Ok(code.expect("redirect carries a code"))
}

/// (status, error, first AADSTS code) of an Entra error body, checking its whole shape.
fn entra(status: StatusCode, body: &Value) -> (StatusCode, String, u64) {
    let code = body["error_codes"][0]
        .as_u64()
        .unwrap_or_else(|| panic!("error_codes: {body}"));
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.starts_with(&format!("AADSTS{code}:"))),
        "{body}"
    );
    for key in ["timestamp", "trace_id", "correlation_id"] {
        assert!(body[key].is_string(), "Entra error has {key}: {body}");
    }
    (status, body["error"].as_str().unwrap_or_default().to_string(), code)
}

fn pkce_s256(verifier: &str) -> String {
    use base64::Engine;
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

#[tokio::test]
async fn code_redemption_is_bound_to_redirect_uri_and_pkce_table() {
    let emu = Emu::basic().await;
    let verifier = "a-verifier-of-at-least-43-characters-0123456789abcdef";
    let s256 = pkce_s256(verifier);
    let cb = "http://localhost/cb";
    // (row, authorize params, redemption params, expected: Ok or (status, error, AADSTS code))
    type Row<'a> = (
        &'a str,
        Vec<(&'a str, &'a str)>,
        Vec<(&'a str, &'a str)>,
        Option<(u16, &'a str, u64)>,
    );
    let rows: Vec<Row> = vec![
        (
            "S256, right verifier",
            vec![
                ("redirect_uri", cb),
                ("code_challenge", s256.as_str()),
                ("code_challenge_method", "S256"),
            ],
            vec![("redirect_uri", cb), ("code_verifier", verifier)],
            None,
        ),
        (
            "S256, wrong verifier",
            vec![
                ("redirect_uri", cb),
                ("code_challenge", s256.as_str()),
                ("code_challenge_method", "S256"),
            ],
            vec![("redirect_uri", cb), ("code_verifier", "another-verifier")],
            Some((400, "invalid_grant", 501481)),
        ),
        (
            "S256, no verifier",
            vec![
                ("redirect_uri", cb),
                ("code_challenge", s256.as_str()),
                ("code_challenge_method", "S256"),
            ],
            vec![("redirect_uri", cb)],
            Some((400, "invalid_grant", 501481)),
        ),
        (
            "plain, right verifier",
            vec![
                ("redirect_uri", cb),
                ("code_challenge", verifier),
                ("code_challenge_method", "plain"),
            ],
            vec![("redirect_uri", cb), ("code_verifier", verifier)],
            None,
        ),
        (
            "no method means plain",
            vec![("redirect_uri", cb), ("code_challenge", verifier)],
            vec![("redirect_uri", cb), ("code_verifier", s256.as_str())],
            Some((400, "invalid_grant", 501481)),
        ),
        (
            "unknown method",
            vec![
                ("redirect_uri", cb),
                ("code_challenge", verifier),
                ("code_challenge_method", "S512"),
            ],
            vec![],
            Some((400, "invalid_request", 90013)),
        ),
        (
            "another redirect_uri at redemption",
            vec![("redirect_uri", cb)],
            vec![("redirect_uri", "http://localhost/other")],
            Some((400, "invalid_grant", 500112)),
        ),
        (
            "no redirect_uri at redemption",
            vec![("redirect_uri", cb)],
            vec![],
            Some((400, "invalid_request", 900144)),
        ),
        (
            "unregistered redirect_uri",
            vec![("redirect_uri", "https://evil.example/cb")],
            vec![],
            Some((400, "invalid_request", 50011)),
        ),
        (
            "registered path, other path",
            vec![("redirect_uri", "http://localhost/cb/more")],
            vec![],
            Some((400, "invalid_request", 50011)),
        ),
        (
            "https: the port counts",
            vec![("redirect_uri", "https://app.contoso.example:8443/auth")],
            vec![],
            Some((400, "invalid_request", 50011)),
        ),
        (
            "loopback: any port",
            vec![("redirect_uri", "http://localhost:51234/cb")],
            vec![("redirect_uri", "http://localhost:51234/cb")],
            None,
        ),
        (
            "https, exact",
            vec![("redirect_uri", "https://app.contoso.example/auth")],
            vec![("redirect_uri", "https://app.contoso.example/auth")],
            None,
        ),
    ];
    for (row, auth, redeem, want) in rows {
        let outcome = match authorize(&emu, &auth).await {
            Err((status, body)) => Err(entra(status, &body)),
            Ok(code) => {
                let mut form = vec![
                    ("grant_type", "authorization_code"),
                    ("client_id", DIRECT_APP),
                    ("client_secret", DIRECT_SECRET),
                    ("code", code.as_str()),
                    (
                        "scope",
                        "https://api.partnercenter.microsoft.com/user_impersonation offline_access",
                    ),
                ];
                form.extend_from_slice(&redeem);
                let (status, body) = emu.token(DIRECT, true, &form).await;
                if status == StatusCode::OK {
                    assert!(body["access_token"].is_string(), "{row}: {body}");
                    Ok(())
                } else {
                    Err(entra(status, &body))
                }
            }
        };
        let want = want.map(|(s, e, c)| (StatusCode::from_u16(s).unwrap(), e.to_string(), c));
        assert_eq!(outcome.err(), want, "{row}");
    }
}

#[tokio::test]
async fn token_endpoint_entra_rules_table() {
    use base64::Engine;
    let emu = Emu::basic().await;
    let basic = |id: &str, secret: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
        )
    };
    let good = basic(DIRECT_APP, DIRECT_SECRET);
    let wrong = basic(DIRECT_APP, "not-the-secret");
    let other = basic(PROVIDER_APP, PROVIDER_SECRET);
    // (row, v2, Authorization header, form, expected: Ok or (status, error, AADSTS code))
    type Row<'a> = (
        &'a str,
        bool,
        Option<&'a str>,
        Vec<(&'a str, &'a str)>,
        Option<(u16, &'a str, u64)>,
    );
    let cc = |extra: &[(&'static str, &'static str)]| {
        let mut f = vec![("grant_type", "client_credentials")];
        f.extend_from_slice(extra);
        f
    };
    let rows: Vec<Row> = vec![
        (
            "v1 unknown resource",
            false,
            None,
            cc(&[
                ("client_id", DIRECT_APP),
                ("client_secret", DIRECT_SECRET),
                ("resource", "https://unknown.example"),
            ]),
            Some((400, "invalid_resource", 500011)),
        ),
        (
            "v2 unknown resource",
            true,
            None,
            cc(&[
                ("client_id", DIRECT_APP),
                ("client_secret", DIRECT_SECRET),
                ("scope", "https://unknown.example/.default"),
            ]),
            Some((400, "invalid_resource", 500011)),
        ),
        (
            "v1 Partner Center",
            false,
            None,
            cc(&[
                ("client_id", DIRECT_APP),
                ("client_secret", DIRECT_SECRET),
                ("resource", PC),
            ]),
            None,
        ),
        (
            "v1 legacy graph.windows.net still issued (the API refuses it)",
            false,
            None,
            cc(&[
                ("client_id", DIRECT_APP),
                ("client_secret", DIRECT_SECRET),
                ("resource", "https://graph.windows.net"),
            ]),
            None,
        ),
        (
            "HTTP Basic client authentication",
            true,
            Some(good.as_str()),
            cc(&[("scope", "https://api.partnercenter.microsoft.com/.default")]),
            None,
        ),
        (
            "HTTP Basic and client_id in the body",
            false,
            Some(good.as_str()),
            cc(&[("client_id", DIRECT_APP), ("resource", PC)]),
            None,
        ),
        (
            "HTTP Basic, wrong secret",
            true,
            Some(wrong.as_str()),
            cc(&[("scope", "https://api.partnercenter.microsoft.com/.default")]),
            Some((401, "invalid_client", 7000215)),
        ),
        (
            "HTTP Basic of another client than the body's",
            true,
            Some(other.as_str()),
            cc(&[
                ("client_id", DIRECT_APP),
                ("scope", "https://api.partnercenter.microsoft.com/.default"),
            ]),
            Some((401, "invalid_client", 700016)),
        ),
        (
            "no client authentication at all",
            true,
            None,
            cc(&[
                ("client_id", DIRECT_APP),
                ("scope", "https://api.partnercenter.microsoft.com/.default"),
            ]),
            Some((401, "invalid_client", 7000218)),
        ),
    ];
    for (row, v2, auth, form, want) in rows {
        let path = if v2 { "oauth2/v2.0/token" } else { "oauth2/token" };
        let mut req = emu.http.post(emu.url(&format!("/{DIRECT}/{path}"))).form(&form);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let body = json_body(&resp.bytes().await.unwrap());
        let outcome = if status == StatusCode::OK {
            assert!(body["access_token"].is_string(), "{row}: {body}");
            None
        } else {
            Some(entra(status, &body))
        };
        let want = want.map(|(s, e, c)| (StatusCode::from_u16(s).unwrap(), e.to_string(), c));
        assert_eq!(outcome, want, "{row}");
    }
}

#[tokio::test]
async fn v2_refresh_token_only_with_offline_access_table() {
    let emu = Emu::basic().await;
    // (row, v2, scope, refresh token expected)
    let rows = [
        (
            "v2 with offline_access",
            true,
            "https://api.partnercenter.microsoft.com/user_impersonation offline_access",
            true,
        ),
        (
            "v2 without offline_access",
            true,
            "https://api.partnercenter.microsoft.com/user_impersonation",
            false,
        ),
        ("v1 always", false, "openid", true),
    ];
    let mut rt = "rt-direct-admin".to_string();
    for (row, v2, scope, want) in rows {
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("client_id", DIRECT_APP),
            ("client_secret", DIRECT_SECRET),
            ("refresh_token", rt.as_str()),
            ("scope", scope),
        ];
        if !v2 {
            form.push(("resource", PC));
        }
        let (status, body) = emu.token(DIRECT, v2, &form).await;
        assert_eq!(status, StatusCode::OK, "{row}: {body}");
        assert_eq!(body["refresh_token"].is_string(), want, "{row}: {body}");
        if let Some(next) = body["refresh_token"].as_str() {
            rt = next.to_string();
        }
    }
}

#[tokio::test]
async fn default_rotation_is_entras_the_previous_refresh_token_stays_valid() {
    let emu = Emu::new(&BASIC.replace("  strictRefreshTokenRotation: true\n", "")).await;
    let (_, rt2) = emu
        .user_token(DIRECT, DIRECT_APP, DIRECT_SECRET, "rt-direct-admin")
        .await;
    assert_ne!(rt2, "rt-direct-admin", "a new refresh token with every grant");
    let (status, body) = emu.refresh(DIRECT, DIRECT_APP, DIRECT_SECRET, "rt-direct-admin").await;
    assert_eq!(status, StatusCode::OK, "the previous token still works: {body}");
    let (status, _) = emu.refresh(DIRECT, DIRECT_APP, DIRECT_SECRET, &rt2).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn id_token_claims_client_info_and_signatures_verify_with_the_published_keys() {
    use base64::Engine;
    let emu = Emu::basic().await;
    let code = authorize(
        &emu,
        &[("redirect_uri", "http://localhost/cb"), ("nonce", "n-0S6_WzA2Mj")],
    )
    .await
    .unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", DIRECT_APP),
        ("client_secret", DIRECT_SECRET),
        ("code", code.as_str()),
        ("redirect_uri", "http://localhost/cb"),
        ("client_info", "1"),
        (
            "scope",
            "https://api.partnercenter.microsoft.com/user_impersonation openid profile offline_access",
        ),
    ];
    let (status, tokens) = emu.token(DIRECT, true, &form).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let id_token = tokens["id_token"].as_str().expect("openid brings an id_token");
    let claims = jwt_payload(id_token);
    for key in [
        "sub",
        "oid",
        "tid",
        "preferred_username",
        "iss",
        "aud",
        "exp",
        "iat",
        "nbf",
    ] {
        assert!(!claims[key].is_null(), "id_token has {key}: {claims}");
    }
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(claims["aud"], DIRECT_APP);
    assert_eq!(claims["tid"], DIRECT);
    assert_eq!(claims["preferred_username"], "admin@contosodirect.onmicrosoft.com");
    let info: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(
                tokens["client_info"]
                    .as_str()
                    .expect("client_info=1 brings client_info"),
            )
            .unwrap(),
    )
    .unwrap();
    assert_eq!(info, json!({"uid": claims["oid"], "utid": DIRECT}));

    // The discovery document names the keys; both tokens verify with them (ES256).
    let (status, config) = emu
        .get(&format!("/{DIRECT}/v2.0/.well-known/openid-configuration"), "")
        .await;
    assert_eq!(status, StatusCode::OK, "{config}");
    assert_eq!(
        claims["iss"], config["issuer"],
        "id_token issuer is the discovery issuer"
    );
    let jwks_uri = config["jwks_uri"].as_str().unwrap();
    let jwks: Value = emu.http.get(jwks_uri).send().await.unwrap().json().await.unwrap();
    for token in [id_token, tokens["access_token"].as_str().unwrap()] {
        let (input, sig) = token.rsplit_once('.').unwrap();
        let header: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(input.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["alg"], "ES256");
        let key = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == header["kid"])
            .expect("the token's kid is published");
        let d = |k: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(key[k].as_str().unwrap())
                .unwrap()
        };
        let mut point = vec![4u8];
        point.extend(d("x"));
        point.extend(d("y"));
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(sig).unwrap();
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, point)
            .verify(input.as_bytes(), &sig)
            .expect("signature verifies with the published key");
    }
}

#[tokio::test]
async fn openid_discovery_v1_and_v2_table() {
    let emu = Emu::basic().await;
    let base = emu.run.base_url();
    // (path, status, issuer, token endpoint, jwks path)
    let rows = [
        (
            format!("/{DIRECT}/v2.0/.well-known/openid-configuration"),
            200,
            format!("https://login.microsoftonline.com/{DIRECT}/v2.0"),
            format!("{base}/{DIRECT}/oauth2/v2.0/token"),
            format!("{base}/{DIRECT}/discovery/v2.0/keys"),
        ),
        (
            format!("/{DIRECT}/.well-known/openid-configuration"),
            200,
            format!("https://sts.windows.net/{DIRECT}/"),
            format!("{base}/{DIRECT}/oauth2/token"),
            format!("{base}/{DIRECT}/discovery/keys"),
        ),
        (
            "/contosodirect.onmicrosoft.com/v2.0/.well-known/openid-configuration".to_string(),
            200,
            format!("https://login.microsoftonline.com/{DIRECT}/v2.0"),
            format!("{base}/contosodirect.onmicrosoft.com/oauth2/v2.0/token"),
            format!("{base}/contosodirect.onmicrosoft.com/discovery/v2.0/keys"),
        ),
        (
            "/organizations/v2.0/.well-known/openid-configuration".to_string(),
            200,
            "https://login.microsoftonline.com/{tenantid}/v2.0".to_string(),
            format!("{base}/organizations/oauth2/v2.0/token"),
            format!("{base}/organizations/discovery/v2.0/keys"),
        ),
    ];
    for (path, status, issuer, token_endpoint, jwks) in rows {
        let (got, doc) = emu.get(&path, "").await;
        assert_eq!(got.as_u16(), status, "{path}: {doc}");
        assert_eq!(doc["issuer"], issuer, "{path}");
        assert_eq!(doc["token_endpoint"], token_endpoint, "{path}");
        assert_eq!(doc["jwks_uri"], jwks, "{path}");
        assert_eq!(
            doc["authorization_endpoint"],
            token_endpoint.replace("/token", "/authorize"),
            "{path}"
        );
        let (status, keys) = emu.get(jwks.strip_prefix(&base).unwrap(), "").await;
        assert_eq!(status, StatusCode::OK, "{jwks}");
        assert_eq!(keys["keys"][0]["kty"], "EC", "{keys}");
    }
    let (status, body) = emu
        .get(
            "/00000000-dead-4000-8000-000000000000/v2.0/.well-known/openid-configuration",
            "",
        )
        .await;
    assert_eq!(
        entra(status, &body),
        (StatusCode::BAD_REQUEST, "invalid_tenant".into(), 90002)
    );
}

#[tokio::test]
async fn login_paths_answer_entra_shaped_errors_without_bom() {
    // Even with the Partner Center BOM switched on, login paths answer as Entra does.
    let emu = Emu::new(&BASIC.replace("bom: false", "bom: true")).await;
    // (method, path, status, error, AADSTS code)
    let rows = [
        (
            Method::GET,
            format!("/{DIRECT}/oauth2/v2.0/devicecode"),
            404,
            "invalid_request",
            90013,
        ),
        (
            Method::GET,
            format!("/{DIRECT}/oauth2/v2.0/logout"),
            404,
            "invalid_request",
            90013,
        ),
        (
            Method::GET,
            format!("/{DIRECT}/discovery/instance"),
            404,
            "invalid_request",
            90013,
        ),
        (
            Method::GET,
            format!("/{DIRECT}/oauth2/v2.0/token"),
            405,
            "invalid_request",
            900561,
        ),
        (
            Method::GET,
            format!("/{DIRECT}/oauth2/token"),
            405,
            "invalid_request",
            900561,
        ),
    ];
    for (method, path, status, error, code) in rows {
        let (got, _, body) = emu.call(method, &path, None, &[], None).await;
        let body = json_body(&body);
        assert_eq!(
            entra(got, &body),
            (StatusCode::from_u16(status).unwrap(), error.to_string(), code),
            "{path}"
        );
    }
}

#[tokio::test]
async fn api_authenticates_before_not_modelled_and_relationship_requests_table() {
    let emu = Emu::basic().await;
    let user = emu.direct_user().await;
    let app = emu.app_token(DIRECT, DIRECT_APP, DIRECT_SECRET).await;
    // (path, token, status, Partner Center error code if any)
    let rows: [(&str, Option<&str>, u16, Option<i64>); 7] = [
        ("/v1/invoices", None, 401, Some(800001)),
        ("/v1/invoices", Some("not-a-token"), 401, Some(800001)),
        ("/v1/invoices", Some(user.as_str()), 404, Some(1000)),
        ("/v1/customers/relationshiprequests", None, 401, Some(800001)),
        ("/v1/customers/relationshiprequests", Some(app.as_str()), 403, Some(403)),
        ("/v1/customers/relationshiprequests", Some(user.as_str()), 200, None),
        (
            "/v1/customers/cccccccc-0000-4000-8000-000000000001",
            Some(user.as_str()),
            200,
            None,
        ),
    ];
    for (path, token, status, code) in rows {
        let (got, _, body) = emu.call(Method::GET, path, token, &[], None).await;
        let body = json_body(&body);
        assert_eq!(got.as_u16(), status, "{path} {token:?}: {body}");
        assert_eq!(body["code"].as_i64(), code, "{path}: {body}");
    }
    let (_, body) = emu.get("/v1/customers/relationshiprequests", &user).await;
    assert_eq!(body["attributes"]["objectType"], "RelationshipRequest");
    let url = body["url"].as_str().unwrap();
    assert!(
        url.starts_with("https://admin.microsoft.com/Adminportal/Home?invType=ResellerRelationship&partnerId=")
            && url.contains(DIRECT)
            && url.contains("DAP=false"),
        "{url}"
    );
}

#[tokio::test]
async fn tls_listener_with_a_generated_ca_or_certificate_files() {
    use partner_center_emulator::{TlsSource, start_tls};
    partner_center_operator::tls::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let config = || EmulatorConfig {
        fixtures: Fixtures::from_yaml(BASIC).unwrap(),
        bind: "127.0.0.1:0".parse().unwrap(),
    };
    let generated = start_tls(
        config(),
        &TlsSource::SelfSigned {
            dir: dir.path().to_path_buf(),
            hosts: vec!["emulator.dev.svc".into()],
        },
    )
    .await
    .unwrap();
    let ca = std::fs::read(generated.ca_file.as_ref().unwrap()).unwrap();
    // The files the generated mode wrote serve as --tls-cert/--tls-key for a second listener.
    let from_files = start_tls(
        config(),
        &TlsSource::Files {
            cert: dir.path().join("tls.crt"),
            key: dir.path().join("tls.key"),
        },
    )
    .await
    .unwrap();
    assert!(from_files.ca_file.is_none());
    let trusting = Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .build()
        .unwrap();
    for emu in [&generated, &from_files] {
        let base = emu.base_url();
        assert!(base.starts_with("https://127.0.0.1:"), "{base}");
        let resp = trusting.get(format!("{base}/_emulator/healthz")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        // A client that does not trust the CA is refused at the handshake.
        assert!(
            Client::new()
                .get(format!("{base}/_emulator/healthz"))
                .send()
                .await
                .is_err()
        );
    }
    // Bad files: the error names the flag.
    let bad = start_tls(
        config(),
        &TlsSource::Files {
            cert: dir.path().join("tls.crt"),
            key: dir.path().join("ca.pem"),
        },
    )
    .await
    .err()
    .expect("a certificate is not a key");
    assert!(format!("{bad:#}").contains("--tls-key"), "{bad:#}");
}

/// Method, path and JSON body of one request.
type Request = (Method, String, Option<Value>);

const FIRST_UP: &str = "dddddddd-0000-4000-8000-000000000001";

fn us_address(state: &str, postal_code: &str) -> Value {
    json!({"addressLine1": "1 Microsoft Way", "city": "Redmond", "state": state, "postalCode": postal_code, "country": "US"})
}

/// A valid customer body for `country`, with `edit` applied to it.
fn customer_in(domain: &str, country: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let mut v = new_customer(domain);
    v["billingProfile"]["defaultAddress"]["country"] = json!(country);
    v["billingProfile"]["defaultAddress"]["state"] = Value::Null;
    v["billingProfile"]["defaultAddress"]["postalCode"] = json!("12345");
    edit(&mut v);
    v
}

/// Every new provisioning endpoint and creation error code: request → status and Partner Center code.
#[tokio::test]
async fn provisioning_endpoints_and_creation_codes_table() {
    let emu = Emu::basic().await;
    let direct = emu.app_token(DIRECT, DIRECT_APP, DIRECT_SECRET).await;
    let provider = emu.provider_user().await;
    let direct_user = emu.direct_user().await;
    let post = |path: &'static str, body: Value| (Method::POST, path.to_string(), Some(body));
    let get = |path: String| (Method::GET, path, None);
    #[rustfmt::skip]
    let cases: Vec<(&str, &str, Request, u16, Option<i64>)> = vec![
        ("valid US address", &direct, post("/v1/validations/address", us_address("WA", "98052")), 200, None),
        ("ZIP of another state", &direct, post("/v1/validations/address", us_address("NY", "98052")), 400, Some(2007)),
        ("fixture-invalid ZIP", &direct, post("/v1/validations/address", us_address("WA", "00000")), 400, Some(2007)),
        ("unknown US state", &direct, post("/v1/validations/address", us_address("XX", "98052")), 400, Some(2007)),
        ("state not checked in DE", &direct, post("/v1/validations/address", json!({"addressLine1": "Unter den Linden 1", "city": "Berlin", "state": "Anywhere", "postalCode": "10117", "country": "DE"})), 200, None),
        ("address without addressLine1", &direct, post("/v1/validations/address", json!({"city": "Redmond", "postalCode": "98052", "country": "US"})), 400, Some(3000)),
        ("address body not JSON", &direct, post("/v1/validations/address", json!("text")), 400, Some(3000)),
        ("rules for US", &direct, get("/v1/countryvalidationrules/US".into()), 200, None),
        ("rules for an unknown country", &direct, get("/v1/countryvalidationrules/ZZ".into()), 404, Some(1000)),
        ("rules for a non-ISO-2 code", &direct, get("/v1/countryvalidationrules/USA".into()), 400, Some(2000)),
        ("RU without registration number", &direct, post("/v1/customers", customer_in("regru1.onmicrosoft.com", "RU", |_| {})), 400, Some(600049)),
        ("US with a registration number", &direct, post("/v1/customers", customer_in("regus1.onmicrosoft.com", "US", |v| v["companyProfile"]["organizationRegistrationNumber"] = json!("123"))), 400, Some(600002)),
        ("HU registration number of the wrong shape", &direct, post("/v1/customers", customer_in("reghu1.onmicrosoft.com", "HU", |v| v["companyProfile"]["organizationRegistrationNumber"] = json!("12345"))), 400, Some(600050)),
        ("IN without phone number", &direct, post("/v1/customers", customer_in("phonein1.onmicrosoft.com", "IN", |v| v["billingProfile"]["defaultAddress"]["phoneNumber"] = Value::Null)), 400, Some(600051)),
        ("reseller unknown to the provider", &provider, post("/v1/customers", customer_in("badres1.onmicrosoft.com", "NL", |v| v["associatedPartnerId"] = json!("dddddddd-0000-4000-8000-000000000099"))), 400, Some(800016)),
        ("direct partner naming a reseller", &direct_user, post("/v1/customers", customer_in("badres2.onmicrosoft.com", "US", |v| v["associatedPartnerId"] = json!(FIRST_UP))), 400, Some(800016)),
        ("enableGDAPByDefault not a bool", &direct, post("/v1/customers", customer_in("gdapbad1.onmicrosoft.com", "US", |v| v["enableGDAPByDefault"] = json!("no"))), 400, Some(3000)),
        ("delete in production", &direct, (Method::DELETE, "/v1/customers/cccccccc-0000-4000-8000-000000000001".into(), None), 403, Some(600006)),
        ("delete another partner's customer", &provider, (Method::DELETE, "/v1/customers/cccccccc-0000-4000-8000-000000000001".into(), None), 403, Some(20002)),
        ("delete an unknown customer", &provider, (Method::DELETE, "/v1/customers/cccccccc-0000-4000-8000-0000000000ff".into(), None), 404, Some(1000)),
        ("delete with a non-GUID id", &provider, (Method::DELETE, "/v1/customers/not-a-guid".into(), None), 400, Some(2000)),
    ];
    for (name, token, (method, path, body), status, code) in cases {
        let (got, _, bytes) = emu.call(method, &path, Some(token), &[], body).await;
        let body = json_body(&bytes);
        assert_eq!(got.as_u16(), status, "{name}: {body}");
        assert_eq!(body.get("code").and_then(Value::as_i64), code, "{name}: {body}");
    }
}

#[tokio::test]
async fn address_invalid_description_is_json_with_the_corrected_address() {
    let emu = Emu::basic().await;
    let token = emu.app_token(DIRECT, DIRECT_APP, DIRECT_SECRET).await;
    let (status, _, body) = emu
        .call(
            Method::POST,
            "/v1/validations/address",
            Some(&token),
            &[],
            Some(us_address("NY", "98052")),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body = json_body(&body);
    assert_eq!(body["source"], "PartnerFD");
    let inner: Value = serde_json::from_str(body["description"].as_str().unwrap()).unwrap();
    assert_eq!(inner["code"], json!(60071));
    assert_eq!(inner["reason"], "ZipCityInvalid");
    assert_eq!(
        inner["corrected_address"],
        json!({"address_line1": "1 Microsoft Way", "address_line2": null, "city": "Redmond", "state": "WA", "postal_code": "98052", "country": "US"})
    );
    let (status, _, valid) = emu
        .call(
            Method::POST,
            "/v1/validations/address",
            Some(&token),
            &[],
            Some(us_address("WA", "98052")),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(valid.is_empty(), "a valid address answers an empty body");
    let (_, rules) = emu.get("/v1/countryvalidationrules/us", &token).await;
    assert_eq!(rules["iso2Code"], "US");
    assert_eq!(rules["isStateRequired"], true);
    assert!(rules["supportedStatesList"].as_array().unwrap().contains(&json!("WA")));
    assert_eq!(rules["supportedCulturesList"], json!(["en-US", "es-US"]));
    assert_eq!(rules["attributes"]["objectType"], "CountryValidationRules");
}

#[tokio::test]
async fn partner_and_reseller_conditions_refuse_creation_with_their_codes() {
    let emu = Emu::basic().await;
    let direct = emu.app_token(DIRECT, DIRECT_APP, DIRECT_SECRET).await;
    let provider = emu.provider_user().await;
    let create = |token: String, body: Value| {
        let emu = &emu;
        async move {
            let (status, _, bytes) = emu
                .call(Method::POST, "/v1/customers", Some(&token), &[], Some(body))
                .await;
            (status.as_u16(), json_body(&bytes)["code"].as_i64())
        }
    };
    let (s, _) = emu
        .control(
            Method::POST,
            &format!("/_emulator/partners/{DIRECT}"),
            json!({"sellCountries": ["DE", "AT"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        create(direct.clone(), new_customer("sellus1.onmicrosoft.com")).await,
        (403, Some(2030)),
        "US is not among the partner's countries"
    );
    let de = customer_in("sellde1.onmicrosoft.com", "DE", |v| {
        v["billingProfile"]["defaultAddress"]["postalCode"] = json!("10117")
    });
    assert_eq!(create(direct.clone(), de).await, (201, None));
    emu.control(
        Method::POST,
        &format!("/_emulator/partners/{DIRECT}"),
        json!({"sellEverywhere": true}),
    )
    .await;
    assert_eq!(
        create(direct.clone(), new_customer("sellus2.onmicrosoft.com")).await,
        (201, None)
    );

    emu.control(
        Method::POST,
        &format!("/_emulator/partners/{DIRECT}"),
        json!({"customerCreationAllowed": false}),
    )
    .await;
    assert_eq!(
        create(direct.clone(), new_customer("blocked1.onmicrosoft.com")).await,
        (403, Some(600006))
    );

    let indirect = |domain: &str| {
        let mut v = new_customer(domain);
        v["associatedPartnerId"] = json!(FIRST_UP);
        v
    };
    let (s, _) = emu
        .control(
            Method::POST,
            &format!("/_emulator/partners/{PROVIDER}/indirect-resellers"),
            json!({"id": FIRST_UP, "name": "First Up Consultants", "mpnId": "4847383", "location": "NZ", "mpaAccepted": false}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        create(provider.clone(), indirect("nompa1.onmicrosoft.com")).await,
        (403, Some(900123))
    );
    emu.control(
        Method::POST,
        &format!("/_emulator/partners/{PROVIDER}/indirect-resellers"),
        json!({"id": FIRST_UP, "name": "First Up Consultants", "mpnId": "4847383", "location": "NZ", "state": "Inactive"}),
    )
    .await;
    assert_eq!(
        create(provider.clone(), indirect("inactive1.onmicrosoft.com")).await,
        (400, Some(800016)),
        "an inactive relationship is not a valid indirect reseller"
    );
    let (s, body) = emu
        .control(
            Method::POST,
            &format!("/_emulator/partners/{DIRECT}/indirect-resellers"),
            json!({"id": FIRST_UP, "name": "x", "mpnId": "1", "location": "NZ"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("partnerType"), "{body}");
}

#[tokio::test]
async fn created_customers_record_gdap_and_reseller_and_sandbox_deletion_rules() {
    let emu = Emu::basic().await;
    let provider = emu.provider_user().await;
    let mut body = new_customer("gdapind1.onmicrosoft.com");
    body["associatedPartnerId"] = json!(FIRST_UP);
    body["enableGDAPByDefault"] = json!(false);
    let (status, _, created) = emu
        .call(Method::POST, "/v1/customers", Some(&provider), &[], Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let created = json_body(&created);
    assert_eq!(created["relationshipToPartner"], "reseller");
    assert_eq!(created["associatedPartnerId"], FIRST_UP);
    let id = created["id"].as_str().unwrap().to_string();
    let (_, got) = emu.get(&format!("/v1/customers/{id}"), &provider).await;
    assert_eq!(got["enableGDAPByDefault"], false);
    assert_eq!(got["associatedPartnerId"], FIRST_UP);
    let (_, listed) = emu
        .control(
            Method::GET,
            &format!("/_emulator/customers?partner={PROVIDER}&domain=GDAPIND1.onmicrosoft.com"),
            Value::Null,
        )
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["enableGDAPByDefault"], false);
    assert_eq!(listed[0]["addressInvalid"], false);

    // Sandbox: a valid customer can be deleted (204, domain free again); one created with an
    // invalid address cannot.
    let (status, _, _) = emu
        .call(
            Method::DELETE,
            &format!("/v1/customers/{id}"),
            Some(&provider),
            &[],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        emu.get(&format!("/v1/customers/{id}"), &provider).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, _, _) = emu
        .call(
            Method::HEAD,
            "/v1/domains/gdapind1.onmicrosoft.com",
            Some(&provider),
            &[],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let mut bad = new_customer("badaddr1.onmicrosoft.com");
    bad["billingProfile"]["defaultAddress"]["state"] = json!("NY");
    let (status, _, created) = emu
        .call(Method::POST, "/v1/customers", Some(&provider), &[], Some(bad))
        .await;
    assert_eq!(status, StatusCode::CREATED, "creation does not validate the address");
    let bad_id = json_body(&created)["id"].as_str().unwrap().to_string();
    let (status, _, refused) = emu
        .call(
            Method::DELETE,
            &format!("/v1/customers/{bad_id}"),
            Some(&provider),
            &[],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let refused = json_body(&refused);
    assert_eq!(refused["code"], json!(600006));
    assert!(refused["description"].as_str().unwrap().contains("invalid address"));
    let (_, listed) = emu
        .control(
            Method::GET,
            &format!("/_emulator/customers?partner={PROVIDER}&domain=badaddr1.onmicrosoft.com"),
            Value::Null,
        )
        .await;
    assert_eq!(listed[0]["addressInvalid"], true);
    let (status, _) = emu.control(Method::GET, "/_emulator/customers", Value::Null).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "partner is required");
}

/// `after: true` faults: the create takes effect, its answer is lost (dropped) or late (delayed);
/// the same MS-RequestId then replays the same customer without creating a second.
#[tokio::test]
async fn create_then_drop_or_delay_creates_once_and_replays_by_request_id() {
    let emu = Emu::basic().await;
    let token = emu.app_token(DIRECT, DIRECT_APP, DIRECT_SECRET).await;
    let count = |domain: &'static str| {
        let emu = &emu;
        async move {
            let (_, v) = emu
                .control(
                    Method::GET,
                    &format!("/_emulator/customers?partner={DIRECT}&domain={domain}"),
                    Value::Null,
                )
                .await;
            v.as_array().unwrap().len()
        }
    };
    let cases = [
        (
            json!({"kind": "dropConnection", "after": true}),
            "dropped1.onmicrosoft.com",
            "dropConnectionAfter",
        ),
        (
            json!({"kind": "delay", "millis": 1500, "after": true}),
            "delayed1.onmicrosoft.com",
            "delayAfter",
        ),
    ];
    for (fault, domain, logged) in cases {
        emu.control(
            Method::POST,
            "/_emulator/faults",
            json!({"match": {"pathPrefix": "/v1/customers", "method": "POST"}, "fault": fault, "count": 1}),
        )
        .await;
        let rid = uuid::Uuid::new_v4().to_string();
        let lost = emu
            .http
            .post(emu.url("/v1/customers"))
            .bearer_auth(&token)
            .header("MS-RequestId", &rid)
            .timeout(std::time::Duration::from_millis(500))
            .json(&new_customer(domain))
            .send()
            .await;
        assert!(lost.is_err(), "{logged}: the client never sees an answer");
        // The delayed handler finished before the answer was held, so the tenant exists at once.
        assert_eq!(count(domain).await, 1, "{logged}: the tenant was created");
        let (status, _, replay) = emu
            .call(
                Method::POST,
                "/v1/customers",
                Some(&token),
                &[("MS-RequestId", rid.as_str())],
                Some(new_customer(domain)),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{logged}");
        assert_eq!(json_body(&replay)["companyProfile"]["domain"], domain);
        assert_eq!(count(domain).await, 1, "{logged}: the replay did not create a second");
        // The delayed answer is logged when it is finally sent.
        let mut logged_it = false;
        for _ in 0..40 {
            let log = emu.requests().await;
            if log
                .iter()
                .any(|e| e["fault"] == logged && e["requestId"] == rid.as_str())
            {
                logged_it = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(logged_it, "{logged}: the fault is in the request log");
    }
}

#[tokio::test]
async fn agreements_and_invitations_table() {
    let emu = Emu::basic().await;
    let user = emu.direct_user().await;
    let app = emu.app_token(DIRECT, DIRECT_APP, DIRECT_SECRET).await;
    let fabrikam = "cccccccc-0000-4000-8000-000000000001";
    let (_, templates) = emu
        .get("/v1/agreements?agreementType=MicrosoftCustomerAgreement", &user)
        .await;
    let template = templates["items"][0]["templateId"].as_str().unwrap().to_string();
    let agreement = |email: &str, template: &str| {
        json!({"primaryContact": {"firstName": "Gena", "lastName": "Soto", "email": email},
               "templateId": template, "dateAgreed": "2026-12-01T00:00:00Z", "type": "MicrosoftCustomerAgreement"})
    };
    let path = format!("/v1/customers/{fabrikam}/agreements");
    #[rustfmt::skip]
    let cases: Vec<(&str, &str, Request, u16, Option<i64>)> = vec![
        ("templates app-only", &app, (Method::GET, "/v1/agreements?agreementType=MicrosoftCustomerAgreement".into(), None), 403, Some(403)),
        ("templates of an unknown type", &user, (Method::GET, "/v1/agreements?agreementType=Other".into(), None), 400, Some(2000)),
        ("default templates are the Microsoft Cloud Agreement", &user, (Method::GET, "/v1/agreements".into(), None), 200, None),
        ("record", &user, (Method::POST, path.clone(), Some(agreement("gena@fabrikam.example", &template))), 201, None),
        ("record again for the same contact", &user, (Method::POST, path.clone(), Some(agreement("GENA@fabrikam.example", &template))), 409, Some(600061)),
        ("record for another contact", &user, (Method::POST, path.clone(), Some(agreement("ops@fabrikam.example", &template))), 201, None),
        ("record with an unknown template", &user, (Method::POST, path.clone(), Some(agreement("x@fabrikam.example", "nope"))), 400, Some(3000)),
        ("record app-only", &app, (Method::POST, path.clone(), Some(agreement("y@fabrikam.example", &template))), 403, Some(403)),
        ("record for an unknown customer", &user, (Method::POST, "/v1/customers/cccccccc-0000-4000-8000-0000000000ff/agreements".into(), Some(agreement("z@x.example", &template))), 404, Some(1000)),
        ("read back", &user, (Method::GET, format!("{path}?agreementType=MicrosoftCustomerAgreement"), None), 200, None),
    ];
    for (name, token, (method, path, body), status, code) in cases {
        let (got, _, bytes) = emu.call(method, &path, Some(token), &[], body).await;
        let body = json_body(&bytes);
        assert_eq!(got.as_u16(), status, "{name}: {body}");
        assert_eq!(body.get("code").and_then(Value::as_i64), code, "{name}: {body}");
    }
    let (_, read) = emu
        .get(&format!("{path}?agreementType=MicrosoftCustomerAgreement"), &user)
        .await;
    assert_eq!(read["totalCount"], json!(2), "{read}");

    // Invitations: a production partner's accepted tenant becomes a customer; a sandbox cannot invite.
    let accepted = "cccccccc-0000-4000-8000-0000000000a1";
    assert_eq!(
        emu.get(&format!("/v1/customers/{accepted}"), &app).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, _) = emu
        .control(
            Method::POST,
            &format!("/_emulator/partners/{DIRECT}/invitations/accept"),
            json!({"tenantId": accepted, "domain": "accepted1.onmicrosoft.com", "companyName": "Accepted"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, got) = emu.get(&format!("/v1/customers/{accepted}"), &app).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["relationshipToPartner"], "reseller");
    let (status, body) = emu
        .control(
            Method::POST,
            &format!("/_emulator/partners/{PROVIDER}/invitations/accept"),
            json!({"tenantId": "cccccccc-0000-4000-8000-0000000000a2", "domain": "accepted2.onmicrosoft.com", "companyName": "No"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("sandbox"), "{body}");
    let (status, _) = emu
        .control(
            Method::POST,
            &format!("/_emulator/partners/{DIRECT}/invitations/accept"),
            json!({"tenantId": accepted, "domain": "accepted3.onmicrosoft.com", "companyName": "Twice"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "already a customer");
}

/// The audit's emulator calls: many customers added at once, get-by-id details (country,
/// association) changed through the control API, the IndirectReseller filter, and the audit feed
/// with its 90-day limit.
#[tokio::test]
async fn bulk_customers_details_and_the_audit_feed() {
    let emu = Emu::basic().await;
    let reseller = "dddddddd-0000-4000-8000-000000000001";
    let one = "f0000000-0000-4000-8000-000000000001";
    // (case, body, expected status, expected error text)
    let adds: Vec<(&str, Value, StatusCode, &str)> = vec![
        (
            "a bad tenant id names the field",
            json!({"customers": [{"tenantId": "nope", "domain": "x.onmicrosoft.com", "companyName": "X"}]}),
            StatusCode::BAD_REQUEST,
            "customers[0].tenantId",
        ),
        (
            "a bad association names the field",
            json!({"customers": [{"tenantId": one, "domain": "x.onmicrosoft.com", "companyName": "X", "associatedPartnerId": "r"}]}),
            StatusCode::BAD_REQUEST,
            "customers[0].associatedPartnerId",
        ),
        (
            "one named customer and 1,000 generated",
            json!({"customers": [{"tenantId": one, "domain": "one.onmicrosoft.com", "companyName": "One", "country": "AU", "associatedPartnerId": reseller}],
                   "generate": {"count": 1000, "seed": "bulk", "country": "NZ"}}),
            StatusCode::OK,
            "",
        ),
        (
            "the same tenant twice is refused",
            json!({"customers": [{"tenantId": one, "domain": "one2.onmicrosoft.com", "companyName": "One"}]}),
            StatusCode::BAD_REQUEST,
            "already a partner or a customer",
        ),
    ];
    for (case, body, status, text) in adds {
        let (got, answer) = emu
            .control(Method::POST, &format!("/_emulator/partners/{PROVIDER}/customers"), body)
            .await;
        assert_eq!(got, status, "{case}: {answer}");
        assert!(answer.to_string().contains(text), "{case}: {answer}");
    }
    let token = emu.provider_user().await;
    let (_, page) = emu.get("/v1/customers?size=500", &token).await;
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        500,
        "listed through the ordinary pages"
    );
    let (status, full) = emu.get(&format!("/v1/customers/{one}"), &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            full["billingProfile"]["defaultAddress"]["country"].clone(),
            full["associatedPartnerId"].clone()
        ),
        (json!("AU"), json!(reseller))
    );
    let filter = url::form_urlencoded::byte_serialize(
        format!(r#"{{"Field":"IndirectReseller","Value":"{reseller}","Operator":"starts_with"}}"#).as_bytes(),
    )
    .collect::<String>();
    let (_, of_reseller) = emu.get(&format!("/v1/customers?size=0&filter={filter}"), &token).await;
    let ids: Vec<&str> = of_reseller["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert!(ids.contains(&one), "{ids:?}");

    // Moved to no reseller and another country: get-by-id says so, and the feed names the customer.
    let (status, _) = emu
        .control(
            Method::POST,
            &format!("/_emulator/partners/{PROVIDER}/customers/{one}"),
            json!({"associatedPartnerId": null, "country": "NZ"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, full) = emu.get(&format!("/v1/customers/{one}"), &token).await;
    assert_eq!(
        (
            full["billingProfile"]["defaultAddress"]["country"].clone(),
            full.get("associatedPartnerId").cloned()
        ),
        (json!("NZ"), None)
    );
    let today = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
    let long_ago = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 91)).to_string();
    // (case, query, expected status, records naming `one`)
    let feeds = [
        ("since today", format!("startDate={today}"), StatusCode::OK, Some(2)),
        ("default window", String::new(), StatusCode::OK, Some(2)),
        (
            "more than 90 days back",
            format!("startDate={long_ago}"),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            "not a date",
            "startDate=yesterday".to_string(),
            StatusCode::BAD_REQUEST,
            None,
        ),
    ];
    for (case, query, status, naming) in feeds {
        let (got, body) = emu.get(&format!("/v1/auditrecords?{query}"), &token).await;
        assert_eq!(got, status, "{case}: {body}");
        if let Some(n) = naming {
            let items = body["items"].as_array().unwrap();
            assert_eq!(items.iter().filter(|r| r["customerId"] == one).count(), n, "{case}");
            assert_eq!(items.len(), 1002, "{case}: 1,001 added and one update");
        } else {
            assert!(
                body["description"].as_str().is_some_and(|d| d.contains("startDate")),
                "{case}: {body}"
            );
        }
    }
    // The relationship ended: no longer listed, get-by-id 404.
    let (status, _) = emu
        .control(
            Method::DELETE,
            &format!("/_emulator/partners/{PROVIDER}/customers/{one}"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = emu.get(&format!("/v1/customers/{one}"), &token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
