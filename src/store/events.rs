//! The storage port for events: provider webhooks coming in (a connector found by its address
//! token, each provider event accepted once), and events to tenants: their webhook endpoints, the outbox of events (queued
//! in the same transaction as the change each reports, and fanned out there to one delivery per
//! endpoint that wants it), and the deliveries with every attempt. A delivery is claimed under a
//! lease, so two processes never send the same attempt, and one that dies mid-delivery leaves it
//! to be claimed again.

use super::{ConnectorRecord, StoreError};
use crate::ids::{ConnectorId, TenantId};
use async_trait::async_trait;

/// An event to send: its id (the `webhook-id` every attempt carries), type, time, and the JSON
/// body sealed by the vault (it can hold the tenant's business data).
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    pub event_id: String,
    pub event_type: String,
    pub at: i64,
    pub sealed: String,
}

/// A tenant's endpoint. Its signing secrets are sealed; during a rotation the previous one signs
/// too, until `previous_until`.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointRecord {
    pub tenant_id: TenantId,
    pub endpoint_id: String,
    pub url: String,
    /// Event types it wants; empty means all.
    pub events: Vec<String>,
    pub enabled: bool,
    /// Why the hub turned it off (`410 Gone`), if it did.
    pub disabled_reason: Option<String>,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_until: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl EndpointRecord {
    pub fn wants(&self, event_type: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == event_type)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Succeeded,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Succeeded, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// One event on its way to one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    pub delivery_id: String,
    pub tenant_id: TenantId,
    pub endpoint_id: String,
    pub event_id: String,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_at: i64,
    pub created_at: i64,
}

/// One try: when, the endpoint's status (none when it could not be reached), how long it took.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    pub at: i64,
    pub status: Option<u16>,
    pub duration_ms: i64,
    pub error: Option<String>,
}

/// What a claimed delivery needs to be sent.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryJob {
    pub delivery: DeliveryRecord,
    pub endpoint: EndpointRecord,
    pub event: OutboxEvent,
}

/// How an attempt ended, and so what becomes of the delivery.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AttemptOutcome {
    Delivered,
    RetryAt(i64),
    GaveUp,
    /// `410 Gone`: the endpoint is turned off, and its waiting deliveries with it.
    EndpointGone,
}

/// How one claim shares the delivery slots among tenants: at most `per_tenant` deliveries of one
/// tenant under way at once, counting those `in_flight` already, so one tenant's slow or failing
/// endpoints cannot hold every slot while others wait.
#[derive(Debug, Clone, Default)]
pub struct ClaimShare {
    /// `None`: no cap (the worker's fallback when only capped tenants have work).
    pub per_tenant: Option<usize>,
    pub in_flight: Vec<(TenantId, usize)>,
}

impl ClaimShare {
    /// How many more of `tenant`'s deliveries this claim may take.
    pub fn room(&self, tenant: &TenantId) -> usize {
        let Some(cap) = self.per_tenant else {
            return usize::MAX;
        };
        let busy = self
            .in_flight
            .iter()
            .find(|(t, _)| t == tenant)
            .map_or(0, |(_, n)| *n);
        cap.saturating_sub(busy)
    }

    /// The tenants with no room left, which the claim skips.
    pub fn full(&self) -> Vec<TenantId> {
        self.in_flight
            .iter()
            .filter(|(t, _)| self.room(t) == 0)
            .map(|(t, _)| t.clone())
            .collect()
    }
}

#[async_trait]
pub trait EventStore: Send + Sync {
    /// The connector whose provider-webhook address carries `token`.
    async fn find_by_hook(&self, token: &str) -> Result<Option<ConnectorRecord>, StoreError>;
    /// Every tenant's connectors of `connector_type` whose `account_key` is `account_key` (an
    /// app-wide webhook's events go to each of them), at most `limit`, in (tenant, id) order.
    async fn find_by_account(
        &self,
        connector_type: &str,
        account_key: &str,
        limit: usize,
    ) -> Result<Vec<ConnectorRecord>, StoreError>;
    /// Records a provider's event by its id and queues `forward` (the tenant's
    /// `provider.event`), in one transaction; false, and nothing written, when the event was
    /// received before (providers deliver again).
    async fn record_provider_event(
        &self,
        tenant: &TenantId,
        connector_id: &ConnectorId,
        event_id: &str,
        kind: &str,
        received_at: i64,
        forward: &OutboxEvent,
    ) -> Result<bool, StoreError>;

    /// Creates or replaces an endpoint.
    async fn put_endpoint(&self, endpoint: &EndpointRecord) -> Result<(), StoreError>;
    async fn get_endpoint(
        &self,
        tenant: &TenantId,
        endpoint_id: &str,
    ) -> Result<Option<EndpointRecord>, StoreError>;
    async fn list_endpoints(&self, tenant: &TenantId) -> Result<Vec<EndpointRecord>, StoreError>;
    /// Deletes it with its deliveries; false when there was none.
    async fn delete_endpoint(
        &self,
        tenant: &TenantId,
        endpoint_id: &str,
    ) -> Result<bool, StoreError>;
    /// Queues an event that reports no stored change (a provider's event), fanned out to the
    /// tenant's endpoints that want it.
    async fn queue_event(&self, tenant: &TenantId, event: &OutboxEvent) -> Result<(), StoreError>;
    /// Takes up to `limit` deliveries due at `now` (pending, to an enabled endpoint, not under
    /// another holder's lease) for `holder`, until `now + lease_ms`, oldest first within what
    /// `share` leaves each tenant room for.
    async fn claim_deliveries(
        &self,
        holder: &str,
        now: i64,
        lease_ms: i64,
        limit: usize,
        share: &ClaimShare,
    ) -> Result<Vec<DeliveryJob>, StoreError>;
    /// Records an attempt by `holder` and what follows from it; false (nothing written) when the
    /// delivery is no longer `holder`'s.
    async fn finish_attempt(
        &self,
        delivery_id: &str,
        holder: &str,
        attempt: &AttemptRecord,
        outcome: AttemptOutcome,
    ) -> Result<bool, StoreError>;
    /// An endpoint's most recent deliveries, newest first, each with its attempts (oldest first).
    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        endpoint_id: &str,
        limit: usize,
    ) -> Result<Vec<(DeliveryRecord, Vec<AttemptRecord>)>, StoreError>;
    /// Forgets what is older than `before`: finished deliveries with their attempts, events no
    /// delivery waits for, and the ids of provider events (a provider does not deliver an event
    /// again after that long). Returns how many rows went.
    async fn prune_events(&self, before: i64) -> Result<u64, StoreError>;
    /// Sends a delivery's event again, as a new delivery `new_id` due now; false when there is
    /// no such delivery.
    async fn replay_delivery(
        &self,
        tenant: &TenantId,
        endpoint_id: &str,
        delivery_id: &str,
        new_id: &str,
        now: i64,
    ) -> Result<bool, StoreError>;
}
