//! The storage port for data flows: sync runs (at most one active per connector, leased to the
//! process running it), each stream's position, and the records themselves, sealed by the vault.
//! A page of records and the stream's new position are committed in one transaction, so a run
//! killed at any point goes on from its last committed page and stores nothing twice.

use super::{ConnectorRecord, StoreError};
use crate::ids::{ConnectorId, TenantId};
use crate::model::data::{RunStatus, RunTrigger, StreamCounts};
use async_trait::async_trait;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub struct SyncRunRecord {
    pub run_id: String,
    pub tenant_id: TenantId,
    pub connector_id: ConnectorId,
    pub status: RunStatus,
    pub trigger: RunTrigger,
    /// The streams asked for; empty means all of them.
    pub streams: Vec<String>,
    pub full_refresh: bool,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub counts: BTreeMap<String, StreamCounts>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// The process running it, and until when its lease holds.
    pub holder: Option<String>,
    pub lease_until: i64,
}

/// Where a stream stands between and during runs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamState {
    pub stream: String,
    /// The newest change time (unix ms) a finished pass has seen: the next pass asks for changes
    /// since then.
    pub cursor: Option<i64>,
    /// Where a stream read from a change feed goes on (the provider's position, not a time).
    pub feed: Option<String>,
    /// The pass under way (JSON, see `sync::Pass`), if a run stopped in the middle of one.
    pub pass: Option<String>,
    pub record_count: i64,
    pub last_synced_at: Option<i64>,
}

/// A record as written: its provider id, its data sealed by the vault, and a keyed digest of the
/// data (so an unchanged record is told apart without opening the stored one).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordWrite {
    pub record_id: String,
    /// The vault's token as bytes (`Vault::seal_bytes_for`).
    pub sealed: Vec<u8>,
    pub digest: String,
    pub deleted: bool,
}

/// A stored record, in the order of its latest change (`seq`).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    pub record_id: String,
    pub seq: i64,
    pub sealed: Vec<u8>,
    pub changed_at: i64,
    pub deleted: bool,
}

/// One page of a run, committed at once.
#[derive(Debug, Clone)]
pub struct PageCommit {
    pub tenant_id: TenantId,
    pub connector_id: ConnectorId,
    pub run_id: String,
    pub holder: String,
    pub now: i64,
    /// The run's lease is renewed to `now + lease_ms`.
    pub lease_ms: i64,
    pub stream: String,
    /// The pass this page belongs to: records seen in it are marked with it.
    pub pass_id: String,
    pub records: Vec<RecordWrite>,
    /// The pass's state after this page (`None` when this page ended it).
    pub pass: Option<String>,
    /// Set when this page ended the pass.
    pub end: Option<PassEnd>,
    /// The pass lists changes newest first (an event log): a record this pass already wrote is
    /// left as it is.
    pub newest_first: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PassEnd {
    /// The stream's new cursor.
    pub cursor: Option<i64>,
    /// The stream's new change-feed position, for a stream with a feed.
    pub feed: Option<String>,
    /// A full read: records the pass did not see are gone at the provider, so marked deleted.
    pub full_read: bool,
}

/// Queuing a run: done, or refused because one is already queued or running.
#[derive(Debug, Clone, PartialEq)]
pub enum Queued {
    New,
    AlreadyActive(String),
}

#[async_trait]
pub trait SyncStore: Send + Sync {
    /// Queues `run` unless the connector has a queued or running run (answered with its id).
    async fn queue_run(&self, run: &SyncRunRecord) -> Result<Queued, StoreError>;
    /// Takes the oldest queued run, or a running one whose lease lapsed (its process died), for
    /// `holder` until `now + lease_ms`.
    async fn claim_run(
        &self,
        holder: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<SyncRunRecord>, StoreError>;
    /// Extends `holder`'s lease; false when the run is no longer its to run.
    async fn renew_run(
        &self,
        run_id: &str,
        holder: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Ends the run (succeeded or failed) if `holder` still runs it.
    async fn finish_run(
        &self,
        run_id: &str,
        holder: &str,
        status: RunStatus,
        error: Option<(String, String)>,
        now: i64,
    ) -> Result<bool, StoreError>;
    async fn get_run(
        &self,
        tenant: &TenantId,
        connector_id: &ConnectorId,
        run_id: &str,
    ) -> Result<Option<SyncRunRecord>, StoreError>;
    /// Newest first, below `before` (created_at, run_id).
    async fn list_runs(
        &self,
        tenant: &TenantId,
        connector_id: &ConnectorId,
        before: Option<(i64, String)>,
        limit: usize,
    ) -> Result<Vec<SyncRunRecord>, StoreError>;

    /// Forgets finished runs created before `before`, except each connector's latest, which
    /// its data page shows however old; the number forgotten.
    async fn prune_runs(&self, before: i64) -> Result<u64, StoreError>;

    async fn stream_states(
        &self,
        tenant: &TenantId,
        connector_id: &ConnectorId,
    ) -> Result<Vec<StreamState>, StoreError>;
    /// Writes the page's records, the stream's pass state and the run's counts, and renews the
    /// lease, in one transaction; `None` (and nothing written) when `holder` lost the run.
    async fn commit_page(&self, page: &PageCommit) -> Result<Option<StreamCounts>, StoreError>;
    /// Records of a stream whose latest change comes after `after_seq`, in change order.
    async fn list_records(
        &self,
        tenant: &TenantId,
        connector_id: &ConnectorId,
        stream: &str,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<StoredRecord>, StoreError>;
    /// Counts every stored record of a connector, deleted ones included (to check a delete).
    async fn count_records(
        &self,
        tenant: &TenantId,
        connector_id: &ConnectorId,
    ) -> Result<u64, StoreError>;

    /// Background monitor: connectors on a schedule whose next sync is due, across tenants.
    async fn due_for_sync(
        &self,
        now: i64,
        limit: usize,
    ) -> Result<Vec<ConnectorRecord>, StoreError>;
    /// When the connector's next scheduled sync is due.
    async fn schedule_sync(
        &self,
        tenant: &TenantId,
        connector_id: &ConnectorId,
        next_at: i64,
    ) -> Result<(), StoreError>;
}
