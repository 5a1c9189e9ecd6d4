//! Provider webhooks coming in at a connector's own address: the connector found by its address
//! token, the request verified with the connector's signing secret — no secret means every
//! request is refused —, each event naming an account other than the connector's dropped, the
//! rest accepted once and forwarded to the tenant as `provider.event` (in the same transaction),
//! and the streams they changed handed to the webhook sync worker, which turns a burst of events
//! into one incremental sync. Providers that post one app's webhooks for every account to one
//! address are in `app`; push channels the hub registers itself in `channels`.

mod app;
mod channels;

use super::{Connectors, Credentials, Gate, Outbox, Parts, Syncs, Views};
use crate::catalog::{Catalog, ConnectorDef, WebhooksDef};
use crate::clock::now_ms;
use crate::error::{Error, ErrorCode};
use crate::ids::{ConnectorId, TenantId};
use crate::metrics::Metrics;
use crate::model::webhooks::EventType;
use crate::outbound::scrub::Scrub;
use crate::outbound::Outbound;
use crate::secret::SecretConfig;
use crate::secret::SecretString;
use crate::store::{account_key, ConnectorRecord};
use crate::store::{Store, WorkWakes};
use crate::vault::AuditKey;
use crate::webhooks::inbound::{self, Incoming, ProviderEvent};
use serde_json::json;
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// A request to a webhook address, as it arrived.
pub(crate) struct WebhookRequest {
    pub(crate) method: String,
    pub(crate) headers: http::HeaderMap,
    pub(crate) body: bytes::Bytes,
}

/// Streams a provider said changed: the webhook sync worker queues one run for a burst.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WantedSync {
    pub(crate) tenant: TenantId,
    pub(crate) connector_id: ConnectorId,
    pub(crate) streams: BTreeSet<String>,
}

/// What a verified request carried: events accepted for the first time, seen before, and
/// dropped because they name an account no connector here holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Received {
    pub(crate) new: usize,
    pub(crate) repeated: usize,
    pub(crate) dropped: usize,
}

impl Received {
    pub(super) fn add(&mut self, other: Received) {
        self.new += other.new;
        self.repeated += other.repeated;
        self.dropped += other.dropped;
    }
}

pub(super) fn not_found() -> Error {
    Error::new(ErrorCode::NotFound, "There is no webhook address here.")
}

pub(crate) struct ProviderWebhooks {
    store: Arc<dyn Store>,
    audit_key: AuditKey,
    catalog: &'static Catalog,
    gate: Arc<Gate>,
    credentials: Arc<Credentials>,
    outbox: Arc<Outbox>,
    views: Arc<Views>,
    /// The provider client push channels are registered through.
    outbound: Arc<Outbound>,
    metrics: Metrics,
    /// A registered channel is saved as a change of the connector's settings.
    connectors: Arc<Connectors>,
    /// Where a burst of events' sync is queued.
    syncs: Arc<Syncs>,
    /// Signing secrets of providers' webhooks that are the operator's, by connector type.
    webhook_secrets: BTreeMap<String, SecretString>,
    wake: WorkWakes,
    /// Syncs provider webhooks ask for, to the worker that debounces them.
    wanted_syncs: mpsc::UnboundedSender<WantedSync>,
    wanted_syncs_rx: Mutex<Option<mpsc::UnboundedReceiver<WantedSync>>>,
}

impl ProviderWebhooks {
    pub(super) fn new(
        parts: &Parts,
        connectors: Arc<Connectors>,
        syncs: Arc<Syncs>,
        webhook_secrets: BTreeMap<String, SecretString>,
    ) -> Self {
        let (wanted_syncs, wanted_syncs_rx) = mpsc::unbounded_channel();
        Self {
            store: parts.store.clone(),
            audit_key: parts.vault.audit_key(),
            catalog: crate::catalog::catalog(),
            gate: parts.gate.clone(),
            credentials: parts.credentials.clone(),
            outbox: parts.outbox.clone(),
            views: parts.views.clone(),
            outbound: parts.outbound.clone(),
            metrics: parts.metrics.clone(),
            connectors,
            syncs,
            webhook_secrets,
            wake: parts.wake.clone(),
            wanted_syncs,
            wanted_syncs_rx: Mutex::new(Some(wanted_syncs_rx)),
        }
    }

