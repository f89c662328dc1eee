//! One HTTP exchange with retries: network errors, timeouts and 5xx are retried with exponential
//! backoff and jitter; 429 waits `Retry-After` (clamped, bounded); everything else is handed back
//! unchanged for the caller to map. Bodies are read as a stream with a size cap
//! ([`MAX_RESPONSE_BYTES`]). Also the request headers every Partner Center call carries.

use backon::BackoffBuilder;
use rand::Rng;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::config::Timeouts;
use super::errors::{PartnerCenterError, parse_retry_after};

/// `User-Agent` of every request: names the operator and its version.
pub const USER_AGENT: &str = concat!("partner-center-operator/", env!("CARGO_PKG_VERSION"));

pub const MS_REQUEST_ID: &str = "MS-RequestId";
pub const MS_CORRELATION_ID: &str = "MS-CorrelationId";
pub const MS_CONTINUATION_TOKEN: &str = "MS-ContinuationToken";
pub const X_LOCALE: &str = "X-Locale";
pub const MS_PC_APPLICATION: &str = "MS-PartnerCenter-Application";

/// The largest response body the client reads, in bytes. The largest legitimate one is a page of
/// 500 customers (well under 1 MiB); a server sending more is not Partner Center, and reading it
/// all once took the operator from ~60 MiB to ~866 MiB. Past the cap the connection is dropped.
pub const MAX_RESPONSE_BYTES: u64 = 4 * 1024 * 1024;

/// Called once for every HTTP 429 the client receives (retried or not), e.g. to count throttling
/// in a metric. Cheap and synchronous.
#[derive(Clone)]
pub struct ThrottleObserver(pub Arc<dyn Fn() + Send + Sync>);

impl ThrottleObserver {
    pub fn new(f: impl Fn() + Send + Sync + 'static) -> Self {
        ThrottleObserver(Arc::new(f))
    }
}

impl fmt::Debug for ThrottleObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ThrottleObserver")
    }
}

/// The retry rules (see [`Timeouts`] for the meaning of each knob).
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub base_delay: Duration,
    pub max_retries: u32,
    pub max_throttle_retries: u32,
    pub max_retry_after: Duration,
    pub max_body: u64,
    pub on_throttled: Option<ThrottleObserver>,
}

impl From<&Timeouts> for RetryPolicy {
    fn from(t: &Timeouts) -> Self {
        RetryPolicy {
            base_delay: t.retry_base_delay,
            max_retries: t.max_retries,
            max_throttle_retries: t.max_throttle_retries,
            max_retry_after: t.max_retry_after,
            max_body: MAX_RESPONSE_BYTES,
            on_throttled: None,
        }
    }
}

impl RetryPolicy {
    /// Delays before each retry of a transient failure: base × 1, 3, 7 (capped), i.e. the SDK's
    /// 0.5/1.5/3.5 s for a 0.5 s base, each scaled by a random factor in [0.8, 1.2).
    pub fn backoff(&self) -> impl Iterator<Item = Duration> + use<> {
        let schedule = backon::ExponentialBuilder::default()
            .with_min_delay(self.base_delay)
            .with_factor(3.0)
            .with_max_delay(self.base_delay.saturating_mul(7))
            .with_max_times(self.max_retries as usize)
            .build();
        schedule.map(|d| jitter(d, rand::rng().random_range(0.8..1.2)))
    }
}

/// `d × factor` without the panic `Duration::mul_f64` has on overflow (a huge configured delay).
fn jitter(d: Duration, factor: f64) -> Duration {
    Duration::try_from_secs_f64(d.as_secs_f64() * factor).unwrap_or(d)
}

/// A complete response: status, headers and the whole body.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn retry_after(&self) -> Option<Duration> {
        self.headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after)
    }
}

fn is_retryable_status(status: u16) -> bool {
    status == 408 || (500..=599).contains(&status)
}

/// Maps a transport failure without the URL (paths can carry customer ids; never secrets, but the
/// message stays short and stable). reqwest's and hyper's texts never quote the response, so nothing
/// the server sent reaches the message.
pub fn transport_error(what: &str, err: reqwest::Error) -> PartnerCenterError {
    if err.is_timeout() {
        return PartnerCenterError::Timeout { what: what.to_string() };
    }
    let err = err.without_url();
    let mut detail = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    PartnerCenterError::Network {
        what: what.to_string(),
        detail: super::errors::truncate(&detail),
    }
}

