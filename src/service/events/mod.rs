//! Events to a tenant's own systems: its webhook endpoints, where its events go, and the
//! deliveries to them (`deliveries`).
//!
//! An endpoint's signing secret The signing secret is made by the hub and
//! shown once, in the answer that creates (or rotates) it; a rotation keeps the previous secret
//! signing beside the new one for a day, so consumers can switch without losing a message.

mod deliveries;

pub(crate) use deliveries::DeliverySettings;

use super::{Caller, Gate, Outbox, Parts, RateClass};
use crate::clock::{now_ms, rfc3339};
use crate::error::{Error, ErrorCode};
use crate::metrics::Metrics;
use crate::model::webhooks::{
    AttemptView, DeliveryList, DeliveryView, EndpointList, EndpointView, EventType,
};
use crate::model::{AuditAction, AuditOutcome};
use crate::outbound::Outbound;
use crate::store::{DeliveryStatus, EndpointRecord};
use crate::store::{Store, WorkWakes};
use crate::vault::Vault;
use crate::webhooks::standard;
use reqwest::Url;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;

/// Endpoints a tenant may have.
const MAX_ENDPOINTS: usize = 20;
/// How long the previous secret keeps signing after a rotation.
const ROTATION_OVERLAP_MS: i64 = 24 * 3600 * 1000;
/// Deliveries an endpoint's list shows.
pub(crate) const DELIVERIES_SHOWN: usize = 50;

/// What a create or a change asks for; absent fields stay as they are.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct EndpointChanges {
    pub(crate) url: Option<String>,
    pub(crate) events: Option<Vec<String>>,
    pub(crate) enabled: Option<bool>,
}

fn secret_owner(tenant: &str, endpoint_id: &str) -> String {
    format!("{tenant}/endpoint/{endpoint_id}")
}

pub(crate) struct Events {
    store: Arc<dyn Store>,
    /// Seals endpoints' signing secrets.
    vault: Arc<Vault>,
    gate: Arc<Gate>,
    outbox: Arc<Outbox>,
    /// The client deliveries are posted through (the egress policy holds for them too).
    outbound: Arc<Outbound>,
    metrics: Metrics,
    deliveries: DeliverySettings,
    wake: WorkWakes,
    /// When this process last forgot old events (the monitor asks every tick; it runs hourly).
    pruned_at: AtomicI64,
}

impl Events {
    pub(super) fn new(parts: &Parts, deliveries: DeliverySettings) -> Self {
        Self {
            store: parts.store.clone(),
            vault: parts.vault.clone(),
            gate: parts.gate.clone(),
            outbox: parts.outbox.clone(),
            outbound: parts.outbound.clone(),
            metrics: parts.metrics.clone(),
            deliveries,
            wake: parts.wake.clone(),
            pruned_at: AtomicI64::new(0),
        }
    }

