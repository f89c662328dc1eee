//! Typed errors of the Partner Center client, and the pure mapping from HTTP status + body
//! (Partner Center `{code, description, data, source}`, the 429 `{statusCode, message}` body, and
//! Entra's `{error, error_description, error_codes}`) to them.
//!
//! Every kind has a stable [`PartnerCenterError::reason`] for Kubernetes condition reasons.
//!
//! **No response text is ever copied into an error.** Error messages go into status conditions and
//! Events, and an allowed endpoint may echo the request — which carries the client secret and the
//! refresh token — in any encoding it likes (percent-, form-, JSON-escaped, base64, split over lines,
//! truncated). Redacting every encoding of every secret is a block-list that is only as good as the
//! encodings someone thought of; copying nothing from the server but structured fields is closed by
//! construction. So a message carries only: the HTTP status, Partner Center's `code` when it is a
//! number, Entra's `error` when it is a standard OAuth code, and the AADSTS numbers — which are what
//! a partner's admin looks up anyway. Descriptions are read to classify (e.g. the App-only refusal)
//! and are then dropped. JSON decoding failures keep the position, never the offending value
//! ([`decode_detail`]). The client still redacts its own secrets from the texts it builds itself
//! (transport errors, the refresh-token sink's failure), as a second line.

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
    #[error("forbidden (HTTP 403{}){}", code_part(.code), text_part(.description))]
    Forbidden { code: String, description: String },
    #[error("not found (HTTP 404{}){}", code_part(.code), text_part(.description))]
    NotFound { code: String, description: String },
    #[error("the sandbox quota has been reached (code 800018){}", text_part(.description))]
    SandboxLimitReached { description: String },
    #[error("request rejected (HTTP {status}{}){}", code_part(.code), text_part(.description))]
    Rejected {
        status: u16,
        code: String,
        description: String,
    },
    #[error("throttled by Partner Center (HTTP 429); retry after {}", fmt_retry(.retry_after))]
    Throttled { retry_after: Option<Duration> },
    #[error("Partner Center server error (HTTP {status}{}){}", code_part(.code), text_part(.description))]
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
    #[error(
        "the response of {what} is larger than the client accepts ({limit} bytes); the connection was \
         dropped — the endpoint is not behaving like Partner Center or Entra: check spec.endpoints"
    )]
    ResponseTooLarge { what: String, limit: u64 },
    /// A create whose answer never arrived (the connection dropped, the request timed out, the
    /// server failed with 5xx, or the 201 could not be read): the object may or may not exist.
    #[error(
        "the outcome of {what} is unknown ({cause}); Partner Center may have created it: look it up before \
         creating again"
    )]
    OutcomeUnknown {
        what: String,
        cause: Box<PartnerCenterError>,
    },
}

fn code_part(code: &str) -> String {
    if code.is_empty() {
        String::new()
    } else {
        format!(", code {code}")
    }
}

