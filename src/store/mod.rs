//! The storage port. Every method that touches a tenant's data takes the tenant: there is no way
//! to ask for a connector without saying whose it is.

pub mod agent_auth;
mod audit_chain;
pub mod events;
mod metered;
mod mongo;
pub mod sealed;
mod sqlite;
pub mod sync;
mod verify;

pub use agent_auth::{
    AgentAuthStore, AgentClientRecord, AgentGrantRecord, AgentTokenKind, AgentTokenRecord,
};
pub use audit_chain::{
    audit_count_hash, chain_audit, keyed_audit_hash, legacy_audit_hash, AUDIT_GENESIS,
};
pub use events::{
    AttemptOutcome, AttemptRecord, ClaimShare, DeliveryJob, DeliveryRecord, DeliveryStatus,
    EndpointRecord, EventStore, OutboxEvent,
};
pub use metered::MeteredStore;
pub use mongo::MongoStore;
pub use sealed::{Reseal, SealedKind, SealedStore, SealedValue};
pub use sqlite::SqliteStore;
pub use sync::{
    PageCommit, PassEnd, Queued, RecordWrite, StoredRecord, StreamState, SyncRunRecord, SyncStore,
};
pub use verify::{verify_audit, AuditVerified};

use crate::ids::{ConnectorId, TenantId};
use crate::model::{AuditAction, AuditOutcome, ConnectorStatus, SyncFrequency};
use crate::vault::AuditKey;
use async_trait::async_trait;

/// A connector as stored: metadata plus the Fernet token of its configuration. Its tenant and
/// connector ids are stored as their text and parsed again when read: a row whose id is not one
/// is corrupt, and its read fails with `StoreError::Unavailable` rather than hand it on.
#[derive(Clone, PartialEq)]
pub struct ConnectorRecord {
    pub tenant_id: TenantId,
    pub connector_id: ConnectorId,
    pub connector_type: String,
    pub display_name: String,
    pub status: ConnectorStatus,
    pub sync_frequency: SyncFrequency,
    pub encrypted_config: String,
    /// Id of the vault key that wrote `encrypted_config`.
    pub key_id: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub created_by: String,
    pub updated_by: String,
    pub last_tested_at: Option<i64>,
    pub last_sync_at: Option<i64>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// Bumped on every write; updates are compare-and-swap on it.
    pub version: i64,
    /// When the stored OAuth2 access token expires (not secret; decides when to refresh).
    pub token_expires_at: Option<i64>,
    /// When the refresh token was last issued or used (providers revoke unused ones).
    pub token_refreshed_at: Option<i64>,
    /// The random token naming this connector in its provider-webhook address
    /// (`/webhooks/{hook_token}`): unguessable, never a verifier (signatures are checked too).
    pub hook_token: String,
    /// When the push channel the hub opened for this connector (Drive's `changes.watch`) lapses,
    /// as the provider granted it; the monitor opens the next one before then.
    pub channel_expires_at: Option<i64>,
    /// SHA-256 of `{connector_type}:{account}` for the account the provider's webhooks name (see
    /// `account_key`), so an app-wide webhook finds its connectors without decrypting any
    /// configuration; `None` while the connector does not know its account.
    pub account_key: Option<String>,
}

/// The lookup value of a connector of `connector_type` holding `account`: a digest, so the
/// store never holds the account in the clear beside the sealed configuration. Accounts are
/// compared without regard to case or surrounding space (a shop domain may arrive capitalised).
pub fn account_key(connector_type: &str, account: &str) -> Option<String> {
    use sha2::{Digest, Sha256};
    let account = account.trim().to_lowercase();
    if account.is_empty() {
        return None;
    }
    let digest = Sha256::digest(format!("{connector_type}:{account}").as_bytes());
    Some(hex::encode(digest))
}

impl std::fmt::Debug for ConnectorRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorRecord")
            .field("tenant_id", &self.tenant_id)
            .field("connector_id", &self.connector_id)
            .field("connector_type", &self.connector_type)
            .field("status", &self.status)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// Keyset pagination: newest first, by (created_at, connector_id).
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub status: Option<ConnectorStatus>,
    pub limit: usize,
    pub before: Option<(i64, ConnectorId)>,
}

/// A setup-wizard draft: answers so far, sealed by the vault, tied to one user and expiring.
#[derive(Clone)]
pub struct DraftRecord {
    pub tenant_id: TenantId,
    pub user_id: String,
    pub draft_id: String,
    pub sealed: String,
    pub expires_at: i64,
}

/// A pending OAuth2 authorization: found by the hash of its `state`, single-use, expiring.
#[derive(Clone)]
pub struct OAuthStateRecord {
    pub state_hash: String,
    pub tenant_id: TenantId,
    pub user_id: String,
    pub connector_type: String,
    pub draft_id: String,
    /// The PKCE verifier and the shop, sealed by the vault.
    pub sealed: String,
    pub expires_at: i64,
}

