//! The health monitor: re-tests connectors on a schedule derived from their sync frequency, and
//! OAuth2 sign-ins before their refresh tokens die of disuse, with jitter and bounded concurrency.
//! Only the process holding the store lease runs it; the lease is renewed on every tick and taken
//! over by another process once it lapses. `connector_hub_monitor_leader` says who holds it.

use super::config::MonitorSettings;
use crate::catalog::catalog;
use crate::service::{now_ms, ConnectorService};
use futures_util::StreamExt;
use rand::Rng;
use std::sync::Arc;
use std::time::Duration;

pub const LEASE: &str = "health-monitor";
const BATCH: usize = 100;
const DAY_MS: i64 = 86_400_000;

pub async fn run(service: Arc<ConnectorService>, settings: MonitorSettings, holder: String) {
    let interval_ms = i64::try_from(settings.interval.as_millis()).unwrap_or(i64::MAX / 4);
    // A short first wait, so a fresh process (or a replica taking over) gets going quickly.
    let mut wait = settings.interval / 10;
    loop {
        tokio::time::sleep(wait).await;
        let jitter = rand::rng().random_range(0.9..1.1);
        wait = settings.interval.mul_f64(jitter);
        let lease = service
            .store()
            .lease(LEASE, &holder, now_ms(), interval_ms.saturating_mul(3))
            .await;
        service.metrics().monitor_leader(matches!(lease, Ok(true)));
        match lease {
            Ok(true) => tick(&service, settings.concurrency).await,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "health monitor: cannot take the lease"),
        }
    }
}

async fn tick(service: &Arc<ConnectorService>, concurrency: usize) {
    let mut due = match service.store().due_for_test(now_ms(), BATCH).await {
        Ok(due) => due,
        Err(e) => {
            tracing::warn!(error = %e, "health monitor: cannot list due connectors");
            return;
        }
    };
    // Sign-ins halfway to their provider's idle limit are tested too, whatever their schedule:
    // the test renews the tokens, which keeps the refresh token alive.
    for def in catalog().entries() {
        let Some(days) = def.oauth.as_ref().and_then(|o| o.refresh_idle_days) else {
            continue;
        };
        let before = now_ms() - i64::from(days) * DAY_MS / 2;
        match service.store().idle_sign_ins(&def.id, before, BATCH).await {
            Ok(idle) => {
                for record in idle {
                    if !due.iter().any(|d| {
                        d.connector_id == record.connector_id && d.tenant_id == record.tenant_id
                    }) {
                        due.push(record);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "health monitor: cannot list idle sign-ins"),
        }
    }
    if due.is_empty() {
        return;
    }
    tracing::info!(count = due.len(), "health monitor: re-testing connectors");
    futures_util::stream::iter(due)
        .for_each_concurrent(concurrency, |record| async move {
            if let Err(e) = service.monitor_test(&record).await {
                tracing::warn!(connector_id = %record.connector_id, code = %e.code, "health monitor: test could not run");
            }
            // Spread the load a little, even at full concurrency.
            let pause = Duration::from_millis(rand::rng().random_range(0..50));
            tokio::time::sleep(pause).await;
        })
        .await;
}
