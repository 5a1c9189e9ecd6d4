//! Key rotation: everything the vault sealed under an older key is sealed again under the first
//! one — connector configurations (each rewritten with an audit entry, compare-and-swap on its
//! version), then synced records, queued events and endpoint signing secrets (a batch at a time,
//! each value replaced only where it is still as read). A record's change digest is keyed by the
//! encrypting key too, so it is recomputed with it: the next sync sees no change that did not
//! happen. Safe to interrupt and run again.

use super::Maintenance;
use crate::auth::Principal;
use crate::error::Error;
use crate::model::AuditAction;
use crate::service::Caller;
use crate::store::{Reseal, SealedKind};
use crate::vault::Resealed;

const BATCH: usize = 500;

impl Maintenance {
    pub(crate) async fn rotate_keys(
        &self,
        mut progress: impl FnMut(RotationProgress),
    ) -> Result<RotationProgress, Error> {
        let mut stats = RotationProgress::default();
        let mut after = None;
        loop {
            let batch = self.store.scan_all(after.clone(), BATCH).await?;
            let Some(last) = batch.last() else { break };
            after = Some((last.tenant_id.clone(), last.connector_id.clone()));
            for record in batch {
                stats.seen += 1;
                // Current only when under the first key *and* bound to its owner: one stored
                // before ciphertexts named their owner is sealed again, under any key.
                if record.key_id == self.vault.encrypting_key_id()
                    && self.vault.names_owner(&record.encrypted_config)
                {
                    stats.already_current += 1;
                    continue;
                }
                let Ok(config) = self.credentials.open(&record) else {
                    stats.undecryptable += 1;
                    continue;
                };
                let tenant = record.tenant_id.clone();
                let mut next = record.clone();
                self.credentials.seal(&mut next, &config);
                next.version += 1;
                let system = Caller::new(Principal::system(tenant.clone(), "rotate-keys"), "cli");
                // Re-encrypted and audited together; an audit failure stops the rotation.
                let audit =
                    self.gate
                        .audited(&system, AuditAction::RotateKey, &record.connector_id);
                if self
                    .store
                    .update(&tenant, &next, record.version, Some(&audit), &[])
                    .await?
                {
                    stats.rotated += 1;
                } else {
                    stats.conflicts += 1;
                }
            }
            progress(stats.clone());
        }
        for kind in SealedKind::ALL {
            self.reseal_kind(kind, &mut stats, &mut progress).await?;
        }
        Ok(stats)
    }

    async fn reseal_kind(
        &self,
        kind: SealedKind,
        stats: &mut RotationProgress,
        progress: &mut impl FnMut(RotationProgress),
    ) -> Result<(), Error> {
        let mut after: Option<String> = None;
        loop {
            let batch = self
                .store
                .sealed_values(kind, after.as_deref(), BATCH)
                .await?;
            let Some(last) = batch.last() else {
                return Ok(());
            };
            after = Some(last.position.clone());
            let mut changes = Vec::new();
            for value in batch {
                stats.values_seen += 1;
                match self.vault.reseal(&value.token) {
                    Resealed::Current => {}
                    Resealed::Unopenable => stats.values_undecryptable += 1,
                    Resealed::Rewritten { token, plaintext } => {
                        let digest = value.owner.as_deref().and_then(|owner| {
                            let text = plaintext
                                .strip_prefix(owner.as_bytes())?
                                .strip_prefix(b"\n")?;
                            let text = std::str::from_utf8(text).ok()?;
                            Some(self.vault.audit_key().short_mac(&["record", text]))
                        });
                        changes.push(Reseal {
                            value,
                            token,
                            digest,
                        });
                    }
                }
            }
            if !changes.is_empty() {
                stats.values_rotated += self.store.reseal(kind, &changes).await?;
            }
            progress(stats.clone());
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RotationProgress {
    /// Connector configurations.
    pub(crate) seen: u64,
    pub(crate) rotated: u64,
    pub(crate) already_current: u64,
    pub(crate) undecryptable: u64,
    pub(crate) conflicts: u64,
    /// Synced records, queued events and endpoint signing secrets.
    pub(crate) values_seen: u64,
    pub(crate) values_rotated: u64,
    pub(crate) values_undecryptable: u64,
}
