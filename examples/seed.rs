//! Benchmark helper: fills a data directory with connectors (one bulk transaction, real Fernet
//! ciphertexts) and prints a bearer token for the bench tenant.
//!
//! `seed <data_dir> <tenant> <tenant_connectors> <other_connectors> [records]`; reads
//! CONNECTOR_ENCRYPTION_KEY and JWT_SECRET like the server. With `records`, the tenant's first
//! connector (`conn-00000000000000000000`) gets that many synced Stripe customers, sealed as a
//! sync seals them.

use connector_hub::auth::Authenticator;
use connector_hub::catalog::catalog;
use connector_hub::config::Settings;
use connector_hub::secret::{SecretConfig, SecretString};
use connector_hub::store::SqliteStore;
use connector_hub::vault::Vault;
use std::collections::BTreeMap;

#[tokio::main]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let (dir, tenant, own, others, records) =
        match args.as_slice() {
            [_, dir, tenant, own, others] => (dir, tenant, own, others, "0"),
            [_, dir, tenant, own, others, records] => (dir, tenant, own, others, records.as_str()),
            _ => return Err(
                "usage: seed <data_dir> <tenant> <tenant_connectors> <other_connectors> [records]"
                    .into(),
            ),
        };
    let records: u64 = records.parse().map_err(|_| "records must be a number")?;
    let own: usize = own
        .parse()
        .map_err(|_| "tenant_connectors must be a number")?;
    let others: usize = others
        .parse()
        .map_err(|_| "other_connectors must be a number")?;
    let key = std::env::var("CONNECTOR_ENCRYPTION_KEY")
        .map_err(|_| "CONNECTOR_ENCRYPTION_KEY is not set")?;
    let vault = Vault::from_key_list(&SecretString::new(key), "CONNECTOR_ENCRYPTION_KEY")
        .map_err(|e| e.to_string())?;
    let store = SqliteStore::open(std::path::Path::new(dir))
        .await
        .map_err(|e| e.to_string())?;
    let path = store.path().to_owned();
    drop(store);

    let stripe = catalog().get("stripe").ok_or("no stripe in the catalog")?;
    let config = SecretConfig::from(
        catalog()
            .validate(
                stripe,
                &BTreeMap::from([("api_key".to_owned(), "sk_test_good_4242424242".to_owned())]),
            )
            .map_err(|e| e.message)?,
    );
    let mut db = rusqlite::Connection::open(path).map_err(|e| e.to_string())?;
    let tx = db.transaction().map_err(|e| e.to_string())?;
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO connectors (tenant_id, connector_id, connector_type, display_name, status, sync_frequency,
                   encrypted_config, key_id, created_at, updated_at, created_by, updated_by, version)
                 VALUES (?1, ?2, 'stripe', ?3, 'active', 'daily', ?4, ?5, ?6, ?6, 'seed', 'seed', 1)",
            )
            .map_err(|e| e.to_string())?;
        let base = chrono::Utc::now().timestamp_millis() - 10_000_000;
        for i in 0..own + others {
            let owner = if i < own {
                tenant.clone()
            } else {
                format!("other-{}", i % 997)
            };
            let id = connector_hub::ids::ConnectorId::parse(&format!("conn-{i:020x}"))
                .ok_or("a seeded id is not a connector id")?;
            let (token, key_id) = vault.encrypt(&config, &owner, &id);
            insert
                .execute(rusqlite::params![
                    owner,
                    id.as_str(),
                    format!("Stripe {i}"),
                    token,
                    key_id,
                    base + i as i64
                ])
                .map_err(|e| e.to_string())?;
        }
    }
    tx.commit().map_err(|e| e.to_string())?;
    if records > 0 && own > 0 {
        seed_records(&mut db, &vault, tenant, records)?;
    }

    let settings = Settings::from_environment().map_err(|e| e.to_string())?;
    let auth = Authenticator::from_settings(&settings.auth, settings.development_data_dir())
        .map_err(|e| e.to_string())?;
    println!(
        "{}",
        auth.mint(tenant, "bench@example.com", 3600)
            .ok_or("cannot mint with this JWT configuration")?
    );
    Ok(())
}

/// Synced records for the tenant's first connector, in transactions of 100,000.
fn seed_records(
    db: &mut rusqlite::Connection,
    vault: &Vault,
    tenant: &str,
    count: u64,
) -> Result<(), String> {
    let connector = format!("conn-{:020x}", 0);
    let now = chrono::Utc::now().timestamp_millis();
    db.execute(
        "INSERT INTO sync_streams (tenant_id, connector_id, stream, record_count, last_synced_at, next_seq)
         VALUES (?1, ?2, 'customers', ?3, ?4, ?5)",
        rusqlite::params![tenant, connector, count as i64, now, count as i64 + 1],
    )
    .map_err(|e| e.to_string())?;
    let stream_key = db.last_insert_rowid();
    let mut n = 0;
    while n < count {
        let tx = db.transaction().map_err(|e| e.to_string())?;
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO sync_records (stream_key, record_id, seq, sealed, digest, changed_at, deleted, seen_pass)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, 0)",
                )
                .map_err(|e| e.to_string())?;
            for _ in 0..100_000.min(count - n) {
                n += 1;
                let id = format!("cus_{n:09}");
                let data = format!(
                    r#"{{"id":"{id}","object":"customer","email":"person{n}@example.com","name":"Person {n}","created":{}}}"#,
                    1_700_000_000 + n
                );
                // Sealed to its place as a sync seals it: tenant, connector, stream, record id.
                let sealed = vault.seal_bytes_for(
                    &format!("{tenant}/{connector}/customers/{id}"),
                    data.as_bytes(),
                );
                insert
                    .execute(rusqlite::params![
                        stream_key,
                        id,
                        n as i64,
                        sealed,
                        format!("d{n}"),
                        now
                    ])
                    .map_err(|e| e.to_string())?;
            }
        }
        tx.commit().map_err(|e| e.to_string())?;
    }
    Ok(())
}
