//! Typed errors of the Partner Center client, and the pure mapping from HTTP status + body
//! (Partner Center `{code, description, data, source}`, the 429 `{statusCode, message}` body, and
//! Entra's `{error, error_description, error_codes}`) to them.
//!
//! Every kind has a stable [`PartnerCenterError::reason`] for Kubernetes condition reasons. Display
//! strings carry only server-provided descriptions and codes (truncated), never tokens or secrets; the
//! client additionally redacts its own secrets from any text it puts in an error.

use serde::Deserialize;
use std::time::Duration;

/// Longest server text kept in an error (Partner Center descriptions are ≤ 1024 chars).
const MAX_DETAIL: usize = 300;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PartnerCenterError {
    #[error("invalid configuration: {field} {message}")]
    InvalidConfiguration { field: String, message: String },

    #[error("the refresh token has expired; re-run the consent flow: {detail}")]
    ConsentExpired { detail: String },
    #[error("the refresh token was revoked or consent was removed; re-run the consent flow: {detail}")]
    ConsentRevoked { detail: String },
    #[error("multi-factor authentication is required (the user token carries no MFA claim): {detail}")]
    MfaRequired { detail: String },
    #[error("the client id or refresh token does not belong to this tenant/app: {detail}")]
    WrongTenantOrClient { detail: String },
    #[error("the client secret is invalid or expired: {detail}")]
    InvalidClientSecret { detail: String },
    #[error("token request refused ({error}): {detail}")]
    TokenRequestFailed { error: String, detail: String },

    #[error("the access token has an audience Partner Center no longer accepts: {detail}")]
    WrongAudience { detail: String },
    #[error("this Partner Center resource needs App+User (refresh token) authentication: {detail}")]
    AppOnlyNotAllowed { detail: String },
    #[error("unauthorized (HTTP 401) after re-authenticating: {detail}")]
    Unauthorized { detail: String },
    #[error("forbidden (HTTP 403, code {code}): {description}")]
    Forbidden { code: String, description: String },
    #[error("not found (HTTP 404, code {code}): {description}")]
    NotFound { code: String, description: String },
    #[error("the sandbox quota has been reached (code 800018): {description}")]
    SandboxLimitReached { description: String },
    #[error("request rejected (HTTP {status}, code {code}): {description}")]
    Rejected {
        status: u16,
        code: String,
        description: String,
    },
    #[error("throttled by Partner Center (HTTP 429); retry after {}", fmt_retry(.retry_after))]
    Throttled { retry_after: Option<Duration> },
    #[error("Partner Center server error (HTTP {status}, code {code}): {description}")]
    Server {
        status: u16,
        code: String,
        description: String,
    },
    #[error("timed out waiting for {what}")]
    Timeout { what: String },
    #[error("network error talking to {what}: {detail}")]
    Network { what: String, detail: String },
    #[error("could not decode the response of {what}: {detail}")]
    Decode { what: String, detail: String },
    #[error("could not persist the rotated refresh token, so it was not used (no request went out with it): {detail}")]
    PersistFailed { detail: String },
}

fn fmt_retry(d: &Option<Duration>) -> String {
    match d {
        Some(d) => format!("{} s", d.as_secs_f64()),
        None => "an unspecified time".to_string(),
    }
}

impl PartnerCenterError {
    pub fn config(field: &str, message: &str) -> Self {
        PartnerCenterError::InvalidConfiguration {
            field: field.to_string(),
            message: message.to_string(),
        }
    }

