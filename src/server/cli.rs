//! The operator's commands: key rotation, token minting, audit verification.

use super::startup::{load_vault, open_store};
use crate::auth::Authenticator;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::oauth::OAuth;
use crate::outbound::Outbound;
use crate::service::{Hub, HubSettings};
use std::sync::Arc;

pub async fn rotate_keys(settings: &Settings) -> Result<(), String> {
    let (vault, _) = load_vault(settings).map_err(|e| e.to_string())?;
    let store = open_store(settings).await.map_err(|e| e.to_string())?;
    let hub = Hub::new(
        store,
        Arc::new(vault),
        Outbound::new(&settings.checks, &settings.providers),
        OAuth::default(),
        Metrics::default(),
        HubSettings::default(),
    );
    println!(
        "Re-encrypting credentials, then synced records, queued events and endpoint secrets, under key {} …",
        hub.maintenance.encrypting_key_id()
    );
    let stats = hub
        .maintenance
        .rotate_keys(|p| {
            println!(
                "  connectors: seen {:>7}  rotated {:>7}  already current {:>7}   sealed values: seen {:>9}  rotated {:>9}",
                p.seen, p.rotated, p.already_current, p.values_seen, p.values_rotated
            )
        })
        .await
        .map_err(|e| e.message)?;
    println!(
        "Done: {} connectors, {} re-encrypted, {} already under the current key, {} could not be decrypted, {} changed concurrently (run again).",
        stats.seen, stats.rotated, stats.already_current, stats.undecryptable, stats.conflicts
    );
    println!(
        "Sealed values (synced records, queued events, endpoint signing secrets): {} seen, {} re-sealed, {} could not be decrypted.",
        stats.values_seen, stats.values_rotated, stats.values_undecryptable
    );
    // Anything left under an older key would be lost with it: the operator's script must not
    // go on to drop the key, so the command fails and says what remains.
    let undecryptable = stats.undecryptable + stats.values_undecryptable;
    let mut remains = Vec::new();
    if undecryptable > 0 {
        remains.push(format!(
            "{undecryptable} sealed values could not be decrypted with any configured key"
        ));
    }
    if stats.conflicts > 0 {
        remains.push(format!(
            "{} connectors changed while being re-encrypted and are still under their old key",
            stats.conflicts
        ));
    }
    if !remains.is_empty() {
        return Err(format!(
            "Not finished: {}. Keep the old key in CONNECTOR_ENCRYPTION_KEY and run rotate-keys again.",
            remains.join("; ")
        ));
    }
    println!("Nothing remains under an older key: it may be dropped.");
    Ok(())
}

pub fn mint_token(settings: &Settings, tenant: &str, user: &str, ttl: u64) -> Result<(), String> {
    if !settings.is_development() {
        return Err("mint-token only works in development mode (CONNECTOR_HUB_ENV=development); in production tokens come from your identity provider.".into());
    }
    let auth = Authenticator::from_settings(&settings.auth, settings.development_data_dir())
        .map_err(|e| e.to_string())?;
    if crate::ids::TenantId::parse(tenant).is_none() {
        return Err(
            "--tenant must be 1-128 characters of letters, digits, '.', '_', ':' or '-'.".into(),
        );
    }
    let token = auth.mint(tenant, user, ttl).ok_or(
        "this deployment verifies tokens with a public key; mint them with your identity provider",
    )?;
    println!("{token}");
    Ok(())
}

pub async fn audit_verify(settings: &Settings) -> Result<(), String> {
    let (vault, _) = load_vault(settings).map_err(|e| e.to_string())?;
    let store = open_store(settings).await.map_err(|e| e.to_string())?;
    let verified = crate::store::verify_audit(store.as_ref(), &vault).await?;
    println!(
        "audit log intact: {} entries verified, every chain ends at its recorded head",
        verified.entries
    );
    if verified.count_unsealed {
        println!("note: the entry count was last sealed under an encryption key that is not loaded; the count was compared, its seal could not be checked");
    }
    if verified.under_retired_keys > 0 {
        println!(
            "note: {} entries were written under encryption keys no longer loaded; their order and links were checked, their contents can only be with those keys (add them back to CONNECTOR_ENCRYPTION_KEY, after the current one, to check them)",
            verified.under_retired_keys
        );
    }
    Ok(())
}
