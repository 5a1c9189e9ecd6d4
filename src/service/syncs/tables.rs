//! Running a sync of PostgreSQL tables: the tables chosen, each read by the engine's table pass
//! (`sync::tables`) with the run's seals and commits.

use super::run::{saved, RunPages, Running};
use super::Syncs;
use crate::store::StreamState;
use crate::sync::engine::Stop;
use crate::sync::pass::{start_pass, Increments};
use crate::sync::postgres::{self, TableRead};
use crate::sync::tables::run_table;

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
            let pass = start_pass(
                &running.run.run_id,
                running.run.full_refresh,
                &stream,
                saved(state),
                increments,
            );
            let read = TableRead {
                table: table.clone(),
                cursor: cursor_column.cloned(),
                since: pass.since,
                limit: postgres::PAGE_ROWS,
            };
            let io = RunPages {
                syncs: self,
                running,
            };
            client = run_table(&io, client, &stream, read, pass).await?;
        }
        Ok(())
    }
}
