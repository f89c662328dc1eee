//! Entra ID endpoints: v1/v2 token endpoints (client_credentials, refresh_token,
//! authorization_code) and the authorize endpoint that stands in for interactive consent.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use super::keys::Signer;
use super::state::{
    ACCESS_TOKEN_SECONDS, AUTH_CODE_SECONDS, AccessToken, AuthCode, EmulatorState, Inner, PkceMethod,
    REFRESH_TOKEN_SECONDS, RefreshState, RefreshToken, derived_guid,
};
use super::wire::{self, TokenGrant, entra_error, raw_json};

pub const PARTNER_CENTER_RESOURCE: &str = "https://api.partnercenter.microsoft.com";

/// Resources a token can be issued for; any other is `invalid_resource` (AADSTS500011), as Entra
/// answers for a resource with no service principal. graph.windows.net is kept so clients can be
/// tested against Partner Center's refusal of that legacy audience (900420, src/api.rs); Microsoft
/// Graph for bare scopes such as `User.Read`.
pub const KNOWN_RESOURCES: &[&str] = &[
    PARTNER_CENTER_RESOURCE,
    "https://graph.windows.net",
    "https://graph.microsoft.com",
];

/// True for the paths Entra serves (token, authorize, discovery, keys): their errors are
/// Entra-shaped, never Partner Center-shaped.
pub fn is_login_path(path: &str) -> bool {
    path.contains("/oauth2/") || path.contains("/.well-known/") || path.contains("/discovery/")
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

type Shared = Arc<EmulatorState>;

pub async fn token_v1(
    State(s): State<Shared>,
    Path(authority): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    token(&s, Version::V1, &authority, &headers, &body)
}

pub async fn token_v2(
    State(s): State<Shared>,
    Path(authority): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    token(&s, Version::V2, &authority, &headers, &body)
}

/// A login path with a method it does not serve (e.g. GET on the token endpoint).
pub async fn method_not_allowed(State(s): State<Shared>, method: axum::http::Method) -> Response {
    entra_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request",
        900561,
        &format!("The endpoint only accepts POST, OPTIONS requests. Received a {method} request."),
        s.clock.now(),
    )
}

/// HTTP Basic client authentication (RFC 6749 §2.3.1): `base64(urlencode(id):urlencode(secret))`.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine;
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

pub fn parse_form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// An Entra error; built lazily because it needs the emulator time.
struct Refusal {
    status: StatusCode,
    error: &'static str,
    code: u32,
    message: String,
}

fn refuse(status: StatusCode, error: &'static str, code: u32, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        error,
        code,
        message: message.into(),
    }
}

fn missing(param: &str) -> Refusal {
    refuse(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        900144,
        format!("The request body must contain the following parameter: '{param}'."),
    )
}

/// What the caller asked a token for.
struct Audience {
    resource: String,
    /// v2: the scope string echoed back; v1: None.
    scope: Option<String>,
    openid: bool,
    /// v2: a refresh token only with `offline_access`; v1: always for user grants.
    offline: bool,
}

fn invalid_resource(resource: &str, tenant: &str) -> Refusal {
    refuse(
        StatusCode::BAD_REQUEST,
        "invalid_resource",
        500011,
        format!(
            "The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."
        ),
    )
}

fn audience(
    version: Version,
    form: &HashMap<String, String>,
    app_only: bool,
    tenant: &str,
) -> Result<Audience, Refusal> {
    let aud = requested_audience(version, form, app_only)?;
    if !KNOWN_RESOURCES.contains(&aud.resource.as_str()) {
        return Err(invalid_resource(&aud.resource, tenant));
    }
    Ok(aud)
}

