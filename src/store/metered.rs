//! A store decorator that times every operation for the metrics.

use super::*;
use crate::metrics::Metrics;
use std::sync::Arc;
use std::time::Instant;

pub struct MeteredStore {
    inner: Arc<dyn Store>,
    metrics: Metrics,
}

impl MeteredStore {
    pub fn new(inner: Arc<dyn Store>, metrics: Metrics) -> Self {
        Self { inner, metrics }
    }
}

macro_rules! timed {
    ($self:ident, $op:literal, $call:expr) => {{
        let started = Instant::now();
        let result = $call.await;
        $self.metrics.store($op, started.elapsed());
        result
    }};
}

#[async_trait]
impl Store for MeteredStore {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    async fn ping(&self) -> Result<(), StoreError> {
        timed!(self, "ping", self.inner.ping())
    }
    async fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush().await
    }
    async fn insert(
        &self,
        t: &TenantId,
        r: &ConnectorRecord,
        a: &AuditWrite<'_>,
        e: &[OutboxEvent],
    ) -> Result<(), StoreError> {
        timed!(self, "insert", self.inner.insert(t, r, a, e))
    }
    async fn get(
        &self,
        t: &TenantId,
        id: &ConnectorId,
    ) -> Result<Option<ConnectorRecord>, StoreError> {
        timed!(self, "get", self.inner.get(t, id))
    }
    async fn list(&self, t: &TenantId, q: &ListQuery) -> Result<Vec<ConnectorRecord>, StoreError> {
        timed!(self, "list", self.inner.list(t, q))
    }
    async fn update(
        &self,
        t: &TenantId,
        r: &ConnectorRecord,
        v: i64,
        a: Option<&AuditWrite<'_>>,
        e: &[OutboxEvent],
    ) -> Result<bool, StoreError> {
        timed!(self, "update", self.inner.update(t, r, v, a, e))
    }
    async fn delete(
        &self,
        t: &TenantId,
        id: &ConnectorId,
        a: &AuditWrite<'_>,
        e: &[OutboxEvent],
    ) -> Result<bool, StoreError> {
        timed!(self, "delete", self.inner.delete(t, id, a, e))
    }
    async fn put_draft(&self, t: &TenantId, d: &DraftRecord) -> Result<(), StoreError> {
        timed!(self, "put_draft", self.inner.put_draft(t, d))
    }
    async fn get_draft(
        &self,
        t: &TenantId,
        u: &str,
        id: &str,
        now: i64,
    ) -> Result<Option<DraftRecord>, StoreError> {
        timed!(self, "get_draft", self.inner.get_draft(t, u, id, now))
    }
    async fn delete_draft(&self, t: &TenantId, u: &str, id: &str) -> Result<(), StoreError> {
        timed!(self, "delete_draft", self.inner.delete_draft(t, u, id))
    }
    async fn put_oauth_state(&self, st: &OAuthStateRecord) -> Result<(), StoreError> {
        timed!(self, "put_oauth_state", self.inner.put_oauth_state(st))
    }
    async fn take_oauth_state(&self, hash: &str) -> Result<Option<OAuthStateRecord>, StoreError> {
        timed!(self, "take_oauth_state", self.inner.take_oauth_state(hash))
    }
    async fn append_audit(&self, a: &AuditWrite<'_>) -> Result<AuditRecord, StoreError> {
        timed!(self, "append_audit", self.inner.append_audit(a))
    }
    async fn list_audit(
        &self,
        t: &TenantId,
        q: &AuditQuery,
    ) -> Result<(Vec<AuditRecord>, Option<i64>), StoreError> {
        timed!(self, "list_audit", self.inner.list_audit(t, q))
    }
    async fn audit_heads(&self) -> Result<AuditHeads, StoreError> {
        timed!(self, "audit_heads", self.inner.audit_heads())
    }
    async fn hit(&self, key: &str, window_start: i64, hits: u64) -> Result<u64, StoreError> {
        timed!(self, "rate_hit", self.inner.hit(key, window_start, hits))
    }
    fn change_marker(&self) -> Option<u64> {
        self.inner.change_marker()
    }
    async fn watch_queued_work(&self, wake: &WorkWakes) {
        self.inner.watch_queued_work(wake).await
    }
    async fn lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        ttl_ms: i64,
    ) -> Result<bool, StoreError> {
        timed!(self, "lease", self.inner.lease(name, holder, now, ttl_ms))
    }
    async fn idle_sign_ins(
        &self,
        connector_type: &str,
        refreshed_before: i64,
        limit: usize,
    ) -> Result<Vec<ConnectorRecord>, StoreError> {
        timed!(
            self,
            "idle_sign_ins",
            self.inner
                .idle_sign_ins(connector_type, refreshed_before, limit)
        )
    }
    async fn due_for_test(
        &self,
        now: i64,
        limit: usize,
    ) -> Result<Vec<ConnectorRecord>, StoreError> {
        timed!(self, "due_for_test", self.inner.due_for_test(now, limit))
    }
    async fn channels_expiring(
        &self,
        before: i64,
        limit: usize,
    ) -> Result<Vec<ConnectorRecord>, StoreError> {
        timed!(
            self,
            "channels_expiring",
            self.inner.channels_expiring(before, limit)
        )
    }
    async fn scan_all(
        &self,
        after: Option<(TenantId, ConnectorId)>,
        limit: usize,
    ) -> Result<Vec<ConnectorRecord>, StoreError> {
        timed!(self, "scan_all", self.inner.scan_all(after, limit))
    }
    async fn audit_chain(
        &self,
        after: Option<(String, i64)>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        timed!(self, "audit_chain", self.inner.audit_chain(after, limit))
    }
}

