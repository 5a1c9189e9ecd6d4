//! Runs, stream positions and records in MongoDB (see `store::sync` for the contract). A page is
//! one multi-document transaction; one active run per connector is a unique partial index.

use super::super::sync::*;
use super::documents::*;
use super::transactions::TxFuture;
use super::MongoStore;
use crate::ids::{ConnectorId, TenantId};
use crate::model::data::{RunStatus, RunTrigger, StreamCounts};
use crate::store::{ConnectorRecord, StoreError};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Document};
use mongodb::ClientSession;

fn run_doc(r: &SyncRunRecord) -> Document {
    doc! {
        "run_id": &r.run_id,
        "tenant_id": r.tenant_id.as_str(),
        "connector_id": &r.connector_id,
        "status": r.status.as_str(),
        "active": r.status.is_active(),
        "trigger": r.trigger.as_str(),
        "streams": &r.streams,
        "full_refresh": r.full_refresh,
        "created_at": r.created_at,
        "started_at": r.started_at,
        "finished_at": r.finished_at,
        "counts": serde_json::to_string(&r.counts).unwrap_or_default(),
        "error_code": &r.error_code,
        "error_message": &r.error_message,
        "holder": &r.holder,
        "lease_until": r.lease_until,
    }
}

fn run_from(d: &Document) -> Result<SyncRunRecord, StoreError> {
    let bad = |field: &str| StoreError::Unavailable(format!("malformed sync run: {field}"));
    let s = |field: &str| d.get_str(field).map(str::to_owned).map_err(|_| bad(field));
    let opt_s = |field: &str| d.get_str(field).ok().map(str::to_owned);
    let opt_i = |field: &str| d.get_i64(field).ok();
    Ok(SyncRunRecord {
        run_id: s("run_id")?,
        tenant_id: tenant_of(d)?,
        connector_id: connector_of(d)?,
        status: RunStatus::parse(&s("status")?).ok_or_else(|| bad("status"))?,
        trigger: RunTrigger::parse(&s("trigger")?).ok_or_else(|| bad("trigger"))?,
        streams: d
            .get_array("streams")
            .map_err(|_| bad("streams"))?
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        full_refresh: d.get_bool("full_refresh").unwrap_or(false),
        created_at: d.get_i64("created_at").map_err(|_| bad("created_at"))?,
        started_at: opt_i("started_at"),
        finished_at: opt_i("finished_at"),
        counts: serde_json::from_str(&s("counts")?).map_err(|_| bad("counts"))?,
        error_code: opt_s("error_code"),
        error_message: opt_s("error_message"),
        holder: opt_s("holder"),
        lease_until: opt_i("lease_until").unwrap_or(0),
    })
}

/// Every document a query finds.
async fn all(
    cursor: mongodb::error::Result<mongodb::Cursor<Document>>,
) -> Result<Vec<Document>, StoreError> {
    cursor
        .map_err(map_error)?
        .try_collect()
        .await
        .map_err(map_error)
}

pub(super) fn stream_key(p: &PageCommit) -> Document {
    doc! {"tenant_id": p.tenant_id.as_str(), "connector_id": &p.connector_id, "stream": &p.stream}
}

