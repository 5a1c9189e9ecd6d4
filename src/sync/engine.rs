//! A pass through a stream, page by page: the rules that decide what each page writes and where
//! the pass stands after it, the same whatever reads the pages and whatever stores them.
//!
//! - The pass's high-water mark is the newest change it has seen: the page's own (an event log
//!   says when its events happened) or else each record's `updated` field. It becomes the
//!   stream's cursor when the pass ends, and not before, so a pass cut off goes on from its last
//!   committed page and loses nothing.
//! - A record is a deletion when the page says so beside it, or when its own `deleted_flag` says.
//! - A page listing changes newest first writes each record once, its newest state.
//! - A provider sending the page just read again stops the run rather than loop.
//! - A search that reached the provider's cap goes on as a new search from a later time.
//!
//! The run the engine works for ([`RunIo`]) reads a page (its retries and renewals are its own),
//! seals a record for its place, and commits a page with where the pass stands, holding its lease.

use super::pages::{Page, PageToken};
use super::{record_id, values, Pass};
use crate::catalog::StreamDef;
use crate::error::{Error, ErrorCode};
use serde_json::Value;
use std::collections::HashSet;
use std::future::Future;

/// What stops a run.
#[derive(Debug)]
pub(crate) enum Stop {
    Failed(Error),
    /// Another process took the run over (this one was too slow to renew its lease).
    LostLease,
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Self::Failed(e)
    }
}

/// Where a pass stands after a committed page.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Position {
    /// Going on: the pass's state, encoded, for a run stopped here to go on from.
    Going(String),
    /// Ended with this page: the stream's new cursor and change-feed position, and whether it was
    /// a full read (records it did not see are gone at the provider).
    Ended {
        cursor: Option<i64>,
        feed: Option<String>,
        full_read: bool,
    },
}

/// A page ready to commit.
#[derive(Debug)]
pub(crate) struct Committed<R> {
    /// The pass this page belongs to: records seen in it are marked with it.
    pub(crate) pass_id: String,
    pub(crate) records: Vec<R>,
    pub(crate) position: Position,
    /// The page lists changes newest first: a record this pass already wrote is newer.
    pub(crate) newest_first: bool,
}

/// What the engine needs from the run it works for.
pub(crate) trait RunIo {
    /// A record sealed for its place, ready to store.
    type Record;

    /// The page of `stream` at `pass.next`.
    fn read(
        &mut self,
        stream: &StreamDef,
        pass: &Pass,
    ) -> impl Future<Output = Result<Page, Stop>> + Send;

    /// `data`, sealed as record `id` of `stream`.
    fn seal(&self, stream: &str, id: String, data: &Value, deleted: bool) -> Self::Record;

    /// A record given as JSON text (a database builds it), sealed as `seal` does.
    fn seal_text(&self, stream: &str, id: String, text: &str) -> Self::Record;

    /// Writes a page with where its pass stands, in one transaction, renewing the run's lease.
    fn commit(
        &self,
        stream: &str,
        page: Committed<Self::Record>,
    ) -> impl Future<Output = Result<(), Stop>> + Send;
}

/// Reads `stream` from where `pass` stands to the pass's end, committing every page.
pub(crate) async fn run_stream<I: RunIo>(
    io: &mut I,
    stream: &StreamDef,
    mut pass: Pass,
    provider: &str,
) -> Result<(), Stop> {
    loop {
        let mut page = io.read(stream, &pass).await?;
        if let Some(position) = page.feed.take() {
            pass.feed = Some(position);
        }
        let records = page_records(stream, &mut pass, &page, |id, data, deleted| {
            io.seal(&stream.name, id, data, deleted)
        });
        if page.next.as_ref() == Some(&pass.next) {
            return Err(Stop::Failed(Error::new(
                ErrorCode::UnexpectedResponse,
                format!("{provider} sent the same page again; the sync stopped rather than loop."),
            )));
        }
        let ended = page.next.is_none();
        let committed = Committed {
            pass_id: pass.id.clone(),
            records,
            position: advance(&mut pass, page.next),
            newest_first: page.newest_first,
        };
        io.commit(&stream.name, committed).await?;
        if ended {
            return Ok(());
        }
    }
}

/// The records a page writes, sealed by `seal`, raising the pass's high-water mark.
fn page_records<R>(
    stream: &StreamDef,
    pass: &mut Pass,
    page: &Page,
    mut seal: impl FnMut(String, &Value, bool) -> R,
) -> Vec<R> {
    if let Some(at) = page.newest {
        raise(pass, at);
    }
    let mut records = Vec::with_capacity(page.records.len());
    let mut written = HashSet::new();
    for (index, data) in page.records.iter().enumerate() {
        if page.newest.is_none() {
            let updated = stream.updated.as_deref().and_then(|p| data.pointer(p));
            if let Some(at) = updated.and_then(values::time_ms) {
                raise(pass, at);
            }
        }
        let deleted = match page.deleted.get(index) {
            Some(deleted) => *deleted,
            None => stream
                .deleted_flag
                .as_deref()
                .and_then(|p| data.pointer(p))
                .and_then(Value::as_bool)
                .unwrap_or(false),
        };
        let id = record_id(stream, data);
        // Newest first: a record's first appearance is its newest state.
        if page.newest_first && !written.insert(id.clone()) {
            continue;
        }
        records.push(seal(id, data, deleted));
    }
    records
}

/// Raises the pass's high-water mark to `at`.
pub(super) fn raise(pass: &mut Pass, at: i64) {
    pass.high_water = Some(pass.high_water.map_or(at, |h| h.max(at)));
}

/// Moves the pass past a page whose next page is `next` (`None`: the page ended the pass, which
/// starts from the beginning next time); where the pass stands, to commit with the page.
pub(super) fn advance(pass: &mut Pass, next: Option<PageToken>) -> Position {
    let ended = next.is_none();
    pass.next = match next {
        // A search that reached its cap goes on as a new search from a later time.
        Some(PageToken::Restart(at)) => {
            pass.since = Some(at);
            PageToken::Start
        }
        Some(next) => next,
        None => PageToken::Start,
    };
    if ended {
        Position::Ended {
            cursor: pass.high_water,
            feed: pass.feed.clone(),
            full_read: pass.full,
        }
    } else {
        Position::Going(pass.encode())
    }
}

#[cfg(test)]
mod tests;
