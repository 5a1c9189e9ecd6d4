//! Multi-document transactions: a change and its audit entry are written together, and a
//! transaction the server aborts for a transient reason is run again from the start.

use super::super::audit_chain::*;
use super::super::*;
use super::documents::*;
use super::MongoStore;
use mongodb::bson::doc;
use mongodb::error::{TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT};
use mongodb::ClientSession;
use std::future::Future;
use std::pin::Pin;

/// Attempts at a transaction that the server aborted for a transient reason (a write conflict
/// with another process appending to the same audit chain).
pub(super) const TRANSACTION_TRIES: usize = 16;

pub(super) type TxFuture<'s, T> =
    Pin<Box<dyn Future<Output = mongodb::error::Result<T>> + Send + 's>>;

impl MongoStore {
    /// Runs `op` in a transaction, again from the start when the server aborts it for a
    /// transient reason.
    pub(super) async fn transact<T>(
        &self,
        op: &(dyn for<'s> Fn(&'s mut ClientSession) -> TxFuture<'s, T> + Sync),
    ) -> Result<T, StoreError> {
        let mut last = None;
        for _ in 0..TRANSACTION_TRIES {
            let mut session = self.client.start_session().await.map_err(map_error)?;
            session.start_transaction().await.map_err(map_error)?;
            match op(&mut session).await {
                Ok(value) => loop {
                    match session.commit_transaction().await {
                        Ok(()) => return Ok(value),
                        Err(e) if e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) => continue,
                        Err(e) if e.contains_label(TRANSIENT_TRANSACTION_ERROR) => {
                            last = Some(e);
                            break;
                        }
                        Err(e) => return Err(map_error(e)),
                    }
                },
                Err(e) => {
                    let _ = session.abort_transaction().await;
                    if !e.contains_label(TRANSIENT_TRANSACTION_ERROR) {
                        return Err(map_error(e));
                    }
                    last = Some(e);
                }
            }
        }
        Err(last.map_or_else(
            || StoreError::Unavailable("transaction contention".into()),
            map_error,
        ))
    }

    /// Appends `e` to its tenant's chain inside the session's transaction, moving the chain's
    /// head and the keyed count of all entries with it.
    pub(super) async fn append_in(
        &self,
        s: &mut ClientSession,
        mut e: AuditRecord,
        key: &AuditKey,
    ) -> mongodb::error::Result<AuditRecord> {
        let head = self
            .audit_heads
            .find_one(doc! {"tenant_id": &e.tenant_id})
            .session(&mut *s)
            .await?
            .and_then(|d| Some((d.get_i64("seq").ok()?, d.get_str("hash").ok()?.to_owned())));
        let total = match self
            .audit_heads
            .find_one(doc! {"tenant_id": "*"})
            .session(&mut *s)
            .await?
            .and_then(|d| d.get_i64("seq").ok())
        {
            Some(total) => total,
            None => i64::try_from(self.audit.count_documents(doc! {}).session(&mut *s).await?)
                .unwrap_or(i64::MAX),
        } + 1;
        chain_audit(&mut e, head, key);
        self.audit
            .insert_one(audit_to_doc(&e))
            .session(&mut *s)
            .await?;
        for (tenant, seq, hash) in [
            (e.tenant_id.clone(), e.seq, e.hash.clone()),
            ("*".to_owned(), total, audit_total_hash(total, key)),
        ] {
            self.audit_heads
                .update_one(
                    doc! {"tenant_id": &tenant},
                    doc! {"$set": {"seq": seq, "hash": hash}},
                )
                .upsert(true)
                .session(&mut *s)
                .await?;
        }
        Ok(e)
    }
}
