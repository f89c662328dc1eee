//! OpenID Connect discovery (v2 `/{tenant}/v2.0/.well-known/openid-configuration`, v1
//! `/{tenant}/.well-known/openid-configuration`) and the signing keys they name. Microsoft's SDKs
//! (MSAL) fetch these before any token request; endpoints are named with the emulator's own scheme
//! and Host, so the SDK talks to the emulator.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::state::EmulatorState;
use super::wire::{entra_error, raw_json};

type Shared = Arc<EmulatorState>;

/// The tenant part of an issuer: the partner's GUID, or `{tenantid}` for the multi-tenant
/// authorities (as Entra writes it); None for an unknown tenant.
fn issuer_tenant(state: &EmulatorState, segment: &str) -> Option<String> {
    match segment.to_lowercase().as_str() {
        "common" | "organizations" => Some("{tenantid}".to_string()),
        other => state.lock().resolve_authority(other),
    }
}

fn base_url(state: &EmulatorState, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("{}://{host}", state.scheme)
}

fn unknown_tenant(state: &EmulatorState, segment: &str) -> Response {
    entra_error(
        StatusCode::BAD_REQUEST,
        "invalid_tenant",
        90002,
        &format!(
            "Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
        ),
        state.clock.now(),
    )
}

fn document(v2: bool, base: &str, segment: &str, tenant: &str) -> Value {
    let (oauth, issuer, keys) = if v2 {
        (
            format!("{base}/{segment}/oauth2/v2.0"),
            format!("https://login.microsoftonline.com/{tenant}/v2.0"),
            format!("{base}/{segment}/discovery/v2.0/keys"),
        )
    } else {
        (
            format!("{base}/{segment}/oauth2"),
            format!("https://sts.windows.net/{tenant}/"),
            format!("{base}/{segment}/discovery/keys"),
        )
    };
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{oauth}/authorize"),
        "token_endpoint": format!("{oauth}/token"),
        "jwks_uri": keys,
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["plain", "S256"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "nonce", "oid", "tid", "upn",
            "preferred_username", "name", "ver"],
        "request_uri_parameter_supported": false,
        "tenant_region_scope": "WW",
        "cloud_instance_name": "microsoftonline.com",
    })
}

async fn configuration(state: Shared, segment: String, headers: HeaderMap, v2: bool) -> Response {
    let Some(tenant) = issuer_tenant(&state, &segment) else {
        return unknown_tenant(&state, &segment);
    };
    let body = document(v2, &base_url(&state, &headers), &segment, &tenant);
    raw_json(StatusCode::OK, body.to_string().into_bytes())
}

pub async fn configuration_v2(State(s): State<Shared>, Path(segment): Path<String>, headers: HeaderMap) -> Response {
    configuration(s, segment, headers, true).await
}

pub async fn configuration_v1(State(s): State<Shared>, Path(segment): Path<String>, headers: HeaderMap) -> Response {
    configuration(s, segment, headers, false).await
}

pub async fn keys(State(s): State<Shared>, Path(segment): Path<String>) -> Response {
    if issuer_tenant(&s, &segment).is_none() {
        return unknown_tenant(&s, &segment);
    }
    raw_json(StatusCode::OK, s.signer.jwks().to_string().into_bytes())
}
