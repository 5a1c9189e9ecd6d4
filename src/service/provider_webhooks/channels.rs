//! Push channels the hub registers itself, for a provider that sends webhooks only where a
//! client asked it to (Google Drive's `changes.watch`): the channel carries a token only the hub
//! knows, saved as the connector's webhook secret, which every notification must bring back.
//! A channel lapses (Drive grants a week at most) and cannot be extended, only replaced: the
//! health monitor opens the next one, with the same token, a day before the current one lapses.
//! For a while both send notices; each starts the same debounced sync.

use super::ProviderWebhooks;
use crate::catalog::{ChannelDef, ConnectorDef};
use crate::clock::now_ms;
use crate::error::{Error, ErrorCode};
use crate::ids::ConnectorId;
use crate::model::{AuditAction, ConnectorStatus, ConnectorView};
use crate::outbound::access::Access;
use crate::outbound::answers::{status_failure, str_at};
use crate::outbound::retry::Answer;
use crate::secret::SecretConfig;
use crate::service::credentials::Renewing;
use crate::service::{Caller, ConnectorChanges, Gate, RateClass};
use crate::store::ConnectorRecord;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// How long before a channel lapses the monitor replaces it: time for a day of failed attempts.
const RENEW_AHEAD_MS: i64 = 86_400_000;
/// A channel still not replaced this long after it lapsed is given up: the connector stops
/// saying it has one (its owner registers again), and the monitor stops trying.
const GIVE_UP_AFTER_MS: i64 = 86_400_000;

impl ProviderWebhooks {
    /// Opens a push channel from the provider to the connector's webhook address with a new
    /// token, and saves both; the channel lasts what the provider grants (the catalog's
    /// `lifetime_days` at most) and the monitor renews it.
    pub(crate) async fn register_webhook_channel(
        &self,
        caller: &Caller,
        id: &ConnectorId,
    ) -> Result<ConnectorView, Error> {
        self.gate.limit(caller, RateClass::Tests).await?;
        let record = self.gate.connector(caller, id, AuditAction::Update).await?;
        let def = self.catalog.definition(&record.connector_type)?;
        let Some((channel, field)) = channel_of(def) else {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                format!(
                    "{} does not take registrations from Connector Hub: follow the setup steps on the connector's page.",
                    def.name
                ),
            ));
        };
        let token = crate::random::random_hex(24);
        let expires_at = self
            .open_channel(caller, &record, def, channel, &token)
            .await?;
        tracing::info!(tenant = %caller.tenant(), connector_id = %id, "push channel registered");
        let changes = ConnectorChanges {
            config: Some(BTreeMap::from([(field.to_owned(), token)])),
            channel_expires_at: Some(expires_at),
            ..ConnectorChanges::default()
        };
        self.connectors.update(caller, id, changes).await
    }

    /// Replaces the push channels that lapse within a day (at most `batch`); how many were
    /// renewed. A connector waiting for its owner to sign in again is left until they have.
    pub(crate) async fn renew_webhook_channels(&self, batch: usize) -> usize {
        let due = match self
            .store
            .channels_expiring(now_ms() + RENEW_AHEAD_MS, batch)
            .await
        {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "health monitor: cannot list push channels");
                return 0;
            }
        };
        let mut renewed = 0;
        for record in due {
            if record.status == ConnectorStatus::AuthorizationRequired {
                continue;
            }
            match self.renew_channel(&record).await {
                Ok(()) => renewed += 1,
                Err(e) if gives_up(record.channel_expires_at, now_ms()) => {
                    tracing::warn!(
                        tenant = %record.tenant_id, connector_id = %record.connector_id, code = %e.code, cause = ?e.cause,
                        "health monitor: a push channel lapsed a day ago and still cannot be renewed; giving it up"
                    );
                    if let Err(e) = self.give_up_channel(&record, &e).await {
                        tracing::warn!(connector_id = %record.connector_id, code = %e.code, cause = ?e.cause, "health monitor: could not give a push channel up");
                    }
                }
                Err(e) => tracing::warn!(
                    tenant = %record.tenant_id, connector_id = %record.connector_id, code = %e.code, cause = ?e.cause,
                    "health monitor: a push channel could not be renewed; trying again next round"
                ),
            }
        }
        renewed
    }

    async fn renew_channel(&self, record: &ConnectorRecord) -> Result<(), Error> {
        let system = Caller::system(record.tenant_id.clone(), "monitor");
        let def = self.catalog.definition(&record.connector_type)?;
        let config = self.credentials.open_for_use(record)?;
        let Some((channel, token)) = channel_of(def)
            .and_then(|(channel, field)| Some((channel, config.get(field)?.to_owned())))
        else {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                "This connector has no push channel token to renew.",
            ));
        };
        let expires_at = self
            .open_channel(&system, record, def, channel, &token)
            .await?;
        let audit = self
            .gate
            .audited(&system, AuditAction::WebhookChannel, &record.connector_id);
        // Only the channel's lapse changes, on the newest version of the connector.
        for _attempt in 0..3 {
            let Some(current) = self
                .store
                .get(&record.tenant_id, &record.connector_id)
                .await?
            else {
                return Ok(());
            };
            let mut next = current.clone();
            next.channel_expires_at = Some(expires_at);
            next.version = current.version + 1;
            if self
                .store
                .update(&record.tenant_id, &next, current.version, Some(&audit), &[])
                .await?
            {
                tracing::info!(tenant = %record.tenant_id, connector_id = %record.connector_id, "push channel renewed");
                return Ok(());
            }
        }
        Err(Error::from_code(ErrorCode::Conflict))
    }

    /// Forgets a channel that lapsed and could not be replaced, with an audit entry saying why.
    async fn give_up_channel(&self, record: &ConnectorRecord, why: &Error) -> Result<(), Error> {
        let system = Caller::system(record.tenant_id.clone(), "monitor");
        let audit = crate::store::AuditWrite {
            entry: Gate::entry(
                &system,
                AuditAction::WebhookChannel,
                Some(&record.connector_id),
                crate::model::AuditOutcome::Error,
                Some(why.code),
            ),
            key: &self.audit_key,
        };
        let mut next = record.clone();
        next.channel_expires_at = None;
        next.version = record.version + 1;
        // Lost to a concurrent change: the next round looks again.
        self.store
            .update(&record.tenant_id, &next, record.version, Some(&audit), &[])
            .await?;
        Ok(())
    }

    /// Asks the provider for a channel from its current position to the connector's address,
    /// carrying `token`; when the provider says the channel lapses.
    async fn open_channel(
        &self,
        caller: &Caller,
        record: &ConnectorRecord,
        def: &ConnectorDef,
        channel: &ChannelDef,
        token: &str,
    ) -> Result<i64, Error> {
        let config = self.credentials.fresh(caller, record, false).await?;
        self.credentials
            .send_renewing_once(
                caller,
                record,
                config,
                Renewing::OnEachRefusal,
                Answer::of_result,
                |config| async move {
                    self.open_channel_with(&config, record, def, channel, token)
                        .await
                },
            )
            .await
    }

    async fn open_channel_with(
        &self,
        config: &SecretConfig,
        record: &ConnectorRecord,
        def: &ConnectorDef,
        channel: &ChannelDef,
        token: &str,
    ) -> Result<i64, Error> {
        let access = Access::resolve(def, config, self.outbound.providers())?;
        let credential = def.credential_field();
        let http = self.outbound.http();
        let started = http.send(access.get(access.url(&channel.start)?)?).await?;
        if !(200..300).contains(&started.status) {
            return Err(status_failure(&started, &def.name, credential));
        }
        let position = started
            .json()
            .and_then(|body| str_at(&body, &channel.start_token))
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::UnexpectedResponse,
                    format!("{} answered without a position to watch from.", def.name),
                )
            })?;
        let mut watch = access.url(&channel.watch)?;
        watch.query_pairs_mut().append_pair("pageToken", &position);
        let asked = now_ms() + i64::from(channel.lifetime_days) * 86_400_000;
        let body = json!({
            "id": format!("ch_{}", crate::random::random_hex(12)),
            "type": "web_hook",
            "address": self.views.webhook_url(record),
            "token": token,
            "expiration": asked.to_string(),
        });
        let opened = http.send(access.post_json(watch, body)?).await?;
        if !(200..300).contains(&opened.status) {
            return Err(status_failure(&opened, &def.name, credential));
        }
        // The provider may grant less than asked; what it answers is when the channel lapses.
        let granted = opened
            .json()
            .and_then(|body| expiration(&body))
            .unwrap_or(asked);
        Ok(granted.min(asked))
    }
}

