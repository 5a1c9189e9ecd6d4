//! How a stored connector is shown: its view (metadata only, never a credential) and the warnings
//! about sign-ins that will stop working unless someone acts.

use crate::catalog::Catalog;
use crate::clock::{day, now_ms, rfc3339};
use crate::error::ErrorCode;
use crate::model::{ConnectorStatus, ConnectorView};
use crate::store::ConnectorRecord;
use crate::vault::Vault;
use std::sync::Arc;

pub(crate) struct Views {
    vault: Arc<Vault>,
    catalog: &'static Catalog,
    /// The hub's public address (provider-webhook addresses are on it).
    public_url: String,
}

impl Views {
    pub(crate) fn new(vault: Arc<Vault>, public_url: &str) -> Self {
        Self {
            vault,
            catalog: crate::catalog::catalog(),
            public_url: public_url.to_owned(),
        }
    }

    pub(crate) fn view(&self, r: &ConnectorRecord) -> ConnectorView {
        let undecryptable = !self.vault.has_key(&r.key_id);
        ConnectorView {
            connector_id: r.connector_id.to_string(),
            connector_type: r.connector_type.clone(),
            display_name: r.display_name.clone(),
            status: if undecryptable {
                ConnectorStatus::Error
            } else {
                r.status
            },
            sync_frequency: r.sync_frequency,
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
            created_by: r.created_by.clone(),
            updated_by: r.updated_by.clone(),
            last_tested_at: r.last_tested_at.map(rfc3339),
            last_sync_at: r.last_sync_at.map(rfc3339),
            error_code: if undecryptable {
                Some(ErrorCode::DecryptionFailed)
            } else {
                r.error_code.as_deref().and_then(ErrorCode::parse)
            },
            error_message: if undecryptable {
                Some(format!(
                    "{} {}",
                    ErrorCode::DecryptionFailed.message(),
                    ErrorCode::DecryptionFailed.hint().unwrap_or_default()
                ))
            } else {
                r.error_message.clone()
            },
            token_expires_at: r.token_expires_at.map(rfc3339),
            warnings: self.token_warnings(r, now_ms()),
            webhook_url: self
                .catalog
                .get(&r.connector_type)
                .and_then(|d| d.webhooks.as_ref())
                .filter(|_| !r.hook_token.is_empty())
                .map(|_| self.webhook_url(r)),
            webhook_channel_expires_at: r.channel_expires_at.map(rfc3339),
        }
    }

    /// Sign-ins that will stop working unless someone acts, from the stored token times.
    fn token_warnings(&self, r: &ConnectorRecord, now: i64) -> Vec<String> {
        const DAY: i64 = 86_400_000;
        let Some(def) = self.catalog.get(&r.connector_type) else {
            return Vec::new();
        };
        let mut warnings = Vec::new();
        match (r.token_refreshed_at, r.token_expires_at) {
            (Some(refreshed), _) => {
                let idle_days = def.oauth.as_ref().and_then(|o| o.refresh_idle_days);
                if let Some(limit) = idle_days.map(|d| i64::from(d) * DAY) {
                    let idle = now - refreshed;
                    // Warn in the last quarter of the allowed idle time (at least a week).
                    if idle >= limit - (limit / 4).max(7 * DAY) {
                        let dies = refreshed + limit;
                        warnings.push(if now >= dies {
                            format!("{} revokes sign-ins unused for {} days, and this one has not been used since {}. Reconnect to sign in again.", def.name, limit / DAY, day(refreshed))
                        } else {
                            format!("{} revokes sign-ins unused for {} days: this one stops working around {} unless it is used. Test it now or give it a sync schedule to keep it alive.", def.name, limit / DAY, day(dies))
                        });
                    }
                }
            }
            (None, Some(expires)) if expires - now < DAY => {
                warnings.push(if expires <= now {
                    format!("The access token expired on {} and cannot be renewed automatically. Reconnect to sign in again.", day(expires))
                } else {
                    format!("The access token expires on {} and cannot be renewed automatically. Reconnect before then.", day(expires))
                });
            }
            _ => {}
        }
        warnings
    }

    /// The absolute address a connector's provider sends its webhooks to: the app's address
    /// for providers that post every account's events to one, else the connector's own.
    pub(crate) fn webhook_url(&self, record: &ConnectorRecord) -> String {
        let per_app = self
            .catalog
            .get(&record.connector_type)
            .and_then(|d| d.webhooks.as_ref())
            .is_some_and(|h| h.per_app);
        if per_app {
            self.app_webhook_url(&record.connector_type)
        } else {
            self.connector_webhook_url(record)
        }
    }

    /// The connector's own address, `/webhooks/{token}`.
    pub(crate) fn connector_webhook_url(&self, record: &ConnectorRecord) -> String {
        format!(
            "{}/webhooks/{}",
            self.public_url.trim_end_matches('/'),
            record.hook_token
        )
    }

    /// The operator's address for one provider app's webhooks, `/webhooks/app/{type}`.
    pub(crate) fn app_webhook_url(&self, connector_type: &str) -> String {
        format!(
            "{}/webhooks/app/{connector_type}",
            self.public_url.trim_end_matches('/')
        )
    }
}