fn requested_audience(version: Version, form: &HashMap<String, String>, app_only: bool) -> Result<Audience, Refusal> {
    let scope = form.get("scope").map(String::as_str).unwrap_or("");
    let openid = scope.split_whitespace().any(|s| s == "openid");
    let offline = version == Version::V1 || scope.split_whitespace().any(|s| s == "offline_access");
    match version {
        Version::V1 => {
            let resource = form
                .get("resource")
                .filter(|r| !r.is_empty())
                .ok_or_else(|| missing("resource"))?;
            Ok(Audience {
                resource: resource.trim_end_matches('/').to_string(),
                scope: None,
                openid,
                offline,
            })
        }
        Version::V2 => {
            let resource_scopes: Vec<&str> = scope
                .split_whitespace()
                .filter(|s| !["openid", "offline_access", "profile", "email"].contains(s))
                .collect();
            let invalid = || {
                refuse(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    70011,
                    format!(
                        "The provided request must include a 'scope' input parameter naming one resource, e.g. '{PARTNER_CENTER_RESOURCE}/.default'."
                    ),
                )
            };
            let [first] = resource_scopes.as_slice() else {
                return Err(if scope.is_empty() { missing("scope") } else { invalid() });
            };
            if app_only && !first.ends_with("/.default") {
                return Err(refuse(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    1002012,
                    format!(
                        "The provided value for scope {first} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                    ),
                ));
            }
            let resource = match first.rfind('/') {
                Some(i) if first.starts_with("https://") && i > "https://".len() => &first[..i],
                _ if first.starts_with("https://") => first,
                // Bare scopes such as User.Read belong to Microsoft Graph.
                _ => "https://graph.microsoft.com",
            };
            Ok(Audience {
                resource: resource.trim_end_matches('/').to_string(),
                scope: Some(resource_scopes.join(" ")),
                openid,
                offline,
            })
        }
    }
}

fn token(state: &EmulatorState, version: Version, authority: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    let now = state.clock.now();
    let form = parse_form(body);
    let basic = basic_credentials(headers);
    let mut inner = state.lock();
    match grant(&mut inner, &state.signer, now, version, authority, &form, basic) {
        Ok(v) => raw_json(StatusCode::OK, v.to_string().into_bytes()),
        Err(r) => entra_error(r.status, r.error, r.code, &r.message, now),
    }
}

fn grant(
    inner: &mut Inner,
    signer: &Signer,
    now: Timestamp,
    version: Version,
    authority: &str,
    form: &HashMap<String, String>,
    basic: Option<(String, String)>,
) -> Result<serde_json::Value, Refusal> {
    let grant_type = form.get("grant_type").ok_or_else(|| missing("grant_type"))?.clone();
    let client_id = form
        .get("client_id")
        .or(basic.as_ref().map(|(id, _)| id))
        .ok_or_else(|| missing("client_id"))?
        .to_lowercase();
    if let Some((basic_id, _)) = &basic
        && !basic_id.eq_ignore_ascii_case(&client_id)
    {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700016,
            format!(
                "The client_id '{client_id}' in the request body differs from the client '{basic_id}' of the Authorization header; send one client."
            ),
        ));
    }
    let secret = form.get("client_secret").cloned().or(basic.map(|(_, secret)| secret));
    let (tenant, secret_ok) = authenticate_client(inner, authority, &client_id, secret.as_deref())?;
    if !secret_ok {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        ));
    }
    if !["client_credentials", "refresh_token", "authorization_code"].contains(&grant_type.as_str()) {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant_type}'."),
        ));
    }
    let app_only = grant_type == "client_credentials";
    // Audience errors come before redemption so a bad request does not consume the grant.
    let aud = audience(version, form, app_only, &tenant)?;
    let (upn, nonce) = match grant_type.as_str() {
        "client_credentials" => (None, None),
        "refresh_token" => (
            Some(redeem_refresh_token(
                inner,
                now,
                &tenant,
                &client_id,
                form,
                aud.offline,
            )?),
            None,
        ),
        _ => {
            let (upn, nonce) = redeem_code(inner, now, &tenant, &client_id, form)?;
            (Some(upn), nonce)
        }
    };
    let wants_client_info = form.get("client_info").is_some_and(|v| v == "1");
    let user = upn.as_deref().map(|u| UserGrant {
        upn: u,
        nonce: nonce.as_deref(),
        client_info: wants_client_info,
    });
    let g = issue(inner, signer, now, version, &tenant, &client_id, user, &aud);
    Ok(match version {
        Version::V1 => wire::token_v1(&g),
        Version::V2 => wire::token_v2(&g),
    })
}

