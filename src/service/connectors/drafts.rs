//! The setup wizard's drafts: sealed (they may hold secrets), per user, expiring; and what a
//! "replace credentials" draft starts from.

use super::Connectors;
use crate::clock::now_ms;
use crate::error::{Error, ErrorCode};
use crate::ids::{ConnectorId, DraftId};
use crate::model::AuditAction;
use crate::service::{Caller, RateClass};
use crate::store::{ConnectorRecord, DraftRecord};
use std::collections::{BTreeMap, BTreeSet};

const DRAFT_TTL_MS: i64 = 30 * 60 * 1000;

/// A stored connector's configuration without its secrets (see `stored_settings`).
pub(crate) struct StoredSettings {
    pub(crate) record: ConnectorRecord,
    pub(crate) settings: BTreeMap<String, String>,
    /// The secret fields that have a stored value.
    pub(crate) secrets: BTreeSet<String>,
}

impl Connectors {
    /// What the wizard's "replace credentials" starts from: the connector's non-secret settings
    /// and the names of the secrets it has stored. The secrets themselves stay in the vault; a
    /// test or update of the replacement takes them from there, under `with_stored_secrets`.
    pub(crate) async fn stored_settings(
        &self,
        caller: &Caller,
        id: &ConnectorId,
    ) -> Result<StoredSettings, Error> {
        let record = self.gate.connector(caller, id, AuditAction::Read).await?;
        let def = self.catalog.definition(&record.connector_type)?;
        let config = self
            .credentials
            .open(&record)
            .map_err(|_| Error::from_code(ErrorCode::DecryptionFailed))?;
        let mut settings = BTreeMap::new();
        let mut secrets = BTreeSet::new();
        for (name, value) in config.into_inner() {
            match def.field(&name) {
                Some(field) if field.secret => {
                    secrets.insert(name);
                }
                Some(_) => {
                    settings.insert(name, value);
                }
                None => {}
            }
        }
        Ok(StoredSettings {
            record,
            settings,
            secrets,
        })
    }

    /// Seals a wizard draft (it may hold secrets) and stores it for this user, expiring.
    pub(crate) async fn save_draft(
        &self,
        caller: &Caller,
        draft_id: &DraftId,
        plaintext: &[u8],
    ) -> Result<(), Error> {
        self.gate.limit(caller, RateClass::Writes).await?;
        let record = DraftRecord {
            tenant_id: caller.tenant().clone(),
            user_id: caller.user().to_owned(),
            draft_id: draft_id.to_string(),
            sealed: self.vault.seal(plaintext),
            expires_at: now_ms() + DRAFT_TTL_MS,
        };
        Ok(self.store.put_draft(caller.tenant(), &record).await?)
    }

    pub(crate) async fn load_draft(
        &self,
        caller: &Caller,
        draft_id: &DraftId,
    ) -> Result<Option<Vec<u8>>, Error> {
        let found = self
            .store
            .get_draft(caller.tenant(), caller.user(), draft_id.as_str(), now_ms())
            .await?;
        Ok(found.and_then(|d| self.vault.open(&d.sealed).ok()))
    }

    pub(crate) async fn drop_draft(
        &self,
        caller: &Caller,
        draft_id: &DraftId,
    ) -> Result<(), Error> {
        Ok(self
            .store
            .delete_draft(caller.tenant(), caller.user(), draft_id.as_str())
            .await?)
    }
}
