//! The one writing connection, on a thread of its own: writes that arrive while a commit is under
//! way join the next transaction, each in a savepoint, and are acknowledged once it is durable.

use super::super::StoreError;
use super::schema::{map_error, open_reader};
use super::{SqliteStore, READERS};
use rusqlite::Connection;

/// Most writes one transaction takes; the rest wait for the next.
pub(super) const MAX_BATCH: usize = 128;

/// Called with the outcome of the transaction a write was part of.
pub(super) type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// A write run inside a group: says how to answer its caller, and its own error if it failed.
pub(super) type GroupedWrite =
    Box<dyn FnOnce(&mut Connection) -> (Completion, Option<StoreError>) + Send>;

pub(super) enum Job {
    /// Joins the next group transaction, in a savepoint of its own.
    Grouped(GroupedWrite),
    /// Runs on its own, outside any transaction (WAL checkpoints).
    Alone(Box<dyn FnOnce(&mut Connection) + Send>),
}

/// `f` in a savepoint: its changes are undone alone when it fails, without failing the group.
pub(super) fn in_savepoint<T>(
    conn: &mut Connection,
    f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    execute(conn, "SAVEPOINT write")?;
    match f(conn) {
        Ok(value) => {
            execute(conn, "RELEASE write")?;
            Ok(value)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK TO write; RELEASE write");
            Err(e)
        }
    }
}

/// The writer thread: takes whatever writes are waiting (up to `MAX_BATCH`), runs them in one
/// transaction and commits once. Ends when the store is dropped.
pub(super) fn run_writer(mut conn: Connection, queue: std::sync::mpsc::Receiver<Job>) {
    use std::panic::{catch_unwind, AssertUnwindSafe};
    while let Ok(first) = queue.recv() {
        let mut pending: Vec<Completion> = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Alone(f) => {
                    commit(&mut conn, &mut pending);
                    // A panicking write loses its own answer (its caller hears the writer
                    // stopped), never the writer thread.
                    let _ = catch_unwind(AssertUnwindSafe(|| f(&mut conn)));
                }
                Job::Grouped(f) => {
                    if pending.is_empty() && execute(&conn, "BEGIN IMMEDIATE").is_err() {
                        // No group now: the write runs alone, its savepoint its transaction,
                        // and reports whatever stops it.
                        if let Ok((completion, _)) = catch_unwind(AssertUnwindSafe(|| f(&mut conn)))
                        {
                            completion(Ok(()));
                        }
                        next = queue.try_recv().ok();
                        continue;
                    }
                    match catch_unwind(AssertUnwindSafe(|| f(&mut conn))) {
                        Ok((completion, error)) if conn.is_autocommit() => {
                            // SQLite undid the whole group on this write's error (disk full, I/O
                            // error): none of the group happened, and every caller hears it.
                            let cause = error.unwrap_or_else(|| {
                                StoreError::Unavailable("the transaction was rolled back".into())
                            });
                            fail(&mut pending, &cause);
                            completion(Err(cause));
                        }
                        Ok((completion, _)) => pending.push(completion),
                        Err(_) => {
                            let _ = execute(&conn, "ROLLBACK");
                            let cause =
                                StoreError::Unavailable("a write failed unexpectedly".into());
                            fail(&mut pending, &cause);
                        }
                    }
                }
            }
            if pending.len() < MAX_BATCH {
                next = queue.try_recv().ok();
            }
        }
        commit(&mut conn, &mut pending);
    }
}

pub(super) fn fail(pending: &mut Vec<Completion>, cause: &StoreError) {
    for completion in pending.drain(..) {
        completion(Err(cause.clone()));
    }
}

/// A statement without parameters, parsed once per connection.
pub(super) fn execute(conn: &Connection, sql: &str) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute([])
}

