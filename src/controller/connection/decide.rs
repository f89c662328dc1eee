//! Stage 2, decide: is the connection blocked before any Partner Center call, and is a sync due?
//! Pure: the past comes in as [`Seen`], the time as an `Instant`, so the tests run on a fake clock.

use super::memory::{Seen, SyncKey, SyncRecord};
use super::sync::{Failure, Outcome};
use crate::api::PartnerCenterConnection;
use crate::policy::ConnectionOwner;
use crate::runtime::settings::OperatorSettings;
use std::time::{Duration, Instant};

/// `spec.syncInterval` is clamped to this range at runtime (admission refuses values outside it;
/// objects stored before that rule still get a sane interval).
pub const MIN_SYNC_INTERVAL: Duration = Duration::from_secs(60);
pub const MAX_SYNC_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// A server-supplied wait (Retry-After) is honoured up to this, and never beyond the sync interval.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);
/// Sync requests (the annotation) of one connection are answered at most this often; a request
/// inside the interval is answered at its end, not dropped.
pub const MIN_REQUEST_INTERVAL: Duration = Duration::from_secs(30);
/// Backoff after failed syncs: 5 s doubling per failure in a row (10 s after the first), at most
/// 5 min (or the interval).
const BACKOFF_BASE: Duration = Duration::from_secs(5);
const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// Wake a little after a wait ends rather than a little before it.
const MARGIN: Duration = Duration::from_millis(50);

/// What to do with a connection now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Publish the last outcome again and look again after `next` (jittered when `jitter`: a
    /// periodic due time, not a wait Partner Center or the request limit imposes).
    Reuse { next: Duration, jitter: bool },
    /// A sync is running; its completion requeues the connection.
    InFlight,
    /// Start a sync; `answers_request` when it is started for a new sync-requested value.
    Sync { answers_request: bool },
}

/// The connection's sync interval: `spec.syncInterval` (else `default`) clamped to
/// [`MIN_SYNC_INTERVAL`, `MAX_SYNC_INTERVAL`].
pub fn sync_interval(conn: &PartnerCenterConnection, default: Duration) -> Duration {
    conn.spec
        .sync_interval_or(default)
        .clamp(MIN_SYNC_INTERVAL, MAX_SYNC_INTERVAL)
}

/// A server's Retry-After as honoured: at most the sync interval and [`MAX_RETRY_AFTER`].
pub fn clamp_retry_after(wait: Duration, interval: Duration) -> Duration {
    wait.min(interval).min(MAX_RETRY_AFTER)
}

/// How long after `record` the next sync is due: the interval after a success; Partner Center's
/// (clamped) Retry-After; otherwise exponential backoff capped by the interval.
pub fn wait_after(record: &SyncRecord, interval: Duration) -> Duration {
    match &record.outcome {
        Outcome::Synced(_) => interval,
        Outcome::CallFailed {
            retry_after: Some(d), ..
        } => clamp_retry_after(*d, interval),
        _ => BACKOFF_BASE
            .saturating_mul(1 << record.failures.min(10))
            .min(interval)
            .min(BACKOFF_MAX),
    }
}

/// Whether a sync is due for `key`, given what is remembered and the current sync-requested value.
pub fn decide(seen: &Seen, key: &SyncKey, requested: Option<&String>, interval: Duration, now: Instant) -> Decision {
    if seen.in_flight {
        return Decision::InFlight;
    }
    let Some(last) = &seen.last else {
        return Decision::Sync {
            answers_request: requested.is_some(),
        };
    };
    let elapsed = now.saturating_duration_since(last.at);
    let new_request = requested.is_some() && requested != last.requested.as_ref();
    // Partner Center's Retry-After holds even for a sync request or new inputs.
    if let Outcome::CallFailed {
        retry_after: Some(wait),
        ..
    } = &last.outcome
    {
        let wait = clamp_retry_after(*wait, interval);
        if elapsed < wait {
            return Decision::Reuse {
                next: (wait - elapsed).saturating_add(MARGIN),
                jitter: false,
            };
        }
    }
    if last.key != *key || seen.refresh_token_changed {
        return Decision::Sync {
            answers_request: new_request,
        };
    }
    let due = wait_after(last, interval);
    if new_request {
        let since_request = seen.last_requested_at.map(|at| now.saturating_duration_since(at));
        match since_request {
            Some(since) if since < MIN_REQUEST_INTERVAL && elapsed < due => {
                return Decision::Reuse {
                    next: (MIN_REQUEST_INTERVAL - since).min(due - elapsed).saturating_add(MARGIN),
                    jitter: false,
                };
            }
            Some(since) if since < MIN_REQUEST_INTERVAL => {}
            _ => return Decision::Sync { answers_request: true },
        }
    }
    if elapsed < due {
        Decision::Reuse {
            next: due - elapsed,
            jitter: true,
        }
    } else {
        Decision::Sync { answers_request: false }
    }
}

