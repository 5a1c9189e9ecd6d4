//! Which store the suite runs on, chosen by one setting for the whole run: SQLite (the embedded
//! default) unless `TEST_STORE=mongodb`, when every app and server the tests start uses the
//! MongoDB replica set at `TEST_MONGO_URI` (`scripts/run-tests.sh` starts one and runs the suite
//! a second time so). Each data directory gets a database of its own, named from its path, so
//! servers that share a data directory share a database, as they would share a SQLite file.

use connector_hub::ids::ConnectorId;
use connector_hub::store::{MongoStore, SqliteStore, Store};
use std::path::Path;
use std::sync::Arc;

/// Whether this run of the suite is on MongoDB.
pub fn on_mongo() -> bool {
    match std::env::var("TEST_STORE").as_deref() {
        Ok("mongodb") => true,
        Ok("sqlite") | Err(_) => false,
        Ok(other) => panic!("TEST_STORE={other}: expected sqlite or mongodb"),
    }
}

/// The replica set's URI; a run asked to use MongoDB without one fails loudly.
pub fn mongo_uri() -> String {
    std::env::var("TEST_MONGO_URI").expect("TEST_STORE=mongodb needs TEST_MONGO_URI")
}

/// The database the servers on `data_dir` use.
pub fn mongo_database(data_dir: &Path) -> String {
    let hash = data_dir
        .to_string_lossy()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("hub_test_{hash:016x}")
}

/// The settings that point a server on `data_dir` at the suite's store (none for SQLite, whose
/// file lives in the data directory).
pub fn store_env(data_dir: &Path) -> Vec<(String, String)> {
    if !on_mongo() {
        return Vec::new();
    }
    vec![
        ("MONGO_URI".into(), mongo_uri()),
        ("MONGO_DB".into(), mongo_database(data_dir)),
    ]
}

/// The store the servers on `data_dir` use, opened beside them (as another process would).
pub async fn open_store(data_dir: &Path) -> Arc<dyn Store> {
    if on_mongo() {
        Arc::new(
            MongoStore::connect(&mongo_uri(), &mongo_database(data_dir))
                .await
                .expect("mongodb store"),
        )
    } else {
        Arc::new(SqliteStore::open(data_dir).await.expect("sqlite store"))
    }
}

/// The id of a connector the API answered with, as the store's methods take it.
pub fn connector_id(text: &str) -> ConnectorId {
    ConnectorId::parse(text).unwrap_or_else(|| panic!("{text:?} is not a connector id"))
}

/// For a test of something only the SQLite store has (its file, its WAL, its disk): says so and
/// tells the caller to return when the suite runs on MongoDB.
pub fn sqlite_only(test: &str) -> bool {
    if on_mongo() {
        eprintln!("{test}: SQLite's own behaviour; not run on MongoDB");
        return true;
    }
    false
}