/// The catalog's channel and the config field its token is kept in, for a connector type the
/// hub registers itself.
fn channel_of(def: &ConnectorDef) -> Option<(&ChannelDef, &str)> {
    let hooks = def.webhooks.as_ref()?;
    Some((hooks.channel.as_ref()?, hooks.secret_field.as_deref()?))
}

/// Whether a channel that lapses at `expires_at` has been lapsed too long to go on trying.
fn gives_up(expires_at: Option<i64>, now: i64) -> bool {
    expires_at.is_some_and(|at| now - at > GIVE_UP_AFTER_MS)
}

/// A channel's `expiration`: Unix milliseconds, as a string (Google's JSON for int64) or a number.
fn expiration(channel: &Value) -> Option<i64> {
    match &channel["expiration"] {
        Value::String(text) => text.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_is_given_up_a_day_after_it_lapsed() {
        let day = 86_400_000;
        assert!(!gives_up(Some(10 * day), 10 * day + day / 2));
        assert!(!gives_up(Some(10 * day), 11 * day));
        assert!(gives_up(Some(10 * day), 11 * day + 1));
        assert!(!gives_up(None, 11 * day));
    }

    #[test]
    fn a_channel_lapses_when_the_provider_says_in_either_spelling() {
        assert_eq!(
            expiration(&json!({"expiration": "1426325213000"})),
            Some(1_426_325_213_000)
        );
        assert_eq!(
            expiration(&json!({"expiration": 1_426_325_213_000_i64})),
            Some(1_426_325_213_000)
        );
        assert_eq!(expiration(&json!({"expiration": "soon"})), None);
        assert_eq!(expiration(&json!({})), None);
    }
}