/// Static problems that stop a connection before any Partner Center call: an unusable owner, or an
/// endpoint override that is not a URL or not in the operator's allow-list.
pub fn blocked(
    conn: &PartnerCenterConnection,
    settings: &OperatorSettings,
    owner: Option<&ConnectionOwner>,
) -> Option<Failure> {
    if let Some(ConnectionOwner::Unusable(f)) = owner {
        return Some(Failure::new(&f.reason, f.message.clone()));
    }
    let ep = conn.spec.endpoints.as_ref()?;
    for (field, value) in [
        ("spec.endpoints.partnerCenter", &ep.partner_center),
        ("spec.endpoints.login", &ep.login),
    ] {
        let Some(value) = value else { continue };
        let url = match url::Url::parse(value) {
            Ok(u) => u,
            Err(e) => {
                return Some(Failure::new(
                    "InvalidEndpoint",
                    format!("{field} '{value}' is not a URL ({e})"),
                ));
            }
        };
        if let Err(why) = settings.endpoint_allowed(&url) {
            return Some(Failure::new(
                "EndpointNotAllowed",
                format!(
                    "{field} '{value}' is not allowed: {why}; remove spec.endpoints to use the real Partner Center, or ask the operator's administrator to allow this endpoint"
                ),
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::sync::Synced;
    use super::*;
    use crate::api::PartnerInfo;
    use crate::policy::Verification;

    fn conn(sync_interval: Option<&str>) -> PartnerCenterConnection {
        let mut spec = serde_json::json!({
            "partnerTenantId": "22222222-2222-4222-8222-222222222222", "region": "NZ",
            "cspType": "IndirectProvider", "environment": "Production",
            "auth": {"secretRef": {"name": "creds"}},
            "endpoints": {"partnerCenter": "http://127.0.0.1:18085", "login": "http://127.0.0.1:18085"},
        });
        if let Some(i) = sync_interval {
            spec["syncInterval"] = i.into();
        }
        serde_json::from_value(serde_json::json!({
            "apiVersion": "channel.csp.dev/v1alpha1", "kind": "PartnerCenterConnection",
            "metadata": {"name": "nz", "namespace": "csp-system", "uid": "u1", "generation": 1},
            "spec": spec,
        }))
        .expect("connection")
    }

    fn synced() -> Outcome {
        Outcome::Synced(Synced {
            partner: PartnerInfo::default(),
            customers: 1,
            inventory: Default::default(),
            list_pages: 1,
            resellers: None,
            active_resellers: Default::default(),
            verification: Verification {
                verified: true,
                reason: "Verified".into(),
                message: String::new(),
                unchecked: vec![],
            },
        })
    }
    fn failed(retry_after: Option<u64>) -> Outcome {
        Outcome::CallFailed {
            failure: Failure::new(
                if retry_after.is_some() {
                    "Throttled"
                } else {
                    "ServerError"
                },
                "x",
            ),
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    const S: fn(u64) -> Duration = Duration::from_secs;
    const MIN15: Duration = Duration::from_secs(900);

    #[test]
    fn sync_interval_and_retry_after_are_clamped() {
        // (spec.syncInterval, effective interval)
        let intervals = [
            (None, MIN15),
            (Some("5m"), S(300)),
            (Some("1s"), MIN_SYNC_INTERVAL),
            (Some("400h"), MAX_SYNC_INTERVAL),
            (Some("not a duration"), MIN15),
        ];
        for (spec, want) in intervals {
            assert_eq!(sync_interval(&conn(spec), MIN15), want, "{spec:?}");
        }
        // (Retry-After, interval, honoured wait)
        let waits = [
            (S(2), MIN15, S(2)),
            (S(3600), MIN15, MAX_RETRY_AFTER),
            (S(3600), S(120), S(120)),
            (Duration::MAX, MAX_SYNC_INTERVAL, MAX_RETRY_AFTER),
        ];
        for (wait, interval, want) in waits {
            assert_eq!(clamp_retry_after(wait, interval), want, "{wait:?} {interval:?}");
        }
    }

    #[test]
    fn backoff_doubles_from_five_seconds_and_is_capped() {
        let key = SyncKey::of(&conn(None), "app");
        // (failures in a row, interval, wait)
        let cases = [
            (1, MIN15, S(10)),
            (2, MIN15, S(20)),
            (4, MIN15, S(80)),
            (7, MIN15, S(300)),
            (u32::MAX, MIN15, S(300)),
            (6, S(60), S(60)),
        ];
        for (failures, interval, want) in cases {
            let r = record(&key, failed(None), 0, None);
            let r = SyncRecord { failures, ..r };
            assert_eq!(wait_after(&r, interval), want, "{failures}");
        }
    }

    fn record(key: &SyncKey, outcome: Outcome, at: u64, requested: Option<&str>) -> SyncRecord {
        SyncRecord {
            at: base() + S(at),
            key: key.clone(),
            requested: requested.map(str::to_string),
            failures: u32::from(!outcome.is_success()),
            outcome,
            since: jiff::Timestamp::UNIX_EPOCH,
        }
    }

    fn base() -> Instant {
        static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        *BASE.get_or_init(Instant::now)
    }

    #[test]
    fn due_requested_rate_limited_or_waiting_on_partner_center() {
        let key = SyncKey::of(&conn(None), "app");
        let mut other = conn(None);
        other.spec.partner_tenant_id = "33333333-3333-4333-8333-333333333333".into();
        let other_key = SyncKey::of(&other, "app");
        let reuse = |secs: u64, jitter: bool| Decision::Reuse {
            next: if jitter { S(secs) } else { S(secs) + MARGIN },
            jitter,
        };
        let sync = |answers_request| Decision::Sync { answers_request };
        struct Case {
            name: &'static str,
            last: Option<SyncRecord>,
            in_flight: bool,
            /// seconds after the base when the last requested sync started
            last_requested_at: Option<u64>,
            refresh_token_changed: bool,
            key: SyncKey,
            requested: Option<&'static str>,
            /// seconds after the base
            now: u64,
            want: Decision,
        }
        let case = |name, last, now, want| Case {
            name,
            last,
            in_flight: false,
            last_requested_at: None,
            refresh_token_changed: false,
            key: key.clone(),
            requested: None,
            now,
            want,
        };
        let cases = [
            case("never synced", None, 0, sync(false)),
            case(
                "synced, not due",
                Some(record(&key, synced(), 0, None)),
                60,
                reuse(840, true),
            ),
            case("synced, due", Some(record(&key, synced(), 0, None)), 900, sync(false)),
            case(
                "failed once: 10 s backoff",
                Some(record(&key, failed(None), 0, None)),
                2,
                reuse(8, true),
            ),
            Case {
                in_flight: true,
                ..case(
                    "a sync is running",
                    Some(record(&key, synced(), 0, None)),
                    5000,
                    Decision::InFlight,
                )
            },
            Case {
                key: other_key.clone(),
                ..case(
                    "other inputs (tenant, uid, ...)",
                    Some(record(&key, synced(), 0, None)),
                    1,
                    sync(false),
                )
            },
            Case {
                refresh_token_changed: true,
                ..case("a re-consent", Some(record(&key, synced(), 0, None)), 1, sync(false))
            },
            Case {
                requested: Some("r1"),
                ..case("a first request", Some(record(&key, synced(), 0, None)), 1, sync(true))
            },
            Case {
                requested: Some("r1"),
                ..case(
                    "a request already answered",
                    Some(record(&key, synced(), 0, Some("r1"))),
                    1,
                    reuse(899, true),
                )
            },
            Case {
                requested: Some("r2"),
                last_requested_at: Some(0),
                ..case(
                    "a request 10 s after the last: at the end of 30 s",
                    Some(record(&key, synced(), 1, Some("r1"))),
                    10,
                    reuse(20, false),
                )
            },
            Case {
                requested: Some("r2"),
                last_requested_at: Some(0),
                ..case(
                    "a request 30 s after the last",
                    Some(record(&key, synced(), 1, Some("r1"))),
                    30,
                    sync(true),
                )
            },
            Case {
                requested: Some("r2"),
                last_requested_at: Some(0),
                ..case(
                    "a failing connection's backoff ends first",
                    Some(record(&key, failed(None), 1, Some("r1"))),
                    3,
                    reuse(8, false),
                )
            },
            Case {
                requested: Some("r2"),
                ..case(
                    "Retry-After holds for requests",
                    Some(record(&key, failed(Some(20)), 0, None)),
                    5,
                    reuse(15, false),
                )
            },
            Case {
                key: other_key.clone(),
                ..case(
                    "Retry-After holds for new inputs",
                    Some(record(&key, failed(Some(20)), 0, None)),
                    5,
                    reuse(15, false),
                )
            },
            case(
                "Retry-After clamped to 10 min",
                Some(record(&key, failed(Some(86_400)), 0, None)),
                599,
                reuse(1, false),
            ),
            case(
                "Retry-After passed",
                Some(record(&key, failed(Some(20)), 0, None)),
                21,
                sync(false),
            ),
        ];
        for c in cases {
            let seen = Seen {
                last: c.last,
                in_flight: c.in_flight,
                last_requested_at: c.last_requested_at.map(|s| base() + S(s)),
                refresh_token_changed: c.refresh_token_changed,
            };
            let requested = c.requested.map(str::to_string);
            let got = decide(&seen, &c.key, requested.as_ref(), MIN15, base() + S(c.now));
            assert_eq!(got, c.want, "{}", c.name);
        }
    }

    #[test]
    fn twenty_requests_in_a_burst_are_two_syncs() {
        let key = SyncKey::of(&conn(None), "app");
        let mut seen = Seen::default();
        let mut syncs = 0;
        // One request a second for 20 s, then nothing; the clock runs on for a minute.
        for t in 0..80u64 {
            let requested = Some(format!("r{}", t.min(19)));
            if let Decision::Sync { answers_request } = decide(&seen, &key, requested.as_ref(), MIN15, base() + S(t)) {
                syncs += 1;
                if answers_request {
                    seen.last_requested_at = Some(base() + S(t));
                }
                seen.last = Some(record(&key, synced(), t, requested.as_deref()));
            }
        }
        assert_eq!(
            syncs, 2,
            "the first request at once, the rest at the end of the 30 s interval"
        );
        assert_eq!(
            seen.last.unwrap().requested.as_deref(),
            Some("r19"),
            "the last request answered"
        );
    }

    #[test]
    fn blocked_names_the_field_and_the_fix() {
        let settings = |allow: &[&str]| {
            use clap::Parser;
            #[derive(Parser)]
            struct Cli {
                #[command(flatten)]
                s: OperatorSettings,
            }
            let mut args = vec!["x".to_string()];
            if !allow.is_empty() {
                args.push("--endpoint-allow-list".into());
                args.push(allow.join(","));
            }
            Cli::parse_from(args).s
        };
        let mut bad_url = conn(None);
        bad_url.spec.endpoints.as_mut().unwrap().login = Some("not a url".into());
        let unusable = ConnectionOwner::Unusable(crate::policy::Finding {
            reason: "NamespaceNotOwned".into(),
            message: "no reseller owns namespace x".into(),
        });
        // (case, connection, allow-list, owner, expected reason, text in the message)
        let cases = [
            ("allowed", conn(None), vec!["127.0.0.1:18085"], None, None, ""),
            (
                "not allowed",
                conn(None),
                vec![],
                None,
                Some("EndpointNotAllowed"),
                "spec.endpoints.partnerCenter 'http://127.0.0.1:18085' is not allowed: ",
            ),
            (
                "not a URL",
                bad_url,
                vec!["127.0.0.1:18085"],
                None,
                Some("InvalidEndpoint"),
                "spec.endpoints.login 'not a url' is not a URL",
            ),
            (
                "unusable owner",
                conn(None),
                vec!["127.0.0.1:18085"],
                Some(unusable),
                Some("NamespaceNotOwned"),
                "no reseller owns",
            ),
        ];
        for (case, c, allow, owner, reason, text) in cases {
            let got = blocked(&c, &settings(&allow), owner.as_ref());
            assert_eq!(got.as_ref().map(|f| f.reason.as_str()), reason, "{case}");
            assert!(got.is_none_or(|f| f.message.contains(text)), "{case}");
        }
    }
}
