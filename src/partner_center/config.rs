//! Connection settings and credentials: which hosts to talk to (per Microsoft cloud, or overridden),
//! which identity to use, and how long to wait. Secrets are `SecretString` and never printed.

use crate::api::{AuthMode, Cloud};
use secrecy::SecretString;
use std::fmt;
use std::time::Duration;
use url::Url;

use super::errors::PartnerCenterError;

/// The Partner Center API resource (token audience) of the global and US Government clouds.
pub const GLOBAL_RESOURCE: &str = "https://api.partnercenter.microsoft.com";
/// The Partner Center API resource of the China cloud (operated by 21Vianet).
pub const CHINA_RESOURCE: &str = "https://partner.partnercenterapi.microsoftonline.cn";

/// Base URLs for one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// Partner Center API host, e.g. `https://api.partnercenter.microsoft.com`; `/v1/...` is appended.
    pub partner_center: Url,
    /// Entra authority host, e.g. `https://login.microsoftonline.com`; `/{tenant}/oauth2/...` is appended.
    pub login: Url,
}

/// Hosts of each Microsoft cloud (docs/concepts.md).
pub fn cloud_endpoints(cloud: Cloud) -> Endpoints {
    let (api, login) = match cloud {
        Cloud::Global => (GLOBAL_RESOURCE, "https://login.microsoftonline.com"),
        // US Government uses the global API host but its own authority.
        Cloud::USGov => (GLOBAL_RESOURCE, "https://login.microsoftonline.us"),
        Cloud::China => (CHINA_RESOURCE, "https://login.chinacloudapi.cn"),
    };
    Endpoints {
        partner_center: Url::parse(api).expect("static URL"),
        login: Url::parse(login).expect("static URL"),
    }
}

/// The token audience (`resource=`) for a cloud. Endpoint overrides do not change it: the emulator and
/// proxies expect the real resource identifier, as Entra does.
pub fn cloud_resource(cloud: Cloud) -> &'static str {
    match cloud {
        Cloud::Global | Cloud::USGov => GLOBAL_RESOURCE,
        Cloud::China => CHINA_RESOURCE,
    }
}

/// Retry and timeout knobs. Defaults follow the Partner Center .NET SDK (3 retries at about
/// 0.5 s / 1.5 s / 3.5 s); tests shrink `retry_base_delay` to stay fast.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Whole-request timeout of one HTTP attempt (API and token endpoint).
    pub request: Duration,
    /// TCP/TLS connect timeout.
    pub connect: Duration,
    /// First retry delay for network errors, timeouts and 5xx; later delays grow by a factor of 3
    /// and are capped at 7× this value (0.5 → 1.5 → 3.5 s with the default), with ±20 % jitter.
    pub retry_base_delay: Duration,
    /// Retries (not counting the first attempt) for network errors, timeouts and 5xx.
    pub max_retries: u32,
    /// Retries after 429 responses; each one waits the server's `Retry-After` first.
    pub max_throttle_retries: u32,
    /// Longest `Retry-After` the client waits in-line; a longer one is returned as `Throttled`
    /// so the caller (a controller) can requeue instead of holding a worker.
    pub max_retry_after: Duration,
    /// How long before expiry a cached access token is replaced.
    pub token_refresh_margin: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            request: Duration::from_secs(60),
            connect: Duration::from_secs(10),
            retry_base_delay: Duration::from_millis(500),
            max_retries: 3,
            max_throttle_retries: 2,
            max_retry_after: Duration::from_secs(30),
            token_refresh_margin: Duration::from_secs(60),
        }
    }
}

