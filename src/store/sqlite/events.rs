//! Endpoints, the outbox and deliveries in SQLite (see `store::events` for the contract).

use super::super::events::*;
use super::*;

const ENDPOINT_COLUMNS: &str = "tenant_id, endpoint_id, url, events, enabled, disabled_reason, \
    secret, previous_secret, previous_until, created_at, updated_at";

fn endpoint(row: &rusqlite::Row<'_>) -> rusqlite::Result<EndpointRecord> {
    let events: String = row.get(3)?;
    Ok(EndpointRecord {
        tenant_id: row.get(0)?,
        endpoint_id: row.get(1)?,
        url: row.get(2)?,
        events: serde_json::from_str(&events).unwrap_or_default(),
        enabled: row.get(4)?,
        disabled_reason: row.get(5)?,
        secret: row.get(6)?,
        previous_secret: row.get(7)?,
        previous_until: row.get(8)?,
        created_at: row.get(9)?,
        updated_at: row.get(10)?,
    })
}

const DELIVERY_COLUMNS: &str =
    "delivery_id, tenant_id, endpoint_id, event_id, event_type, status, attempts, next_at, created_at";

fn delivery(row: &rusqlite::Row<'_>) -> rusqlite::Result<DeliveryRecord> {
    let status: String = row.get(5)?;
    Ok(DeliveryRecord {
        delivery_id: row.get(0)?,
        tenant_id: row.get(1)?,
        endpoint_id: row.get(2)?,
        event_id: row.get(3)?,
        event_type: row.get(4)?,
        status: DeliveryStatus::parse(&status).unwrap_or(DeliveryStatus::Failed),
        attempts: row.get(6)?,
        next_at: row.get(7)?,
        created_at: row.get(8)?,
    })
}

