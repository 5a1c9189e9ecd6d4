//! The MongoDB store, selected when `MONGO_URI` is set. It creates its indexes at start; every
//! query is scoped by `tenant_id`, and updates are compare-and-swap on `version`, so several
//! server processes can share one replica set.

mod agent_auth;
mod chain;
mod documents;
mod events;
mod indexes;
mod pages;
mod sealed;
mod sync;
mod transactions;
mod watch;

use super::*;
use chain::{ChainOp, ChainWrite};
use documents::*;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::Collection;

/// Every write that must be recorded in the audit log runs in a multi-document transaction with
/// its entry, so MongoDB must be a replica set (a single-node one will do).
#[derive(Clone)]
pub struct MongoStore {
    client: mongodb::Client,
    connectors: Collection<Document>,
    audit_heads: Collection<Document>,
    drafts: Collection<Document>,
    audit: Collection<Document>,
    rate_windows: Collection<Document>,
    leases: Collection<Document>,
    oauth_states: Collection<Document>,
    sync_runs: Collection<Document>,
    sync_streams: Collection<Document>,
    sync_records: Collection<Document>,
    sync_schedule: Collection<Document>,
    webhook_endpoints: Collection<Document>,
    webhook_events: Collection<Document>,
    webhook_deliveries: Collection<Document>,
    provider_events: Collection<Document>,
    agent_clients: Collection<Document>,
    agent_grants: Collection<Document>,
    agent_tokens: Collection<Document>,
    /// Audited changes of this process waiting to be committed together (see `chain`).
    chains: chain::Chains,
}

impl MongoStore {
    pub async fn connect(uri: &str, database: &str) -> Result<Self, StoreError> {
        let client = mongodb::Client::with_uri_str(uri)
            .await
            .map_err(map_error)?;
        let db = client.database(database);
        let store = Self {
            client: client.clone(),
            audit_heads: db.collection("audit_heads"),
            connectors: db.collection("connectors"),
            drafts: db.collection("wizard_drafts"),
            audit: db.collection("audit_log"),
            rate_windows: db.collection("rate_windows"),
            leases: db.collection("leases"),
            oauth_states: db.collection("oauth_states"),
            sync_runs: db.collection("sync_runs"),
            sync_streams: db.collection("sync_streams"),
            sync_records: db.collection("sync_records"),
            sync_schedule: db.collection("sync_schedule"),
            webhook_endpoints: db.collection("webhook_endpoints"),
            webhook_events: db.collection("webhook_events"),
            webhook_deliveries: db.collection("webhook_deliveries"),
            provider_events: db.collection("provider_events"),
            agent_clients: db.collection("agent_clients"),
            agent_grants: db.collection("agent_grants"),
            agent_tokens: db.collection("agent_tokens"),
            chains: chain::Chains::new(),
        };
        store.create_indexes().await?;
        Ok(store)
    }
}

