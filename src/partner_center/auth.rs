//! Entra ID token requests (v1 endpoint, `resource=` form), the access-token cache, refresh-token
//! rotation with persist-before-use, and JWT payload decoding (no signature check: the claims are only
//! read to report what Entra issued, e.g. `tid` and `amr`).
//!
//! The OAuth exchange is hand-written rather than taken from an OAuth crate because v1 token responses
//! put numbers in strings (`"expires_in":"3599"`) while v2 uses integers, and Entra's error bodies carry
//! AADSTS codes we map to typed errors; both are a few lines here and awkward to bend a generic client to.

use async_trait::async_trait;
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::Mutex;
use url::Url;

use super::durations;
use super::errors::{PartnerCenterError, decode_detail, strip_bom, token_error};
use super::http::{RetryPolicy, send_with_retries};
use crate::api::AuthMode;

/// Receives every rotated refresh token. The client waits for `persist` to succeed before it uses the
/// access token that came with the new refresh token; on failure nothing is sent with it.
#[async_trait]
pub trait RefreshTokenSink: Send + Sync {
    async fn persist(&self, new_refresh_token: &SecretString) -> Result<(), String>;
}

/// A sink that keeps the latest refresh token in memory only: for one-shot commands (e.g. `check`)
/// and tests. A long-running operator must persist to the connection's Secret instead.
#[derive(Default)]
pub struct MemoryRefreshTokenSink {
    latest: std::sync::Mutex<Option<SecretString>>,
}

impl MemoryRefreshTokenSink {
    pub fn latest(&self) -> Option<SecretString> {
        self.latest.lock().expect("poisoned").clone()
    }
}

#[async_trait]
impl RefreshTokenSink for MemoryRefreshTokenSink {
    async fn persist(&self, new_refresh_token: &SecretString) -> Result<(), String> {
        *self.latest.lock().expect("poisoned") = Some(new_refresh_token.clone());
        Ok(())
    }
}

/// A successful token response (v1 or v2 shape).
#[derive(Deserialize)]
pub struct TokenResponse {
    pub access_token: SecretString,
    #[serde(default)]
    pub refresh_token: Option<SecretString>,
    #[serde(default)]
    pub token_type: Option<String>,
    /// Seconds, as the server wrote them (v1 sends strings, v2 integers); garbage is `None`. Only
    /// ever used through [`TokenResponse::lifetime`], which clamps.
    #[serde(default, deserialize_with = "durations::lenient_seconds")]
    pub expires_in: Option<f64>,
    /// Unix seconds (v1 only); see `expires_in`.
    #[serde(default, deserialize_with = "durations::lenient_seconds")]
    pub expires_on: Option<f64>,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

impl TokenResponse {
    pub fn parse(body: &[u8]) -> Result<TokenResponse, PartnerCenterError> {
        serde_json::from_slice(strip_bom(body)).map_err(|e| PartnerCenterError::Decode {
            what: "the token response".into(),
            detail: decode_detail(&e),
        })
    }

    /// Lifetime from `expires_in` (relative, so immune to clock skew between us and Entra), else
    /// from `expires_on` against our clock, else from the token's own `exp - iat`, else a
    /// conservative 5 minutes. Always within 60 s ..= 24 h, whatever the server sent.
    pub fn lifetime(&self, claims: &TokenClaims, now: SystemTime) -> Duration {
        if let Some(secs) = self.expires_in {
            return durations::expires_in(secs);
        }
        if let Some(at) = self.expires_on {
            return durations::expires_on(at, now);
        }
        match (claims.exp, claims.iat) {
            (Some(exp), Some(iat)) => durations::claims_lifetime(exp, iat),
            _ => durations::DEFAULT_TOKEN_LIFETIME,
        }
    }
}

/// The claims of an access token the operator cares about. Unknown claims are ignored.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct TokenClaims {
    /// Tenant that issued the token: must be the connection's partner tenant.
    pub tid: Option<String>,
    /// Authentication methods of a user token (`["pwd","mfa"]`); empty for app-only tokens.
    pub amr: Vec<String>,
    #[serde(deserialize_with = "string_or_list")]
    pub aud: Vec<String>,
    pub appid: Option<String>,
    pub upn: Option<String>,
    pub oid: Option<String>,
    pub roles: Vec<String>,
    pub scp: Option<String>,
    #[serde(deserialize_with = "durations::lenient_u64")]
    pub iat: Option<u64>,
    #[serde(deserialize_with = "durations::lenient_u64")]
    pub exp: Option<u64>,
}

