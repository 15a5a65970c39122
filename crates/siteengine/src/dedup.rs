//! A bounded, time-limited memory of idempotency keys, for the webhook endpoint to drop resent
//! Site Engine events (the sender resends a spooled event with the key it was created with).
//! Use: `first_seen(key)` before dispatching (false: answer 202 and store nothing), and
//! `forget(key)` if the dispatch then fails, so the sender's retry is not mistaken for a
//! duplicate.
//!
//! The memory itself is not durable: the webhook endpoint stores each key in the trigger
//! instance's payload and seeds the deduplicator from recent instances ([`Deduplicator::seed`])
//! before its first check, so a resend across a Gale restart is still dropped. A key may carry
//! the id of the trigger instance it produced ([`Deduplicator::record`]) so a duplicate can be
//! answered with it. Time is passed in so tests drive it.

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
    /// Trigger instance id per key, once the event was dispatched.
    ids: HashMap<String, String>,
}

impl RecentKeys {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        RecentKeys {
            capacity: capacity.max(1),
            ttl,
            seen: HashMap::new(),
            order: VecDeque::new(),
            ids: HashMap::new(),
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
                self.ids.remove(key);
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
        self.ids.remove(key);
        self.order.retain(|(k, _)| k != key);
    }

    /// Remembers which trigger instance `key` produced (after a successful dispatch).
    pub fn record(&mut self, key: &str, id: &str) {
        if self.seen.contains_key(key) {
            self.ids.insert(key.to_string(), id.to_string());
        }
    }

    /// The trigger instance `key` produced, when known.
    pub fn id_of(&self, key: &str) -> Option<&str> {
        self.ids.get(key).map(String::as_str)
    }

    /// Marks `key` as seen at `at` (a past delivery read back from storage) with its instance
    /// id. Seed oldest first: expiry walks the keys in insertion order.
    pub fn seed(&mut self, key: &str, id: &str, at: Instant, now: Instant) {
        if now.saturating_duration_since(at) >= self.ttl || self.seen.contains_key(key) {
            return;
        }
        self.seen.insert(key.to_string(), at);
        self.order.push_back((key.to_string(), at));
        self.ids.insert(key.to_string(), id.to_string());
        self.expire(now);
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
    /// See [`RecentKeys::record`].
    pub fn record(&self, key: &str, id: &str) {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        g.record(key, id);
    }
    /// See [`RecentKeys::id_of`].
    pub fn id_of(&self, key: &str) -> Option<String> {
        let g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        g.id_of(key).map(str::to_string)
    }
    /// See [`RecentKeys::seed`]; `age` is how long ago the key was delivered.
    pub fn seed(&self, key: &str, id: &str, age: Duration) {
        let now = Instant::now();
        let at = now.checked_sub(age).unwrap_or(now);
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        g.seed(key, id, at, now);
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
    fn seeded_keys_are_duplicates_with_their_instance_until_the_window_ends() {
        let now = Instant::now() + Duration::from_secs(1000);
        let mut k = RecentKeys::new(10, Duration::from_secs(60));
        k.seed("old", "ti-0", now - Duration::from_secs(61), now);
        k.seed("se-1", "ti-1", now - Duration::from_secs(30), now);
        assert_eq!(k.id_of("se-1"), Some("ti-1"));
        assert!(!k.first_seen("se-1", now));
        assert!(k.first_seen("old", now), "outside the window when seeded");
        assert_eq!(k.id_of("old"), None);
        k.record("old", "ti-2");
        assert_eq!(k.id_of("old"), Some("ti-2"));
        // The seeded key ages out at its original delivery time, not at seeding time.
        assert!(k.first_seen("se-1", now + Duration::from_secs(30)));
        assert_eq!(k.id_of("se-1"), None);
        k.record("never-seen", "x");
        assert_eq!(k.id_of("never-seen"), None);
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
