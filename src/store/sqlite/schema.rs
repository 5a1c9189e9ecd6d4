//! The SQLite file's schema and how its connections are opened: migrations, the ephemeral
//! side file for rate windows and leases, pragmas, and the mapping of SQLite's errors.

use super::super::{retest_interval_ms, StoreError};
use crate::model::SyncFrequency;
use rusqlite::{params, Connection, OpenFlags};
use std::path::Path;

pub(super) const MIGRATIONS: &[&str] = &[
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
    // Data flows: runs, each stream's position, and the records (sealed).
    r#"
CREATE TABLE sync_runs (
    run_id        TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    connector_id  TEXT NOT NULL,
    status        TEXT NOT NULL,
    trigger       TEXT NOT NULL,
    streams       TEXT NOT NULL,
    full_refresh  INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    started_at    INTEGER,
    finished_at   INTEGER,
    counts        TEXT NOT NULL,
    error_code    TEXT,
    error_message TEXT,
    holder        TEXT,
    lease_until   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE UNIQUE INDEX sync_runs_one_active ON sync_runs (tenant_id, connector_id)
    WHERE status IN ('queued', 'running');
CREATE INDEX sync_runs_by_connector ON sync_runs (tenant_id, connector_id, created_at, run_id);
CREATE INDEX sync_runs_claimable ON sync_runs (created_at) WHERE status IN ('queued', 'running');
CREATE TABLE sync_streams (
    stream_key     INTEGER PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    connector_id   TEXT NOT NULL,
    stream         TEXT NOT NULL,
    cursor         INTEGER,
    pass           TEXT,
    record_count   INTEGER NOT NULL,
    last_synced_at INTEGER,
    next_seq       INTEGER NOT NULL,
    UNIQUE (tenant_id, connector_id, stream)
);
-- Records are appended in the order they arrive (a rowid table: no page splits in the middle),
-- found by their stream's number and id, and listed by their stream's change order.
CREATE TABLE sync_records (
    stream_key INTEGER NOT NULL,
    record_id  TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    sealed     TEXT NOT NULL,
    digest     TEXT NOT NULL,
    changed_at INTEGER NOT NULL,
    deleted    INTEGER NOT NULL,
    seen_pass  INTEGER NOT NULL
);
CREATE UNIQUE INDEX sync_records_by_id ON sync_records (stream_key, record_id);
CREATE UNIQUE INDEX sync_records_by_change ON sync_records (stream_key, seq);
CREATE TABLE sync_schedule (
    tenant_id    TEXT NOT NULL,
    connector_id TEXT NOT NULL,
    next_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, connector_id)
) WITHOUT ROWID;
"#,
    // A stream read from a change feed (Drive's changes) keeps the provider's position in it.
    r#"
ALTER TABLE sync_streams ADD COLUMN feed TEXT;
"#,
    // Events to tenants: endpoints, the outbox, deliveries and their attempts.
    r#"
CREATE TABLE webhook_endpoints (
    tenant_id       TEXT NOT NULL,
    endpoint_id     TEXT NOT NULL,
    url             TEXT NOT NULL,
    events          TEXT NOT NULL,
    enabled         INTEGER NOT NULL,
    disabled_reason TEXT,
    secret          TEXT NOT NULL,
    previous_secret TEXT,
    previous_until  INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, endpoint_id)
) WITHOUT ROWID;
CREATE TABLE webhook_events (
    event_id   TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    event_type TEXT NOT NULL,
    at         INTEGER NOT NULL,
    sealed     TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE webhook_deliveries (
    delivery_id TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    next_at     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    holder      TEXT,
    lease_until INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_endpoint
    ON webhook_deliveries (tenant_id, endpoint_id, created_at DESC);
-- Provider webhooks: each connector's address token (the ones before this migration get one
-- here), and the provider events received, by their id, to accept each once.
ALTER TABLE connectors ADD COLUMN hook_token TEXT;
UPDATE connectors SET hook_token = lower(hex(randomblob(16)));
CREATE UNIQUE INDEX connectors_by_hook ON connectors (hook_token);
CREATE TABLE provider_events (
    tenant_id    TEXT NOT NULL,
    connector_id TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    kind         TEXT NOT NULL,
    received_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, connector_id, event_id)
) WITHOUT ROWID;
CREATE TABLE webhook_attempts (
    delivery_id TEXT NOT NULL,
    n           INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    status      INTEGER,
    duration_ms INTEGER NOT NULL,
    error       TEXT,
    PRIMARY KEY (delivery_id, n)
) WITHOUT ROWID;
"#,
    // A push channel the hub opened lapses; when, so the monitor renews it in time.
    r#"
ALTER TABLE connectors ADD COLUMN channel_expires_at INTEGER;
CREATE INDEX connectors_by_channel ON connectors (channel_expires_at)
    WHERE channel_expires_at IS NOT NULL;
