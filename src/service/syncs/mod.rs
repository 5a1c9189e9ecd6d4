//! A connector's data: previews of a stream's first page (`preview`), asking for syncs and
//! reading what they stored — queue a run (one at a time per connector), the run history, each
//! stream's state, and the records in the order of their latest change — running them (`run`,
//! HTTP streams; `tables`, PostgreSQL tables; `pass`, where each stream's pass starts), and the
//! data page and its settings (`data_view`, `data_settings`).

mod data_settings;
mod data_view;
mod preview;
mod run;
mod tables;

pub(crate) use run::SyncSettings;

use super::{Caller, ConnectorEdits, Credentials, Gate, Outbox, Parts, RateClass, Views};
use crate::catalog::Catalog;
use crate::catalog::StreamsFrom;
use crate::clock::{now_ms, rfc3339};
use crate::error::{Error, ErrorCode};
use crate::ids::ConnectorId;
use crate::metrics::Metrics;
use crate::model::data::{
    RecordPage, RecordView, RunStatus, RunTrigger, StreamList, StreamView, SyncQueued, SyncRunList,
    SyncRunView,
};
use crate::model::{AuditAction, AuditOutcome};
use crate::outbound::Outbound;
use crate::secret::SecretConfig;
use crate::store::{ConnectorRecord, Queued, SyncRunRecord};
use crate::store::{Store, WorkWakes};
use crate::sync;
use crate::vault::{AuditKey, Vault};
use run::record_owner;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Records per page when the caller does not say, and at most.
pub(crate) const DEFAULT_RECORDS: usize = 100;
pub(crate) const MAX_RECORDS: usize = 1000;
/// Runs the history shows.
pub(super) const RUN_HISTORY: usize = 50;

/// What a sync request asks for.
#[derive(Debug, Clone, Default)]
pub(crate) struct SyncRequest {
    pub(crate) streams: Vec<String>,
    pub(crate) full_refresh: bool,
}

pub(crate) struct Syncs {
    store: Arc<dyn Store>,
    /// Seals synced records to their tenant, connector and stream.
    vault: Arc<Vault>,
    /// Keys the digests that tell a record's versions apart without opening them.
    audit_key: AuditKey,
    catalog: &'static Catalog,
    gate: Arc<Gate>,
    credentials: Arc<Credentials>,
    outbox: Arc<Outbox>,
    views: Arc<Views>,
    edits: Arc<ConnectorEdits>,
    outbound: Arc<Outbound>,
    metrics: Metrics,
    sync: SyncSettings,
    /// Pulled when this process queues a run, so its sync worker looks at once.
    wake: WorkWakes,
}

impl Syncs {
    pub(super) fn new(parts: &Parts, settings: SyncSettings) -> Self {
        Self {
            store: parts.store.clone(),
            vault: parts.vault.clone(),
            audit_key: parts.vault.audit_key(),
            catalog: crate::catalog::catalog(),
            gate: parts.gate.clone(),
            credentials: parts.credentials.clone(),
            outbox: parts.outbox.clone(),
            views: parts.views.clone(),
            edits: parts.edits.clone(),
            outbound: parts.outbound.clone(),
            metrics: parts.metrics.clone(),
            sync: settings,
            wake: parts.wake.clone(),
        }
    }

    /// Queues a sync of the connector: 409 `SYNC_IN_PROGRESS` (with the run's id) while one is
    /// queued or running.
    pub(crate) async fn request_sync(
        &self,
        caller: &Caller,
        id: &ConnectorId,
        request: SyncRequest,
    ) -> Result<SyncQueued, Error> {
        self.gate.limit(caller, RateClass::Writes).await?;
        let record = self.gate.connector(caller, id, AuditAction::Sync).await?;
        self.check_streams(&record, &request.streams)?;
        self.gate
            .audit(caller, AuditAction::Sync, Some(id), AuditOutcome::Ok, None)
            .await?;
        self.queue_sync(&record, RunTrigger::Manual, request).await
    }

