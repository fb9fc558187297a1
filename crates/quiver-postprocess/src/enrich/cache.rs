//! A bounded cache of lookup answers that expire a fixed time after they
//! were stored.
//!
//! Every entry lives for the same TTL, so insertion order is expiry order:
//! a queue of (expiry, key) finds what to drop without scanning, both the
//! expired entries and, when the cache is full, the oldest. A key stored
//! again leaves a stale queue entry behind, recognised by its expiry not
//! matching the map's. No crate needed for that; the ones with TTLs
//! (moka) bring their own thread pools and much more build time.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hashbrown::HashMap;
use quiver_types::Value;

/// One answer: a value per output column.
pub type Answer = Arc<Vec<Value>>;

/// Answers by request key, each kept for `ttl`, at most `capacity` of them.
pub struct TtlCache {
    ttl: Duration,
    capacity: usize,
    map: HashMap<String, (Instant, Answer)>,
    order: VecDeque<(Instant, String)>,
}

impl TtlCache {
    /// An empty cache.
    pub fn new(ttl: Duration, capacity: usize) -> TtlCache {
        TtlCache {
            ttl,
            capacity: capacity.max(1),
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// The answer stored for `key`, unless it has expired by `now`.
    pub fn get(&mut self, key: &str, now: Instant) -> Option<Answer> {
        match self.map.get(key) {
            Some((expires, a)) if *expires > now => Some(a.clone()),
            _ => None,
        }
    }

    /// Stores `answer` for `key` from `now` on.
    pub fn insert(&mut self, key: String, answer: Answer, now: Instant) {
        self.evict(now);
        while self.map.len() >= self.capacity && !self.map.contains_key(&key) {
            if !self.pop_oldest() {
                break;
            }
        }
        let expires = now + self.ttl;
        self.order.push_back((expires, key.clone()));
        self.map.insert(key, (expires, answer));
    }

    /// Entries stored (some may have expired).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Drops every entry expired by `now`.
    fn evict(&mut self, now: Instant) {
        while self.order.front().is_some_and(|(t, _)| *t <= now) {
            self.pop_oldest();
        }
        // Stale queue entries of re-stored keys could otherwise pile up.
        if self.order.len() > 2 * self.capacity + 16 {
            let map = &self.map;
            self.order
                .retain(|(t, k)| map.get(k).is_some_and(|(e, _)| e == t));
        }
    }

    /// Drops the oldest queue entry (and its map entry, unless the key was
    /// stored again since); false when the queue is empty.
    fn pop_oldest(&mut self) -> bool {
        let Some((t, k)) = self.order.pop_front() else {
            return false;
        };
        if self.map.get(&k).is_some_and(|(e, _)| *e == t) {
            self.map.remove(&k);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(v: i64) -> Answer {
        Arc::new(vec![Value::Int64(v)])
    }

    #[test]
    fn expires_after_ttl() {
        let t0 = Instant::now();
        let mut c = TtlCache::new(Duration::from_secs(10), 100);
        c.insert("k".into(), a(1), t0);
        assert_eq!(c.get("k", t0 + Duration::from_secs(9)), Some(a(1)));
        assert_eq!(c.get("k", t0 + Duration::from_secs(10)), None);
        assert_eq!(c.get("other", t0), None);
        // Stored again, it lives from the new time.
        c.insert("k".into(), a(2), t0 + Duration::from_secs(5));
        assert_eq!(c.get("k", t0 + Duration::from_secs(14)), Some(a(2)));
        // The stale queue entry of the first store does not evict it.
        c.insert("x".into(), a(3), t0 + Duration::from_secs(11));
        assert_eq!(c.get("k", t0 + Duration::from_secs(14)), Some(a(2)));
        c.insert("y".into(), a(4), t0 + Duration::from_secs(16));
        assert_eq!(c.get("k", t0 + Duration::from_secs(16)), None);
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn bounded_drops_oldest() {
        let t0 = Instant::now();
        let mut c = TtlCache::new(Duration::from_secs(60), 3);
        for i in 0..5 {
            c.insert(format!("k{i}"), a(i), t0 + Duration::from_millis(i as u64));
        }
        assert_eq!(c.len(), 3);
        assert_eq!(c.get("k0", t0), None);
        assert_eq!(c.get("k1", t0), None);
        assert_eq!(c.get("k4", t0), Some(a(4)));
        // Re-storing keys many times keeps the queue bounded.
        for i in 0..1000 {
            c.insert("k4".into(), a(i), t0 + Duration::from_millis(10 + i as u64));
        }
        assert!(c.order.len() <= 2 * 3 + 17, "{}", c.order.len());
        assert_eq!(c.len(), 3);
    }
}
