//! The sync worker: every process runs one. It claims queued runs from the store (and runs whose
//! process died, once their lease lapsed), at most `concurrency` at a time, and sleeps until a
//! run is queued here or the poll interval passes (runs queued by other processes are found by
//! polling).

use crate::service::ConnectorService;
use std::sync::Arc;
use tokio::sync::Semaphore;

pub async fn run(service: Arc<ConnectorService>, holder: String) {
    let settings = service.sync_settings();
    let queued = service.sync_queued();
    let slots = Arc::new(Semaphore::new(settings.concurrency));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        match service.claim_sync(&holder).await {
            Some(run) => {
                let (service, holder) = (service.clone(), holder.clone());
                tokio::spawn(async move {
                    service.execute_sync(run, &holder).await;
                    drop(slot);
                });
            }
            None => {
                drop(slot);
                tokio::select! {
                    _ = queued.notified() => {}
                    _ = tokio::time::sleep(settings.poll) => {}
                }
            }
        }
    }
}