#[async_trait]
impl SyncStore for MeteredStore {
    async fn queue_run(&self, run: &SyncRunRecord) -> Result<Queued, StoreError> {
        timed!(self, "queue_run", self.inner.queue_run(run))
    }
    async fn claim_run(
        &self,
        holder: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<SyncRunRecord>, StoreError> {
        timed!(
            self,
            "claim_run",
            self.inner.claim_run(holder, now, lease_ms)
        )
    }
    async fn renew_run(
        &self,
        run_id: &str,
        holder: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<bool, StoreError> {
        timed!(
            self,
            "renew_run",
            self.inner.renew_run(run_id, holder, now, lease_ms)
        )
    }
    async fn finish_run(
        &self,
        run_id: &str,
        holder: &str,
        status: crate::model::data::RunStatus,
        error: Option<(String, String)>,
        now: i64,
    ) -> Result<bool, StoreError> {
        timed!(
            self,
            "finish_run",
            self.inner.finish_run(run_id, holder, status, error, now)
        )
    }
    async fn get_run(
        &self,
        tenant: &TenantId,
        connector_id: &ConnectorId,
        run_id: &str,
    ) -> Result<Option<SyncRunRecord>, StoreError> {
        timed!(
            self,
            "get_run",
            self.inner.get_run(tenant, connector_id, run_id)
        )
    }
    async fn list_runs(
        &self,
        tenant: &TenantId,
        connector_id: &ConnectorId,
        before: Option<(i64, String)>,
        limit: usize,
    ) -> Result<Vec<SyncRunRecord>, StoreError> {
        timed!(
            self,
            "list_runs",
            self.inner.list_runs(tenant, connector_id, before, limit)
        )
    }
    async fn prune_runs(&self, before: i64) -> Result<u64, StoreError> {
        timed!(self, "prune_runs", self.inner.prune_runs(before))
    }
    async fn stream_states(
        &self,
        tenant: &TenantId,
        connector_id: &ConnectorId,
    ) -> Result<Vec<StreamState>, StoreError> {
        timed!(
            self,
            "stream_states",
            self.inner.stream_states(tenant, connector_id)
        )
    }
    async fn commit_page(
        &self,
        page: &PageCommit,
    ) -> Result<Option<crate::model::data::StreamCounts>, StoreError> {
        timed!(self, "commit_page", self.inner.commit_page(page))
    }
    async fn list_records(
        &self,
        tenant: &TenantId,
        connector_id: &ConnectorId,
        stream: &str,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        timed!(
            self,
            "list_records",
            self.inner
                .list_records(tenant, connector_id, stream, after_seq, limit)
        )
    }
    async fn count_records(
        &self,
        tenant: &TenantId,
        connector_id: &ConnectorId,
    ) -> Result<u64, StoreError> {
        timed!(
            self,
            "count_records",
            self.inner.count_records(tenant, connector_id)
        )
    }
    async fn due_for_sync(
        &self,
        now: i64,
        limit: usize,
    ) -> Result<Vec<ConnectorRecord>, StoreError> {
        timed!(self, "due_for_sync", self.inner.due_for_sync(now, limit))
    }
    async fn schedule_sync(
        &self,
        tenant: &TenantId,
        connector_id: &ConnectorId,
        next_at: i64,
    ) -> Result<(), StoreError> {
        timed!(
            self,
            "schedule_sync",
            self.inner.schedule_sync(tenant, connector_id, next_at)
        )
    }
}

#[async_trait]
impl EventStore for MeteredStore {
    async fn find_by_hook(&self, token: &str) -> Result<Option<ConnectorRecord>, StoreError> {
        timed!(self, "find_by_hook", self.inner.find_by_hook(token))
    }
    async fn find_by_account(
        &self,
        connector_type: &str,
        account_key: &str,
        limit: usize,
    ) -> Result<Vec<ConnectorRecord>, StoreError> {
        timed!(
            self,
            "find_by_account",
            self.inner
                .find_by_account(connector_type, account_key, limit)
        )
    }
    async fn record_provider_event(
        &self,
        t: &TenantId,
        connector_id: &ConnectorId,
        event_id: &str,
        kind: &str,
        at: i64,
        forward: &OutboxEvent,
    ) -> Result<bool, StoreError> {
        timed!(
            self,
            "record_provider_event",
            self.inner
                .record_provider_event(t, connector_id, event_id, kind, at, forward)
        )
    }
    async fn put_endpoint(&self, e: &EndpointRecord) -> Result<(), StoreError> {
        timed!(self, "put_endpoint", self.inner.put_endpoint(e))
    }
    async fn get_endpoint(
        &self,
        t: &TenantId,
        id: &str,
    ) -> Result<Option<EndpointRecord>, StoreError> {
        timed!(self, "get_endpoint", self.inner.get_endpoint(t, id))
    }
    async fn list_endpoints(&self, t: &TenantId) -> Result<Vec<EndpointRecord>, StoreError> {
        timed!(self, "list_endpoints", self.inner.list_endpoints(t))
    }
    async fn delete_endpoint(&self, t: &TenantId, id: &str) -> Result<bool, StoreError> {
        timed!(self, "delete_endpoint", self.inner.delete_endpoint(t, id))
    }
    async fn queue_event(&self, t: &TenantId, e: &OutboxEvent) -> Result<(), StoreError> {
        timed!(self, "queue_event", self.inner.queue_event(t, e))
    }
    async fn claim_deliveries(
        &self,
        holder: &str,
        now: i64,
        lease_ms: i64,
        limit: usize,
        share: &ClaimShare,
    ) -> Result<Vec<DeliveryJob>, StoreError> {
        timed!(
            self,
            "claim_deliveries",
            self.inner
                .claim_deliveries(holder, now, lease_ms, limit, share)
        )
    }
    async fn finish_attempt(
        &self,
        id: &str,
        holder: &str,
        attempt: &AttemptRecord,
        outcome: AttemptOutcome,
    ) -> Result<bool, StoreError> {
        timed!(
            self,
            "finish_attempt",
            self.inner.finish_attempt(id, holder, attempt, outcome)
        )
    }
    async fn list_deliveries(
        &self,
        t: &TenantId,
        id: &str,
        limit: usize,
    ) -> Result<Vec<(DeliveryRecord, Vec<AttemptRecord>)>, StoreError> {
        timed!(
            self,
            "list_deliveries",
            self.inner.list_deliveries(t, id, limit)
        )
    }
    async fn prune_events(&self, before: i64) -> Result<u64, StoreError> {
        timed!(self, "prune_events", self.inner.prune_events(before))
    }
    async fn replay_delivery(
        &self,
        t: &TenantId,
        endpoint_id: &str,
        id: &str,
        new_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        timed!(
            self,
            "replay_delivery",
            self.inner.replay_delivery(t, endpoint_id, id, new_id, now)
        )
    }
}

#[async_trait]
impl SealedStore for MeteredStore {
    async fn sealed_values(
        &self,
        kind: SealedKind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SealedValue>, StoreError> {
        timed!(
            self,
            "sealed_values",
            self.inner.sealed_values(kind, after, limit)
        )
    }
    async fn reseal(&self, kind: SealedKind, changes: &[Reseal]) -> Result<u64, StoreError> {
        timed!(self, "reseal", self.inner.reseal(kind, changes))
    }
}

#[async_trait]
impl AgentAuthStore for MeteredStore {
    async fn put_agent_client(&self, c: &AgentClientRecord) -> Result<(), StoreError> {
        timed!(self, "put_agent_client", self.inner.put_agent_client(c))
    }
    async fn get_agent_client(&self, id: &str) -> Result<Option<AgentClientRecord>, StoreError> {
        timed!(self, "get_agent_client", self.inner.get_agent_client(id))
    }
    async fn put_agent_grant(
        &self,
        g: &AgentGrantRecord,
        code: &AgentTokenRecord,
    ) -> Result<(), StoreError> {
        timed!(self, "put_agent_grant", self.inner.put_agent_grant(g, code))
    }
    async fn get_agent_grant(&self, id: &str) -> Result<Option<AgentGrantRecord>, StoreError> {
        timed!(self, "get_agent_grant", self.inner.get_agent_grant(id))
    }
    async fn list_agent_grants(
        &self,
        t: &TenantId,
        user: &str,
    ) -> Result<Vec<AgentGrantRecord>, StoreError> {
        timed!(
            self,
            "list_agent_grants",
            self.inner.list_agent_grants(t, user)
        )
    }
    async fn revoke_agent_grant(
        &self,
        t: &TenantId,
        user: &str,
        id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        timed!(
            self,
            "revoke_agent_grant",
            self.inner.revoke_agent_grant(t, user, id, now)
        )
    }
    async fn touch_agent_grant(&self, id: &str, now: i64) -> Result<(), StoreError> {
        timed!(
            self,
            "touch_agent_grant",
            self.inner.touch_agent_grant(id, now)
        )
    }
    async fn put_agent_tokens(&self, tokens: &[AgentTokenRecord]) -> Result<(), StoreError> {
        timed!(
            self,
            "put_agent_tokens",
            self.inner.put_agent_tokens(tokens)
        )
    }
    async fn get_agent_token(&self, hash: &str) -> Result<Option<AgentTokenRecord>, StoreError> {
        timed!(self, "get_agent_token", self.inner.get_agent_token(hash))
    }
    async fn use_agent_token(
        &self,
        hash: &str,
        now: i64,
    ) -> Result<Option<AgentTokenRecord>, StoreError> {
        timed!(
            self,
            "use_agent_token",
            self.inner.use_agent_token(hash, now)
        )
    }
}
