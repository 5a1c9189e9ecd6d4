//! Per-tenant rate counting without a store write on every request.
//!
//! The counts live in the store, so every server process on it shares them. While a tenant is
//! far below its limit, a process takes several hits from the shared count at once and admits
//! that many requests without asking again. Taken hits count whether or not they are used, so the
//! limit is never passed, whatever the number of processes: the cost is that hits a process took
//! and did not use before the window ended were refused to nobody and granted to nobody. From
//! half the limit on, hits are taken one at a time, exactly as if there were no batching.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Most hits taken at once.
const MAX_BATCH: u64 = 64;

/// Counters kept for keys of past windows are dropped once there are this many.
const PRUNE_AT: usize = 10_000;

/// What to do with a counted hit.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Admit it: the hit was taken from the shared count earlier.
    Admit,
    /// Take this many hits from the shared count (this one among them), then ask `taken`.
    Take(u64),
}

#[derive(Debug)]
struct Window {
    start: i64,
    /// The shared total the store last reported.
    known: u64,
    /// Hits taken from the shared count and not used yet.
    spare: u64,
}

#[derive(Debug, Default)]
pub(crate) struct RateCounter {
    windows: Mutex<HashMap<String, Window>>,
}

impl RateCounter {
    /// Counts one hit on `key` in the window starting at `window`, under a limit of `max`.
    pub(crate) fn count(&self, key: &str, window: i64, max: u64) -> Verdict {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if windows.len() >= PRUNE_AT && !windows.contains_key(key) {
            windows.retain(|_, w| w.start >= window);
        }
        let w = windows
            .entry(key.to_owned())
            .and_modify(|w| {
                if w.start != window {
                    *w = Window::new(window);
                }
            })
            .or_insert_with(|| Window::new(window));
        if w.spare > 0 {
            w.spare -= 1;
            return Verdict::Admit;
        }
        let batch = (max / 64).clamp(1, MAX_BATCH);
        if w.known.saturating_add(batch) <= max / 2 {
            Verdict::Take(batch)
        } else {
            Verdict::Take(1)
        }
    }

    /// Records that `hits` were taken and the shared count is now `total`; says whether the hit
    /// that asked may be admitted. Of the hits taken, those past `max` are not used.
    pub(crate) fn taken(&self, key: &str, window: i64, hits: u64, total: u64, max: u64) -> bool {
        let within = max.saturating_sub(total.saturating_sub(hits)).min(hits);
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(w) = windows.get_mut(key).filter(|w| w.start == window) {
            // Answers may come back out of order; the count only grows within a window.
            w.known = w.known.max(total);
            w.spare = w.spare.saturating_add(within.saturating_sub(1));
        }
        within > 0
    }
}

impl Window {
    fn new(start: i64) -> Self {
        Self {
            start,
            known: 0,
            spare: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_limit_takes_one_hit_at_a_time() {
        let c = RateCounter::default();
        for total in 1..=5 {
            assert_eq!(c.count("t:writes", 0, 5), Verdict::Take(1));
            assert!(c.taken("t:writes", 0, 1, total, 5));
        }
        assert_eq!(c.count("t:writes", 0, 5), Verdict::Take(1));
        assert!(!c.taken("t:writes", 0, 1, 6, 5), "the sixth is refused");
    }

    #[test]
    fn far_below_the_limit_hits_are_taken_in_batches() {
        let c = RateCounter::default();
        assert_eq!(c.count("t:reads", 0, 6_400), Verdict::Take(64));
        assert!(c.taken("t:reads", 0, 64, 64, 6_400));
        for _ in 0..63 {
            assert_eq!(c.count("t:reads", 0, 6_400), Verdict::Admit);
        }
        assert_eq!(c.count("t:reads", 0, 6_400), Verdict::Take(64));
        // The default of 600 a minute takes 9 at a time.
        assert_eq!(c.count("u:reads", 0, 600), Verdict::Take(9));
    }

    #[test]
    fn from_half_the_limit_hits_are_taken_one_at_a_time() {
        let c = RateCounter::default();
        assert_eq!(c.count("t:reads", 0, 640), Verdict::Take(10));
        // Other processes have taken 300 more.
        assert!(c.taken("t:reads", 0, 10, 310, 640));
        for _ in 0..9 {
            assert_eq!(c.count("t:reads", 0, 640), Verdict::Admit);
        }
        assert_eq!(c.count("t:reads", 0, 640), Verdict::Take(10)); // 310 + 10 <= 320
        assert!(c.taken("t:reads", 0, 10, 320, 640));
        for _ in 0..9 {
            assert_eq!(c.count("t:reads", 0, 640), Verdict::Admit);
        }
        assert_eq!(c.count("t:reads", 0, 640), Verdict::Take(1));
    }

    #[test]
    fn hits_taken_past_the_limit_are_not_used() {
        let c = RateCounter::default();
        assert_eq!(c.count("t:reads", 0, 6_400), Verdict::Take(64));
        // Other processes took the count to 6,390: only 10 of these 64 are within the limit.
        assert!(c.taken("t:reads", 0, 64, 6_454, 6_400));
        for _ in 0..9 {
            assert_eq!(c.count("t:reads", 0, 6_400), Verdict::Admit);
        }
        assert_eq!(c.count("t:reads", 0, 6_400), Verdict::Take(1));
        assert!(!c.taken("t:reads", 0, 1, 6_455, 6_400));
    }

    #[test]
    fn a_new_window_starts_from_nothing_and_keys_are_apart() {
        let c = RateCounter::default();
        assert_eq!(c.count("a:reads", 0, 6_400), Verdict::Take(64));
        assert!(c.taken("a:reads", 0, 64, 64, 6_400));
        assert_eq!(c.count("b:reads", 0, 6_400), Verdict::Take(64));
        assert_eq!(c.count("a:reads", 0, 6_400), Verdict::Admit);
        assert_eq!(
            c.count("a:reads", 60_000, 6_400),
            Verdict::Take(64),
            "spare hits of the last window are gone"
        );
        // A late answer for the old window changes nothing.
        assert!(c.taken("a:reads", 0, 64, 3_000, 6_400));
        assert_eq!(c.count("a:reads", 60_000, 6_400), Verdict::Take(64));
    }
}
