//! The sync worker: every process runs one. It claims queued runs from the store (and runs whose
//! process died, once their lease lapsed), at most `concurrency` at a time, and sleeps until a
//! run is queued here or the poll interval passes (runs queued by other processes are found by
//! polling).

use crate::service::Syncs;
use std::sync::Arc;
use tokio::sync::Semaphore;

pub(crate) async fn run(syncs: Arc<Syncs>, holder: String) {
    let settings = syncs.sync_settings();
    let queued = syncs.sync_queued();
    let slots = Arc::new(Semaphore::new(settings.concurrency));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        match syncs.claim_sync(&holder).await {
            Some(run) => {
                let (syncs, holder) = (syncs.clone(), holder.clone());
                tokio::spawn(async move {
                    syncs.execute_sync(run, &holder).await;
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
