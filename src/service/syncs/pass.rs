//! Where a pass through a stream starts: the one a stopped run left (it goes on from its last
//! committed page), or a new one, full or incremental from the stream's cursor or feed position.

use crate::catalog::Incremental;
use crate::clock::now_ms;
use crate::store::{StreamState, SyncRunRecord};
use crate::sync::pages::PageToken;
use crate::sync::Pass;

/// How a stream's later passes read only what changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Increments {
    /// Every pass is a full read.
    Never,
    /// Changes since the cursor, a time, started `overlap_ms` earlier; a cursor older than the
    /// provider's retention means a full read.
    Since {
        overlap_ms: i64,
        retention_days: Option<u32>,
    },
    /// The change feed from its saved position.
    Feed,
}

impl Increments {
    pub fn of(incremental: Option<&Incremental>) -> Self {
        match incremental {
            None => Self::Never,
            Some(i) if i.feed.is_some() => Self::Feed,
            Some(i) => Self::Since {
                overlap_ms: i64::from(i.overlap_seconds) * 1000,
                retention_days: i.events.as_ref().map(|e| e.retention_days),
            },
        }
    }
}

/// The pass a run goes on with (one stopped in the middle), or a new one: incremental from the
/// stream's cursor (or its change feed's position) when it has one and the run did not ask for a
/// full refresh.
pub(super) fn start_pass(
    run: &SyncRunRecord,
    stream: &str,
    state: Option<&StreamState>,
    increments: Increments,
) -> Pass {
    if let Some(pass) = state.and_then(|s| s.pass.as_deref()).and_then(Pass::decode) {
        return pass;
    }
    let id = format!("{}:{stream}", run.run_id);
    let cursor = state.and_then(|s| s.cursor);
    let (overlap_ms, retention_days) = match increments {
        Increments::Never => (0, None),
        Increments::Since {
            overlap_ms,
            retention_days,
        } => (overlap_ms, retention_days),
        Increments::Feed => {
            let position = state.and_then(|s| s.feed.clone());
            return match position.filter(|_| !run.full_refresh) {
                Some(position) => Pass {
                    id,
                    full: false,
                    since: None,
                    next: PageToken::Feed(position),
                    high_water: cursor,
                    feed: None,
                },
                // The feed's position is taken before the full read, so that what changes
                // during it is read by the next pass.
                None => Pass {
                    id,
                    full: true,
                    since: None,
                    next: PageToken::FeedStart,
                    high_water: None,
                    feed: None,
                },
            };
        }
    };
    // A cursor older than the provider keeps its changes for cannot be read from: read it all.
    let retained = |cursor: i64| {
        retention_days.is_none_or(|days| cursor > now_ms() - i64::from(days) * 86_400_000)
    };
    let cursor = cursor.filter(|c| retained(*c));
    let full = run.full_refresh || increments == Increments::Never || cursor.is_none();
    Pass {
        id,
        full,
        since: if full {
            None
        } else {
            cursor.map(|c| c - overlap_ms)
        },
        next: PageToken::Start,
        high_water: if full { None } else { cursor },
        feed: None,
    }
}