    /// Queues a run; the local worker is woken at once.
    pub(super) async fn queue_sync(
        &self,
        record: &ConnectorRecord,
        trigger: RunTrigger,
        request: SyncRequest,
    ) -> Result<SyncQueued, Error> {
        let run = SyncRunRecord {
            run_id: format!("run_{}", crate::random::random_hex(12)),
            tenant_id: record.tenant_id.clone(),
            connector_id: record.connector_id.clone(),
            status: RunStatus::Queued,
            trigger,
            streams: request.streams,
            full_refresh: request.full_refresh,
            created_at: now_ms(),
            started_at: None,
            finished_at: None,
            counts: BTreeMap::new(),
            error_code: None,
            error_message: None,
            holder: None,
            lease_until: 0,
        };
        match self.store.queue_run(&run).await? {
            Queued::New => {
                self.wake.syncs.notify_one();
                Ok(SyncQueued {
                    run_id: run.run_id,
                    status: RunStatus::Queued,
                })
            }
            Queued::AlreadyActive(run_id) => Err(Error {
                hint: Some(format!(
                    "Follow run {run_id} at /v1/connectors/{}/syncs/{run_id}.",
                    record.connector_id
                )),
                run_id: Some(run_id.as_str().into()),
                ..Error::new(
                    ErrorCode::SyncInProgress,
                    format!("A sync of this connector is already under way (run {run_id})."),
                )
            }),
        }
    }

