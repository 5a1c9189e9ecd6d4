//! Refusals a caller can repeat at will — nobody signed in (a bad token, a cross-site post), or a
//! tenant past its rate limit: counted in memory and summarised into the audit log as one entry
//! per tenant, address and minute, with the count, so none of them costs a durable write of its
//! own. Requests nobody signed in for are also limited per address here.

use crate::auth::Principal;
use crate::clock::minute_of;
use crate::ids::TenantId;
use crate::model::AuditAction;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Addresses tracked in one minute; refusals from more are summed under `OTHERS`, so a flood
/// from many addresses still makes a bounded number of entries.
const MAX_ADDRESSES: usize = 256;

/// Where refusals past `MAX_ADDRESSES` in a minute are summed.
pub(crate) const OTHERS: &str = "other addresses";

/// Who a request is counted against: its address, or for IPv6 its /64, which one host is
/// typically given whole (counting each of its addresses apart would let it count as millions).
fn sender(client: &str) -> String {
    match client.parse::<std::net::Ipv6Addr>() {
        Ok(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        _ => client.to_owned(),
    }
}

/// One minute's refusals of one tenant (`None`: nobody signed in) from one address, ready for
/// the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RefusalSummary {
    pub(crate) minute: i64,
    pub(crate) tenant: Option<TenantId>,
    /// Who was refused first in that minute (`-` when nobody signed in).
    pub(crate) user: String,
    pub(crate) client: String,
    /// What was refused first in that minute (`authenticate`, `origin_check`, …).
    pub(crate) action: AuditAction,
    pub(crate) error_code: String,
    pub(crate) count: u64,
}

/// What refusals are counted under: minute start, tenant, address.
type Key = (i64, Option<TenantId>, String);

#[derive(Debug)]
struct Tally {
    user: String,
    action: AuditAction,
    error_code: String,
    count: u64,
}

#[derive(Debug, Default)]
struct Minutes {
    refusals: HashMap<Key, Tally>,
    /// Requests by (minute start, address), refused or not, for the per-address limit.
    requests: HashMap<(i64, String), u64>,
}

#[derive(Debug, Default)]
pub(crate) struct RefusalGate {
    minutes: Mutex<Minutes>,
}

impl RefusalGate {
    /// Counts a request without a valid credential from `client`; false once that address has
    /// made more than `max_per_min` of them this minute.
    pub(crate) fn admit(&self, client: &str, now_ms: i64, max_per_min: u64) -> bool {
        let client = &sender(client);
        let minute = minute_of(now_ms);
        let mut m = self.minutes.lock().unwrap_or_else(PoisonError::into_inner);
        m.requests.retain(|(start, _), _| *start == minute);
        let tracked = m.requests.len();
        let key = if tracked >= MAX_ADDRESSES && !m.requests.contains_key(&(minute, client.into()))
        {
            OTHERS.to_owned()
        } else {
            client.to_owned()
        };
        let count = m.requests.entry((minute, key)).or_default();
        *count += 1;
        *count <= max_per_min
    }

    /// Whether `client` is already past `max_per_min` requests without a valid credential this
    /// minute, without counting one more: a check before any work is done for it.
    /// (An address not counted yet this minute is not over, even while the addresses past
    /// `MAX_ADDRESSES` share one count: a flood from many addresses must not shut out a provider
    /// posting from a new one.)
    pub(crate) fn over(&self, client: &str, now_ms: i64, max_per_min: u64) -> bool {
        let minute = minute_of(now_ms);
        let m = self.minutes.lock().unwrap_or_else(PoisonError::into_inner);
        m.requests
            .get(&(minute, sender(client)))
            .is_some_and(|n| *n >= max_per_min)
    }

    /// Counts one refusal of `who` (`None`: nobody signed in).
    pub(crate) fn refused(
        &self,
        who: Option<&Principal>,
        client: &str,
        action: AuditAction,
        error_code: &str,
        now_ms: i64,
    ) {
        let client = &sender(client);
        let minute = minute_of(now_ms);
        let tenant = who.map(|p| p.tenant.clone());
        let mut m = self.minutes.lock().unwrap_or_else(PoisonError::into_inner);
        let in_minute = m.refusals.keys().filter(|(s, ..)| *s == minute).count();
        let mut key = (minute, tenant, client.to_owned());
        if in_minute >= MAX_ADDRESSES && !m.refusals.contains_key(&key) {
            key.2 = OTHERS.to_owned();
        }
        m.refusals
            .entry(key)
            .or_insert_with(|| Tally {
                user: who.map_or_else(|| "-".to_owned(), |p| p.user.clone()),
                action,
                error_code: error_code.to_owned(),
                count: 0,
            })
            .count += 1;
    }

    /// Takes the summaries of every minute that has ended (all of them with `everything`, at
    /// shutdown), oldest first.
    pub(crate) fn take_closed(&self, now_ms: i64, everything: bool) -> Vec<RefusalSummary> {
        let current = minute_of(now_ms);
        let mut m = self.minutes.lock().unwrap_or_else(PoisonError::into_inner);
        let closed: Vec<Key> = m
            .refusals
            .keys()
            .filter(|(minute, ..)| everything || *minute < current)
            .cloned()
            .collect();
        let mut summaries: Vec<RefusalSummary> = closed
            .into_iter()
            .filter_map(|key| {
                let tally = m.refusals.remove(&key)?;
                Some(RefusalSummary {
                    minute: key.0,
                    tenant: key.1,
                    user: tally.user,
                    client: key.2,
                    action: tally.action,
                    error_code: tally.error_code,
                    count: tally.count,
                })
            })
            .collect();
        summaries.sort_by(|a, b| (a.minute, &a.client).cmp(&(b.minute, &b.client)));
        summaries
    }