    /// A request to `/webhooks/{token}`.
    pub(crate) async fn receive_webhook(
        &self,
        token: &str,
        request: WebhookRequest,
    ) -> Result<Received, Error> {
        let record = self
            .store
            .find_by_hook(token)
            .await?
            .ok_or_else(not_found)?;
        let def = self.catalog.definition(&record.connector_type)?;
        let hooks = def.webhooks.as_ref().ok_or_else(not_found)?;
        let url = self.views.connector_webhook_url(&record);
        if hooks.per_app {
            // An app-wide provider posting to an address given out before routing by account:
            // routed the same way, so this connector's token earns it no other account's events.
            return self.receive_for_app(def, &url, &request).await;
        }
        let config = self.credentials.open_for_use(&record)?;
        let secret = match &hooks.secret_field {
            Some(field) => config.get(field).map(str::to_owned),
            None => self
                .webhook_secrets
                .get(&def.id)
                .map(|s| s.expose().to_owned()),
        };
        let incoming = Incoming {
            method: &request.method,
            url: &url,
            headers: &request.headers,
            body: &request.body,
            now_ms: now_ms(),
        };
        let events = self.verified_events(def, hooks, secret, &incoming)?;
        let known = hooks
            .account_field
            .as_deref()
            .and_then(|f| config.get(f))
            .and_then(|a| account_key(&def.id, a));
        // An event naming an account is this connector's only when the connector knows its
        // account and it is that one; one naming another account is dropped, answered 200 so
        // the provider does not send it again and again.
        let (mine, others): (Vec<_>, Vec<_>) = events.into_iter().partition(|e| {
            match (
                &known,
                e.account.as_deref().and_then(|a| account_key(&def.id, a)),
            ) {
                (Some(known), Some(named)) => *known == named,
                _ => true,
            }
        });
        if !others.is_empty() {
            self.metrics.webhook(&def.id, "dropped");
            tracing::info!(connector_id = %record.connector_id, connector_type = %def.id,
                dropped = others.len(), "provider events for another account dropped");
        }
        let mut received = self
            .accept_events(def, hooks, &record, &config, &mine)
            .await?;
        received.dropped += others.len();
        self.metrics.webhook(&def.id, "accepted");
        tracing::info!(connector_id = %record.connector_id, connector_type = %def.id,
            new = received.new, repeated = received.repeated, "provider webhook accepted");
        Ok(received)
    }

    /// Checks the request with `secret` and reads its events; no secret refuses everything.
    pub(super) fn verified_events(
        &self,
        def: &ConnectorDef,
        hooks: &WebhooksDef,
        secret: Option<String>,
        incoming: &Incoming<'_>,
    ) -> Result<Vec<ProviderEvent>, Error> {
        // Counted, and summarised per address into the audit log (`api::provider_webhooks`):
        // a flood of forged posts writes no log line each.
        let refuse = |message: &str| {
            self.metrics.webhook(&def.id, "refused");
            Error::new(ErrorCode::InvalidSignature, message)
        };
        let Some(secret) = secret.filter(|s| !s.is_empty()) else {
            return Err(refuse(
                "No signing secret is set for these webhooks, so every request is refused.",
            ));
        };
        inbound::verify(hooks.scheme, secret.as_bytes(), incoming)
            .map_err(|r| refuse(r.message()))?;
        inbound::events(hooks.scheme, incoming)
            .map_err(|r| Error::new(ErrorCode::InvalidRequest, r.message()))
    }

    /// Accepts `events` for one connector: each recorded once and forwarded to its tenant, and
    /// the streams they changed handed to the sync worker.
    pub(super) async fn accept_events(
        &self,
        def: &ConnectorDef,
        hooks: &WebhooksDef,
        record: &ConnectorRecord,
        config: &SecretConfig,
        events: &[ProviderEvent],
    ) -> Result<Received, Error> {
        let scrub = Scrub::new(def, config)?;
        let mut streams = BTreeSet::new();
        let mut received = Received::default();
        for event in events {
            let stream = hooks.stream_of(&event.kind);
            // Forwarded only where the signature vouches whose it is.
            let payload = if hooks.scheme.signs_the_account() {
                event.payload.clone()
            } else {
                serde_json::Value::Null
            };
            let forward = self.outbox.event(
                &record.tenant_id,
                EventType::ProviderEvent,
                scrub.clean_value(json!({
                    "connector_id": record.connector_id,
                    "connector_type": def.id,
                    "event": {"id": event.id, "type": event.kind},
                    "stream": stream,
                    "payload": payload,
                })),
            );
            let new = self
                .store
                .record_provider_event(
                    &record.tenant_id,
                    &record.connector_id,
                    &event.id,
                    &event.kind,
                    now_ms(),
                    &forward,
                )
                .await?;
            if new {
                received.new += 1;
                streams.extend(stream.map(str::to_owned));
            } else {
                received.repeated += 1;
            }
        }
        if received.new > 0 {
            self.wake.deliveries.notify_one();
        }
        if !streams.is_empty() {
            let _ = self.wanted_syncs.send(WantedSync {
                tenant: record.tenant_id.clone(),
                connector_id: record.connector_id.clone(),
                streams,
            });
        }
        Ok(received)
    }

    /// Queues the sync a burst of provider events asked for; `false` while another run of the
    /// connector is queued or running (ask again after it).
    pub(crate) async fn queue_webhook_sync(&self, wanted: &WantedSync) -> Result<bool, Error> {
        let Some(record) = self.store.get(&wanted.tenant, &wanted.connector_id).await? else {
            return Ok(true); // deleted meanwhile: nothing to sync
        };
        let request = crate::service::SyncRequest {
            streams: wanted.streams.iter().cloned().collect(),
            full_refresh: false,
        };
        match self
            .syncs
            .queue_sync(&record, crate::model::data::RunTrigger::Webhook, request)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.code == ErrorCode::SyncInProgress => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The provider syncs webhooks asked for, for the worker that queues them (taken once).
    pub(crate) fn take_wanted_syncs(&self) -> Option<mpsc::UnboundedReceiver<WantedSync>> {
        self.wanted_syncs_rx
            .lock()
            .ok()
            .and_then(|mut rx| rx.take())
    }
}
