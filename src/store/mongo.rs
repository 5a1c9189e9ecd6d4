//! The MongoDB store, selected when `MONGO_URI` is set. It creates its indexes at start; every
//! query is scoped by `tenant_id`, and updates are compare-and-swap on `version`, so several
//! server processes can share one replica set.

use super::*;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::error::{TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT};
use mongodb::options::IndexOptions;
use mongodb::{ClientSession, Collection, IndexModel};
use std::future::Future;
use std::pin::Pin;

/// Attempts at a transaction that the server aborted for a transient reason (a write conflict
/// with another process appending to the same audit chain).
const TRANSACTION_TRIES: usize = 16;

type TxFuture<'s, T> = Pin<Box<dyn Future<Output = mongodb::error::Result<T>> + Send + 's>>;

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
}

fn map_error(e: mongodb::error::Error) -> StoreError {
    use mongodb::error::{ErrorKind, WriteFailure};
    match *e.kind {
        ErrorKind::Write(WriteFailure::WriteError(ref w)) if w.code == 11000 => {
            StoreError::Duplicate
        }
        ErrorKind::InsertMany(_) | ErrorKind::Write(_) if e.to_string().contains("E11000") => {
            StoreError::Duplicate
        }
        _ => StoreError::Unavailable(e.to_string()),
    }
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
        };
        store.create_indexes().await?;
        Ok(store)
    }

    async fn create_indexes(&self) -> Result<(), StoreError> {
        let unique = || IndexOptions::builder().unique(true).build();
        let index = |keys: Document, unique_index: bool| {
            let builder = IndexModel::builder().keys(keys);
            if unique_index {
                builder.options(unique()).build()
            } else {
                builder.build()
            }
        };
        self.connectors
            .create_indexes([
                index(doc! {"tenant_id": 1, "connector_id": 1}, true),
                index(doc! {"tenant_id": 1, "status": 1}, false),
                index(
                    doc! {"tenant_id": 1, "created_at": -1, "connector_id": -1},
                    false,
                ),
            ])
            .await
            .map_err(map_error)?;
        self.drafts
            .create_index(index(
                doc! {"tenant_id": 1, "user_id": 1, "draft_id": 1},
                true,
            ))
            .await
            .map_err(map_error)?;
        self.audit
            .create_index(index(doc! {"tenant_id": 1, "seq": 1}, true))
            .await
            .map_err(map_error)?;
        self.audit_heads
            .create_index(index(doc! {"tenant_id": 1}, true))
            .await
            .map_err(map_error)?;
        self.rate_windows
            .create_index(index(doc! {"key": 1, "window_start": 1}, true))
            .await
            .map_err(map_error)?;
        let expire = IndexOptions::builder()
            .expire_after(std::time::Duration::from_secs(0))
            .build();
        self.rate_windows
            .create_index(
                IndexModel::builder()
                    .keys(doc! {"expire_at": 1})
                    .options(expire)
                    .build(),
            )
            .await
            .map_err(map_error)?;
        self.leases
            .create_index(index(doc! {"name": 1}, true))
            .await
            .map_err(map_error)?;
        self.connectors
            .create_index(index(
                doc! {"connector_type": 1, "token_refreshed_at": 1},
                false,
            ))
            .await
            .map_err(map_error)?;
        self.oauth_states
            .create_index(index(doc! {"state_hash": 1}, true))
            .await
            .map_err(map_error)?;
        Ok(())
    }
}

fn opt_i64(v: Option<i64>) -> Bson {
    v.map(Bson::Int64).unwrap_or(Bson::Null)
}

fn opt_str(v: &Option<String>) -> Bson {
    v.clone().map(Bson::String).unwrap_or(Bson::Null)
}

fn to_doc(r: &ConnectorRecord) -> Document {
    doc! {
        "tenant_id": &r.tenant_id,
        "connector_id": &r.connector_id,
        "connector_type": &r.connector_type,
        "display_name": &r.display_name,
        "status": r.status.as_str(),
        "sync_frequency": r.sync_frequency.as_str(),
        "encrypted_config": &r.encrypted_config,
        "key_id": &r.key_id,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "created_by": &r.created_by,
        "updated_by": &r.updated_by,
        "last_tested_at": opt_i64(r.last_tested_at),
        "last_sync_at": opt_i64(r.last_sync_at),
        "error_code": opt_str(&r.error_code),
        "error_message": opt_str(&r.error_message),
        "version": r.version,
        "token_expires_at": opt_i64(r.token_expires_at),
        "token_refreshed_at": opt_i64(r.token_refreshed_at),
    }
}

