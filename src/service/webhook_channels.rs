//! Push channels the hub registers itself, for a provider that sends webhooks only where a
//! client asked it to (Google Drive's `changes.watch`): the channel carries a token only the hub
//! knows, saved as the connector's webhook secret, which every notification must bring back.

use super::{ConnectorChanges, ConnectorService, RateClass};
use crate::auth::Principal;
use crate::checks::{status_failure, str_at};
use crate::clock::now_ms;
use crate::error::{Error, ErrorCode};
use crate::model::{AuditAction, ConnectorView};
use crate::sync::access::Access;
use serde_json::json;
use std::collections::BTreeMap;

impl ConnectorService {
    /// Opens a push channel from the provider to the connector's webhook address, and saves its
    /// token; the channel lasts the catalog's `lifetime_days`, and registering again renews it.
    pub async fn register_webhook_channel(
        &self,
        p: &Principal,
        id: &str,
        client: &str,
    ) -> Result<ConnectorView, Error> {
        self.limit(p, RateClass::Tests, client).await?;
        let record = self.record(p, id, AuditAction::Update, client).await?;
        let def = self.definition(&record.connector_type)?;
        let hooks = def.webhooks.as_ref();
        let (Some(channel), Some(field)) = (
            hooks.and_then(|w| w.channel.as_ref()),
            hooks.and_then(|w| w.secret_field.as_ref()),
        ) else {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                format!(
                    "{} does not take registrations from Connector Hub: follow the setup steps on the connector's page.",
                    def.name
                ),
            ));
        };
        let config = self.fresh_config(p, &record, false, client).await?;
        let access = Access::resolve(def, &config, self.checker.providers())?;
        let credential = super::preview::credential_field(def);
        let http = self.checker.http();
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
        let token = crate::random::random_hex(24);
        let mut watch = access.url(&channel.watch)?;
        watch.query_pairs_mut().append_pair("pageToken", &position);
        let expires = now_ms() + i64::from(channel.lifetime_days) * 86_400_000;
        let body = json!({
            "id": format!("ch_{}", crate::random::random_hex(12)),
            "type": "web_hook",
            "address": self.webhook_url(&record),
            "token": token,
            "expiration": expires.to_string(),
        });
        let opened = http.send(access.post_json(watch, body)?).await?;
        if !(200..300).contains(&opened.status) {
            return Err(status_failure(&opened, &def.name, credential));
        }
        tracing::info!(tenant = %p.tenant, connector_id = %id, "push channel registered");
        let changes = ConnectorChanges {
            config: Some(BTreeMap::from([(field.clone(), token)])),
            ..ConnectorChanges::default()
        };
        self.update(p, id, changes, client).await
    }
}