    /// Puts summaries back (their audit write failed), to be tried with the next ones.
    pub(crate) fn restore(&self, summaries: Vec<RefusalSummary>) {
        let mut m = self.minutes.lock().unwrap_or_else(PoisonError::into_inner);
        for s in summaries {
            m.refusals
                .entry((s.minute, s.tenant, s.client))
                .or_insert_with(|| Tally {
                    user: s.user,
                    action: s.action,
                    error_code: s.error_code,
                    count: 0,
                })
                .count += s.count;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_summarised_per_address_and_minute() {
        let gate = RefusalGate::default();
        for i in 0..1000 {
            gate.refused(
                None,
                "10.0.0.1",
                AuditAction::Authenticate,
                "UNAUTHENTICATED",
                5_000 + i,
            );
        }
        gate.refused(
            None,
            "10.0.0.2",
            AuditAction::OriginCheck,
            "FORBIDDEN",
            6_000,
        );
        assert!(
            gate.take_closed(59_999, false).is_empty(),
            "the minute is still open"
        );
        let closed = gate.take_closed(60_000, false);
        assert_eq!(closed.len(), 2);
        assert_eq!(closed[0].client, "10.0.0.1");
        assert_eq!(closed[0].count, 1000);
        assert_eq!(closed[1].action, AuditAction::OriginCheck);
        assert!(gate.take_closed(120_000, true).is_empty(), "taken once");
    }

    #[test]
    fn an_address_is_over_only_on_its_own_count_and_ipv6_counts_by_64() {
        let gate = RefusalGate::default();
        // A flood from more addresses than are tracked one by one…
        for i in 0..(MAX_ADDRESSES as u32 + 50) {
            gate.admit(&format!("10.1.{}.{}", i / 256, i % 256), 1_000, 1);
            gate.admit(&format!("10.1.{}.{}", i / 256, i % 256), 1_000, 1);
        }
        // …does not shut out a provider posting from an address not seen yet.
        assert!(!gate.over("192.0.2.7", 1_000, 1));
        // Every address of one IPv6 /64 is one sender.
        for host in 1..=3 {
            gate.admit(&format!("2001:db8:1:2::{host}"), 62_000, 1_000);
        }
        assert!(gate.over("2001:db8:1:2::ffff", 62_000, 3));
        assert!(!gate.over("2001:db8:1:3::1", 62_000, 3));
    }

    #[test]
    fn many_addresses_make_a_bounded_number_of_summaries() {
        let gate = RefusalGate::default();
        for i in 0..5_000 {
            gate.refused(
                None,
                &format!("2001:db8:{i:x}::1"),
                AuditAction::Authenticate,
                "UNAUTHENTICATED",
                1,
            );
        }
        let closed = gate.take_closed(0, true);
        assert_eq!(closed.len(), MAX_ADDRESSES + 1);
        let others = closed.iter().find(|s| s.client == OTHERS).map(|s| s.count);
        assert_eq!(others, Some(5_000 - MAX_ADDRESSES as u64));
    }

    #[test]
    fn a_tenants_refusals_are_summarised_apart_from_anonymous_ones() {
        let gate = RefusalGate::default();
        let p = Principal {
            tenant: TenantId::parse("acme").expect("tenant"),
            user: "ana".into(),
            via_cookie: false,
            expires_at: 0,
        };
        for _ in 0..500 {
            gate.refused(
                Some(&p),
                "10.0.0.1",
                AuditAction::RateLimitReads,
                "RATE_LIMITED",
                1,
            );
        }
        gate.refused(
            None,
            "10.0.0.1",
            AuditAction::Authenticate,
            "UNAUTHENTICATED",
            2,
        );
        let closed = gate.take_closed(0, true);
        assert_eq!(closed.len(), 2);
        let acme = closed.iter().find(|s| s.tenant.is_some()).expect("acme's");
        assert_eq!((acme.user.as_str(), acme.count), ("ana", 500));
        let anonymous = closed
            .iter()
            .find(|s| s.tenant.is_none())
            .expect("anonymous");
        assert_eq!((anonymous.user.as_str(), anonymous.count), ("-", 1));
    }

    #[test]
    fn an_address_is_limited_within_its_minute() {
        let gate = RefusalGate::default();
        assert!((0..10).all(|_| gate.admit("10.0.0.1", 1, 10)));
        assert!(!gate.admit("10.0.0.1", 2, 10));
        assert!(
            gate.admit("10.0.0.2", 3, 10),
            "another address has its own count"
        );
        assert!(gate.admit("10.0.0.1", 60_000, 10), "a new minute");
    }

    #[test]
    fn failed_writes_are_kept_for_the_next_flush() {
        let gate = RefusalGate::default();
        gate.refused(
            None,
            "10.0.0.1",
            AuditAction::Authenticate,
            "UNAUTHENTICATED",
            1,
        );
        let taken = gate.take_closed(0, true);
        gate.restore(taken);
        gate.refused(
            None,
            "10.0.0.1",
            AuditAction::Authenticate,
            "UNAUTHENTICATED",
            2,
        );
        assert_eq!(gate.take_closed(0, true)[0].count, 2);
    }
}