    /// Stable CamelCase reason, usable as a Kubernetes condition reason.
    pub fn reason(&self) -> &'static str {
        use PartnerCenterError::*;
        match self {
            InvalidConfiguration { .. } => "InvalidConfiguration",
            ConsentExpired { .. } => "ConsentExpired",
            ConsentRevoked { .. } => "ConsentRevoked",
            MfaRequired { .. } => "MfaRequired",
            WrongTenantOrClient { .. } => "WrongTenantOrClient",
            InvalidClientSecret { .. } => "InvalidClientSecret",
            TokenRequestFailed { .. } => "TokenRequestFailed",
            WrongAudience { .. } => "WrongAudience",
            AppOnlyNotAllowed { .. } => "AppOnlyNotAllowed",
            Unauthorized { .. } => "Unauthorized",
            Forbidden { .. } => "Forbidden",
            NotFound { .. } => "NotFound",
            SandboxLimitReached { .. } => "SandboxLimitReached",
            Rejected { .. } => "RequestRejected",
            Throttled { .. } => "Throttled",
            Server { .. } => "ServerError",
            Timeout { .. } => "Timeout",
            Network { .. } => "NetworkError",
            Decode { .. } => "DecodeError",
            PersistFailed { .. } => "PersistFailed",
        }
    }

    /// True for failures a later attempt may cure without anyone changing configuration or
    /// credentials (the controller requeues these with backoff rather than reporting misconfiguration).
    pub fn is_transient(&self) -> bool {
        use PartnerCenterError::*;
        matches!(
            self,
            Throttled { .. } | Server { .. } | Timeout { .. } | Network { .. } | PersistFailed { .. }
        )
    }

    /// True when the partner's admin has to act (consent again, MFA, fix app credentials).
    pub fn needs_credentials_fix(&self) -> bool {
        use PartnerCenterError::*;
        matches!(
            self,
            ConsentExpired { .. }
                | ConsentRevoked { .. }
                | MfaRequired { .. }
                | WrongTenantOrClient { .. }
                | InvalidClientSecret { .. }
                | WrongAudience { .. }
        )
    }

    /// Replaces every occurrence of the given secrets in the error's text fields. The client calls
    /// this on errors built from server text, so an echoing server cannot leak a secret into status.
    pub(crate) fn redact(self, secrets: &[&str]) -> Self {
        use PartnerCenterError::*;
        let r = |s: String| redact_text(s, secrets);
        match self {
            InvalidConfiguration { field, message } => InvalidConfiguration {
                field,
                message: r(message),
            },
            ConsentExpired { detail } => ConsentExpired { detail: r(detail) },
            ConsentRevoked { detail } => ConsentRevoked { detail: r(detail) },
            MfaRequired { detail } => MfaRequired { detail: r(detail) },
            WrongTenantOrClient { detail } => WrongTenantOrClient { detail: r(detail) },
            InvalidClientSecret { detail } => InvalidClientSecret { detail: r(detail) },
            TokenRequestFailed { error, detail } => TokenRequestFailed {
                error: r(error),
                detail: r(detail),
            },
            WrongAudience { detail } => WrongAudience { detail: r(detail) },
            AppOnlyNotAllowed { detail } => AppOnlyNotAllowed { detail: r(detail) },
            Unauthorized { detail } => Unauthorized { detail: r(detail) },
            Forbidden { code, description } => Forbidden {
                code,
                description: r(description),
            },
            NotFound { code, description } => NotFound {
                code,
                description: r(description),
            },
            SandboxLimitReached { description } => SandboxLimitReached {
                description: r(description),
            },
            Rejected {
                status,
                code,
                description,
            } => Rejected {
                status,
                code,
                description: r(description),
            },
            Server {
                status,
                code,
                description,
            } => Server {
                status,
                code,
                description: r(description),
            },
            Network { what, detail } => Network {
                what,
                detail: r(detail),
            },
            Decode { what, detail } => Decode {
                what,
                detail: r(detail),
            },
            PersistFailed { detail } => PersistFailed { detail: r(detail) },
            e @ (Throttled { .. } | Timeout { .. }) => e,
        }
    }
}

fn redact_text(mut s: String, secrets: &[&str]) -> String {
    for secret in secrets {
        // Very short strings would redact ordinary words; real secrets are long.
        if secret.len() >= 6 && s.contains(secret) {
            s = s.replace(secret, "[redacted]");
        }
    }
    s
}

/// Keeps at most `MAX_DETAIL` characters of server text, on a char boundary.
pub(crate) fn truncate(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(MAX_DETAIL) {
        Some((idx, _)) => format!("{}…", &s[..idx]),
        None => s.to_string(),
    }
}

/// Removes a leading UTF-8 byte order mark (some Partner Center responses start with one).
pub fn strip_bom(body: &[u8]) -> &[u8] {
    body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body)
}

/// `code` comes as a number in Microsoft's examples but the SDK declares it a string: accept both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultCode(pub String);

