//! Reliability: concurrent load across tenants, `kill -9` in the middle of writes, a full disk and
//! a read-only data directory.

use crate::support::process::{spawn_server, ServerProcess};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// 200 clients mixing create, list, test and delete across 20 tenants for 30 seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn load_no_5xx_nothing_lost_nothing_shared() {
    let app = Arc::new(crate::support::spawn_app().await);
    let tokens: Vec<String> = (0..20)
        .map(|i| app.token(&format!("load-{i}"), "u"))
        .collect();
    let expected: Arc<Mutex<HashMap<usize, BTreeSet<String>>>> = Arc::default();
    let counts: Arc<Mutex<HashMap<u16, u64>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut clients = Vec::new();
    for client in 0..200usize {
        let (app, tokens, expected, counts) = (
            app.clone(),
            tokens.clone(),
            expected.clone(),
            counts.clone(),
        );
        clients.push(tokio::spawn(async move {
            let tenant = client % 20;
            let token = &tokens[tenant];
            let mut mine: Vec<String> = Vec::new();
            let mut step = client;
            while Instant::now() < deadline {
                step += 1;
                let status = match step % 4 {
                    0 | 1 => {
                        let r = app.post("/v1/connectors", token, &json!({"connector_type": "stripe", "display_name": format!("c{client}-{step}"),
                            "config": {"api_key": "sk_test_good_4242"}})).await;
                        let status = r.status().as_u16();
                        if status == 201 {
                            let v: Value = r.json().await.expect("json");
                            let id = v["connector_id"].as_str().expect("id").to_owned();
                            expected.lock().expect("lock").entry(tenant).or_default().insert(id.clone());
                            mine.push(id);
                        }
                        status
                    }
                    2 => {
                        match mine.first() {
                            Some(id) if step % 8 == 2 => app.post(&format!("/v1/connectors/{id}/test"), token, &json!({})).await.status().as_u16(),
                            _ => app.get("/v1/connectors?limit=20", token).await.status().as_u16(),
                        }
                    }
                    _ => match mine.pop() {
                        Some(id) => {
                            let status = app.delete(&format!("/v1/connectors/{id}"), token).await.status().as_u16();
                            if status == 204 {
                                expected.lock().expect("lock").entry(tenant).or_default().remove(&id);
                            }
                            status
                        }
                        None => app.get("/v1/connectors?limit=5", token).await.status().as_u16(),
                    },
                };
                *counts.lock().expect("lock").entry(status).or_default() += 1;
            }
        }));
    }
    for c in clients {
        c.await.expect("client");
    }
    let counts = counts.lock().expect("lock").clone();
    let total: u64 = counts.values().sum();
    assert!(counts.keys().all(|s| *s < 500), "no 5xx: {counts:?}");
    assert!(
        counts.keys().all(|s| matches!(s, 200 | 201 | 204)),
        "only successes under load: {counts:?}"
    );
    assert!(total > 1_000, "the load was real: {total} requests");
    let expected = expected.lock().expect("lock").clone();
    for (tenant, token) in tokens.iter().enumerate() {
        let mut seen = BTreeSet::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/connectors?limit=200&cursor={c}"),
                None => "/v1/connectors?limit=200".to_owned(),
            };
            let page: Value = app.get(&path, token).await.json().await.expect("json");
            for c in page["connectors"].as_array().expect("array") {
                let id = c["connector_id"].as_str().expect("id").to_owned();
                assert!(seen.insert(id), "no duplicates");
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(
            seen,
            expected.get(&tenant).cloned().unwrap_or_default(),
            "tenant {tenant} sees exactly its own"
        );
    }
    eprintln!("load: {total} requests in 30 s across 20 tenants: {counts:?}");
}

use crate::support::process::server_env;

fn token() -> String {
    crate::support::process::token("crash", "u")
}

