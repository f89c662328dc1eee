//! The Partner Center client against a hostile HTTP server on loopback: absurd numbers
//! (Retry-After, token lifetimes), a 400 MB body, an endless slow body, a server echoing the
//! credentials back in every encoding, throttling, and an opaque access token. The client must
//! return an error or clamp — never panic, freeze, grow without bound or leak a secret.
//!
//! The server is a few lines of raw HTTP/1.1 over a tokio `TcpListener` (one request per connection,
//! `Connection: close`), so it can do what no well-behaved server library would: lie about lengths,
//! stream forever, and notice when the client hangs up.

use base64::Engine;
use partner_center_operator::api::{AuthMode, Cloud};
use partner_center_operator::partner_center::http::MAX_RESPONSE_BYTES;
use partner_center_operator::partner_center::models::{AddressToValidate, AddressValidation};
use partner_center_operator::partner_center::{
    ConnectionSettings, Credentials, Endpoints, MemoryRefreshTokenSink, PartnerCenterApi, PartnerCenterClient,
    PartnerCenterError, ThrottleObserver, Timeouts,
};
use secrecy::SecretString;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

const TENANT: &str = "5f0c1a2b-0000-4000-8000-000000000001";
const APP: &str = "a9b8c7d6-0000-4000-8000-0000000000a1";
/// Canary credentials: spaces, `+`, `/`, `=`, quotes, a backslash, non-ASCII and two lines, so
/// every encoding of them differs from the raw text.
const CANARY_SECRET: &str = "Qz7 Kx9+Wv/Jp=\"Lm\\Rt-ü-CanaryOne\nsecond-line-Hq4Zr8Vn";
const CANARY_RT: &str = "0.AQ Rt+Yx/Tb=Gk-CanaryRefreshToken\r\nTail-Nd3Pf6Ws";
const MB: u64 = 1024 * 1024;

// ---------- the hostile server ----------

struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

enum Reply {
    /// A complete response.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// 200 with `total` bytes of `x`, written in 64 KiB chunks (announced with Content-Length or
    /// sent chunked), every chunk after `pause`.
    Stream {
        total: u64,
        content_length: bool,
        pause: Duration,
        chunk: usize,
    },
}

fn json_reply(status: u16, body: serde_json::Value) -> Reply {
    Reply::Full {
        status,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}

fn raw_reply(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    Reply::Full {
        status,
        headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        body: body.to_vec(),
    }
}

/// What the server saw of a streamed reply: bytes written before the client hung up.
#[derive(Default)]
struct StreamStats {
    sent: AtomicU64,
    closed_by_client: AtomicBool,
    finished: tokio::sync::Notify,
}

type Handler = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

struct Hostile {
    base: Url,
    requests: Arc<Mutex<Vec<(String, String)>>>,
    stream: Arc<StreamStats>,
}

impl Hostile {
    async fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Hostile {
        partner_center_operator::tls::install_crypto_provider();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stream = Arc::new(StreamStats::default());
        let handler: Handler = Arc::new(handler);
        let (log, stats) = (requests.clone(), stream.clone());
        tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else { return };
                let (handler, log, stats) = (handler.clone(), log.clone(), stats.clone());
                tokio::spawn(async move {
                    let _ = serve(sock, handler, log, stats).await;
                });
            }
        });
        Hostile { base, requests, stream }
    }

    fn count(&self, path_suffix: &str) -> usize {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, p)| p.ends_with(path_suffix))
            .count()
    }

    fn settings(&self, tenant: &str, mode: AuthMode) -> ConnectionSettings {
        let mut s = ConnectionSettings::new(tenant, Cloud::Global, mode);
        s.endpoints = Some(Endpoints {
            partner_center: self.base.clone(),
            login: self.base.clone(),
        });
        s.timeouts = Timeouts {
            request: Duration::from_secs(20),
            retry_base_delay: Duration::from_millis(20),
            max_retries: 1,
            max_retry_after: Duration::from_secs(3),
            ..Timeouts::default()
        };
        s
    }
}

