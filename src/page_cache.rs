//! Serialized listing pages, reused while the store reports no change.
//!
//! An entry is valid only under the store's change marker it was read under, and only for
//! [`FRESH_FOR`]: views carry warnings worked out from the clock (a token about to expire), so
//! a page may not outlive that by much. The marker is taken *before* the store is read, so a
//! change that lands in between makes the entry look older than it is, never newer.

use bytes::Bytes;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

pub(crate) const FRESH_FOR: Duration = Duration::from_secs(1);

/// Bytes of pages kept at most; past it, everything is dropped and the cache fills again.
const BUDGET: usize = 16 << 20;

struct Entry {
    marker: u64,
    made: Instant,
    body: Bytes,
}

pub(crate) struct PageCache<K> {
    inner: Mutex<Inner<K>>,
}

struct Inner<K> {
    entries: HashMap<K, Entry>,
    bytes: usize,
}

impl<K: Hash + Eq> Default for PageCache<K> {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                bytes: 0,
            }),
        }
    }
}

impl<K: Hash + Eq> PageCache<K> {
    /// The page stored for `key` under `marker`, if it is still fresh at `now`.
    pub(crate) fn get(&self, key: &K, marker: u64, now: Instant) -> Option<Bytes> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner
            .entries
            .get(key)
            .filter(|e| e.marker == marker && now.saturating_duration_since(e.made) < FRESH_FOR)
            .map(|e| e.body.clone())
    }

    /// Keeps `body`, read from the store under `marker` at `made`.
    pub(crate) fn put(&self, key: K, marker: u64, made: Instant, body: Bytes) {
        if body.len() > BUDGET / 64 {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.bytes + body.len() > BUDGET {
            inner.entries.clear();
            inner.bytes = 0;
        }
        inner.bytes += body.len();
        let entry = Entry { marker, made, body };
        if let Some(old) = inner.entries.insert(key, entry) {
            inner.bytes -= old.body.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_reused_only_under_its_marker_and_while_fresh() {
        let cache = PageCache::default();
        let t0 = Instant::now();
        cache.put("a", 7, t0, Bytes::from_static(b"[1]"));
        assert_eq!(cache.get(&"a", 7, t0).as_deref(), Some(&b"[1]"[..]));
        assert_eq!(cache.get(&"b", 7, t0), None, "keys are apart");
        assert_eq!(cache.get(&"a", 8, t0), None, "the store changed");
        assert_eq!(cache.get(&"a", 7, t0 + FRESH_FOR), None, "too old");
        cache.put("a", 8, t0, Bytes::from_static(b"[1,2]"));
        assert_eq!(cache.get(&"a", 8, t0).as_deref(), Some(&b"[1,2]"[..]));
    }

    #[test]
    fn the_cache_stays_within_its_budget() {
        let cache = PageCache::default();
        let t0 = Instant::now();
        let page = Bytes::from(vec![b' '; BUDGET / 64]);
        for i in 0..200 {
            cache.put(i, 1, t0, page.clone());
            let bytes = cache.inner.lock().map(|c| c.bytes).unwrap_or(usize::MAX);
            assert!(bytes <= BUDGET, "{bytes}");
        }
        assert!(cache.get(&199, 1, t0).is_some(), "the newest page is kept");
        cache.put(1_000, 1, t0, Bytes::from(vec![b' '; BUDGET / 64 + 1]));
        assert!(
            cache.get(&1_000, 1, t0).is_none(),
            "a huge page is not kept"
        );
    }
}