impl<'de> Deserialize<'de> for FaultCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            S(String),
            I(i64),
            U(u64),
            F(f64),
        }
        Ok(FaultCode(match Option::<Raw>::deserialize(d)? {
            Some(Raw::S(s)) => s.trim().to_string(),
            Some(Raw::I(i)) => i.to_string(),
            Some(Raw::U(u)) => u.to_string(),
            Some(Raw::F(f)) => f.to_string(),
            None => String::new(),
        }))
    }
}

/// Partner Center's error body (`ApiFault`); unknown fields ignored.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ApiFault {
    pub code: FaultCode,
    pub description: Option<String>,
    pub data: Option<serde_json::Value>,
    pub source: Option<String>,
    // The 429 body is `{statusCode, message}` instead.
    pub status_code: Option<serde_json::Value>,
    pub message: Option<String>,
}

impl ApiFault {
    /// Parses an error body leniently: BOM stripped, anything unparsable becomes an empty fault whose
    /// description is the (truncated) raw text.
    pub fn parse(body: &[u8]) -> ApiFault {
        let body = strip_bom(body);
        match serde_json::from_slice::<ApiFault>(body) {
            Ok(f) => f,
            Err(_) => ApiFault {
                description: Some(truncate(&String::from_utf8_lossy(body))),
                ..ApiFault::default()
            },
        }
    }

    fn text(&self) -> String {
        truncate(self.description.as_deref().or(self.message.as_deref()).unwrap_or(""))
    }
}

/// Maps a non-success Partner Center API response to an error. `retry_after` is the parsed
/// `Retry-After` header.
pub fn api_error(status: u16, body: &[u8], retry_after: Option<Duration>) -> PartnerCenterError {
    use PartnerCenterError::*;
    let fault = ApiFault::parse(body);
    let code = fault.code.0.clone();
    let description = fault.text();
    match status {
        401 => match code.as_str() {
            "900421" => MfaRequired {
                detail: with_code(&code, &description),
            },
            "900420" => WrongAudience {
                detail: with_code(&code, &description),
            },
            _ => Unauthorized {
                detail: with_code(&code, &description),
            },
        },
        403 if is_app_only_refusal(&description) => AppOnlyNotAllowed { detail: description },
        403 => Forbidden { code, description },
        404 => NotFound { code, description },
        429 => Throttled {
            retry_after: retry_after.or_else(|| retry_after_from_message(&description)),
        },
        400 if code == "800018" => SandboxLimitReached { description },
        408 | 504 => Timeout {
            what: format!("Partner Center (HTTP {status}: {description})"),
        },
        500..=599 => Server {
            status,
            code,
            description,
        },
        _ => Rejected {
            status,
            code,
            description,
        },
    }
}

fn with_code(code: &str, description: &str) -> String {
    if code.is_empty() {
        description.to_string()
    } else {
        format!("code {code}: {description}")
    }
}

fn is_app_only_refusal(description: &str) -> bool {
    let d = description.to_ascii_lowercase().replace('\u{2019}', "'");
    (d.contains("can't be accessed") || d.contains("cannot be accessed") || d.contains("can not be accessed"))
        && d.contains("application credentials")
}

/// "Rate limit is exceeded. Try again in 57 seconds." → 57 s (used when the header is missing).
fn retry_after_from_message(msg: &str) -> Option<Duration> {
    let lower = msg.to_ascii_lowercase();
    let rest = &lower[lower.find("try again in")? + "try again in".len()..];
    let digits: String = rest.trim_start().chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok().map(Duration::from_secs)
}

/// Parses `Retry-After` as delta-seconds (Partner Center's form). HTTP dates are not used by it.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    v.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite() && *f >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Entra's OAuth error body.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct EntraError {
    pub error: String,
    pub error_description: String,
    pub error_codes: Vec<u64>,
}

impl EntraError {
    /// The AADSTS codes: `error_codes`, or else the `AADSTSnnnn` numbers in the description.
    pub fn codes(&self) -> Vec<u64> {
        if !self.error_codes.is_empty() {
            return self.error_codes.clone();
        }
        let mut codes = Vec::new();
        let mut rest = self.error_description.as_str();
        while let Some(pos) = rest.find("AADSTS") {
            rest = &rest[pos + 6..];
            let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            if let Ok(c) = digits.parse() {
                codes.push(c);
            }
        }
        codes
    }
}

