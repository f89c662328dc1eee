//! Virtual clock: real time plus an offset that the control API can move forward, so tests can
//! expire access tokens (1 h) and refresh tokens (90 days) without waiting.

use std::sync::atomic::{AtomicI64, Ordering};

use jiff::{SignedDuration, Timestamp};

#[derive(Debug, Default)]
pub struct Clock {
    offset_seconds: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> Timestamp {
        let offset = SignedDuration::from_secs(self.offset_seconds.load(Ordering::SeqCst));
        Timestamp::now()
            .checked_add(offset)
            .expect("emulator clock offset out of range")
    }

    /// Moves emulator time forward (negative values are refused by the control API).
    pub fn advance(&self, seconds: i64) -> Timestamp {
        self.offset_seconds.fetch_add(seconds, Ordering::SeqCst);
        self.now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_moves_now_forward() {
        let clock = Clock::default();
        let before = clock.now();
        clock.advance(3600);
        let after = clock.now();
        assert!(after.as_second() - before.as_second() >= 3600);
    }
}
