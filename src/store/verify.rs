//! Checking the audit log: every chain unbroken and unaltered, and ending where the recorded
//! heads say it ends, so that deleting a chain's last entries, or a whole chain, is noticed.

use super::{audit_count_hash, keyed_audit_hash, legacy_audit_hash, Store, AUDIT_GENESIS};
use crate::vault::Vault;
use std::collections::BTreeMap;

/// What a verification found, when nothing was wrong.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct AuditVerified {
    pub entries: u64,
    /// Entries written under an encryption key that is no longer loaded: their place in the
    /// chain was checked, their contents cannot be without that key.
    pub under_retired_keys: u64,
    /// The recorded count was last sealed under a key that is not loaded.
    pub count_unsealed: bool,
}

/// Verifies the whole audit log; returns what was checked, or what is wrong.
pub async fn verify_audit(store: &dyn Store, vault: &Vault) -> Result<AuditVerified, String> {
    let heads = store.audit_heads().await.map_err(|e| e.to_string())?;
    let mut expected_ends: BTreeMap<String, (i64, String)> = heads
        .tenants
        .into_iter()
        .map(|(tenant, seq, hash)| (tenant, (seq, hash)))
        .collect();
    let mut after = None;
    // (tenant, seq, hash, whether that chain has had a keyed entry)
    let mut previous: Option<(String, i64, String, bool)> = None;
    let mut checked = 0u64;
    let mut retired = 0u64;
    let mut ended = |last: &Option<(String, i64, String, bool)>| -> Result<(), String> {
        let Some((tenant, seq, hash, _)) = last else {
            return Ok(());
        };
        match expected_ends.remove(tenant) {
            Some((head_seq, head_hash)) if head_seq == *seq && head_hash == *hash => Ok(()),
            Some((head_seq, _)) => Err(format!(
                "audit chain of tenant {tenant} ends at entry {seq}, but its recorded head is entry {head_seq}: entries were removed or added"
            )),
            None => Ok(()), // written before heads were recorded
        }
    };
    loop {
        let batch = store
            .audit_chain(after.clone(), 1000)
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = batch.last() else { break };
        after = Some((last.tenant_id.clone(), last.seq));
        for entry in batch {
            let same_chain = previous
                .as_ref()
                .is_some_and(|(tenant, ..)| *tenant == entry.tenant_id);
            if !same_chain {
                ended(&previous)?;
            }
            let (expected_seq, expected_prev, keyed_before) = match &previous {
                Some((tenant, seq, hash, keyed)) if *tenant == entry.tenant_id => {
                    (seq + 1, hash.clone(), *keyed)
                }
                _ => (1, AUDIT_GENESIS.to_owned(), false),
            };
            let keyed = entry.hash.contains(':');
            let broken = if entry.seq != expected_seq {
                Some(format!(
                    "expected entry {expected_seq} next, found {}",
                    entry.seq
                ))
            } else if entry.prev_hash != expected_prev {
                Some("its previous-hash does not match the entry before it".to_owned())
            } else if keyed {
                let key_id = entry.hash.split(':').next().unwrap_or_default();
                match vault.audit_key_by_id(key_id) {
                    None => {
                        retired += 1;
                        None
                    }
                    Some(key) if keyed_audit_hash(&entry, &entry.prev_hash, &key) != entry.hash => {
                        Some("its contents do not match its hash (altered)".to_owned())
                    }
                    Some(_) => None,
                }
            } else if keyed_before {
                Some("an unkeyed entry follows keyed ones (rewritten)".to_owned())
            } else if legacy_audit_hash(&entry, &entry.prev_hash) != entry.hash {
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
            previous = Some((
                entry.tenant_id,
                entry.seq,
                entry.hash,
                keyed_before || keyed,
            ));
        }
    }
    ended(&previous)?;
    if let Some((tenant, (seq, _))) = expected_ends.into_iter().next() {
        return Err(format!(
            "audit chain of tenant {tenant} is missing: its recorded head is entry {seq}, but no entries remain"
        ));
    }
    let mut count_unsealed = false;
    if !heads.counts.is_empty() {
        let mut total = 0i64;
        for (shard, count, hash) in &heads.counts {
            let key_id = hash.split(':').next().unwrap_or_default();
            // Written last under a key no longer loaded (a process started with another key):
            // the count is still compared, its seal cannot be checked — said, like retired
            // entries.
            match vault.audit_key_by_id(key_id) {
                Some(key) if audit_count_hash(shard, *count, &key) != *hash => {
                    return Err("the audit log's recorded count was altered".to_owned());
                }
                Some(_) => {}
                None => count_unsealed = true,
            }
            total = total.saturating_add(*count);
        }
        let entries = i64::try_from(checked).unwrap_or(i64::MAX);
        if entries != total {
            return Err(format!(
                "the audit log holds {entries} entries, but {total} were written: entries or whole chains were removed"
            ));
        }
    }
    Ok(AuditVerified {
        entries: checked,
        under_retired_keys: retired,
        count_unsealed,
    })
}