/// Maps a failed token-endpoint response to an error.
pub fn token_error(status: u16, body: &[u8], retry_after: Option<Duration>) -> PartnerCenterError {
    use PartnerCenterError::*;
    let body = strip_bom(body);
    let parsed: Option<EntraError> = serde_json::from_slice(body).ok();
    let Some(e) = parsed.filter(|e| !e.error.is_empty() || !e.error_codes.is_empty()) else {
        // Not Entra's shape (a proxy's page, an overloaded front end): classify by status only.
        let text = truncate(&String::from_utf8_lossy(body));
        return match status {
            429 => Throttled { retry_after },
            408 | 504 => Timeout {
                what: "the token endpoint".into(),
            },
            500..=599 => Server {
                status,
                code: String::new(),
                description: text,
            },
            _ => TokenRequestFailed {
                error: format!("HTTP {status}"),
                detail: text,
            },
        };
    };
    let detail = truncate(first_line(&e.error_description));
    let codes = e.codes();
    let has = |c: u64| codes.contains(&c);
    if has(700082) {
        ConsentExpired { detail }
    } else if has(50173) {
        ConsentRevoked { detail }
    } else if has(50076) || has(50078) || has(50079) {
        MfaRequired { detail }
    } else if has(700016) || has(700007) || has(700005) || has(90002) || has(700003) {
        WrongTenantOrClient { detail }
    } else if has(7000215) || has(7000222) {
        InvalidClientSecret { detail }
    } else if status == 429 {
        Throttled { retry_after }
    } else if status >= 500 {
        Server {
            status,
            code: codes.first().map(|c| c.to_string()).unwrap_or_default(),
            description: detail,
        }
    } else {
        TokenRequestFailed {
            error: truncate(&e.error),
            detail,
        }
    }
}

