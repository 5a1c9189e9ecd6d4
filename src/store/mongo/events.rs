//! Endpoints, the outbox and deliveries in MongoDB (see `store::events` for the contract). An
//! event and its deliveries are written in the transaction of the change they report; a
//! delivery's attempts are kept in it, as an array.

use super::super::events::*;
use super::documents::*;
use super::transactions::TxFuture;
use super::MongoStore;
use crate::ids::{ConnectorId, TenantId};
use crate::store::StoreError;
use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::ClientSession;

fn endpoint_doc(e: &EndpointRecord) -> Document {
    doc! {
        "tenant_id": e.tenant_id.as_str(),
        "endpoint_id": &e.endpoint_id,
        "url": &e.url,
        "events": &e.events,
        "enabled": e.enabled,
        "disabled_reason": &e.disabled_reason,
        "secret": &e.secret,
        "previous_secret": &e.previous_secret,
        "previous_until": e.previous_until,
        "created_at": e.created_at,
        "updated_at": e.updated_at,
    }
}

fn endpoint_from(d: &Document) -> Result<EndpointRecord, StoreError> {
    let bad = |field: &str| StoreError::Unavailable(format!("malformed endpoint: {field}"));
    let s = |field: &str| d.get_str(field).map(str::to_owned).map_err(|_| bad(field));
    Ok(EndpointRecord {
        tenant_id: tenant_of(d)?,
        endpoint_id: s("endpoint_id")?,
        url: s("url")?,
        events: d
            .get_array("events")
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        enabled: d.get_bool("enabled").unwrap_or(false),
        disabled_reason: d.get_str("disabled_reason").ok().map(str::to_owned),
        secret: s("secret")?,
        previous_secret: d.get_str("previous_secret").ok().map(str::to_owned),
        previous_until: d.get_i64("previous_until").ok(),
        created_at: d.get_i64("created_at").unwrap_or(0),
        updated_at: d.get_i64("updated_at").unwrap_or(0),
    })
}

fn delivery_from(d: &Document) -> Result<DeliveryRecord, StoreError> {
    let bad = |field: &str| StoreError::Unavailable(format!("malformed delivery: {field}"));
    let s = |field: &str| d.get_str(field).map(str::to_owned).map_err(|_| bad(field));
    Ok(DeliveryRecord {
        delivery_id: s("delivery_id")?,
        tenant_id: tenant_of(d)?,
        endpoint_id: s("endpoint_id")?,
        event_id: s("event_id")?,
        event_type: s("event_type")?,
        status: DeliveryStatus::parse(&s("status")?).ok_or_else(|| bad("status"))?,
        attempts: u32::try_from(d.get_i64("attempts").unwrap_or(0)).unwrap_or(0),
        next_at: d.get_i64("next_at").unwrap_or(0),
        created_at: d.get_i64("created_at").unwrap_or(0),
    })
}

