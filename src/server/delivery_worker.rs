//! The delivery worker: every process runs one. It claims due deliveries from the store (a
//! claim is a lease: no other process sends the same attempt; one whose process died is claimed
//! again once the lease lapses), sends at most `concurrency` at a time, and sleeps until a
//! delivery may be due here or the poll interval passes.

use crate::service::ConnectorService;
use std::sync::Arc;
use tokio::sync::Semaphore;

pub async fn run(service: Arc<ConnectorService>, holder: String) {
    let settings = service.delivery_settings();
    let due = service.deliveries_due();
    let slots = Arc::new(Semaphore::new(settings.concurrency));
    loop {
        // A free slot first: claiming more than can be sent would only hold them under a lease.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let jobs = service
            .claim_deliveries(&holder, slots.available_permits() + 1)
            .await;
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
            let (service, holder) = (service.clone(), holder.clone());
            tokio::spawn(async move {
                service.deliver(job, &holder).await;
                drop(permit);
            });
        }
    }
}