    pub(crate) async fn create_endpoint(
        &self,
        caller: &Caller,
        input: EndpointChanges,
    ) -> Result<EndpointView, Error> {
        self.gate.limit(caller, RateClass::Writes).await?;
        let url = input.url.as_deref().ok_or_else(|| {
            Error::new(ErrorCode::InvalidRequest, "Give the endpoint's url.").with_field("url")
        })?;
        let url = self.endpoint_url(url).await?;
        let events = parse_events(input.events.unwrap_or_default())?;
        if self.store.list_endpoints(caller.tenant()).await?.len() >= MAX_ENDPOINTS {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                format!("An organisation can have up to {MAX_ENDPOINTS} webhook endpoints."),
            ));
        }
        let endpoint_id = format!("ep_{}", crate::random::random_hex(12));
        let secret = standard::new_secret();
        let now = now_ms();
        let record = EndpointRecord {
            tenant_id: caller.tenant().clone(),
            secret: self.seal_endpoint_secret(caller, &endpoint_id, &secret),
            endpoint_id,
            url: url.to_string(),
            events,
            enabled: input.enabled.unwrap_or(true),
            disabled_reason: None,
            previous_secret: None,
            previous_until: None,
            created_at: now,
            updated_at: now,
        };
        self.audit_endpoint(caller, &record, "created").await?;
        self.store.put_endpoint(&record).await?;
        let mut view = endpoint_view(&record);
        view.secret = Some(secret);
        Ok(view)
    }

    pub(crate) async fn list_endpoints(&self, caller: &Caller) -> Result<EndpointList, Error> {
        self.gate.limit(caller, RateClass::Reads).await?;
        let endpoints = self.store.list_endpoints(caller.tenant()).await?;
        Ok(EndpointList {
            endpoints: endpoints.iter().map(endpoint_view).collect(),
        })
    }

    pub(crate) async fn get_endpoint(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<EndpointView, Error> {
        self.gate.limit(caller, RateClass::Reads).await?;
        Ok(endpoint_view(&self.endpoint(caller, id).await?))
    }

    pub(crate) async fn change_endpoint(
        &self,
        caller: &Caller,
        id: &str,
        changes: EndpointChanges,
    ) -> Result<EndpointView, Error> {
        self.gate.limit(caller, RateClass::Writes).await?;
        let mut record = self.endpoint(caller, id).await?;
        if let Some(url) = &changes.url {
            record.url = self.endpoint_url(url).await?.to_string();
        }
        if let Some(events) = changes.events {
            record.events = parse_events(events)?;
        }
        if let Some(enabled) = changes.enabled {
            record.enabled = enabled;
            if enabled {
                record.disabled_reason = None;
            }
        }
        record.updated_at = now_ms();
        self.audit_endpoint(caller, &record, "changed").await?;
        self.store.put_endpoint(&record).await?;
        Ok(endpoint_view(&record))
    }

    /// A new signing secret, shown once; the previous one keeps signing for a day.
    pub(crate) async fn rotate_endpoint_secret(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<EndpointView, Error> {
        self.gate.limit(caller, RateClass::Writes).await?;
        let mut record = self.endpoint(caller, id).await?;
        let secret = standard::new_secret();
        let now = now_ms();
        record.previous_secret = Some(std::mem::replace(
            &mut record.secret,
            self.seal_endpoint_secret(caller, id, &secret),
        ));
        record.previous_until = Some(now + ROTATION_OVERLAP_MS);
        record.updated_at = now;
        self.audit_endpoint(caller, &record, "secret rotated")
            .await?;
        self.store.put_endpoint(&record).await?;
        let mut view = endpoint_view(&record);
        view.secret = Some(secret);
        Ok(view)
    }

    pub(crate) async fn delete_endpoint(&self, caller: &Caller, id: &str) -> Result<(), Error> {
        self.gate.limit(caller, RateClass::Writes).await?;
        let record = self.endpoint(caller, id).await?;
        self.audit_endpoint(caller, &record, "deleted").await?;
        self.store.delete_endpoint(caller.tenant(), id).await?;
        Ok(())
    }

    pub(crate) async fn endpoint_deliveries(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<DeliveryList, Error> {
        self.gate.limit(caller, RateClass::Reads).await?;
        self.endpoint(caller, id).await?;
        let deliveries = self
            .store
            .list_deliveries(caller.tenant(), id, DELIVERIES_SHOWN)
            .await?;
        Ok(DeliveryList {
            deliveries: deliveries
                .into_iter()
                .map(|(d, attempts)| DeliveryView {
                    next_attempt_at: (d.status == DeliveryStatus::Pending)
                        .then(|| rfc3339(d.next_at)),
                    delivery_id: d.delivery_id,
                    event_id: d.event_id,
                    event_type: d.event_type,
                    status: d.status.as_str().to_owned(),
                    created_at: rfc3339(d.created_at),
                    attempts: attempts
                        .into_iter()
                        .map(|a| AttemptView {
                            at: rfc3339(a.at),
                            status: a.status,
                            duration_ms: a.duration_ms,
                            error: a.error,
                        })
                        .collect(),
                })
                .collect(),
        })
    }

    /// Sends a delivery's event again (same `webhook-id`, so a consumer that has it already can
    /// tell), as a new delivery due now.
    pub(crate) async fn replay_delivery(
        &self,
        caller: &Caller,
        endpoint_id: &str,
        delivery_id: &str,
    ) -> Result<(), Error> {
        self.gate.limit(caller, RateClass::Writes).await?;
        let record = self.endpoint(caller, endpoint_id).await?;
        self.audit_endpoint(caller, &record, "delivery replayed")
            .await?;
        let new_id = format!("{delivery_id}.r{}", crate::random::random_hex(4));
        if !self
            .store
            .replay_delivery(caller.tenant(), endpoint_id, delivery_id, &new_id, now_ms())
            .await?
        {
            return Err(Error::not_found());
        }
        self.wake.deliveries.notify_one();
        Ok(())
    }

    async fn endpoint(&self, caller: &Caller, id: &str) -> Result<EndpointRecord, Error> {
        match self.store.get_endpoint(caller.tenant(), id).await? {
            Some(record) => Ok(record),
            None => {
                let error = Error::not_found();
                self.gate
                    .audit_refusal(caller, AuditAction::WebhookEndpoint, &error)
                    .await;
                Err(error)
            }
        }
    }

    /// An endpoint address events may go to: http(s), a public address unless the operator
    /// allows the network, and https unless the operator allows that network explicitly (the
    /// same rules as a connector's address; checked again at every delivery).
    async fn endpoint_url(&self, text: &str) -> Result<Url, Error> {
        let bad = |message: &str| {
            Error::new(ErrorCode::InvalidConfig, message.to_owned()).with_field("url")
        };
        let url = Url::parse(text.trim()).map_err(|_| bad("This is not a valid URL."))?;
        if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
            return Err(bad("The address must start with https://."));
        }
        if url.username() != "" || url.password().is_some() {
            return Err(bad(
                "Put no credentials in the address: verify the hub's signature instead.",
            ));
        }
        let http = self.outbound.http();
        let host = url
            .host_str()
            .unwrap_or_default()
            .trim_matches(['[', ']'])
            .to_owned();
        let addrs = http
            .resolve_checked(
                &host,
                url.port_or_known_default().unwrap_or(443),
                Some("url"),
            )
            .await?;
        if url.scheme() == "http" && !addrs.iter().all(|a| http.egress.explicitly_allowed(a.ip())) {
            return Err(Error::new(
                ErrorCode::HttpsRequired,
                "Events are signed but not encrypted in transit over http://: use an https:// address.",
            )
            .with_field("url"));
        }
        Ok(url)
    }

    fn seal_endpoint_secret(&self, caller: &Caller, endpoint_id: &str, secret: &str) -> String {
        self.vault.seal_for(
            &secret_owner(caller.tenant().as_str(), endpoint_id),
            secret.as_bytes(),
        )
    }

    /// An endpoint's signing secrets in use at `now`, opened: the current one, and the previous
    /// one while its overlap lasts.
    pub(super) fn endpoint_secrets(&self, record: &EndpointRecord, now: i64) -> Vec<String> {
        let owner = secret_owner(record.tenant_id.as_str(), &record.endpoint_id);
        let open = |sealed: &str| String::from_utf8(self.vault.open_for(&owner, sealed)?).ok();
        let mut secrets: Vec<String> = open(&record.secret).into_iter().collect();
        if record.previous_until.is_some_and(|until| until > now) {
            secrets.extend(record.previous_secret.as_deref().and_then(open));
        }
        secrets
    }

    /// Audited before it takes effect; the detail names the endpoint by its origin only (a path
    /// or query can carry a token of the tenant's).
    async fn audit_endpoint(
        &self,
        caller: &Caller,
        record: &EndpointRecord,
        what: &str,
    ) -> Result<(), Error> {
        let origin = Url::parse(&record.url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        let mut entry = Gate::entry(
            caller,
            AuditAction::WebhookEndpoint,
            None,
            AuditOutcome::Ok,
            None,
        );
        entry.detail = Some(format!("{} {what} ({origin})", record.endpoint_id));
        self.gate.append(entry).await
    }
}

fn parse_events(names: Vec<String>) -> Result<Vec<String>, Error> {
    let mut events = Vec::new();
    for name in names {
        let kind = EventType::parse(name.trim()).ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidRequest,
                format!(
                    "There is no event type “{}”. Types: {}.",
                    name.chars().take(64).collect::<String>(),
                    EventType::ALL.map(EventType::as_str).join(", ")
                ),
            )
            .with_field("events")
        })?;
        if !events.iter().any(|e| e == kind.as_str()) {
            events.push(kind.as_str().to_owned());
        }
    }
    Ok(events)
}

fn endpoint_view(r: &EndpointRecord) -> EndpointView {
    EndpointView {
        endpoint_id: r.endpoint_id.clone(),
        url: r.url.clone(),
        events: r
            .events
            .iter()
            .filter_map(|e| EventType::parse(e))
            .collect(),
        enabled: r.enabled,
        disabled_reason: r.disabled_reason.clone(),
        created_at: rfc3339(r.created_at),
        secret: None,
        previous_secret_until: r
            .previous_until
            .filter(|until| *until > now_ms())
            .map(rfc3339),
    }
}
