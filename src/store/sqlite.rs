//! The embedded default: one SQLite file in the data directory, WAL mode, migrations at start.
//!
//! rusqlite is synchronous. Writes go to one thread that owns the only writing connection (SQLite
//! has one writer anyway) and commits them in groups: every write that arrives while a commit is
//! under way joins the next transaction, in a savepoint of its own, and is acknowledged only after
//! that transaction is durable. One fsync then serves many requests. Reads run on tokio's
//! blocking pool with a small pool of their own connections, which WAL lets run beside the writer.

use super::*;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE connectors (
    tenant_id        TEXT NOT NULL,
    connector_id     TEXT NOT NULL,
    connector_type   TEXT NOT NULL,
    display_name     TEXT NOT NULL,
    status           TEXT NOT NULL,
    sync_frequency   TEXT NOT NULL,
    encrypted_config TEXT NOT NULL,
    key_id           TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    created_by       TEXT NOT NULL,
    updated_by       TEXT NOT NULL,
    last_tested_at   INTEGER,
    last_sync_at     INTEGER,
    error_code       TEXT,
    error_message    TEXT,
    version          INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, connector_id)
) WITHOUT ROWID;
CREATE INDEX connectors_by_created ON connectors (tenant_id, created_at DESC, connector_id DESC);
CREATE INDEX connectors_by_status ON connectors (tenant_id, status, created_at DESC, connector_id DESC);

CREATE TABLE drafts (
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    draft_id   TEXT NOT NULL,
    sealed     TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id, draft_id)
) WITHOUT ROWID;

CREATE TABLE audit_log (
    tenant_id    TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    user_id      TEXT NOT NULL,
    action       TEXT NOT NULL,
    connector_id TEXT,
    outcome      TEXT NOT NULL,
    error_code   TEXT,
    client       TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
) WITHOUT ROWID;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"#,
    r#"
ALTER TABLE connectors ADD COLUMN token_expires_at INTEGER;
ALTER TABLE connectors ADD COLUMN token_refreshed_at INTEGER;

