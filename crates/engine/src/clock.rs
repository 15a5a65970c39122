//! The injected clock: delay, lease and (later) timer/TTL decisions read it, so tests control time.

use gale_model::Timestamp;
use std::sync::Mutex;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// Wall-clock time (microsecond precision, as stored).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        gale_model::now()
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock {
    at: Mutex<Timestamp>,
}

impl ManualClock {
    pub fn new(at: Timestamp) -> Self {
        Self { at: Mutex::new(at) }
    }
    pub fn set(&self, at: Timestamp) {
        if let Ok(mut g) = self.at.lock() {
            *g = at;
        }
    }
    pub fn advance(&self, by: std::time::Duration) {
        if let Ok(mut g) = self.at.lock() {
            *g += chrono::Duration::from_std(by).unwrap_or(chrono::Duration::zero());
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        match self.at.lock() {
            Ok(g) => *g,
            Err(p) => *p.into_inner(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let t0 = gale_model::now();
        let c = ManualClock::new(t0);
        assert_eq!(c.now(), t0);
        c.advance(std::time::Duration::from_millis(1500));
        assert_eq!(c.now(), t0 + chrono::Duration::milliseconds(1500));
        c.set(t0);
        assert_eq!(c.now(), t0);
        assert!(SystemClock.now() >= t0);
    }
}