fn string_or_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<Raw>::deserialize(d)? {
        None => vec![],
        Some(Raw::One(s)) => vec![s],
        Some(Raw::Many(v)) => v,
    })
}

impl TokenClaims {
    /// Decodes the payload of a JWT-shaped token without verifying the signature.
    pub fn decode(token: &str) -> Result<TokenClaims, PartnerCenterError> {
        let decode_err = |detail: &str| PartnerCenterError::Decode {
            what: "the access token's claims".into(),
            detail: detail.to_string(),
        };
        let mut parts = token.split('.');
        let payload = match (parts.next(), parts.next()) {
            (Some(_), Some(p)) => p,
            _ => {
                return Err(decode_err("the access token is not a JWT (header.payload.signature)"));
            }
        };
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .map_err(|_| decode_err("the JWT payload is not base64url"))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            decode_err(&format!(
                "the JWT payload is not a claims object: {}",
                decode_detail(&e)
            ))
        })
    }

    /// The claims of an access token, or none when it is not a decodable JWT: access tokens are
    /// opaque to clients (Entra may change their format or encrypt them), so an undecodable one is
    /// no authentication failure. The tenant is then "not known from the token" and rule 3 relies
    /// on the organization profile (`crate::policy::verify_connection`).
    pub fn from_access_token(token: &str) -> TokenClaims {
        TokenClaims::decode(token).unwrap_or_else(|e| {
            tracing::debug!(error = %e, "the access token is not a decodable JWT; treating it as opaque");
            TokenClaims::default()
        })
    }

    /// True when the user signed in with multi-factor authentication.
    pub fn has_mfa(&self) -> bool {
        self.amr.iter().any(|m| m.eq_ignore_ascii_case("mfa"))
    }

    /// True for an App+User token (app-only tokens have no `amr`/`scp` and carry `roles`).
    pub fn is_user_token(&self) -> bool {
        !self.amr.is_empty() || self.upn.is_some() || self.scp.is_some()
    }
}

/// A cached access token with its local expiry instant.
#[derive(Clone)]
pub(crate) struct CachedToken {
    pub access_token: SecretString,
    pub claims: TokenClaims,
    pub expires_at: Instant,
}

impl CachedToken {
    /// Usable at `now` if it does not expire within `margin`.
    pub fn is_fresh(&self, now: Instant, margin: Duration) -> bool {
        now.checked_add(margin).is_some_and(|t| t < self.expires_at)
    }
}

struct AuthState {
    refresh_token: Option<SecretString>,
    cached: Option<CachedToken>,
}

/// What a token request needs; built once from settings and credentials.
pub(crate) struct Authenticator {
    http: reqwest::Client,
    token_url: Url,
    resource: String,
    client_id: String,
    client_secret: SecretString,
    mode: AuthMode,
    margin: Duration,
    policy: RetryPolicy,
    sink: Arc<dyn RefreshTokenSink>,
    // One token request at a time: with rotation, two concurrent refreshes would race on the token.
    state: Mutex<AuthState>,
}

/// `{login}/{tenant}/oauth2/token`, keeping any path prefix of the login base (a proxy).
pub fn token_url(login: &Url, tenant: &str) -> Url {
    let mut url = login.clone();
    {
        let mut segs = url.path_segments_mut().expect("validated: login URL can be a base");
        segs.pop_if_empty().extend([tenant, "oauth2", "token"]);
    }
    url.set_query(None);
    url
}