fn text_part(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
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
            ResponseTooLarge { .. } => "ResponseTooLarge",
            OutcomeUnknown { .. } => "OutcomeUnknown",
        }
    }

    /// Partner Center's numeric error `code` (e.g. 600049, 2030, 800018), when the response had one.
    pub fn code(&self) -> Option<u64> {
        use PartnerCenterError::*;
        match self {
            Forbidden { code, .. } | NotFound { code, .. } | Rejected { code, .. } | Server { code, .. } => {
                code.parse().ok()
            }
            SandboxLimitReached { .. } => Some(800018),
            OutcomeUnknown { cause, .. } => cause.code(),
            _ => None,
        }
    }

    /// True when a create may have succeeded although no answer says so (see
    /// [`PartnerCenterError::OutcomeUnknown`]): the caller must look the object up, not trust the error.
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(self, PartnerCenterError::OutcomeUnknown { .. })
    }

    /// Wraps a failure of a create that may nevertheless have taken effect at Partner Center: no
    /// answer (timeout, dropped connection), a 5xx after the retries, or a success that could not be
    /// read. Every other error is a definite answer and is returned unchanged.
    pub fn for_create(self, what: &str) -> Self {
        use PartnerCenterError::*;
        match self {
            e @ (Timeout { .. } | Network { .. } | Server { .. } | Decode { .. } | ResponseTooLarge { .. }) => {
                OutcomeUnknown {
                    what: what.to_string(),
                    cause: Box::new(e),
                }
            }
            e => e,
        }
    }

    /// True for failures a later attempt may cure without anyone changing configuration or
    /// credentials (the controller requeues these with backoff rather than reporting misconfiguration).
    pub fn is_transient(&self) -> bool {
        use PartnerCenterError::*;
        matches!(
            self,
            Throttled { .. }
                | Server { .. }
                | Timeout { .. }
                | Network { .. }
                | PersistFailed { .. }
                | OutcomeUnknown { .. }
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
        // Redact first, truncate after: truncating first could leave a prefix of a secret that no
        // longer matches it.
        let r = |s: String| truncate(&redact_text(s, secrets));
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
            OutcomeUnknown { what, cause } => OutcomeUnknown {
                what,
                cause: Box::new(cause.redact(secrets)),
            },
            e @ (Throttled { .. } | Timeout { .. } | ResponseTooLarge { .. }) => e,
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

/// True when `text` carries any 8-character run of a secret, raw or in the encodings a server
/// echoing the request would use (percent/form, JSON-escaped, base64 and base64url). For the few
/// answers whose server text is itself the result (the address validation's reason and corrected
/// address): such a field is dropped whole rather than redacted, since a partial match means the
/// server is echoing.
pub(crate) fn echoes_secret(text: &str, secrets: &[&str]) -> bool {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    const RUN: usize = 8;
    secrets.iter().filter(|s| s.len() >= 6).any(|secret| {
        let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        let pct_all: String = secret.bytes().map(|b| format!("%{b:02X}")).collect();
        let json = serde_json::to_string(secret).unwrap_or_default();
        let mut forms = vec![
            secret.to_string(),
            form.clone(),
            form.to_lowercase(),
            form.replace('+', "%20"),
            pct_all.clone(),
            pct_all.to_lowercase(),
            json.trim_matches('"').to_string(),
        ];
        for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
            forms.push(engine.encode(secret.as_bytes()));
        }
        forms.extend(secret.lines().map(str::to_string));
        forms.iter().any(|f| {
            let chars: Vec<char> = f.chars().collect();
            if chars.len() < RUN {
                return !f.is_empty() && text.contains(f.as_str());
            }
            chars.windows(RUN).any(|w| text.contains(&w.iter().collect::<String>()))
        })
    })
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

/// Partner Center's error body (`ApiFault`); unknown fields ignored. Read only to classify a
/// failure: no field of it is copied into an error message except the numeric `code` (see the
/// module documentation).
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
    /// Parses an error body leniently: BOM stripped, anything unparsable becomes an empty fault.
    pub fn parse(body: &[u8]) -> ApiFault {
        serde_json::from_slice::<ApiFault>(strip_bom(body)).unwrap_or_default()
    }

    /// The description (or the 429 body's message), for classification only.
    fn text(&self) -> &str {
        self.description.as_deref().or(self.message.as_deref()).unwrap_or("")
    }
}

/// The longest code kept: Partner Center's codes are small integers, AADSTS numbers have ≤ 8 digits.
const MAX_CODE_DIGITS: usize = 12;

/// A server-supplied code if it is a plain number (Partner Center's `code` is one in practice),
/// else empty: an arbitrary string from the server is never put in a message.
pub fn structured_code(code: &str) -> String {
    let c = code.trim();
    if !c.is_empty() && c.len() <= MAX_CODE_DIGITS && c.bytes().all(|b| b.is_ascii_digit()) {
        c.to_string()
    } else {
        String::new()
    }
}

/// Maps a non-success Partner Center API response to an error. `retry_after` is the parsed (and
/// clamped) `Retry-After` header. Only the HTTP status and the numeric `code` reach the message.
pub fn api_error(status: u16, body: &[u8], retry_after: Option<Duration>) -> PartnerCenterError {
    use PartnerCenterError::*;
    let fault = ApiFault::parse(body);
    let code = structured_code(&fault.code.0);
    let text = fault.text();
    let description = String::new();
    match status {
        401 => match code.as_str() {
            "900421" => MfaRequired {
                detail: with_code(&code),
            },
            "900420" => WrongAudience {
                detail: with_code(&code),
            },
            _ => Unauthorized {
                detail: with_code(&code),
            },
        },
        403 if is_app_only_refusal(text) => AppOnlyNotAllowed {
            detail: with_code(&code),
        },
        403 => Forbidden { code, description },
        404 => NotFound { code, description },
        429 => Throttled {
            retry_after: retry_after.or_else(|| super::durations::retry_after_in_message(text)),
        },
        400 if code == "800018" => SandboxLimitReached { description },
        408 | 504 => Timeout {
            what: format!("Partner Center (HTTP {status})"),
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

fn with_code(code: &str) -> String {
    if code.is_empty() {
        "no error code".to_string()
    } else {
        format!("code {code}")
    }
}

fn is_app_only_refusal(description: &str) -> bool {
    let d = description.to_ascii_lowercase().replace('\u{2019}', "'");
    (d.contains("can't be accessed") || d.contains("cannot be accessed") || d.contains("can not be accessed"))
        && d.contains("application credentials")
}

/// Parses `Retry-After` (delta-seconds or HTTP-date), clamped; see [`super::durations::retry_after`].
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    super::durations::retry_after(value, std::time::SystemTime::now())
}

/// Entra's OAuth error body. Read to classify; only `error` (when it is one of the standard OAuth
/// error codes) and the AADSTS numbers reach a message.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct EntraError {
    pub error: String,
    pub error_description: String,
    #[serde(deserialize_with = "lenient_codes")]
    pub error_codes: Vec<u64>,
}

/// `error_codes` as integers; anything else in the list (strings, floats, objects) is dropped rather
/// than failing the whole body.
fn lenient_codes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(v.as_array()
        .map(|a| a.iter().filter_map(serde_json::Value::as_u64).collect())
        .unwrap_or_default())
}

/// The OAuth 2.0 / OpenID Connect error codes (RFC 6749 §5.2, §4.1.2.1; OIDC Core §3.1.2.6) and the
/// device-flow ones Entra uses. Any other `error` string is reported as "unrecognized".
const OAUTH_ERRORS: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_resource",
    "access_denied",
    "unsupported_response_type",
    "server_error",
    "temporarily_unavailable",
    "interaction_required",
    "login_required",
    "consent_required",
    "account_selection_required",
    "authorization_pending",
    "expired_token",
    "slow_down",
];