"#,
    // App-wide provider webhooks find their connectors by the account an event names (a digest;
    // the service fills it in for connectors stored before this migration).
    r#"
ALTER TABLE connectors ADD COLUMN account_key TEXT;
CREATE INDEX connectors_by_account ON connectors (connector_type, account_key)
    WHERE account_key IS NOT NULL;
"#,
    // The hub as the authorization server for AI agents (`/mcp`): registered clients, the grants
    // people allowed, and the codes and tokens issued under them, by their hashes only.
    r#"
CREATE TABLE agent_clients (
    client_id     TEXT PRIMARY KEY,
    client_name   TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    created_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE agent_grants (
    grant_id       TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    client_name    TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    scopes         TEXT NOT NULL,
    resource       TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER,
    revoked_at     INTEGER
) WITHOUT ROWID;
CREATE INDEX agent_grants_by_user ON agent_grants (tenant_id, user_id, created_at DESC);
CREATE TABLE agent_tokens (
    token_hash TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    grant_id   TEXT NOT NULL,
    tenant_id  TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) WITHOUT ROWID;
CREATE INDEX agent_tokens_by_grant ON agent_tokens (grant_id);
CREATE INDEX agent_tokens_by_expiry ON agent_tokens (expires_at);
"#,
    // Clients nobody allowed are removed as new ones register: found by their grants.
    r#"
CREATE INDEX agent_grants_by_client ON agent_grants (client_id);
CREATE INDEX agent_clients_by_age ON agent_clients (created_at);
"#,
];

/// Rate-limit windows and leases: shared between processes but not worth an fsync each, so they
/// live in a second file attached to every connection, written without synchronous flushes.
pub(super) const EPHEMERAL: &str = r#"
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

pub(super) fn configure(conn: &Connection) -> Result<(), StoreError> {
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
pub(super) fn stable_plans(conn: &Connection) -> Result<(), StoreError> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map(drop)
    .map_err(map_error)
}

pub(super) fn open_reader(path: &Path, read_only: bool) -> Result<Connection, StoreError> {
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
pub(super) fn interval_sql() -> String {
    let arms: String = SyncFrequency::ALL
        .into_iter()
        .filter_map(|f| retest_interval_ms(f).map(|ms| format!(" WHEN '{}' THEN {ms}", f.as_str())))
        .collect();
    format!("CASE sync_frequency{arms} END")
}

/// The main file's writer. The ephemeral file is not attached to it: a transaction begun
/// `IMMEDIATE` locks every attached file, and rate checks must not wait for its commits.
pub(super) fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let mut writer = Connection::open(path).map_err(map_error)?;
    configure(&writer)?;
    // A sync writes pages of thousands of records: keep the indexes it touches in memory (16 MB)
    // rather than reading them back from the OS for every row, and fold the WAL back into the
    // database every 32 MB rather than every 4 MB (a hot index page is then copied once, not eight
    // times).
    writer
        .execute_batch("PRAGMA cache_size = -16384; PRAGMA wal_autocheckpoint = 8192")
        .map_err(map_error)?;
    migrate(&mut writer)?;
    Ok(writer)
}

/// The ephemeral file's own writer: attached to an empty in-memory database, so its
/// transactions lock nothing of the main file.
pub(super) fn open_ephemeral_writer(dir: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_in_memory().map_err(map_error)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(map_error)?;
    stable_plans(&conn)?;
    attach_ephemeral(&conn, dir)?;
    conn.execute_batch(EPHEMERAL).map_err(map_error)?;
    Ok(conn)
}

pub(super) fn attach_ephemeral(conn: &Connection, dir: &Path) -> Result<(), StoreError> {
    let path = dir.join("connector-hub-ephemeral.db");
    conn.execute(
        "ATTACH DATABASE ?1 AS ephemeral",
        params![path.to_string_lossy()],
    )
    .map_err(map_error)?;
    conn.execute_batch("PRAGMA ephemeral.journal_mode = WAL; PRAGMA ephemeral.synchronous = OFF;")
        .map_err(map_error)
}

pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
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

pub(super) fn io_error(e: std::io::Error) -> StoreError {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            StoreError::ReadOnly
        }
        std::io::ErrorKind::StorageFull => StoreError::Full,
        _ => StoreError::Unavailable(e.to_string()),
    }
}

pub(super) fn map_error(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode as C;
    match e.sqlite_error_code() {
        Some(C::DiskFull) => StoreError::Full,
        Some(C::ReadOnly) | Some(C::CannotOpen) | Some(C::PermissionDenied) => StoreError::ReadOnly,
        Some(C::ConstraintViolation) => StoreError::Duplicate,
        _ => StoreError::Unavailable(e.to_string()),
    }
}
