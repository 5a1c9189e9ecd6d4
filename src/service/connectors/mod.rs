//! A tenant's connectors: creating, reading, changing and deleting them (each change written in
//! one store transaction with its audit entry and its event), listing them (`listing`), testing
//! their connections (`testing`), and the setup wizard's drafts (`drafts`).

mod drafts;
mod listing;
mod testing;

pub(crate) use listing::page_size;
pub(crate) use listing::MAX_PAGE;

use super::credentials::replaces_access_token;
use super::{Caller, ConnectorEdits, Credentials, Gate, Outbox, Parts, RateClass, Views};
use crate::catalog::Catalog;
use crate::clock::now_ms;
use crate::error::{Error, ErrorCode};
use crate::ids::{ConnectorId, DisplayName};
use crate::metrics::Metrics;
use crate::model::webhooks::EventType;
use crate::model::{AuditAction, AuditOutcome, ConnectorStatus, ConnectorView, SyncFrequency};
use crate::outbound::Outbound;
use crate::page_cache::PageCache;
use crate::secret::SecretConfig;
use crate::store::ConnectorRecord;
use crate::store::Store;
use crate::vault::Vault;
use listing::PageKey;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, Default)]
pub(crate) struct NewConnector {
    pub(crate) connector_type: String,
    pub(crate) display_name: Option<DisplayName>,
    pub(crate) config: BTreeMap<String, String>,
    pub(crate) sync_frequency: Option<SyncFrequency>,
    /// Set when the credentials came from signing in (OAuth2), never from a client's request.
    pub(crate) tokens: Option<TokenTimes>,
}

#[derive(Debug, Default)]
pub(crate) struct ConnectorChanges {
    pub(crate) display_name: Option<DisplayName>,
    pub(crate) sync_frequency: Option<SyncFrequency>,
    /// New credentials; a secret field left out keeps its stored value.
    pub(crate) config: Option<BTreeMap<String, String>>,
    /// With `config`: set when the new credentials came from signing in (OAuth2).
    pub(crate) tokens: Option<TokenTimes>,
    /// A push channel the hub just opened, and when it lapses.
    pub(crate) channel_expires_at: Option<i64>,
}

/// When an OAuth2 access token expires, and when its refresh token (if any) was issued.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TokenTimes {
    pub(crate) expires_at: Option<i64>,
    pub(crate) refreshed_at: Option<i64>,
}

pub(crate) struct Connectors {
    store: Arc<dyn Store>,
    /// Seals the wizard's drafts (they may hold secrets).
    vault: Arc<Vault>,
    catalog: &'static Catalog,
    gate: Arc<Gate>,
    credentials: Arc<Credentials>,
    outbox: Arc<Outbox>,
    views: Arc<Views>,
    edits: Arc<ConnectorEdits>,
    outbound: Arc<Outbound>,
    metrics: Metrics,
    /// `None` when the operator turned page reuse off.
    pages: Option<PageCache<PageKey>>,
}

impl Connectors {
    pub(super) fn new(parts: &Parts, page_cache: bool) -> Self {
        Self {
            store: parts.store.clone(),
            vault: parts.vault.clone(),
            catalog: crate::catalog::catalog(),
            gate: parts.gate.clone(),
            credentials: parts.credentials.clone(),
            outbox: parts.outbox.clone(),
            views: parts.views.clone(),
            edits: parts.edits.clone(),
            outbound: parts.outbound.clone(),
            metrics: parts.metrics.clone(),
            pages: page_cache.then(PageCache::default),
        }
    }

    pub(crate) async fn create(
        &self,
        caller: &Caller,
        input: NewConnector,
    ) -> Result<ConnectorView, Error> {
        let record = self.create_record(caller, input).await?;
        Ok(self.views.view(&record))
    }

    /// Creates a connector and answers with its record (the wizard goes on with its id).
    pub(crate) async fn create_record(
        &self,
        caller: &Caller,
        input: NewConnector,
    ) -> Result<ConnectorRecord, Error> {
        self.gate.limit(caller, RateClass::Writes).await?;
        let def = self.catalog.definition(&input.connector_type)?;
        let config = self.catalog.validate(def, &input.config)?;
        let display_name = match input.display_name {
            Some(name) => name,
            None => DisplayName::parse(&def.name)?,
        };
        let now = now_ms();
        let mut record = ConnectorRecord {
            tenant_id: caller.tenant().clone(),
            connector_id: ConnectorId::generate(),
            connector_type: def.id.clone(),
            display_name: display_name.into(),
            status: ConnectorStatus::Pending,
            sync_frequency: input.sync_frequency.unwrap_or_default(),
            encrypted_config: String::new(),
            key_id: String::new(),
            created_at: now,
            updated_at: now,
            created_by: caller.user().to_owned(),
            updated_by: caller.user().to_owned(),
            last_tested_at: None,
            last_sync_at: None,
            error_code: None,
            error_message: None,
            version: 1,
            token_expires_at: input.tokens.and_then(|t| t.expires_at),
            token_refreshed_at: input.tokens.and_then(|t| t.refreshed_at),
            channel_expires_at: None,
            hook_token: crate::random::random_hex(16),
            account_key: None,
        };
        self.credentials
            .seal(&mut record, &SecretConfig::from(config));
        let audit = self
            .gate
            .audited(caller, AuditAction::Create, &record.connector_id);
        let created = self
            .outbox
            .connector_event(EventType::ConnectorCreated, &record);
        self.store
            .insert(caller.tenant(), &record, &audit, &[created])
            .await?;
        self.outbox.queued();
        tracing::info!(tenant = %caller.tenant(), connector_id = %record.connector_id, connector_type = %record.connector_type, "connector created");
        Ok(record)
    }

