//! Provider webhooks configured per app (Xero, HubSpot, QuickBooks, Shopify): the provider posts
//! every connected account's events to one operator address, `/webhooks/app/{type}`, signed with
//! the app's secret (`CONNECTOR_HUB_WEBHOOK_SECRET_<TYPE>`). Each event goes to every connector,
//! of any tenant, holding the account it names — each in its own tenant's stream —, found by the
//! account's digest without decrypting anyone's configuration. An event for an account nobody
//! connected is acknowledged and dropped: the provider is right to send it, and has no one else
//! to send it to.

use super::ProviderWebhooks;
use super::{not_found, Received, WebhookRequest};
use crate::catalog::ConnectorDef;
use crate::clock::now_ms;
use crate::error::{Error, ErrorCode};
use crate::store::account_key;
use crate::webhooks::inbound::{Incoming, ProviderEvent};
use std::collections::BTreeMap;

/// Most connectors one account's events are handed to (several tenants may connect the same
/// organisation; more than this is a misconfiguration, reported in the log).
const MAX_HOLDERS: usize = 100;

impl ProviderWebhooks {
    /// A request to `/webhooks/app/{connector_type}`.
    pub(crate) async fn receive_app_webhook(
        &self,
        connector_type: &str,
        request: WebhookRequest,
    ) -> Result<Received, Error> {
        let def = self
            .catalog
            .get(connector_type)
            .filter(|d| d.webhooks.as_ref().is_some_and(|h| h.per_app))
            .ok_or_else(not_found)?;
        let url = self.views.app_webhook_url(&def.id);
        self.receive_for_app(def, &url, &request).await
    }

    /// Verifies an app-wide request (as sent to `url`) and routes its events by account.
    pub(super) async fn receive_for_app(
        &self,
        def: &ConnectorDef,
        url: &str,
        request: &WebhookRequest,
    ) -> Result<Received, Error> {
        let hooks = def.webhooks.as_ref().ok_or_else(not_found)?;
        let secret = self
            .webhook_secrets
            .get(&def.id)
            .map(|s| s.expose().to_owned());
        let incoming = Incoming {
            method: &request.method,
            url,
            headers: &request.headers,
            body: &request.body,
            now_ms: now_ms(),
        };
        let events = self.verified_events(def, hooks, secret, &incoming)?;
        let mut received = Received::default();
        let mut by_account: BTreeMap<String, Vec<ProviderEvent>> = BTreeMap::new();
        for event in events {
            match event
                .account
                .as_deref()
                .and_then(|a| account_key(&def.id, a))
            {
                Some(key) => by_account.entry(key).or_default().push(event),
                // Nothing says whose it is, so it is no one's.
                None => received.dropped += 1,
            }
        }
        let field = hooks.account_field.as_deref().unwrap_or_default();
        for (key, events) in by_account {
            let holders = self
                .store
                .find_by_account(&def.id, &key, MAX_HOLDERS)
                .await?;
            if holders.len() == MAX_HOLDERS {
                tracing::warn!(connector_type = %def.id, holders = MAX_HOLDERS,
                    "an account is held by more connectors than its webhooks are passed to");
            }
            let mut delivered = false;
            for record in holders {
                let Ok(config) = self.credentials.open_for_use(&record) else {
                    tracing::warn!(connector_id = %record.connector_id, connector_type = %def.id,
                        "provider events not passed to a connector whose settings cannot be read");
                    continue;
                };
                // The digest found it; its settings must still say so (they are the truth).
                if config
                    .get(field)
                    .and_then(|a| account_key(&def.id, a))
                    .as_ref()
                    != Some(&key)
                {
                    continue;
                }
                match self
                    .accept_events(def, hooks, &record, &config, &events)
                    .await
                {
                    Ok(accepted) => {
                        received.add(accepted);
                        delivered = true;
                    }
                    // One holder whose settings cannot be used (a secret stored before the
                    // minimum length) must not fail the batch for every other holder.
                    Err(e) if e.code == ErrorCode::InvalidConfig => {
                        tracing::warn!(connector_id = %record.connector_id, connector_type = %def.id,
                            "provider events not passed to a connector whose settings are refused");
                    }
                    Err(e) => return Err(e),
                }
            }
            if !delivered {
                received.dropped += events.len();
            }
        }
        self.metrics.webhook(
            &def.id,
            if received.dropped > 0 && received.new + received.repeated == 0 {
                "dropped"
            } else {
                "accepted"
            },
        );
        tracing::info!(connector_type = %def.id, new = received.new, repeated = received.repeated,
            dropped = received.dropped, "provider app webhook accepted");
        Ok(received)
    }

    /// Fills in the account lookup value of connectors saved before it existed (or by an older
    /// version): each one whose settings name an account and whose record has no value yet,
    /// compare-and-swap on its version (a connector changed meanwhile got its value then).
    /// Returns how many were filled.
    pub(crate) async fn fill_account_keys(&self) -> Result<usize, Error> {
        let mut filled = 0;
        let mut after = None;
        loop {
            let batch = self.store.scan_all(after.clone(), 500).await?;
            let Some(last) = batch.last() else {
                return Ok(filled);
            };
            after = Some((last.tenant_id.clone(), last.connector_id.clone()));
            // Only where the last check succeeded: the account is then the one it reached.
            for record in batch.into_iter().filter(|r| {
                r.account_key.is_none() && r.status == crate::model::ConnectorStatus::Active
            }) {
                let Ok(config) = self.credentials.open(&record) else {
                    continue;
                };
                let Some(key) = self.credentials.account_of(&record.connector_type, &config) else {
                    continue;
                };
                let next = crate::store::ConnectorRecord {
                    account_key: Some(key),
                    version: record.version + 1,
                    ..record.clone()
                };
                if self
                    .store
                    .update(&record.tenant_id, &next, record.version, None, &[])
                    .await?
                {
                    filled += 1;
                }
            }
        }
    }
}