CREATE TABLE oauth_states (
    state_hash     TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    connector_type TEXT NOT NULL,
    draft_id       TEXT NOT NULL,
    sealed         TEXT NOT NULL,
    expires_at     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX oauth_states_by_expiry ON oauth_states (expires_at);
"#,
    r#"
CREATE INDEX connectors_by_refresh ON connectors (connector_type, token_refreshed_at)
    WHERE token_refreshed_at IS NOT NULL;
"#,
    r#"
ALTER TABLE audit_log ADD COLUMN detail TEXT;

-- Each chain's recorded end, and ('*') the keyed count of all entries: see `AuditHeads`.
CREATE TABLE audit_heads (
    tenant_id TEXT PRIMARY KEY,
    seq       INTEGER NOT NULL,
    hash      TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO audit_heads (tenant_id, seq, hash)
    SELECT tenant_id, seq, hash FROM audit_log AS a
    WHERE seq = (SELECT MAX(seq) FROM audit_log AS b WHERE b.tenant_id = a.tenant_id);
"#,
];

/// Rate-limit windows and leases: shared between processes but not worth an fsync each, so they
/// live in a second file attached to every connection, written without synchronous flushes.
const EPHEMERAL: &str = r#"
CREATE TABLE IF NOT EXISTS ephemeral.rate_windows (
    key          TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    hits         INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ephemeral.leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
"#;

/// Read connections kept open. Reads wait for one of them rather than opening a new connection
/// (which costs more than the query, and starts with an empty statement cache).
const READERS: usize = 8;

/// Most writes one transaction takes; the rest wait for the next.
const MAX_BATCH: usize = 128;

/// Called with the outcome of the transaction a write was part of.
type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// A write run inside a group: says how to answer its caller, and its own error if it failed.
type GroupedWrite = Box<dyn FnOnce(&mut Connection) -> (Completion, Option<StoreError>) + Send>;

enum Job {
    /// Joins the next group transaction, in a savepoint of its own.
    Grouped(GroupedWrite),
    /// Runs on its own, outside any transaction (WAL checkpoints).
    Alone(Box<dyn FnOnce(&mut Connection) + Send>),
}

pub struct SqliteStore {
    path: PathBuf,
    /// `None` when the data directory is read-only: reads are served, every write is refused.
    writer: Option<std::sync::mpsc::Sender<Job>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    read_slots: Arc<tokio::sync::Semaphore>,
    /// Answers `change_marker`: a connection that never writes, so its `data_version` moves on
    /// every commit by any other connection, in this process or another.
    probe: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) `connector-hub.db` in `data_dir` and runs the migrations.
    pub async fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let dir = data_dir.to_owned();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir).map_err(io_error)?;
            let path = dir.join("connector-hub.db");
            let writer = match open_writer(&path, &dir) {
                Ok(conn) => {
                    let (jobs, queue) = std::sync::mpsc::channel();
                    std::thread::Builder::new()
                        .name("sqlite-writer".into())
                        .spawn(move || run_writer(conn, queue))
                        .map_err(io_error)?;
                    Some(jobs)
                }
                // An existing database on a read-only directory is still worth serving.
                Err(StoreError::ReadOnly) if path.is_file() => {
                    tracing::warn!(path = %path.display(), "the data directory is read-only: serving reads, refusing writes");
                    None
                }
                Err(other) => return Err(other),
            };
            let probe = open_reader(&path, writer.is_none())?;
            // Never waits: a busy probe just means "cannot tell right now".
            probe
                .busy_timeout(std::time::Duration::ZERO)
                .map_err(map_error)?;
            Ok(Self {
                path,
                writer,
                readers: Arc::new(Mutex::new(Vec::new())),
                read_slots: Arc::new(tokio::sync::Semaphore::new(READERS)),
                probe: Mutex::new(probe),
            })
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn read<T: Send + 'static>(
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
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
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
        self.submit(job, rx).await
    }

    /// Runs `f` outside any transaction, between groups.
    async fn write_alone<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<T, StoreError>>();
        let job = Job::Alone(Box::new(move |conn| {
            let _ = tx.send(f(conn).map_err(map_error));
        }));
        self.submit(job, rx).await
    }

    async fn submit<T>(
        &self,
        job: Job,
        answer: tokio::sync::oneshot::Receiver<Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let writer = self.writer.as_ref().ok_or(StoreError::ReadOnly)?;
        let stopped = || StoreError::Unavailable("the database writer stopped".into());
        writer.send(job).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// `PRAGMA integrity_check` — "ok" when the file is sound.
    pub async fn integrity_check(&self) -> Result<String, StoreError> {
        self.read(|c| c.query_row("PRAGMA integrity_check", [], |r| r.get(0)))
            .await
    }
}

/// `f` in a savepoint: its changes are undone alone when it fails, without failing the group.
fn in_savepoint<T>(
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
fn run_writer(mut conn: Connection, queue: std::sync::mpsc::Receiver<Job>) {
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

fn fail(pending: &mut Vec<Completion>, cause: &StoreError) {
    for completion in pending.drain(..) {
        completion(Err(cause.clone()));
    }
}

/// A statement without parameters, parsed once per connection.
fn execute(conn: &Connection, sql: &str) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute([])
}

fn commit(conn: &mut Connection, pending: &mut Vec<Completion>) {
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

fn configure(conn: &Connection) -> Result<(), StoreError> {
    // FULL: an acknowledged write survives a crash or power loss, not only a process kill.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
    )
    .map_err(map_error)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(map_error)?;
    stable_plans(conn)
}

/// Query-planner stability: plans never depend on the values bound to a statement. Without it
/// SQLite marks a cached statement stale whenever a parameter it might plan around is bound
/// again, and prepares it anew on every execution (a fifth of a listing's CPU time).
fn stable_plans(conn: &Connection) -> Result<(), StoreError> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map(drop)
    .map_err(map_error)
}

