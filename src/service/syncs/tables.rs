//! Running a sync of PostgreSQL tables: the same passes, pages and commits as an HTTP stream,
//! with keyset pages read from the database instead of a provider's list calls.

use super::pass::{start_pass, Increments};
use super::run::{PageWrites, Running, Stop};
use super::Syncs;
use crate::error::{Error, ErrorCode};
use crate::store::StreamState;
use crate::sync::postgres::{self, PagesAhead, RowPage, TableRead};

impl Syncs {
    pub(super) async fn run_tables(
        &self,
        running: &mut Running<'_>,
        states: &[StreamState],
    ) -> Result<(), Stop> {
        let mut client = postgres::open(&self.outbound, &running.config).await?;
        let tables = postgres::discover(&client).await?;
        let chosen = postgres::chosen(&tables, &postgres::selections(&running.config))?;
        for name in &running.run.streams {
            if !chosen.iter().any(|(t, _)| &t.stream() == name) {
                let names: Vec<String> = chosen.iter().map(|(t, _)| t.stream()).collect();
                return Err(Stop::Failed(crate::sync::unknown_stream(
                    name,
                    names.iter().map(String::as_str),
                )));
            }
        }
        for (table, cursor) in &chosen {
            let stream = table.stream();
            if !running.run.streams.is_empty() && !running.run.streams.contains(&stream) {
                continue;
            }
            let cursor_column = cursor
                .as_deref()
                .and_then(|c| table.columns.iter().find(|col| col.name == c));
            let state = states.iter().find(|s| s.stream == stream);
            let increments = match cursor_column {
                Some(_) => Increments::Since {
                    overlap_ms: 0,
                    retention_days: None,
                },
                None => Increments::Never,
            };
            let mut pass = start_pass(running.run, &stream, state, increments);
            let read = TableRead {
                table: table.clone(),
                cursor: cursor_column.cloned(),
                since: pass.since,
                limit: postgres::PAGE_ROWS,
            };
            // Three things work side by side: the database builds the page after next (read
            // ahead by a task of its own), this task seals the next, and the store's writer
            // commits this one.
            let mut pages = PagesAhead::start(read, client, pass.next.clone());
            let seal = |page: RowPage| {
                let newest = page.rows.iter().filter_map(|r| r.cursor).max();
                let records = page
                    .rows
                    .into_iter()
                    .map(|row| self.seal_text(running, &stream, row.id, &row.json))
                    .collect();
                (records, page.next, newest)
            };
            let mut ready = seal(pages.next().await?);
            loop {
                let (records, next, newest) = ready;
                if let Some(at) = newest {
                    pass.high_water = Some(pass.high_water.map_or(at, |h| h.max(at)));
                }
                if next.as_ref() == Some(&pass.next) {
                    return Err(Stop::Failed(Error::new(
                        ErrorCode::Internal,
                        "A table page repeated itself.",
                    )));
                }
                let page = PageWrites {
                    records,
                    next: next.clone(),
                    newest_first: false,
                };
                if next.is_none() {
                    self.commit(running, &stream, &mut pass, page).await?;
                    break;
                }
                let commit = self.commit(running, &stream, &mut pass, page);
                let upcoming = async { Ok::<_, Error>(seal(pages.next().await?)) };
                let (committed, upcoming) = tokio::join!(commit, upcoming);
                committed?;
                ready = upcoming?;
            }
            client = pages.finish().await?;
        }
        Ok(())
    }
}
