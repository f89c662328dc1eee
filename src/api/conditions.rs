//! Helpers for `metav1.Condition` lists in status: the one way reconcilers set a condition ([`set`]:
//! typed status, `lastTransitionTime` moves only when the status flips), find one by type, and the
//! one reading of "Ready for its generation" ([`ready_for_generation`]).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// Condition types used by the three kinds: every condition name the operator writes.
pub mod types {
    /// All three kinds.
    pub const READY: &str = "Ready";
    /// PartnerCenterConnection.
    pub const AUTHENTICATED: &str = "Authenticated";
    /// PartnerCenterConnection.
    pub const VERIFIED: &str = "Verified";
    /// CustomerPlan.
    pub const CONNECTION_READY: &str = "ConnectionReady";
    /// Reseller.
    pub const HIERARCHY_VALID: &str = "HierarchyValid";
    /// Reseller.
    pub const PLANS_VALID: &str = "PlansValid";
}

/// `status` values of a condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

/// The name `policy` knows it by.
pub use ConditionStatus as Status;

impl ConditionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::True => "True",
            Status::False => "False",
            Status::Unknown => "Unknown",
        }
    }

    /// The status word of a stored condition; anything but "True"/"False" is Unknown.
    pub fn parse(s: &str) -> Self {
        match s {
            "True" => Status::True,
            "False" => Status::False,
            _ => Status::Unknown,
        }
    }
}

impl From<bool> for ConditionStatus {
    fn from(b: bool) -> Self {
        if b { Status::True } else { Status::False }
    }
}

/// Sets the condition `type_` (one of [`types`]) for `generation`; the transition time moves only
/// when the status flips. Returns whether anything but the transition time changed.
pub fn set(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: ConditionStatus,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: jiff::Timestamp,
) -> bool {
    set_condition(
        conditions,
        new_condition(type_, status, reason, message, generation, Time(now)),
    )
}

/// The Ready condition when it was written for `generation`: a Ready condition of an older
/// generation says nothing about the current spec. Used by the rules' facts and the gauges alike.
pub fn ready_for_generation(conditions: &[Condition], generation: Option<i64>) -> Option<&Condition> {
    find_condition(conditions, types::READY).filter(|c| c.observed_generation == generation)
}

/// [`ready_for_generation`] as a status word (Unknown when absent or stale).
pub fn ready_status_for_generation(conditions: &[Condition], generation: Option<i64>) -> ConditionStatus {
    ready_for_generation(conditions, generation)
        .map(|c| ConditionStatus::parse(&c.status))
        .unwrap_or(ConditionStatus::Unknown)
}

/// A new condition stamped with `now` as its transition time (kept by [`set_condition`] when
/// the status does not flip).
fn new_condition(
    type_: &str,
    status: Status,
    reason: &str,
    message: impl Into<String>,
    observed_generation: Option<i64>,
    now: Time,
) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: status.as_str().to_string(),
        reason: reason.to_string(),
        message: message.into(),
        observed_generation,
        last_transition_time: now,
    }
}

/// The condition of `type_`, if any.
pub fn find_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition of `type_` is present with status `True`.
pub fn is_condition_true(conditions: &[Condition], type_: &str) -> bool {
    find_condition(conditions, type_).is_some_and(|c| c.status == Status::True.as_str())
}

/// Sets `new` in `conditions` (replacing the one of the same type, or appending it). When the
/// status is unchanged, the existing `lastTransitionTime` is kept. Returns whether anything but
/// the transition time changed, so callers can skip no-op status writes.
fn set_condition(conditions: &mut Vec<Condition>, mut new: Condition) -> bool {
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        Some(existing) => {
            if existing.status == new.status {
                new.last_transition_time = existing.last_transition_time.clone();
            }
            let changed = existing.status != new.status
                || existing.reason != new.reason
                || existing.message != new.message
                || existing.observed_generation != new.observed_generation;
            *existing = new;
            changed
        }
        None => {
            conditions.push(new);
            true
        }
    }
}

