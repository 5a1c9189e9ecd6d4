//! A connector's credentials: its configuration sealed to its tenant and connector, opened only
//! to be used; OAuth2 access kept fresh under a store lease (`tokens`); and the one rule for
//! secrets a request leaves out (`stored_secrets`).

mod stored_secrets;
mod tokens;

pub(crate) use stored_secrets::replaces_access_token;
pub(crate) use tokens::Renewing;

use super::Gate;
use crate::catalog::Catalog;
use crate::error::{Error, ErrorCode};
use crate::metrics::Metrics;
use crate::oauth::OAuth;
use crate::outbound::Outbound;
use crate::secret::SecretConfig;
use crate::store::{ConnectorRecord, Store};
use crate::vault::{DecryptionFailed, Vault};
use std::collections::BTreeMap;
use std::sync::Arc;

pub(crate) struct Credentials {
    store: Arc<dyn Store>,
    vault: Arc<Vault>,
    catalog: &'static Catalog,
    oauth: Arc<OAuth>,
    /// The provider client token renewals go through, and how long one call may take.
    outbound: Arc<Outbound>,
    gate: Arc<Gate>,
    metrics: Metrics,
}

impl Credentials {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        vault: Arc<Vault>,
        oauth: Arc<OAuth>,
        outbound: Arc<Outbound>,
        gate: Arc<Gate>,
        metrics: Metrics,
    ) -> Self {
        Self {
            store,
            vault,
            catalog: crate::catalog::catalog(),
            oauth,
            outbound,
            gate,
            metrics,
        }
    }

    /// Opens a connector's configuration: sealed to its tenant and connector, so a ciphertext
    /// copied to another row does not open.
    pub(crate) fn open(&self, r: &ConnectorRecord) -> Result<SecretConfig, DecryptionFailed> {
        self.vault
            .decrypt(&r.encrypted_config, r.tenant_id.as_str(), &r.connector_id)
    }

    /// Opens a connector's configuration to use it; one that does not open is the caller's
    /// `DECRYPTION_FAILED`.
    pub(crate) fn open_for_use(&self, r: &ConnectorRecord) -> Result<SecretConfig, Error> {
        self.open(r).map_err(|_| {
            Error::new(
                ErrorCode::DecryptionFailed,
                ErrorCode::DecryptionFailed.message(),
            )
        })
    }

    /// Encrypts `config` into `r`, sealed to its tenant and connector. Every change of a
    /// connector's settings comes through here, so the account lookup value written beside them
    /// (`account_key`) never outlives them: settings naming another account than the one proven
    /// leave the connector with none until a check proves the new one (`testing`). A tenant
    /// could otherwise name any shop, realm or organisation and receive its webhooks.
    pub(crate) fn seal(&self, r: &mut ConnectorRecord, config: &SecretConfig) {
        let (token, key_id) = self
            .vault
            .encrypt(config, r.tenant_id.as_str(), &r.connector_id);
        r.encrypted_config = token;
        r.key_id = key_id;
        if self.account_of(&r.connector_type, config) != r.account_key {
            r.account_key = None;
        }
    }

    /// The lookup value of the account `settings` name for provider webhooks (unproven).
    pub(crate) fn account_named(
        &self,
        connector_type: &str,
        settings: &BTreeMap<String, String>,
    ) -> Option<String> {
        self.account_of(connector_type, &SecretConfig::decrypted(settings.clone()))
    }

    /// The lookup value of the account a connector's provider webhooks name, from its settings.
    pub(crate) fn account_of(&self, connector_type: &str, config: &SecretConfig) -> Option<String> {
        let field = self
            .catalog
            .get(connector_type)?
            .webhooks
            .as_ref()?
            .account_field
            .as_deref()?;
        crate::store::account_key(connector_type, config.get(field)?)
    }
}
