//! A tenant's connectors: creating, reading, changing and deleting them (each change written in
//! one store transaction with its audit entry and its event), listing them (`listing`), testing
//! their connections (`testing`), and the setup wizard's drafts (`drafts`).

mod drafts;
mod listing;
mod testing;

pub use drafts::StoredSettings;
pub use listing::{DEFAULT_PAGE, MAX_PAGE};

use super::credentials::replaces_access_token;
use super::{Caller, Credentials, Gate, Outbox, Parts, RateClass, Views};
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
pub struct NewConnector {
    pub connector_type: String,
    pub display_name: Option<DisplayName>,
    pub config: BTreeMap<String, String>,
    pub sync_frequency: Option<SyncFrequency>,
    /// Set when the credentials came from signing in (OAuth2), never from a client's request.
    pub tokens: Option<TokenTimes>,
}

#[derive(Debug, Default)]
pub struct ConnectorChanges {
    pub display_name: Option<DisplayName>,
    pub sync_frequency: Option<SyncFrequency>,
    /// New credentials; a secret field left out keeps its stored value.
    pub config: Option<BTreeMap<String, String>>,
    /// With `config`: set when the new credentials came from signing in (OAuth2).
    pub tokens: Option<TokenTimes>,
    /// A push channel the hub just opened, and when it lapses.
    pub channel_expires_at: Option<i64>,
}

/// When an OAuth2 access token expires, and when its refresh token (if any) was issued.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenTimes {
    pub expires_at: Option<i64>,
    pub refreshed_at: Option<i64>,
}

pub struct Connectors {
    store: Arc<dyn Store>,
    /// Seals the wizard's drafts (they may hold secrets).
    vault: Arc<Vault>,
    catalog: &'static Catalog,
    gate: Arc<Gate>,
    credentials: Arc<Credentials>,
    outbox: Arc<Outbox>,
    views: Arc<Views>,
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
            outbound: parts.outbound.clone(),
            metrics: parts.metrics.clone(),
            pages: page_cache.then(PageCache::default),
        }
    }

    pub async fn create(
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

    pub async fn get(&self, caller: &Caller, id: &ConnectorId) -> Result<ConnectorView, Error> {
        self.gate.limit(caller, RateClass::Reads).await?;
        let record = self.gate.connector(caller, id, AuditAction::Read).await?;
        self.gate
            .audit(caller, AuditAction::Read, Some(id), AuditOutcome::Ok, None)
            .await?;
        Ok(self.views.view(&record))
    }

    pub async fn update(
        &self,
        caller: &Caller,
        id: &ConnectorId,
        changes: ConnectorChanges,
    ) -> Result<ConnectorView, Error> {
        self.gate.limit(caller, RateClass::Writes).await?;
        for _attempt in 0..3 {
            let current = self.gate.connector(caller, id, AuditAction::Update).await?;
            let mut next = current.clone();
            if let Some(name) = &changes.display_name {
                next.display_name = name.to_string();
            }
            if let Some(frequency) = changes.sync_frequency {
                next.sync_frequency = frequency;
            }
            let replacing = changes.config.is_some();
            if let Some(submitted) = &changes.config {
                let def = self.catalog.definition(&current.connector_type)?;
                let stored = self.credentials.open(&current).ok();
                let new_access = replaces_access_token(submitted, stored.as_ref());
                let config =
                    self.credentials
                        .with_stored_secrets(def, stored.as_ref(), submitted)?;
                self.credentials
                    .seal(&mut next, &SecretConfig::from(config));
                next.status = ConnectorStatus::Pending;
                next.error_code = None;
                next.error_message = None;
                if new_access || changes.tokens.is_some() {
                    next.token_expires_at = changes.tokens.and_then(|t| t.expires_at);
                    next.token_refreshed_at = changes.tokens.and_then(|t| t.refreshed_at);
                }
            }
            if let Some(at) = changes.channel_expires_at {
                next.channel_expires_at = Some(at);
            }
            next.updated_at = now_ms();
            next.updated_by = caller.user().to_owned();
            next.version = current.version + 1;
            let action = if replacing {
                AuditAction::ReplaceCredentials
            } else {
                AuditAction::Update
            };
            let audit = self.gate.audited(caller, action, id);
            let updated = self
                .outbox
                .connector_event(EventType::ConnectorUpdated, &next);
            if self
                .store
                .update(
                    caller.tenant(),
                    &next,
                    current.version,
                    Some(&audit),
                    &[updated],
                )
                .await?
            {
                self.outbox.queued();
                return Ok(self.views.view(&next));
            }
        }
        Err(Error::from_code(ErrorCode::Conflict))
    }

    pub async fn delete(&self, caller: &Caller, id: &ConnectorId) -> Result<(), Error> {
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
    pub async fn clear_error(
        &self,
        caller: &Caller,
        id: &ConnectorId,
    ) -> Result<ConnectorView, Error> {
        self.gate.limit(caller, RateClass::Writes).await?;
        let current = self
            .gate
            .connector(caller, id, AuditAction::ClearError)
            .await?;
        let mut next = current.clone();
        next.status = if current.last_tested_at.is_some() && current.error_code.is_none() {
            current.status
        } else {
            ConnectorStatus::Pending
        };
        next.error_code = None;
        next.error_message = None;
        next.version += 1;
        next.updated_at = now_ms();
        next.updated_by = caller.user().to_owned();
        let audit = self.gate.audited(caller, AuditAction::ClearError, id);
        let updated = self
            .outbox
            .connector_event(EventType::ConnectorUpdated, &next);
        if !self
            .store
            .update(
                caller.tenant(),
                &next,
                current.version,
                Some(&audit),
                &[updated],
            )
            .await?
        {
            return Err(Error::from_code(ErrorCode::Conflict));
        }
        self.outbox.queued();
        Ok(self.views.view(&next))
    }
}