impl MongoStore {
    /// Deletes the sync data of the connector `filter` (its tenant and id) finds.
    pub(super) async fn delete_sync_data(
        &self,
        s: &mut ClientSession,
        filter: &Document,
    ) -> mongodb::error::Result<()> {
        for collection in [
            &self.sync_records,
            &self.sync_streams,
            &self.sync_runs,
            &self.sync_schedule,
        ] {
            collection
                .delete_many(filter.clone())
                .session(&mut *s)
                .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl SyncStore for MongoStore {
    async fn queue_run(&self, r: &SyncRunRecord) -> Result<Queued, StoreError> {
        match self
            .sync_runs
            .insert_one(run_doc(r))
            .await
            .map_err(map_error)
        {
            Ok(_) => Ok(Queued::New),
            Err(StoreError::Duplicate) => {
                let active = self
                    .sync_runs
                    .find_one(doc! {"tenant_id": r.tenant_id.as_str(), "connector_id": &r.connector_id, "active": true})
                    .await
                    .map_err(map_error)?;
                Ok(Queued::AlreadyActive(
                    active
                        .and_then(|d| d.get_str("run_id").ok().map(str::to_owned))
                        .unwrap_or_default(),
                ))
            }
            Err(other) => Err(other),
        }
    }

    async fn claim_run(
        &self,
        holder: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<SyncRunRecord>, StoreError> {
        let claimable =
            doc! {"active": true, "$or": [{"status": "queued"}, {"lease_until": {"$lt": now}}]};
        let claimed = self
            .sync_runs
            .find_one_and_update(
                claimable,
                vec![doc! {"$set": {
                    "status": "running", "holder": holder, "lease_until": now + lease_ms,
                    "started_at": {"$ifNull": ["$started_at", now]},
                }}],
            )
            .sort(doc! {"created_at": 1})
            .return_document(mongodb::options::ReturnDocument::After)
            .await
            .map_err(map_error)?;
        claimed.as_ref().map(run_from).transpose()
    }

    async fn renew_run(
        &self,
        run_id: &str,
        holder: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<bool, StoreError> {
        let result = self
            .sync_runs
            .update_one(
                doc! {"run_id": run_id, "holder": holder, "status": "running"},
                doc! {"$set": {"lease_until": now + lease_ms}},
            )
            .await
            .map_err(map_error)?;
        Ok(result.matched_count == 1)
    }

    async fn finish_run(
        &self,
        run_id: &str,
        holder: &str,
        status: RunStatus,
        error: Option<(String, String)>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (code, message) = error.unzip();
        let result = self
            .sync_runs
            .update_one(
                doc! {"run_id": run_id, "holder": holder, "status": "running"},
                doc! {"$set": {"status": status.as_str(), "active": false, "error_code": code,
                "error_message": message, "finished_at": now, "lease_until": 0_i64}},
            )
            .await
            .map_err(map_error)?;
        Ok(result.matched_count == 1)
    }

    async fn get_run(
        &self,
        tenant: &TenantId,
        connector_id: &ConnectorId,
        run_id: &str,
    ) -> Result<Option<SyncRunRecord>, StoreError> {
        self.sync_runs
            .find_one(
                doc! {"run_id": run_id, "tenant_id": tenant.as_str(), "connector_id": connector_id},
            )
            .await
            .map_err(map_error)?
            .as_ref()
            .map(run_from)
            .transpose()
    }

    async fn list_runs(
        &self,
        tenant: &TenantId,
        connector_id: &ConnectorId,
        before: Option<(i64, String)>,
        limit: usize,
    ) -> Result<Vec<SyncRunRecord>, StoreError> {
        let mut filter = doc! {"tenant_id": tenant.as_str(), "connector_id": connector_id};
        if let Some((at, id)) = before {
            filter.insert(
                "$or",
                vec![
                    doc! {"created_at": {"$lt": at}},
                    doc! {"created_at": at, "run_id": {"$lt": id}},
                ],
            );
        }
        let docs = all(self
            .sync_runs
            .find(filter)
            .sort(doc! {"created_at": -1, "run_id": -1})
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await)
        .await?;
        docs.iter().map(run_from).collect()
    }

    async fn prune_runs(&self, before: i64) -> Result<u64, StoreError> {
        let finished = doc! {"status": {"$nin": ["queued", "running"]}};
        // Each connector's latest finished run stays, however old: its data page shows it.
        let pipeline = vec![
            doc! {"$match": finished.clone()},
            doc! {"$sort": {"created_at": -1, "run_id": -1}},
            doc! {"$group": {"_id": {"t": "$tenant_id", "c": "$connector_id"},
            "run_id": {"$first": "$run_id"}}},
        ];
        let latest: Vec<String> = all(self.sync_runs.aggregate(pipeline).await)
            .await?
            .iter()
            .filter_map(|d| d.get_str("run_id").ok().map(str::to_owned))
            .collect();
        let mut filter = finished;
        filter.insert("created_at", doc! {"$lt": before});
        filter.insert("run_id", doc! {"$nin": latest});
        Ok(self
            .sync_runs
            .delete_many(filter)
            .await
            .map_err(map_error)?
            .deleted_count)
    }

    async fn stream_states(
        &self,
        tenant: &TenantId,
        connector_id: &ConnectorId,
    ) -> Result<Vec<StreamState>, StoreError> {
        let docs = all(self
            .sync_streams
            .find(doc! {"tenant_id": tenant.as_str(), "connector_id": connector_id})
            .sort(doc! {"stream": 1})
            .await)
        .await?;
        Ok(docs
            .iter()
            .map(|d| StreamState {
                stream: d.get_str("stream").unwrap_or_default().to_owned(),
                cursor: d.get_i64("cursor").ok(),
                feed: d.get_str("feed").ok().map(str::to_owned),
                pass: d.get_str("pass").ok().map(str::to_owned),
                record_count: d.get_i64("record_count").unwrap_or(0),
                last_synced_at: d.get_i64("last_synced_at").ok(),
            })
            .collect())
    }

    async fn commit_page(&self, page: &PageCommit) -> Result<Option<StreamCounts>, StoreError> {
        self.transact(&|s| -> TxFuture<'_, Option<StreamCounts>> {
            let (me, page) = (self.clone(), page.clone());
            Box::pin(async move { me.commit_page_in(s, &page).await })
        })
        .await
    }

    async fn list_records(
        &self,
        tenant: &TenantId,
        connector_id: &ConnectorId,
        stream: &str,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let docs = all(self
            .sync_records
            .find(doc! {"tenant_id": tenant.as_str(), "connector_id": connector_id, "stream": stream, "seq": {"$gt": after_seq}})
            .sort(doc! {"seq": 1})
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await)
        .await?;
        Ok(docs
            .iter()
            .map(|d| StoredRecord {
                record_id: d.get_str("record_id").unwrap_or_default().to_owned(),
                seq: d.get_i64("seq").unwrap_or(0),
                sealed: stored_token(d),
                changed_at: d.get_i64("changed_at").unwrap_or(0),
                deleted: d.get_bool("deleted").unwrap_or(false),
            })
            .collect())
    }

    async fn count_records(
        &self,
        tenant: &TenantId,
        connector_id: &ConnectorId,
    ) -> Result<u64, StoreError> {
        self.sync_records
            .count_documents(doc! {"tenant_id": tenant.as_str(), "connector_id": connector_id})
            .await
            .map_err(map_error)
    }

    async fn due_for_sync(
        &self,
        now: i64,
        limit: usize,
    ) -> Result<Vec<ConnectorRecord>, StoreError> {
        let pipeline = vec![
            doc! {"$match": {"sync_frequency": {"$ne": "manual"}, "status": {"$ne": "authorization_required"}}},
            doc! {"$lookup": {"from": "sync_schedule", "let": {"t": "$tenant_id", "c": "$connector_id"},
            "pipeline": [{"$match": {"$expr": {"$and": [{"$eq": ["$tenant_id", "$$t"]}, {"$eq": ["$connector_id", "$$c"]}]}}}],
            "as": "schedule"}},
            doc! {"$addFields": {"next_at": {"$ifNull": [{"$first": "$schedule.next_at"}, 0_i64]}}},
            doc! {"$match": {"next_at": {"$lte": now}}},
            doc! {"$sort": {"next_at": 1}},
            doc! {"$limit": i64::try_from(limit).unwrap_or(i64::MAX)},
            doc! {"$project": {"schedule": 0, "next_at": 0}},
        ];
        let docs = all(self.connectors.aggregate(pipeline).await).await?;
        docs.iter().map(from_doc).collect()
    }

    async fn schedule_sync(
        &self,
        tenant: &TenantId,
        connector_id: &ConnectorId,
        next_at: i64,
    ) -> Result<(), StoreError> {
        self.sync_schedule
            .update_one(
                doc! {"tenant_id": tenant.as_str(), "connector_id": connector_id},
                doc! {"$set": {"next_at": next_at}},
            )
            .upsert(true)
            .await
            .map_err(map_error)
            .map(drop)
    }
}

/// A record's sealed token as MongoDB keeps it: binary.
pub(super) fn sealed_token(token: &[u8]) -> mongodb::bson::Binary {
    mongodb::bson::Binary {
        subtype: mongodb::bson::spec::BinarySubtype::Generic,
        bytes: token.to_vec(),
    }
}

/// A stored record's token: binary, or (written before records were kept as bytes) its base64
/// text, read as the same bytes.
fn stored_token(d: &Document) -> Vec<u8> {
    use base64::Engine;
    if let Ok(bytes) = d.get_binary_generic("sealed") {
        return bytes.clone();
    }
    d.get_str("sealed")
        .ok()
        .and_then(|text| base64::engine::general_purpose::URL_SAFE.decode(text).ok())
        .unwrap_or_default()
}
