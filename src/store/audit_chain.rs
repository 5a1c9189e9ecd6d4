//! The audit log's hash chain: how an entry is linked to the one before it, and how the chain's
//! recorded end is sealed. Stores call `chain_audit` inside the transaction that appends;
//! `verify` recomputes the same hashes.

use super::AuditRecord;
use crate::vault::AuditKey;

/// The `prev_hash` of a chain's first entry.
pub const AUDIT_GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Links `entry` to the chain after `prev` (the previous entry's (seq, hash), if any): fills
/// `seq`, `prev_hash` and `hash`.
pub fn chain_audit(entry: &mut AuditRecord, prev: Option<(i64, String)>, key: &AuditKey) {
    let (seq, prev_hash) = prev
        .map(|(s, h)| (s + 1, h))
        .unwrap_or((1, AUDIT_GENESIS.to_owned()));
    entry.seq = seq;
    entry.hash = keyed_audit_hash(entry, &prev_hash, key);
    entry.prev_hash = prev_hash;
}

/// What an entry's hash covers, in order: the previous hash and every field (`detail` only when
/// there is one, which keeps the hashes of entries written before it existed). `numbers` holds
/// `seq` and `at` as text.
fn hashed_fields<'a>(
    entry: &'a AuditRecord,
    prev_hash: &'a str,
    numbers: &'a [String; 2],
) -> Vec<&'a str> {
    let mut parts = vec![
        prev_hash,
        &numbers[0],
        &entry.tenant_id,
        &numbers[1],
        &entry.user_id,
        &entry.action,
        entry.connector_id.as_deref().unwrap_or(""),
        &entry.outcome,
        entry.error_code.as_deref().unwrap_or(""),
        &entry.client,
    ];
    if let Some(detail) = &entry.detail {
        parts.push(detail);
    }
    parts
}

fn numbers(entry: &AuditRecord) -> [String; 2] {
    [entry.seq.to_string(), entry.at.to_string()]
}

/// The chained hash of an audit entry: `<key id>:<HMAC-SHA256>` over `hashed_fields`, keyed by
/// the vault's audit key, so rewriting the chain needs the key.
pub fn keyed_audit_hash(entry: &AuditRecord, prev_hash: &str, key: &AuditKey) -> String {
    let numbers = numbers(entry);
    let parts = hashed_fields(entry, prev_hash, &numbers);
    format!("{}:{}", key.id, key.mac(&parts))
}

/// The keyed hash of a count of audit entries: `shard` is `*` where one document counts every
/// entry (SQLite), or the shard's id where the count is spread over several (MongoDB, see
/// `store::mongo::transactions`). The `*` form is the one counts were first sealed with.
pub fn audit_count_hash(shard: &str, count: i64, key: &AuditKey) -> String {
    let count = count.to_string();
    let mac = if shard == "*" {
        key.mac(&["audit-total", &count])
    } else {
        key.mac(&["audit-total", shard, &count])
    };
    format!("{}:{mac}", key.id)
}

/// The hash entries were chained with before hashes were keyed: SHA-256 over the same
/// length-prefixed fields. Verification still accepts it for those old entries.
pub fn legacy_audit_hash(entry: &AuditRecord, prev_hash: &str) -> String {
    use sha2::{Digest, Sha256};
    let numbers = numbers(entry);
    let mut h = Sha256::new();
    for part in hashed_fields(entry, prev_hash, &numbers) {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}