fn open_reader(path: &Path, read_only: bool) -> Result<Connection, StoreError> {
    // On a read-only directory nobody can change the file, and WAL's shared memory file cannot
    // be created: open it as immutable.
    let (target, extra) = if read_only {
        (
            format!("file:{}?immutable=1", path.display()),
            OpenFlags::SQLITE_OPEN_URI,
        )
    } else {
        (path.display().to_string(), OpenFlags::empty())
    };
    let conn = Connection::open_with_flags(
        target,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | extra,
    )
    .map_err(map_error)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(map_error)?;
    stable_plans(&conn)?;
    Ok(conn)
}

/// `retest_interval_ms` as an SQL expression over `sync_frequency` (manual never matches).
fn interval_sql() -> String {
    let arms: String = SyncFrequency::ALL
        .into_iter()
        .filter_map(|f| retest_interval_ms(f).map(|ms| format!(" WHEN '{}' THEN {ms}", f.as_str())))
        .collect();
    format!("CASE sync_frequency{arms} END")
}

fn open_writer(path: &Path, dir: &Path) -> Result<Connection, StoreError> {
    let mut writer = Connection::open(path).map_err(map_error)?;
    configure(&writer)?;
    migrate(&mut writer)?;
    attach_ephemeral(&writer, dir)?;
    writer.execute_batch(EPHEMERAL).map_err(map_error)?;
    Ok(writer)
}

fn attach_ephemeral(conn: &Connection, dir: &Path) -> Result<(), StoreError> {
    let path = dir.join("connector-hub-ephemeral.db");
    conn.execute(
        "ATTACH DATABASE ?1 AS ephemeral",
        params![path.to_string_lossy()],
    )
    .map_err(map_error)?;
    conn.execute_batch("PRAGMA ephemeral.journal_mode = WAL; PRAGMA ephemeral.synchronous = OFF;")
        .map_err(map_error)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: usize = conn
        .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
        .map_err(map_error)?
        .try_into()
        .unwrap_or(0);
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction().map_err(map_error)?;
        tx.execute_batch(sql).map_err(map_error)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", index + 1))
            .map_err(map_error)?;
        tx.commit().map_err(map_error)?;
    }
    Ok(())
}

fn io_error(e: std::io::Error) -> StoreError {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            StoreError::ReadOnly
        }
        std::io::ErrorKind::StorageFull => StoreError::Full,
        _ => StoreError::Unavailable(e.to_string()),
    }
}

fn map_error(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode as C;
    match e.sqlite_error_code() {
        Some(C::DiskFull) => StoreError::Full,
        Some(C::ReadOnly) | Some(C::CannotOpen) | Some(C::PermissionDenied) => StoreError::ReadOnly,
        Some(C::ConstraintViolation) => StoreError::Duplicate,
        _ => StoreError::Unavailable(e.to_string()),
    }
}

/// A page of a tenant's connectors, metadata only (never the ciphertext). Parameters: tenant,
/// status, cursor time, cursor id, limit; the ones a page does not use are bound as NULL. The
/// four shapes are built once: a listing only looks its statement up.
fn list_sql(by_status: bool, after_cursor: bool) -> &'static str {
    static SHAPES: std::sync::LazyLock<[String; 4]> = std::sync::LazyLock::new(|| {
        let build = |by_status: bool, after_cursor: bool| {
            let columns = COLUMNS.replace("encrypted_config", "'' AS encrypted_config");
            let status = if by_status {
                "status = ?2"
            } else {
                "?2 IS NULL"
            };
            let cursor = if after_cursor {
                "(created_at, connector_id) < (?3, ?4)"
            } else {
                "?3 IS NULL AND ?4 IS NULL"
            };
            format!(
                "SELECT {columns} FROM connectors WHERE tenant_id = ?1 AND {status} AND {cursor} \
                 ORDER BY created_at DESC, connector_id DESC LIMIT ?5"
            )
        };
        [
            build(false, false),
            build(false, true),
            build(true, false),
            build(true, true),
        ]
    });
    &SHAPES[usize::from(by_status) * 2 + usize::from(after_cursor)]
}

