//! What the store keeps, read and changed beneath the `Store` trait, for tests that must look at
//! stored rows (to prove something is sealed, bound to its owner or gone) or tamper with them
//! (age a state, plant an old ciphertext, break the audit log). Each operation is written twice,
//! alike: once for the SQLite file in the data directory (`src/store/sqlite/schema.rs`), once
//! for the MongoDB database the servers on that data directory use (`src/store/mongo`, whose
//! collections and fields carry the same names as SQLite's tables and columns, but for
//! `wizard_drafts`).

use super::store::{mongo_database, mongo_uri, on_mongo};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::{Collection, Database};
use std::path::Path;

/// A value to put in a connector's column (or field): a number or a text, either maybe absent.
pub enum Field {
    Int(Option<i64>),
    Text(Option<String>),
}

/// A connector as stored: whose it is, its sealed configuration and its token times.
pub struct StoredConnector {
    pub tenant_id: String,
    pub encrypted_config: String,
    pub token_expires_at: Option<i64>,
    pub token_refreshed_at: Option<i64>,
}

fn sqlite(data_dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(data_dir.join("connector-hub.db")).expect("open the SQLite file")
}

async fn mongo(data_dir: &Path) -> Database {
    mongodb::Client::with_uri_str(mongo_uri())
        .await
        .expect("connect to MongoDB")
        .database(&mongo_database(data_dir))
}

async fn collection(data_dir: &Path, table: &str) -> Collection<Document> {
    // The one table whose collection is named otherwise.
    let name = if table == "drafts" {
        "wizard_drafts"
    } else {
        table
    };
    mongo(data_dir).await.collection(name)
}

async fn documents(c: &Collection<Document>, filter: Document, sort: Document) -> Vec<Document> {
    c.find(filter)
        .sort(sort)
        .await
        .expect("find")
        .try_collect()
        .await
        .expect("read documents")
}

/// Connector `id` as stored.
pub async fn connector(data_dir: &Path, id: &str) -> StoredConnector {
    if on_mongo() {
        let d = collection(data_dir, "connectors")
            .await
            .find_one(doc! {"connector_id": id})
            .await
            .expect("find the connector")
            .expect("the connector is stored");
        let text = |f: &str| d.get_str(f).expect(f).to_owned();
        return StoredConnector {
            tenant_id: text("tenant_id"),
            encrypted_config: text("encrypted_config"),
            token_expires_at: d.get_i64("token_expires_at").ok(),
            token_refreshed_at: d.get_i64("token_refreshed_at").ok(),
        };
    }
    sqlite(data_dir)
        .query_row(
            "SELECT tenant_id, encrypted_config, token_expires_at, token_refreshed_at
             FROM connectors WHERE connector_id = ?1",
            [id],
            |r| {
                Ok(StoredConnector {
                    tenant_id: r.get(0)?,
                    encrypted_config: r.get(1)?,
                    token_expires_at: r.get(2)?,
                    token_refreshed_at: r.get(3)?,
                })
            },
        )
        .expect("the connector is stored")
}

/// Sets `fields` of connector `id` directly, as another program (or an older version) would;
/// how many connectors that changed.
pub async fn set_connector(data_dir: &Path, id: &str, fields: &[(&str, Field)]) -> u64 {
    if on_mongo() {
        let mut set = Document::new();
        for (name, value) in fields {
            let value = match value {
                Field::Int(v) => v.map_or(Bson::Null, Bson::Int64),
                Field::Text(v) => v.clone().map_or(Bson::Null, Bson::String),
            };
            set.insert(*name, value);
        }
        return collection(data_dir, "connectors")
            .await
            .update_many(doc! {"connector_id": id}, doc! {"$set": set})
            .await
            .expect("update the connector")
            .matched_count;
    }
    use rusqlite::types::Value;
    let assignments: Vec<String> = fields
        .iter()
        .enumerate()
        .map(|(i, (name, _))| format!("{name} = ?{}", i + 1))
        .collect();
    let mut values: Vec<Value> = fields
        .iter()
        .map(|(_, value)| match value {
            Field::Int(v) => v.map_or(Value::Null, Value::Integer),
            Field::Text(v) => v.clone().map_or(Value::Null, Value::Text),
        })
        .collect();
    values.push(Value::Text(id.to_owned()));
    let sql = format!(
        "UPDATE connectors SET {} WHERE connector_id = ?{}",
        assignments.join(", "),
        values.len()
    );
    let changed = sqlite(data_dir)
        .execute(&sql, rusqlite::params_from_iter(values))
        .expect("update the connector");
    u64::try_from(changed).expect("a count")
}