/// One audit log entry.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct AuditRecord {
    pub seq: i64,
    pub tenant_id: String,
    pub at: i64,
    pub user_id: String,
    pub action: String,
    /// The connector the entry is about; kept, as written into the chain, after the connector
    /// is deleted.
    pub connector_id: Option<String>,
    pub outcome: String,
    pub error_code: Option<String>,
    pub client: String,
    /// What else there is to say (e.g. how many refusals a summary stands for).
    #[serde(default)]
    pub detail: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// An audit entry to append in the same transaction as the change it records, with the key its
/// link in the chain is computed with.
pub struct AuditWrite<'a> {
    pub entry: AuditRecord,
    pub key: &'a AuditKey,
}

/// The recorded end of the audit log: each tenant's last entry, and the number of entries of all
/// tenants together under a keyed hash. Verification compares the chains with it, so cutting off
/// a chain's tail, or a whole chain, is noticed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditHeads {
    /// (tenant, last seq, last hash).
    pub tenants: Vec<(String, i64, String)>,
    /// The keyed count of all entries, once any entry was written with a key, as (shard, number
    /// of entries, keyed hash of them): one shard `*`, or several whose numbers add up.
    pub counts: Vec<(String, i64, String)>,
}

/// The workers' wake-ups, which a store that can watch for new work (MongoDB's change streams)
/// pulls when another process queues some.
#[derive(Clone, Default)]
pub struct WorkWakes {
    pub syncs: std::sync::Arc<tokio::sync::Notify>,
    pub deliveries: std::sync::Arc<tokio::sync::Notify>,
}

/// Wizard drafts kept per user; starting one more drops the least recently touched.
pub const MAX_DRAFTS_PER_USER: i64 = 20;

/// Most rows one audit query looks at: a filter that matches nothing costs this much at most,
/// and the caller gets a cursor to look further.
pub const AUDIT_SCAN_LIMIT: i64 = 5_000;

/// The lowest seq an audit query below `before` looks at.
pub fn audit_scan_floor(before: i64) -> i64 {
    before.saturating_sub(AUDIT_SCAN_LIMIT)
}

/// Where the next audit page starts: after the last entry of a full page, else below the scanned
/// range (`None` once it reached the start of the chain).
pub fn audit_next_before(rows: &[AuditRecord], limit: usize, floor: i64) -> Option<i64> {
    if rows.len() == limit {
        rows.last().map(|e| e.seq)
    } else {
        (floor > 1).then_some(floor)
    }
}

