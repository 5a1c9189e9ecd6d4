//! Running a sync: claim a queued run (or one whose process died), read each selected stream
//! page by page, and commit every page with the stream's new position in one transaction. A
//! provider that limits requests is waited out (within bounds); one that fails is retried with
//! backoff; an OAuth token the provider refuses is renewed once. The run's outcome lands on the
//! connector like a test's.

use super::Syncs;
use crate::catalog::{ConnectorDef, StreamDef, StreamsFrom};
use crate::clock::now_ms;
use crate::error::{Error, ErrorCode};
use crate::model::data::RunStatus;
use crate::model::ConnectorStatus;
use crate::outbound::retry::{Answer, Attempts, Next, RetryPolicy};
use crate::outbound::scrub::Scrub;
use crate::secret::{SecretConfig, GRANTED_SCOPES, REFRESH_TOKEN};
use crate::service::credentials::Renewing;
use crate::service::Caller;
use crate::store::{ConnectorRecord, PageCommit, PassEnd, RecordWrite, StreamState, SyncRunRecord};
use crate::sync::engine::{self, Committed, Position, RunIo, Stop};
use crate::sync::pages::Page;
use crate::sync::pass::{start_pass, Increments, Saved};
use crate::sync::{self, Pass};
use std::time::Duration;

/// How syncs run: the lease a run holds (renewed on every page), how many run at once in one
/// process, and how long a provider's rate limit or failures are waited out.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SyncSettings {
    pub(crate) lease: Duration,
    pub(crate) concurrency: usize,
    /// The longest single `Retry-After` waited out; a longer one stops the run (`RATE_LIMITED`),
    /// to go on at the next schedule.
    pub(crate) max_retry_wait: Duration,
    /// The first backoff after a 5xx or a timeout; it doubles for each of the three retries.
    pub(crate) backoff: Duration,
    /// How often an idle worker looks for queued runs (a sync asked for here wakes it at once).
    pub(crate) poll: Duration,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(30),
            concurrency: 4,
            max_retry_wait: Duration::from_secs(60),
            backoff: Duration::from_secs(1),
            poll: Duration::from_secs(2),
        }
    }
}

/// Waits for one page (after a 5xx, a timeout or a rate limit) before the run fails.
const PAGE_RETRIES: u32 = 3;

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl From<crate::store::StoreError> for Stop {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Failed(e.into())
    }
}

pub(super) struct Running<'a> {
    pub(crate) run: &'a SyncRunRecord,
    pub(crate) holder: &'a str,
    pub(crate) record: ConnectorRecord,
    pub(crate) def: &'static ConnectorDef,
    pub(crate) caller: Caller,
    pub(crate) config: SecretConfig,
    pub(crate) scrub: Scrub,
}

