//! Around every login and Partner Center request: attribute the tenant, apply injected faults,
//! echo MS-RequestId / MS-CorrelationId, and write the request log (never Authorization headers,
//! form bodies, secrets or tokens).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::DropHandle;
use super::api::bearer;
use super::faults::FaultKind;
use super::login::parse_form;
use super::state::{EmulatorState, LogEntry, new_guid};
use super::wire;

/// Request headers copied into the log, with their conventional spelling.
const LOGGED_HEADERS: &[(&str, &str)] = &[
    ("ms-requestid", "MS-RequestId"),
    ("ms-correlationid", "MS-CorrelationId"),
    ("ms-contract-version", "MS-Contract-Version"),
    ("ms-partnercenter-application", "MS-PartnerCenter-Application"),
    ("ms-partnercenter-client", "MS-PartnerCenter-Client"),
    ("ms-sdkversion", "MS-SdkVersion"),
    ("ms-continuationtoken", "MS-ContinuationToken"),
    ("x-locale", "X-Locale"),
];

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn logged_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, value) in headers {
        let lower = name.as_str();
        let known = LOGGED_HEADERS
            .iter()
            .find(|(l, _)| *l == lower)
            .map(|(_, c)| c.to_string());
        let key = match known {
            Some(k) => k,
            // Other MS-* headers are logged under their lower-case name.
            None if lower.starts_with("ms-") => lower.to_string(),
            None => continue,
        };
        if let Ok(v) = value.to_str() {
            out.insert(key, v.to_string());
        }
    }
    out
}

fn is_login(path: &str) -> bool {
    super::login::is_login_path(path)
}

/// The partner tenant a request belongs to: from the bearer token (API) or from the app /
/// authority (login; the form body is read and put back).
async fn attribute_tenant(state: &EmulatorState, req: Request) -> (Request, Option<String>) {
    let path = req.uri().path().to_string();
    if !is_login(&path) {
        let inner = state.lock();
        let tenant = bearer(req.headers())
            .and_then(|t| inner.access_tokens.get(t))
            .map(|t| t.tenant.clone());
        return (req, tenant);
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let mut client_id = parse_form(&bytes).remove("client_id");
    if client_id.is_none() {
        client_id = parts
            .uri
            .query()
            .and_then(|q| url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "client_id"))
            .map(|(_, v)| v.into_owned());
    }
    let authority = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let tenant = {
        let inner = state.lock();
        inner
            .resolve_authority(&authority)
            .or_else(|| client_id.and_then(|c| inner.app_home(&c).map(|(t, _)| t)))
    };
    (Request::from_parts(parts, Body::from(bytes)), tenant)
}

pub async fn pipeline(State(state): State<Arc<EmulatorState>>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let request_id = header(req.headers(), "ms-requestid").unwrap_or_else(new_guid);
    let correlation_id = header(req.headers(), "ms-correlationid").unwrap_or_else(new_guid);
    let user_agent = header(req.headers(), "user-agent");
    let headers = logged_headers(req.headers());
    let drop_handle = req.extensions().get::<DropHandle>().cloned();
    let (req, tenant) = attribute_tenant(&state, req).await;
    let login = is_login(&path);

    let (fault, bom) = {
        let mut inner = state.lock();
        (inner.take_fault(&method, &path, tenant.as_deref()), inner.settings.bom)
    };
    let log = |status: Option<u16>| {
        let mut inner = state.lock();
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.log.push(LogEntry {
            seq,
            time: state.clock.now().to_string(),
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            tenant_id: tenant.clone(),
            status,
            request_id: request_id.clone(),
            correlation_id: correlation_id.clone(),
            user_agent: user_agent.clone(),
            headers: headers.clone(),
            fault: fault.as_ref().map(|f| f.name().to_string()),
        });
    };

    let mut resp = match &fault {
        None => next.run(req).await,
        Some(FaultKind::Delay { millis, after: false }) => {
            tokio::time::sleep(std::time::Duration::from_millis(*millis)).await;
            next.run(req).await
        }
        // Held below, after logging: a client that gives up closes the connection, which drops
        // this future mid-wait.
        Some(FaultKind::Delay { after: true, .. }) => next.run(req).await,
        Some(FaultKind::Throttle { retry_after_seconds }) => wire::throttled(*retry_after_seconds),
        Some(FaultKind::Status { status }) => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let reason = status.canonical_reason().unwrap_or("Injected failure");
            if login {
                let (error, code) = if status.is_server_error() {
                    ("temporarily_unavailable", 90033)
                } else {
                    ("invalid_request", 90013)
                };
                wire::entra_error(status, error, code, reason, state.clock.now())
            } else {
                wire::pc_error(bom, status, i64::from(status.as_u16()), reason)
            }
        }
        Some(FaultKind::Malformed) => wire::malformed(),
        Some(FaultKind::DropConnection { after }) => {
            if *after {
                // The request takes effect; only its answer is lost.
                drop(next.run(req).await);
            }
            log(None);
            if let Some(handle) = drop_handle {
                handle.0.notify_one();
                // The connection task drops this request together with the socket.
                std::future::pending::<()>().await;
            }
            return wire::pc_error(
                bom,
                StatusCode::INTERNAL_SERVER_ERROR,
                500,
                "Connection could not be dropped.",
            );
        }
    };
    let h = resp.headers_mut();
    for (name, value) in [("MS-RequestId", &request_id), ("MS-CorrelationId", &correlation_id)] {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    }
    h.insert(
        "MS-CV",
        HeaderValue::from_str(&format!("{}.0", &new_guid()[..8])).expect("ascii"),
    );
    h.insert("MS-ServerId", HeaderValue::from_static("emulator-1"));
    log(Some(resp.status().as_u16()));
    if let Some(FaultKind::Delay { millis, after: true }) = &fault {
        tokio::time::sleep(std::time::Duration::from_millis(*millis)).await;
    }
    resp
}