/// Removes the condition of `type_`; returns whether one was there.
pub fn remove_condition(conditions: &mut Vec<Condition>, type_: &str) -> bool {
    let before = conditions.len();
    conditions.retain(|c| c.type_ != type_);
    conditions.len() != before
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Time {
        Time(jiff::Timestamp::from_second(secs).unwrap())
    }

    fn ready(status: Status, reason: &str, generation: i64, now: i64) -> Condition {
        new_condition(
            types::READY,
            status,
            reason,
            format!("{reason} message"),
            Some(generation),
            at(now),
        )
    }

    #[test]
    fn set_condition_moves_transition_time_only_when_status_flips() {
        // (step, status, reason, generation, now, expect changed, expect lastTransitionTime)
        let steps = [
            ("first set appends", Status::Unknown, "Reconciling", 1, 100, true, 100),
            (
                "same everything: no change, time kept",
                Status::Unknown,
                "Reconciling",
                1,
                200,
                false,
                100,
            ),
            (
                "flip to True moves the time",
                Status::True,
                "Verified",
                1,
                300,
                true,
                300,
            ),
            (
                "new reason, same status: changed, time kept",
                Status::True,
                "PartiallyVerified",
                1,
                400,
                true,
                300,
            ),
            (
                "new generation, same status: changed, time kept",
                Status::True,
                "PartiallyVerified",
                2,
                500,
                true,
                300,
            ),
            (
                "flip to False moves the time",
                Status::False,
                "Contradicted",
                2,
                600,
                true,
                600,
            ),
        ];
        let mut conditions = Vec::new();
        for (step, status, reason, generation, now, want_changed, want_time) in steps {
            let changed = set_condition(&mut conditions, ready(status, reason, generation, now));
            assert_eq!(changed, want_changed, "{step}");
            assert_eq!(conditions.len(), 1, "{step}");
            let c = find_condition(&conditions, types::READY).unwrap();
            assert_eq!(c.status, status.as_str(), "{step}");
            assert_eq!(c.reason, reason, "{step}");
            assert_eq!(c.observed_generation, Some(generation), "{step}");
            assert_eq!(c.last_transition_time, at(want_time), "{step}");
        }
    }

    #[test]
    fn conditions_of_other_types_are_left_alone() {
        let mut conditions = Vec::new();
        set_condition(&mut conditions, ready(Status::True, "Ok", 1, 10));
        let auth = new_condition(
            types::AUTHENTICATED,
            Status::False,
            "TokenExpired",
            "expired",
            Some(1),
            at(20),
        );
        assert!(set_condition(&mut conditions, auth));
        assert_eq!(conditions.len(), 2);
        assert!(is_condition_true(&conditions, types::READY));
        assert!(!is_condition_true(&conditions, types::AUTHENTICATED));
        assert!(!is_condition_true(&conditions, types::VERIFIED), "absent is not true");
        assert!(find_condition(&conditions, types::VERIFIED).is_none());
        assert!(remove_condition(&mut conditions, types::AUTHENTICATED));
        assert!(!remove_condition(&mut conditions, types::AUTHENTICATED));
        assert_eq!(
            conditions.iter().map(|c| c.type_.as_str()).collect::<Vec<_>>(),
            [types::READY]
        );
    }

    #[test]
    fn ready_counts_only_for_its_generation() {
        // (Ready written for generation, object generation, expected status word)
        let cases = [
            (Some((Status::True, 3)), Some(3), Status::True),
            (Some((Status::False, 3)), Some(3), Status::False),
            (Some((Status::Unknown, 3)), Some(3), Status::Unknown),
            (Some((Status::True, 2)), Some(3), Status::Unknown),
            (Some((Status::False, 2)), Some(3), Status::Unknown),
            (None, Some(3), Status::Unknown),
        ];
        for (written, generation, want) in cases {
            let mut conditions = Vec::new();
            if let Some((status, g)) = written {
                set(
                    &mut conditions,
                    types::READY,
                    status,
                    "R",
                    "m",
                    Some(g),
                    jiff::Timestamp::UNIX_EPOCH,
                );
            }
            assert_eq!(
                ready_status_for_generation(&conditions, generation),
                want,
                "{written:?} {generation:?}"
            );
        }
    }

    #[test]
    fn set_is_typed_and_names_the_generation() {
        let mut conditions = Vec::new();
        let now = jiff::Timestamp::from_second(50).unwrap();
        assert!(set(
            &mut conditions,
            types::VERIFIED,
            Status::False,
            "TenantMismatch",
            "m",
            Some(4),
            now
        ));
        assert!(!set(
            &mut conditions,
            types::VERIFIED,
            Status::False,
            "TenantMismatch",
            "m",
            Some(4),
            now
        ));
        let c = find_condition(&conditions, types::VERIFIED).unwrap();
        assert_eq!((c.status.as_str(), c.observed_generation), ("False", Some(4)));
        assert_eq!(ConditionStatus::parse("True"), Status::True);
        assert_eq!(ConditionStatus::parse("bogus"), Status::Unknown);
    }

    #[test]
    fn status_from_bool() {
        assert_eq!(Status::from(true).as_str(), "True");
        assert_eq!(Status::from(false).as_str(), "False");
    }
}
