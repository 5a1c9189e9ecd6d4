//! Provider webhooks coming in: the connector found by its address token, the request verified
//! with the connector's signing secret (or the operator's, for app-wide schemes) — no secret
//! means every request is refused —, each event accepted once and forwarded to the tenant as
//! `provider.event` (in the same transaction), and the streams it changed handed to the webhook
//! sync worker, which turns a burst of events into one incremental sync.

use super::ConnectorService;
use crate::auth::TenantId;
use crate::clock::now_ms;
use crate::error::{Error, ErrorCode};
use crate::model::webhooks::EventType;
use crate::scrub::Scrub;
use crate::webhooks::inbound::{self, Incoming};
use serde_json::json;
use std::collections::BTreeSet;

/// A request to `/webhooks/{token}`, as it arrived.
pub struct WebhookRequest {
    pub token: String,
    pub method: String,
    pub headers: http::HeaderMap,
    pub body: bytes::Bytes,
}

/// Streams a provider said changed: the webhook sync worker queues one run for a burst.
#[derive(Debug, Clone, PartialEq)]
pub struct WantedSync {
    pub tenant: TenantId,
    pub connector_id: String,
    pub streams: BTreeSet<String>,
}

/// What a verified request carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub new: usize,
    pub repeated: usize,
}

impl ConnectorService {
    pub async fn receive_webhook(&self, request: WebhookRequest) -> Result<Received, Error> {
        let not_found = || Error::new(ErrorCode::NotFound, "There is no webhook address here.");
        let record = self
            .store
            .find_by_hook(&request.token)
            .await?
            .ok_or_else(not_found)?;
        let def = self.definition(&record.connector_type)?;
        let hooks = def.webhooks.as_ref().ok_or_else(not_found)?;
        let config = self.decrypt_for_check(&record)?;
        let secret = match &hooks.secret_field {
            Some(field) => config.get(field).map(str::to_owned),
            None => self
                .webhook_secrets
                .get(&def.id)
                .map(|s| s.expose().to_owned()),
        };
        let refuse = |message: &str| {
            self.metrics.webhook(&def.id, "refused");
            tracing::info!(connector_id = %record.connector_id, connector_type = %def.id, reason = message, "provider webhook refused");
            Error::new(ErrorCode::InvalidSignature, message)
        };
        let Some(secret) = secret.filter(|s| !s.is_empty()) else {
            return Err(refuse(
                "No signing secret is set for this connector's webhooks, so every request is refused.",
            ));
        };
        let url = self.webhook_url(&record);
        let incoming = Incoming {
            method: &request.method,
            url: &url,
            headers: &request.headers,
            body: &request.body,
            now_ms: now_ms(),
        };
        inbound::verify(hooks.scheme, secret.as_bytes(), &incoming)
            .map_err(|r| refuse(r.message()))?;
        let events = inbound::events(hooks.scheme, &incoming)
            .map_err(|r| Error::new(ErrorCode::InvalidRequest, r.message()))?;
        let scrub = Scrub::new(def, &config)?;
        let mut streams = BTreeSet::new();
        let mut received = Received {
            new: 0,
            repeated: 0,
        };
        for event in events {
            let stream = hooks.stream_of(&event.kind);
            let forward = self.outbox_event(
                &record.tenant_id,
                EventType::ProviderEvent,
                scrub.clean_value(json!({
                    "connector_id": record.connector_id,
                    "connector_type": def.id,
                    "event": {"id": event.id, "type": event.kind},
                    "stream": stream,
                    "payload": event.payload,
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
            self.deliveries_wake.notify_one();
        }
        if !streams.is_empty() {
            let _ = self.wanted_syncs.send(WantedSync {
                tenant: record.tenant_id.clone(),
                connector_id: record.connector_id.clone(),
                streams,
            });
        }
        self.metrics.webhook(&def.id, "accepted");
        tracing::info!(connector_id = %record.connector_id, connector_type = %def.id,
            new = received.new, repeated = received.repeated, "provider webhook accepted");
        Ok(received)
    }

    /// Queues the sync a burst of provider events asked for; `false` while another run of the
    /// connector is queued or running (ask again after it).
    pub async fn queue_webhook_sync(&self, wanted: &WantedSync) -> Result<bool, Error> {
        let Some(record) = self.store.get(&wanted.tenant, &wanted.connector_id).await? else {
            return Ok(true); // deleted meanwhile: nothing to sync
        };
        let request = super::SyncRequest {
            streams: wanted.streams.iter().cloned().collect(),
            full_refresh: false,
        };
        match self
            .queue_sync(&record, crate::model::data::RunTrigger::Webhook, request)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.code == ErrorCode::SyncInProgress => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The absolute address a connector's provider sends its webhooks to.
    pub fn webhook_url(&self, record: &crate::store::ConnectorRecord) -> String {
        format!(
            "{}/webhooks/{}",
            self.public_url.trim_end_matches('/'),
            record.hook_token
        )
    }

    /// The provider syncs webhooks asked for, for the worker that queues them (taken once).
    pub fn take_wanted_syncs(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<WantedSync>> {
        self.wanted_syncs_rx
            .lock()
            .ok()
            .and_then(|mut rx| rx.take())
    }
}