/// `kill -9` during a burst of creates and updates: every acknowledged write survives the
/// restart, every record decrypts, and the database passes its integrity check.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let fakes = format!(
        "http://{}",
        crate::support::fakes::start("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("fakes")
    );
    let key = connector_hub::vault::generate_key();
    let env = server_env(&fakes, &data, &key);
    let server: ServerProcess = spawn_server(&env, &dir.path().join("server.log")).await;
    let base = server.base.clone();
    let t = token();
    let http = reqwest::Client::new();

    let created: Arc<Mutex<Vec<String>>> = Arc::default();
    let renamed: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..16 {
        let (http, base, t, created, renamed) = (
            http.clone(),
            base.clone(),
            t.clone(),
            created.clone(),
            renamed.clone(),
        );
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let body = json!({"connector_type": "stripe", "display_name": format!("w{w}-{i}"), "config": {"api_key": format!("sk_test_good_{w}x{i}")}});
                let Ok(r) = http.post(format!("{base}/v1/connectors")).bearer_auth(&t).json(&body).send().await else { break };
                if r.status() != 201 {
                    break;
                }
                let Ok(v) = r.json::<Value>().await else { break };
                let id = v["connector_id"].as_str().unwrap_or_default().to_owned();
                created.lock().expect("lock").push(id.clone());
                let name = format!("renamed w{w}-{i}");
                let Ok(r) = http.patch(format!("{base}/v1/connectors/{id}")).bearer_auth(&t).json(&json!({"display_name": name})).send().await else { break };
                if r.status() == 200 {
                    renamed.lock().expect("lock").insert(id, name);
                }
            }
        }));
    }
    // Killed in the middle of the burst, once it has acknowledged enough to be worth checking
    // (a store that commits one tenant's writes one at a time gets there later).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let waited = std::time::Instant::now();
    while created.lock().expect("lock").len() <= 20 && waited.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.kill();
    for w in writers {
        let _ = w.await;
    }
    let created = created.lock().expect("lock").clone();
    let renamed = renamed.lock().expect("lock").clone();
    assert!(created.len() > 20, "the burst was real: {}", created.len());

    let server = spawn_server(&env, &dir.path().join("server.log")).await;
    if !crate::support::store::on_mongo() {
        // The file's own check; MongoDB's files are its server's, which nobody killed.
        let file = connector_hub::store::SqliteStore::open(&data)
            .await
            .expect("store");
        assert_eq!(file.integrity_check().await.expect("check"), "ok");
    }
    let store = crate::support::store::open_store(&data).await;
    let vault = connector_hub::vault::Vault::from_key_list(
        &connector_hub::secret::SecretString::new(key),
        "K",
    )
    .expect("vault");
    let tenant = connector_hub::ids::TenantId::parse("crash").expect("tenant");
    for id in &created {
        let record = store
            .get(&tenant, &crate::support::store::connector_id(id))
            .await
            .expect("get")
            .unwrap_or_else(|| panic!("acknowledged create {id} survived"));
        let config = vault
            .decrypt(
                &record.encrypted_config,
                record.tenant_id.as_str(),
                &record.connector_id,
            )
            .expect("every record decrypts");
        assert!(config
            .get("api_key")
            .is_some_and(|k| k.starts_with("sk_test_good_")));
        if let Some(name) = renamed.get(id) {
            assert_eq!(&record.display_name, name, "acknowledged update survived");
        }
    }
    // Every record in the file is whole, acknowledged or not.
    for record in store.scan_all(None, 100_000).await.expect("scan") {
        assert!(
            vault
                .decrypt(
                    &record.encrypted_config,
                    record.tenant_id.as_str(),
                    &record.connector_id
                )
                .is_ok(),
            "no half-written record"
        );
    }
    let list = http
        .get(format!("{}/v1/connectors?limit=1", server.base))
        .bearer_auth(&t)
        .send()
        .await
        .expect("list");
    assert_eq!(list.status(), 200, "the restarted server serves");
    assert!(server.stop().success());
    eprintln!(
        "crash: {} acknowledged creates, {} acknowledged renames, all intact",
        created.len(),
        renamed.len()
    );
}

/// A tmpfs we can fill and remount read-only; needs root (as CI has). Unmounted on drop.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(path: &std::path::Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(path).ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Self(path.to_owned()))
    }

    fn remount(&self, mode: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.0)
            .status()
            .expect("mount");
        assert!(status.success(), "remount {mode}");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[tokio::test]