/// Every OAuth state waiting for its callback made older than its ten minutes; how many.
pub async fn age_oauth_states(data_dir: &Path) -> u64 {
    if on_mongo() {
        return collection(data_dir, "oauth_states")
            .await
            .update_many(doc! {}, doc! {"$set": {"expires_at": 0_i64}})
            .await
            .expect("age the states")
            .matched_count;
    }
    let aged = sqlite(data_dir)
        .execute("UPDATE oauth_states SET expires_at = 0", [])
        .expect("age the states");
    u64::try_from(aged).expect("a count")
}

/// How many rows `table` holds (documents of the collection of that name), all tenants'.
pub async fn count(data_dir: &Path, table: &str) -> u64 {
    if on_mongo() {
        return collection(data_dir, table)
            .await
            .count_documents(doc! {})
            .await
            .expect("count");
    }
    let n: i64 = sqlite(data_dir)
        .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .expect("count");
    u64::try_from(n).expect("a count")
}

/// The details of `tenant`'s audit entries that have one, newest first.
pub async fn audit_details(data_dir: &Path, tenant: &str) -> Vec<String> {
    if on_mongo() {
        let c = collection(data_dir, "audit_log").await;
        return documents(&c, doc! {"tenant_id": tenant}, doc! {"seq": -1})
            .await
            .iter()
            .filter_map(|d| d.get_str("detail").ok().map(str::to_owned))
            .collect();
    }
    let db = sqlite(data_dir);
    let mut statement = db
        .prepare("SELECT detail FROM audit_log WHERE tenant_id = ?1 ORDER BY seq DESC")
        .expect("prepare");
    let details = statement
        .query_map([tenant], |r| r.get::<_, Option<String>>(0))
        .expect("query")
        .collect::<Result<Vec<_>, _>>()
        .expect("details");
    details.into_iter().flatten().collect()
}

/// Rewrites the outcome of `tenant`'s audit entry `seq` behind the log's back (SQLite's
/// append-only trigger is dropped first).
pub async fn set_audit_outcome(data_dir: &Path, tenant: &str, seq: i64, outcome: &str) {
    let changed = if on_mongo() {
        collection(data_dir, "audit_log")
            .await
            .update_one(
                doc! {"tenant_id": tenant, "seq": seq},
                doc! {"$set": {"outcome": outcome}},
            )
            .await
            .expect("alter the entry")
            .matched_count
    } else {
        let db = sqlite(data_dir);
        db.execute_batch("DROP TRIGGER IF EXISTS audit_log_no_update")
            .expect("drop the append-only trigger");
        let changed = db
            .execute(
                "UPDATE audit_log SET outcome = ?1 WHERE tenant_id = ?2 AND seq = ?3",
                rusqlite::params![outcome, tenant, seq],
            )
            .expect("alter the entry");
        u64::try_from(changed).expect("a count")
    };
    assert_eq!(changed, 1, "{tenant}'s audit entry {seq} altered");
}

/// Deletes the last entry of `tenant`'s audit chain, leaving its recorded head as it was.
pub async fn cut_audit_tail(data_dir: &Path, tenant: &str) {
    let deleted = if on_mongo() {
        let c = collection(data_dir, "audit_log").await;
        let last = c
            .find_one(doc! {"tenant_id": tenant})
            .sort(doc! {"seq": -1})
            .await
            .expect("find the last entry")
            .expect("the chain has an entry");
        c.delete_one(doc! {"_id": last.get_object_id("_id").expect("an id")})
            .await
            .expect("delete the last entry")
            .deleted_count
    } else {
        let db = sqlite(data_dir);
        db.execute_batch("DROP TRIGGER IF EXISTS audit_log_no_delete")
            .expect("drop the append-only trigger");
        let deleted = db
            .execute(
                "DELETE FROM audit_log WHERE tenant_id = ?1
                 AND seq = (SELECT MAX(seq) FROM audit_log WHERE tenant_id = ?1)",
                [tenant],
            )
            .expect("delete the last entry");
        u64::try_from(deleted).expect("a count")
    };
    assert_eq!(deleted, 1, "{tenant}'s last audit entry deleted");
}