    /// Stream names a request may use: the catalog's (or the REST API's one); PostgreSQL's are
    /// its tables, checked when the run reads them.
    fn check_streams(&self, record: &ConnectorRecord, names: &[String]) -> Result<(), Error> {
        let def = self.catalog.definition(&record.connector_type)?;
        if has_nothing_to_sync(def) {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                format!(
                    "{} has no data to sync: its tools are offered to your AI agents at /mcp.",
                    def.name
                ),
            ));
        }
        let Some(known) = sync::known_streams(def) else {
            return Ok(()); // PostgreSQL: checked against discovery when the run starts.
        };
        match names.iter().find(|n| !known.contains(&n.as_str())) {
            Some(name) => Err(sync::unknown_stream(name, known.into_iter())),
            None => Ok(()),
        }
    }

    /// A stream the connector offers or has synced: a misspelt name is an error, not an empty
    /// page a consumer would take for "no data".
    pub(super) async fn check_stream_name(
        &self,
        record: &ConnectorRecord,
        stream: &str,
    ) -> Result<(), Error> {
        let def = self.catalog.definition(&record.connector_type)?;
        let known = sync::known_streams(def).unwrap_or_default();
        if known.contains(&stream) {
            return Ok(());
        }
        let stored = self
            .store
            .stream_states(&record.tenant_id, &record.connector_id)
            .await?;
        if stored.iter().any(|s| s.stream == stream) {
            return Ok(());
        }
        let names: Vec<&str> = known
            .iter()
            .copied()
            .chain(stored.iter().map(|s| s.stream.as_str()))
            .collect();
        Err(sync::unknown_stream(stream, names.into_iter()))
    }

    pub(crate) async fn sync_runs(
        &self,
        caller: &Caller,
        id: &ConnectorId,
    ) -> Result<SyncRunList, Error> {
        self.gate.limit(caller, RateClass::Reads).await?;
        let record = self.gate.connector(caller, id, AuditAction::Read).await?;
        let runs = self
            .store
            .list_runs(caller.tenant(), &record.connector_id, None, RUN_HISTORY)
            .await?;
        Ok(SyncRunList {
            runs: runs.into_iter().map(run_view).collect(),
        })
    }

    pub(crate) async fn sync_run(
        &self,
        caller: &Caller,
        id: &ConnectorId,
        run_id: &str,
    ) -> Result<SyncRunView, Error> {
        self.gate.limit(caller, RateClass::Reads).await?;
        let record = self.gate.connector(caller, id, AuditAction::Read).await?;
        let run = self
            .store
            .get_run(caller.tenant(), &record.connector_id, run_id)
            .await?
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::NotFound,
                    "There is no such sync run for this connector.",
                )
            })?;
        Ok(run_view(run))
    }

    /// The connector's streams: what it offers, with what has been stored of each.
    pub(crate) async fn streams(
        &self,
        caller: &Caller,
        id: &ConnectorId,
    ) -> Result<StreamList, Error> {
        self.gate.limit(caller, RateClass::Reads).await?;
        let record = self.gate.connector(caller, id, AuditAction::Read).await?;
        self.gate
            .audit(caller, AuditAction::Read, Some(id), AuditOutcome::Ok, None)
            .await?;
        Ok(StreamList {
            streams: self
                .stream_views(&record, &self.credentials.open_for_use(&record)?)
                .await?,
        })
    }

    /// The connector's streams with what has been stored of each.
    pub(super) async fn stream_views(
        &self,
        record: &ConnectorRecord,
        config: &SecretConfig,
    ) -> Result<Vec<StreamView>, Error> {
        let def = self.catalog.definition(&record.connector_type)?;
        let states = self
            .store
            .stream_states(&record.tenant_id, &record.connector_id)
            .await?;
        // What the connector offers and how each is read, from its settings; streams synced
        // before (a table since unchosen) are listed after them.
        let view = |name: String, cursor_field: Option<String>| StreamView {
            name,
            record_count: 0,
            last_synced_at: None,
            cursor_field,
        };
        let mut streams: Vec<StreamView> = if def.streams_from == StreamsFrom::Discovery {
            sync::postgres::selections(config)
                .into_iter()
                .map(|s| view(s.stream, s.cursor))
                .collect()
        } else {
            sync::http_streams(def, config)
                .into_iter()
                .map(|s| {
                    let cursor = s.incremental.as_ref().and(s.updated.clone());
                    view(s.name, cursor)
                })
                .collect()
        };
        for state in states {
            if !streams.iter().any(|s| s.name == state.stream) {
                streams.push(view(state.stream.clone(), None));
            }
            let Some(listed) = streams.iter_mut().find(|s| s.name == state.stream) else {
                continue;
            };
            listed.record_count = state.record_count;
            listed.last_synced_at = state.last_synced_at.map(rfc3339);
        }
        Ok(streams)
    }

    /// A page of a stream's records in the order the hub stored their latest change; `cursor`
    /// is the `next_cursor` of the page before (none: from the start).
    pub(crate) async fn records(
        &self,
        caller: &Caller,
        id: &ConnectorId,
        stream: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<RecordPage, Error> {
        self.gate.limit(caller, RateClass::Reads).await?;
        let after = match cursor {
            None => 0,
            Some(text) => parse_cursor(text)?,
        };
        let record = self
            .gate
            .connector(caller, id, AuditAction::ReadRecords)
            .await?;
        self.check_stream_name(&record, stream).await?;
        let limit = limit.clamp(1, MAX_RECORDS);
        self.gate
            .audit(
                caller,
                AuditAction::ReadRecords,
                Some(id),
                AuditOutcome::Ok,
                None,
            )
            .await?;
        self.record_page(&record, stream, limit, after).await
    }

    /// Up to `limit` records of `stream` changed after `after`, opened.
    pub(super) async fn record_page(
        &self,
        record: &ConnectorRecord,
        stream: &str,
        limit: usize,
        after: i64,
    ) -> Result<RecordPage, Error> {
        let mut rows = self
            .store
            .list_records(
                &record.tenant_id,
                &record.connector_id,
                stream,
                after,
                limit + 1,
            )
            .await?;
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        let next = rows.last().map_or(after, |r| r.seq);
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            let owner = record_owner(
                record.tenant_id.as_str(),
                &record.connector_id,
                stream,
                &row.record_id,
            );
            let data = self
                .vault
                .open_bytes_for(&owner, &row.sealed)
                .and_then(|json| serde_json::from_slice(&json).ok())
                .ok_or_else(|| Error::from_code(ErrorCode::DecryptionFailed))?;
            records.push(RecordView {
                id: row.record_id,
                data,
                updated_at: rfc3339(row.changed_at),
                deleted: row.deleted,
            });
        }
        Ok(RecordPage {
            records,
            next_cursor: format_cursor(next),
            has_more,
        })
    }
}