/// Finds the app and its home tenant; the authority must be that tenant, `common` or `organizations`.
fn authenticate_client(
    inner: &Inner,
    authority: &str,
    client_id: &str,
    secret: Option<&str>,
) -> Result<(String, bool), Refusal> {
    let authority_tenant = match authority.to_lowercase().as_str() {
        "common" | "organizations" => None,
        other => Some(inner.resolve_authority(other).ok_or_else(|| {
            refuse(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                90002,
                format!("Tenant '{other}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."),
            )
        })?),
    };
    let not_found = || {
        refuse(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
                authority_tenant.as_deref().unwrap_or(authority)
            ),
        )
    };
    let (home, app) = inner.app_home(client_id).ok_or_else(not_found)?;
    if authority_tenant.as_ref().is_some_and(|a| *a != home) {
        return Err(not_found());
    }
    let secret = secret.ok_or_else(|| {
        refuse(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )
    })?;
    Ok((home, secret == app.client_secret))
}

fn redeem_refresh_token(
    inner: &mut Inner,
    now: Timestamp,
    tenant: &str,
    client_id: &str,
    form: &HashMap<String, String>,
    rotates: bool,
) -> Result<String, Refusal> {
    let presented = form.get("refresh_token").ok_or_else(|| missing("refresh_token"))?;
    let invalid_grant = |code: u32, msg: String| refuse(StatusCode::BAD_REQUEST, "invalid_grant", code, msg);
    let strict = inner.settings.strict_refresh_token_rotation;
    let rt = inner
        .refresh_tokens
        .get(presented)
        .cloned()
        .ok_or_else(|| invalid_grant(9002313, "Invalid request. Request is malformed or invalid.".into()))?;
    if rt.tenant != tenant {
        // Entra's wording for a grant minted by another tenant.
        return Err(invalid_grant(
            700005,
            format!(
                "Provided refresh token is intended to use against other tenant '{}', thus rejected.",
                rt.tenant
            ),
        ));
    }
    if rt.client_id != client_id {
        return Err(invalid_grant(
            700007,
            format!(
                "The refresh token was issued to a different client '{}' and cannot be redeemed by '{client_id}'.",
                rt.client_id
            ),
        ));
    }
    if rt.state == RefreshState::Revoked {
        return Err(invalid_grant(
            50173,
            "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.".into(),
        ));
    }
    if now >= rt.expires {
        return Err(invalid_grant(
            700082,
            format!(
                "The refresh token has expired due to inactivity. The token was issued on {} and was inactive for 90.00:00:00.",
                rt.issued
            ),
        ));
    }
    if let RefreshState::Superseded(at) = rt.state
        && strict
    {
        return Err(invalid_grant(
            700082,
            format!("The refresh token is no longer valid: it was replaced by a newer refresh token on {at}."),
        ));
    }
    if inner
        .partner(tenant)
        .is_none_or(|p| !p.users.iter().any(|u| u.upn == rt.upn))
    {
        return Err(invalid_grant(
            50034,
            format!("The user account {} does not exist in the {tenant} directory.", rt.upn),
        ));
    }
    // Rotation: the presented token is superseded by the one issued with this grant (none is
    // issued on v2 without offline_access, and then nothing is superseded).
    if rotates && let Some(old) = inner.refresh_tokens.get_mut(presented) {
        old.state = RefreshState::Superseded(now);
    }
    Ok(rt.upn)
}

/// Redeems an authorization code; returns the user and the authorize request's nonce.
fn redeem_code(
    inner: &mut Inner,
    now: Timestamp,
    tenant: &str,
    client_id: &str,
    form: &HashMap<String, String>,
) -> Result<(String, Option<String>), Refusal> {
    let presented = form.get("code").ok_or_else(|| missing("code"))?;
    let invalid_grant = |code: u32, msg: &str| refuse(StatusCode::BAD_REQUEST, "invalid_grant", code, msg);
    let code = inner
        .codes
        .get_mut(presented)
        .ok_or_else(|| invalid_grant(9002313, "Invalid request. Request is malformed or invalid."))?;
    if code.tenant != tenant || code.client_id != client_id {
        return Err(invalid_grant(
            700005,
            "Provided Authorization Code is intended to use against other tenant or client, thus rejected.",
        ));
    }
    if code.redeemed {
        return Err(invalid_grant(
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
        ));
    }
    if now >= code.expires {
        return Err(invalid_grant(
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
        ));
    }
    // Bound to the authorize request: same redirect_uri, and the PKCE verifier of its challenge.
    // Checked before the code is consumed, so a client can retry with the right values.
    let redirect_uri = form.get("redirect_uri").ok_or_else(|| missing("redirect_uri"))?;
    if *redirect_uri != code.redirect_uri {
        return Err(invalid_grant(
            500112,
            &format!(
                "The reply address '{redirect_uri}' does not match the reply address '{}' provided when requesting Authorization code.",
                code.redirect_uri
            ),
        ));
    }
    if let Some((method, challenge)) = &code.pkce {
        let verified = form
            .get("code_verifier")
            .is_some_and(|v| pkce_matches(*method, challenge, v));
        if !verified {
            return Err(invalid_grant(
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
            ));
        }
    }
    code.redeemed = true;
    Ok((code.upn.clone(), code.nonce.clone()))
}

