//! The store contract for data flows (runs, the run lease, stream positions, records), run with
//! the rest of the contract against SQLite always and MongoDB when `TEST_MONGO_URI` is set.

use super::contract::cid;
use super::*;
use crate::model::data::{RunStatus, RunTrigger, StreamCounts};
use std::collections::BTreeMap;
use std::sync::Arc;

fn run_record(
    tenant: &TenantId,
    connector: &ConnectorId,
    run_id: &str,
    created_at: i64,
) -> SyncRunRecord {
    SyncRunRecord {
        run_id: run_id.into(),
        tenant_id: tenant.clone(),
        connector_id: connector.clone(),
        status: RunStatus::Queued,
        trigger: RunTrigger::Manual,
        streams: vec!["customers".into()],
        full_refresh: false,
        created_at,
        started_at: None,
        finished_at: None,
        counts: BTreeMap::new(),
        error_code: None,
        error_message: None,
        holder: None,
        lease_until: 0,
    }
}

fn write(id: &str, digest: &str, deleted: bool) -> RecordWrite {
    RecordWrite {
        record_id: id.into(),
        sealed: format!("sealed-{id}-{digest}").into_bytes(),
        digest: digest.into(),
        deleted,
    }
}

fn page(
    t: &TenantId,
    connector: &ConnectorId,
    run: &str,
    holder: &str,
    records: Vec<RecordWrite>,
    end: Option<PassEnd>,
) -> PageCommit {
    PageCommit {
        tenant_id: t.clone(),
        connector_id: connector.clone(),
        run_id: run.into(),
        holder: holder.into(),
        now: 1_000,
        lease_ms: 10_000,
        stream: "customers".into(),
        pass_id: format!("{run}:customers"),
        records,
        pass: end.is_none().then(|| "{\"next\":\"somewhere\"}".to_owned()),
        end,
        newest_first: false,
    }
}

fn counts(added: u64, updated: u64, deleted: u64) -> Option<StreamCounts> {
    Some(StreamCounts {
        added,
        updated,
        deleted,
    })
}