fn first_line(s: &str) -> &str {
    // Entra appends "\r\nTrace ID: … Correlation ID: … Timestamp: …"; the first line is the message.
    s.split(['\r', '\n']).next().unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_code_number_or_string() {
        let cases: &[(&str, &str)] = &[
            (
                r#"{"code":3000,"description":"x","data":[],"source":"PartnerFD"}"#,
                "3000",
            ),
            (r#"{"code":"2000","description":"x"}"#, "2000"),
            (r#"{"code":null,"description":"x"}"#, ""),
            (r#"{"description":"x","extra":{"a":1}}"#, ""),
            ("\u{feff}{\"code\":800018,\"description\":\"x\"}", "800018"),
        ];
        for (body, code) in cases {
            assert_eq!(ApiFault::parse(body.as_bytes()).code.0, *code, "{body}");
        }
    }

    #[test]
    fn api_status_mapping() {
        let cases: &[(u16, &str, &str)] = &[
            (
                401,
                r#"{"code":900421,"description":"MFA claim missing"}"#,
                "MfaRequired",
            ),
            (
                401,
                r#"{"code":"900420","description":"audience not supported"}"#,
                "WrongAudience",
            ),
            (401, "", "Unauthorized"),
            (
                403,
                r#"{"code":0,"description":"This resource can't be accessed by application credentials."}"#,
                "AppOnlyNotAllowed",
            ),
            (
                403,
                r#"{"code":0,"description":"This resource can\u2019t be accessed by application credentials."}"#,
                "AppOnlyNotAllowed",
            ),
            (
                403,
                r#"{"code":"2","description":"The supplied role does not have the rights to perform the requested operation."}"#,
                "Forbidden",
            ),
            (
                404,
                r#"{"code":3000,"description":"Partner Organization could not be found","data":[],"source":"PartnerFD"}"#,
                "NotFound",
            ),
            (
                429,
                r#"{"statusCode":429,"message":"Rate limit is exceeded. Try again in 57 seconds."}"#,
                "Throttled",
            ),
            (
                400,
                r#"{"code":800018,"description":"The sandbox limit has been met"}"#,
                "SandboxLimitReached",
            ),
            (400, r#"{"code":2000,"description":"bad"}"#, "RequestRejected"),
            (409, r#"{"code":1,"description":"exists"}"#, "RequestRejected"),
            (500, "<html>oops</html>", "ServerError"),
            (503, r#"{"code":"x"}"#, "ServerError"),
            (504, "", "Timeout"),
        ];
        for (status, body, reason) in cases {
            let e = api_error(*status, body.as_bytes(), None);
            assert_eq!(e.reason(), *reason, "{status} {body}: {e}");
        }
    }

    #[test]
    fn throttle_retry_after_header_or_message() {
        let body = br#"{"statusCode":429,"message":"Rate limit is exceeded. Try again in 57 seconds."}"#;
        assert_eq!(
            api_error(429, body, Some(Duration::from_secs(3))),
            PartnerCenterError::Throttled {
                retry_after: Some(Duration::from_secs(3))
            }
        );
        assert_eq!(
            api_error(429, body, None),
            PartnerCenterError::Throttled {
                retry_after: Some(Duration::from_secs(57))
            }
        );
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn entra_error_mapping() {
        let entra = |codes: &str, desc: &str| {
            format!(
                r#"{{"error":"invalid_grant","error_description":"{desc}","error_codes":{codes},"timestamp":"2026-01-01 00:00:00Z","trace_id":"t","correlation_id":"c"}}"#
            )
        };
        let cases: Vec<(u16, String, &str)> = vec![
            (
                400,
                entra(
                    "[700082]",
                    "AADSTS700082: The refresh token has expired due to inactivity.",
                ),
                "ConsentExpired",
            ),
            (
                400,
                entra(
                    "[50173]",
                    "AADSTS50173: The provided grant has expired due to it being revoked.",
                ),
                "ConsentRevoked",
            ),
            (
                400,
                entra("[50076]", "AADSTS50076: you must use multi-factor authentication"),
                "MfaRequired",
            ),
            (400, entra("[50078]", "AADSTS50078: MFA expired"), "MfaRequired"),
            (
                400,
                entra("[700016]", "AADSTS700016: Application not found in the directory"),
                "WrongTenantOrClient",
            ),
            (
                400,
                entra("[700007]", "AADSTS700007: refresh token of another client"),
                "WrongTenantOrClient",
            ),
            (
                400,
                entra("[700005]", "AADSTS700005: intended for another tenant"),
                "WrongTenantOrClient",
            ),
            (
                401,
                entra("[7000215]", "AADSTS7000215: Invalid client secret provided."),
                "InvalidClientSecret",
            ),
            (
                400,
                entra("[90013]", "AADSTS90013: Invalid input"),
                "TokenRequestFailed",
            ),
            // No error_codes: the AADSTS number in the description is enough.
            (
                400,
                r#"{"error":"invalid_grant","error_description":"AADSTS700082: expired"}"#.into(),
                "ConsentExpired",
            ),
            (503, "Service Unavailable".into(), "ServerError"),
            (429, "".into(), "Throttled"),
            (400, "not json".into(), "TokenRequestFailed"),
            (500, entra("[]", "AADSTS90033: A transient error"), "ServerError"),
        ];
        for (status, body, reason) in cases {
            let e = token_error(status, body.as_bytes(), None);
            assert_eq!(e.reason(), reason, "{body}: {e}");
        }
    }

    #[test]
    fn entra_detail_keeps_first_line_only() {
        let body = r#"{"error":"invalid_grant","error_description":"AADSTS700082: expired.\r\nTrace ID: abc\r\nCorrelation ID: def","error_codes":[700082]}"#;
        let e = token_error(400, body.as_bytes(), None);
        assert_eq!(
            e,
            PartnerCenterError::ConsentExpired {
                detail: "AADSTS700082: expired.".into()
            }
        );
    }

    #[test]
    fn redaction_and_truncation() {
        let e = PartnerCenterError::Rejected {
            status: 400,
            code: "1".into(),
            description: "bad secret SuperSecretValue99 echoed".into(),
        }
        .redact(&["SuperSecretValue99"]);
        assert!(!e.to_string().contains("SuperSecretValue99"), "{e}");
        assert!(e.to_string().contains("[redacted]"));
        let long = "é".repeat(2000);
        assert_eq!(truncate(&long).chars().count(), MAX_DETAIL + 1);
    }

    #[test]
    fn bom_strip() {
        assert_eq!(strip_bom(b"\xEF\xBB\xBF{}"), b"{}");
        assert_eq!(strip_bom(b"{}"), b"{}");
    }
}