/// RFC 7636 §4.6: `plain` compares as is, `S256` compares BASE64URL(SHA256(verifier)).
pub fn pkce_matches(method: PkceMethod, challenge: &str, verifier: &str) -> bool {
    use base64::Engine;
    match method {
        PkceMethod::Plain => verifier == challenge,
        PkceMethod::S256 => {
            let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref()) == challenge
        }
    }
}

/// Entra's redirect URI match: exact (an empty path is `/`), except that for http loopback hosts
/// the port is ignored. `None` (the app lists none) accepts any http loopback URI.
pub fn redirect_registered(registered: Option<&[String]>, requested: &str) -> bool {
    let Ok(req) = url::Url::parse(requested) else {
        return false;
    };
    let loopback =
        |u: &url::Url| u.scheme() == "http" && matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    let Some(registered) = registered else {
        return loopback(&req);
    };
    registered.iter().filter_map(|r| url::Url::parse(r).ok()).any(|reg| {
        let same_port =
            reg.port_or_known_default() == req.port_or_known_default() || (loopback(&reg) && loopback(&req));
        reg.scheme() == req.scheme()
            && reg.host_str() == req.host_str()
            && same_port
            && reg.path() == req.path()
            && reg.query() == req.query()
    })
}

/// The user side of a grant (None for client credentials).
#[derive(Clone, Copy)]
struct UserGrant<'a> {
    upn: &'a str,
    /// From the authorize request; echoed in the id_token.
    nonce: Option<&'a str>,
    /// The request sent `client_info=1` (MSAL does): answer with base64url `{"uid","utid"}`.
    client_info: bool,
}