fn format_cursor(seq: i64) -> String {
    format!("c{seq}")
}

pub(super) fn parse_cursor(text: &str) -> Result<i64, Error> {
    text.strip_prefix('c')
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n >= 0)
        .ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidRequest,
                "This cursor is not one the records API gave out: pass next_cursor from a previous page, or leave it out to start from the beginning.",
            )
            .with_field("cursor")
        })
}

pub(crate) fn run_view(r: SyncRunRecord) -> SyncRunView {
    SyncRunView {
        run_id: r.run_id,
        status: r.status,
        trigger: r.trigger,
        queued_at: rfc3339(r.created_at),
        started_at: r.started_at.map(rfc3339),
        finished_at: r.finished_at.map(rfc3339),
        full_refresh: r.full_refresh,
        streams: r.counts,
        error_code: r.error_code,
        error_message: r.error_message,
    }
}

impl Syncs {
    /// The health monitor's part: queues a run for every connector whose scheduled sync is due,
    /// and sets its next one an interval (plus up to a tenth of it, at random) later, so
    /// connectors created together do not stay in step. Returns how many it queued.
    pub(crate) async fn queue_scheduled_syncs(&self, limit: usize) -> usize {
        let now = now_ms();
        let due = match self.store.due_for_sync(now, limit).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "scheduled syncs: could not list the due connectors");
                return 0;
            }
        };
        let mut queued = 0;
        for record in due {
            let Some(interval) = crate::store::retest_interval_ms(record.sync_frequency) else {
                continue;
            };
            // Nothing to read (a tenant's MCP server): scheduled never again.
            let nothing = self
                .catalog
                .definition(&record.connector_type)
                .is_ok_and(has_nothing_to_sync);
            if nothing {
                let _ = self
                    .store
                    .schedule_sync(&record.tenant_id, &record.connector_id, i64::MAX)
                    .await;
                continue;
            }
            let jitter = rand::Rng::random_range(&mut rand::rng(), 0..=interval / 10);
            if let Err(e) = self
                .store
                .schedule_sync(
                    &record.tenant_id,
                    &record.connector_id,
                    now + interval + jitter,
                )
                .await
            {
                tracing::warn!(connector_id = %record.connector_id, error = %e, "scheduled syncs: could not set the next one");
                continue;
            }
            match self
                .queue_sync(&record, RunTrigger::Schedule, SyncRequest::default())
                .await
            {
                Ok(_) => queued += 1,
                Err(e) if e.code == ErrorCode::SyncInProgress => {}
                Err(e) => {
                    tracing::warn!(connector_id = %record.connector_id, code = %e.code, cause = ?e.cause, "scheduled syncs: could not queue")
                }
            }
        }
        queued
    }

    /// Wakes when a sync is queued by this process, or by another where the store can tell (the
    /// worker also polls).
    pub(crate) fn sync_queued(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.wake.syncs.clone()
    }

    pub(crate) fn sync_settings(&self) -> super::SyncSettings {
        self.sync
    }
}

/// A connector with no streams at all (a tenant's MCP server offers tools, not records).
fn has_nothing_to_sync(def: &crate::catalog::ConnectorDef) -> bool {
    sync::known_streams(def).is_some_and(|known| known.is_empty())
}
