//! Where a pass through a stream starts: the one a stopped run left (it goes on from its last
//! committed page), or a new one, full or incremental from the stream's cursor or feed position.

use super::pages::PageToken;
use crate::catalog::Incremental;
use crate::clock::now_ms;
use serde::{Deserialize, Serialize};

/// A pass through a stream under way: saved with every page committed, so a run stopped at any
/// point goes on from the next page, with the same lower bound and the same pass id (which marks
/// the records it has seen, for telling deletions at the end of a full read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Pass {
    pub(super) id: String,
    /// A full read: at its end, records it did not see are deletions.
    pub(super) full: bool,
    /// Changes since this time only (unix ms), for an incremental pass.
    pub(crate) since: Option<i64>,
    pub(crate) next: PageToken,
    /// The newest change time seen so far: the stream's cursor once the pass ends.
    pub(super) high_water: Option<i64>,
    /// Where the stream's change feed goes on once this pass ends (taken before a full read, or
    /// given by the feed's last page).
    #[serde(default)]
    pub(super) feed: Option<String>,
}

impl Pass {
    pub(super) fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub(super) fn decode(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

/// What a stream kept from its last passes: a pass stopped in the middle (encoded), its cursor
/// (the newest change read), and its change feed's position.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Saved<'a> {
    pub(crate) pass: Option<&'a str>,
    pub(crate) cursor: Option<i64>,
    pub(crate) feed: Option<&'a str>,
}

/// How a stream's later passes read only what changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Increments {
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
    pub(crate) fn of(incremental: Option<&Incremental>) -> Self {
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
/// The pass of run `run_id` is named after it; `full_refresh`: the run asked for a full read.
pub(crate) fn start_pass(
    run_id: &str,
    full_refresh: bool,
    stream: &str,
    saved: Saved<'_>,
    increments: Increments,
) -> Pass {
    if let Some(pass) = saved.pass.and_then(Pass::decode) {
        return pass;
    }
    let id = format!("{run_id}:{stream}");
    let cursor = saved.cursor;
    let (overlap_ms, retention_days) = match increments {
        Increments::Never => (0, None),
        Increments::Since {
            overlap_ms,
            retention_days,
        } => (overlap_ms, retention_days),
        Increments::Feed => {
            return match saved.feed.filter(|_| !full_refresh) {
                Some(position) => Pass {
                    id,
                    full: false,
                    since: None,
                    next: PageToken::Feed(position.to_owned()),
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
    let full = full_refresh || increments == Increments::Never || cursor.is_none();
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
