//! The background work every process does beside serving requests, each worker driving the one
//! service it needs: runs syncs (`syncs`), delivers events (`deliveries`), turns provider
//! webhooks into debounced syncs (`webhook_syncs`), and — in the one process holding the
//! monitor's lease — re-tests connectors, queues scheduled syncs and renews push channels
//! (`monitor`). Beside them: the store's watch that wakes these workers when another process
//! queues work, and the per-minute summaries of refused anonymous requests.
//!
//! A worker cut off by [`Workers::stop`] loses nothing: a run goes on from its last committed
//! page and a delivery is claimed again once its lease lapses, here or in another process.

mod deliveries;
mod monitor;
mod syncs;
mod webhook_syncs;

use crate::config::MonitorSettings;
use crate::service::Hub;
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// How often the summaries of refused anonymous requests are looked at (each is written once its
/// minute has ended).
const REFUSALS_EVERY: Duration = Duration::from_secs(30);

/// The workers of one process, running until stopped.
pub(crate) struct Workers {
    hub: Arc<Hub>,
    tasks: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Starts every worker; `holder` names this process in the store's leases.
    pub(crate) fn start(
        hub: Arc<Hub>,
        store: Arc<dyn Store>,
        monitor: MonitorSettings,
        holder: &str,
    ) -> Self {
        let mut tasks = vec![
            tokio::spawn(syncs::run(hub.syncs.clone(), holder.to_owned())),
            tokio::spawn(deliveries::run(hub.events.clone(), holder.to_owned())),
            tokio::spawn(webhook_syncs::run(hub.provider_webhooks.clone())),
        ];
        if monitor.enabled {
            tasks.push(tokio::spawn(monitor::run(
                hub.clone(),
                monitor,
                holder.to_owned(),
            )));
        }
        // Other processes' queued work wakes this one's workers where the store can tell.
        let wake = hub.wake.clone();
        tasks.push(tokio::spawn(async move {
            store.watch_queued_work(&wake).await;
        }));
        let gate = hub.gate.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(REFUSALS_EVERY);
            loop {
                tick.tick().await;
                gate.flush_refusals(false).await;
            }
        }));
        // Connectors saved before webhooks were routed by account get their lookup value once.
        let webhooks = hub.provider_webhooks.clone();
        tokio::spawn(async move {
            match webhooks.fill_account_keys().await {
                Ok(0) => {}
                Ok(filled) => tracing::info!(filled, "webhook account lookups filled in"),
                Err(e) => {
                    tracing::warn!(code = %e.code, cause = ?e.cause, "webhook account lookups not filled in")
                }
            }
        });
        Self { hub, tasks }
    }

    /// Stops every worker, then writes what they left to write: the refusal summaries of the
    /// minute under way, and the store's buffered work.
    pub(crate) async fn stop(self) {
        for task in &self.tasks {
            task.abort();
        }
        self.hub.gate.flush_refusals(true).await;
        self.hub.maintenance.flush_store().await;
    }
}
