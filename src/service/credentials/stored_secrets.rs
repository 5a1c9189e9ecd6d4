//! The one rule for secrets a request leaves out: they are taken from the stored configuration,
//! unless a field that decides where or how they are sent has changed.

use super::Credentials;
use crate::catalog::{ConnectorDef, ValidConfig};
use crate::error::Error;
use crate::secret::{SecretConfig, ACCESS_TOKEN};
use std::collections::BTreeMap;

/// Whether `submitted` brings an access token other than the stored one (signing in again, or a
/// token pasted by hand): the refresh token stored beside the old one is then dropped with it.
pub(crate) fn replaces_access_token(
    submitted: &BTreeMap<String, String>,
    stored: Option<&SecretConfig>,
) -> bool {
    submitted.get(ACCESS_TOKEN).is_some_and(|v| {
        !v.is_empty() && Some(v.as_str()) != stored.and_then(|s| s.get(ACCESS_TOKEN))
    })
}

impl Credentials {
    /// The submitted configuration, validated, with each secret it leaves out taken from the
    /// stored one: a form never needs to hold a secret. One rule makes that safe, and every path
    /// that changes a connector (PATCH, the wizard, a test of a replacement) goes through here:
    /// a stored secret never follows a changed destination. When a field that decides where or
    /// how secrets are sent (`binds_secrets`) changes, every secret must be given again.
    pub(crate) fn with_stored_secrets(
        &self,
        def: &ConnectorDef,
        stored: Option<&SecretConfig>,
        submitted: &BTreeMap<String, String>,
    ) -> Result<ValidConfig, Error> {
        let mut merged = submitted.clone();
        let mut kept = Vec::new();
        if let Some(stored) = stored {
            // A refresh token belongs to the access token it came with.
            let new_access = replaces_access_token(submitted, Some(stored));
            for field in def.fields.iter().filter(|f| f.secret) {
                let follows_new_token = new_access && field.ask == crate::catalog::Ask::Never;
                if follows_new_token || merged.get(&field.name).is_some_and(|v| !v.is_empty()) {
                    continue;
                }
                if let Some(old) = stored.get(&field.name) {
                    merged.insert(field.name.clone(), old.to_owned());
                    kept.push(field);
                }
            }
            // The account the provider's webhooks name, learned from the provider (a check or a
            // sign-in), stays with the credentials and destination it was learned for: saving a
            // webhook secret must not make the connector forget whose events are its own.
            let moved = def.fields.iter().any(|f| {
                f.binds_secrets
                    && submitted
                        .get(&f.name)
                        .is_some_and(|v| Some(v.as_str()) != stored.get(&f.name))
            });
            if let (Some(field), false, false) = (learned_account(def), new_access, moved) {
                if merged.get(&field.name).is_none_or(|v| v.is_empty()) {
                    if let Some(old) = stored.get(&field.name) {
                        merged.insert(field.name.clone(), old.to_owned());
                    }
                }
            }
        }
        let config = self.catalog.validate(def, &merged)?;
        let (Some(stored), false) = (stored, kept.is_empty()) else {
            return Ok(config);
        };
        let moved = def.fields.iter().find(|f| {
            f.binds_secrets && config.get(&f.name).map(String::as_str) != stored.get(&f.name)
        });
        // Only a kept secret the new configuration still uses would travel.
        let travelling = kept.iter().find(|f| config.contains_key(&f.name));
        match (moved, travelling) {
            (Some(moved), Some(secret)) => Err(Error::invalid_config(
                &secret.name,
                format!(
                    "{} changed, so {} must be given again: a stored secret is only ever sent where it was first given.",
                    moved.label, secret.label
                ),
            )),
            _ => Ok(config),
        }
    }
}

/// The setting holding the account a connector's webhooks name, when the provider fills it in
/// rather than the person.
fn learned_account(def: &ConnectorDef) -> Option<&crate::catalog::FieldDef> {
    let name = def.webhooks.as_ref()?.account_field.as_deref()?;
    def.field(name)
        .filter(|f| !f.secret && f.ask == crate::catalog::Ask::Never)
}
