//! Sealed values for key rotation in SQLite (see `store::sealed`). Records are kept as token
//! bytes (or, written before that, as token text): they are handed over as text and written back
//! as bytes.

use super::super::sealed::*;
use super::*;
use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use rusqlite::types::ValueRef;

/// Each kind's listing: position, token, then (records) the owner's parts, after `?1`.
fn listing(kind: SealedKind) -> &'static str {
    match kind {
        SealedKind::Records => {
            "SELECT r.rowid, r.sealed, s.tenant_id, s.connector_id, s.stream, r.record_id
             FROM sync_records AS r JOIN sync_streams AS s ON s.stream_key = r.stream_key
             WHERE r.rowid > CAST(?1 AS INTEGER) ORDER BY r.rowid LIMIT ?2"
        }
        SealedKind::Events => {
            "SELECT event_id, sealed FROM webhook_events WHERE event_id > ?1 ORDER BY event_id LIMIT ?2"
        }
        SealedKind::EndpointSecrets => {
            "SELECT tenant_id || '/' || endpoint_id AS position, secret FROM webhook_endpoints
             WHERE position > ?1 ORDER BY position LIMIT ?2"
        }
        SealedKind::PreviousEndpointSecrets => {
            "SELECT tenant_id || '/' || endpoint_id AS position, previous_secret FROM webhook_endpoints
             WHERE previous_secret IS NOT NULL AND position > ?1 ORDER BY position LIMIT ?2"
        }
    }
}

/// Each kind's rewrite of one value: `?1` position, `?2` new token, `?3`/`?4` the old one (as
/// bytes and as text), and for a record `?5` its new digest.
fn rewrite(kind: SealedKind) -> &'static str {
    match kind {
        SealedKind::Records => {
            "UPDATE sync_records SET sealed = ?2, digest = coalesce(?5, digest)
             WHERE rowid = CAST(?1 AS INTEGER) AND sealed IN (?3, ?4)"
        }
        SealedKind::Events => {
            "UPDATE webhook_events SET sealed = ?2 WHERE event_id = ?1 AND sealed IN (?3, ?4)"
        }
        SealedKind::EndpointSecrets => {
            "UPDATE webhook_endpoints SET secret = ?2
             WHERE tenant_id || '/' || endpoint_id = ?1 AND secret IN (?3, ?4)"
        }
        SealedKind::PreviousEndpointSecrets => {
            "UPDATE webhook_endpoints SET previous_secret = ?2
             WHERE tenant_id || '/' || endpoint_id = ?1 AND previous_secret IN (?3, ?4)"
        }
    }
}

fn token_text(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Blob(bytes) => URL_SAFE.encode(bytes),
        ValueRef::Text(text) => String::from_utf8_lossy(text).into_owned(),
        _ => String::new(),
    }
}

#[async_trait]
impl SealedStore for SqliteStore {
    async fn sealed_values(
        &self,
        kind: SealedKind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SealedValue>, StoreError> {
        let after = after.unwrap_or(if kind == SealedKind::Records { "0" } else { "" });
        let after = after.to_owned();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |c| {
            let mut stmt = c.prepare_cached(listing(kind))?;
            let rows = stmt.query_map(params![after, limit], |r| {
                let owner = match kind {
                    SealedKind::Records => Some(format!(
                        "{}/{}/{}/{}",
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?
                    )),
                    _ => None,
                };
                Ok(SealedValue {
                    position: match r.get_ref(0)? {
                        ValueRef::Integer(n) => n.to_string(),
                        other => String::from_utf8_lossy(other.as_bytes()?).into_owned(),
                    },
                    token: token_text(r.get_ref(1)?),
                    owner,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn reseal(&self, kind: SealedKind, changes: &[Reseal]) -> Result<u64, StoreError> {
        let changes = changes.to_vec();
        self.write(move |c| {
            let mut stmt = c.prepare_cached(rewrite(kind))?;
            let mut replaced = 0;
            for change in &changes {
                let old_bytes = URL_SAFE.decode(&change.value.token).unwrap_or_default();
                let new_token = match kind {
                    SealedKind::Records => rusqlite::types::Value::Blob(
                        URL_SAFE
                            .decode(&change.token)
                            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?,
                    ),
                    _ => rusqlite::types::Value::Text(change.token.clone()),
                };
                let (position, old_text) = (&change.value.position, &change.value.token);
                replaced += match kind {
                    SealedKind::Records => stmt.execute(params![
                        position,
                        new_token,
                        old_bytes,
                        old_text,
                        change.digest
                    ])?,
                    _ => stmt.execute(params![position, new_token, old_bytes, old_text])?,
                } as u64;
            }
            Ok(replaced)
        })
        .await
    }
}
