//! Runs, stream positions and records in SQLite (see `store::sync` for the contract).

use super::super::sync::*;
use super::rows::{record, COLUMNS};
use super::*;
use crate::model::data::{RunStatus, RunTrigger, StreamCounts};
use rusqlite::Row;
use std::collections::BTreeMap;

const RUN_COLUMNS: &str =
    "run_id, tenant_id, connector_id, status, trigger, streams, full_refresh, \
    created_at, started_at, finished_at, counts, error_code, error_message, holder, lease_until";

fn conversion(index: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        index,
        rusqlite::types::Type::Text,
        format!("unreadable {what}").into(),
    )
}

fn run(row: &Row<'_>) -> rusqlite::Result<SyncRunRecord> {
    let status: String = row.get(3)?;
    let trigger: String = row.get(4)?;
    let streams: String = row.get(5)?;
    let counts: String = row.get(10)?;
    Ok(SyncRunRecord {
        run_id: row.get(0)?,
        tenant_id: row.get(1)?,
        connector_id: row.get(2)?,
        status: RunStatus::parse(&status).ok_or_else(|| conversion(3, "run status"))?,
        trigger: RunTrigger::parse(&trigger).ok_or_else(|| conversion(4, "run trigger"))?,
        streams: serde_json::from_str(&streams).map_err(|_| conversion(5, "stream list"))?,
        full_refresh: row.get(6)?,
        created_at: row.get(7)?,
        started_at: row.get(8)?,
        finished_at: row.get(9)?,
        counts: serde_json::from_str(&counts).map_err(|_| conversion(10, "run counts"))?,
        error_code: row.get(11)?,
        error_message: row.get(12)?,
        holder: row.get(13)?,
        lease_until: row.get(14)?,
    })
}

