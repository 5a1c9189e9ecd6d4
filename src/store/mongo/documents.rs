//! Records as BSON documents and back, and the driver's errors in the store's words.

use super::super::*;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};

pub(super) fn map_error(e: mongodb::error::Error) -> StoreError {
    use mongodb::error::{ErrorKind, WriteFailure};
    match *e.kind {
        ErrorKind::Write(WriteFailure::WriteError(ref w)) if w.code == 11000 => {
            StoreError::Duplicate
        }
        ErrorKind::InsertMany(_) | ErrorKind::Write(_) if e.to_string().contains("E11000") => {
            StoreError::Duplicate
        }
        _ => StoreError::Unavailable(e.to_string()),
    }
}

pub(super) fn opt_i64(v: Option<i64>) -> Bson {
    v.map(Bson::Int64).unwrap_or(Bson::Null)
}

pub(super) fn opt_str(v: &Option<String>) -> Bson {
    v.clone().map(Bson::String).unwrap_or(Bson::Null)
}

/// Tenant ids are stored as their text.
impl From<&TenantId> for Bson {
    fn from(tenant: &TenantId) -> Self {
        Bson::String(tenant.as_str().to_owned())
    }
}

/// A stored tenant id, parsed again: a document that names no valid tenant is refused.
pub(super) fn tenant_of(d: &Document) -> Result<TenantId, StoreError> {
    d.get_str("tenant_id")
        .ok()
        .and_then(TenantId::parse)
        .ok_or_else(|| StoreError::Unavailable("a stored document names no valid tenant".into()))
}

/// Connector ids are stored as their text, as they always were.
impl From<ConnectorId> for Bson {
    fn from(id: ConnectorId) -> Self {
        Bson::String(id.into())
    }
}

/// A stored connector id, parsed again: a document whose id is not one is refused.
pub(super) fn connector_of(d: &Document) -> Result<ConnectorId, StoreError> {
    d.get_str("connector_id")
        .ok()
        .and_then(ConnectorId::parse)
        .ok_or_else(|| StoreError::Unavailable("a stored document names no valid connector".into()))
}

pub(super) fn to_doc(r: &ConnectorRecord) -> Document {
    doc! {
        "tenant_id": &r.tenant_id,
        "connector_id": &r.connector_id,
        "connector_type": &r.connector_type,
        "display_name": &r.display_name,
        "status": r.status.as_str(),
        "sync_frequency": r.sync_frequency.as_str(),
        "encrypted_config": &r.encrypted_config,
        "key_id": &r.key_id,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "created_by": &r.created_by,
        "updated_by": &r.updated_by,
        "last_tested_at": opt_i64(r.last_tested_at),
        "last_sync_at": opt_i64(r.last_sync_at),
        "error_code": opt_str(&r.error_code),
        "error_message": opt_str(&r.error_message),
        "version": r.version,
        "token_expires_at": opt_i64(r.token_expires_at),
        "token_refreshed_at": opt_i64(r.token_refreshed_at),
        "hook_token": &r.hook_token,
        "channel_expires_at": opt_i64(r.channel_expires_at),
        "account_key": opt_str(&r.account_key),
    }
}

pub(super) fn from_doc(d: &Document) -> Result<ConnectorRecord, StoreError> {
    let bad =
        |field: &str| StoreError::Unavailable(format!("malformed connector document: {field}"));
    let s = |field: &str| d.get_str(field).map(str::to_owned).map_err(|_| bad(field));
    let i = |field: &str| d.get_i64(field).map_err(|_| bad(field));
    let oi = |field: &str| d.get_i64(field).ok();
    let os = |field: &str| d.get_str(field).ok().map(str::to_owned);
    Ok(ConnectorRecord {
        tenant_id: tenant_of(d)?,
        connector_id: connector_of(d)?,
        connector_type: s("connector_type")?,
        display_name: s("display_name")?,
        status: ConnectorStatus::parse(&s("status")?).ok_or_else(|| bad("status"))?,
        sync_frequency: SyncFrequency::parse(&s("sync_frequency")?)
            .ok_or_else(|| bad("sync_frequency"))?,
        // Absent from listings (projected out).
        encrypted_config: os("encrypted_config").unwrap_or_default(),
        key_id: s("key_id")?,
        created_at: i("created_at")?,
        updated_at: i("updated_at")?,
        created_by: s("created_by")?,
        updated_by: s("updated_by")?,
        last_tested_at: oi("last_tested_at"),
        last_sync_at: oi("last_sync_at"),
        error_code: os("error_code"),
        error_message: os("error_message"),
        version: i("version")?,
        token_expires_at: oi("token_expires_at"),
        token_refreshed_at: oi("token_refreshed_at"),
        hook_token: os("hook_token").unwrap_or_default(),
        channel_expires_at: oi("channel_expires_at"),
        account_key: os("account_key"),
    })
}

pub(super) fn audit_to_doc(e: &AuditRecord) -> Document {
    doc! {
        "tenant_id": &e.tenant_id, "seq": e.seq, "at": e.at, "user_id": &e.user_id, "action": &e.action,
        "connector_id": opt_str(&e.connector_id), "outcome": &e.outcome, "error_code": opt_str(&e.error_code),
        "client": &e.client, "prev_hash": &e.prev_hash, "hash": &e.hash, "detail": opt_str(&e.detail),
    }
}

pub(super) fn audit_from_doc(d: &Document) -> Result<AuditRecord, StoreError> {
    let bad = |field: &str| StoreError::Unavailable(format!("malformed audit document: {field}"));
    let s = |field: &str| d.get_str(field).map(str::to_owned).map_err(|_| bad(field));
    let i = |field: &str| d.get_i64(field).map_err(|_| bad(field));
    Ok(AuditRecord {
        tenant_id: s("tenant_id")?,
        seq: i("seq")?,
        at: i("at")?,
        user_id: s("user_id")?,
        action: s("action")?,
        connector_id: d.get_str("connector_id").ok().map(str::to_owned),
        outcome: s("outcome")?,
        error_code: d.get_str("error_code").ok().map(str::to_owned),
        client: s("client")?,
        prev_hash: s("prev_hash")?,
        hash: s("hash")?,
        detail: d.get_str("detail").ok().map(str::to_owned),
    })
}

pub(super) async fn collect<T>(
    cursor: mongodb::Cursor<Document>,
    convert: fn(&Document) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let docs: Vec<Document> = cursor.try_collect().await.map_err(map_error)?;
    docs.iter().map(convert).collect()
}

pub(super) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
