//! Events to tenants, as the service queues them: each built here with its body sealed by the
//! vault, and handed to the store with the change it reports, so that it is queued in the same
//! transaction — none is lost, and none is sent for a change that did not happen.

use super::Views;
use crate::clock::{now_ms, rfc3339};
use crate::ids::TenantId;
use crate::model::webhooks::EventType;
use crate::model::ConnectorStatus;
use crate::store::{ConnectorRecord, OutboxEvent, Store, WorkWakes};
use crate::vault::Vault;
use serde_json::{json, Value};
use std::sync::Arc;

/// The owner line a sealed event body opens with: a body copied to another tenant does not open.
fn event_owner(tenant: &str, event_id: &str) -> String {
    format!("{tenant}/event/{event_id}")
}

pub(crate) struct Outbox {
    store: Arc<dyn Store>,
    vault: Arc<Vault>,
    views: Arc<Views>,
    wake: WorkWakes,
}

impl Outbox {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        vault: Arc<Vault>,
        views: Arc<Views>,
        wake: WorkWakes,
    ) -> Self {
        Self {
            store,
            vault,
            views,
            wake,
        }
    }

    /// After a change was committed with its events: this process's delivery worker looks at
    /// once (another process's when the store tells it, or at its next poll).
    pub(crate) fn queued(&self) {
        self.wake.deliveries.notify_one();
    }

    /// An event with `data`, as Standard Webhooks consumers expect its body:
    /// `{"type", "timestamp", "data"}`.
    pub(crate) fn event(&self, tenant: &TenantId, kind: EventType, data: Value) -> OutboxEvent {
        let event_id = format!("msg_{}", crate::random::random_hex(16));
        let at = now_ms();
        let body = json!({"type": kind.as_str(), "timestamp": rfc3339(at), "data": data});
        let sealed = self.vault.seal_for(
            &event_owner(tenant.as_str(), &event_id),
            body.to_string().as_bytes(),
        );
        OutboxEvent {
            event_id,
            event_type: kind.as_str().to_owned(),
            at,
            sealed,
        }
    }

    /// An event about a connector, carrying its view (never its configuration).
    pub(crate) fn connector_event(&self, kind: EventType, record: &ConnectorRecord) -> OutboxEvent {
        let view = serde_json::to_value(self.views.view(record)).unwrap_or(Value::Null);
        self.event(&record.tenant_id, kind, json!({"connector": view}))
    }

    /// What a connector's new state says that its old one did not: it needs signing in again.
    pub(crate) fn status_events(
        &self,
        before: &ConnectorRecord,
        after: &ConnectorRecord,
    ) -> Vec<OutboxEvent> {
        let newly = |status| after.status == status && before.status != status;
        let mut events = Vec::new();
        if newly(ConnectorStatus::AuthorizationRequired) {
            events.push(self.connector_event(EventType::ConnectorAuthorizationRequired, after));
        }
        events
    }

    /// `sync.succeeded` or `sync.failed`, with the run as `GET …/syncs/{run_id}` shows it.
    pub(crate) async fn sync_event(
        &self,
        run: &crate::store::SyncRunRecord,
        failure: Option<&crate::error::Error>,
        now: i64,
    ) -> OutboxEvent {
        // The counts as the run's pages left them (the claimed record predates them).
        let mut latest = self
            .store
            .get_run(&run.tenant_id, &run.connector_id, &run.run_id)
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| run.clone());
        latest.finished_at = Some(now);
        latest.status = if failure.is_some() {
            crate::model::data::RunStatus::Failed
        } else {
            crate::model::data::RunStatus::Succeeded
        };
        latest.error_code = failure.map(|e| e.code.as_str().to_owned());
        latest.error_message = failure.map(|e| e.message.clone());
        let kind = if failure.is_some() {
            EventType::SyncFailed
        } else {
            EventType::SyncSucceeded
        };
        let view = serde_json::to_value(super::run_view(latest)).unwrap_or(Value::Null);
        self.event(
            &run.tenant_id,
            kind,
            json!({"connector_id": run.connector_id, "run": view}),
        )
    }

    /// A sealed event body, opened: `None` when it does not open as this tenant's event.
    pub(crate) fn open(&self, tenant: &TenantId, event: &OutboxEvent) -> Option<Vec<u8>> {
        self.vault.open_for(
            &event_owner(tenant.as_str(), &event.event_id),
            &event.sealed,
        )
    }
}