#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub connector_id: Option<ConnectorId>,
    pub action: Option<AuditAction>,
    pub outcome: Option<AuditOutcome>,
    pub before_seq: Option<i64>,
    pub limit: usize,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("the disk is full")]
    Full,
    #[error("the data directory is read-only")]
    ReadOnly,
    #[error("a record with this id already exists")]
    Duplicate,
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Store:
    SyncStore + EventStore + SealedStore + AgentAuthStore + Send + Sync + 'static
{
    fn name(&self) -> &'static str;
    async fn ping(&self) -> Result<(), StoreError>;
    /// On graceful shutdown: make everything written durable in its final place.
    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Inserts `record`, appends `audit` and queues `events`, in one transaction.
    async fn insert(
        &self,
        tenant: &TenantId,
        record: &ConnectorRecord,
        audit: &AuditWrite<'_>,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError>;
    async fn get(
        &self,
        tenant: &TenantId,
        connector_id: &ConnectorId,
    ) -> Result<Option<ConnectorRecord>, StoreError>;
    /// A page of the tenant's connectors, metadata only: `encrypted_config` is left empty
    /// (a listing never needs it, and it is most of a row's bytes).
    async fn list(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
    ) -> Result<Vec<ConnectorRecord>, StoreError>;
    /// Writes `record` if the stored version is still `expected_version`, and then appends
    /// `audit` and queues `events`, in one transaction; false (and nothing written) when the
    /// version moved on.
    async fn update(
        &self,
        tenant: &TenantId,
        record: &ConnectorRecord,
        expected_version: i64,
        audit: Option<&AuditWrite<'_>>,
        events: &[OutboxEvent],
    ) -> Result<bool, StoreError>;
    /// Deletes the connector, appends `audit` and queues `events`, in one transaction; false
    /// (and no entry, no event) when there was nothing to delete.
    async fn delete(
        &self,
        tenant: &TenantId,
        connector_id: &ConnectorId,
        audit: &AuditWrite<'_>,
        events: &[OutboxEvent],
    ) -> Result<bool, StoreError>;

    async fn put_draft(&self, tenant: &TenantId, draft: &DraftRecord) -> Result<(), StoreError>;
    async fn get_draft(
        &self,
        tenant: &TenantId,
        user: &str,
        draft_id: &str,
        now: i64,
    ) -> Result<Option<DraftRecord>, StoreError>;
    async fn delete_draft(
        &self,
        tenant: &TenantId,
        user: &str,
        draft_id: &str,
    ) -> Result<(), StoreError>;

    async fn put_oauth_state(&self, state: &OAuthStateRecord) -> Result<(), StoreError>;
    /// Removes and returns the state with this hash, expired or not (the caller tells an expired
    /// state from an unknown one); a second call finds nothing.
    async fn take_oauth_state(
        &self,
        state_hash: &str,
    ) -> Result<Option<OAuthStateRecord>, StoreError>;

    /// Appends to the tenant's hash chain: the store fills `seq`, `prev_hash` and `hash`
    /// atomically with the chain's head (see `chain_audit`).
    async fn append_audit(&self, audit: &AuditWrite<'_>) -> Result<AuditRecord, StoreError>;
    /// Newest first, matching `query`, among at most `AUDIT_SCAN_LIMIT` entries below
    /// `before_seq`. Returns the entries and the lowest seq looked at (where to go on from),
    /// or `None` when the scan reached the start of the chain.
    async fn list_audit(
        &self,
        tenant: &TenantId,
        query: &AuditQuery,
    ) -> Result<(Vec<AuditRecord>, Option<i64>), StoreError>;
    /// Operator maintenance: the recorded end of every chain.
    async fn audit_heads(&self) -> Result<AuditHeads, StoreError>;

    /// Adds `hits` to `key`'s count in the fixed window starting at `window_start`; returns the
    /// window's total, these included. Counters are shared by every server process on the store.
    async fn hit(&self, key: &str, window_start: i64, hits: u64) -> Result<u64, StoreError>;

    /// A number that changes whenever anyone (this process or another) commits a change to the
    /// connectors, so results read under one marker may be reused while it stays the same. Must
    /// not block; `None` when it cannot be told cheaply right now, or ever.
    fn change_marker(&self) -> Option<u64> {
        None
    }
    /// Wakes `wake`'s workers whenever any process (this one included) queues a sync run or a
    /// delivery, for as long as the future runs. A store that cannot watch (SQLite) returns at
    /// once, and the workers find other processes' work by polling.
    async fn watch_queued_work(&self, wake: &WorkWakes) {
        let _ = wake;
    }
    /// Takes or renews the lease `name` for `holder` until `now + ttl_ms`; false while another
    /// holder's lease is still running.
    async fn lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        ttl_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Gives up a lease early, if `holder` still has it.
    async fn release_lease(&self, name: &str, holder: &str, now: i64) -> Result<(), StoreError> {
        self.lease(name, holder, now, -1).await.map(|_| ())
    }
    /// Background monitor: connectors across tenants whose scheduled re-test is due, oldest first.
    async fn due_for_test(
        &self,
        now: i64,
        limit: usize,
    ) -> Result<Vec<ConnectorRecord>, StoreError>;

    /// Background monitor: `connector_type` sign-ins whose refresh token was last used before
    /// `refreshed_before` and not refused since, oldest first (providers revoke unused ones).
    async fn idle_sign_ins(
        &self,
        connector_type: &str,
        refreshed_before: i64,
        limit: usize,
    ) -> Result<Vec<ConnectorRecord>, StoreError>;

    /// Background monitor: connectors whose push channel lapses before `before`, soonest first
    /// (whatever their status: a channel is renewed while it can be).
    async fn channels_expiring(
        &self,
        before: i64,
        limit: usize,
    ) -> Result<Vec<ConnectorRecord>, StoreError>;

    /// Operator maintenance (key rotation, audit verification): every connector across tenants,
    /// in (tenant, id) order after `after`.
    async fn scan_all(
        &self,
        after: Option<(TenantId, ConnectorId)>,
        limit: usize,
    ) -> Result<Vec<ConnectorRecord>, StoreError>;
    /// Operator maintenance: one tenant's whole audit chain in order, or every tenant's.
    async fn audit_chain(
        &self,
        after: Option<(String, i64)>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError>;
}

/// How often a connector is re-tested by the monitor, by its sync frequency.
pub fn retest_interval_ms(frequency: SyncFrequency) -> Option<i64> {
    match frequency {
        SyncFrequency::Manual => None,
        SyncFrequency::Hourly => Some(3_600_000),
        SyncFrequency::Daily => Some(86_400_000),
        SyncFrequency::Weekly => Some(7 * 86_400_000),
    }
}

#[cfg(test)]
pub mod contract;
#[cfg(test)]
mod contract_agent_auth;
#[cfg(test)]
mod contract_corrupt;
#[cfg(test)]
mod contract_events;
#[cfg(test)]
mod contract_sealed;
#[cfg(test)]
mod contract_sync;
