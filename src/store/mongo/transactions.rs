//! Multi-document transactions: a change and its audit entry are written together, and a
//! transaction the server aborts for a transient reason is run again from the start.
//!
//! MongoDB does not queue a transaction behind another that wrote the same document: the later
//! one is aborted at once with a `WriteConflict` labelled `TransientTransactionError`. Within a
//! process, audited changes of one chain are grouped so they do not meet (`chain`), and the keyed
//! count of all entries is kept in `COUNT_SHARDS` documents so different tenants' changes do not
//! meet on one. What still conflicts (another process, an election) is run again after a
//! randomised, growing pause, until `TRANSACTION_DEADLINE`; a commit whose outcome is unknown is
//! retried alone, as the driver's documentation prescribes.

use super::super::*;
use super::documents::*;
use super::MongoStore;
use mongodb::error::{TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT};
use mongodb::ClientSession;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// How long a transaction keeps being retried before the write answers "unavailable". It
/// covers a replica set's election (about 10–12 s with the default settings), so a primary
/// stepping down delays writes rather than failing them.
pub(crate) const TRANSACTION_DEADLINE: Duration = Duration::from_secs(30);

/// The pause before a retry grows from this, doubling, up to `BACKOFF_CAP`, and a random part of
/// it is taken (so that writers that conflicted once do not meet again on the same beat).
const BACKOFF_START: Duration = Duration::from_millis(2);
const BACKOFF_CAP: Duration = Duration::from_millis(250);

/// How many documents the count of all audit entries is spread over (`*00` … `*31`).
pub(super) const COUNT_SHARDS: usize = 32;

pub(super) type TxFuture<'s, T> =
    Pin<Box<dyn Future<Output = mongodb::error::Result<T>> + Send + 's>>;

/// The count shard a tenant's entries are counted in: FNV-1a of its id (stable across processes
/// and releases, unlike the standard library's hasher).
pub(super) fn count_shard(tenant: &str) -> usize {
    let hash = tenant.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    // The remainder is below COUNT_SHARDS, so it fits.
    usize::try_from(hash % COUNT_SHARDS as u64).unwrap_or_default()
}

/// The id of a count shard's document in `audit_heads` (a tenant id never starts with `*`).
pub(super) fn count_shard_id(shard: usize) -> String {
    format!("*{shard:02}")
}

fn backoff(attempt: u32) -> Duration {
    let ceiling = BACKOFF_START
        .saturating_mul(1 << attempt.min(16))
        .min(BACKOFF_CAP);
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    ceiling / 2 + Duration::from_nanos(rand::random_range(0..=nanos / 2))
}

fn transient(e: &mongodb::error::Error) -> bool {
    e.contains_label(TRANSIENT_TRANSACTION_ERROR)
}

impl MongoStore {
    /// Runs `op` in a transaction, again from the start when the server aborts it for a
    /// transient reason.
    pub(super) async fn transact<T>(
        &self,
        op: &(dyn for<'s> Fn(&'s mut ClientSession) -> TxFuture<'s, T> + Sync),
    ) -> Result<T, StoreError> {
        let deadline = Instant::now() + TRANSACTION_DEADLINE;
        let mut session = self.client.start_session().await.map_err(map_error)?;
        let mut attempt = 0u32;
        loop {
            let failed = match self.attempt(&mut session, op, deadline).await {
                Ok(value) => return Ok(value),
                Err(e) if transient(&e) && Instant::now() < deadline => e,
                Err(e) => return Err(map_error(e)),
            };
            tracing::debug!(attempt, error = %failed, "transaction aborted; running it again");
            tokio::time::sleep(
                backoff(attempt).min(deadline.saturating_duration_since(Instant::now())),
            )
            .await;
            attempt += 1;
        }
    }

    /// One run of `op` and its commit. A commit whose result is unknown (the primary went away
    /// while committing) is committed again: the server applies it at most once.
    async fn attempt<T>(
        &self,
        session: &mut ClientSession,
        op: &(dyn for<'s> Fn(&'s mut ClientSession) -> TxFuture<'s, T> + Sync),
        deadline: Instant,
    ) -> mongodb::error::Result<T> {
        session.start_transaction().await?;
        let value = match op(session).await {
            Ok(value) => value,
            Err(e) => {
                let _ = session.abort_transaction().await;
                return Err(e);
            }
        };
        let mut attempt = 0u32;
        loop {
            match session.commit_transaction().await {
                Ok(()) => return Ok(value),
                Err(e)
                    if e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT)
                        && Instant::now() < deadline =>
                {
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}
