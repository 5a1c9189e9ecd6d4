//! Following new work across processes: a change stream on the sync runs and deliveries
//! collections wakes this process's workers the moment any process inserts one, instead of at
//! their next poll. Only inserts are followed: a claim or a finished delivery updates its
//! document, and waking every worker for each of those would be a loop of empty claims.

use super::super::WorkWakes;
use super::MongoStore;
use futures_util::StreamExt;
use mongodb::bson::doc;
use std::time::Duration;

/// The pause before the stream is opened again after it failed (an election, a restart): it
/// doubles from the first up to the last.
const REOPEN_AFTER: [Duration; 2] = [Duration::from_millis(100), Duration::from_secs(5)];
/// How long a stream must have held for its next failure to count as a new one.
const HELD: Duration = Duration::from_secs(10);

impl MongoStore {
    pub(super) async fn watch_inserts(&self, wake: &WorkWakes) {
        let (runs, deliveries) = (
            self.sync_runs.name().to_owned(),
            self.webhook_deliveries.name().to_owned(),
        );
        let pipeline = [
            doc! {"$match": {"operationType": "insert", "ns.coll": {"$in": [&runs, &deliveries]}}},
            // Only what happened where: the documents themselves stay where they are. (The
            // driver reads every event as a `ChangeStreamEvent`, which needs `operationType`.)
            doc! {"$project": {"operationType": 1, "ns": 1}},
        ];
        let database = self.client.database(self.sync_runs.namespace().db.as_str());
        let mut pause = REOPEN_AFTER[0];
        loop {
            match database.watch().pipeline(pipeline.clone()).await {
                Ok(mut stream) => {
                    // Work queued while the stream was closed would otherwise wait for a poll.
                    wake.syncs.notify_one();
                    wake.deliveries.notify_one();
                    let opened = std::time::Instant::now();
                    while let Some(event) = stream.next().await {
                        match event {
                            Ok(change) => match change.ns.and_then(|ns| ns.coll) {
                                Some(coll) if coll == runs => wake.syncs.notify_one(),
                                Some(coll) if coll == deliveries => wake.deliveries.notify_one(),
                                _ => {}
                            },
                            Err(e) => {
                                tracing::warn!(error = %e, "watching for new work stopped; opening it again");
                                break;
                            }
                        }
                    }
                    // A stream that held for a while starts the pauses over; one that breaks as
                    // soon as it opens keeps doubling them.
                    if opened.elapsed() > HELD {
                        pause = REOPEN_AFTER[0];
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not watch for new work; the workers poll meanwhile")
                }
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(REOPEN_AFTER[1]);
        }
    }
}