pub async fn run(store: Arc<dyn Store>, prefix: &str) {
    let t = TenantId::parse(&format!("{prefix}-sync")).expect("tenant");
    let other = TenantId::parse(&format!("{prefix}-sync-other")).expect("tenant");
    let label = "conn-sync";
    let c = &cid(label);

    // One active run per connector; another connector (or tenant) is independent.
    assert_eq!(
        store
            .queue_run(&run_record(&t, c, "run-1", 10))
            .await
            .expect("queue"),
        Queued::New
    );
    assert_eq!(
        store
            .queue_run(&run_record(&t, c, "run-2", 11))
            .await
            .expect("queue"),
        Queued::AlreadyActive("run-1".into())
    );
    assert_eq!(
        store
            .queue_run(&run_record(&other, c, "run-o", 12))
            .await
            .expect("queue"),
        Queued::New
    );

    // Claimed by one holder; nobody else gets it while the lease holds.
    let claimed = store
        .claim_run("p1", 100, 1_000)
        .await
        .expect("claim")
        .expect("a run");
    assert_eq!(
        (claimed.run_id.as_str(), claimed.status),
        ("run-1", RunStatus::Running)
    );
    let next = store
        .claim_run("p2", 100, 1_000)
        .await
        .expect("claim")
        .expect("the other tenant's");
    assert_eq!(next.run_id, "run-o");
    assert!(store
        .claim_run("p2", 200, 1_000)
        .await
        .expect("claim")
        .is_none());
    assert!(store
        .renew_run("run-1", "p1", 300, 1_000)
        .await
        .expect("renew"));
    assert!(
        !store
            .renew_run("run-1", "p2", 300, 1_000)
            .await
            .expect("renew"),
        "not p2's"
    );
    assert!(store
        .finish_run("run-o", "p2", RunStatus::Succeeded, None, 400)
        .await
        .expect("finish"));

    // Pages: added, then the same again is no change, a new digest is an update.
    let p1 = |records, end| page(&t, c, "run-1", "p1", records, end);
    assert_eq!(
        store
            .commit_page(&p1(
                vec![write("a", "1", false), write("b", "1", false)],
                None
            ))
            .await
            .expect("page"),
        counts(2, 0, 0)
    );
    assert_eq!(
        store
            .commit_page(&p1(
                vec![write("a", "1", false), write("b", "2", false)],
                None
            ))
            .await
            .expect("page"),
        counts(0, 1, 0)
    );
    let state = store.stream_states(&t, c).await.expect("states");
    assert_eq!(state.len(), 1);
    assert_eq!(
        state[0].pass.as_deref(),
        Some("{\"next\":\"somewhere\"}"),
        "the position is saved with the page"
    );
    assert_eq!(state[0].record_count, 2);

    // A holder that lost the run writes nothing.
    let stolen = page(&t, c, "run-1", "p2", vec![write("z", "1", false)], None);
    assert_eq!(store.commit_page(&stolen).await.expect("page"), None);

    // The end of a full read: what the pass did not see is deleted; the cursor is kept.
    let older = PageCommit {
        pass_id: "older-pass".into(),
        ..p1(vec![write("c", "1", false)], None)
    };
    store.commit_page(&older).await.expect("page");
    let end = p1(
        vec![write("d", "1", false)],
        Some(PassEnd {
            cursor: Some(5_000),
            feed: Some("position-7".into()),
            full_read: true,
        }),
    );
    assert_eq!(
        store.commit_page(&end).await.expect("page"),
        counts(1, 0, 1),
        "c was not seen by this pass"
    );
    let state = &store.stream_states(&t, c).await.expect("states")[0];
    assert_eq!(
        (state.cursor, state.pass.as_deref(), state.record_count),
        (Some(5_000), None, 3)
    );
    assert_eq!(state.last_synced_at, Some(1_000));
    assert_eq!(state.feed.as_deref(), Some("position-7"));
    // A pass that learnt no newer position keeps the stream's.
    let quiet = p1(
        Vec::new(),
        Some(PassEnd {
            cursor: None,
            feed: None,
            full_read: false,
        }),
    );
    assert_eq!(
        store.commit_page(&quiet).await.expect("page"),
        counts(0, 0, 0)
    );
    let state = &store.stream_states(&t, c).await.expect("states")[0];
    assert_eq!(
        (state.cursor, state.feed.as_deref(), state.record_count),
        (Some(5_000), Some("position-7"), 3)
    );

    // Records in the order of their latest change, deletions included; keyset pages.
    let all = store
        .list_records(&t, c, "customers", 0, 100)
        .await
        .expect("records");
    let order: Vec<(&str, bool)> = all
        .iter()
        .map(|r| (r.record_id.as_str(), r.deleted))
        .collect();
    assert_eq!(
        order,
        [("a", false), ("b", false), ("d", false), ("c", true)],
        "d's page came before c's deletion"
    );
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    let after_b = store
        .list_records(&t, c, "customers", all[1].seq, 1)
        .await
        .expect("records");
    assert_eq!(after_b.len(), 1);
    assert_eq!(after_b[0].record_id, "d");
    assert!(
        store
            .list_records(&other, c, "customers", 0, 100)
            .await
            .expect("records")
            .is_empty(),
        "scoped by tenant"
    );
    assert_eq!(store.count_records(&t, c).await.expect("count"), 4);

    // Newest first (an event log): what this pass already wrote is newer, and stays.
    let events = |records, newest_first| PageCommit {
        newest_first,
        pass_id: "events-pass".into(),
        ..p1(records, None)
    };
    let newer = events(vec![write("b", "3", false)], true);
    assert_eq!(
        store.commit_page(&newer).await.expect("page"),
        counts(0, 1, 0)
    );
    let older = events(vec![write("b", "2", false)], true);
    assert_eq!(
        store.commit_page(&older).await.expect("page"),
        counts(0, 0, 0),
        "an older state is not written over a newer one"
    );
    let restored = events(vec![write("b", "2", false)], false);
    assert_eq!(
        store.commit_page(&restored).await.expect("page"),
        counts(0, 1, 0),
        "in list order it is"
    );

    // One record twice in one page (a list that moved under the reader): each state counts as
    // it would one page at a time, and the last is what is stored.
    let twice = events(
        vec![write("dup", "1", false), write("dup", "2", false)],
        false,
    );
    assert_eq!(
        store.commit_page(&twice).await.expect("page"),
        counts(1, 1, 0)
    );
    let stored = store
        .list_records(&t, c, "customers", 0, 100)
        .await
        .expect("records");
    let dup: Vec<_> = stored.iter().filter(|r| r.record_id == "dup").collect();
    assert_eq!(dup.len(), 1);
    assert_eq!(dup[0].sealed, b"sealed-dup-2");

    // Newest first, a record already stored as it is now, then an older state of it (event
    // logs overlapping where a run resumed): the older one is not written.
    let overlap = PageCommit {
        newest_first: true,
        pass_id: "overlap-pass".into(),
        ..p1(vec![write("b", "2", false), write("b", "1", false)], None)
    };
    assert_eq!(
        store.commit_page(&overlap).await.expect("page"),
        counts(0, 0, 0)
    );
    let stored = store
        .list_records(&t, c, "customers", 0, 100)
        .await
        .expect("records");
    let b: Vec<_> = stored.iter().filter(|r| r.record_id == "b").collect();
    assert_eq!(b[0].sealed, b"sealed-b-2", "the newer state stays");

    // A deletion the provider reports, and a record coming back.
    assert_eq!(
        store
            .commit_page(&p1(vec![write("a", "1", true)], None))
            .await
            .expect("page"),
        counts(0, 0, 1)
    );
    assert_eq!(
        store
            .commit_page(&p1(vec![write("c", "1", false)], None))
            .await
            .expect("page"),
        counts(1, 0, 0)
    );

    // The run's counts add up; finishing frees the connector for the next run.
    assert!(store
        .finish_run("run-1", "p1", RunStatus::Succeeded, None, 2_000)
        .await
        .expect("finish"));
    assert!(
        !store
            .finish_run("run-1", "p1", RunStatus::Failed, None, 2_000)
            .await
            .expect("finish"),
        "once"
    );
    let done = store
        .get_run(&t, c, "run-1")
        .await
        .expect("get")
        .expect("run");
    assert_eq!(done.status, RunStatus::Succeeded);
    assert_eq!(
        done.counts["customers"],
        StreamCounts {
            added: 6,
            updated: 4,
            deleted: 2
        }
    );
    assert!(
        store
            .get_run(&other, c, "run-1")
            .await
            .expect("get")
            .is_none(),
        "scoped by tenant"
    );
    assert_eq!(
        store
            .queue_run(&run_record(&t, c, "run-3", 20))
            .await
            .expect("queue"),
        Queued::New
    );

    // A run whose holder died is claimed again once its lease lapses.
    let claimed = store
        .claim_run("p3", 3_000, 500)
        .await
        .expect("claim")
        .expect("run-3");
    assert_eq!(claimed.run_id, "run-3");
    assert!(store
        .claim_run("p4", 3_100, 500)
        .await
        .expect("claim")
        .is_none());
    let taken = store
        .claim_run("p4", 4_000, 500)
        .await
        .expect("claim")
        .expect("lapsed");
    assert_eq!(
        (taken.run_id.as_str(), taken.holder.as_deref()),
        ("run-3", Some("p4"))
    );
    assert!(
        !store
            .renew_run("run-3", "p3", 4_000, 500)
            .await
            .expect("renew"),
        "the dead holder lost it"
    );
    let history: Vec<String> = store
        .list_runs(&t, c, None, 10)
        .await
        .expect("runs")
        .into_iter()
        .map(|r| r.run_id)
        .collect();
    assert_eq!(history, ["run-3", "run-1"], "newest first");

    store
        .finish_run(
            "run-3",
            "p4",
            RunStatus::Failed,
            Some(("PROVIDER_ERROR".into(), "down".into())),
            5_000,
        )
        .await
        .expect("finish");
    let failed = store
        .get_run(&t, c, "run-3")
        .await
        .expect("get")
        .expect("run");
    assert_eq!(failed.error_code.as_deref(), Some("PROVIDER_ERROR"));

    // Scheduling: a connector on a schedule is due at once, then not before the time set.
    let vault = crate::vault::Vault::from_key_list(
        &crate::secret::SecretString::new(crate::vault::generate_key()),
        "K",
    )
    .expect("vault");
    let key = vault.audit_key();
    let audit = |action: &str| AuditWrite {
        entry: AuditRecord {
            seq: 0,
            tenant_id: t.as_str().into(),
            at: 1,
            user_id: "u".into(),
            action: action.into(),
            connector_id: Some(c.to_string()),
            outcome: "ok".into(),
            error_code: None,
            client: "-".into(),
            detail: None,
            prev_hash: String::new(),
            hash: String::new(),
        },
        key: &key,
    };
    let mut connector = super::contract::record(t.as_str(), label, 1);
    connector.sync_frequency = SyncFrequency::Hourly;
    store
        .insert(&t, &connector, &audit("create"), &[])
        .await
        .expect("insert");
    let due = |now| {
        let store = store.clone();
        async move {
            store
                .due_for_sync(now, 100)
                .await
                .expect("due")
                .into_iter()
                .map(|r| r.connector_id)
                .collect::<Vec<_>>()
        }
    };
    assert!(due(10_000).await.contains(c));
    store.schedule_sync(&t, c, 50_000).await.expect("schedule");
    assert!(!due(10_000).await.contains(c));
    assert!(due(50_000).await.contains(c));

    // Key rotation reads the records' tokens (with whose each is) and rewrites them, with their
    // digests, where they are still as read.
    {
        use base64::{engine::general_purpose::URL_SAFE, Engine};
        let owner = format!("{t}/{c}/customers/");
        let mut sealed = super::contract_sealed::all_sealed(&store, SealedKind::Records).await;
        sealed.retain(|v| v.owner.as_deref().is_some_and(|o| o.starts_with(&owner)));
        let stored = store
            .list_records(&t, c, "customers", 0, 100)
            .await
            .expect("records");
        assert_eq!(sealed.len(), stored.len(), "every record, once");
        let first = &sealed[0];
        let record_id = first
            .owner
            .as_deref()
            .unwrap_or_default()
            .trim_start_matches(&owner);
        let before = stored
            .iter()
            .find(|r| r.record_id == record_id)
            .expect("listed");
        assert_eq!(first.token, URL_SAFE.encode(&before.sealed));
        let new_token = URL_SAFE.encode(b"resealed");
        let change = Reseal {
            value: first.clone(),
            token: new_token.clone(),
            digest: Some("new-digest".into()),
        };
        assert_eq!(
            store
                .reseal(SealedKind::Records, std::slice::from_ref(&change))
                .await
                .expect("reseal"),
            1
        );
        assert_eq!(
            store
                .reseal(SealedKind::Records, &[change])
                .await
                .expect("reseal"),
            0,
            "a value no longer as read is left alone"
        );
        let after: Vec<_> = store
            .list_records(&t, c, "customers", 0, 100)
            .await
            .expect("records")
            .into_iter()
            .filter(|r| r.record_id == record_id)
            .collect();
        assert_eq!(after[0].sealed, b"resealed");
        assert_eq!(after[0].seq, before.seq, "re-sealing is not a change");
    }

    // Deleting the connector deletes everything its syncs stored, in the same transaction.
    assert!(store
        .delete(&t, c, &audit("delete"), &[])
        .await
        .expect("delete"));
    assert_eq!(store.count_records(&t, c).await.expect("count"), 0);
    assert!(store.stream_states(&t, c).await.expect("states").is_empty());
    assert!(store
        .list_runs(&t, c, None, 10)
        .await
        .expect("runs")
        .is_empty());
    assert!(!due(60_000).await.contains(c));
}