#[async_trait]
impl Store for MongoStore {
    fn name(&self) -> &'static str {
        "mongodb"
    }

    async fn watch_queued_work(&self, wake: &WorkWakes) {
        self.watch_inserts(wake).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.connectors
            .find_one(doc! {"tenant_id": "\u{0}ping"})
            .await
            .map(|_| ())
            .map_err(map_error)
    }

    async fn insert(
        &self,
        tenant: &TenantId,
        r: &ConnectorRecord,
        audit: &AuditWrite<'_>,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError> {
        let mut d = to_doc(r);
        d.insert("tenant_id", tenant.as_str());
        self.commit_audited(ChainWrite {
            op: ChainOp::Insert(d),
            entry: audit.entry.clone(),
            key: audit.key.clone(),
            events: events.to_vec(),
        })
        .await
        .map(|_| ())
    }

    async fn get(
        &self,
        tenant: &TenantId,
        id: &ConnectorId,
    ) -> Result<Option<ConnectorRecord>, StoreError> {
        let found = self
            .connectors
            .find_one(doc! {"tenant_id": tenant.as_str(), "connector_id": id})
            .await
            .map_err(map_error)?;
        found.as_ref().map(from_doc).transpose()
    }

    async fn list(
        &self,
        tenant: &TenantId,
        q: &ListQuery,
    ) -> Result<Vec<ConnectorRecord>, StoreError> {
        let mut filter = doc! {"tenant_id": tenant.as_str()};
        if let Some(status) = q.status {
            filter.insert("status", status.as_str());
        }
        if let Some((at, id)) = &q.before {
            filter.insert(
                "$or",
                vec![
                    doc! {"created_at": {"$lt": at}},
                    doc! {"created_at": at, "connector_id": {"$lt": id}},
                ],
            );
        }
        let cursor = self
            .connectors
            .find(filter)
            .projection(doc! {"encrypted_config": 0})
            .sort(doc! {"created_at": -1, "connector_id": -1})
            .limit(limit(q.limit))
            .await
            .map_err(map_error)?;
        collect(cursor, from_doc).await
    }

    async fn update(
        &self,
        tenant: &TenantId,
        r: &ConnectorRecord,
        expected: i64,
        audit: Option<&AuditWrite<'_>>,
        events: &[OutboxEvent],
    ) -> Result<bool, StoreError> {
        let mut set = to_doc(r);
        for immutable in [
            "tenant_id",
            "connector_id",
            "connector_type",
            "created_at",
            "created_by",
        ] {
            set.remove(immutable);
        }
        let filter = doc! {"tenant_id": tenant.as_str(), "connector_id": &r.connector_id, "version": expected};
        if audit.is_none() && events.is_empty() {
            let result = self
                .connectors
                .update_one(filter, doc! {"$set": set})
                .await
                .map_err(map_error)?;
            return Ok(result.matched_count == 1);
        }
        let Some(audit) = audit else {
            // Events without an entry: no chain to move.
            return self
                .transact(&|s| {
                    let (me, filter, set, tenant, events) = (
                        self.clone(),
                        filter.clone(),
                        set.clone(),
                        tenant.as_str().to_owned(),
                        events.to_vec(),
                    );
                    Box::pin(async move {
                        let result = me
                            .connectors
                            .update_one(filter, doc! {"$set": set})
                            .session(&mut *s)
                            .await?;
                        if result.matched_count != 1 {
                            return Ok(false);
                        }
                        me.queue_events_in(s, &tenant, &events).await.map(|_| true)
                    })
                })
                .await;
        };
        self.commit_audited(ChainWrite {
            op: ChainOp::Update { filter, set },
            entry: audit.entry.clone(),
            key: audit.key.clone(),
            events: events.to_vec(),
        })
        .await
        .map(|done| done.is_some())
    }

    async fn delete(
        &self,
        tenant: &TenantId,
        id: &ConnectorId,
        audit: &AuditWrite<'_>,
        events: &[OutboxEvent],
    ) -> Result<bool, StoreError> {
        self.commit_audited(ChainWrite {
            op: ChainOp::Delete(doc! {"tenant_id": tenant.as_str(), "connector_id": id}),
            entry: audit.entry.clone(),
            key: audit.key.clone(),
            events: events.to_vec(),
        })
        .await
        .map(|done| done.is_some())
    }

    async fn put_draft(&self, tenant: &TenantId, d: &DraftRecord) -> Result<(), StoreError> {
        self.drafts
            .delete_many(doc! {"expires_at": {"$lt": d.expires_at - 2 * 86_400_000}})
            .await
            .map_err(map_error)?;
        self.drafts
            .update_one(
                doc! {"tenant_id": tenant.as_str(), "user_id": &d.user_id, "draft_id": &d.draft_id},
                doc! {"$set": {"sealed": &d.sealed, "expires_at": d.expires_at}},
            )
            .upsert(true)
            .await
            .map_err(map_error)?;
        // A user's wizards in progress are bounded: the least recently touched go first.
        let keep: Vec<Document> = self
            .drafts
            .find(doc! {"tenant_id": tenant.as_str(), "user_id": &d.user_id})
            .sort(doc! {"expires_at": -1})
            .skip(u64::try_from(MAX_DRAFTS_PER_USER).unwrap_or(u64::MAX))
            .projection(doc! {"draft_id": 1})
            .await
            .map_err(map_error)?
            .try_collect()
            .await
            .map_err(map_error)?;
        let stale: Vec<&str> = keep
            .iter()
            .filter_map(|k| k.get_str("draft_id").ok())
            .collect();
        if !stale.is_empty() {
            self.drafts
                .delete_many(doc! {"tenant_id": tenant.as_str(), "user_id": &d.user_id, "draft_id": {"$in": stale}})
                .await
                .map_err(map_error)?;
        }
        Ok(())
    }

    async fn get_draft(
        &self,
        tenant: &TenantId,
        user: &str,
        id: &str,
        now: i64,
    ) -> Result<Option<DraftRecord>, StoreError> {
        let found = self
            .drafts
            .find_one(doc! {"tenant_id": tenant.as_str(), "user_id": user, "draft_id": id, "expires_at": {"$gt": now}})
            .await
            .map_err(map_error)?;
        Ok(found.and_then(|d| {
            Some(DraftRecord {
                tenant_id: tenant.clone(),
                user_id: user.to_owned(),
                draft_id: id.to_owned(),
                sealed: d.get_str("sealed").ok()?.to_owned(),
                expires_at: d.get_i64("expires_at").ok()?,
            })
        }))
    }

    async fn delete_draft(
        &self,
        tenant: &TenantId,
        user: &str,
        id: &str,
    ) -> Result<(), StoreError> {
        self.drafts
            .delete_one(doc! {"tenant_id": tenant.as_str(), "user_id": user, "draft_id": id})
            .await
            .map(|_| ())
            .map_err(map_error)
    }

    async fn put_oauth_state(&self, st: &OAuthStateRecord) -> Result<(), StoreError> {
        self.oauth_states
            .delete_many(doc! {"expires_at": {"$lt": st.expires_at - 86_400_000}})
            .await
            .map_err(map_error)?;
        self.oauth_states
            .insert_one(doc! {
                "state_hash": &st.state_hash, "tenant_id": &st.tenant_id, "user_id": &st.user_id,
                "connector_type": &st.connector_type, "draft_id": &st.draft_id, "sealed": &st.sealed,
                "expires_at": st.expires_at,
            })
            .await
            .map(|_| ())
            .map_err(map_error)
    }

    async fn take_oauth_state(&self, hash: &str) -> Result<Option<OAuthStateRecord>, StoreError> {
        // One atomic find-and-delete: of two callbacks with the same state, one gets it.
        let found = self
            .oauth_states
            .find_one_and_delete(doc! {"state_hash": hash})
            .await
            .map_err(map_error)?;
        Ok(found.and_then(|d| {
            let s = |f: &str| d.get_str(f).ok().map(str::to_owned);
            Some(OAuthStateRecord {
                state_hash: s("state_hash")?,
                tenant_id: tenant_of(&d).ok()?,
                user_id: s("user_id")?,
                connector_type: s("connector_type")?,
                draft_id: s("draft_id")?,
                sealed: s("sealed")?,
                expires_at: d.get_i64("expires_at").ok()?,
            })
        }))
    }

    async fn append_audit(&self, audit: &AuditWrite<'_>) -> Result<AuditRecord, StoreError> {
        self.commit_audited(ChainWrite {
            op: ChainOp::Append,
            entry: audit.entry.clone(),
            key: audit.key.clone(),
            events: Vec::new(),
        })
        .await?
        .ok_or_else(|| StoreError::Unavailable("the audit entry was not appended".into()))
    }

    async fn list_audit(
        &self,
        tenant: &TenantId,
        q: &AuditQuery,
    ) -> Result<(Vec<AuditRecord>, Option<i64>), StoreError> {
        let before = match q.before_seq {
            Some(before) => before,
            None => self
                .audit_heads
                .find_one(doc! {"tenant_id": tenant.as_str()})
                .await
                .map_err(map_error)?
                .and_then(|d| d.get_i64("seq").ok())
                .map_or(1, |seq| seq + 1),
        };
        // Bounded by seq, not by matches (see the trait).
        let floor = audit_scan_floor(before);
        let mut filter = doc! {"tenant_id": tenant.as_str(), "seq": {"$lt": before, "$gte": floor}};
        if let Some(c) = &q.connector_id {
            filter.insert("connector_id", c);
        }
        if let Some(a) = q.action {
            filter.insert("action", a.as_str());
        }
        if let Some(o) = q.outcome {
            filter.insert("outcome", o.as_str());
        }
        let cursor = self
            .audit
            .find(filter)
            .sort(doc! {"seq": -1})
            .limit(limit(q.limit))
            .await
            .map_err(map_error)?;
        let rows = collect(cursor, audit_from_doc).await?;
        let next = audit_next_before(&rows, q.limit, floor);
        Ok((rows, next))
    }

    async fn audit_heads(&self) -> Result<AuditHeads, StoreError> {
        let cursor = self
            .audit_heads
            .find(doc! {})
            .sort(doc! {"tenant_id": 1})
            .await
            .map_err(map_error)?;
        let docs: Vec<Document> = cursor.try_collect().await.map_err(map_error)?;
        let mut heads = AuditHeads::default();
        for d in docs {
            let (Ok(tenant), Ok(seq), Ok(hash)) =
                (d.get_str("tenant_id"), d.get_i64("seq"), d.get_str("hash"))
            else {
                return Err(StoreError::Unavailable("malformed audit head".into()));
            };
            if tenant.starts_with('*') {
                heads.counts.push((tenant.to_owned(), seq, hash.to_owned()));
            } else {
                heads
                    .tenants
                    .push((tenant.to_owned(), seq, hash.to_owned()));
            }
        }
        Ok(heads)
    }

    async fn hit(&self, key: &str, window_start: i64, hits: u64) -> Result<u64, StoreError> {
        let inc = i64::try_from(hits).unwrap_or(i64::MAX);
        let expire_at = mongodb::bson::DateTime::from_millis(window_start + 10 * 60_000);
        let updated = self
            .rate_windows
            .find_one_and_update(
                doc! {"key": key, "window_start": window_start},
                doc! {"$inc": {"hits": inc}, "$setOnInsert": {"expire_at": expire_at}},
            )
            .upsert(true)
            .return_document(mongodb::options::ReturnDocument::After)
            .await
            .map_err(map_error)?;
        Ok(updated
            .and_then(|d| d.get_i64("hits").ok())
            .and_then(|h| u64::try_from(h).ok())
            .unwrap_or(hits))
    }

    async fn lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        ttl_ms: i64,
    ) -> Result<bool, StoreError> {
        // Matches our own lease or an expired one; otherwise the upsert collides with the unique
        // name index, which means somebody else holds it.
        let result = self
            .leases
            .update_one(
                doc! {"name": name, "$or": [{"holder": holder}, {"expires_at": {"$lt": now}}]},
                doc! {"$set": {"holder": holder, "expires_at": now + ttl_ms}},
            )
            .upsert(true)
            .await
            .map_err(map_error);
        match result {
            Ok(_) => Ok(true),
            Err(StoreError::Duplicate) => Ok(false),
            Err(other) => Err(other),
        }
    }

    async fn due_for_test(&self, now: i64, n: usize) -> Result<Vec<ConnectorRecord>, StoreError> {
        let mut due = Vec::new();
        for frequency in [
            SyncFrequency::Hourly,
            SyncFrequency::Daily,
            SyncFrequency::Weekly,
        ] {
            let Some(interval) = retest_interval_ms(frequency) else {
                continue;
            };
            let filter = doc! {
                "sync_frequency": frequency.as_str(),
                "$or": [{"last_tested_at": Bson::Null}, {"last_tested_at": {"$lte": now - interval}}],
            };
            let cursor = self
                .connectors
                .find(filter)
                .limit(limit(n))
                .await
                .map_err(map_error)?;
            due.extend(collect(cursor, from_doc).await?);
        }
        due.sort_by_key(|r| r.last_tested_at.unwrap_or(0));
        due.truncate(n);
        Ok(due)
    }

    async fn idle_sign_ins(
        &self,
        connector_type: &str,
        refreshed_before: i64,
        n: usize,
    ) -> Result<Vec<ConnectorRecord>, StoreError> {
        let cursor = self
            .connectors
            .find(doc! {
                "connector_type": connector_type,
                "token_refreshed_at": {"$ne": Bson::Null, "$lt": refreshed_before},
                "status": {"$ne": ConnectorStatus::AuthorizationRequired.as_str()},
            })
            .sort(doc! {"token_refreshed_at": 1})
            .limit(limit(n))
            .await
            .map_err(map_error)?;
        collect(cursor, from_doc).await
    }

    async fn channels_expiring(
        &self,
        before: i64,
        n: usize,
    ) -> Result<Vec<ConnectorRecord>, StoreError> {
        let cursor = self
            .connectors
            .find(doc! {"channel_expires_at": {"$ne": Bson::Null, "$lt": before}})
            .sort(doc! {"channel_expires_at": 1})
            .limit(limit(n))
            .await
            .map_err(map_error)?;
        collect(cursor, from_doc).await
    }

    async fn scan_all(
        &self,
        after: Option<(TenantId, ConnectorId)>,
        n: usize,
    ) -> Result<Vec<ConnectorRecord>, StoreError> {
        let filter = match after {
            Some((t, i)) => {
                doc! {"$or": [{"tenant_id": {"$gt": &t}}, {"tenant_id": &t, "connector_id": {"$gt": i}}]}
            }
            None => doc! {},
        };
        let cursor = self
            .connectors
            .find(filter)
            .sort(doc! {"tenant_id": 1, "connector_id": 1})
            .limit(limit(n))
            .await
            .map_err(map_error)?;
        collect(cursor, from_doc).await
    }

    async fn audit_chain(
        &self,
        after: Option<(String, i64)>,
        n: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let filter = match after {
            Some((t, s)) => {
                doc! {"$or": [{"tenant_id": {"$gt": &t}}, {"tenant_id": &t, "seq": {"$gt": s}}]}
            }
            None => doc! {},
        };
        let cursor = self
            .audit
            .find(filter)
            .sort(doc! {"tenant_id": 1, "seq": 1})
            .limit(limit(n))
            .await
            .map_err(map_error)?;
        collect(cursor, audit_from_doc).await
    }
}