fn from_doc(d: &Document) -> Result<ConnectorRecord, StoreError> {
    let bad =
        |field: &str| StoreError::Unavailable(format!("malformed connector document: {field}"));
    let s = |field: &str| d.get_str(field).map(str::to_owned).map_err(|_| bad(field));
    let i = |field: &str| d.get_i64(field).map_err(|_| bad(field));
    let oi = |field: &str| d.get_i64(field).ok();
    let os = |field: &str| d.get_str(field).ok().map(str::to_owned);
    Ok(ConnectorRecord {
        tenant_id: s("tenant_id")?,
        connector_id: s("connector_id")?,
        connector_type: s("connector_type")?,
        display_name: s("display_name")?,
        status: ConnectorStatus::parse(&s("status")?).ok_or_else(|| bad("status"))?,
        sync_frequency: SyncFrequency::parse(&s("sync_frequency")?)
            .ok_or_else(|| bad("sync_frequency"))?,
        // Absent from listings (projected out).
        encrypted_config: os("encrypted_config").unwrap_or_default(),
        key_id: s("key_id")?,
        created_at: i("created_at")?,
        updated_at: i("updated_at")?,
        created_by: s("created_by")?,
        updated_by: s("updated_by")?,
        last_tested_at: oi("last_tested_at"),
        last_sync_at: oi("last_sync_at"),
        error_code: os("error_code"),
        error_message: os("error_message"),
        version: i("version")?,
        token_expires_at: oi("token_expires_at"),
        token_refreshed_at: oi("token_refreshed_at"),
    })
}

fn audit_to_doc(e: &AuditRecord) -> Document {
    doc! {
        "tenant_id": &e.tenant_id, "seq": e.seq, "at": e.at, "user_id": &e.user_id, "action": &e.action,
        "connector_id": opt_str(&e.connector_id), "outcome": &e.outcome, "error_code": opt_str(&e.error_code),
        "client": &e.client, "prev_hash": &e.prev_hash, "hash": &e.hash, "detail": opt_str(&e.detail),
    }
}

fn audit_from_doc(d: &Document) -> Result<AuditRecord, StoreError> {
    let bad = |field: &str| StoreError::Unavailable(format!("malformed audit document: {field}"));
    let s = |field: &str| d.get_str(field).map(str::to_owned).map_err(|_| bad(field));
    let i = |field: &str| d.get_i64(field).map_err(|_| bad(field));
    Ok(AuditRecord {
        tenant_id: s("tenant_id")?,
        seq: i("seq")?,
        at: i("at")?,
        user_id: s("user_id")?,
        action: s("action")?,
        connector_id: d.get_str("connector_id").ok().map(str::to_owned),
        outcome: s("outcome")?,
        error_code: d.get_str("error_code").ok().map(str::to_owned),
        client: s("client")?,
        prev_hash: s("prev_hash")?,
        hash: s("hash")?,
        detail: d.get_str("detail").ok().map(str::to_owned),
    })
}

impl MongoStore {
    /// Runs `op` in a transaction, again from the start when the server aborts it for a
    /// transient reason.
    async fn transact<T>(
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
    async fn append_in(
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

async fn collect<T>(
    cursor: mongodb::Cursor<Document>,
    convert: fn(&Document) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let docs: Vec<Document> = cursor.try_collect().await.map_err(map_error)?;
    docs.iter().map(convert).collect()
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl Store for MongoStore {
    fn name(&self) -> &'static str {
        "mongodb"
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
    ) -> Result<(), StoreError> {
        let mut d = to_doc(r);
        d.insert("tenant_id", tenant.as_str());
        self.transact(&|s| {
            let (me, d, entry, key) = (
                self.clone(),
                d.clone(),
                audit.entry.clone(),
                audit.key.clone(),
            );
            Box::pin(async move {
                me.connectors.insert_one(d).session(&mut *s).await?;
                me.append_in(s, entry, &key).await.map(|_| ())
            })
        })
        .await
    }

    async fn get(
        &self,
        tenant: &TenantId,
        id: &str,
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
        let Some(audit) = audit else {
            let result = self
                .connectors
                .update_one(filter, doc! {"$set": set})
                .await
                .map_err(map_error)?;
            return Ok(result.matched_count == 1);
        };
        self.transact(&|s| {
            let (me, filter, set, entry, key) = (
                self.clone(),
                filter.clone(),
                set.clone(),
                audit.entry.clone(),
                audit.key.clone(),
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
                me.append_in(s, entry, &key).await.map(|_| true)
            })
        })
        .await
    }

    async fn delete(
        &self,
        tenant: &TenantId,
        id: &str,
        audit: &AuditWrite<'_>,
    ) -> Result<bool, StoreError> {
        let filter = doc! {"tenant_id": tenant.as_str(), "connector_id": id};
        self.transact(&|s| {
            let (me, filter, entry, key) = (
                self.clone(),
                filter.clone(),
                audit.entry.clone(),
                audit.key.clone(),
            );
            Box::pin(async move {
                let result = me.connectors.delete_one(filter).session(&mut *s).await?;
                if result.deleted_count != 1 {
                    return Ok(false);
                }
                me.append_in(s, entry, &key).await.map(|_| true)
            })
        })
        .await
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
                tenant_id: tenant.as_str().to_owned(),
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
                tenant_id: s("tenant_id")?,
                user_id: s("user_id")?,
                connector_type: s("connector_type")?,
                draft_id: s("draft_id")?,
                sealed: s("sealed")?,
                expires_at: d.get_i64("expires_at").ok()?,
            })
        }))
    }

    async fn append_audit(&self, audit: &AuditWrite<'_>) -> Result<AuditRecord, StoreError> {
        self.transact(&|s| {
            let (me, entry, key) = (self.clone(), audit.entry.clone(), audit.key.clone());
            Box::pin(async move { me.append_in(s, entry, &key).await })
        })
        .await
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
            if tenant == "*" {
                heads.total = Some((seq, hash.to_owned()));
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

    async fn scan_all(
        &self,
        after: Option<(String, String)>,
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