/// Mints an access token (and for users a fresh 90-day refresh token, on v2 only with
/// `offline_access`).
#[allow(clippy::too_many_arguments)]
fn issue(
    inner: &mut Inner,
    signer: &Signer,
    now: Timestamp,
    version: Version,
    tenant: &str,
    client_id: &str,
    grant: Option<UserGrant<'_>>,
    aud: &Audience,
) -> TokenGrant {
    use base64::Engine;
    let exp = now + SignedDuration::from_secs(ACCESS_TOKEN_SECONDS);
    let user = grant.and_then(|g| {
        inner
            .partner(tenant)
            .and_then(|p| p.users.iter().find(|x| x.upn == g.upn))
    });
    let mfa = user.is_some_and(|u| u.mfa);
    let (iss, ver) = match version {
        Version::V1 => (format!("https://sts.windows.net/{tenant}/"), "1.0"),
        Version::V2 => (format!("https://login.microsoftonline.com/{tenant}/v2.0"), "2.0"),
    };
    let mut payload = json!({
        "aud": aud.resource, "iss": iss, "iat": now.as_second(), "nbf": now.as_second(), "exp": exp.as_second(),
        "tid": tenant, "appid": client_id, "ver": ver, "uti": uuid::Uuid::new_v4().to_string(),
    });
    let mut id_token = None;
    let mut client_info = None;
    match (user, grant) {
        (Some(u), Some(g)) => {
            // Entra's `sub` is pairwise: one value per user and app.
            let sub = derived_guid(&format!("{}:{client_id}", u.oid), 11);
            payload["amr"] = if mfa { json!(["pwd", "mfa"]) } else { json!(["pwd"]) };
            payload["upn"] = json!(u.upn);
            payload["oid"] = json!(u.oid);
            payload["sub"] = json!(sub);
            payload["scp"] = json!("user_impersonation");
            if aud.openid {
                let mut claims = json!({
                    "aud": client_id, "iss": iss, "iat": now.as_second(), "nbf": now.as_second(),
                    "exp": exp.as_second(), "sub": sub, "tid": tenant, "oid": u.oid, "upn": u.upn,
                    "preferred_username": u.upn, "name": u.upn, "ver": ver,
                });
                if let Some(nonce) = g.nonce {
                    claims["nonce"] = json!(nonce);
                }
                id_token = Some(signer.jwt(&claims));
            }
            if g.client_info {
                let info = json!({"uid": u.oid, "utid": tenant}).to_string();
                client_info = Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(info));
            }
        }
        _ => {
            payload["roles"] = json!([]);
            payload["idtyp"] = json!("app");
            payload["oid"] = json!(derived_guid(client_id, 9));
            payload["sub"] = json!(derived_guid(client_id, 9));
        }
    }
    let access_token = signer.jwt(&payload);
    inner.access_tokens.insert(
        access_token.clone(),
        AccessToken {
            tenant: tenant.to_string(),
            upn: grant.map(|g| g.upn.to_string()),
            mfa,
            audience: aud.resource.clone(),
            expires: exp,
        },
    );
    let refresh_token = grant
        .filter(|_| aud.offline)
        .map(|g| new_refresh_token(inner, now, tenant, g.upn, client_id));
    TokenGrant {
        access_token,
        refresh_token,
        id_token,
        client_info,
        resource: aud.resource.clone(),
        scope: aud.scope.clone(),
        not_before: now.as_second(),
        expires_on: exp.as_second(),
        expires_in: ACCESS_TOKEN_SECONDS,
    }
}