/// What a run skipped, as one error naming each refused stream's needed permission.
fn skipped_streams(refused: &[Error]) -> Option<Error> {
    let first = refused.first()?;
    let message = refused
        .iter()
        .map(|e| e.message.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    Some(Error::new(
        first.code,
        format!("Skipped what the connection may not read. {message}"),
    ))
}

impl Syncs {
    /// Takes the next run waiting to be worked on, if any.
    pub(crate) async fn claim_sync(&self, holder: &str) -> Option<SyncRunRecord> {
        match self
            .store
            .claim_run(holder, now_ms(), ms(self.sync.lease))
            .await
        {
            Ok(run) => run,
            Err(e) => {
                tracing::warn!(error = %e, "sync worker: could not look for queued runs");
                None
            }
        }
    }

    /// Runs a claimed run to its end. The outcome is put on the connector before the run is
    /// marked finished, so whoever sees the run finished also sees the connector's new last sync.
    pub(crate) async fn execute_sync(&self, run: SyncRunRecord, holder: &str) {
        let outcome = self.run_streams(&run, holder).await;
        let mut skipped = None;
        let failure = match outcome {
            Ok(refused) => {
                skipped = skipped_streams(&refused);
                None
            }
            Err(Stop::LostLease) => {
                tracing::warn!(run_id = %run.run_id, "sync run taken over by another process");
                return;
            }
            Err(Stop::Failed(e)) => {
                if let Some(cause) = &e.cause {
                    tracing::error!(run_id = %run.run_id, code = %e.code, %cause, "sync run failed");
                }
                Some(e)
            }
        };
        let status = if failure.is_some() {
            RunStatus::Failed
        } else {
            RunStatus::Succeeded
        };
        let now = now_ms();
        match self
            .store
            .renew_run(&run.run_id, holder, now, ms(self.sync.lease))
            .await
        {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::error!(run_id = %run.run_id, error = %e, "sync run could not be finished");
                return;
            }
        }
        if let Err(e) = self.record_sync(&run, failure.as_ref(), now).await {
            tracing::warn!(run_id = %run.run_id, code = %e.code, cause = ?e.cause, "sync outcome not recorded on the connector");
        }
        // A run that read what it may and skipped what the provider refused still succeeded,
        // and says what it skipped.
        let error = failure
            .as_ref()
            .or(skipped.as_ref())
            .map(|e| (e.code.as_str().to_owned(), e.message.clone()));
        match self
            .store
            .finish_run(&run.run_id, holder, status, error, now)
            .await
        {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::error!(run_id = %run.run_id, error = %e, "sync run could not be finished");
                return;
            }
        }
        tracing::info!(tenant = %run.tenant_id, connector_id = %run.connector_id, run_id = %run.run_id,
            status = status.as_str(), code = ?failure.as_ref().map(|e| e.code), "sync run finished");
        self.metrics.sync_run(status.as_str());
    }

    /// Reads the run's streams; returns the refusals of streams the provider would not let the
    /// connection read (a permission the sign-in did not get), which are skipped while another
    /// stream could be read.
    async fn run_streams(&self, run: &SyncRunRecord, holder: &str) -> Result<Vec<Error>, Stop> {
        let Some(record) = self.store.get(&run.tenant_id, &run.connector_id).await? else {
            return Err(Stop::Failed(Error::new(
                ErrorCode::NotFound,
                "This connector was deleted.",
            )));
        };
        let def = self.catalog.definition(&record.connector_type)?;
        let caller = Caller::system(run.tenant_id.clone(), "sync");
        let config = self.credentials.fresh(&caller, &record, false).await?;
        let scrub = Scrub::new(def, &config)?;
        let mut running = Running {
            run,
            holder,
            record,
            def,
            caller,
            config,
            scrub,
        };
        let states = self
            .store
            .stream_states(&run.tenant_id, &run.connector_id)
            .await?;
        if def.streams_from == StreamsFrom::Discovery {
            return self
                .run_tables(&mut running, &states)
                .await
                .map(|()| Vec::new());
        }
        let streams = sync::http_streams(def, &running.config);
        for name in &run.streams {
            if !streams.iter().any(|s| &s.name == name) {
                return Err(Stop::Failed(sync::unknown_stream(
                    name,
                    streams.iter().map(|s| s.name.as_str()),
                )));
            }
        }
        let chosen: Vec<&StreamDef> = streams
            .iter()
            .filter(|s| run.streams.is_empty() || run.streams.contains(&s.name))
            .collect();
        let mut refused = Vec::new();
        let granted = running.config.get(GRANTED_SCOPES).map(str::to_owned);
        for stream in &chosen {
            // What the sign-in was not granted is not asked for.
            let missing = granted
                .as_deref()
                .map(|g| def.ungranted_scopes(stream, g))
                .unwrap_or_default();
            if !missing.is_empty() {
                refused.push(sync::missing_permission(&def.name, stream, &missing));
                continue;
            }
            let state = states.iter().find(|s| s.stream == stream.name);
            match self.sync_stream(&mut running, stream, state).await {
                Err(Stop::Failed(e)) if e.field.as_deref() == Some(sync::PERMISSION_FIELD) => {
                    refused.push(e)
                }
                other => other?,
            }
        }
        // Nothing could be read: that is the run's failure, not a skip.
        if !refused.is_empty() && refused.len() == chosen.len() {
            return Err(Stop::Failed(refused.swap_remove(0)));
        }
        Ok(refused)
    }

    async fn sync_stream(
        &self,
        running: &mut Running<'_>,
        stream: &StreamDef,
        state: Option<&StreamState>,
    ) -> Result<(), Stop> {
        let increments = Increments::of(stream.incremental.as_ref());
        let pass = start_pass(
            &running.run.run_id,
            running.run.full_refresh,
            &stream.name,
            saved(state),
            increments,
        );
        let provider = running.def.name.clone();
        let mut io = RunPages {
            syncs: self,
            running,
        };
        engine::run_stream(&mut io, stream, pass, &provider).await
    }

    /// Commits a page with where its pass stands, renewing the run's lease.
    pub(super) async fn commit(
        &self,
        running: &Running<'_>,
        stream: &str,
        page: Committed<RecordWrite>,
    ) -> Result<(), Stop> {
        let (pass, end) = match page.position {
            Position::Going(pass) => (Some(pass), None),
            Position::Ended {
                cursor,
                feed,
                full_read,
            } => (
                None,
                Some(PassEnd {
                    cursor,
                    feed,
                    full_read,
                }),
            ),
        };
        let commit = PageCommit {
            tenant_id: running.run.tenant_id.clone(),
            connector_id: running.run.connector_id.clone(),
            run_id: running.run.run_id.clone(),
            holder: running.holder.to_owned(),
            now: now_ms(),
            lease_ms: ms(self.sync.lease),
            stream: stream.to_owned(),
            pass_id: page.pass_id,
            records: page.records,
            pass,
            end,
            newest_first: page.newest_first,
        };
        self.store
            .commit_page(&commit)
            .await?
            .ok_or(Stop::LostLease)?;
        self.metrics.records_synced(commit.records.len() as u64);
        Ok(())
    }

    /// One page, retried as the one retry policy says: a refused token renewed once, a rate
    /// limit or an outage waited out while the run's lease is held.
    async fn read_page(
        &self,
        running: &mut Running<'_>,
        stream: &StreamDef,
        pass: &Pass,
    ) -> Result<Page, Stop> {
        let mut attempts = Attempts::new(RetryPolicy {
            retries: PAGE_RETRIES,
            backoff: self.sync.backoff,
            max_wait: self.sync.max_retry_wait,
        });
        loop {
            let error = match self
                .read_stream(running.def, &running.config, stream, &pass.next, pass.since)
                .await
            {
                Ok(page) => return Ok(page),
                Err(e) => e,
            };
            let answer = Answer::of_error(&error);
            let renewable = running.config.get(REFRESH_TOKEN).is_some();
            match attempts.after(answer, renewable) {
                Next::Renew => {
                    let renewed = self
                        .credentials
                        .renew_refused(
                            &running.caller,
                            &running.record,
                            &running.config,
                            Renewing::OnEachRefusal,
                        )
                        .await?;
                    let Some((latest, config)) = renewed else {
                        return Err(Stop::Failed(error));
                    };
                    running.config = config;
                    // Pages read from now on may echo the renewed token: take it out too.
                    running.scrub = Scrub::new(running.def, &running.config)?;
                    running.record = latest;
                }
                Next::Wait(wait) => {
                    tracing::info!(run_id = %running.run.run_id, stream = %stream.name, code = %error.code,
                        wait_ms = wait.as_millis() as u64, "sync: provider asked to wait; retrying");
                    self.wait_holding_lease(running, wait).await?;
                }
                Next::Return if answer == Answer::Refused && attempts.renewed() => {
                    // Refused again with a token renewed a moment ago: only the person can fix it.
                    return Err(Stop::Failed(Error::new(
                        ErrorCode::AuthorizationRequired,
                        format!("{} refused the renewed access token. Reconnect to authorise Connector Hub again.", running.def.name),
                    )));
                }
                Next::Return => return Err(Stop::Failed(error)),
            }
        }
    }

    /// Sleeps, renewing the run's lease so no other process takes it over meanwhile.
    pub(super) async fn wait_holding_lease(
        &self,
        running: &Running<'_>,
        wait: Duration,
    ) -> Result<(), Stop> {
        let step = self.sync.lease / 3;
        let mut left = wait;
        while !left.is_zero() {
            let nap = left.min(step.max(Duration::from_millis(10)));
            tokio::time::sleep(nap).await;
            left = left.saturating_sub(nap);
            if !self
                .store
                .renew_run(
                    &running.run.run_id,
                    running.holder,
                    now_ms(),
                    ms(self.sync.lease),
                )
                .await?
            {
                return Err(Stop::LostLease);
            }
        }
        Ok(())
    }

    /// A record sealed to its place (tenant, connector, stream, id), with a keyed digest of its
    /// content to tell a change from a repeat.
    pub(super) fn seal_record(
        &self,
        running: &Running<'_>,
        stream: &str,
        record_id: String,
        data: &serde_json::Value,
        deleted: bool,
    ) -> RecordWrite {
        let text = serde_json::to_string(data).unwrap_or_default();
        RecordWrite {
            deleted,
            ..self.seal_text(running, stream, record_id, &text)
        }
    }

    /// A record given as JSON text (PostgreSQL builds it), sealed as `seal_record` does, with
    /// the connector's secrets taken out first.
    pub(super) fn seal_text(
        &self,
        running: &Running<'_>,
        stream: &str,
        record_id: String,
        text: &str,
    ) -> RecordWrite {
        let connector = &running.record;
        let text = running.scrub.clean(text);
        let text = text.as_ref();
        let record_id = running.scrub.clean(&record_id).into_owned();
        let owner = record_owner(
            connector.tenant_id.as_str(),
            &connector.connector_id,
            stream,
            &record_id,
        );
        let sealed = self.vault.seal_bytes_for(&owner, text.as_bytes());
        RecordWrite {
            // 128 bits of the keyed digest tell a change from a repeat; the rest would only grow
            // every row.
            digest: self.audit_key.short_mac(&["record", text]),
            record_id,
            sealed,
            deleted: false,
        }
    }

    /// Puts a run's outcome on the connector: its last sync time, and its status as a test's
    /// outcome would.
    async fn record_sync(
        &self,
        run: &SyncRunRecord,
        failure: Option<&Error>,
        now: i64,
    ) -> Result<(), Error> {
        // The run's event is the same whichever attempt below writes it.
        let finished = self.outbox.sync_event(run, failure, now).await;
        for _attempt in 0..5 {
            let Some(current) = self.store.get(&run.tenant_id, &run.connector_id).await? else {
                return Ok(());
            };
            let mut next = current.clone();
            match failure {
                None => {
                    next.last_sync_at = Some(now);
                    next.status = ConnectorStatus::Active;
                    next.error_code = None;
                    next.error_message = None;
                }
                Some(e) => {
                    next.status = if e.code == ErrorCode::AuthorizationRequired {
                        ConnectorStatus::AuthorizationRequired
                    } else {
                        ConnectorStatus::Error
                    };
                    next.error_code = Some(e.code.as_str().to_owned());
                    next.error_message = Some(format!("The last sync failed: {}", e.message));
                }
            }
            next.version += 1;
            let mut events = self.outbox.status_events(&current, &next);
            events.push(finished.clone());
            if self
                .store
                .update(&run.tenant_id, &next, current.version, None, &events)
                .await?
            {
                self.outbox.queued();
                return Ok(());
            }
        }
        Err(Error::from_code(ErrorCode::Conflict))
    }
}

