//! Helpers for `metav1.Condition` lists: set a condition so that `lastTransitionTime` moves only
//! when the status flips, and find one by type.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

pub const READY: &str = "Ready";

/// Sets condition `type_` in `conditions`. `lastTransitionTime` is kept unless the status changes,
/// so re-publishing the same verdict is a no-op (no status churn).
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    observed_generation: Option<i64>,
    now: jiff::Timestamp,
) {
    let new = |last_transition_time| Condition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: reason.to_string(),
        // The API server limits messages to 32 KiB; ours are a few hundred bytes, but never fail a write.
        message: truncate(message, 32 * 1024),
        observed_generation,
        last_transition_time,
    };
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(existing) => {
            let since = if existing.status == status { existing.last_transition_time.clone() } else { Time(now) };
            *existing = new(since);
        }
        None => conditions.push(new(Time(now))),
    }
}

pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// True when the condition is `True` and was written for `generation`.
pub fn is_true_for(conditions: &[Condition], type_: &str, generation: Option<i64>) -> bool {
    find(conditions, type_).is_some_and(|c| c.status == "True" && c.observed_generation == generation)
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_time_moves_only_when_status_flips() {
        let t0: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let t1: jiff::Timestamp = "2026-01-01T01:00:00Z".parse().unwrap();
        let t2: jiff::Timestamp = "2026-01-01T02:00:00Z".parse().unwrap();
        let mut c = Vec::new();
        set_condition(&mut c, READY, "False", "ConsentExpired", "m1", Some(1), t0);
        set_condition(&mut c, READY, "False", "MfaRequired", "m2", Some(2), t1);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].last_transition_time.0, t0, "same status: time kept");
        assert_eq!((c[0].reason.as_str(), c[0].observed_generation), ("MfaRequired", Some(2)));
        set_condition(&mut c, READY, "True", "Verified", "ok", Some(2), t2);
        assert_eq!(c[0].last_transition_time.0, t2, "flip: time moves");
        assert!(is_true_for(&c, READY, Some(2)));
        assert!(!is_true_for(&c, READY, Some(3)));
        set_condition(&mut c, "Verified", "True", "Verified", "ok", Some(2), t2);
        assert_eq!(c.len(), 2);
        assert_eq!(find(&c, "Verified").unwrap().reason, "Verified");
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let mut c = Vec::new();
        let long = "é".repeat(20_000);
        set_condition(&mut c, READY, "False", "X", &long, None, jiff::Timestamp::UNIX_EPOCH);
        assert!(c[0].message.len() <= 32 * 1024);
    }
}