/// A record's sealed token: bytes, or (written before records were kept as bytes) its base64
/// text, which is read as the same bytes.
fn sealed_token(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Vec<u8>> {
    use base64::Engine;
    use rusqlite::types::{Type, ValueRef};
    match row.get_ref(index)? {
        ValueRef::Blob(bytes) => Ok(bytes.to_vec()),
        ValueRef::Text(text) => base64::engine::general_purpose::URL_SAFE
            .decode(text)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(e))),
        other => Err(rusqlite::Error::InvalidColumnType(
            index,
            "sealed".into(),
            other.data_type(),
        )),
    }
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// A pass id as the records table keeps it: 64 bits of its SHA-256 (a text id on every row made
/// the table and its writes a third larger).
fn pass_number(pass_id: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(pass_id.as_bytes());
    let mut bytes = [0_u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// The page's records, upserted by id: new ones added, changed (or revived) ones rewritten with
/// the stream's next change number, unchanged ones only marked as seen by this pass.
fn upsert_records(
    c: &Connection,
    p: &PageCommit,
    stream_key: i64,
    seq: &mut i64,
) -> rusqlite::Result<StreamCounts> {
    let mut counts = StreamCounts::default();
    let pass = pass_number(&p.pass_id);
    // New records are the common case of a first read: inserted outright, and only a record
    // already stored (a conflict) is looked up and compared.
    let mut insert = c.prepare_cached(
        "INSERT INTO sync_records (stream_key, record_id, seq, sealed, digest, changed_at, deleted, seen_pass)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7) ON CONFLICT (stream_key, record_id) DO NOTHING",
    )?;
    let mut find = c.prepare_cached(
        "SELECT rowid, digest, deleted, seen_pass FROM sync_records
         WHERE stream_key = ?1 AND record_id = ?2",
    )?;
    let mut rewrite = c.prepare_cached(
        "UPDATE sync_records SET seq = ?2, sealed = ?3, digest = ?4, changed_at = ?5, deleted = ?6,
            seen_pass = ?7 WHERE rowid = ?1",
    )?;
    let mut seen = c.prepare_cached("UPDATE sync_records SET seen_pass = ?2 WHERE rowid = ?1")?;
    for r in &p.records {
        if !r.deleted
            && insert.execute(params![
                stream_key,
                r.record_id,
                *seq,
                r.sealed,
                r.digest,
                p.now,
                pass
            ])? == 1
        {
            counts.added += 1;
            *seq += 1;
            continue;
        }
        let stored: Option<(i64, String, bool, i64)> = find
            .query_row(params![stream_key, r.record_id], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .optional()?;
        let Some((rowid, digest, was_deleted, seen_by)) = stored else {
            continue; // a deletion of a record never stored
        };
        if p.newest_first && seen_by == pass {
            continue; // this pass already wrote a newer state
        }
        let count = match (was_deleted, r.deleted) {
            (false, true) => Some(&mut counts.deleted),
            (true, false) => Some(&mut counts.added),
            _ if digest != r.digest => Some(&mut counts.updated),
            _ => None,
        };
        match count {
            Some(count) => {
                *count += 1;
                rewrite.execute(params![
                    rowid, *seq, r.sealed, r.digest, p.now, r.deleted, pass
                ])?;
                *seq += 1;
            }
            None => {
                seen.execute(params![rowid, pass])?;
            }
        }
    }
    Ok(counts)
}

/// At the end of a full read: what the pass did not see is gone at the provider.
fn mark_unseen_deleted(
    c: &Connection,
    p: &PageCommit,
    stream_key: i64,
    seq: &mut i64,
) -> rusqlite::Result<u64> {
    let gone: Vec<i64> = c
        .prepare_cached(
            "SELECT rowid FROM sync_records WHERE stream_key = ?1 AND deleted = 0 AND seen_pass != ?2",
        )?
        .query_map(params![stream_key, pass_number(&p.pass_id)], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut mark = c.prepare_cached(
        "UPDATE sync_records SET deleted = 1, seq = ?2, changed_at = ?3 WHERE rowid = ?1",
    )?;
    for rowid in &gone {
        mark.execute(params![rowid, *seq, p.now])?;
        *seq += 1;
    }
    Ok(gone.len() as u64)
}

fn commit_page_in(c: &Connection, p: &PageCommit) -> rusqlite::Result<Option<StreamCounts>> {
    let counts: Option<String> = c
        .prepare_cached(
            "SELECT counts FROM sync_runs WHERE run_id = ?1 AND holder = ?2 AND status = 'running'",
        )?
        .query_row(params![p.run_id, p.holder], |r| r.get(0))
        .optional()?;
    let Some(counts) = counts else {
        return Ok(None);
    };
    let mut run_counts: BTreeMap<String, StreamCounts> =
        serde_json::from_str(&counts).unwrap_or_default();
    c.prepare_cached(
        "INSERT INTO sync_streams (tenant_id, connector_id, stream, record_count, next_seq)
         VALUES (?1, ?2, ?3, 0, 1) ON CONFLICT DO NOTHING",
    )?
    .execute(params![p.tenant_id, p.connector_id, p.stream])?;
    let (stream_key, mut seq): (i64, i64) = c
        .prepare_cached(
            "SELECT stream_key, next_seq FROM sync_streams
             WHERE tenant_id = ?1 AND connector_id = ?2 AND stream = ?3",
        )?
        .query_row(params![p.tenant_id, p.connector_id, p.stream], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let mut page = upsert_records(c, p, stream_key, &mut seq)?;
    if p.end.as_ref().is_some_and(|end| end.full_read) {
        page.deleted += mark_unseen_deleted(c, p, stream_key, &mut seq)?;
    }
    let live_change = page.added as i64 - page.deleted as i64;
    match &p.end {
        None => c
            .prepare_cached(
                "UPDATE sync_streams SET pass = ?2, next_seq = ?3, record_count = record_count + ?4
                 WHERE stream_key = ?1",
            )?
            .execute(params![stream_key, p.pass, seq, live_change])?,
        Some(end) => c
            .prepare_cached(
                "UPDATE sync_streams SET pass = NULL, next_seq = ?2, record_count = record_count + ?3,
                    cursor = COALESCE(?4, cursor), last_synced_at = ?5, feed = COALESCE(?6, feed)
                 WHERE stream_key = ?1",
            )?
            .execute(params![
                stream_key,
                seq,
                live_change,
                end.cursor,
                p.now,
                end.feed
            ])?,
    };
    run_counts.entry(p.stream.clone()).or_default().add(page);
    c.prepare_cached(
        "UPDATE sync_runs SET counts = ?3, lease_until = ?4 WHERE run_id = ?1 AND holder = ?2",
    )?
    .execute(params![
        p.run_id,
        p.holder,
        json(&run_counts),
        p.now + p.lease_ms
    ])?;
    Ok(Some(page))
}

#[async_trait]
impl SyncStore for SqliteStore {
    async fn queue_run(&self, r: &SyncRunRecord) -> Result<Queued, StoreError> {
        let r = r.clone();
        self.write(move |c| {
            let active: Option<String> = c
                .prepare_cached(
                    "SELECT run_id FROM sync_runs WHERE tenant_id = ?1 AND connector_id = ?2
                     AND status IN ('queued', 'running')",
                )?
                .query_row(params![r.tenant_id, r.connector_id], |row| row.get(0))
                .optional()?;
            if let Some(run_id) = active {
                return Ok(Queued::AlreadyActive(run_id));
            }
            c.prepare_cached(&format!(
                "INSERT INTO sync_runs ({RUN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
            ))?
            .execute(params![
                r.run_id, r.tenant_id, r.connector_id, r.status.as_str(), r.trigger.as_str(),
                json(&r.streams), r.full_refresh, r.created_at, r.started_at, r.finished_at,
                json(&r.counts), r.error_code, r.error_message, r.holder, r.lease_until
            ])?;
            Ok(Queued::New)
        })
        .await
    }

    async fn claim_run(
        &self,
        holder: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<SyncRunRecord>, StoreError> {
        let holder = holder.to_owned();
        self.write(move |c| {
            let found = c
                .prepare_cached(&format!(
                    "SELECT {RUN_COLUMNS} FROM sync_runs
                     WHERE status IN ('queued', 'running') AND (status = 'queued' OR lease_until < ?1)
                     ORDER BY created_at LIMIT 1"
                ))?
                .query_row(params![now], run)
                .optional()?;
            let Some(mut r) = found else {
                return Ok(None);
            };
            r.status = RunStatus::Running;
            r.started_at = r.started_at.or(Some(now));
            r.holder = Some(holder.clone());
            r.lease_until = now + lease_ms;
            c.prepare_cached(
                "UPDATE sync_runs SET status = 'running', started_at = ?2, holder = ?3, lease_until = ?4
                 WHERE run_id = ?1",
            )?
            .execute(params![r.run_id, r.started_at, holder, r.lease_until])?;
            Ok(Some(r))
        })
        .await
    }

    async fn renew_run(
        &self,
        run_id: &str,
        holder: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<bool, StoreError> {
        let (run_id, holder) = (run_id.to_owned(), holder.to_owned());
        self.write(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE sync_runs SET lease_until = ?3
                     WHERE run_id = ?1 AND holder = ?2 AND status = 'running'",
                )?
                .execute(params![run_id, holder, now + lease_ms])?;
            Ok(n == 1)
        })
        .await
    }

    async fn finish_run(
        &self,
        run_id: &str,
        holder: &str,
        status: RunStatus,
        error: Option<(String, String)>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (run_id, holder) = (run_id.to_owned(), holder.to_owned());
        let (code, message) = error.unzip();
        self.write(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE sync_runs SET status = ?3, error_code = ?4, error_message = ?5,
                        finished_at = ?6, lease_until = 0
                     WHERE run_id = ?1 AND holder = ?2 AND status = 'running'",
                )?
                .execute(params![run_id, holder, status.as_str(), code, message, now])?;
            Ok(n == 1)
        })
        .await
    }

    async fn get_run(
        &self,
        tenant: &TenantId,
        connector_id: &ConnectorId,
        run_id: &str,
    ) -> Result<Option<SyncRunRecord>, StoreError> {
        let (tenant, connector_id, run_id) =
            (tenant.clone(), connector_id.clone(), run_id.to_owned());
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM sync_runs WHERE run_id = ?1 AND tenant_id = ?2 AND connector_id = ?3"
            ))?
            .query_row(params![run_id, tenant, connector_id], run)
            .optional()
        })
        .await
    }

    async fn list_runs(
        &self,
        tenant: &TenantId,
        connector_id: &ConnectorId,
        before: Option<(i64, String)>,
        limit: usize,
    ) -> Result<Vec<SyncRunRecord>, StoreError> {
        let (tenant, connector_id) = (tenant.clone(), connector_id.clone());
        let (at, id) = before.unwrap_or((i64::MAX, String::new()));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM sync_runs
                 WHERE tenant_id = ?1 AND connector_id = ?2 AND (created_at < ?3 OR (created_at = ?3 AND run_id < ?4))
                 ORDER BY created_at DESC, run_id DESC LIMIT ?5"
            ))?
            .query_map(params![tenant, connector_id, at, id, limit], run)?
            .collect()
        })
        .await
    }

    async fn prune_runs(&self, before: i64) -> Result<u64, StoreError> {
        self.write(move |c| {
            let gone = c.execute(
                "DELETE FROM sync_runs
                 WHERE status NOT IN ('queued', 'running') AND created_at < ?1
                   AND run_id NOT IN (
                     SELECT run_id FROM (
                       SELECT run_id, ROW_NUMBER() OVER (PARTITION BY tenant_id, connector_id
                         ORDER BY created_at DESC, run_id DESC) AS newest
                       FROM sync_runs WHERE status NOT IN ('queued', 'running'))
                     WHERE newest = 1)",
                params![before],
            )?;
            Ok(gone as u64)
        })
        .await
    }

    async fn stream_states(
        &self,
        tenant: &TenantId,
        connector_id: &ConnectorId,
    ) -> Result<Vec<StreamState>, StoreError> {
        let (tenant, connector_id) = (tenant.clone(), connector_id.clone());
        self.read(move |c| {
            c.prepare_cached(
                "SELECT stream, cursor, pass, record_count, last_synced_at, feed FROM sync_streams
                 WHERE tenant_id = ?1 AND connector_id = ?2 ORDER BY stream",
            )?
            .query_map(params![tenant, connector_id], |r| {
                Ok(StreamState {
                    stream: r.get(0)?,
                    cursor: r.get(1)?,
                    pass: r.get(2)?,
                    record_count: r.get(3)?,
                    last_synced_at: r.get(4)?,
                    feed: r.get(5)?,
                })
            })?
            .collect()
        })
        .await
    }

    async fn commit_page(&self, page: &PageCommit) -> Result<Option<StreamCounts>, StoreError> {
        let page = page.clone();
        self.write(move |c| commit_page_in(c, &page)).await
    }

    async fn list_records(
        &self,
        tenant: &TenantId,
        connector_id: &ConnectorId,
        stream: &str,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let (tenant, connector_id, stream) =
            (tenant.clone(), connector_id.clone(), stream.to_owned());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |c| {
            c.prepare_cached(
                "SELECT r.record_id, r.seq, r.sealed, r.changed_at, r.deleted
                 FROM sync_streams AS s JOIN sync_records AS r ON r.stream_key = s.stream_key
                 WHERE s.tenant_id = ?1 AND s.connector_id = ?2 AND s.stream = ?3 AND r.seq > ?4
                 ORDER BY r.seq LIMIT ?5",
            )?
            .query_map(
                params![tenant, connector_id, stream, after_seq, limit],
                |r| {
                    Ok(StoredRecord {
                        record_id: r.get(0)?,
                        seq: r.get(1)?,
                        sealed: sealed_token(r, 2)?,
                        changed_at: r.get(3)?,
                        deleted: r.get(4)?,
                    })
                },
            )?
            .collect()
        })
        .await
    }

    async fn count_records(
        &self,
        tenant: &TenantId,
        connector_id: &ConnectorId,
    ) -> Result<u64, StoreError> {
        let (tenant, connector_id) = (tenant.clone(), connector_id.clone());
        self.read(move |c| {
            c.prepare_cached(
                "SELECT COUNT(*) FROM sync_streams AS s JOIN sync_records AS r ON r.stream_key = s.stream_key
                 WHERE s.tenant_id = ?1 AND s.connector_id = ?2",
            )?
            .query_row(params![tenant, connector_id], |r| r.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
        })
        .await
    }

    async fn due_for_sync(
        &self,
        now: i64,
        limit: usize,
    ) -> Result<Vec<ConnectorRecord>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let columns = COLUMNS
            .split(", ")
            .map(|c| format!("c.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {columns} FROM connectors AS c
                 LEFT JOIN sync_schedule AS s ON s.tenant_id = c.tenant_id AND s.connector_id = c.connector_id
                 WHERE c.sync_frequency != 'manual' AND c.status != 'authorization_required'
                   AND COALESCE(s.next_at, 0) <= ?1
                 ORDER BY COALESCE(s.next_at, 0) LIMIT ?2"
            ))?
            .query_map(params![now, limit], record)?
            .collect()
        })
        .await
    }

    async fn schedule_sync(
        &self,
        tenant: &TenantId,
        connector_id: &ConnectorId,
        next_at: i64,
    ) -> Result<(), StoreError> {
        let (tenant, connector_id) = (tenant.clone(), connector_id.clone());
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO sync_schedule (tenant_id, connector_id, next_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (tenant_id, connector_id) DO UPDATE SET next_at = excluded.next_at",
            )?
            .execute(params![tenant, connector_id, next_at])?;
            Ok(())
        })
        .await
    }
}

