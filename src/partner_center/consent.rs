//! Authorization-code consent (Secure Application Model, step 1): build the v1 authorize URL the
//! partner admin opens, check the redirect, and redeem the code for the first refresh token.
//! The CLI wraps this with a localhost redirect listener and the Secret write.

use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use url::Url;

use super::auth::{TokenClaims, TokenResponse, token_url};
use super::config::{ConnectionSettings, cloud_resource};
use super::errors::{PartnerCenterError, token_error};
use super::http::{RetryPolicy, USER_AGENT, send_with_retries};

/// The consent flow for one app registration against one tenant authority.
#[derive(Clone, Debug)]
pub struct ConsentFlow {
    login: Url,
    /// Authority tenant: the partner tenant id, or `common`/`organizations`.
    tenant: String,
    resource: String,
    client_id: String,
    policy: RetryPolicy,
    timeouts: (std::time::Duration, std::time::Duration),
}

/// What a successful redemption yields.
pub struct ConsentResult {
    pub refresh_token: SecretString,
    /// Claims of the access token that came with it: `tid` must be the partner tenant, `amr` should
    /// contain `mfa`.
    pub claims: TokenClaims,
}

impl fmt::Debug for ConsentResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsentResult")
            .field("refresh_token", &"[redacted]")
            .field("claims", &self.claims)
            .finish()
    }
}

impl ConsentFlow {
    /// Uses the settings' login host (override or cloud) and tenant.
    pub fn new(settings: &ConnectionSettings, client_id: &str) -> Result<Self, PartnerCenterError> {
        settings.validate()?;
        if client_id.trim().is_empty() {
            return Err(PartnerCenterError::config(
                "clientId",
                "is empty; pass the app registration's application id",
            ));
        }
        Ok(ConsentFlow {
            login: settings.effective_endpoints().login,
            tenant: settings.partner_tenant_id.trim().to_string(),
            resource: cloud_resource(settings.cloud).to_string(),
            client_id: client_id.trim().to_string(),
            policy: RetryPolicy::from(&settings.timeouts),
            timeouts: (settings.timeouts.request, settings.timeouts.connect),
        })
    }

    /// `{login}/{tenant}/oauth2/authorize?client_id&response_type=code&resource&redirect_uri&state[&prompt][&login_hint]`.
    pub fn authorize_url(
        &self,
        redirect_uri: &str,
        state: &str,
        prompt: Option<&str>,
        login_hint: Option<&str>,
    ) -> Url {
        let mut url = self.login.clone();
        url.path_segments_mut()
            .expect("validated: login URL can be a base")
            .pop_if_empty()
            .extend([self.tenant.as_str(), "oauth2", "authorize"]);
        {
            let mut q = url.query_pairs_mut();
            q.clear()
                .append_pair("client_id", &self.client_id)
                .append_pair("response_type", "code")
                .append_pair("response_mode", "query")
                .append_pair("resource", &self.resource)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("state", state);
            if let Some(p) = prompt {
                q.append_pair("prompt", p);
            }
            if let Some(h) = login_hint {
                q.append_pair("login_hint", h);
            }
        }
        url
    }

    /// Redeems the authorization code (`grant_type=authorization_code`) and returns the refresh token.
    pub async fn redeem(
        &self,
        code: &str,
        redirect_uri: &str,
        client_secret: &SecretString,
    ) -> Result<ConsentResult, PartnerCenterError> {
        crate::tls::install_crypto_provider();
        // The same limits as the operator's client: a stalled or endless response cannot hang it.
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(self.timeouts.0)
            .connect_timeout(self.timeouts.1)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| PartnerCenterError::config("http client", &e.to_string()))?;
        let url = token_url(&self.login, &self.tenant);
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", client_secret.expose_secret()),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("resource", self.resource.as_str()),
        ];
        let secrets = [client_secret.expose_secret(), code];
        let resp = send_with_retries(&self.policy, "the token endpoint", || {
            http.post(url.clone()).form(&form)
        })
        .await
        .map_err(|e| e.redact(&secrets))?;
        if !resp.is_success() {
            return Err(token_error(resp.status, &resp.body, resp.retry_after()).redact(&secrets));
        }
        let parsed = TokenResponse::parse(&resp.body)?;
        let claims = TokenClaims::from_access_token(parsed.access_token.expose_secret());
        let refresh_token = parsed
            .refresh_token
            .filter(|t| !t.expose_secret().is_empty())
            .ok_or_else(|| PartnerCenterError::Decode {
                what: "the token response".into(),
                detail: "no refresh_token was returned; the app registration must allow the authorization-code \
                         flow with offline access"
                    .into(),
            })?;
        Ok(ConsentResult { refresh_token, claims })
    }
}

