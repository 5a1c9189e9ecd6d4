//! Audited changes, committed in groups. Every audited change moves its tenant's audit chain,
//! so a tenant's changes cannot run side by side: MongoDB would abort all but one. Run one after
//! another, each waits for the one before it to commit (a majority write: milliseconds), which
//! capped one tenant at about 200 changes a second. So the changes of one chain that wait in
//! this process are committed together: the first to get the turn takes every change queued
//! behind it and applies them in one transaction — each change, then each entry linked to the
//! one before it in memory, then the heads and the count once — and tells each caller its
//! outcome. The committing is a task of its own, so a caller that goes away changes nothing. A change that fails for its own reason (a duplicate id) is left out and the rest
//! are committed again without it.
//!
//! Chains are spread over `COUNT_SHARDS` turns by tenant (see `transactions::count_shard`);
//! changes of other processes still conflict, and are retried by `transact`.

use super::super::audit_chain::*;
use super::super::*;
use super::documents::*;
use super::transactions::{count_shard, count_shard_id, TxFuture, COUNT_SHARDS};
use super::MongoStore;
use mongodb::bson::{doc, Document};
use mongodb::error::TRANSIENT_TRANSACTION_ERROR;
use mongodb::ClientSession;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::oneshot;

/// The most changes one transaction carries (MongoDB's transactions should stay small).
const GROUP_LIMIT: usize = 256;

/// What an audited change does besides appending its entry.
#[derive(Clone)]
pub(super) enum ChainOp {
    /// Only the entry.
    Append,
    Insert(Document),
    /// `$set` on the connector `filter` finds (a compare-and-swap on its version).
    Update {
        filter: Document,
        set: Document,
    },
    /// The connector `filter` (its `tenant_id` and `connector_id`) finds, with its sync data and
    /// provider events.
    Delete(Document),
}

/// An audited change: the op, its entry and the events it queues.
#[derive(Clone)]
pub(super) struct ChainWrite {
    pub op: ChainOp,
    pub entry: AuditRecord,
    pub key: AuditKey,
    pub events: Vec<OutboxEvent>,
}

/// What became of a change: whether it happened (an update or delete that found nothing did
/// not, and appended nothing), and its entry as chained.
pub(super) type ChainOutcome = Result<Option<AuditRecord>, StoreError>;

type Waiting = (ChainWrite, oneshot::Sender<ChainOutcome>);

#[derive(Default)]
struct Turn {
    queue: Mutex<Vec<Waiting>>,
    turn: tokio::sync::Mutex<()>,
}

/// One queue and one turn per count shard.
#[derive(Clone)]
pub(super) struct Chains(Arc<[Turn]>);

impl Chains {
    pub(super) fn new() -> Self {
        Self((0..COUNT_SHARDS).map(|_| Turn::default()).collect())
    }
}

