//! The delivery worker: every process runs one. It claims due deliveries from the store (a
//! claim is a lease: no other process sends the same attempt; one whose process died is claimed
//! again once the lease lapses), sends at most `concurrency` at a time, and sleeps until a
//! delivery may be due here or the poll interval passes.
//!
//! Slots are shared fairly: while other tenants have work, one tenant has at most `per_tenant`
//! deliveries under way, so its slow or failing endpoints cannot hold every slot. A tenant that
//! alone has work may use all but one (the claim falls back to no cap): the last free slot waits
//! for a tenant below its share, whose event then goes out at once.

use crate::ids::TenantId;
use crate::service::Events;
use crate::store::ClaimShare;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::Semaphore;

/// This process's deliveries under way, by tenant.
#[derive(Default, Clone)]
struct InFlight(Arc<Mutex<HashMap<TenantId, usize>>>);

impl InFlight {
    fn snapshot(&self) -> Vec<(TenantId, usize)> {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.iter().map(|(t, n)| (t.clone(), *n)).collect()
    }

    /// Counts one of `tenant`'s deliveries until the guard is dropped.
    fn start(&self, tenant: &TenantId) -> Started {
        *self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(tenant.clone())
            .or_default() += 1;
        Started {
            flight: self.clone(),
            tenant: tenant.clone(),
        }
    }
}

struct Started {
    flight: InFlight,
    tenant: TenantId,
}

impl Drop for Started {
    fn drop(&mut self) {
        let mut map = self.flight.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.tenant) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.tenant);
            }
        }
    }
}

pub(crate) async fn run(events: Arc<Events>, holder: String) {
    let settings = events.delivery_settings();
    let due = events.deliveries_due();
    let slots = Arc::new(Semaphore::new(settings.concurrency));
    let in_flight = InFlight::default();
    loop {
        // A free slot first: claiming more than can be sent would only hold them under a lease.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let room = slots.available_permits() + 1;
        let share = ClaimShare {
            per_tenant: Some(settings.per_tenant),
            in_flight: in_flight.snapshot(),
        };
        let mut jobs = events.claim_deliveries(&holder, room, &share).await;
        if jobs.is_empty() && room > 1 && !share.full().is_empty() {
            // Only tenants at their share have work: nobody waits, so they may use the slots,
            // all but the one kept for whoever comes next.
            jobs = events
                .claim_deliveries(&holder, room - 1, &ClaimShare::default())
                .await;
        }
        if jobs.is_empty() {
            drop(slot);
            tokio::select! {
                _ = due.notified() => {}
                _ = tokio::time::sleep(settings.poll) => {}
            }
            continue;
        }
        let mut slot = Some(slot);
        for job in jobs {
            let permit = match slot.take() {
                Some(permit) => permit,
                None => match slots.clone().acquire_owned().await {
                    Ok(permit) => permit,
                    Err(_) => return,
                },
            };
            let (events, holder) = (events.clone(), holder.clone());
            let started = in_flight.start(&job.delivery.tenant_id);
            tokio::spawn(async move {
                events.deliver(job, &holder).await;
                drop((permit, started));
            });
        }
    }
}
