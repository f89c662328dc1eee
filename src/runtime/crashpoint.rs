//! Crash points: a test hook for the exactly-once tests (tests/customers_exactly_once.rs).
//!
//! `crashpoint("customer.after-pin")` ends the process at once — no destructors, no graceful
//! shutdown, like a node dying — when the environment variable `PCO_CRASHPOINT` names that point.
//! Unset (always, outside those tests) it costs one comparison with a value read once. The points
//! are the moments between two durable writes where a crash must not lose or duplicate anything:
//!
//! - `customer.before-pin`: nothing written yet
//! - `customer.after-pin`: the request id is recorded in status, the create not called
//! - `customer.after-create`: Partner Center answered the create, the Secret not written
//! - `customer.after-secret`: the Secret is written, the status does not say Created yet
//! - `customer.before-agreement`: the tenant is recorded, the agreement not sent
//! - `customer.after-agreement`: Partner Center answered the agreement, the status does not say so

use std::sync::OnceLock;

/// The environment variable naming the point to crash at.
pub const ENV: &str = "PCO_CRASHPOINT";

/// Every crash point the operator has (a name outside this list in `PCO_CRASHPOINT` is refused
/// at start, so a test that misspells one fails instead of passing without a crash).
pub const POINTS: &[&str] = &[
    "customer.before-pin",
    "customer.after-pin",
    "customer.after-create",
    "customer.after-secret",
    "customer.before-agreement",
    "customer.after-agreement",
];

fn armed() -> Option<&'static str> {
    static ARMED: OnceLock<Option<String>> = OnceLock::new();
    ARMED
        .get_or_init(|| std::env::var(ENV).ok().filter(|v| !v.is_empty()))
        .as_deref()
}

/// Checks `PCO_CRASHPOINT` names a known point (or is unset).
pub fn validate() -> Result<(), String> {
    match armed() {
        Some(p) if !POINTS.contains(&p) => Err(format!(
            "{ENV}={p} is not a crash point; use one of {}",
            POINTS.join(", ")
        )),
        _ => Ok(()),
    }
}

/// Dies here when `PCO_CRASHPOINT` names `point` (one log line first, to stderr, unbuffered).
pub fn crashpoint(point: &str) {
    if armed() == Some(point) {
        eprintln!("crashpoint {point}: aborting the process ({ENV})");
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_points_are_named_like_the_tests_name_them() {
        for p in super::POINTS {
            assert!(p.starts_with("customer.") && !p.contains(' '), "{p}");
        }
        // Unset in unit tests: no point fires.
        super::crashpoint("customer.after-pin");
        assert_eq!(super::validate(), Ok(()));
    }
}
