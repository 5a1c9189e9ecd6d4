//! A pass through a PostgreSQL table: the same passes, pages and commits as an HTTP stream
//! (`engine`), with keyset pages read from the database instead of a provider's list calls.
//! Three things work side by side: the database builds the page after next (read ahead by a task
//! of its own), this task seals the next, and the store's writer commits this one.

use super::engine::{advance, raise, Committed, RunIo, Stop};
use super::postgres::{PagesAhead, RowPage, TableRead};
use super::Pass;
use crate::error::{Error, ErrorCode};
use tokio_postgres::Client;

/// Reads the table `read` names from where `pass` stands to the pass's end as stream `stream`,
/// committing every page; the database client back for the next table.
pub(crate) async fn run_table<I: RunIo>(
    io: &I,
    client: Client,
    stream: &str,
    read: TableRead,
    mut pass: Pass,
) -> Result<Client, Stop> {
    let mut pages = PagesAhead::start(read, client, pass.next.clone());
    let seal = |page: RowPage| {
        let newest = page.rows.iter().filter_map(|r| r.cursor).max();
        let records = page
            .rows
            .into_iter()
            .map(|row| io.seal_text(stream, row.id, &row.json))
            .collect::<Vec<_>>();
        (records, page.next, newest)
    };
    let mut ready = seal(pages.next().await?);
    loop {
        let (records, next, newest) = ready;
        if let Some(at) = newest {
            raise(&mut pass, at);
        }
        if next.as_ref() == Some(&pass.next) {
            return Err(Stop::Failed(Error::new(
                ErrorCode::Internal,
                "A table page repeated itself.",
            )));
        }
        let ended = next.is_none();
        let page = Committed {
            pass_id: pass.id.clone(),
            records,
            position: advance(&mut pass, next),
            newest_first: false,
        };
        if ended {
            io.commit(stream, page).await?;
            break;
        }
        let commit = io.commit(stream, page);
        let upcoming = async { Ok::<_, Error>(seal(pages.next().await?)) };
        let (committed, upcoming) = tokio::join!(commit, upcoming);
        committed?;
        ready = upcoming?;
    }
    Ok(pages.finish().await?)
}
