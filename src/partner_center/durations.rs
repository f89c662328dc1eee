//! Every duration a server hands the client, parsed by one small function each and clamped to a
//! range the client can act on. A number from the network is never trusted to fit a `Duration` or
//! an `Instant` sum: `Retry-After: 1e30` or `expires_in: 18446744073709551615` once panicked the
//! process (overflowing `Duration`/`Instant` arithmetic), and a merely huge value froze a
//! connection for good. Parsing is total (garbage gives `None`, never an error) and the results are
//! bounded, so the callers' arithmetic cannot overflow.
//!
//! `ext_expires_in` and `not_before` of a token response are deliberately not read: the client acts
//! on neither (it refreshes ahead of `expires_in` and a not-yet-valid token is answered with a 401,
//! which re-authenticates once), so serde skips them as unknown fields and no value can hurt.

use serde::{Deserialize, Deserializer};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longest `Retry-After` the client believes. Partner Center asks for seconds to a minute; more is
/// treated as this, so a throttled connection is retried within ten minutes at the latest.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);
/// Shortest access-token lifetime assumed: an absurd or zero lifetime means "expires soon" (the next
/// call asks for a new token) rather than "never use it" or an error.
pub const MIN_TOKEN_LIFETIME: Duration = Duration::from_secs(60);
/// Longest access-token lifetime assumed (Entra issues 60–90 minutes; 24 h is far above that). A
/// token that dies earlier than the server claimed is answered with a 401 and replaced once.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Lifetime assumed when the server states none (and the token carries no `exp`/`iat`).
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// A number of seconds as a server wrote it: a JSON number or a string of digits, possibly
/// fractional, negative or in exponent form. `None` for anything that is not a finite number.
pub fn seconds(text: &str) -> Option<f64> {
    let t = text.trim();
    // Rust's float parser accepts "inf", "NaN" and "infinity"; a server's seconds never are.
    if t.is_empty()
        || !t
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
    {
        return None;
    }
    t.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// `secs` clamped to `[lo, hi]`, converted without any chance of overflow (the clamp happens on the
/// float, before a `Duration` exists).
pub fn clamp_secs(secs: f64, lo: Duration, hi: Duration) -> Duration {
    let clamped = secs.max(lo.as_secs_f64()).min(hi.as_secs_f64());
    Duration::try_from_secs_f64(clamped).unwrap_or(lo)
}

/// `Retry-After` as delta-seconds or an HTTP-date (RFC 9110 §10.2.3), clamped to
/// `0..=MAX_RETRY_AFTER`. A date in the past means "now". `None` (unusable: negative, garbage,
/// empty) lets the caller use its own backoff.
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Some(secs) = seconds(v) {
        return (secs >= 0.0).then(|| clamp_secs(secs, Duration::ZERO, MAX_RETRY_AFTER));
    }
    let at = jiff::fmt::rfc2822::parse(v).ok()?.timestamp();
    let now = jiff::Timestamp::try_from(now).ok()?;
    let ahead = at.as_millisecond().saturating_sub(now.as_millisecond());
    Some(clamp_secs(ahead as f64 / 1000.0, Duration::ZERO, MAX_RETRY_AFTER))
}

/// "Rate limit is exceeded. Try again in 57 seconds." (Partner Center's 429 body) → 57 s, clamped
/// like the header; used when the header is missing.
pub fn retry_after_in_message(msg: &str) -> Option<Duration> {
    let lower = msg.to_ascii_lowercase();
    let rest = &lower[lower.find("try again in")? + "try again in".len()..];
    let number: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        .take(32)
        .collect();
    seconds(&number)
        .filter(|s| *s >= 0.0)
        .map(|s| clamp_secs(s, Duration::ZERO, MAX_RETRY_AFTER))
}

/// A token's `expires_in` (seconds from now) as a lifetime in `[MIN, MAX]_TOKEN_LIFETIME`.
pub fn expires_in(secs: f64) -> Duration {
    clamp_secs(secs, MIN_TOKEN_LIFETIME, MAX_TOKEN_LIFETIME)
}

/// A token's `expires_on` (Unix seconds) as a lifetime from `now`, in `[MIN, MAX]_TOKEN_LIFETIME`;
/// a time in the past means "expires soon".
pub fn expires_on(unix_secs: f64, now: SystemTime) -> Duration {
    let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64();
    expires_in(unix_secs - now)
}

/// A JWT's `exp - iat` as a lifetime in `[MIN, MAX]_TOKEN_LIFETIME` (saturating: `iat > exp` is
/// "expires soon").
pub fn claims_lifetime(exp: u64, iat: u64) -> Duration {
    expires_in(exp.saturating_sub(iat) as f64)
}

/// Serde helper: a number or numeric string as seconds (`f64`); anything else (garbage, objects,
/// `null`, non-finite) is `None` instead of failing the whole response.
pub fn lenient_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n.as_f64().filter(|f| f.is_finite()),
        serde_json::Value::String(s) => seconds(&s),
        _ => None,
    })
}