impl Authenticator {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        http: reqwest::Client,
        token_url: Url,
        resource: String,
        client_id: String,
        client_secret: SecretString,
        refresh_token: Option<SecretString>,
        mode: AuthMode,
        margin: Duration,
        policy: RetryPolicy,
        sink: Arc<dyn RefreshTokenSink>,
    ) -> Self {
        Authenticator {
            http,
            token_url,
            resource,
            client_id,
            client_secret,
            mode,
            margin,
            policy,
            sink,
            state: Mutex::new(AuthState {
                refresh_token,
                cached: None,
            }),
        }
    }

    /// A valid access token: the cached one unless it expires within the margin.
    pub async fn access_token(&self) -> Result<CachedToken, PartnerCenterError> {
        let mut state = self.state.lock().await;
        if let Some(tok) = &state.cached
            && tok.is_fresh(Instant::now(), self.margin)
        {
            return Ok(tok.clone());
        }
        state.cached = None;
        let fresh = self.request_token(&mut state).await?;
        state.cached = Some(fresh.clone());
        Ok(fresh)
    }

    /// Drops the cached token if it is still `rejected` (the API answered 401 to it), so the next
    /// `access_token` asks Entra again. A token another task already replaced is kept.
    pub async fn invalidate(&self, rejected: &CachedToken) {
        let mut state = self.state.lock().await;
        if let Some(tok) = &state.cached
            && tok.access_token.expose_secret() == rejected.access_token.expose_secret()
        {
            state.cached = None;
        }
    }

    async fn request_token(&self, state: &mut AuthState) -> Result<CachedToken, PartnerCenterError> {
        let mut form: Vec<(&str, &str)> = vec![
            ("client_id", &self.client_id),
            ("client_secret", self.client_secret.expose_secret()),
            ("resource", &self.resource),
        ];
        let used_rt = state.refresh_token.clone();
        match self.mode {
            AuthMode::AppOnly => form.push(("grant_type", "client_credentials")),
            AuthMode::AppPlusUser => {
                let rt = used_rt.as_ref().ok_or_else(|| {
                    PartnerCenterError::config(
                        "refreshToken",
                        "is missing; AppPlusUser needs the consent flow's refresh token",
                    )
                })?;
                form.push(("grant_type", "refresh_token"));
                form.push(("refresh_token", rt.expose_secret()));
            }
        }
        let secrets: Vec<&str> = [
            Some(self.client_secret.expose_secret()),
            used_rt.as_ref().map(|s| s.expose_secret()),
        ]
        .into_iter()
        .flatten()
        .collect();

        let resp = send_with_retries(&self.policy, "the token endpoint", || {
            self.http
                .post(self.token_url.clone())
                .header("Accept", "application/json")
                .form(&form)
        })
        .await
        .map_err(|e| e.redact(&secrets))?;
        if !resp.is_success() {
            return Err(token_error(resp.status, &resp.body, resp.retry_after()).redact(&secrets));
        }
        let received = Instant::now();
        let parsed = TokenResponse::parse(&resp.body)?;
        let claims = TokenClaims::from_access_token(parsed.access_token.expose_secret());
        let lifetime = parsed.lifetime(&claims, SystemTime::now());

        if let Some(new_rt) = &parsed.refresh_token {
            let rotated = used_rt
                .as_ref()
                .is_none_or(|old| old.expose_secret() != new_rt.expose_secret());
            if rotated && !new_rt.expose_secret().is_empty() {
                // Keep the newest token in memory even if persisting fails: with strict rotation the
                // old one is already dead, and the next attempt will rotate again and persist that.
                state.refresh_token = Some(new_rt.clone());
                if let Err(detail) = self.sink.persist(new_rt).await {
                    let mut all = secrets.clone();
                    all.push(new_rt.expose_secret());
                    // `redact` truncates after redacting, so no cut-off prefix of a secret survives.
                    return Err(PartnerCenterError::PersistFailed { detail }.redact(&all));
                }
            }
        }
        Ok(CachedToken {
            access_token: parsed.access_token,
            claims,
            // `lifetime` is at most 24 h; checked anyway so no server value can reach a panic.
            expires_at: received.checked_add(lifetime).unwrap_or(received),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn jwt(payload: &serde_json::Value) -> String {
        let b = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!("{}.{}.sig", b(br#"{"alg":"none"}"#), b(payload.to_string().as_bytes()))
    }

    #[test]
    fn token_response_numbers_as_strings_or_integers() {
        let cases: &[(&str, Option<f64>, Option<f64>, bool)] = &[
            (
                r#"{"token_type":"Bearer","expires_in":"3599","ext_expires_in":"3599","expires_on":"1767225599","not_before":"1767222000","resource":"https://api.partnercenter.microsoft.com","access_token":"a.b.c","refresh_token":"0.AQ","id_token":"x"}"#,
                Some(3599.0),
                Some(1767225599.0),
                true,
            ),
            (
                r#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"a.b.c"}"#,
                Some(3599.0),
                None,
                false,
            ),
            (
                "\u{feff}{\"access_token\":\"a.b.c\",\"expires_in\":\"\"}",
                None,
                None,
                false,
            ),
            (
                r#"{"access_token":"a.b.c","expires_in":3600.0,"unknown":{"x":1}}"#,
                Some(3600.0),
                None,
                false,
            ),
            // Absurd or garbage numbers never fail the response; `lifetime` clamps them.
            (
                r#"{"access_token":"a.b.c","expires_in":1e30,"expires_on":"18446744073709551615","ext_expires_in":-1,"not_before":"x"}"#,
                Some(1e30),
                Some(u64::MAX as f64),
                false,
            ),
            (
                r#"{"access_token":"a.b.c","expires_in":"soon","expires_on":{"a":1}}"#,
                None,
                None,
                false,
            ),
        ];
        for (body, expires_in, expires_on, has_rt) in cases {
            let t = TokenResponse::parse(body.as_bytes()).unwrap_or_else(|e| panic!("{body}: {e}"));
            assert_eq!(t.expires_in, *expires_in, "{body}");
            assert_eq!(t.expires_on, *expires_on, "{body}");
            assert_eq!(t.refresh_token.is_some(), *has_rt, "{body}");
        }
    }

    #[test]
    fn token_response_errors_do_not_echo_values() {
        let body = br#"{"access_token":["secret-access-token-value"],"expires_in":"3599"}"#;
        let err = TokenResponse::parse(body).unwrap_err();
        assert_eq!(err.reason(), "DecodeError");
        assert!(!err.to_string().contains("secret-access-token-value"), "{err}");
        assert!(TokenResponse::parse(b"{}").is_err());
        let dbg = format!(
            "{:?}",
            TokenResponse::parse(br#"{"access_token":"AT-1234567","refresh_token":"RT-1234567"}"#).unwrap()
        );
        assert!(!dbg.contains("AT-1234567") && !dbg.contains("RT-1234567"), "{dbg}");
    }

    #[test]
    fn lifetime_sources() {
        let claims = TokenClaims {
            iat: Some(100),
            exp: Some(1000),
            ..Default::default()
        };
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let lifetime =
            |body: &str, claims: &TokenClaims| TokenResponse::parse(body.as_bytes()).unwrap().lifetime(claims, now);
        let cases: &[(&str, &TokenClaims, u64)] = &[
            (r#"{"access_token":"x","expires_in":"600"}"#, &claims, 600),
            (r#"{"access_token":"x","expires_in":"1e30"}"#, &claims, 24 * 3600),
            (
                r#"{"access_token":"x","expires_in":18446744073709551615}"#,
                &claims,
                24 * 3600,
            ),
            (r#"{"access_token":"x","expires_in":-9223372036854775808}"#, &claims, 60),
            (r#"{"access_token":"x","expires_in":0}"#, &claims, 60),
            (r#"{"access_token":"x","expires_on":"1003600"}"#, &claims, 3600),
            (r#"{"access_token":"x","expires_on":"1"}"#, &claims, 60),
            (r#"{"access_token":"x","expires_on":1e300}"#, &claims, 24 * 3600),
            (r#"{"access_token":"x","expires_in":"soon"}"#, &claims, 900),
            (r#"{"access_token":"x"}"#, &claims, 900),
            (r#"{"access_token":"x"}"#, &TokenClaims::default(), 300),
        ];
        for (body, claims, secs) in cases {
            assert_eq!(lifetime(body, claims), Duration::from_secs(*secs), "{body}");
        }
    }

    #[test]
    fn jwt_claims() {
        let user = jwt(
            &serde_json::json!({"aud":"https://api.partnercenter.microsoft.com","tid":"t-1","amr":["pwd","mfa"],"upn":"a@b","iat":1,"exp":2,"other":true}),
        );
        let c = TokenClaims::decode(&user).unwrap();
        assert_eq!(c.tid.as_deref(), Some("t-1"));
        assert!(c.has_mfa() && c.is_user_token());
        assert_eq!(c.aud, vec!["https://api.partnercenter.microsoft.com".to_string()]);

        let app = jwt(&serde_json::json!({"aud":["x","y"],"tid":"t-2","roles":["a"],"appid":"app"}));
        let c = TokenClaims::decode(&app).unwrap();
        assert!(!c.has_mfa() && !c.is_user_token());
        assert_eq!(c.aud.len(), 2);

        let pwd_only = jwt(&serde_json::json!({"tid":"t","amr":["pwd"]}));
        assert!(!TokenClaims::decode(&pwd_only).unwrap().has_mfa());

        for bad in [
            "opaque",
            "a.!!!.c",
            &format!("a.{}.c", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("[1]")),
        ] {
            assert_eq!(TokenClaims::decode(bad).unwrap_err().reason(), "DecodeError", "{bad}");
            // Access tokens are opaque to clients: the client goes on with no claims.
            assert_eq!(TokenClaims::from_access_token(bad), TokenClaims::default(), "{bad}");
        }
        // Absurd time claims are dropped, the rest of the claims kept.
        let odd = jwt(&serde_json::json!({"tid":"t-3","iat":-5,"exp":1e30}));
        let c = TokenClaims::decode(&odd).unwrap();
        assert_eq!((c.tid.as_deref(), c.iat, c.exp), (Some("t-3"), None, None));
    }

    #[test]
    fn cache_freshness_uses_margin() {
        let now = Instant::now();
        let tok = CachedToken {
            access_token: SecretString::from("x"),
            claims: TokenClaims::default(),
            expires_at: now + Duration::from_secs(3599),
        };
        let margin = Duration::from_secs(60);
        assert!(tok.is_fresh(now, margin));
        assert!(tok.is_fresh(now + Duration::from_secs(3538), margin));
        assert!(!tok.is_fresh(now + Duration::from_secs(3539), margin));
        assert!(!tok.is_fresh(now + Duration::from_secs(4000), margin));
    }

    #[test]
    fn token_url_keeps_prefix() {
        let cases = [
            (
                "https://login.microsoftonline.com",
                "t1",
                "https://login.microsoftonline.com/t1/oauth2/token",
            ),
            ("http://127.0.0.1:8085/", "t1", "http://127.0.0.1:8085/t1/oauth2/token"),
            (
                "https://proxy.example/entra/",
                "common",
                "https://proxy.example/entra/common/oauth2/token",
            ),
        ];
        for (base, tenant, want) in cases {
            assert_eq!(token_url(&Url::parse(base).unwrap(), tenant).as_str(), want);
        }
    }
}
