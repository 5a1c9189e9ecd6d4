//! Webhooks, apart from any request or store: how providers' webhooks are verified and read
//! (`inbound`), how the hub signs the events it sends (`standard`, the Standard Webhooks
//! convention), and when it tries a delivery again.

pub(crate) mod inbound;
pub(crate) mod standard;

use std::time::Duration;

/// When a delivery is tried again after a failure: after each of these in turn, then never. The
/// default spans more than a day (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), as Standard Webhooks
/// senders do.
pub(crate) fn default_schedule() -> Vec<Duration> {
    [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000]
        .into_iter()
        .map(Duration::from_secs)
        .collect()
}

/// The wait before attempt `attempts + 1`, with up to a tenth more at random so that many
/// deliveries failing together do not come back together; `None` once the schedule is spent.
/// A `Retry-After` the endpoint sent is waited out when it asks for longer.
pub(crate) fn next_wait(
    schedule: &[Duration],
    attempts: u32,
    retry_after: Option<Duration>,
) -> Option<Duration> {
    let base = *schedule.get(usize::try_from(attempts).ok()?.checked_sub(1)?)?;
    let jitter_ms = u64::try_from(base.as_millis() / 10).unwrap_or(0);
    let jitter = if jitter_ms == 0 {
        Duration::ZERO
    } else {
        Duration::from_millis(rand::random::<u64>() % jitter_ms)
    };
    Some((base + jitter).max(retry_after.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_spans_a_day_and_honours_retry_after() {
        let schedule = default_schedule();
        let total: Duration = (1..=7).filter_map(|n| next_wait(&schedule, n, None)).sum();
        assert!(total >= Duration::from_secs(24 * 3600), "{total:?}");
        assert_eq!(next_wait(&schedule, 8, None), None, "then it gives up");
        assert_eq!(next_wait(&schedule, 0, None), None);
        let first = next_wait(&schedule, 1, None).expect("first retry");
        assert!(first >= Duration::from_secs(5) && first < Duration::from_millis(5_500));
        assert_eq!(
            next_wait(&schedule, 1, Some(Duration::from_secs(60))),
            Some(Duration::from_secs(60))
        );
    }
}
