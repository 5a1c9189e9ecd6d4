//! The store contract for what a store reads back: a stored connector id that is not one (written
//! beneath the trait — by hand, by another program, by a bug) is reported as a store error by
//! every read that meets it, never handed on and never a panic; mended, the row reads again. Run
//! against SQLite always and against MongoDB when `TEST_MONGO_URI` names a server, each on a
//! store of its own (a corrupt row would fail the other contract tests' scans across tenants).

use super::contract::{audit_entry, record, tenant};
use super::*;
use crate::model::data::{RunStatus, RunTrigger};
use std::sync::Arc;

/// The database beneath a store, written directly.
enum Beneath {
    Sqlite(std::path::PathBuf),
    Mongo(mongodb::Database),
}

impl Beneath {
    /// Renames `tenant`'s connector `from` to `to` in `table` (a collection on MongoDB).
    async fn rename(&self, table: &str, tenant: &TenantId, from: &str, to: &str) {
        let renamed = match self {
            Self::Sqlite(file) => {
                let c = rusqlite::Connection::open(file).expect("open the SQLite file");
                c.busy_timeout(std::time::Duration::from_secs(10))
                    .expect("busy timeout");
                let sql = format!(
                    "UPDATE {table} SET connector_id = ?1 WHERE tenant_id = ?2 AND connector_id = ?3"
                );
                let n = c
                    .execute(&sql, rusqlite::params![to, tenant.as_str(), from])
                    .expect("rename");
                u64::try_from(n).expect("a count")
            }
            Self::Mongo(db) => {
                use mongodb::bson::{doc, Document};
                db.collection::<Document>(table)
                    .update_many(
                        doc! {"tenant_id": tenant.as_str(), "connector_id": from},
                        doc! {"$set": {"connector_id": to}},
                    )
                    .await
                    .expect("rename")
                    .modified_count
            }
        };
        assert_eq!(renamed, 1, "{table}: one row renamed");
    }
}

fn refused<T: std::fmt::Debug>(read: &str, result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{read}: a stored id that is not one is a store error, not {result:?}"
    );
}

async fn run(store: Arc<dyn Store>, beneath: Beneath) {
    let t = tenant("corrupt");
    let vault = crate::vault::Vault::from_key_list(
        &crate::secret::SecretString::new(crate::vault::generate_key()),
        "K",
    )
    .expect("vault");
    let key = vault.audit_key();
    let stored = record(t.as_str(), "mended", 1);
    let audit = AuditWrite {
        entry: audit_entry(&t, "create", "mended"),
        key: &key,
    };
    store
        .insert(&t, &stored, &audit, &[])
        .await
        .expect("insert");
    let run = SyncRunRecord {
        run_id: "run-corrupt".into(),
        tenant_id: t.clone(),
        connector_id: stored.connector_id.clone(),
        status: RunStatus::Queued,
        trigger: RunTrigger::Manual,
        streams: Vec::new(),
        full_refresh: false,
        created_at: 1,
        started_at: None,
        finished_at: None,
        counts: Default::default(),
        error_code: None,
        error_message: None,
        holder: None,
        lease_until: 0,
    };
    assert_eq!(store.queue_run(&run).await.expect("queue"), Queued::New);

    let (id, bad) = (stored.connector_id.as_str(), "../not-an-id");
    beneath.rename("connectors", &t, id, bad).await;
    beneath.rename("sync_runs", &t, id, bad).await;
    let listing = ListQuery {
        limit: 10,
        ..Default::default()
    };
    refused("list", store.list(&t, &listing).await);
    refused("find_by_hook", store.find_by_hook(&stored.hook_token).await);
    refused("scan_all", store.scan_all(None, 10).await);
    refused("due_for_test", store.due_for_test(i64::MAX / 2, 10).await);
    refused("claim_run", store.claim_run("p1", 100, 1_000).await);
    assert!(
        store
            .get(&t, &stored.connector_id)
            .await
            .expect("get")
            .is_none(),
        "the id asked for is no longer stored"
    );

    // Mended beneath the trait, the same rows read again.
    beneath.rename("connectors", &t, bad, id).await;
    beneath.rename("sync_runs", &t, bad, id).await;
    let listed = store.list(&t, &listing).await.expect("list");
    assert_eq!(
        listed.iter().map(|r| &r.connector_id).collect::<Vec<_>>(),
        [&stored.connector_id]
    );
    // (The failed claim may have taken the run before its row failed to read: claimed again
    // after that lease.)
    let claimed = store
        .claim_run("p1", 10_000, 1_000)
        .await
        .expect("claim")
        .expect("the run");
    assert_eq!(
        (claimed.run_id.as_str(), &claimed.connector_id),
        ("run-corrupt", &stored.connector_id)
    );
}

#[tokio::test]
async fn sqlite_reports_a_stored_id_that_is_not_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(SqliteStore::open(dir.path()).await.expect("open"));
    let file = store.path().to_owned();
    run(store, Beneath::Sqlite(file)).await;
}

#[tokio::test]
async fn mongo_reports_a_stored_id_that_is_not_one() {
    let Some(uri) = std::env::var("TEST_MONGO_URI")
        .ok()
        .or_else(|| std::env::var("MONGO_URI").ok())
    else {
        eprintln!("SKIPPED mongo_reports_a_stored_id_that_is_not_one: TEST_MONGO_URI is not set (MongoDB is not installable on this machine)");
        return;
    };
    let db = format!("connector_hub_test_corrupt_{}", std::process::id());
    let store = MongoStore::connect(&uri, &db).await.expect("connect");
    let client = mongodb::Client::with_uri_str(&uri).await.expect("client");
    run(Arc::new(store), Beneath::Mongo(client.database(&db))).await;
}