/// A random `state` value (CSRF protection for the redirect).
pub fn new_state() -> String {
    let bytes: [u8; 24] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Extracts the authorization code from the redirect's query string, checking `state` and turning
/// an `error=` redirect into a typed error.
pub fn code_from_redirect(query: &str, expected_state: &str) -> Result<SecretString, PartnerCenterError> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    if let Some(error) = get("error") {
        let description = get("error_description").unwrap_or("");
        let body = serde_json::json!({"error": error, "error_description": description}).to_string();
        return Err(token_error(400, body.as_bytes(), None));
    }
    if get("state") != Some(expected_state) {
        return Err(PartnerCenterError::config(
            "state",
            "of the redirect does not match the one sent; start the consent flow again",
        ));
    }
    match get("code") {
        Some(code) if !code.is_empty() => Ok(SecretString::from(code.to_string())),
        _ => Err(PartnerCenterError::config(
            "code",
            "is missing from the redirect; start the consent flow again",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{AuthMode, Cloud};

    #[test]
    fn authorize_url_shape() {
        let mut s = ConnectionSettings::new("5f0c-tenant", Cloud::Global, AuthMode::AppPlusUser);
        let flow = ConsentFlow::new(&s, "app-id").unwrap();
        let url = flow.authorize_url("http://localhost:8400/", "st8", Some("consent"), None);
        assert_eq!(url.host_str(), Some("login.microsoftonline.com"));
        assert_eq!(url.path(), "/5f0c-tenant/oauth2/authorize");
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["client_id"], "app-id");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["resource"], "https://api.partnercenter.microsoft.com");
        assert_eq!(q["redirect_uri"], "http://localhost:8400/");
        assert_eq!(q["state"], "st8");
        assert_eq!(q["prompt"], "consent");
        assert!(!q.contains_key("login_hint"));

        s.cloud = Cloud::China;
        let url = ConsentFlow::new(&s, "app-id")
            .unwrap()
            .authorize_url("r", "s", None, Some("a@b"));
        assert_eq!(url.host_str(), Some("login.chinacloudapi.cn"));
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["resource"], "https://partner.partnercenterapi.microsoftonline.cn");
        assert_eq!(q["login_hint"], "a@b");
        assert!(!q.contains_key("prompt"));
    }

    #[test]
    fn redirect_parsing() {
        assert_eq!(
            code_from_redirect("code=abc&state=s1", "s1").unwrap().expose_secret(),
            "abc"
        );
        let cases: &[(&str, &str)] = &[
            ("code=abc&state=other", "InvalidConfiguration"),
            ("state=s1", "InvalidConfiguration"),
            (
                "error=access_denied&error_description=AADSTS65004%3A+User+declined&state=s1",
                "TokenRequestFailed",
            ),
            (
                "error=interaction_required&error_description=AADSTS50076%3A+MFA&state=s1",
                "MfaRequired",
            ),
        ];
        for (q, reason) in cases {
            assert_eq!(code_from_redirect(q, "s1").unwrap_err().reason(), *reason, "{q}");
        }
        let a = new_state();
        assert_eq!(a.len(), 48);
        assert_ne!(a, new_state());
    }
}
