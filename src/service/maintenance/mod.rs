//! The operator's maintenance: what the health monitor and the server's start-up and shutdown
//! ask of the store, and key rotation (`key_rotation`).

mod key_rotation;

use super::{Credentials, Gate, Parts};
use crate::catalog::Catalog;
use crate::clock::now_ms;
use crate::metrics::Metrics;
use crate::store::{ConnectorRecord, Store};
use crate::vault::Vault;
use std::sync::Arc;

/// The health monitor's lease in the store: whoever holds it runs the monitor.
const MONITOR_LEASE: &str = "health-monitor";
const DAY_MS: i64 = 86_400_000;

pub struct Maintenance {
    store: Arc<dyn Store>,
    vault: Arc<Vault>,
    catalog: &'static Catalog,
    gate: Arc<Gate>,
    credentials: Arc<Credentials>,
    metrics: Metrics,
}

impl Maintenance {
    pub(super) fn new(parts: &Parts) -> Self {
        Self {
            store: parts.store.clone(),
            vault: parts.vault.clone(),
            catalog: crate::catalog::catalog(),
            gate: parts.gate.clone(),
            credentials: parts.credentials.clone(),
            metrics: parts.metrics.clone(),
        }
    }

    /// Which store this is (`sqlite`, `mongodb`), for logs and `/readyz`.
    pub fn store_name(&self) -> &'static str {
        self.store.name()
    }

    /// Whether the store answers.
    pub(crate) async fn store_reachable(&self) -> bool {
        self.store.ping().await.is_ok()
    }

    /// Writes the audit entries waiting beside their calls, then everything the store buffers,
    /// to disk (at shutdown).
    pub(crate) async fn flush_store(&self) {
        self.gate.flush_beside().await;
        if let Err(e) = self.store.flush().await {
            tracing::warn!(error = %e, "could not checkpoint the store");
        }
    }

    /// The id of the key new ciphertexts are made with.
    pub(crate) fn encrypting_key_id(&self) -> &str {
        self.vault.encrypting_key_id()
    }

    /// Takes or renews the health monitor's lease for `holder`, for `for_ms`; whether it holds it
    /// now (also shown as `connector_hub_monitor_leader`).
    pub(crate) async fn hold_monitor_lease(&self, holder: &str, for_ms: i64) -> bool {
        let lease = self
            .store
            .lease(MONITOR_LEASE, holder, now_ms(), for_ms)
            .await;
        if let Err(e) = &lease {
            tracing::warn!(error = %e, "health monitor: cannot take the lease");
        }
        let held = matches!(lease, Ok(true));
        self.metrics.monitor_leader(held);
        held
    }

    /// The connectors the health monitor should test now: those due by their schedule, and
    /// sign-ins halfway to their provider's idle limit whatever their schedule (the test renews
    /// the tokens, which keeps the refresh token alive). At most `batch` of each kind.
    pub(crate) async fn due_for_test(&self, batch: usize) -> Vec<ConnectorRecord> {
        let mut due = match self.store.due_for_test(now_ms(), batch).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "health monitor: cannot list due connectors");
                return Vec::new();
            }
        };
        for def in self.catalog.entries() {
            let Some(days) = def.oauth.as_ref().and_then(|o| o.refresh_idle_days) else {
                continue;
            };
            let before = now_ms() - i64::from(days) * DAY_MS / 2;
            match self.store.idle_sign_ins(&def.id, before, batch).await {
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
        due
    }
}