pub fn new_refresh_token(inner: &mut Inner, now: Timestamp, tenant: &str, upn: &str, client_id: &str) -> String {
    let bytes: [u8; 48] = rand::random();
    use base64::Engine;
    let token = format!("0.AQ{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
    inner.refresh_tokens.insert(
        token.clone(),
        RefreshToken {
            tenant: tenant.to_string(),
            upn: upn.to_string(),
            client_id: client_id.to_string(),
            issued: now,
            expires: now + SignedDuration::from_secs(REFRESH_TOKEN_SECONDS),
            state: RefreshState::Active,
        },
    );
    token
}

/// Interactive consent stand-in: no UI, redirects straight back with a code.
pub async fn authorize(
    State(s): State<Shared>,
    Path(authority): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let now = s.clock.now();
    let mut inner = s.lock();
    let result = (|| {
        let client_id = q.get("client_id").ok_or_else(|| missing("client_id"))?.to_lowercase();
        let redirect_uri = q.get("redirect_uri").ok_or_else(|| missing("redirect_uri"))?.clone();
        if q.get("response_type").map(String::as_str) != Some("code") {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "unsupported_response_type",
                700054,
                "response_type must be 'code' for this application.",
            ));
        }
        // The authorize step has no secret; check only the app/authority pairing.
        let (tenant, _) = authenticate_client(&inner, &authority, &client_id, Some(""))?;
        let registered = inner
            .app_home(&client_id)
            .and_then(|(_, app)| app.redirect_uris.clone());
        if !redirect_registered(registered.as_deref(), &redirect_uri) {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                50011,
                format!(
                    "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{client_id}'. Make sure the redirect URI sent in the request matches one added to your application (fixtures: apps[].redirectUris)."
                ),
            ));
        }
        let pkce = match (
            q.get("code_challenge"),
            q.get("code_challenge_method").map(String::as_str),
        ) {
            (None, _) => None,
            // RFC 7636 §4.3: without a method the challenge is plain.
            (Some(c), None | Some("plain")) => Some((PkceMethod::Plain, c.clone())),
            (Some(c), Some("S256")) => Some((PkceMethod::S256, c.clone())),
            (Some(_), Some(other)) => {
                return Err(refuse(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    90013,
                    format!("Invalid code_challenge_method '{other}': must be 'S256' or 'plain'."),
                ));
            }
        };
        let partner = inner.partner(&tenant).expect("app home exists");
        let user = match q.get("login_hint") {
            Some(hint) => partner.users.iter().find(|u| u.upn.eq_ignore_ascii_case(hint)),
            None => partner.users.first(),
        }
        .ok_or_else(|| {
            refuse(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                50034,
                format!(
                    "The user account {} does not exist in the {tenant} directory.",
                    q.get("login_hint").map(String::as_str).unwrap_or("(none)")
                ),
            )
        })?;
        let upn = user.upn.clone();
        let code = format!("1.AQ{}", uuid::Uuid::new_v4().simple());
        inner.codes.insert(
            code.clone(),
            AuthCode {
                tenant,
                upn,
                client_id,
                expires: now + SignedDuration::from_secs(AUTH_CODE_SECONDS),
                redeemed: false,
                redirect_uri: redirect_uri.clone(),
                pkce,
                nonce: q.get("nonce").cloned(),
            },
        );
        let mut target = url::Url::parse(&redirect_uri).map_err(|_| {
            refuse(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                90013,
                "redirect_uri is not an absolute URL.",
            )
        })?;
        target.query_pairs_mut().append_pair("code", &code);
        if let Some(state) = q.get("state") {
            target.query_pairs_mut().append_pair("state", state);
        }
        target
            .query_pairs_mut()
            .append_pair("session_state", &uuid::Uuid::new_v4().to_string());
        Ok(target.to_string())
    })();
    match result {
        Ok(location) => {
            let mut resp = Response::new(axum::body::Body::empty());
            *resp.status_mut() = StatusCode::FOUND;
            resp.headers_mut().insert(
                header::LOCATION,
                HeaderValue::from_str(&location).expect("URL is a valid header"),
            );
            resp
        }
        Err(r) => entra_error(r.status, r.error, r.code, &r.message, now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uri_matching_table() {
        let listed = [
            "http://localhost/cb".to_string(),
            "https://app.example/auth".to_string(),
        ];
        let cases: [(Option<&[String]>, &str, bool); 10] = [
            (Some(&listed), "http://localhost/cb", true),
            (Some(&listed), "http://localhost:5173/cb", true),
            (Some(&listed), "http://localhost/cb/", false),
            (Some(&listed), "http://127.0.0.1/cb", false),
            (Some(&listed), "https://app.example/auth", true),
            (Some(&listed), "https://app.example:8443/auth", false),
            (Some(&listed), "https://app.example/auth?x=1", false),
            (None, "http://127.0.0.1:9/callback", true),
            (None, "https://app.example/auth", false),
            (None, "not a url", false),
        ];
        for (registered, requested, want) in cases {
            assert_eq!(
                redirect_registered(registered, requested),
                want,
                "{requested} against {registered:?}"
            );
        }
    }

    #[test]
    fn pkce_table() {
        // RFC 7636 appendix B's example verifier and S256 challenge.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let s256 = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        let cases = [
            (PkceMethod::S256, s256, verifier, true),
            (PkceMethod::S256, s256, "other", false),
            (PkceMethod::S256, verifier, verifier, false),
            (PkceMethod::Plain, verifier, verifier, true),
            (PkceMethod::Plain, s256, verifier, false),
        ];
        for (method, challenge, v, want) in cases {
            assert_eq!(pkce_matches(method, challenge, v), want, "{method:?} {challenge} {v}");
        }
    }

    #[test]
    fn v2_scope_to_resource_table() {
        let cases = [
            (
                "https://api.partnercenter.microsoft.com/.default",
                false,
                Some("https://api.partnercenter.microsoft.com"),
            ),
            (
                "https://api.partnercenter.microsoft.com/user_impersonation offline_access openid",
                false,
                Some("https://api.partnercenter.microsoft.com"),
            ),
            (
                "https://graph.windows.net/.default",
                true,
                Some("https://graph.windows.net"),
            ),
            ("https://api.partnercenter.microsoft.com/user_impersonation", true, None),
            ("offline_access", false, None),
        ];
        for (scope, app_only, want) in cases {
            let mut form = HashMap::new();
            form.insert("scope".to_string(), scope.to_string());
            let got = audience(Version::V2, &form, app_only, "t").ok().map(|a| a.resource);
            assert_eq!(got.as_deref(), want, "{scope}");
        }
    }
}