    pub(crate) async fn get(
        &self,
        caller: &Caller,
        id: &ConnectorId,
    ) -> Result<ConnectorView, Error> {
        self.gate.limit(caller, RateClass::Reads).await?;
        let record = self.gate.connector(caller, id, AuditAction::Read).await?;
        self.gate
            .audit(caller, AuditAction::Read, Some(id), AuditOutcome::Ok, None)
            .await?;
        Ok(self.views.view(&record))
    }

    pub(crate) async fn update(
        &self,
        caller: &Caller,
        id: &ConnectorId,
        changes: ConnectorChanges,
    ) -> Result<ConnectorView, Error> {
        self.gate.limit(caller, RateClass::Writes).await?;
        let action = if changes.config.is_some() {
            AuditAction::ReplaceCredentials
        } else {
            AuditAction::Update
        };
        self.edits
            .edit(caller, id, action, |current, next| {
                if let Some(name) = &changes.display_name {
                    next.display_name = name.to_string();
                }
                if let Some(frequency) = changes.sync_frequency {
                    next.sync_frequency = frequency;
                }
                if let Some(submitted) = &changes.config {
                    self.replace_credentials(current, next, submitted, changes.tokens)?;
                }
                if let Some(at) = changes.channel_expires_at {
                    next.channel_expires_at = Some(at);
                }
                Ok(())
            })
            .await
    }

    /// New credentials on `next`: a secret left out keeps its stored value, the connector waits
    /// for a test again, and the token's times are the new token's (unknown when the submitted
    /// access token did not come from signing in).
    fn replace_credentials(
        &self,
        current: &ConnectorRecord,
        next: &mut ConnectorRecord,
        submitted: &BTreeMap<String, String>,
        tokens: Option<TokenTimes>,
    ) -> Result<(), Error> {
        let def = self.catalog.definition(&current.connector_type)?;
        let stored = self.credentials.open(current).ok();
        let new_access = replaces_access_token(submitted, stored.as_ref());
        let config = self
            .credentials
            .with_stored_secrets(def, stored.as_ref(), submitted)?;
        self.credentials.seal(next, &SecretConfig::from(config));
        next.status = ConnectorStatus::Pending;
        next.error_code = None;
        next.error_message = None;
        if new_access || tokens.is_some() {
            next.token_expires_at = tokens.and_then(|t| t.expires_at);
            next.token_refreshed_at = tokens.and_then(|t| t.refreshed_at);
        }
        Ok(())
    }

    pub(crate) async fn delete(&self, caller: &Caller, id: &ConnectorId) -> Result<(), Error> {
        self.gate.limit(caller, RateClass::Writes).await?;
        let record = self.gate.connector(caller, id, AuditAction::Delete).await?;
        let id = &record.connector_id;
        let audit = self.gate.audited(caller, AuditAction::Delete, id);
        let deleted = self.outbox.event(
            caller.tenant(),
            EventType::ConnectorDeleted,
            serde_json::json!({"connector": {"connector_id": id, "connector_type": record.connector_type,
                "display_name": record.display_name}}),
        );
        self.store
            .delete(caller.tenant(), id, &audit, &[deleted])
            .await?;
        self.outbox.queued();
        // Secure deletion with verification: answer only once the record is really gone.
        if self.store.get(caller.tenant(), id).await?.is_some() {
            return Err(Error::new(
                ErrorCode::StorageUnavailable,
                "The connector could not be deleted. Please retry.",
            ));
        }
        tracing::info!(tenant = %caller.tenant(), connector_id = %id, "connector deleted");
        Ok(())
    }

    /// Clears a connector's error state without testing it again.
    pub(crate) async fn clear_error(
        &self,
        caller: &Caller,
        id: &ConnectorId,
    ) -> Result<ConnectorView, Error> {
        self.gate.limit(caller, RateClass::Writes).await?;
        self.edits
            .edit(caller, id, AuditAction::ClearError, |current, next| {
                // A connector whose last test passed is active again; any other waits for one.
                if current.last_tested_at.is_none() || current.error_code.is_some() {
                    next.status = ConnectorStatus::Pending;
                }
                next.error_code = None;
                next.error_message = None;
                Ok(())
            })
            .await
    }
}