/// Writes `events` to the outbox and one delivery per endpoint of the tenant that wants each,
/// inside the caller's transaction. Delivery ids derive from the event's and the endpoint's.
pub(super) fn queue_events_in(
    c: &Connection,
    tenant: &str,
    events: &[OutboxEvent],
) -> rusqlite::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let endpoints: Vec<EndpointRecord> = c
        .prepare_cached(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = ?1 AND enabled = 1"
        ))?
        .query_map(params![tenant], endpoint)?
        .collect::<rusqlite::Result<_>>()?;
    for event in events {
        let wanted: Vec<&EndpointRecord> = endpoints
            .iter()
            .filter(|e| e.wants(&event.event_type))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        c.prepare_cached(
            "INSERT INTO webhook_events (event_id, tenant_id, event_type, at, sealed)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            event.event_id,
            tenant,
            event.event_type,
            event.at,
            event.sealed
        ])?;
        for endpoint in wanted {
            c.prepare_cached(
                "INSERT INTO webhook_deliveries (delivery_id, tenant_id, endpoint_id, event_id,
                    event_type, status, attempts, next_at, created_at, holder, lease_until)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, ?6, NULL, 0)",
            )?
            .execute(params![
                format!("{}.{}", event.event_id, endpoint.endpoint_id),
                tenant,
                endpoint.endpoint_id,
                event.event_id,
                event.event_type,
                event.at
            ])?;
        }
    }
    Ok(())
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn find_by_hook(&self, token: &str) -> Result<Option<ConnectorRecord>, StoreError> {
        let token = token.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM connectors WHERE hook_token = ?1"
            ))?
            .query_row(params![token], record)
            .optional()
        })
        .await
    }

    async fn find_by_account(
        &self,
        connector_type: &str,
        account_key: &str,
        limit: usize,
    ) -> Result<Vec<ConnectorRecord>, StoreError> {
        let (connector_type, account_key) = (connector_type.to_owned(), account_key.to_owned());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM connectors WHERE connector_type = ?1 AND account_key = ?2
                 ORDER BY tenant_id, connector_id LIMIT ?3"
            ))?
            .query_map(params![connector_type, account_key, limit], record)?
            .collect()
        })
        .await
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
        let (tenant, connector_id, event_id, kind, forward) = (
            tenant.as_str().to_owned(),
            connector_id.clone(),
            event_id.to_owned(),
            kind.to_owned(),
            forward.clone(),
        );
        self.write(move |c| {
            let new = c
                .prepare_cached(
                    "INSERT INTO provider_events (tenant_id, connector_id, event_id, kind, received_at)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                )?
                .execute(params![tenant, connector_id, event_id, kind, received_at])?
                == 1;
            if new {
                queue_events_in(c, &tenant, std::slice::from_ref(&forward))?;
            }
            Ok(new)
        })
        .await
    }

    async fn put_endpoint(&self, e: &EndpointRecord) -> Result<(), StoreError> {
        let e = e.clone();
        self.write(move |c| {
            c.prepare_cached(&format!(
                "INSERT OR REPLACE INTO webhook_endpoints ({ENDPOINT_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
            ))?
            .execute(params![
                e.tenant_id.as_str(),
                e.endpoint_id,
                e.url,
                serde_json::to_string(&e.events).unwrap_or_default(),
                e.enabled,
                e.disabled_reason,
                e.secret,
                e.previous_secret,
                e.previous_until,
                e.created_at,
                e.updated_at
            ])
            .map(|_| ())
        })
        .await
    }

    async fn get_endpoint(
        &self,
        tenant: &TenantId,
        endpoint_id: &str,
    ) -> Result<Option<EndpointRecord>, StoreError> {
        let (tenant, id) = (tenant.as_str().to_owned(), endpoint_id.to_owned());
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = ?1 AND endpoint_id = ?2"
            ))?
            .query_row(params![tenant, id], endpoint)
            .optional()
        })
        .await
    }

    async fn list_endpoints(&self, tenant: &TenantId) -> Result<Vec<EndpointRecord>, StoreError> {
        let tenant = tenant.as_str().to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = ?1 ORDER BY created_at, endpoint_id"
            ))?
            .query_map(params![tenant], endpoint)?
            .collect()
        })
        .await
    }

    async fn delete_endpoint(
        &self,
        tenant: &TenantId,
        endpoint_id: &str,
    ) -> Result<bool, StoreError> {
        let (tenant, id) = (tenant.as_str().to_owned(), endpoint_id.to_owned());
        self.write(move |c| {
            c.execute(
                "DELETE FROM webhook_attempts WHERE delivery_id IN
                   (SELECT delivery_id FROM webhook_deliveries WHERE tenant_id = ?1 AND endpoint_id = ?2)",
                params![tenant, id],
            )?;
            c.execute(
                "DELETE FROM webhook_deliveries WHERE tenant_id = ?1 AND endpoint_id = ?2",
                params![tenant, id],
            )?;
            let n = c.execute(
                "DELETE FROM webhook_endpoints WHERE tenant_id = ?1 AND endpoint_id = ?2",
                params![tenant, id],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn queue_event(&self, tenant: &TenantId, event: &OutboxEvent) -> Result<(), StoreError> {
        let (tenant, event) = (tenant.as_str().to_owned(), event.clone());
        self.write(move |c| queue_events_in(c, &tenant, std::slice::from_ref(&event)))
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
        let (holder, share) = (holder.to_owned(), share.clone());
        let full: Vec<String> = share.full().iter().map(|t| t.to_string()).collect();
        let skipped = serde_json::to_string(&full).unwrap_or_else(|_| "[]".into());
        // A window of the oldest due ones of tenants with room, taken while each has room: a
        // tenant's backlog fills only its share, and the next claim skips it.
        let window = i64::try_from(limit.saturating_mul(8)).unwrap_or(i64::MAX);
        self.write(move |c| {
            let candidates: Vec<(String, String)> = c
                .prepare_cached(
                    "SELECT d.delivery_id, d.tenant_id FROM webhook_deliveries d
                     JOIN webhook_endpoints e ON e.tenant_id = d.tenant_id AND e.endpoint_id = d.endpoint_id
                     WHERE d.status = 'pending' AND d.next_at <= ?1 AND d.lease_until <= ?1 AND e.enabled = 1
                       AND d.tenant_id NOT IN (SELECT value FROM json_each(?3))
                     ORDER BY d.next_at LIMIT ?2",
                )?
                .query_map(params![now, window, skipped], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let mut taken: std::collections::HashMap<String, usize> = Default::default();
            let mut due = Vec::new();
            for (id, tenant) in candidates {
                if due.len() == limit {
                    break;
                }
                let room = TenantId::parse(&tenant).map_or(usize::MAX, |t| share.room(&t));
                let n = taken.entry(tenant).or_default();
                if *n < room {
                    *n += 1;
                    due.push(id);
                }
            }
            let mut jobs = Vec::with_capacity(due.len());
            for id in due {
                c.prepare_cached(
                    "UPDATE webhook_deliveries SET holder = ?2, lease_until = ?3 WHERE delivery_id = ?1",
                )?
                .execute(params![id, holder, now + lease_ms])?;
                let d = c
                    .prepare_cached(&format!(
                        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE delivery_id = ?1"
                    ))?
                    .query_row(params![id], delivery)?;
                let e = c
                    .prepare_cached(&format!(
                        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = ?1 AND endpoint_id = ?2"
                    ))?
                    .query_row(params![d.tenant_id.as_str(), d.endpoint_id], endpoint)?;
                let event = c
                    .prepare_cached(
                        "SELECT event_id, event_type, at, sealed FROM webhook_events WHERE event_id = ?1",
                    )?
                    .query_row(params![d.event_id], |r| {
                        Ok(OutboxEvent {
                            event_id: r.get(0)?,
                            event_type: r.get(1)?,
                            at: r.get(2)?,
                            sealed: r.get(3)?,
                        })
                    })?;
                jobs.push(DeliveryJob {
                    delivery: d,
                    endpoint: e,
                    event,
                });
            }
            Ok(jobs)
        })
        .await
    }

    async fn finish_attempt(
        &self,
        delivery_id: &str,
        holder: &str,
        attempt: &AttemptRecord,
        outcome: AttemptOutcome,
    ) -> Result<bool, StoreError> {
        let (id, holder, attempt) = (delivery_id.to_owned(), holder.to_owned(), attempt.clone());
        self.write(move |c| {
            let found: Option<(String, String, u32)> = c
                .prepare_cached(
                    "SELECT tenant_id, endpoint_id, attempts FROM webhook_deliveries
                     WHERE delivery_id = ?1 AND holder = ?2 AND status = 'pending'",
                )?
                .query_row(params![id, holder], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            let Some((tenant, endpoint_id, attempts)) = found else {
                return Ok(false);
            };
            let n = attempts + 1;
            c.prepare_cached(
                "INSERT INTO webhook_attempts (delivery_id, n, at, status, duration_ms, error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![id, n, attempt.at, attempt.status, attempt.duration_ms, attempt.error])?;
            let (status, next_at) = match outcome {
                AttemptOutcome::Delivered => ("succeeded", attempt.at),
                AttemptOutcome::RetryAt(at) => ("pending", at),
                AttemptOutcome::GaveUp | AttemptOutcome::EndpointGone => ("failed", attempt.at),
            };
            c.prepare_cached(
                "UPDATE webhook_deliveries SET status = ?2, attempts = ?3, next_at = ?4, holder = NULL,
                    lease_until = 0 WHERE delivery_id = ?1",
            )?
            .execute(params![id, status, n, next_at])?;
            if outcome == AttemptOutcome::EndpointGone {
                c.prepare_cached(
                    "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ?3, updated_at = ?4
                     WHERE tenant_id = ?1 AND endpoint_id = ?2",
                )?
                .execute(params![tenant, endpoint_id, "The endpoint answered 410 Gone.", attempt.at])?;
                // What waited for it is not sent either.
                c.prepare_cached(
                    "UPDATE webhook_deliveries SET status = 'failed'
                     WHERE tenant_id = ?1 AND endpoint_id = ?2 AND status = 'pending'",
                )?
                .execute(params![tenant, endpoint_id])?;
            }
            Ok(true)
        })
        .await
    }

    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        endpoint_id: &str,
        limit: usize,
    ) -> Result<Vec<(DeliveryRecord, Vec<AttemptRecord>)>, StoreError> {
        let (tenant, id) = (tenant.as_str().to_owned(), endpoint_id.to_owned());
        self.read(move |c| {
            let deliveries: Vec<DeliveryRecord> = c
                .prepare_cached(&format!(
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE tenant_id = ?1 AND endpoint_id = ?2
                     ORDER BY created_at DESC, delivery_id DESC LIMIT ?3"
                ))?
                .query_map(params![tenant, id, limit as i64], delivery)?
                .collect::<rusqlite::Result<_>>()?;
            let mut out = Vec::with_capacity(deliveries.len());
            for d in deliveries {
                let attempts = c
                    .prepare_cached(
                        "SELECT at, status, duration_ms, error FROM webhook_attempts
                         WHERE delivery_id = ?1 ORDER BY n",
                    )?
                    .query_map(params![d.delivery_id], |r| {
                        Ok(AttemptRecord {
                            at: r.get(0)?,
                            status: r.get(1)?,
                            duration_ms: r.get(2)?,
                            error: r.get(3)?,
                        })
                    })?
                    .collect::<rusqlite::Result<_>>()?;
                out.push((d, attempts));
            }
            Ok(out)
        })
        .await
    }

    async fn prune_events(&self, before: i64) -> Result<u64, StoreError> {
        self.write(move |c| {
            // Finished deliveries, and those of a disabled endpoint, which wait for nothing.
            const DONE: &str = "created_at < ?1 AND (status != 'pending' OR EXISTS (
                SELECT 1 FROM webhook_endpoints e WHERE e.tenant_id = webhook_deliveries.tenant_id
                  AND e.endpoint_id = webhook_deliveries.endpoint_id AND e.enabled = 0))";
            let mut gone = c.execute(
                &format!(
                    "DELETE FROM webhook_attempts WHERE delivery_id IN
                       (SELECT delivery_id FROM webhook_deliveries WHERE {DONE})"
                ),
                params![before],
            )?;
            gone += c.execute(
                &format!("DELETE FROM webhook_deliveries WHERE {DONE}"),
                params![before],
            )?;
            gone += c.execute(
                "DELETE FROM webhook_events WHERE at < ?1 AND event_id NOT IN
                   (SELECT event_id FROM webhook_deliveries)",
                params![before],
            )?;
            gone += c.execute(
                "DELETE FROM provider_events WHERE received_at < ?1",
                params![before],
            )?;
            Ok(gone as u64)
        })
        .await
    }

    async fn replay_delivery(
        &self,
        tenant: &TenantId,
        endpoint_id: &str,
        delivery_id: &str,
        new_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (tenant, endpoint_id, id, new_id) = (
            tenant.as_str().to_owned(),
            endpoint_id.to_owned(),
            delivery_id.to_owned(),
            new_id.to_owned(),
        );
        self.write(move |c| {
            let n = c
                .prepare_cached(
                    "INSERT INTO webhook_deliveries (delivery_id, tenant_id, endpoint_id, event_id,
                        event_type, status, attempts, next_at, created_at, holder, lease_until)
                     SELECT ?4, tenant_id, endpoint_id, event_id, event_type, 'pending', 0, ?5, ?5, NULL, 0
                     FROM webhook_deliveries WHERE tenant_id = ?1 AND endpoint_id = ?2 AND delivery_id = ?3",
                )?
                .execute(params![tenant, endpoint_id, id, new_id, now])?;
            Ok(n == 1)
        })
        .await
    }
}