fn client(settings: ConnectionSettings, mode: AuthMode) -> PartnerCenterClient {
    let creds = Credentials {
        client_id: APP.into(),
        client_secret: SecretString::from(CANARY_SECRET),
        refresh_token: (mode == AuthMode::AppPlusUser).then(|| SecretString::from(CANARY_RT)),
    };
    PartnerCenterClient::new(settings, creds, Arc::new(MemoryRefreshTokenSink::default())).expect("client builds")
}

async fn serve(
    mut sock: TcpStream,
    handler: Handler,
    log: Arc<Mutex<Vec<(String, String)>>>,
    stats: Arc<StreamStats>,
) -> std::io::Result<()> {
    let Some(req) = read_request(&mut sock).await? else {
        return Ok(());
    };
    log.lock().unwrap().push((req.method.clone(), req.path.clone()));
    match handler(&req) {
        Reply::Full { status, headers, body } => {
            let mut head = format!(
                "HTTP/1.1 {status} X\r\nConnection: close\r\nContent-Length: {}\r\n",
                body.len()
            );
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            sock.write_all(head.as_bytes()).await?;
            sock.write_all(&body).await?;
            sock.shutdown().await
        }
        Reply::Stream {
            total,
            content_length,
            pause,
            chunk,
        } => {
            let head = if content_length {
                format!(
                    "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {total}\r\n\r\n"
                )
            } else {
                "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                    .to_string()
            };
            let data = vec![b'x'; chunk];
            let result = async {
                sock.write_all(head.as_bytes()).await?;
                while stats.sent.load(Ordering::SeqCst) < total {
                    if !pause.is_zero() {
                        tokio::time::sleep(pause).await;
                    }
                    if content_length {
                        sock.write_all(&data).await?;
                    } else {
                        sock.write_all(format!("{:x}\r\n", data.len()).as_bytes()).await?;
                        sock.write_all(&data).await?;
                        sock.write_all(b"\r\n").await?;
                    }
                    stats.sent.fetch_add(data.len() as u64, Ordering::SeqCst);
                }
                Ok::<_, std::io::Error>(())
            }
            .await;
            stats.closed_by_client.store(result.is_err(), Ordering::SeqCst);
            stats.finished.notify_one();
            Ok(())
        }
    }
}

async fn read_request(sock: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = sock.read(&mut tmp).await?;
        if n == 0 || buf.len() > 64 * 1024 {
            return Ok(None);
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_string();
    let path = first.next().unwrap_or_default().to_string();
    let length: usize = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length.min(1024 * 1024) {
        let n = sock.read(&mut tmp).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&tmp[..n]);
    }
    Ok(Some(Request { method, path, body }))
}

// ---------- well-formed pieces the hostile server mixes in ----------