const COLUMNS: &str = "tenant_id, connector_id, connector_type, display_name, status, sync_frequency, \
    encrypted_config, key_id, created_at, updated_at, created_by, updated_by, last_tested_at, last_sync_at, \
    error_code, error_message, version, token_expires_at, token_refreshed_at";

fn record(row: &Row<'_>) -> rusqlite::Result<ConnectorRecord> {
    let text_enum = |index: usize, value: String| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, value.into())
    };
    let status: String = row.get(4)?;
    let frequency: String = row.get(5)?;
    Ok(ConnectorRecord {
        tenant_id: row.get(0)?,
        connector_id: row.get(1)?,
        connector_type: row.get(2)?,
        display_name: row.get(3)?,
        status: ConnectorStatus::parse(&status).ok_or_else(|| text_enum(4, status))?,
        sync_frequency: SyncFrequency::parse(&frequency).ok_or_else(|| text_enum(5, frequency))?,
        encrypted_config: row.get(6)?,
        key_id: row.get(7)?,
        created_at: row.get(8)?,
        updated_at: row.get(9)?,
        created_by: row.get(10)?,
        updated_by: row.get(11)?,
        last_tested_at: row.get(12)?,
        last_sync_at: row.get(13)?,
        error_code: row.get(14)?,
        error_message: row.get(15)?,
        version: row.get(16)?,
        token_expires_at: row.get(17)?,
        token_refreshed_at: row.get(18)?,
    })
}

fn audit_record(row: &Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        tenant_id: row.get(0)?,
        seq: row.get(1)?,
        at: row.get(2)?,
        user_id: row.get(3)?,
        action: row.get(4)?,
        connector_id: row.get(5)?,
        outcome: row.get(6)?,
        error_code: row.get(7)?,
        client: row.get(8)?,
        prev_hash: row.get(9)?,
        hash: row.get(10)?,
        detail: row.get(11)?,
    })
}

const AUDIT_COLUMNS: &str =
    "tenant_id, seq, at, user_id, action, connector_id, outcome, error_code, client, prev_hash, hash, detail";

