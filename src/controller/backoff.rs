//! Per-object exponential backoff with jitter after reconcile errors (API server refusals,
//! conflicts, outages): 1 s doubling up to 5 min, reset by the next success.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

const BASE: Duration = Duration::from_secs(1);
const MAX: Duration = Duration::from_secs(300);

#[derive(Default)]
pub struct ErrorBackoff {
    failures: Mutex<HashMap<String, u32>>,
}

impl ErrorBackoff {
    pub fn succeeded(&self, key: &str) {
        self.failures.lock().expect("backoff").remove(key);
    }

    /// Records a failure of `key` and returns how long to wait before the next attempt.
    pub fn failed(&self, key: &str) -> Duration {
        let mut failures = self.failures.lock().expect("backoff");
        let n = failures.entry(key.to_string()).or_insert(0);
        let wait = BASE.saturating_mul(1u32 << (*n).min(16)).min(MAX);
        *n = n.saturating_add(1);
        super::jitter(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_per_failure_caps_and_resets() {
        let b = ErrorBackoff::default();
        let waits: Vec<u64> = (0..12).map(|_| b.failed("x").as_millis() as u64).collect();
        let nominal = [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300];
        for (w, n) in waits.iter().zip(nominal) {
            let n = n * 1000;
            assert!(*w >= n * 9 / 10 && *w <= n * 11 / 10, "{waits:?}");
        }
        assert!(b.failed("other") < Duration::from_millis(1200), "per object");
        b.succeeded("x");
        assert!(b.failed("x") < Duration::from_millis(1200), "reset by success");
    }
}