fn jwt(tid: &str) -> String {
    let b = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let payload = json!({"aud": "https://api.partnercenter.microsoft.com", "tid": tid, "roles": ["x"]});
    format!("{}.{}.sig", b(br#"{"alg":"none"}"#), b(payload.to_string().as_bytes()))
}

fn token_ok() -> Reply {
    json_reply(
        200,
        json!({"token_type": "Bearer", "expires_in": 3599, "access_token": jwt(TENANT)}),
    )
}

fn customer(id: &str) -> Reply {
    json_reply(
        200,
        json!({"id": id, "companyProfile": {"tenantId": id, "domain": "x.onmicrosoft.com", "companyName": "X"}}),
    )
}

fn is_token(req: &Request) -> bool {
    req.path.ends_with("/oauth2/token")
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

// ---------- absurd numbers ----------

#[derive(Debug, PartialEq)]
enum Outcome {
    /// Waited (at most the client's in-line limit) and retried: the second attempt succeeded.
    RetriedOk,
    /// Returned at once, typed, with the clamped wait for the controller to requeue on.
    Throttled(Option<Duration>),
}

#[tokio::test]
async fn absurd_retry_after_is_clamped_never_a_panic_or_a_freeze() {
    let future = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1))
        .strftime("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let past = "Wed, 21 Oct 2015 07:28:00 GMT".to_string();
    let ten_min = Some(Duration::from_secs(600));
    // (Retry-After, what the caller sees). The client waits in line up to 3 s (max_retry_after).
    let rows: Vec<(String, Outcome)> = vec![
        ("0".into(), Outcome::RetriedOk),
        ("0.2".into(), Outcome::RetriedOk),
        ("1e-3".into(), Outcome::RetriedOk),
        ("-1".into(), Outcome::RetriedOk),
        ("-9223372036854775808".into(), Outcome::RetriedOk),
        ("".into(), Outcome::RetriedOk),
        ("soon".into(), Outcome::RetriedOk),
        ("NaN".into(), Outcome::RetriedOk),
        ("inf".into(), Outcome::RetriedOk),
        (past, Outcome::RetriedOk),
        ("4".into(), Outcome::Throttled(Some(Duration::from_secs(4)))),
        ("1e3".into(), Outcome::Throttled(ten_min)),
        ("1e30".into(), Outcome::Throttled(ten_min)),
        ("18446744073709551615".into(), Outcome::Throttled(ten_min)),
        ("99999999999999999999999999999999".into(), Outcome::Throttled(ten_min)),
        (future.clone(), Outcome::Throttled(ten_min)),
    ];
    let headers: Vec<String> = rows.iter().map(|(h, _)| h.clone()).collect();
    let hits: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let server = Hostile::start(move |req| {
        if is_token(req) {
            return token_ok();
        }
        // `/v1/customers/row-N`: 429 with row N's Retry-After the first time, then the customer.
        let id = req.path.rsplit('/').next().unwrap_or_default().to_string();
        let n = {
            let mut h = hits.lock().unwrap();
            let n = h.entry(id.clone()).or_default();
            *n += 1;
            *n
        };
        match id.strip_prefix("row-").and_then(|i| i.parse::<usize>().ok()) {
            Some(i) if n == 1 => raw_reply(429, &[("Retry-After", headers[i].as_str())], b""),
            _ => customer(&id),
        }
    })
    .await;
    let throttled = Arc::new(AtomicU64::new(0));
    let counter = throttled.clone();
    let mut settings = server.settings(TENANT, AuthMode::AppOnly);
    settings.on_throttled = Some(ThrottleObserver::new(move || {
        counter.fetch_add(1, Ordering::SeqCst);
    }));
    let c = client(settings, AuthMode::AppOnly);
    for (i, (header, want)) in rows.iter().enumerate() {
        let id = format!("row-{i}");
        // 3 s in-line limit + slack: a call held longer than that is a freeze.
        let got = tokio::time::timeout(Duration::from_secs(8), c.get_customer(&id))
            .await
            .unwrap_or_else(|_| panic!("Retry-After {header:?}: the call froze"));
        let outcome = match got {
            Ok(cust) => {
                assert_eq!(cust.id, id);
                Outcome::RetriedOk
            }
            Err(PartnerCenterError::Throttled { retry_after }) => Outcome::Throttled(retry_after),
            Err(e) => panic!("Retry-After {header:?}: unexpected {e}"),
        };
        assert_eq!(&outcome, want, "Retry-After: {header:?}");
        // The following call is served at once: nothing in the client is left waiting.
        let next = tokio::time::timeout(Duration::from_secs(2), c.get_customer(&id)).await;
        assert!(
            matches!(next, Ok(Ok(_))),
            "Retry-After {header:?}: following call {next:?}"
        );
    }
    assert_eq!(
        throttled.load(Ordering::SeqCst),
        rows.len() as u64,
        "every 429 is counted once"
    );
}

/// (token response fields besides access_token, token requests after two calls): 1 when the
/// lifetime is long (clamped to 24 h) or unknown (5 min); 2 when absurdly short or negative ("expires
/// soon": at least 60 s, within the 60 s refresh margin, so the next call refreshes).
const TOKEN_ROWS: &[(&str, usize)] = &[
    (r#""expires_in":3599"#, 1),
    (r#""expires_in":1e30"#, 1),
    (r#""expires_in":18446744073709551615"#, 1),
    (r#""expires_in":"18446744073709551615""#, 1),
    (r#""expires_in":1.7976931348623157e308"#, 1),
    (r#""expires_in":0"#, 2),
    (r#""expires_in":-1"#, 2),
    (r#""expires_in":-9223372036854775808"#, 2),
    (r#""expires_in":"0.5""#, 2),
    (r#""expires_in":"""#, 1),
    (r#""expires_in":"garbage""#, 1),
    (r#""expires_in":"NaN""#, 1),
    (r#""expires_in":{"nested":[1]}"#, 1),
    (r#""expires_on":"18446744073709551615""#, 1),
    (r#""expires_on":-9223372036854775808"#, 2),
    (r#""expires_on":"1""#, 2),
    (
        r#""expires_in":"3599","ext_expires_in":1e30,"not_before":18446744073709551615,"expires_on":"x""#,
        1,
    ),
    (
        r#""ext_expires_in":-9223372036854775808,"not_before":"Wed, 21 Oct 2015 07:28:00 GMT""#,
        1,
    ),
];

#[tokio::test]
async fn absurd_token_lifetimes_are_clamped() {
    let server = Hostile::start(|req| {
        if is_token(req) {
            // The tenant segment names the row: /{tenant}/oauth2/token.
            let tenant = req.path.trim_start_matches('/').split('/').next().unwrap_or_default();
            let row: usize = tenant.rsplit('-').next().unwrap_or_default().parse().unwrap_or(0);
            let fields = TOKEN_ROWS[row].0;
            let body = format!(r#"{{"token_type":"Bearer",{fields},"access_token":"{}"}}"#, jwt(tenant));
            return raw_reply(200, &[("Content-Type", "application/json")], body.as_bytes());
        }
        customer("c-1")
    })
    .await;
    for (i, (fields, want)) in TOKEN_ROWS.iter().enumerate() {
        let tenant = format!("5f0c1a2b-0000-4000-8000-{i:012}");
        let c = client(server.settings(&tenant, AuthMode::AppOnly), AuthMode::AppOnly);
        let calls = async {
            let claims = c.token_claims().await?;
            c.get_customer("c-1").await?;
            Ok::<_, PartnerCenterError>(claims)
        };
        let claims = tokio::time::timeout(Duration::from_secs(10), calls)
            .await
            .unwrap_or_else(|_| panic!("{fields}: froze"))
            .unwrap_or_else(|e| panic!("{fields}: {e}"));
        assert_eq!(claims.tid.as_deref(), Some(tenant.as_str()), "{fields}");
        let token_requests = server.count(&format!("/{tenant}/oauth2/token"));
        assert_eq!(token_requests, *want, "{fields}");
    }
}

// ---------- bodies that are too large or never end ----------

#[tokio::test]
async fn a_400_mb_body_is_cut_off_at_the_cap() {
    const HUGE: u64 = 400 * MB;
    // (where the body comes from, announced with Content-Length?)
    let rows = [("api", true), ("api", false), ("token", true), ("token", false)];
    for (endpoint, content_length) in rows {
        let server = Hostile::start(move |req| {
            let stream = Reply::Stream {
                total: HUGE,
                content_length,
                pause: Duration::ZERO,
                chunk: 64 * 1024,
            };
            match (endpoint, is_token(req)) {
                ("token", true) | ("api", false) => stream,
                _ => token_ok(),
            }
        })
        .await;
        let c = client(server.settings(TENANT, AuthMode::AppOnly), AuthMode::AppOnly);
        let before = vm_hwm_kib();
        let err = tokio::time::timeout(Duration::from_secs(60), c.get_customer("c-1"))
            .await
            .expect("the client gives up long before 400 MB")
            .unwrap_err();
        let what = if endpoint == "token" {
            "the token endpoint"
        } else {
            "Partner Center GET /v1/customers/c-1"
        };
        assert_eq!(
            err,
            PartnerCenterError::ResponseTooLarge {
                what: what.into(),
                limit: MAX_RESPONSE_BYTES
            },
            "{endpoint} content_length={content_length}"
        );
        assert_eq!(err.reason(), "ResponseTooLarge");
        // The server learns the client hung up: its next writes fail.
        tokio::time::timeout(Duration::from_secs(30), server.stream.finished.notified())
            .await
            .expect("the server sees the connection closed");
        let sent = server.stream.sent.load(Ordering::SeqCst);
        let after = vm_hwm_kib();
        println!(
            "{endpoint} body, content_length={content_length}: server wrote {:.1} MiB of 400 before the client \
             closed; test process VmHWM {before} KiB before, {after} KiB after; error: {err}",
            sent as f64 / MB as f64
        );
        assert!(server.stream.closed_by_client.load(Ordering::SeqCst));
        assert!(
            sent < 64 * MB,
            "the connection was dropped near the cap, not after {sent} bytes"
        );
    }
}

#[tokio::test]
async fn an_endless_slow_body_ends_in_a_timeout() {
    let server = Hostile::start(|req| {
        if is_token(req) {
            return token_ok();
        }
        Reply::Stream {
            total: u64::MAX,
            content_length: false,
            pause: Duration::from_millis(50),
            chunk: 1,
        }
    })
    .await;
    let mut settings = server.settings(TENANT, AuthMode::AppOnly);
    settings.timeouts.request = Duration::from_secs(1);
    settings.timeouts.max_retries = 0;
    let c = client(settings, AuthMode::AppOnly);
    let err = tokio::time::timeout(Duration::from_secs(10), c.get_customer("c-1"))
        .await
        .expect("the request timeout ends a trickling body")
        .unwrap_err();
    assert_eq!(
        err,
        PartnerCenterError::Timeout {
            what: "Partner Center GET /v1/customers/c-1".into()
        }
    );
    tokio::time::timeout(Duration::from_secs(10), server.stream.finished.notified())
        .await
        .expect("the server sees the connection closed");
    assert!(server.stream.closed_by_client.load(Ordering::SeqCst));
    println!(
        "slow body: {} bytes trickled before the client hung up ({err})",
        server.stream.sent.load(Ordering::SeqCst)
    );
}

// ---------- an echoing server ----------

/// Every encoding of `secret` an echoing server might use, each line of it, and every 8-character
/// window of each (a truncated or partial copy is a leak too).
fn encodings(secret: &str) -> Vec<String> {
    let b64 = |e: &base64::engine::GeneralPurpose| e.encode(secret.as_bytes());
    let pct_upper: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let pct_all: String = secret.bytes().map(|b| format!("%{b:02X}")).collect();
    let json = serde_json::to_string(secret).unwrap();
    let mut whole = vec![
        secret.to_string(),
        pct_upper.clone(),
        pct_upper.to_lowercase(),
        pct_upper.replace('+', "%20"),
        pct_all.clone(),
        pct_all.to_lowercase(),
        json.trim_matches('"').to_string(),
        b64(&base64::engine::general_purpose::STANDARD),
        b64(&base64::engine::general_purpose::STANDARD_NO_PAD),
        b64(&base64::engine::general_purpose::URL_SAFE),
        b64(&base64::engine::general_purpose::URL_SAFE_NO_PAD),
    ];
    whole.extend(secret.lines().map(str::to_string));
    let mut out = whole.clone();
    for w in &whole {
        let chars: Vec<char> = w.chars().collect();
        for win in chars.windows(8) {
            out.push(win.iter().collect());
        }
    }
    out.sort();
    out.dedup();
    out
}

fn assert_no_canary(context: &str, text: &str) {
    for secret in [CANARY_SECRET, CANARY_RT] {
        for enc in encodings(secret) {
            assert!(
                !text.contains(&enc),
                "{context}: {enc:?} (an encoding of a secret) leaked into: {text}"
            );
        }
    }
}

#[tokio::test]
async fn an_echoing_server_never_gets_a_secret_into_an_error() {
    // Everything the server knows: the request body it received (the form with the secret and the
    // refresh token, percent-encoded) and the canaries in every encoding.
    fn echo(req: &Request) -> String {
        let mut all = vec![String::from_utf8_lossy(&req.body).to_string()];
        for s in [CANARY_SECRET, CANARY_RT] {
            all.extend(encodings(s).into_iter().filter(|e| e.chars().count() > 8));
        }
        all.join(" | ")
    }
    // (name, how the token endpoint answers, how the API answers, the reason the user sees)
    type Make = fn(&Request, String) -> Reply;
    let ok_token: Make = |_, _| token_ok();
    let no_api: Make = |_, _| customer("c-1");
    let rows: &[(&str, Make, Make, &str)] = &[
        (
            "Entra error body",
            |_, e| {
                json_reply(
                    400,
                    json!({"error": e, "error_description": e, "error_codes": [e, 90013], "trace_id": e}),
                )
            },
            no_api,
            "TokenRequestFailed",
        ),
        (
            "Entra consent error",
            |_, e| {
                json_reply(
                    400,
                    json!({"error": "invalid_grant", "error_description": format!("AADSTS700082: {e}")}),
                )
            },
            no_api,
            "ConsentExpired",
        ),
        (
            "token endpoint text page",
            |_, e| raw_reply(401, &[], e.as_bytes()),
            no_api,
            "TokenRequestFailed",
        ),
        (
            "token endpoint 5xx",
            |_, e| raw_reply(503, &[], e.as_bytes()),
            no_api,
            "ServerError",
        ),
        (
            "token response of the wrong shape",
            |_, e| json_reply(200, json!({"access_token": jwt(TENANT), "token_type": [e]})),
            no_api,
            "DecodeError",
        ),
        (
            "token response not JSON",
            |_, e| raw_reply(200, &[], e.as_bytes()),
            no_api,
            "DecodeError",
        ),
        (
            "JWT payload of the wrong shape is opaque, then a 403 echo",
            |_, e| {
                let b = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
                let payload = json!({"tid": [e.clone()], "amr": e});
                json_reply(
                    200,
                    json!({"access_token": format!("x.{}.y", b(payload.to_string().as_bytes()))}),
                )
            },
            |_, e| json_reply(403, json!({"code": e, "description": e, "data": [e], "source": e})),
            "Forbidden",
        ),
        (
            "API fault",
            ok_token,
            |_, e| json_reply(409, json!({"code": e, "description": e, "message": e})),
            "RequestRejected",
        ),
        (
            "API 404",
            ok_token,
            |_, e| json_reply(404, json!({"code": 3000, "description": e})),
            "NotFound",
        ),
        (
            "API App-only refusal",
            ok_token,
            |_, e| {
                json_reply(
                    403,
                    json!({"code": 0, "description": format!("can't be accessed by application credentials {e}")}),
                )
            },
            "AppOnlyNotAllowed",
        ),
        (
            "API 401",
            ok_token,
            |_, e| json_reply(401, json!({"code": e, "description": e})),
            "Unauthorized",
        ),
        (
            "API 5xx",
            ok_token,
            |_, e| raw_reply(500, &[], e.as_bytes()),
            "ServerError",
        ),
        ("API 504", ok_token, |_, e| raw_reply(504, &[], e.as_bytes()), "Timeout"),
        (
            "API 429 message",
            ok_token,
            |_, e| {
                json_reply(
                    429,
                    json!({"statusCode": 429, "message": format!("{e} Try again in 1e30 seconds.")}),
                )
            },
            "Throttled",
        ),
        (
            "API body of the wrong shape",
            ok_token,
            |_, e| json_reply(200, json!({"id": [e], "companyProfile": e})),
            "DecodeError",
        ),
        (
            "API body not JSON",
            ok_token,
            |_, e| raw_reply(200, &[], e.as_bytes()),
            "DecodeError",
        ),
        (
            "paging link",
            ok_token,
            |_, e| {
                json_reply(
                    200,
                    json!({"items": [], "links": {"next": {"uri": format!("/v1/../{e}"), "headers": [{"key": "MS-ContinuationToken", "value": e}]}}}),
                )
            },
            "DecodeError",
        ),
    ];
    for (i, (name, token, api, reason)) in rows.iter().enumerate() {
        let (token, api) = (*token, *api);
        let server = Hostile::start(move |req| {
            let e = echo(req);
            if is_token(req) { token(req, e) } else { api(req, e) }
        })
        .await;
        let c = client(server.settings(TENANT, AuthMode::AppPlusUser), AuthMode::AppPlusUser);
        let err = if name.starts_with("paging") {
            c.count_customers().await.map(|_| ()).unwrap_err()
        } else {
            c.get_customer("c-1").await.map(|_| ()).unwrap_err()
        };
        assert_eq!(err.reason(), *reason, "row {i} {name}: {err}");
        assert_no_canary(name, &err.to_string());
        assert_no_canary(name, &format!("{err:?}"));
        println!("{name}: {err}");
    }
}

// ---------- throttling in the operator's metric, opaque access tokens ----------

#[tokio::test]
async fn a_retried_429_is_counted_in_the_operators_metric() {
    let hits = Arc::new(AtomicU64::new(0));
    let h = hits.clone();
    let server = Hostile::start(move |req| {
        if is_token(req) {
            return token_ok();
        }
        if h.fetch_add(1, Ordering::SeqCst) == 0 {
            raw_reply(
                429,
                &[("Retry-After", "0")],
                br#"{"statusCode":429,"message":"Rate limit is exceeded."}"#,
            )
        } else {
            customer("c-1")
        }
    })
    .await;
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = partner_center_operator::runtime::metrics::Metrics::register(&mut registry);
    // What the connection controller does for every connection's client.
    let mut settings = server.settings(TENANT, AuthMode::AppOnly);
    settings.on_throttled = Some(metrics.throttle_observer());
    let c = client(settings, AuthMode::AppOnly);
    assert_eq!(c.get_customer("c-1").await.unwrap().id, "c-1");
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("pco_partner_center_throttled_total"))
        .unwrap_or_default();
    assert_eq!(line, "pco_partner_center_throttled_total 1", "{text}");
    assert_eq!(server.count("/v1/customers/c-1"), 2);
}

#[tokio::test]
async fn an_opaque_access_token_is_not_an_authentication_failure() {
    let server = Hostile::start(|req| {
        if is_token(req) {
            json_reply(
                200,
                json!({"token_type": "Bearer", "expires_in": "3599", "access_token": "opaque-token-value"}),
            )
        } else {
            customer("c-1")
        }
    })
    .await;
    for mode in [AuthMode::AppOnly, AuthMode::AppPlusUser] {
        let c = client(server.settings(TENANT, mode), mode);
        let claims = c.token_claims().await.unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        assert_eq!(
            claims,
            Default::default(),
            "{mode:?}: no claims known from an opaque token"
        );
        assert_eq!(c.get_customer("c-1").await.unwrap().id, "c-1", "{mode:?}");
    }
    assert_eq!(server.count("/oauth2/token"), 2, "one token per client, cached");
}

#[tokio::test]
async fn endless_paging_ends_in_an_error() {
    let page = Arc::new(AtomicU64::new(0));
    let p = page.clone();
    let server = Hostile::start(move |req| {
        if is_token(req) {
            return token_ok();
        }
        // A new continuation token on every page, and an absurd count: paging never ends by itself.
        let n = p.fetch_add(1, Ordering::SeqCst);
        json_reply(
            200,
            json!({"totalCount": 1e30, "items": [{}], "links": {"next": {"uri": "/customers?size=500&seekOperation=Next", "headers": [{"key": "MS-ContinuationToken", "value": format!("t{n}")}]}}}),
        )
    })
    .await;
    let c = client(server.settings(TENANT, AuthMode::AppOnly), AuthMode::AppOnly);
    let err = tokio::time::timeout(Duration::from_secs(120), c.count_customers())
        .await
        .expect("paging is bounded")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "could not decode the response of paging /v1/customers: paging did not end after 2000 pages"
    );
    assert_eq!(
        page.load(Ordering::SeqCst),
        2000,
        "exactly the page limit was requested"
    );
}

// ---------- absurd address validation answers ----------

/// The address validation's 400/2007 answer carries server text the client keeps (the reason and
/// the corrected address inside the description's JSON string). Absurd descriptions never crash,
/// never grow without bound and never carry a secret into the result.
#[tokio::test]
async fn absurd_address_validation_answers_never_crash_or_leak() {
    fn fault(description: String) -> Reply {
        json_reply(
            400,
            json!({"code": 2007, "description": description, "source": "PartnerFD"}),
        )
    }
    fn corrected(line1: &str, reason: &str) -> String {
        json!({"code": 60071, "reason": reason, "corrected_address": {"address_line1": line1, "city": "Redmond", "state": "WA", "postal_code": "98052", "country": "US"}}).to_string()
    }
    let echo_line: String = encodings(CANARY_SECRET)
        .into_iter()
        .filter(|e| e.chars().count() > 8 && !e.chars().any(char::is_control))
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    let unknown = Ok(AddressValidation::Invalid {
        code: None,
        reason: "Unknown".into(),
        corrected: None,
    });
    let dropped = |reason: &str| {
        Ok(AddressValidation::Invalid {
            code: Some(60071),
            reason: reason.into(),
            corrected: None,
        })
    };
    type Outcome = Result<AddressValidation, &'static str>;
    let rows: Vec<(&str, String, Outcome)> = vec![
        ("a 1 MB description", "x".repeat(MB as usize), unknown.clone()),
        (
            "a description that is not JSON",
            "{\"code\": 60071, \"reason\": ".into(),
            unknown.clone(),
        ),
        ("JSON that is not an object", "[1,2,3]".into(), unknown.clone()),
        (
            "a 3 MB corrected address",
            corrected(&"y".repeat(3 * MB as usize), "ZipCityInvalid"),
            dropped("ZipCityInvalid"),
        ),
        (
            "a 10 MB corrected address",
            corrected(&"z".repeat(10 * MB as usize), "ZipCityInvalid"),
            Err("ResponseTooLarge"),
        ),
        (
            "a corrected address echoing the secret",
            corrected(&echo_line, "ZipCityInvalid"),
            dropped("ZipCityInvalid"),
        ),
        (
            "a reason echoing the secret",
            corrected("1 Microsoft Way", &echo_line),
            Ok(AddressValidation::Invalid {
                code: Some(60071),
                reason: "Unknown".into(),
                corrected: Some(AddressToValidate {
                    address_line1: "1 Microsoft Way".into(),
                    address_line2: None,
                    city: "Redmond".into(),
                    state: Some("WA".into()),
                    postal_code: "98052".into(),
                    country: "US".into(),
                }),
            }),
        ),
    ];
    let address = AddressToValidate {
        address_line1: "1 Microsoft Way".into(),
        city: "Redmond".into(),
        state: Some("WA".into()),
        postal_code: "98052".into(),
        country: "US".into(),
        ..Default::default()
    };
    for (name, description, want) in rows {
        let body = Arc::new(description);
        let server = Hostile::start(move |req| {
            if is_token(req) {
                token_ok()
            } else {
                fault(body.to_string())
            }
        })
        .await;
        let c = client(server.settings(TENANT, AuthMode::AppOnly), AuthMode::AppOnly);
        let got = tokio::time::timeout(Duration::from_secs(60), c.validate_address(&address))
            .await
            .expect("answers in time");
        assert_no_canary(name, &format!("{got:?}"));
        let got = got.map_err(|e| e.reason());
        assert_eq!(got, want, "{name}");
        assert_eq!(
            server.count("/v1/validations/address"),
            1,
            "{name}: a 400 is not retried"
        );
    }
}