/// The owner line a sealed record opens with: a record copied to another place does not open.
pub(super) fn record_owner(
    tenant: &str,
    connector_id: &crate::ids::ConnectorId,
    stream: &str,
    record_id: &str,
) -> String {
    format!("{tenant}/{connector_id}/{stream}/{record_id}")
}

/// What a sync run gives the engine: pages read from the provider under the retry policy,
/// records sealed for their place, and pages committed to the store under the run's lease.
pub(super) struct RunPages<'s, 'r> {
    pub(crate) syncs: &'s Syncs,
    pub(crate) running: &'s mut Running<'r>,
}

impl RunIo for RunPages<'_, '_> {
    type Record = RecordWrite;

    async fn read(&mut self, stream: &StreamDef, pass: &Pass) -> Result<Page, Stop> {
        self.syncs.read_page(self.running, stream, pass).await
    }

    fn seal(
        &self,
        stream: &str,
        id: String,
        data: &serde_json::Value,
        deleted: bool,
    ) -> RecordWrite {
        self.syncs
            .seal_record(self.running, stream, id, data, deleted)
    }

    fn seal_text(&self, stream: &str, id: String, text: &str) -> RecordWrite {
        self.syncs.seal_text(self.running, stream, id, text)
    }

    async fn commit(&self, stream: &str, page: Committed<RecordWrite>) -> Result<(), Stop> {
        self.syncs.commit(self.running, stream, page).await
    }
}

/// What a stream kept from its last passes, as the engine reads it.
pub(super) fn saved(state: Option<&StreamState>) -> Saved<'_> {
    Saved {
        pass: state.and_then(|s| s.pass.as_deref()),
        cursor: state.and_then(|s| s.cursor),
        feed: state.and_then(|s| s.feed.as_deref()),
    }
}