/// Everything a connector's data flows stored, removed with it (inside its delete).
pub(super) fn delete_sync_data(
    c: &Connection,
    tenant: &str,
    connector_id: &ConnectorId,
) -> rusqlite::Result<()> {
    c.prepare_cached(
        "DELETE FROM sync_records WHERE stream_key IN
            (SELECT stream_key FROM sync_streams WHERE tenant_id = ?1 AND connector_id = ?2)",
    )?
    .execute(params![tenant, connector_id])?;
    for table in ["sync_streams", "sync_runs", "sync_schedule"] {
        c.prepare_cached(&format!(
            "DELETE FROM {table} WHERE tenant_id = ?1 AND connector_id = ?2"
        ))?
        .execute(params![tenant, connector_id])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records written before tokens were kept as bytes hold their base64 text; both read as
    /// the same token.
    #[test]
    fn a_token_kept_as_text_reads_as_its_bytes() {
        use base64::Engine;
        let token = vec![0x80_u8, 0, 1, 254, 255, 62, 63];
        let text = base64::engine::general_purpose::URL_SAFE.encode(&token);
        let c = Connection::open_in_memory().expect("sqlite");
        let (blob, legacy) = c
            .query_row("SELECT ?1, ?2", params![token, text], |r| {
                Ok((sealed_token(r, 0)?, sealed_token(r, 1)?))
            })
            .expect("reads");
        assert_eq!((blob, legacy), (token.clone(), token));
        let number = c.query_row("SELECT 1", [], |r| sealed_token(r, 0));
        assert!(number.is_err());
    }
}