/// At most this many AADSTS codes are kept (Entra sends one or two).
const MAX_CODES: usize = 4;

impl EntraError {
    /// The AADSTS codes: `error_codes`, or else the `AADSTSnnnn` numbers in the description.
    pub fn codes(&self) -> Vec<u64> {
        if !self.error_codes.is_empty() {
            return self.error_codes.iter().copied().take(MAX_CODES).collect();
        }
        let mut codes = Vec::new();
        let mut rest = self.error_description.as_str();
        while let Some(pos) = rest.find("AADSTS") {
            rest = &rest[pos + 6..];
            let digits: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .take(MAX_CODE_DIGITS)
                .collect();
            if let Ok(c) = digits.parse() {
                codes.push(c);
            }
            if codes.len() == MAX_CODES {
                break;
            }
        }
        codes
    }

    /// `error` if it is a standard OAuth error code, else "unrecognized error".
    pub fn error_code(&self) -> String {
        let e = self.error.trim();
        if OAUTH_ERRORS.contains(&e) {
            e.to_string()
        } else if e.is_empty() {
            "no error code".to_string()
        } else {
            "unrecognized error".to_string()
        }
    }
}

/// "AADSTS700082" or "AADSTS50076, AADSTS50079": what the partner's admin looks up.
fn aadsts(codes: &[u64]) -> String {
    if codes.is_empty() {
        return "no AADSTS code".to_string();
    }
    codes
        .iter()
        .map(|c| format!("AADSTS{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Maps a failed token-endpoint response to an error. Only the HTTP status, the standard OAuth
/// `error` code and the AADSTS numbers reach the message.
pub fn token_error(status: u16, body: &[u8], retry_after: Option<Duration>) -> PartnerCenterError {
    use PartnerCenterError::*;
    let body = strip_bom(body);
    let parsed: Option<EntraError> = serde_json::from_slice(body).ok();
    let Some(e) = parsed.filter(|e| !e.error.is_empty() || !e.error_codes.is_empty()) else {
        // Not Entra's shape (a proxy's page, an overloaded front end): classify by status only.
        return match status {
            429 => Throttled { retry_after },
            408 | 504 => Timeout {
                what: "the token endpoint".into(),
            },
            500..=599 => Server {
                status,
                code: String::new(),
                description: String::new(),
            },
            _ => TokenRequestFailed {
                error: format!("HTTP {status}"),
                detail: "the response is not an Entra error body".into(),
            },
        };
    };
    let codes = e.codes();
    let detail = aadsts(&codes);
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
            description: String::new(),
        }
    } else {
        TokenRequestFailed {
            error: e.error_code(),
            detail,
        }
    }
}

/// What a JSON decoding failure says, without any value from the document: serde_json's messages
/// quote the offending value (`invalid type: string "…"`), which may be anything the server chose.
/// Kept: the kind of failure, the position, and a missing field's name (a name from our own types).
pub fn decode_detail(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let text = e.to_string();
    if let Some(rest) = text.strip_prefix("missing field `")
        && let Some((field, _)) = rest.split_once('`')
        && field.len() <= 64
        && field.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return format!("missing field `{field}` at line {} column {}", e.line(), e.column());
    }
    let kind = match e.classify() {
        Category::Io => "an I/O error",
        Category::Syntax => "not valid JSON",
        Category::Data => "a value of the wrong type or shape",
        Category::Eof => "the document ends early",
    };
    format!("{kind} at line {} column {}", e.line(), e.column())
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
        // An HTTP-date in the past means "now" (the full table is in `durations`).
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
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
    fn messages_carry_structured_fields_only() {
        // One row per response: the exact message a user sees in status. No description, message,
        // error_description or unusual code string from the server survives.
        let api: &[(u16, &str, &str)] = &[
            (
                403,
                r#"{"code":"2","description":"The supplied role does not have the rights. SECRET-X"}"#,
                "forbidden (HTTP 403, code 2)",
            ),
            (
                403,
                r#"{"code":0,"description":"This resource can't be accessed by application credentials. SECRET-X"}"#,
                "this Partner Center resource needs App+User (refresh token) authentication: code 0",
            ),
            (
                404,
                r#"{"code":3000,"description":"SECRET-X not found"}"#,
                "not found (HTTP 404, code 3000)",
            ),
            (
                409,
                r#"{"code":"SECRET-X","description":"exists"}"#,
                "request rejected (HTTP 409)",
            ),
            (
                400,
                r#"{"code":800018,"description":"SECRET-X"}"#,
                "the sandbox quota has been reached (code 800018)",
            ),
            (500, "<html>SECRET-X</html>", "Partner Center server error (HTTP 500)"),
            (504, "SECRET-X", "timed out waiting for Partner Center (HTTP 504)"),
            (
                401,
                r#"{"code":900421,"description":"SECRET-X"}"#,
                "multi-factor authentication is required (the user token carries no MFA claim): code 900421",
            ),
            (
                401,
                "SECRET-X",
                "unauthorized (HTTP 401) after re-authenticating: no error code",
            ),
            (
                429,
                r#"{"statusCode":429,"message":"SECRET-X. Try again in 1e30 seconds."}"#,
                "throttled by Partner Center (HTTP 429); retry after 600 s",
            ),
            (
                429,
                r#"{"statusCode":429,"message":"SECRET-X. Try again in soon seconds."}"#,
                "throttled by Partner Center (HTTP 429); retry after an unspecified time",
            ),
        ];
        for (status, body, want) in api {
            let e = api_error(*status, body.as_bytes(), None);
            assert_eq!(e.to_string(), *want, "{status} {body}");
            assert!(!format!("{e:?}").contains("SECRET"), "{e:?}");
        }
        let entra = |error: &str, desc: &str, codes: &str| {
            format!(r#"{{"error":"{error}","error_description":"{desc}","error_codes":{codes}}}"#)
        };
        let token: &[(u16, String, &str)] = &[
            (
                400,
                entra(
                    "invalid_grant",
                    "AADSTS700082: expired SECRET-X.\\r\\nTrace ID: abc",
                    "[700082]",
                ),
                "the refresh token has expired; re-run the consent flow: AADSTS700082",
            ),
            (
                400,
                entra("SECRET-X", "AADSTS90013: SECRET-X", "[90013]"),
                "token request refused (unrecognized error): AADSTS90013",
            ),
            (
                400,
                entra("invalid_request", "SECRET-X AADSTS50076 AADSTS50079", "[]"),
                "multi-factor authentication is required (the user token carries no MFA claim): AADSTS50076, AADSTS50079",
            ),
            (
                400,
                entra("invalid_client", "SECRET-X", r#"["SECRET-X", 7000215, 1e30]"#),
                "the client secret is invalid or expired: AADSTS7000215",
            ),
            (
                401,
                "SECRET-X".into(),
                "token request refused (HTTP 401): the response is not an Entra error body",
            ),
            (502, "SECRET-X".into(), "Partner Center server error (HTTP 502)"),
        ];
        for (status, body, want) in token {
            let e = token_error(*status, body.as_bytes(), None);
            assert_eq!(e.to_string(), *want, "{status} {body}");
            assert!(!format!("{e:?}").contains("SECRET"), "{e:?}");
        }
    }

    #[test]
    fn decode_details_never_quote_the_document() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct T {
            access_token: String,
            n: Option<u64>,
        }
        let cases: &[(&str, &str)] = &[
            (
                r#"{"access_token":["SECRET-X"]}"#,
                "a value of the wrong type or shape at line 1 column 16",
            ),
            (
                r#"{"access_token":"a","n":"SECRET-X"}"#,
                "a value of the wrong type or shape at line 1 column 34",
            ),
            (r#"{"n":1}"#, "missing field `access_token` at line 1 column 7"),
            (r#"{"access_token":SECRET-X}"#, "not valid JSON at line 1 column 17"),
            (
                r#"{"access_token":"SECRET-X"#,
                "the document ends early at line 1 column 25",
            ),
        ];
        for (doc, want) in cases {
            let e = serde_json::from_str::<T>(doc).unwrap_err();
            assert_eq!(decode_detail(&e), *want, "{doc}");
        }
    }

    #[test]
    fn redaction_runs_before_truncation() {
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
        // A secret straddling the cut: redacted whole first, so no prefix of it is left behind.
        let secret = "PersistSecretValue-0123456789";
        let detail = format!("{}{secret}", "x".repeat(MAX_DETAIL - 10));
        let e = PartnerCenterError::PersistFailed { detail }.redact(&[secret]);
        assert!(!e.to_string().contains(&secret[..10]), "{e}");
    }

    #[test]
    fn codes_and_unknown_outcomes_of_a_create() {
        let body = |code: &str| format!(r#"{{"code":{code},"description":"d"}}"#).into_bytes();
        let timeout = PartnerCenterError::Timeout { what: "x".into() };
        let network = PartnerCenterError::Network {
            what: "x".into(),
            detail: "reset".into(),
        };
        let decode = PartnerCenterError::Decode {
            what: "x".into(),
            detail: "eof".into(),
        };
        // (error, its code, unknown outcome once a create failed with it)
        let cases: Vec<(PartnerCenterError, Option<u64>, bool)> = vec![
            (api_error(400, &body("600049"), None), Some(600049), false),
            (api_error(400, &body("\"600002\""), None), Some(600002), false),
            (api_error(403, &body("2030"), None), Some(2030), false),
            (api_error(403, &body("900123"), None), Some(900123), false),
            (api_error(400, &body("800016"), None), Some(800016), false),
            (api_error(400, &body("800018"), None), Some(800018), false),
            (api_error(409, &body("600061"), None), Some(600061), false),
            (api_error(400, b"not json", None), None, false),
            (api_error(503, &body("500"), None), Some(500), true),
            (api_error(504, b"", None), None, true),
            (api_error(429, b"", None), None, false),
            (timeout, None, true),
            (network, None, true),
            (decode, None, true),
            (PartnerCenterError::config("domain", "bad"), None, false),
        ];
        for (e, code, unknown) in cases {
            let shown = format!("{e}");
            assert_eq!(e.code(), code, "{shown}");
            let c = e.for_create("Partner Center POST /v1/customers");
            assert_eq!(c.is_outcome_unknown(), unknown, "{shown}");
            assert_eq!(c.code(), code, "the code survives the wrapping: {shown}");
            if unknown {
                assert_eq!(c.reason(), "OutcomeUnknown");
                assert!(c.to_string().contains(&shown), "{c}");
            }
        }
    }

    #[test]
    fn bom_strip() {
        assert_eq!(strip_bom(b"\xEF\xBB\xBF{}"), b"{}");
        assert_eq!(strip_bom(b"{}"), b"{}");
    }
}