/// Sends the request built by `make` (called once per attempt) until it gets a response that is not
/// retryable or the budgets run out. Returns the last response (which may be a 5xx or 429 the caller
/// then maps to an error) or the last transport error.
pub async fn send_with_retries<F>(policy: &RetryPolicy, what: &str, make: F) -> Result<RawResponse, PartnerCenterError>
where
    F: Fn() -> reqwest::RequestBuilder,
{
    let mut backoff = policy.backoff();
    let mut throttle_retries = 0u32;
    loop {
        let outcome = attempt(what, make(), policy.max_body).await;
        let transient = match &outcome {
            Ok(resp) if resp.status == 429 => {
                if let Some(observe) = &policy.on_throttled {
                    (observe.0)();
                }
                // Clamped by `parse_retry_after`, so the sleep below is at most ten minutes even if a
                // caller raised `max_retry_after` that far.
                let wait = resp.retry_after().unwrap_or(policy.base_delay);
                if throttle_retries >= policy.max_throttle_retries || wait > policy.max_retry_after {
                    return outcome;
                }
                throttle_retries += 1;
                tracing::debug!(
                    what,
                    wait_ms = wait.as_millis() as u64,
                    "throttled; waiting Retry-After"
                );
                tokio::time::sleep(wait).await;
                continue;
            }
            Ok(resp) => is_retryable_status(resp.status),
            Err(PartnerCenterError::Timeout { .. } | PartnerCenterError::Network { .. }) => true,
            Err(_) => false,
        };
        if !transient {
            return outcome;
        }
        match backoff.next() {
            Some(delay) => {
                tracing::debug!(what, delay_ms = delay.as_millis() as u64, "transient failure; retrying");
                tokio::time::sleep(delay).await;
            }
            None => return outcome,
        }
    }
}

async fn attempt(what: &str, req: reqwest::RequestBuilder, max_body: u64) -> Result<RawResponse, PartnerCenterError> {
    let mut resp = req.send().await.map_err(|e| transport_error(what, e))?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let too_large = || PartnerCenterError::ResponseTooLarge {
        what: what.to_string(),
        limit: max_body,
    };
    // A declared length over the cap is refused before reading a byte of it. Dropping `resp` with
    // its body unread closes the connection (hyper never returns it to the pool).
    if resp.content_length().is_some_and(|n| n > max_body) {
        return Err(too_large());
    }
    // Preallocate for the declared length only when it is small; a chunked body grows as it comes.
    let hint = resp.content_length().unwrap_or(0).min(64 * 1024);
    let mut body = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
    // Reading the body can fail too (dropped connection, timeout); that is a transport failure.
    while let Some(chunk) = resp.chunk().await.map_err(|e| transport_error(what, e))? {
        if (body.len() as u64).saturating_add(chunk.len() as u64) > max_body {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(RawResponse { status, headers, body })
}

/// Headers common to every Partner Center API request (besides Authorization and User-Agent).
pub fn standard_headers(request_id: &str, correlation_id: &str, locale: &str, application_name: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(reqwest::header::ACCEPT, HeaderValue::from_static("application/json"));
    let mut put = |name: &'static str, value: &str| {
        // Values were validated (ConnectionSettings::validate) or are UUIDs; skip rather than panic.
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(HeaderName::from_static(lower(name)), v);
        }
    };
    put(MS_REQUEST_ID, request_id);
    put(MS_CORRELATION_ID, correlation_id);
    put(X_LOCALE, locale);
    put(MS_PC_APPLICATION, application_name);
    h
}

/// `HeaderName::from_static` wants lower case; header names are case-insensitive on the wire.
fn lower(name: &'static str) -> &'static str {
    match name {
        MS_REQUEST_ID => "ms-requestid",
        MS_CORRELATION_ID => "ms-correlationid",
        X_LOCALE => "x-locale",
        MS_PC_APPLICATION => "ms-partnercenter-application",
        MS_CONTINUATION_TOKEN => "ms-continuationtoken",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_follows_sdk_schedule_within_jitter() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(500),
            max_retries: 3,
            max_throttle_retries: 1,
            max_retry_after: Duration::from_secs(1),
            max_body: MAX_RESPONSE_BYTES,
            on_throttled: None,
        };
        for _ in 0..50 {
            let delays: Vec<Duration> = policy.backoff().collect();
            assert_eq!(delays.len(), 3);
            for (d, nominal) in delays.iter().zip([500u64, 1500, 3500]) {
                let ms = d.as_millis() as u64;
                assert!(ms >= nominal * 8 / 10 && ms < nominal * 12 / 10, "{ms} vs {nominal}");
            }
        }
        let none = RetryPolicy {
            max_retries: 0,
            ..policy
        };
        assert_eq!(none.backoff().count(), 0);
        // An absurd configured base delay saturates instead of panicking.
        let huge = RetryPolicy {
            base_delay: Duration::MAX,
            max_retries: 3,
            ..none
        };
        assert_eq!(huge.backoff().count(), 3);
        assert_eq!(jitter(Duration::MAX, 1.19), Duration::MAX);
        assert_eq!(jitter(Duration::from_secs(10), 0.5), Duration::from_secs(5));
    }

    #[test]
    fn headers_present() {
        let h = standard_headers("rid", "cid", "de-DE", "my app");
        assert_eq!(h.get("MS-RequestId").unwrap(), "rid");
        assert_eq!(h.get("ms-correlationid").unwrap(), "cid");
        assert_eq!(h.get("X-Locale").unwrap(), "de-DE");
        assert_eq!(h.get("MS-PartnerCenter-Application").unwrap(), "my app");
        assert_eq!(h.get("accept").unwrap(), "application/json");
        assert!(USER_AGENT.starts_with("partner-center-operator/"));
    }

    #[test]
    fn retryable_statuses() {
        for (s, r) in [
            (500, true),
            (503, true),
            (408, true),
            (400, false),
            (401, false),
            (404, false),
            (429, false),
        ] {
            assert_eq!(is_retryable_status(s), r, "{s}");
        }
    }
}