/// Everything non-secret the client needs to reach one Partner Center account.
#[derive(Clone, Debug)]
pub struct ConnectionSettings {
    /// The partner's Entra tenant id (GUID); the token authority path segment.
    pub partner_tenant_id: String,
    pub cloud: Cloud,
    pub auth_mode: AuthMode,
    /// Overrides of the cloud's hosts (the emulator, a proxy). `None` = the cloud's real hosts.
    pub endpoints: Option<Endpoints>,
    /// Sent as `MS-PartnerCenter-Application`.
    pub application_name: String,
    /// Sent as `X-Locale`, e.g. `en-US`.
    pub locale: String,
    pub timeouts: Timeouts,
    /// Told of every HTTP 429 the client receives, including those it retried successfully (the
    /// operator counts them in `pco_partner_center_throttled_total`).
    pub on_throttled: Option<super::http::ThrottleObserver>,
}

impl ConnectionSettings {
    /// Settings with the defaults for everything but the tenant, cloud and mode.
    pub fn new(partner_tenant_id: impl Into<String>, cloud: Cloud, auth_mode: AuthMode) -> Self {
        ConnectionSettings {
            partner_tenant_id: partner_tenant_id.into(),
            cloud,
            auth_mode,
            endpoints: None,
            application_name: "partner-center-operator".to_string(),
            locale: "en-US".to_string(),
            timeouts: Timeouts::default(),
            on_throttled: None,
        }
    }

    /// The hosts in force: the override if given, else the cloud's.
    pub fn effective_endpoints(&self) -> Endpoints {
        self.endpoints.clone().unwrap_or_else(|| cloud_endpoints(self.cloud))
    }

    /// Checks the fields a token request or header would otherwise fail on later, naming the field.
    pub fn validate(&self) -> Result<(), PartnerCenterError> {
        let tenant = self.partner_tenant_id.trim();
        if tenant.is_empty() {
            return Err(PartnerCenterError::config(
                "partnerTenantId",
                "is empty; set it to the partner's Entra tenant id (a GUID)",
            ));
        }
        if !tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err(PartnerCenterError::config(
                "partnerTenantId",
                "must be a tenant GUID or domain (letters, digits, '-' and '.')",
            ));
        }
        if let Some(ep) = &self.endpoints {
            for (field, url) in [
                ("endpoints.partnerCenter", &ep.partner_center),
                ("endpoints.login", &ep.login),
            ] {
                if url.scheme() != "https" && url.scheme() != "http" {
                    return Err(PartnerCenterError::config(
                        field,
                        "must be an http(s) URL such as https://api.partnercenter.microsoft.com",
                    ));
                }
                if url.cannot_be_a_base() || url.host_str().is_none() {
                    return Err(PartnerCenterError::config(field, "must be an absolute URL with a host"));
                }
            }
        }
        for (field, value) in [("applicationName", &self.application_name), ("locale", &self.locale)] {
            if reqwest::header::HeaderValue::from_str(value).is_err() {
                return Err(PartnerCenterError::config(
                    field,
                    "contains characters not allowed in an HTTP header; use printable ASCII",
                ));
            }
        }
        Ok(())
    }
}

/// The app registration's credentials, and for App+User the refresh token of the consenting admin.
#[derive(Clone)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: SecretString,
    pub refresh_token: Option<SecretString>,
}

