//! The embedded default: one SQLite file in the data directory, WAL mode, migrations at start.
//!
//! rusqlite is synchronous. Writes go to one thread that owns the only writing connection (SQLite
//! has one writer anyway) and commits them in groups: every write that arrives while a commit is
//! under way joins the next transaction, in a savepoint of its own, and is acknowledged only after
//! that transaction is durable. One fsync then serves many requests. Reads run on tokio's
//! blocking pool with a small pool of their own connections, which WAL lets run beside the writer.

mod agent_auth;
mod events;
mod rows;
mod schema;
mod sealed;
mod sync;
mod writer;

use super::*;
use rows::*;
use rusqlite::{params, Connection, OptionalExtension};
use schema::*;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use writer::*;

/// Read connections kept open. Reads wait for one of them rather than opening a new connection
/// (which costs more than the query, and starts with an empty statement cache).
const READERS: usize = 8;

pub struct SqliteStore {
    path: PathBuf,
    /// `None` when the data directory is read-only: reads are served, every write is refused.
    writer: Option<std::sync::mpsc::Sender<Job>>,
    /// Writes the ephemeral file (rate windows, leases); `None` with `writer`.
    ephemeral: Option<std::sync::mpsc::Sender<Job>>,
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
            let start = |name: &str, conn: Connection| {
                let (jobs, queue) = std::sync::mpsc::channel();
                std::thread::Builder::new()
                    .name(name.into())
                    .spawn(move || run_writer(conn, queue))
                    .map_err(io_error)?;
                Ok::<_, StoreError>(jobs)
            };
            let writers = open_writer(&path)
                .and_then(|main| Ok((main, open_ephemeral_writer(&dir)?)));
            let (writer, ephemeral) = match writers {
                Ok((main, ephemeral)) => (
                    Some(start("sqlite-writer", main)?),
                    Some(start("sqlite-ephemeral", ephemeral)?),
                ),
                // An existing database on a read-only directory is still worth serving.
                Err(StoreError::ReadOnly) if path.is_file() => {
                    tracing::warn!(path = %path.display(), "the data directory is read-only: serving reads, refusing writes");
                    (None, None)
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
                ephemeral,
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

    /// `PRAGMA integrity_check` — "ok" when the file is sound.
    pub async fn integrity_check(&self) -> Result<String, StoreError> {
        self.read(|c| c.query_row("PRAGMA integrity_check", [], |r| r.get(0)))
            .await
    }
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
        self.write_alone(|c| c.execute_batch("PRAGMA main.wal_checkpoint(TRUNCATE)"))
            .await?;
        self.write_ephemeral_alone(|c| c.execute_batch("PRAGMA ephemeral.wal_checkpoint(TRUNCATE)"))
            .await
    }

    async fn insert(
        &self,
        tenant: &TenantId,
        r: &ConnectorRecord,
        audit: &AuditWrite<'_>,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError> {
        let tenant = tenant.as_str().to_owned();
        let r = r.clone();
        let (mut entry, key) = (audit.entry.clone(), audit.key.clone());
        let events = events.to_vec();
        self.write(move |c| {
            c.prepare_cached(&format!(
                "INSERT INTO connectors ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)"
            ))?
            .execute(params![
                tenant, r.connector_id, r.connector_type, r.display_name, r.status.as_str(),
                r.sync_frequency.as_str(), r.encrypted_config, r.key_id, r.created_at, r.updated_at,
                r.created_by, r.updated_by, r.last_tested_at, r.last_sync_at, r.error_code,
                r.error_message, r.version, r.token_expires_at, r.token_refreshed_at, r.hook_token,
                r.channel_expires_at, r.account_key
            ])?;
            append_audit_in(c, &mut entry, &key)?;
            events::queue_events_in(c, &tenant, &events)
        })
        .await
    }

    async fn get(
        &self,
        tenant: &TenantId,
        id: &ConnectorId,
    ) -> Result<Option<ConnectorRecord>, StoreError> {
        let (tenant, id) = (tenant.as_str().to_owned(), id.clone());
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
        events: &[OutboxEvent],
    ) -> Result<bool, StoreError> {
        let tenant = tenant.as_str().to_owned();
        let r = r.clone();
        let audit = audit.map(|a| (a.entry.clone(), a.key.clone()));
        let events = events.to_vec();
        self.write(move |c| {
            let changed = c
                .prepare_cached(
                    "UPDATE connectors SET display_name = ?3, status = ?4, sync_frequency = ?5, encrypted_config = ?6,
                        key_id = ?7, updated_at = ?8, updated_by = ?9, last_tested_at = ?10, last_sync_at = ?11,
                        error_code = ?12, error_message = ?13, version = ?14, token_expires_at = ?16,
                        token_refreshed_at = ?17, channel_expires_at = ?18, account_key = ?19
                     WHERE tenant_id = ?1 AND connector_id = ?2 AND version = ?15",
                )?
                .execute(params![
                    tenant, r.connector_id, r.display_name, r.status.as_str(), r.sync_frequency.as_str(),
                    r.encrypted_config, r.key_id, r.updated_at, r.updated_by, r.last_tested_at, r.last_sync_at,
                    r.error_code, r.error_message, r.version, expected, r.token_expires_at,
                    r.token_refreshed_at, r.channel_expires_at, r.account_key
                ])?;
            if let (1, Some((mut entry, key))) = (changed, audit) {
                append_audit_in(c, &mut entry, &key)?;
            }
            if changed == 1 {
                events::queue_events_in(c, &tenant, &events)?;
            }
            Ok(changed == 1)
        })
        .await
    }

    async fn delete(
        &self,
        tenant: &TenantId,
        id: &ConnectorId,
        audit: &AuditWrite<'_>,
        events: &[OutboxEvent],
    ) -> Result<bool, StoreError> {
        let (tenant, id) = (tenant.as_str().to_owned(), id.clone());
        let (mut entry, key) = (audit.entry.clone(), audit.key.clone());
        let events = events.to_vec();
        self.write(move |c| {
            let n = c
                .prepare_cached(
                    "DELETE FROM connectors WHERE tenant_id = ?1 AND connector_id = ?2",
                )?
                .execute(params![tenant, id])?;
            if n == 1 {
                sync::delete_sync_data(c, &tenant, &id)?;
                c.prepare_cached(
                    "DELETE FROM provider_events WHERE tenant_id = ?1 AND connector_id = ?2",
                )?
                .execute(params![tenant, id])?;
                append_audit_in(c, &mut entry, &key)?;
                events::queue_events_in(c, &tenant, &events)?;
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
                    heads.counts.push((tenant, seq, hash));
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
        self.write_ephemeral(move |c| {
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
        self.write_ephemeral(move |c| {
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
        let condition = format!(
            "WHERE sync_frequency != 'manual' AND COALESCE(last_tested_at, 0) <= ?1 - {}
             ORDER BY COALESCE(last_tested_at, 0) LIMIT ?2",
            interval_sql()
        );
        self.connectors_where(condition, vec![now.into(), sql_limit(limit)])
            .await
    }

    async fn idle_sign_ins(
        &self,
        connector_type: &str,
        refreshed_before: i64,
        limit: usize,
    ) -> Result<Vec<ConnectorRecord>, StoreError> {
        let condition = "WHERE connector_type = ?1 AND token_refreshed_at IS NOT NULL
               AND token_refreshed_at < ?2 AND status != 'authorization_required'
             ORDER BY token_refreshed_at LIMIT ?3";
        let values = vec![
            connector_type.to_owned().into(),
            refreshed_before.into(),
            sql_limit(limit),
        ];
        self.connectors_where(condition.into(), values).await
    }

    async fn channels_expiring(
        &self,
        before: i64,
        limit: usize,
    ) -> Result<Vec<ConnectorRecord>, StoreError> {
        let condition = "WHERE channel_expires_at IS NOT NULL AND channel_expires_at < ?1
             ORDER BY channel_expires_at LIMIT ?2";
        self.connectors_where(condition.into(), vec![before.into(), sql_limit(limit)])
            .await
    }

    async fn scan_all(
        &self,
        after: Option<(TenantId, ConnectorId)>,
        limit: usize,
    ) -> Result<Vec<ConnectorRecord>, StoreError> {
        self.read(move |c| {
            let (t, i) = after
                .as_ref()
                .map_or(("", ""), |(t, i)| (t.as_str(), i.as_str()));
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

impl SqliteStore {
    /// Connectors across tenants matching `condition` (a `WHERE … ORDER BY … LIMIT` with
    /// `values` bound): the background monitor's queries.
    async fn connectors_where(
        &self,
        condition: String,
        values: Vec<rusqlite::types::Value>,
    ) -> Result<Vec<ConnectorRecord>, StoreError> {
        self.read(move |c| {
            let mut stmt =
                c.prepare_cached(&format!("SELECT {COLUMNS} FROM connectors {condition}"))?;
            let rows = stmt.query_map(rusqlite::params_from_iter(values), record)?;
            rows.collect()
        })
        .await
    }
}

fn sql_limit(limit: usize) -> rusqlite::types::Value {
    i64::try_from(limit).unwrap_or(i64::MAX).into()
}

#[cfg(test)]
mod tests;