/// Serde helper: a non-negative integer claim (`iat`, `exp`, a count); fractions are truncated,
/// negative, absurd and non-numeric values are `None`.
pub fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(lenient_seconds(d)?
        .filter(|f| *f >= 0.0 && *f < u64::MAX as f64)
        .map(|f| f as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn retry_after_table() {
        let now = UNIX_EPOCH + S(1_767_225_600); // 2026-01-01T00:00:00Z
        let cases: &[(&str, Option<Duration>)] = &[
            ("0", Some(Duration::ZERO)),
            ("7", Some(S(7))),
            (" 7 ", Some(S(7))),
            ("1.5", Some(Duration::from_millis(1500))),
            ("1e2", Some(S(100))),
            ("1e30", Some(MAX_RETRY_AFTER)),
            ("601", Some(MAX_RETRY_AFTER)),
            ("18446744073709551615", Some(MAX_RETRY_AFTER)),
            ("99999999999999999999999999999", Some(MAX_RETRY_AFTER)),
            ("-1", None),
            ("-9223372036854775808", None),
            ("", None),
            ("soon", None),
            ("inf", None),
            ("NaN", None),
            ("1e309", None),
            ("0x10", None),
            ("Thu, 01 Jan 2026 00:00:30 GMT", Some(S(30))),
            ("Wed, 31 Dec 2025 23:00:00 GMT", Some(Duration::ZERO)),
            ("Wed, 21 Oct 2015 07:28:00 GMT", Some(Duration::ZERO)),
            ("Fri, 01 Jan 2100 00:00:00 GMT", Some(MAX_RETRY_AFTER)),
            ("Thu, 01 Jan 2026 25:99:00 GMT", None),
        ];
        for (value, want) in cases {
            assert_eq!(retry_after(value, now), *want, "Retry-After: {value:?}");
        }
    }

    #[test]
    fn retry_after_in_message_table() {
        let cases: &[(&str, Option<Duration>)] = &[
            ("Rate limit is exceeded. Try again in 57 seconds.", Some(S(57))),
            ("try again in 0.5 seconds", Some(Duration::from_millis(500))),
            ("Try again in 18446744073709551616 seconds.", Some(MAX_RETRY_AFTER)),
            (
                &format!("Try again in {} seconds", "9".repeat(400)),
                Some(MAX_RETRY_AFTER),
            ),
            ("Try again in 1e30 seconds.", Some(MAX_RETRY_AFTER)),
            ("Try again in -5 seconds.", None),
            ("Try again in a while.", None),
            ("Rate limit is exceeded.", None),
        ];
        for (msg, want) in cases {
            assert_eq!(retry_after_in_message(msg), *want, "{msg}");
        }
    }

    #[test]
    fn token_lifetime_table() {
        let cases: &[(f64, Duration)] = &[
            (3599.0, S(3599)),
            (0.0, MIN_TOKEN_LIFETIME),
            (-1.0, MIN_TOKEN_LIFETIME),
            (i64::MIN as f64, MIN_TOKEN_LIFETIME),
            (59.9, MIN_TOKEN_LIFETIME),
            (3600.5, Duration::from_millis(3_600_500)),
            (1e30, MAX_TOKEN_LIFETIME),
            (u64::MAX as f64, MAX_TOKEN_LIFETIME),
        ];
        for (secs, want) in cases {
            assert_eq!(expires_in(*secs), *want, "expires_in {secs}");
        }
        let now = UNIX_EPOCH + S(1_000_000);
        assert_eq!(expires_on(1_003_600.0, now), S(3600));
        assert_eq!(expires_on(0.0, now), MIN_TOKEN_LIFETIME);
        assert_eq!(expires_on(f64::MAX, now), MAX_TOKEN_LIFETIME);
        assert_eq!(expires_on(i64::MIN as f64, now), MIN_TOKEN_LIFETIME);
        assert_eq!(claims_lifetime(1000, 100), S(900));
        assert_eq!(claims_lifetime(100, 1000), MIN_TOKEN_LIFETIME);
        assert_eq!(claims_lifetime(u64::MAX, 0), MAX_TOKEN_LIFETIME);
    }

    #[test]
    fn lenient_fields_table() {
        #[derive(Deserialize)]
        struct T {
            #[serde(default, deserialize_with = "lenient_seconds")]
            s: Option<f64>,
            #[serde(default, deserialize_with = "lenient_u64")]
            u: Option<u64>,
        }
        let cases: &[(&str, Option<f64>, Option<u64>)] = &[
            (r#"{"s":3599,"u":3599}"#, Some(3599.0), Some(3599)),
            (r#"{"s":"3599","u":"3599"}"#, Some(3599.0), Some(3599)),
            (r#"{"s":1e30,"u":1e30}"#, Some(1e30), None),
            (
                r#"{"s":18446744073709551615,"u":18446744073709551615}"#,
                Some(u64::MAX as f64),
                None,
            ),
            (
                r#"{"s":-9223372036854775808,"u":-9223372036854775808}"#,
                Some(i64::MIN as f64),
                None,
            ),
            (r#"{"s":"","u":""}"#, None, None),
            (r#"{"s":"soon","u":"soon"}"#, None, None),
            (r#"{"s":{"x":1},"u":[1]}"#, None, None),
            (r#"{"s":null,"u":null}"#, None, None),
            (r#"{"s":12.75,"u":12.75}"#, Some(12.75), Some(12)),
            ("{}", None, None),
        ];
        for (json, s, u) in cases {
            let t: T = serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!((t.s, t.u), (*s, *u), "{json}");
        }
    }
}