/// Retention of sync runs: finished runs older than the cut go, except each connector's latest
/// finished one (its data page shows it); queued and running runs stay whatever their age.
pub async fn run_retention(store: Arc<dyn Store>, prefix: &str) {
    let t = TenantId::parse(&format!("{prefix}-retention")).expect("tenant");
    let finished = |connector: &str, run_id: &str, at: i64, status: RunStatus| {
        let mut run = run_record(&t, &cid(connector), run_id, at);
        run.status = status;
        run.finished_at = Some(at + 1);
        run
    };
    for run in [
        finished("conn-a", "run-a1", 100, RunStatus::Succeeded),
        finished("conn-a", "run-a2", 300, RunStatus::Failed),
        run_record(&t, &cid("conn-a"), "run-a3", 500),
        finished("conn-b", "run-b1", 100, RunStatus::Succeeded),
        finished("conn-c", "run-c1", 100, RunStatus::Succeeded),
        finished("conn-c", "run-c2", 5_000, RunStatus::Succeeded),
    ] {
        assert_eq!(store.queue_run(&run).await.expect("queue"), Queued::New);
    }
    // Run last: older runs of the other contract tenants may go too.
    assert!(store.prune_runs(1_000).await.expect("prune") >= 2);
    let left = |connector: &'static str| {
        let (store, t) = (store.clone(), t.clone());
        async move {
            store
                .list_runs(&t, &cid(connector), None, 10)
                .await
                .expect("runs")
                .into_iter()
                .map(|r| r.run_id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        left("conn-a").await,
        ["run-a3", "run-a2"],
        "the queued one, the latest finished"
    );
    assert_eq!(left("conn-b").await, ["run-b1"], "an old latest run stays");
    assert_eq!(left("conn-c").await, ["run-c2"], "the old one of two goes");
}
