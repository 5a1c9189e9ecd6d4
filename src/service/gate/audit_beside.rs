//! Audit entries of calls already done (proxied calls: the provider has answered), written in
//! groups: each waits a few milliseconds for others, and the group is one store transaction, so
//! a stream of proxied calls costs one durable commit per group instead of one per call. The
//! caller never waits; a graceful shutdown writes what is waiting (`flush`).

use crate::store::{AuditRecord, AuditWrite, Store};
use crate::vault::AuditKey;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// How long the first entry of a group waits for others.
const LINGER: Duration = Duration::from_millis(5);
/// The most entries one group takes (the store's writer groups up to 128 writes).
const MAX_GROUP: usize = 128;

enum Message {
    Entry(Box<AuditRecord>),
    /// Write what is waiting now, then answer.
    Flush(oneshot::Sender<()>),
}

/// The queue; its writer task starts with the first entry (inside the runtime).
#[derive(Default)]
pub(crate) struct AuditBeside {
    sender: std::sync::OnceLock<mpsc::UnboundedSender<Message>>,
}

impl AuditBeside {
    pub(crate) fn push(&self, store: &Arc<dyn Store>, key: &AuditKey, entry: AuditRecord) {
        let sender = self.sender.get_or_init(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            tokio::spawn(write_groups(store.clone(), key.clone(), receiver));
            sender
        });
        if sender.send(Message::Entry(Box::new(entry))).is_err() {
            tracing::error!("audit entry of a completed call could not be queued");
        }
    }

    /// Writes the entries waiting, if any; returns once they are written (or failed).
    pub(crate) async fn flush(&self) {
        let Some(sender) = self.sender.get() else {
            return;
        };
        let (done, written) = oneshot::channel();
        if sender.send(Message::Flush(done)).is_ok() {
            let _ = written.await;
        }
    }
}

async fn write_groups(
    store: Arc<dyn Store>,
    key: AuditKey,
    mut receiver: mpsc::UnboundedReceiver<Message>,
) {
    while let Some(first) = receiver.recv().await {
        let mut group = Vec::new();
        let mut flushed = Vec::new();
        match first {
            Message::Entry(entry) => {
                group.push(*entry);
                tokio::time::sleep(LINGER).await;
            }
            Message::Flush(done) => flushed.push(done),
        }
        while group.len() < MAX_GROUP {
            match receiver.try_recv() {
                Ok(Message::Entry(entry)) => group.push(*entry),
                Ok(Message::Flush(done)) => flushed.push(done),
                Err(_) => break,
            }
        }
        // Sent together, they reach the store's writer together: one transaction.
        let writes = group.into_iter().map(|entry| {
            let (store, key) = (&store, &key);
            async move {
                let action = entry.action.clone();
                let write = AuditWrite { entry, key };
                if let Err(e) = store.append_audit(&write).await {
                    tracing::error!(error = %e, action, "audit entry of a completed call could not be written");
                }
            }
        });
        futures_util::future::join_all(writes).await;
        for done in flushed {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AuditQuery, SqliteStore};

    fn entry(n: u32) -> AuditRecord {
        AuditRecord {
            seq: 0,
            tenant_id: "acme".into(),
            at: i64::from(n),
            user_id: "u".into(),
            action: "proxy".into(),
            connector_id: Some("conn-1".into()),
            outcome: "ok".into(),
            error_code: None,
            client: "127.0.0.1".into(),
            detail: Some(format!("call {n}")),
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    /// Entries pushed together are written in order, one chain, and a flush returns only once
    /// they are in the store (so a graceful shutdown loses none).
    #[tokio::test]
    async fn pushed_entries_are_written_in_order_by_the_time_a_flush_returns() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.expect("open"));
        let vault = crate::vault::Vault::from_key_list(
            &crate::secret::SecretString::new(crate::vault::generate_key()),
            "K",
        )
        .expect("vault");
        let beside = AuditBeside::default();
        beside.flush().await; // nothing queued yet: returns at once
        for n in 1..=20 {
            beside.push(&store, &vault.audit_key(), entry(n));
        }
        beside.flush().await;
        let tenant = crate::ids::TenantId::parse("acme").expect("tenant");
        let query = AuditQuery {
            limit: 100,
            ..Default::default()
        };
        let (written, _) = store.list_audit(&tenant, &query).await.expect("list");
        let details: Vec<String> = written
            .iter()
            .rev()
            .filter_map(|e| e.detail.clone())
            .collect();
        let expected: Vec<String> = (1..=20).map(|n| format!("call {n}")).collect();
        assert_eq!(details, expected);
    }
}