/// Appends `e` to its tenant's chain inside the caller's transaction, moving the chain's head and
/// the keyed count of all entries with it.
fn append_audit_in(c: &Connection, e: &mut AuditRecord, key: &AuditKey) -> rusqlite::Result<()> {
    let head: Option<(i64, String)> = c
        .prepare_cached("SELECT seq, hash FROM audit_heads WHERE tenant_id = ?1")?
        .query_row(params![e.tenant_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let recorded: Option<i64> = c
        .prepare_cached("SELECT seq FROM audit_heads WHERE tenant_id = '*'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    let total = match recorded {
        Some(total) => total,
        // The first entry written with a key: count what came before.
        None => c
            .prepare_cached("SELECT COUNT(*) FROM audit_log")?
            .query_row([], |r| r.get::<_, i64>(0))?,
    } + 1;
    chain_audit(e, head, key);
    c.prepare_cached(&format!(
        "INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
    ))?
    .execute(params![
        e.tenant_id, e.seq, e.at, e.user_id, e.action, e.connector_id, e.outcome, e.error_code,
        e.client, e.prev_hash, e.hash, e.detail
    ])?;
    let mut upsert = c.prepare_cached(
        "INSERT INTO audit_heads (tenant_id, seq, hash) VALUES (?1, ?2, ?3)
         ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
    )?;
    upsert.execute(params![e.tenant_id, e.seq, e.hash])?;
    upsert.execute(params!["*", total, audit_total_hash(total, key)])?;
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(()))).await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        if self.writer.is_none() {
            return Ok(());
        }
        // Fold the WAL into the database file, so a stopped server leaves one complete file
        // (readable even from read-only media).
        self.write_alone(|c| {
            c.execute_batch(
                "PRAGMA main.wal_checkpoint(TRUNCATE); PRAGMA ephemeral.wal_checkpoint(TRUNCATE);",
            )
        })
        .await
    }

    async fn insert(
        &self,
        tenant: &TenantId,
        r: &ConnectorRecord,
        audit: &AuditWrite<'_>,
    ) -> Result<(), StoreError> {
        let tenant = tenant.as_str().to_owned();
        let r = r.clone();
        let (mut entry, key) = (audit.entry.clone(), audit.key.clone());
        self.write(move |c| {
            c.prepare_cached(&format!(
                "INSERT INTO connectors ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
            ))?
            .execute(params![
                tenant, r.connector_id, r.connector_type, r.display_name, r.status.as_str(),
                r.sync_frequency.as_str(), r.encrypted_config, r.key_id, r.created_at, r.updated_at,
                r.created_by, r.updated_by, r.last_tested_at, r.last_sync_at, r.error_code,
                r.error_message, r.version, r.token_expires_at, r.token_refreshed_at
            ])?;
            append_audit_in(c, &mut entry, &key)
        })
        .await
    }

    async fn get(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<ConnectorRecord>, StoreError> {
        let (tenant, id) = (tenant.as_str().to_owned(), id.to_owned());
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM connectors WHERE tenant_id = ?1 AND connector_id = ?2"
            ))?
            .query_row(params![tenant, id], record)
            .optional()
        })
        .await
    }

    async fn list(
        &self,
        tenant: &TenantId,
        q: &ListQuery,
    ) -> Result<Vec<ConnectorRecord>, StoreError> {
        let tenant = tenant.as_str().to_owned();
        let q = q.clone();
        self.read(move |c| {
            let status = q.status.map(|s| s.as_str());
            let (before_at, before_id) = match q.before {
                Some((at, id)) => (Some(at), Some(id)),
                None => (None, None),
            };
            let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
            let mut stmt = c.prepare_cached(list_sql(status.is_some(), before_at.is_some()))?;
            let rows =
                stmt.query_map(params![tenant, status, before_at, before_id, limit], record)?;
            rows.collect()
        })
        .await
    }

    async fn update(
        &self,
        tenant: &TenantId,
        r: &ConnectorRecord,
        expected: i64,
        audit: Option<&AuditWrite<'_>>,
    ) -> Result<bool, StoreError> {
        let tenant = tenant.as_str().to_owned();
        let r = r.clone();
        let audit = audit.map(|a| (a.entry.clone(), a.key.clone()));
        self.write(move |c| {
            let changed = c
                .prepare_cached(
                    "UPDATE connectors SET display_name = ?3, status = ?4, sync_frequency = ?5, encrypted_config = ?6,
                        key_id = ?7, updated_at = ?8, updated_by = ?9, last_tested_at = ?10, last_sync_at = ?11,
                        error_code = ?12, error_message = ?13, version = ?14, token_expires_at = ?16,
                        token_refreshed_at = ?17
                     WHERE tenant_id = ?1 AND connector_id = ?2 AND version = ?15",
                )?
                .execute(params![
                    tenant, r.connector_id, r.display_name, r.status.as_str(), r.sync_frequency.as_str(),
                    r.encrypted_config, r.key_id, r.updated_at, r.updated_by, r.last_tested_at, r.last_sync_at,
                    r.error_code, r.error_message, r.version, expected, r.token_expires_at,
                    r.token_refreshed_at
                ])?;
            if let (1, Some((mut entry, key))) = (changed, audit) {
                append_audit_in(c, &mut entry, &key)?;
            }
            Ok(changed == 1)
        })
        .await
    }

    async fn delete(
        &self,
        tenant: &TenantId,
        id: &str,
        audit: &AuditWrite<'_>,
    ) -> Result<bool, StoreError> {
        let (tenant, id) = (tenant.as_str().to_owned(), id.to_owned());
        let (mut entry, key) = (audit.entry.clone(), audit.key.clone());
        self.write(move |c| {
            let n = c
                .prepare_cached(
                    "DELETE FROM connectors WHERE tenant_id = ?1 AND connector_id = ?2",
                )?
                .execute(params![tenant, id])?;
            if n == 1 {
                append_audit_in(c, &mut entry, &key)?;
            }
            Ok(n == 1)
        })
        .await
    }

    async fn put_draft(&self, tenant: &TenantId, d: &DraftRecord) -> Result<(), StoreError> {
        let tenant = tenant.as_str().to_owned();
        let d = d.clone();
        self.write(move |c| {
            let tx = c.savepoint()?;
            tx.execute("DELETE FROM drafts WHERE expires_at < ?1", params![d.expires_at - 2 * 86_400_000])?;
            tx.execute(
                "INSERT INTO drafts (tenant_id, user_id, draft_id, sealed, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (tenant_id, user_id, draft_id) DO UPDATE SET sealed = excluded.sealed, expires_at = excluded.expires_at",
                params![tenant, d.user_id, d.draft_id, d.sealed, d.expires_at],
            )?;
            // A user's wizards in progress are bounded: the least recently touched go first.
            tx.execute(
                "DELETE FROM drafts WHERE tenant_id = ?1 AND user_id = ?2 AND draft_id NOT IN
                   (SELECT draft_id FROM drafts WHERE tenant_id = ?1 AND user_id = ?2
                    ORDER BY expires_at DESC LIMIT ?3)",
                params![tenant, d.user_id, MAX_DRAFTS_PER_USER],
            )?;
            tx.commit()
        })
        .await
    }

    async fn get_draft(
        &self,
        tenant: &TenantId,
        user: &str,
        id: &str,
        now: i64,
    ) -> Result<Option<DraftRecord>, StoreError> {
        let (tenant, user, id) = (tenant.as_str().to_owned(), user.to_owned(), id.to_owned());
        self.read(move |c| {
            c.prepare_cached(
                "SELECT tenant_id, user_id, draft_id, sealed, expires_at FROM drafts
                 WHERE tenant_id = ?1 AND user_id = ?2 AND draft_id = ?3 AND expires_at > ?4",
            )?
            .query_row(params![tenant, user, id, now], |r| {
                Ok(DraftRecord {
                    tenant_id: r.get(0)?,
                    user_id: r.get(1)?,
                    draft_id: r.get(2)?,
                    sealed: r.get(3)?,
                    expires_at: r.get(4)?,
                })
            })
            .optional()
        })
        .await
    }

    async fn delete_draft(
        &self,
        tenant: &TenantId,
        user: &str,
        id: &str,
    ) -> Result<(), StoreError> {
        let (tenant, user, id) = (tenant.as_str().to_owned(), user.to_owned(), id.to_owned());
        self.write(move |c| {
            c.execute(
                "DELETE FROM drafts WHERE tenant_id = ?1 AND user_id = ?2 AND draft_id = ?3",
                params![tenant, user, id],
            )
            .map(|_| ())
        })
        .await
    }

    async fn put_oauth_state(&self, st: &OAuthStateRecord) -> Result<(), StoreError> {
        let st = st.clone();
        self.write(move |c| {
            // States live ten minutes; anything a day past that was abandoned.
            c.prepare_cached("DELETE FROM oauth_states WHERE expires_at < ?1")?
                .execute(params![st.expires_at - 86_400_000])?;
            c.prepare_cached(
                "INSERT INTO oauth_states (state_hash, tenant_id, user_id, connector_type, draft_id, sealed, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                st.state_hash, st.tenant_id, st.user_id, st.connector_type, st.draft_id, st.sealed,
                st.expires_at
            ])
            .map(|_| ())
        })
        .await
    }

    async fn take_oauth_state(&self, hash: &str) -> Result<Option<OAuthStateRecord>, StoreError> {
        let hash = hash.to_owned();
        self.write(move |c| {
            c.prepare_cached(
                "DELETE FROM oauth_states WHERE state_hash = ?1
                 RETURNING state_hash, tenant_id, user_id, connector_type, draft_id, sealed, expires_at",
            )?
            .query_row(params![hash], |r| {
                Ok(OAuthStateRecord {
                    state_hash: r.get(0)?,
                    tenant_id: r.get(1)?,
                    user_id: r.get(2)?,
                    connector_type: r.get(3)?,
                    draft_id: r.get(4)?,
                    sealed: r.get(5)?,
                    expires_at: r.get(6)?,
                })
            })
            .optional()
        })
        .await
    }

    async fn append_audit(&self, audit: &AuditWrite<'_>) -> Result<AuditRecord, StoreError> {
        let (mut entry, key) = (audit.entry.clone(), audit.key.clone());
        self.write(move |c| {
            append_audit_in(c, &mut entry, &key)?;
            Ok(entry)
        })
        .await
    }

    async fn list_audit(
        &self,
        tenant: &TenantId,
        q: &AuditQuery,
    ) -> Result<(Vec<AuditRecord>, Option<i64>), StoreError> {
        let tenant = tenant.as_str().to_owned();
        let q = q.clone();
        self.read(move |c| {
            // The scan is bounded by seq, not by matches: at most AUDIT_SCAN_LIMIT rows below
            // `before`, whatever the filter, then the caller is told where to go on.
            let before = match q.before_seq {
                Some(before) => before,
                None => c
                    .prepare_cached(
                        "SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_log WHERE tenant_id = ?1",
                    )?
                    .query_row(params![tenant], |r| r.get(0))?,
            };
            let floor = audit_scan_floor(before);
            let sql = format!(
                "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE tenant_id = ?1
                   AND seq < ?5 AND seq >= ?6
                   AND (?2 IS NULL OR connector_id = ?2) AND (?3 IS NULL OR action = ?3)
                   AND (?4 IS NULL OR outcome = ?4)
                 ORDER BY seq DESC LIMIT ?7"
            );
            let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
            let mut stmt = c.prepare_cached(&sql)?;
            let rows: Vec<AuditRecord> = stmt
                .query_map(
                    params![
                        tenant,
                        q.connector_id,
                        q.action.map(AuditAction::as_str),
                        q.outcome.map(AuditOutcome::as_str),
                        before,
                        floor,
                        limit
                    ],
                    audit_record,
                )?
                .collect::<rusqlite::Result<_>>()?;
            let next = audit_next_before(&rows, q.limit, floor);
            Ok((rows, next))
        })
        .await
    }

    async fn audit_heads(&self) -> Result<AuditHeads, StoreError> {
        self.read(|c| {
            let mut heads = AuditHeads::default();
            let mut stmt = c.prepare_cached(
                "SELECT tenant_id, seq, hash FROM audit_heads ORDER BY tenant_id",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            for row in rows {
                let (tenant, seq, hash): (String, i64, String) = row?;
                if tenant == "*" {
                    heads.total = Some((seq, hash));
                } else {
                    heads.tenants.push((tenant, seq, hash));
                }
            }
            Ok(heads)
        })
        .await
    }

    async fn hit(&self, key: &str, window_start: i64, hits: u64) -> Result<u64, StoreError> {
        let key = key.to_owned();
        let added = i64::try_from(hits).unwrap_or(i64::MAX);
        self.write(move |c| {
            let total: i64 = c
                .prepare_cached(
                    "INSERT INTO ephemeral.rate_windows (key, window_start, hits) VALUES (?1, ?2, ?3)
                     ON CONFLICT (key, window_start) DO UPDATE SET hits = hits + ?3 RETURNING hits",
                )?
                .query_row(params![key, window_start, added], |r| r.get(0))?;
            if total == added {
                c.prepare_cached(
                    "DELETE FROM ephemeral.rate_windows WHERE key = ?1 AND window_start < ?2",
                )?
                .execute(params![key, window_start])?;
            }
            Ok(u64::try_from(total).unwrap_or_default())
        })
        .await
    }

    fn change_marker(&self) -> Option<u64> {
        // Runs on the caller's thread. It only reads the WAL index in shared memory, holds the
        // probe for about a microsecond, and gives up rather than wait for a database lock.
        let probe = self.probe.lock().ok()?;
        let version: i64 = probe
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .ok()?;
        u64::try_from(version).ok()
    }

    async fn lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        ttl_ms: i64,
    ) -> Result<bool, StoreError> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.write(move |c| {
            let changed = c
                .prepare_cached(
                    "INSERT INTO ephemeral.leases (name, holder, expires_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                     WHERE leases.holder = excluded.holder OR leases.expires_at < ?4",
                )?
                .execute(params![name, holder, now + ttl_ms, now])?;
            Ok(changed == 1)
        })
        .await
    }

    async fn due_for_test(
        &self,
        now: i64,
        limit: usize,
    ) -> Result<Vec<ConnectorRecord>, StoreError> {
        self.read(move |c| {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM connectors
                 WHERE sync_frequency != 'manual'
                   AND COALESCE(last_tested_at, 0) <= ?1 - {}
                 ORDER BY COALESCE(last_tested_at, 0) LIMIT ?2",
                interval_sql()
            ))?;
            let rows = stmt.query_map(params![now, limit], record)?;
            rows.collect()
        })
        .await
    }

    async fn idle_sign_ins(
        &self,
        connector_type: &str,
        refreshed_before: i64,
        limit: usize,
    ) -> Result<Vec<ConnectorRecord>, StoreError> {
        let connector_type = connector_type.to_owned();
        self.read(move |c| {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM connectors
                 WHERE connector_type = ?1 AND token_refreshed_at IS NOT NULL
                   AND token_refreshed_at < ?2 AND status != 'authorization_required'
                 ORDER BY token_refreshed_at LIMIT ?3"
            ))?;
            let rows = stmt.query_map(params![connector_type, refreshed_before, limit], record)?;
            rows.collect()
        })
        .await
    }

    async fn scan_all(
        &self,
        after: Option<(String, String)>,
        limit: usize,
    ) -> Result<Vec<ConnectorRecord>, StoreError> {
        self.read(move |c| {
            let (t, i) = after.unwrap_or_default();
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM connectors WHERE (tenant_id, connector_id) > (?1, ?2)
                 ORDER BY tenant_id, connector_id LIMIT ?3"
            ))?;
            let rows = stmt.query_map(params![t, i, limit], record)?;
            rows.collect()
        })
        .await
    }

    async fn audit_chain(
        &self,
        after: Option<(String, i64)>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        self.read(move |c| {
            let (t, s) = after.unwrap_or_else(|| (String::new(), 0));
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE (tenant_id, seq) > (?1, ?2) ORDER BY tenant_id, seq LIMIT ?3"
            ))?;
            let rows = stmt.query_map(params![t, s, limit], audit_record)?;
            rows.collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cached statement runs again without being compiled again, however often its
    /// parameters are bound (see `stable_plans`).
    #[test]
    fn cached_statements_are_not_prepared_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("connector-hub.db");
        let _writer = open_writer(&path, dir.path()).expect("writer");
        let reader = open_reader(&path, false).expect("reader");
        // The first page of a listing, as `list` runs it: status and cursor bound as NULL.
        let sql = list_sql(false, false);
        for _ in 0..3 {
            let mut stmt = reader.prepare_cached(sql).expect("prepare");
            let none: Option<String> = None;
            let mut rows = stmt
                .query(params!["acme", none, none, none, 100_i64])
                .expect("query");
            while rows.next().expect("row").is_some() {}
        }
        let stmt = reader.prepare_cached(sql).expect("prepare");
        assert_eq!(stmt.get_status(rusqlite::StatementStatus::RePrepare), 0);
    }
}