async fn full_disk_and_read_only_data_directory() {
    // A full or read-only data directory is the SQLite file's trouble: MongoDB's data is not there.
    if crate::support::store::sqlite_only("full_disk_and_read_only_data_directory") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let Some(disk) = SmallDisk::mount(&data, "4m") else {
        eprintln!(
            "SKIPPED full_disk_and_read_only_data_directory: cannot mount a tmpfs (needs root)"
        );
        return;
    };
    let fakes = format!(
        "http://{}",
        crate::support::fakes::start("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("fakes")
    );
    let key = connector_hub::vault::generate_key();
    let env = server_env(&fakes, &data, &key);
    let server = spawn_server(&env, &dir.path().join("server.log")).await;
    let (base, t, http) = (server.base.clone(), token(), reqwest::Client::new());
    let create = |name: String| {
        http.post(format!("{base}/v1/connectors")).bearer_auth(&t)
            .json(&json!({"connector_type": "stripe", "display_name": name, "config": {"api_key": "sk_test_good_4242"}})).send()
    };
    let mut ok = Vec::new();
    for i in 0..5 {
        let r = create(format!("before {i}")).await.expect("create");
        assert_eq!(r.status(), 201);
        ok.push(
            r.json::<Value>().await.expect("json")["connector_id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }

    // Fill the disk, then keep writing: a clear 503, never a 500 or a panic.
    let filler = data.join("filler");
    let _ = std::process::Command::new("dd")
        .args(["if=/dev/zero", "bs=64k", "count=1000"])
        .arg(format!("of={}", filler.display()))
        .output();
    let mut full = None;
    for i in 0..2000 {
        let r = create(format!("filling {i} {}", "x".repeat(80)))
            .await
            .expect("create");
        match r.status().as_u16() {
            201 => continue,
            503 => {
                full = Some(r.json::<Value>().await.expect("json"));
                break;
            }
            other => panic!("unexpected status {other} on a full disk"),
        }
    }
    let full = full.expect("the disk filled up");
    assert_eq!(full["error"]["code"], "STORAGE_UNAVAILABLE");
    assert!(
        full["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("disk is full")),
        "{full}"
    );
    let list = http
        .get(format!("{base}/v1/connectors?limit=200"))
        .bearer_auth(&t)
        .send()
        .await
        .expect("list");
    assert_eq!(list.status(), 200, "reads keep working on a full disk");

    // Free space: writes work again.
    std::fs::remove_file(&filler).expect("free space");
    let r = create("after the disk emptied".into())
        .await
        .expect("create");
    assert_eq!(r.status(), 201);

    // Read-only: a busy filesystem cannot be remounted, so restart on it. Writes are refused
    // clearly; the list still loads.
    assert!(server.stop().success());
    disk.remount("ro");
    let server = spawn_server(&env, &dir.path().join("server.log")).await;
    let base = server.base.clone();
    let r = http.post(format!("{base}/v1/connectors")).bearer_auth(&t)
        .json(&json!({"connector_type": "stripe", "display_name": "while read-only", "config": {"api_key": "sk_test_good_4242"}}))
        .send().await.expect("create");
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "STORAGE_UNAVAILABLE");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("read-only")),
        "{body}"
    );
    let list = http
        .get(format!("{base}/v1/connectors?limit=200"))
        .bearer_auth(&t)
        .send()
        .await
        .expect("list");
    let status = list.status();
    if status != 200 {
        let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
        panic!(
            "reads keep working on a read-only directory: {status} {}\n{}",
            list.text().await.unwrap_or_default(),
            &log[log.len().saturating_sub(3000)..]
        );
    }
    let listed: Value = list.json().await.expect("json");
    assert!(
        listed["connectors"]
            .as_array()
            .is_some_and(|c| c.len() >= 6),
        "{listed}"
    );
    assert!(server.stop().success());
    disk.remount("rw");

    let store = connector_hub::store::SqliteStore::open(&data)
        .await
        .expect("store");
    assert_eq!(
        store.integrity_check().await.expect("check"),
        "ok",
        "nothing corrupted"
    );
    let tenant = connector_hub::ids::TenantId::parse("crash").expect("tenant");
    use connector_hub::store::Store;
    for id in &ok {
        let id = crate::support::store::connector_id(id);
        assert!(store.get(&tenant, &id).await.expect("get").is_some());
    }
}