impl MongoStore {
    /// Commits `write`, with whatever other changes of its turn are waiting. The committing
    /// runs in a task of its own: a caller that goes away (a request cancelled) neither takes
    /// the others' group down with it nor leaves its change waiting for the next caller.
    pub(super) async fn commit_audited(&self, write: ChainWrite) -> ChainOutcome {
        let shard = count_shard(&write.entry.tenant_id);
        let (tx, rx) = oneshot::channel();
        self.chains.0[shard]
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((write, tx));
        let store = self.clone();
        tokio::spawn(async move { store.commit_queued(shard).await });
        rx.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable(
                "an audited change was not committed".into(),
            ))
        })
    }

    /// Takes the shard's turn and commits what is queued, group after group, until nothing is
    /// (a change queued meanwhile was either taken here or has a task of its own coming).
    async fn commit_queued(&self, shard: usize) {
        let turn = &self.chains.0[shard];
        let _turn = turn.turn.lock().await;
        loop {
            let group: Vec<Waiting> = {
                let mut queue = turn.queue.lock().unwrap_or_else(PoisonError::into_inner);
                let take = queue.len().min(GROUP_LIMIT);
                queue.drain(..take).collect()
            };
            if group.is_empty() {
                return;
            }
            self.commit_group(group).await;
        }
    }

    /// Commits `group` in one transaction and answers each change; a change that fails on its
    /// own is answered with its error and the others are committed without it.
    async fn commit_group(&self, mut group: Vec<Waiting>) {
        while !group.is_empty() {
            let writes: Vec<ChainWrite> = group.iter().map(|(w, _)| w.clone()).collect();
            let failed_at: Arc<Mutex<Option<usize>>> = Arc::default();
            let committed = self
                .transact(&|s| -> TxFuture<'_, Vec<Option<AuditRecord>>> {
                    let (me, writes, failed_at) = (self.clone(), writes.clone(), failed_at.clone());
                    Box::pin(async move { me.apply_group(s, &writes, &failed_at).await })
                })
                .await;
            match committed {
                Ok(outcomes) => {
                    for ((_, answer), outcome) in group.drain(..).zip(outcomes) {
                        let _ = answer.send(Ok(outcome));
                    }
                }
                Err(e) => {
                    let culprit = *failed_at.lock().unwrap_or_else(PoisonError::into_inner);
                    match culprit {
                        // Only that change failed: it is answered, the rest go again.
                        Some(i) if group.len() > 1 => {
                            let (_, answer) = group.remove(i);
                            let _ = answer.send(Err(e));
                        }
                        _ => {
                            for (_, answer) in group.drain(..) {
                                let _ = answer.send(Err(e.clone()));
                            }
                        }
                    }
                }
            }
        }
    }

    /// One run of a group inside a transaction: each change and its events, then every entry,
    /// each chain's head and each count shard written once.
    async fn apply_group(
        &self,
        s: &mut ClientSession,
        writes: &[ChainWrite],
        failed_at: &Mutex<Option<usize>>,
    ) -> mongodb::error::Result<Vec<Option<AuditRecord>>> {
        let mut heads: HashMap<String, Option<(i64, String)>> = HashMap::new();
        let mut counts: HashMap<String, (i64, AuditKey)> = HashMap::new();
        let mut entries: Vec<Document> = Vec::new();
        let mut outcomes = Vec::with_capacity(writes.len());
        *failed_at.lock().unwrap_or_else(PoisonError::into_inner) = None;
        // A change is blamed only for an error of its own (a duplicate id): what is transient
        // (a conflict, an election) is the group's, retried and, past the deadline, the
        // group's answer.
        let blame = |i: usize| {
            move |e: mongodb::error::Error| {
                if !e.contains_label(TRANSIENT_TRANSACTION_ERROR) {
                    *failed_at.lock().unwrap_or_else(PoisonError::into_inner) = Some(i);
                }
                e
            }
        };
        for (i, w) in writes.iter().enumerate() {
            if !self.apply(s, &w.op).await.map_err(blame(i))? {
                outcomes.push(None);
                continue;
            }
            let tenant = w.entry.tenant_id.clone();
            let head = match heads.get(&tenant) {
                Some(head) => head.clone(),
                None => self.stored_head(s, &tenant).await?,
            };
            let shard = count_shard_id(count_shard(&tenant));
            let counted = match counts.get(&shard) {
                Some((n, _)) => *n,
                None => self.stored_count(s, &shard).await?,
            };
            let mut entry = w.entry.clone();
            chain_audit(&mut entry, head, &w.key);
            heads.insert(tenant.clone(), Some((entry.seq, entry.hash.clone())));
            counts.insert(shard, (counted + 1, w.key.clone()));
            entries.push(audit_to_doc(&entry));
            self.queue_events_in(s, &tenant, &w.events)
                .await
                .map_err(blame(i))?;
            outcomes.push(Some(entry));
        }
        if !entries.is_empty() {
            self.audit.insert_many(entries).session(&mut *s).await?;
        }
        let ends = heads
            .into_iter()
            .filter_map(|(tenant, head)| head.map(|(seq, hash)| (tenant, seq, hash)));
        let sealed_counts = counts
            .into_iter()
            .map(|(shard, (n, key))| (shard.clone(), n, audit_count_hash(&shard, n, &key)));
        for (id, seq, hash) in ends.chain(sealed_counts) {
            self.audit_heads
                .update_one(
                    doc! {"tenant_id": &id},
                    doc! {"$set": {"seq": seq, "hash": hash}},
                )
                .upsert(true)
                .session(&mut *s)
                .await?;
        }
        Ok(outcomes)
    }

    /// Applies `op`; whether it happened.
    async fn apply(&self, s: &mut ClientSession, op: &ChainOp) -> mongodb::error::Result<bool> {
        Ok(match op {
            ChainOp::Append => true,
            ChainOp::Insert(connector) => {
                self.connectors
                    .insert_one(connector.clone())
                    .session(&mut *s)
                    .await?;
                true
            }
            ChainOp::Update { filter, set } => {
                self.connectors
                    .update_one(filter.clone(), doc! {"$set": set.clone()})
                    .session(&mut *s)
                    .await?
                    .matched_count
                    == 1
            }
            ChainOp::Delete(filter) => {
                let gone = self
                    .connectors
                    .delete_one(filter.clone())
                    .session(&mut *s)
                    .await?
                    .deleted_count
                    == 1;
                if gone {
                    self.delete_sync_data(s, filter).await?;
                    self.provider_events
                        .delete_many(filter.clone())
                        .session(&mut *s)
                        .await?;
                }
                gone
            }
        })
    }

    /// A chain's recorded end, read inside the transaction.
    async fn stored_head(
        &self,
        s: &mut ClientSession,
        tenant: &str,
    ) -> mongodb::error::Result<Option<(i64, String)>> {
        Ok(self
            .audit_heads
            .find_one(doc! {"tenant_id": tenant})
            .session(&mut *s)
            .await?
            .and_then(|d| Some((d.get_i64("seq").ok()?, d.get_str("hash").ok()?.to_owned()))))
    }

    /// A count shard's number of entries (none yet: 0).
    async fn stored_count(
        &self,
        s: &mut ClientSession,
        shard: &str,
    ) -> mongodb::error::Result<i64> {
        Ok(self
            .audit_heads
            .find_one(doc! {"tenant_id": shard})
            .session(&mut *s)
            .await?
            .and_then(|d| d.get_i64("seq").ok())
            .unwrap_or(0))
    }
}
