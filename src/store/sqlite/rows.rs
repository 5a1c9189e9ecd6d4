//! Rows and records: the column lists, the listing statements, reading a row into a record, and
//! appending an audit entry to its tenant's chain.

use super::super::audit_chain::*;
use super::super::*;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, Row, ToSql};

/// Tenant ids are stored as their text and parsed again on the way out: a row that names no
/// valid tenant is refused, never handed on.
impl ToSql for TenantId {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for TenantId {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        TenantId::parse(value.as_str()?)
            .ok_or_else(|| FromSqlError::Other("a stored row names no valid tenant".into()))
    }
}

/// Connector ids likewise: stored as their text, and a row whose id is not one is refused.
impl ToSql for ConnectorId {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for ConnectorId {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        ConnectorId::parse(value.as_str()?)
            .ok_or_else(|| FromSqlError::Other("a stored row names no valid connector".into()))
    }
}

/// A page of a tenant's connectors, metadata only (never the ciphertext). Parameters: tenant,
/// status, cursor time, cursor id, limit; the ones a page does not use are bound as NULL. The
/// four shapes are built once: a listing only looks its statement up.
pub(super) fn list_sql(by_status: bool, after_cursor: bool) -> &'static str {
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

pub(super) const COLUMNS: &str = "tenant_id, connector_id, connector_type, display_name, status, sync_frequency, \
    encrypted_config, key_id, created_at, updated_at, created_by, updated_by, last_tested_at, last_sync_at, \
    error_code, error_message, version, token_expires_at, token_refreshed_at, hook_token, channel_expires_at, \
    account_key";

pub(super) fn record(row: &Row<'_>) -> rusqlite::Result<ConnectorRecord> {
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
        hook_token: row.get::<_, Option<String>>(19)?.unwrap_or_default(),
        channel_expires_at: row.get(20)?,
        account_key: row.get(21)?,
    })
}

pub(super) fn audit_record(row: &Row<'_>) -> rusqlite::Result<AuditRecord> {
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

pub(super) const AUDIT_COLUMNS: &str =
    "tenant_id, seq, at, user_id, action, connector_id, outcome, error_code, client, prev_hash, hash, detail";

/// Appends `e` to its tenant's chain inside the caller's transaction, moving the chain's head and
/// the keyed count of all entries with it.
pub(super) fn append_audit_in(
    c: &Connection,
    e: &mut AuditRecord,
    key: &AuditKey,
) -> rusqlite::Result<()> {
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
    upsert.execute(params!["*", total, audit_count_hash("*", total, key)])?;
    Ok(())
}