pub(super) fn commit(conn: &mut Connection, pending: &mut Vec<Completion>) {
    if pending.is_empty() {
        return;
    }
    let outcome = execute(conn, "COMMIT").map(|_| ()).map_err(map_error);
    if outcome.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    for completion in pending.drain(..) {
        completion(outcome.clone());
    }
}

/// How the store's methods reach the database: reads on the blocking pool with a pooled
/// connection, writes through the writer thread.
impl SqliteStore {
    pub(super) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        // At most READERS reads at once, so each finds a pooled connection after warm-up.
        let permit = self
            .read_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("the read pool is closed".into()))?;
        let readers = self.readers.clone();
        let path = self.path.clone();
        let read_only = self.writer.is_none();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let pooled = readers.lock().ok().and_then(|mut pool| pool.pop());
            let conn = match pooled {
                Some(conn) => conn,
                None => open_reader(&path, read_only)?,
            };
            let result = f(&conn).map_err(map_error);
            if let Ok(mut pool) = readers.lock() {
                if pool.len() < READERS {
                    pool.push(conn);
                }
            }
            result
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?
    }

    /// Runs `f` in the next group transaction; answers once that transaction is durable.
    pub(super) async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (job, rx) = grouped(f);
        self.submit(job, rx).await
    }

    /// Runs `f`, which writes only the ephemeral file (rate windows, leases), in the next group
    /// of the ephemeral writer: it never waits behind a durable commit of the main file (a
    /// sync's page, an audit entry), which every request's rate check would otherwise do.
    pub(super) async fn write_ephemeral<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (job, rx) = grouped(f);
        let writer = self.ephemeral.as_ref().ok_or(StoreError::ReadOnly)?;
        deliver(writer, job, rx).await
    }

    /// Runs `f` outside any transaction, between groups.
    pub(super) async fn write_alone<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (job, rx) = alone(f);
        self.submit(job, rx).await
    }

    /// `write_alone` on the ephemeral writer.
    pub(super) async fn write_ephemeral_alone<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (job, rx) = alone(f);
        let writer = self.ephemeral.as_ref().ok_or(StoreError::ReadOnly)?;
        deliver(writer, job, rx).await
    }

    pub(super) async fn submit<T>(
        &self,
        job: Job,
        answer: tokio::sync::oneshot::Receiver<Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let writer = self.writer.as_ref().ok_or(StoreError::ReadOnly)?;
        deliver(writer, job, answer).await
    }
}

type Answer<T> = tokio::sync::oneshot::Receiver<Result<T, StoreError>>;

/// `f` as a write on its own, and where its answer comes.
fn alone<T: Send + 'static>(
    f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
) -> (Job, Answer<T>) {
    let (tx, rx) = tokio::sync::oneshot::channel::<Result<T, StoreError>>();
    let job = Job::Alone(Box::new(move |conn| {
        let _ = tx.send(f(conn).map_err(map_error));
    }));
    (job, rx)
}

/// `f` as a write joining a group, and where its answer comes.
fn grouped<T: Send + 'static>(
    f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
) -> (Job, Answer<T>) {
    let (tx, rx) = tokio::sync::oneshot::channel::<Result<T, StoreError>>();
    let job = Job::Grouped(Box::new(move |conn| match in_savepoint(conn, f) {
        Ok(value) => {
            let completion: Completion = Box::new(move |committed| {
                let _ = tx.send(committed.map(|()| value));
            });
            (completion, None)
        }
        Err(e) => {
            let error = map_error(e);
            let reported = error.clone();
            let completion: Completion = Box::new(move |_| {
                let _ = tx.send(Err(reported));
            });
            (completion, Some(error))
        }
    }));
    (job, rx)
}

async fn deliver<T>(
    writer: &std::sync::mpsc::Sender<Job>,
    job: Job,
    answer: Answer<T>,
) -> Result<T, StoreError> {
    let stopped = || StoreError::Unavailable("the database writer stopped".into());
    writer.send(job).map_err(|_| stopped())?;
    answer.await.map_err(|_| stopped())?
}
