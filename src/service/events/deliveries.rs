//! Delivering events: a claimed delivery is signed as Standard Webhooks says and posted to its
//! endpoint through the one way out to providers (`outbound`) (the egress policy and the https rule hold for it
//! too); the answer decides what follows — done, tried again later on the schedule (honouring
//! `Retry-After`), given up, or the endpoint turned off on `410 Gone`.

use super::Events;
use crate::clock::now_ms;
use crate::outbound::http::{retry_after, Destination, Forward, Probe};
use crate::store::{AttemptOutcome, AttemptRecord, ClaimShare, DeliveryJob};
use crate::webhooks::{default_schedule, next_wait, standard};
use reqwest::Url;
use std::time::{Duration, Instant};

/// How events are delivered: the retry schedule, the lease a claimed delivery holds, how many go
/// out at once from one process, and how often an idle worker looks for due ones.
#[derive(Debug, Clone)]
pub(crate) struct DeliverySettings {
    pub(crate) schedule: Vec<Duration>,
    pub(crate) lease: Duration,
    /// How long one attempt may take; always shorter than the lease, so an attempt still under
    /// way is never claimed (and sent) again by another process.
    pub(crate) timeout: Duration,
    pub(crate) concurrency: usize,
    /// How many of one tenant's deliveries may be under way at once while others wait.
    pub(crate) per_tenant: usize,
    pub(crate) poll: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            schedule: default_schedule(),
            lease: Duration::from_secs(60),
            timeout: Duration::from_secs(15),
            concurrency: 8,
            per_tenant: 4,
            poll: Duration::from_secs(1),
        }
    }
}

/// How long delivered (or given-up) events, their attempts, and the ids of provider events
/// received are kept.
pub(crate) const RETENTION_DAYS: u32 = 30;

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Events {
    /// Deliveries due now, claimed for `holder`, within `share`.
    pub(crate) async fn claim_deliveries(
        &self,
        holder: &str,
        limit: usize,
        share: &ClaimShare,
    ) -> Vec<DeliveryJob> {
        match self
            .store
            .claim_deliveries(holder, now_ms(), ms(self.deliveries.lease), limit, share)
            .await
        {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(error = %e, "delivery worker: could not look for due deliveries");
                Vec::new()
            }
        }
    }

    /// One attempt at a claimed delivery, recorded with what follows from it.
    pub(crate) async fn deliver(&self, job: DeliveryJob, holder: &str) {
        let started = Instant::now();
        let at = now_ms();
        let sent = self.post_event(&job, at).await;
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let attempts = job.delivery.attempts + 1;
        let retry =
            |asked: Option<Duration>| match next_wait(&self.deliveries.schedule, attempts, asked) {
                Some(wait) => AttemptOutcome::RetryAt(now_ms() + ms(wait)),
                None => AttemptOutcome::GaveUp,
            };
        let (attempt, outcome) = match sent {
            Ok((status, asked)) => {
                let outcome = match status {
                    200..=299 => AttemptOutcome::Delivered,
                    410 => AttemptOutcome::EndpointGone,
                    _ => retry(asked),
                };
                let attempt = AttemptRecord {
                    at,
                    status: Some(status),
                    duration_ms,
                    error: None,
                };
                (attempt, outcome)
            }
            Err(error) => {
                let attempt = AttemptRecord {
                    at,
                    status: None,
                    duration_ms,
                    error: Some(format!("{}: {}", error.code, error.message)),
                };
                (attempt, retry(None))
            }
        };
        let id = &job.delivery.delivery_id;
        match self
            .store
            .finish_attempt(id, holder, &attempt, outcome)
            .await
        {
            Ok(true) => {
                tracing::info!(tenant = %job.delivery.tenant_id, delivery_id = %id, event_type = %job.delivery.event_type,
                    status = ?attempt.status, outcome = ?outcome, "event delivery attempted");
                self.metrics.delivery(match outcome {
                    AttemptOutcome::Delivered => "delivered",
                    AttemptOutcome::RetryAt(_) => "retry",
                    AttemptOutcome::GaveUp => "gave_up",
                    AttemptOutcome::EndpointGone => "gone",
                });
            }
            Ok(false) => {
                tracing::warn!(delivery_id = %id, "delivery taken over by another process")
            }
            Err(e) => {
                tracing::error!(delivery_id = %id, error = %e, "delivery attempt not recorded")
            }
        }
    }

    /// Posts the event; the endpoint's status and the `Retry-After` it sent.
    async fn post_event(
        &self,
        job: &DeliveryJob,
        now: i64,
    ) -> Result<(u16, Option<Duration>), crate::error::Error> {
        use crate::error::{Error, ErrorCode};
        let body = self
            .outbox
            .open(&job.delivery.tenant_id, &job.event)
            .ok_or_else(|| Error::from_code(ErrorCode::DecryptionFailed))?;
        let secrets = self.endpoint_secrets(&job.endpoint, now);
        let timestamp = now / 1000;
        let signature = standard::signatures(
            secrets.iter().map(String::as_str),
            &job.event.event_id,
            timestamp,
            &body,
        );
        if signature.is_empty() {
            return Err(Error::from_code(ErrorCode::DecryptionFailed));
        }
        let url = Url::parse(&job.endpoint.url).map_err(|_| {
            Error::new(
                ErrorCode::InvalidConfig,
                "The endpoint's address is not a valid URL.",
            )
        })?;
        let mut headers = http::HeaderMap::new();
        let pairs = [
            ("content-type", "application/json".to_owned()),
            ("webhook-id", job.event.event_id.clone()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
        ];
        for (name, value) in pairs {
            if let Ok(value) = http::HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        let forward = Forward {
            method: http::Method::POST,
            headers,
            body: body.into(),
            timeout: Some(self.deliveries.timeout),
        };
        let mut probe = Probe::get(url, Destination::Tenant);
        probe.url_field = Some("url");
        let response = self.outbound.http().forward(probe, forward).await?;
        Ok((
            response.status().as_u16(),
            retry_after(response.headers()).map(Duration::from_secs),
        ))
    }

    /// The monitor's part: forgets history older than `RETENTION_DAYS` — finished deliveries
    /// and those of disabled endpoints, their events, received provider event ids, and finished
    /// sync runs but each connector's latest — at most once an hour (it scans the tables).
    pub(crate) async fn prune_history(&self) {
        use std::sync::atomic::Ordering;
        let now = now_ms();
        if now - self.pruned_at.load(Ordering::Relaxed) < 3_600_000 {
            return;
        }
        self.pruned_at.store(now, Ordering::Relaxed);
        let before = now - i64::from(RETENTION_DAYS) * 86_400_000;
        let pruned = match self.store.prune_events(before).await {
            Ok(n) => self.store.prune_runs(before).await.map(|runs| n + runs),
            Err(e) => Err(e),
        };
        match pruned {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                rows = n,
                "history older than {RETENTION_DAYS} days forgotten"
            ),
            Err(e) => tracing::warn!(error = %e, "old history could not be forgotten"),
        }
    }

    pub(crate) fn delivery_settings(&self) -> DeliverySettings {
        self.deliveries.clone()
    }

    /// Notified when an event may be due at once (a change queued one, a replay), so the
    /// worker looks now.
    pub(crate) fn deliveries_due(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.wake.deliveries.clone()
    }
}
