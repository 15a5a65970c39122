//! A bounded, time-limited memory of idempotency keys, for the webhook endpoint to drop resent
//! Site Engine events (the sender resends a spooled event with the key it was created with).
//! Use: `first_seen(key)` before dispatching (false: answer 202 and store nothing), and
//! `forget(key)` if the dispatch then fails, so the sender's retry is not mistaken for a
//! duplicate.
//!
//! In memory on purpose: duplicates come from a resend minutes after the first delivery (a
//! lost response, a spool flush racing a retry), well inside the window; a Gale restart in
//! between is the rare case a durable store would add. Time is passed in so tests drive it.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys seen within `ttl`, at most `capacity` of them (oldest forgotten first).
#[derive(Debug)]
pub struct RecentKeys {
    capacity: usize,
    ttl: Duration,
    seen: HashMap<String, Instant>,
    order: VecDeque<(String, Instant)>,
}

impl RecentKeys {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        RecentKeys {
            capacity: capacity.max(1),
            ttl,
            seen: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some((key, at)) = self.order.front() {
            let too_old = now.saturating_duration_since(*at) >= self.ttl;
            if !too_old && self.order.len() <= self.capacity {
                break;
            }
            // Only forget the key if this queue entry is its latest sighting.
            if self.seen.get(key) == Some(at) {
                self.seen.remove(key);
            }
            self.order.pop_front();
        }
    }

    /// `true` the first time `key` is seen within the window (dispatch it), `false` for a
    /// duplicate (drop it).
    pub fn first_seen(&mut self, key: &str, now: Instant) -> bool {
        self.expire(now);
        if self.seen.contains_key(key) {
            return false;
        }
        self.seen.insert(key.to_string(), now);
        self.order.push_back((key.to_string(), now));
        self.expire(now);
        true
    }

    /// Forgets `key`: the caller reserved it with [`RecentKeys::first_seen`] but could not
    /// dispatch the event, so the sender's retry must not be dropped as a duplicate.
    pub fn forget(&mut self, key: &str) {
        self.seen.remove(key);
        self.order.retain(|(k, _)| k != key);
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

/// [`RecentKeys`] shared between request handlers.
#[derive(Debug)]
pub struct Deduplicator(Mutex<RecentKeys>);

impl Deduplicator {
    /// 100 000 keys for 24 hours: a day of alarms from a large Site Engine.
    pub fn new() -> Self {
        Self::with_limits(100_000, Duration::from_secs(24 * 3600))
    }
    pub fn with_limits(capacity: usize, ttl: Duration) -> Self {
        Deduplicator(Mutex::new(RecentKeys::new(capacity, ttl)))
    }
    /// See [`RecentKeys::first_seen`], at the current time.
    pub fn first_seen(&self, key: &str) -> bool {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        g.first_seen(key, Instant::now())
    }
    /// See [`RecentKeys::forget`]: call it when dispatching a reserved event failed.
    pub fn forget(&self, key: &str) {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        g.forget(key);
    }
}

impl Default for Deduplicator {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_inside_the_window_are_dropped() {
        let t0 = Instant::now();
        let mut k = RecentKeys::new(10, Duration::from_secs(60));
        assert!(k.first_seen("a", t0));
        assert!(!k.first_seen("a", t0 + Duration::from_secs(59)));
        assert!(k.first_seen("b", t0 + Duration::from_secs(1)));
        // Past the window the key counts as new again.
        assert!(k.first_seen("a", t0 + Duration::from_secs(60)));
        assert!(!k.first_seen("a", t0 + Duration::from_secs(61)));
    }

    #[test]
    fn capacity_forgets_the_oldest() {
        let t0 = Instant::now();
        let mut k = RecentKeys::new(2, Duration::from_secs(3600));
        assert!(k.first_seen("a", t0));
        assert!(k.first_seen("b", t0));
        assert!(k.first_seen("c", t0));
        assert_eq!(k.len(), 2);
        assert!(!k.first_seen("c", t0));
        assert!(!k.first_seen("b", t0));
        assert!(k.first_seen("a", t0), "a was forgotten");
    }

    #[test]
    fn shared_deduplicator() {
        let d = Deduplicator::with_limits(5, Duration::from_secs(60));
        assert!(d.first_seen("se-1"));
        assert!(!d.first_seen("se-1"));
        assert!(d.first_seen("se-2"));
        // A failed dispatch releases the key so the retry goes through.
        d.forget("se-2");
        assert!(d.first_seen("se-2"));
        assert!(!d.first_seen("se-2"));
    }
}