/// Makes every write of an audit entry fail, as a failing disk would: on SQLite a trigger that
/// aborts each insert, on MongoDB a validator on `audit_log` that no document passes.
pub async fn break_audit_log(data_dir: &Path) {
    if on_mongo() {
        mongo(data_dir)
            .await
            .run_command(doc! {
                "collMod": "audit_log",
                "validator": {"$jsonSchema": {"required": ["audit_log_is_down"]}},
                "validationLevel": "strict",
                "validationAction": "error",
            })
            .await
            .expect("break the audit log");
        return;
    }
    sqlite(data_dir)
        .execute_batch(
            "CREATE TRIGGER audit_down BEFORE INSERT ON audit_log
             BEGIN SELECT RAISE(ABORT, 'disk trouble'); END;",
        )
        .expect("break the audit log");
}

/// Undoes [`break_audit_log`].
pub async fn repair_audit_log(data_dir: &Path) {
    if on_mongo() {
        mongo(data_dir)
            .await
            .run_command(doc! {"collMod": "audit_log", "validator": {}})
            .await
            .expect("repair the audit log");
        return;
    }
    sqlite(data_dir)
        .execute_batch("DROP TRIGGER audit_down;")
        .expect("repair the audit log");
}

/// Which instance holds the lease `name` (SQLite keeps leases in its ephemeral side file).
pub async fn lease_holder(data_dir: &Path, name: &str) -> String {
    if on_mongo() {
        let lease = collection(data_dir, "leases")
            .await
            .find_one(doc! {"name": name})
            .await
            .expect("find the lease")
            .expect("the lease is held");
        return lease.get_str("holder").expect("a holder").to_owned();
    }
    rusqlite::Connection::open(data_dir.join("connector-hub-ephemeral.db"))
        .expect("open the ephemeral file")
        .query_row("SELECT holder FROM leases WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .expect("the lease is held")
}

/// Every document of every collection of the database, as the BSON it is stored as, in
/// collection order.
async fn all_documents(db: &Database) -> Vec<(String, Vec<u8>)> {
    let mut names = db
        .list_collection_names()
        .await
        .expect("list the collections");
    names.sort();
    let mut all = Vec::new();
    for name in names {
        let c: Collection<Document> = db.collection(&name);
        for d in documents(&c, doc! {}, doc! {"_id": 1}).await {
            let mut bytes = Vec::new();
            d.to_writer(&mut bytes).expect("encode a document");
            all.push((name.clone(), bytes));
        }
    }
    all
}

/// Every byte the store has written for the servers on `data_dir`, for a plaintext search: the
/// SQLite file and its write-ahead log; on MongoDB every document of every collection of the
/// database and every oplog entry that wrote to it (its history, as the WAL is SQLite's).
pub async fn stored_bytes(data_dir: &Path) -> Vec<u8> {
    if on_mongo() {
        let db = mongo(data_dir).await;
        let mut bytes: Vec<u8> = all_documents(&db)
            .await
            .into_iter()
            .flat_map(|d| d.1)
            .collect();
        let ours = doc! {"$regex": format!("^{}\\.", db.name())};
        let oplog: Collection<Document> = db.client().database("local").collection("oplog.rs");
        let filter = doc! {"$or": [{"ns": ours.clone()}, {"o.applyOps.ns": ours}]};
        for entry in documents(&oplog, filter, doc! {"$natural": 1}).await {
            entry.to_writer(&mut bytes).expect("encode an oplog entry");
        }
        return bytes;
    }
    let path = data_dir.join("connector-hub.db");
    let _ = sqlite(data_dir).execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
    let mut bytes = std::fs::read(&path).expect("the SQLite file");
    bytes.extend(std::fs::read(data_dir.join("connector-hub.db-wal")).unwrap_or_default());
    bytes
}

/// How much the store holds for the servers on `data_dir`: the SQLite file and its write-ahead
/// log; on MongoDB the size of every document of the database (its oplog is capped: it cannot
/// grow the disk).
pub async fn stored_size(data_dir: &Path) -> u64 {
    if on_mongo() {
        let all = all_documents(&mongo(data_dir).await).await;
        return all
            .iter()
            .map(|d| u64::try_from(d.1.len()).expect("a size"))
            .sum();
    }
    ["connector-hub.db", "connector-hub.db-wal"]
        .iter()
        .filter_map(|file| std::fs::metadata(data_dir.join(file)).ok())
        .map(|m| m.len())
        .sum()
}