impl fmt::Debug for Credentials {
    // Only says whether secrets are present; SecretString already redacts, this keeps it short.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl Credentials {
    pub fn validate(&self, mode: AuthMode) -> Result<(), PartnerCenterError> {
        use secrecy::ExposeSecret;
        if self.client_id.trim().is_empty() {
            return Err(PartnerCenterError::config(
                "clientId",
                "is empty; put the app registration's application (client) id in the Secret",
            ));
        }
        if self.client_secret.expose_secret().is_empty() {
            return Err(PartnerCenterError::config(
                "clientSecret",
                "is empty; put the app registration's client secret in the Secret",
            ));
        }
        if mode == AuthMode::AppPlusUser && self.refresh_token.as_ref().is_none_or(|t| t.expose_secret().is_empty()) {
            return Err(PartnerCenterError::config(
                "refreshToken",
                "is missing; AppPlusUser needs a refresh token from the consent flow \
                 (run `partner-center-operator consent`) or use auth mode AppOnly",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_per_cloud() {
        let cases = [
            (
                Cloud::Global,
                "api.partnercenter.microsoft.com",
                "login.microsoftonline.com",
            ),
            (
                Cloud::USGov,
                "api.partnercenter.microsoft.com",
                "login.microsoftonline.us",
            ),
            (
                Cloud::China,
                "partner.partnercenterapi.microsoftonline.cn",
                "login.chinacloudapi.cn",
            ),
        ];
        for (cloud, api, login) in cases {
            let ep = cloud_endpoints(cloud);
            assert_eq!(ep.partner_center.host_str(), Some(api), "{cloud:?}");
            assert_eq!(ep.login.host_str(), Some(login), "{cloud:?}");
        }
        assert_eq!(cloud_resource(Cloud::China), CHINA_RESOURCE);
        assert_eq!(cloud_resource(Cloud::USGov), GLOBAL_RESOURCE);
    }

    #[test]
    fn override_replaces_cloud_hosts() {
        let mut s = ConnectionSettings::new("t", Cloud::China, AuthMode::AppOnly);
        assert_eq!(s.effective_endpoints(), cloud_endpoints(Cloud::China));
        let local = Url::parse("http://127.0.0.1:8085").unwrap();
        s.endpoints = Some(Endpoints {
            partner_center: local.clone(),
            login: local.clone(),
        });
        assert_eq!(s.effective_endpoints().partner_center, local);
        assert_eq!(s.effective_endpoints().login, local);
    }

    type Mutation = Box<dyn Fn(&mut ConnectionSettings)>;

    #[test]
    fn validation_names_the_field() {
        let cases: Vec<(Mutation, &str)> = vec![
            (Box::new(|s| s.partner_tenant_id = " ".into()), "partnerTenantId"),
            (Box::new(|s| s.partner_tenant_id = "a/b".into()), "partnerTenantId"),
            (Box::new(|s| s.locale = "en\nUS".into()), "locale"),
            (Box::new(|s| s.application_name = "x\u{7f}".into()), "applicationName"),
            (
                Box::new(|s| {
                    s.endpoints = Some(Endpoints {
                        partner_center: Url::parse("ftp://x").unwrap(),
                        login: Url::parse("http://x").unwrap(),
                    })
                }),
                "endpoints.partnerCenter",
            ),
        ];
        for (mutate, field) in cases {
            let mut s = ConnectionSettings::new("5f0c", Cloud::Global, AuthMode::AppOnly);
            mutate(&mut s);
            let err = s.validate().unwrap_err();
            assert!(err.to_string().contains(field), "{err} should name {field}");
            assert_eq!(err.reason(), "InvalidConfiguration");
        }
        ConnectionSettings::new("5f0c", Cloud::Global, AuthMode::AppOnly)
            .validate()
            .unwrap();
    }

    #[test]
    fn credentials_validation_and_debug() {
        let creds = Credentials {
            client_id: "app-1".into(),
            client_secret: SecretString::from("s3cr3t-value"),
            refresh_token: None,
        };
        creds.validate(AuthMode::AppOnly).unwrap();
        let err = creds.validate(AuthMode::AppPlusUser).unwrap_err();
        assert!(err.to_string().contains("refreshToken"));
        let with_rt = Credentials {
            refresh_token: Some(SecretString::from("rt-xyz-123")),
            ..creds.clone()
        };
        with_rt.validate(AuthMode::AppPlusUser).unwrap();
        let dbg = format!("{with_rt:?}");
        assert!(!dbg.contains("s3cr3t-value") && !dbg.contains("rt-xyz-123"), "{dbg}");
        assert!(dbg.contains("app-1"));
        let empty = Credentials {
            client_secret: SecretString::from(""),
            ..creds
        };
        assert!(
            empty
                .validate(AuthMode::AppOnly)
                .unwrap_err()
                .to_string()
                .contains("clientSecret")
        );
    }
}
