//! The webhook sync worker: every process runs one. Provider webhooks received here ask for
//! syncs of the streams they changed; a burst for one connector (within `DEBOUNCE`) becomes one
//! incremental run, and while another run of that connector is queued or running the request
//! waits and asks again, so no change is left unread. A process that dies loses only the wish:
//! the events are recorded, and the next scheduled sync reads what they changed.

use crate::ids::{ConnectorId, TenantId};
use crate::service::{ProviderWebhooks, WantedSync};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How long a connector's events are gathered before its sync is queued.
const DEBOUNCE: Duration = Duration::from_secs(2);
/// How long a wish waits for a run under way before asking again, and for how long at most.
const RETRY: Duration = Duration::from_secs(5);
const GIVE_UP: Duration = Duration::from_secs(3600);

pub(crate) async fn run(webhooks: Arc<ProviderWebhooks>) {
    let Some(mut wanted) = webhooks.take_wanted_syncs() else {
        return;
    };
    // Per connector: the streams asked for, when to queue them, and since when it waits.
    let mut pending: HashMap<(TenantId, ConnectorId), (WantedSync, Instant, Instant)> =
        HashMap::new();
    loop {
        let next = pending.values().map(|(_, due, _)| *due).min();
        tokio::select! {
            message = wanted.recv() => {
                let Some(w) = message else { return };
                let key = (w.tenant.clone(), w.connector_id.clone());
                let now = Instant::now();
                pending
                    .entry(key)
                    .and_modify(|(have, _, _)| have.streams.extend(w.streams.iter().cloned()))
                    .or_insert((w, now + DEBOUNCE, now));
            }
            () = tokio::time::sleep_until(next.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))) => {}
        }
        let now = Instant::now();
        let due: Vec<(TenantId, ConnectorId)> = pending
            .iter()
            .filter(|(_, (_, at, _))| *at <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            let Some((w, _, since)) = pending.remove(&key) else {
                continue;
            };
            match webhooks.queue_webhook_sync(&w).await {
                Ok(true) => {}
                Ok(false) if now.duration_since(since) < GIVE_UP => {
                    pending.insert(key, (w, now + RETRY, since));
                }
                Ok(false) => {
                    tracing::warn!(connector_id = %w.connector_id, "provider webhook sync given up: the connector stayed busy; the next scheduled sync reads the changes");
                }
                Err(e) => {
                    tracing::warn!(connector_id = %w.connector_id, code = %e.code, cause = ?e.cause, "provider webhook sync not queued");
                }
            }
        }
    }
}
