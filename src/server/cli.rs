//! The operator's commands: key rotation, token minting, audit verification.

use super::config::Settings;
use super::startup::{load_vault, open_store};
use crate::auth::Authenticator;
use crate::checks::Checker;
use crate::service::ConnectorService;
use crate::store::{audit_hash, AUDIT_GENESIS};
use std::sync::Arc;

pub async fn rotate_keys(settings: &Settings) -> Result<(), String> {
    let (vault, _) = load_vault(settings).map_err(|e| e.to_string())?;
    let store = open_store(settings).await.map_err(|e| e.to_string())?;
    let service = ConnectorService::new(
        store,
        Arc::new(vault),
        Checker::new(&settings.checks, &settings.providers),
    );
    println!(
        "Re-encrypting credentials under key {} …",
        service.vault().encrypting_key_id()
    );
    let stats = service
        .rotate_keys(|p| {
            println!(
                "  seen {:>7}  rotated {:>7}  already current {:>7}",
                p.seen, p.rotated, p.already_current
            )
        })
        .await
        .map_err(|e| e.message)?;
    println!(
        "Done: {} connectors, {} re-encrypted, {} already under the current key, {} could not be decrypted, {} changed concurrently (run again).",
        stats.seen, stats.rotated, stats.already_current, stats.undecryptable, stats.conflicts
    );
    if stats.undecryptable > 0 {
        return Err(format!(
            "{} credentials could not be decrypted with any configured key; keep the old key in CONNECTOR_ENCRYPTION_KEY until they are rotated.",
            stats.undecryptable
        ));
    }
    Ok(())
}

pub fn mint_token(settings: &Settings, tenant: &str, user: &str, ttl: u64) -> Result<(), String> {
    if !settings.is_development() {
        return Err("mint-token only works in development mode (CONNECTOR_HUB_ENV=development); in production tokens come from your identity provider.".into());
    }
    let auth = Authenticator::from_settings(settings).map_err(|e| e.to_string())?;
    if crate::auth::TenantId::parse(tenant).is_none() {
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
    let store = open_store(settings).await.map_err(|e| e.to_string())?;
    let mut after = None;
    let mut previous: Option<(String, i64, String)> = None;
    let mut checked = 0u64;
    loop {
        let batch = store
            .audit_chain(after.clone(), 1000)
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = batch.last() else { break };
        after = Some((last.tenant_id.clone(), last.seq));
        for entry in batch {
            let (expected_seq, expected_prev) = match &previous {
                Some((tenant, seq, hash)) if *tenant == entry.tenant_id => (seq + 1, hash.clone()),
                _ => (1, AUDIT_GENESIS.to_owned()),
            };
            let broken = if entry.seq != expected_seq {
                Some(format!(
                    "expected entry {expected_seq} next, found {}",
                    entry.seq
                ))
            } else if entry.prev_hash != expected_prev {
                Some("its previous-hash does not match the entry before it".to_owned())
            } else if audit_hash(&entry, &entry.prev_hash) != entry.hash {
                Some("its contents do not match its hash (altered)".to_owned())
            } else {
                None
            };
            if let Some(why) = broken {
                return Err(format!(
                    "audit chain broken at tenant {} entry {}: {why}",
                    entry.tenant_id, entry.seq
                ));
            }
            checked += 1;
            previous = Some((entry.tenant_id, entry.seq, entry.hash));
        }
    }
    println!("audit log intact: {checked} entries verified");
    Ok(())
}
