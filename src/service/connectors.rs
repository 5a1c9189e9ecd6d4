//! Creating, reading, changing and deleting a tenant's connectors. Each change is written in one
//! store transaction with its audit entry.

use super::stored_secrets::replaces_access_token;
use super::{ConnectorService, RateClass};
use crate::auth::Principal;
use crate::clock::now_ms;
use crate::error::{Error, ErrorCode};
use crate::ids::{ConnectorId, DisplayName};
use crate::model::webhooks::EventType;
use crate::model::{AuditAction, AuditOutcome, ConnectorStatus, ConnectorView, SyncFrequency};
use crate::secret::SecretConfig;
use crate::store::ConnectorRecord;
use std::collections::BTreeMap;

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

impl ConnectorService {
    pub async fn create(
        &self,
        p: &Principal,
        input: NewConnector,
        client: &str,
    ) -> Result<ConnectorView, Error> {
        self.limit(p, RateClass::Writes, client).await?;
        let def = self.definition(&input.connector_type)?;
        let config = self.catalog.validate(def, &input.config)?;
        let display_name = match input.display_name {
            Some(name) => name,
            None => DisplayName::parse(&def.name)?,
        };
        let now = now_ms();
        let mut record = ConnectorRecord {
            tenant_id: p.tenant.clone(),
            connector_id: ConnectorId::generate().to_string(),
            connector_type: def.id.clone(),
            display_name: display_name.into(),
            status: ConnectorStatus::Pending,
            sync_frequency: input.sync_frequency.unwrap_or_default(),
            encrypted_config: String::new(),
            key_id: String::new(),
            created_at: now,
            updated_at: now,
            created_by: p.user.clone(),
            updated_by: p.user.clone(),
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
        self.seal_config(&mut record, &SecretConfig::from(config));
        let audit = self.audited(p, AuditAction::Create, &record.connector_id, client);
        let created = self.connector_event(EventType::ConnectorCreated, &record);
        self.store
            .insert(&p.tenant, &record, &audit, &[created])
            .await?;
        self.events_queued();
        tracing::info!(tenant = %p.tenant, connector_id = %record.connector_id, connector_type = %record.connector_type, "connector created");
        Ok(self.view(&record))
    }

    pub(super) async fn record(
        &self,
        p: &Principal,
        id: &str,
        action: AuditAction,
        client: &str,
    ) -> Result<ConnectorRecord, Error> {
        let found = match ConnectorId::parse(id) {
            Some(id) => self.store.get(&p.tenant, id.as_str()).await?,
            None => None,
        };
        match found {
            Some(record) => Ok(record),
            None => {
                let error = Error::not_found();
                // Missing and other-tenant look the same to the caller; the audit records both.
                self.audit_refusal(p, action, &error, client).await;
                Err(error)
            }
        }
    }

    pub async fn get(&self, p: &Principal, id: &str, client: &str) -> Result<ConnectorView, Error> {
        self.limit(p, RateClass::Reads, client).await?;
        let record = self.record(p, id, AuditAction::Read, client).await?;
        self.audit(
            p,
            AuditAction::Read,
            Some(id),
            AuditOutcome::Ok,
            None,
            client,
        )
        .await?;
        Ok(self.view(&record))
    }

    pub async fn update(
        &self,
        p: &Principal,
        id: &str,
        changes: ConnectorChanges,
        client: &str,
    ) -> Result<ConnectorView, Error> {
        self.limit(p, RateClass::Writes, client).await?;
        for _attempt in 0..3 {
            let current = self.record(p, id, AuditAction::Update, client).await?;
            let mut next = current.clone();
            if let Some(name) = &changes.display_name {
                next.display_name = name.to_string();
            }
            if let Some(frequency) = changes.sync_frequency {
                next.sync_frequency = frequency;
            }
            let replacing = changes.config.is_some();
            if let Some(submitted) = &changes.config {
                let def = self.definition(&current.connector_type)?;
                let stored = self.open_config(&current).ok();
                let new_access = replaces_access_token(submitted, stored.as_ref());
                let config = self.with_stored_secrets(def, stored.as_ref(), submitted)?;
                self.seal_config(&mut next, &SecretConfig::from(config));
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
            next.updated_by = p.user.clone();
            next.version = current.version + 1;
            let action = if replacing {
                AuditAction::ReplaceCredentials
            } else {
                AuditAction::Update
            };
            let audit = self.audited(p, action, id, client);
            let updated = self.connector_event(EventType::ConnectorUpdated, &next);
            if self
                .store
                .update(&p.tenant, &next, current.version, Some(&audit), &[updated])
                .await?
            {
                self.events_queued();
                return Ok(self.view(&next));
            }
        }
        Err(Error::from_code(ErrorCode::Conflict))
    }

    pub async fn delete(&self, p: &Principal, id: &str, client: &str) -> Result<(), Error> {
        self.limit(p, RateClass::Writes, client).await?;
        let record = self.record(p, id, AuditAction::Delete, client).await?;
        let audit = self.audited(p, AuditAction::Delete, id, client);
        let deleted = self.outbox_event(
            &p.tenant,
            EventType::ConnectorDeleted,
            serde_json::json!({"connector": {"connector_id": id, "connector_type": record.connector_type,
                "display_name": record.display_name}}),
        );
        self.store.delete(&p.tenant, id, &audit, &[deleted]).await?;
        self.events_queued();
        // Secure deletion with verification: answer only once the record is really gone.
        if self.store.get(&p.tenant, id).await?.is_some() {
            return Err(Error::new(
                ErrorCode::StorageUnavailable,
                "The connector could not be deleted. Please retry.",
            ));
        }
        tracing::info!(tenant = %p.tenant, connector_id = %id, "connector deleted");
        Ok(())
    }

    /// Clears a connector's error state without testing it again.
    pub async fn clear_error(
        &self,
        p: &Principal,
        id: &str,
        client: &str,
    ) -> Result<ConnectorView, Error> {
        self.limit(p, RateClass::Writes, client).await?;
        let current = self.record(p, id, AuditAction::ClearError, client).await?;
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
        next.updated_by = p.user.clone();
        let audit = self.audited(p, AuditAction::ClearError, id, client);
        let updated = self.connector_event(EventType::ConnectorUpdated, &next);
        if !self
            .store
            .update(&p.tenant, &next, current.version, Some(&audit), &[updated])
            .await?
        {
            return Err(Error::from_code(ErrorCode::Conflict));
        }
        self.events_queued();
        Ok(self.view(&next))
    }
}
