//! The health monitor: re-tests connectors on a schedule derived from their sync frequency, and
//! OAuth2 sign-ins before their refresh tokens die of disuse, with jitter and bounded concurrency;
//! queues each connector's scheduled syncs (which every process's sync worker then runs); and
//! replaces the provider push channels the hub opened before they lapse.
//! Only the process holding the store lease runs it; the lease is renewed on every tick and taken
//! over by another process once it lapses. `connector_hub_monitor_leader` says who holds it.

use crate::config::MonitorSettings;
use crate::service::Hub;
use futures_util::StreamExt;
use rand::Rng;
use std::sync::Arc;
use std::time::Duration;

const BATCH: usize = 100;

pub(crate) async fn run(hub: Arc<Hub>, settings: MonitorSettings, holder: String) {
    let interval_ms = i64::try_from(settings.interval.as_millis()).unwrap_or(i64::MAX / 4);
    // A short first wait, so a fresh process (or a replica taking over) gets going quickly.
    let mut wait = settings.interval / 10;
    loop {
        tokio::time::sleep(wait).await;
        let jitter = rand::rng().random_range(0.9..1.1);
        wait = settings.interval.mul_f64(jitter);
        if hub
            .maintenance
            .hold_monitor_lease(&holder, interval_ms.saturating_mul(3))
            .await
        {
            tick(&hub, settings.concurrency).await;
        }
    }
}

async fn tick(hub: &Arc<Hub>, concurrency: usize) {
    hub.events.prune_history().await;
    let queued = hub.syncs.queue_scheduled_syncs(BATCH).await;
    if queued > 0 {
        tracing::info!(count = queued, "health monitor: queued scheduled syncs");
    }
    let renewed = hub.provider_webhooks.renew_webhook_channels(BATCH).await;
    if renewed > 0 {
        tracing::info!(count = renewed, "health monitor: renewed push channels");
    }
    let due = hub.maintenance.due_for_test(BATCH).await;
    if due.is_empty() {
        return;
    }
    tracing::info!(count = due.len(), "health monitor: re-testing connectors");
    futures_util::stream::iter(due)
        .for_each_concurrent(concurrency, |record| async move {
            if let Err(e) = hub.connectors.monitor_test(&record).await {
                tracing::warn!(connector_id = %record.connector_id, code = %e.code, cause = ?e.cause, "health monitor: test could not run");
            }
            // Spread the load a little, even at full concurrency.
            let pause = Duration::from_millis(rand::rng().random_range(0..50));
            tokio::time::sleep(pause).await;
        })
        .await;
}