fn attempts_from(d: &Document) -> Vec<AttemptRecord> {
    d.get_array("attempt_log")
        .map(|a| {
            a.iter()
                .filter_map(Bson::as_document)
                .map(|a| AttemptRecord {
                    at: a.get_i64("at").unwrap_or(0),
                    status: a.get_i64("status").ok().and_then(|s| u16::try_from(s).ok()),
                    duration_ms: a.get_i64("duration_ms").unwrap_or(0),
                    error: a.get_str("error").ok().map(str::to_owned),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn event_from(d: &Document) -> Result<OutboxEvent, StoreError> {
    let bad = |field: &str| StoreError::Unavailable(format!("malformed event: {field}"));
    let s = |field: &str| d.get_str(field).map(str::to_owned).map_err(|_| bad(field));
    Ok(OutboxEvent {
        event_id: s("event_id")?,
        event_type: s("event_type")?,
        at: d.get_i64("at").unwrap_or(0),
        sealed: s("sealed")?,
    })
}

fn new_delivery(
    id: &str,
    tenant: &str,
    endpoint_id: &str,
    event: &OutboxEvent,
    now: i64,
) -> Document {
    doc! {
        "delivery_id": id,
        "tenant_id": tenant,
        "endpoint_id": endpoint_id,
        "event_id": &event.event_id,
        "event_type": &event.event_type,
        "status": "pending",
        "attempts": 0_i64,
        "next_at": now,
        "created_at": now,
        "holder": Bson::Null,
        "lease_until": 0_i64,
        "attempt_log": [],
    }
}

impl MongoStore {
    /// Writes `events` and their deliveries inside the session's transaction.
    pub(super) async fn queue_events_in(
        &self,
        s: &mut ClientSession,
        tenant: &str,
        events: &[OutboxEvent],
    ) -> mongodb::error::Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let endpoints: Vec<Document> = self
            .webhook_endpoints
            .find(doc! {"tenant_id": tenant, "enabled": true})
            .session(&mut *s)
            .await?
            .stream(&mut *s)
            .try_collect()
            .await?;
        let endpoints: Vec<EndpointRecord> = endpoints
            .iter()
            .filter_map(|d| endpoint_from(d).ok())
            .collect();
        for event in events {
            let wanted: Vec<&EndpointRecord> = endpoints
                .iter()
                .filter(|e| e.wants(&event.event_type))
                .collect();
            if wanted.is_empty() {
                continue;
            }
            self.webhook_events
                .insert_one(doc! {"event_id": &event.event_id, "tenant_id": tenant,
                "event_type": &event.event_type, "at": event.at, "sealed": &event.sealed})
                .session(&mut *s)
                .await?;
            for endpoint in wanted {
                let id = format!("{}.{}", event.event_id, endpoint.endpoint_id);
                self.webhook_deliveries
                    .insert_one(new_delivery(
                        &id,
                        tenant,
                        &endpoint.endpoint_id,
                        event,
                        event.at,
                    ))
                    .session(&mut *s)
                    .await?;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl EventStore for MongoStore {
    async fn find_by_hook(
        &self,
        token: &str,
    ) -> Result<Option<crate::store::ConnectorRecord>, StoreError> {
        let found = self
            .connectors
            .find_one(doc! {"hook_token": token})
            .await
            .map_err(map_error)?;
        found.as_ref().map(from_doc).transpose()
    }

    async fn find_by_account(
        &self,
        connector_type: &str,
        account_key: &str,
        limit: usize,
    ) -> Result<Vec<crate::store::ConnectorRecord>, StoreError> {
        let found: Vec<Document> = self
            .connectors
            .find(doc! {"connector_type": connector_type, "account_key": account_key})
            .sort(doc! {"tenant_id": 1, "connector_id": 1})
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await
            .map_err(map_error)?
            .try_collect()
            .await
            .map_err(map_error)?;
        found.iter().map(from_doc).collect()
    }

    async fn record_provider_event(
        &self,
        tenant: &TenantId,
        connector_id: &ConnectorId,
        event_id: &str,
        kind: &str,
        received_at: i64,
        forward: &OutboxEvent,
    ) -> Result<bool, StoreError> {
        let row = doc! {"tenant_id": tenant.as_str(), "connector_id": connector_id,
        "event_id": event_id, "kind": kind, "received_at": received_at};
        let tenant = tenant.as_str().to_owned();
        self.transact(&|s| -> TxFuture<'_, bool> {
            let (me, row, tenant, forward) =
                (self.clone(), row.clone(), tenant.clone(), forward.clone());
            Box::pin(async move {
                let key = doc! {"tenant_id": row.get_str("tenant_id").unwrap_or_default(),
                "connector_id": row.get_str("connector_id").unwrap_or_default(),
                "event_id": row.get_str("event_id").unwrap_or_default()};
                let seen = me
                    .provider_events
                    .update_one(key, doc! {"$setOnInsert": row})
                    .upsert(true)
                    .session(&mut *s)
                    .await?;
                if seen.upserted_id.is_none() {
                    return Ok(false);
                }
                me.queue_events_in(s, &tenant, &[forward])
                    .await
                    .map(|_| true)
            })
        })
        .await
    }

    async fn put_endpoint(&self, e: &EndpointRecord) -> Result<(), StoreError> {
        self.webhook_endpoints
            .replace_one(
                doc! {"tenant_id": e.tenant_id.as_str(), "endpoint_id": &e.endpoint_id},
                endpoint_doc(e),
            )
            .upsert(true)
            .await
            .map(|_| ())
            .map_err(map_error)
    }

    async fn get_endpoint(
        &self,
        tenant: &TenantId,
        endpoint_id: &str,
    ) -> Result<Option<EndpointRecord>, StoreError> {
        let found = self
            .webhook_endpoints
            .find_one(doc! {"tenant_id": tenant.as_str(), "endpoint_id": endpoint_id})
            .await
            .map_err(map_error)?;
        found.as_ref().map(endpoint_from).transpose()
    }

    async fn list_endpoints(&self, tenant: &TenantId) -> Result<Vec<EndpointRecord>, StoreError> {
        let docs: Vec<Document> = self
            .webhook_endpoints
            .find(doc! {"tenant_id": tenant.as_str()})
            .sort(doc! {"created_at": 1, "endpoint_id": 1})
            .await
            .map_err(map_error)?
            .try_collect()
            .await
            .map_err(map_error)?;
        docs.iter().map(endpoint_from).collect()
    }

    async fn delete_endpoint(
        &self,
        tenant: &TenantId,
        endpoint_id: &str,
    ) -> Result<bool, StoreError> {
        let filter = doc! {"tenant_id": tenant.as_str(), "endpoint_id": endpoint_id};
        self.transact(&|s| -> TxFuture<'_, bool> {
            let (me, filter) = (self.clone(), filter.clone());
            Box::pin(async move {
                me.webhook_deliveries
                    .delete_many(filter.clone())
                    .session(&mut *s)
                    .await?;
                let gone = me
                    .webhook_endpoints
                    .delete_one(filter)
                    .session(&mut *s)
                    .await?;
                Ok(gone.deleted_count == 1)
            })
        })
        .await
    }

    async fn queue_event(&self, tenant: &TenantId, event: &OutboxEvent) -> Result<(), StoreError> {
        let tenant = tenant.as_str().to_owned();
        self.transact(&|s| -> TxFuture<'_, ()> {
            let (me, tenant, event) = (self.clone(), tenant.clone(), event.clone());
            Box::pin(async move { me.queue_events_in(s, &tenant, &[event]).await })
        })
        .await
    }

    async fn claim_deliveries(
        &self,
        holder: &str,
        now: i64,
        lease_ms: i64,
        limit: usize,
        share: &ClaimShare,
    ) -> Result<Vec<DeliveryJob>, StoreError> {
        let mut jobs = Vec::new();
        let mut full: Vec<String> = share.full().iter().map(|t| t.to_string()).collect();
        let mut taken: std::collections::HashMap<TenantId, usize> = Default::default();
        // One at a time, each taken by a conditional update: two processes never take the same;
        // a tenant whose share this claim has filled is skipped from then on.
        while jobs.len() < limit {
            let taken_doc = self
                .webhook_deliveries
                .find_one_and_update(
                    doc! {"status": "pending", "next_at": {"$lte": now}, "lease_until": {"$lte": now},
                        "tenant_id": {"$nin": &full}},
                    doc! {"$set": {"holder": holder, "lease_until": now + lease_ms}},
                )
                .sort(doc! {"next_at": 1})
                .return_document(mongodb::options::ReturnDocument::After)
                .await
                .map_err(map_error)?;
            let Some(taken_doc) = taken_doc else { break };
            let delivery = delivery_from(&taken_doc)?;
            let n = taken.entry(delivery.tenant_id.clone()).or_default();
            *n += 1;
            if *n >= share.room(&delivery.tenant_id) {
                full.push(delivery.tenant_id.to_string());
            }
            let endpoint = self
                .get_endpoint(&delivery.tenant_id, &delivery.endpoint_id)
                .await?;
            let event = self
                .webhook_events
                .find_one(doc! {"event_id": &delivery.event_id})
                .await
                .map_err(map_error)?;
            match (endpoint, event) {
                (Some(endpoint), Some(event)) if endpoint.enabled => jobs.push(DeliveryJob {
                    delivery,
                    endpoint,
                    event: event_from(&event)?,
                }),
                // Its endpoint is turned off: it waits (under this lease) until it is on again.
                (Some(_), Some(_)) => {}
                // Its endpoint or event is gone: nothing to send.
                _ => {
                    self.webhook_deliveries
                        .update_one(
                            doc! {"delivery_id": &delivery.delivery_id},
                            doc! {"$set": {"status": "failed", "holder": Bson::Null, "lease_until": 0_i64}},
                        )
                        .await
                        .map_err(map_error)?;
                }
            }
        }
        Ok(jobs)
    }

    async fn finish_attempt(
        &self,
        delivery_id: &str,
        holder: &str,
        attempt: &AttemptRecord,
        outcome: AttemptOutcome,
    ) -> Result<bool, StoreError> {
        let (status, next_at) = match outcome {
            AttemptOutcome::Delivered => ("succeeded", attempt.at),
            AttemptOutcome::RetryAt(at) => ("pending", at),
            AttemptOutcome::GaveUp | AttemptOutcome::EndpointGone => ("failed", attempt.at),
        };
        let logged = doc! {"at": attempt.at, "status": attempt.status.map(i64::from),
        "duration_ms": attempt.duration_ms, "error": &attempt.error};
        let updated = self
            .webhook_deliveries
            .find_one_and_update(
                doc! {"delivery_id": delivery_id, "holder": holder, "status": "pending"},
                doc! {"$set": {"status": status, "next_at": next_at, "holder": Bson::Null, "lease_until": 0_i64},
                      "$inc": {"attempts": 1_i64}, "$push": {"attempt_log": logged}},
            )
            .await
            .map_err(map_error)?;
        let Some(updated) = updated else {
            return Ok(false);
        };
        if outcome == AttemptOutcome::EndpointGone {
            self.webhook_endpoints
                .update_one(
                    doc! {"tenant_id": updated.get_str("tenant_id").unwrap_or_default(),
                          "endpoint_id": updated.get_str("endpoint_id").unwrap_or_default()},
                    doc! {"$set": {"enabled": false, "disabled_reason": "The endpoint answered 410 Gone.", "updated_at": attempt.at}},
                )
                .await
                .map_err(map_error)?;
            // What waited for it is not sent either.
            self.webhook_deliveries
                .update_many(
                    doc! {"tenant_id": updated.get_str("tenant_id").unwrap_or_default(),
                    "endpoint_id": updated.get_str("endpoint_id").unwrap_or_default(),
                    "status": "pending"},
                    doc! {"$set": {"status": "failed"}},
                )
                .await
                .map_err(map_error)?;
        }
        Ok(true)
    }

    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        endpoint_id: &str,
        limit: usize,
    ) -> Result<Vec<(DeliveryRecord, Vec<AttemptRecord>)>, StoreError> {
        let docs: Vec<Document> = self
            .webhook_deliveries
            .find(doc! {"tenant_id": tenant.as_str(), "endpoint_id": endpoint_id})
            .sort(doc! {"created_at": -1, "delivery_id": -1})
            .limit(i64::try_from(limit).unwrap_or(100))
            .await
            .map_err(map_error)?
            .try_collect()
            .await
            .map_err(map_error)?;
        docs.iter()
            .map(|d| Ok((delivery_from(d)?, attempts_from(d))))
            .collect()
    }

    async fn prune_events(&self, before: i64) -> Result<u64, StoreError> {
        // Finished deliveries, and those of a disabled endpoint, which wait for nothing.
        let disabled: Vec<Document> = self
            .webhook_endpoints
            .find(doc! {"enabled": false})
            .projection(doc! {"tenant_id": 1, "endpoint_id": 1})
            .await
            .map_err(map_error)?
            .try_collect::<Vec<Document>>()
            .await
            .map_err(map_error)?
            .into_iter()
            .map(|e| {
                doc! {"tenant_id": e.get_str("tenant_id").unwrap_or_default(),
                "endpoint_id": e.get_str("endpoint_id").unwrap_or_default()}
            })
            .collect();
        let mut done = vec![doc! {"status": {"$ne": "pending"}}];
        done.extend(disabled);
        let deliveries = self
            .webhook_deliveries
            .delete_many(doc! {"created_at": {"$lt": before}, "$or": done})
            .await
            .map_err(map_error)?
            .deleted_count;
        let waited_for: Vec<String> = self
            .webhook_deliveries
            .distinct("event_id", doc! {})
            .await
            .map_err(map_error)?
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        let events = self
            .webhook_events
            .delete_many(doc! {"at": {"$lt": before}, "event_id": {"$nin": waited_for}})
            .await
            .map_err(map_error)?
            .deleted_count;
        let received = self
            .provider_events
            .delete_many(doc! {"received_at": {"$lt": before}})
            .await
            .map_err(map_error)?
            .deleted_count;
        Ok(deliveries + events + received)
    }

    async fn replay_delivery(
        &self,
        tenant: &TenantId,
        endpoint_id: &str,
        delivery_id: &str,
        new_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let found = self
            .webhook_deliveries
            .find_one(doc! {"tenant_id": tenant.as_str(), "endpoint_id": endpoint_id, "delivery_id": delivery_id})
            .await
            .map_err(map_error)?;
        let Some(found) = found else {
            return Ok(false);
        };
        let old = delivery_from(&found)?;
        let event = OutboxEvent {
            event_id: old.event_id,
            event_type: old.event_type,
            at: now,
            sealed: String::new(),
        };
        self.webhook_deliveries
            .insert_one(new_delivery(
                new_id,
                tenant.as_str(),
                endpoint_id,
                &event,
                now,
            ))
            .await
            .map_err(map_error)?;
        Ok(true)
    }
}
