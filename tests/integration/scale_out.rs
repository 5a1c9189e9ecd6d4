//! Several server processes on one store: simultaneous writes of one tenant through two
//! processes all succeed and leave an intact audit log (on both stores), and on MongoDB work
//! queued by another process wakes a server's workers at once, without waiting for a poll.

use crate::support::process::{server_env, spawn_server, token, ServerProcess};
use crate::support::receiver::Receiver;
use crate::support::store::{connector_id, on_mongo, open_store};
use connector_hub::ids::TenantId;
use connector_hub::model::data::{RunStatus, RunTrigger};
use connector_hub::store::{OutboxEvent, Queued, SyncRunRecord};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// Runs the CLI's `audit verify` against the store of `env`; returns what it printed.
pub fn audit_verifies(env: &[(String, String)]) -> String {
    let (ok, out) = crate::support::process::run_cli(env, &["audit", "verify"]);
    assert!(ok, "audit verify failed: {out}");
    assert!(out.contains("audit log intact"), "{out}");
    out
}

async fn two_servers(
    dir: &Path,
    extra: &[(&str, &str)],
) -> (Vec<(String, String)>, [ServerProcess; 2]) {
    let key = connector_hub::vault::generate_key();
    let mut env = server_env(
        &crate::support::fakes::start_local().await,
        &dir.join("data"),
        &key,
    );
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let first = spawn_server(&env, &dir.join("first.log")).await;
    let second = spawn_server(&env, &dir.join("second.log")).await;
    (env, [first, second])
}

/// 32 simultaneous creates and then 32 simultaneous renames by one tenant, spread over two
/// processes: every one answers 201 / 200, and the audit chain they all append to verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_tenants_simultaneous_writes_through_two_processes_all_succeed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (env, servers) = two_servers(dir.path(), &[]).await;
    let t = token("burst", "u");
    let http = reqwest::Client::new();
    let creates = (0..32).map(|n| {
        let (http, t, base) = (http.clone(), t.clone(), servers[n % 2].base.clone());
        async move {
            let body = json!({"connector_type": "stripe", "display_name": format!("n{n}"),
                "config": {"api_key": format!("sk_test_good_burst{n}")}});
            let r = http
                .post(format!("{base}/v1/connectors"))
                .bearer_auth(&t)
                .json(&body)
                .send()
                .await
                .expect("create");
            let status = r.status().as_u16();
            let v: Value = r.json().await.unwrap_or_default();
            (status, v)
        }
    });
    let created = futures_util::future::join_all(creates).await;
    let failed: Vec<_> = created.iter().filter(|(s, _)| *s != 201).collect();
    assert!(failed.is_empty(), "every create answers 201: {failed:?}");
    let ids: Vec<String> = created
        .iter()
        .map(|(_, v)| v["connector_id"].as_str().expect("id").to_owned())
        .collect();
    let renames = ids.iter().enumerate().map(|(n, id)| {
        let (http, t, base) = (http.clone(), t.clone(), servers[(n + 1) % 2].base.clone());
        async move {
            http.patch(format!("{base}/v1/connectors/{id}"))
                .bearer_auth(&t)
                .json(&json!({"display_name": format!("renamed {n}")}))
                .send()
                .await
                .expect("rename")
                .status()
                .as_u16()
        }
    });
    let renamed = futures_util::future::join_all(renames).await;
    assert!(
        renamed.iter().all(|s| *s == 200),
        "every rename answers 200: {renamed:?}"
    );
    let listed: Value = http
        .get(format!("{}/v1/connectors?limit=100", servers[0].base))
        .bearer_auth(&t)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let names: Vec<&str> = listed["connectors"]
        .as_array()
        .expect("connectors")
        .iter()
        .filter_map(|c| c["display_name"].as_str())
        .collect();
    assert_eq!(names.len(), 32);
    assert!(names.iter().all(|n| n.starts_with("renamed ")), "{names:?}");
    for server in servers {
        server.stop();
    }
    let out = audit_verifies(&env);
    assert!(
        out.contains("64 entries verified"),
        "32 creates and 32 renames: {out}"
    );
}

/// On MongoDB, a server whose workers would next poll in a minute still starts a sync run and
/// sends a delivery that another process (here, the test itself, writing to the store) queued:
/// the change stream wakes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_queued_by_another_process_wakes_the_workers_at_once() {
    if !on_mongo() {
        eprintln!("work_queued_by_another_process_wakes_the_workers_at_once: SQLite's workers poll; a MongoDB behaviour");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let key = connector_hub::vault::generate_key();
    let mut env = server_env(&crate::support::fakes::start_local().await, &data, &key);
    for (k, v) in [
        ("CONNECTOR_HUB_SYNC_POLL_MS", "60000"),
        ("CONNECTOR_HUB_DELIVERY_POLL_MS", "60000"),
        ("CONNECTOR_HUB_EGRESS_ALLOW", "127.0.0.0/8"),
    ] {
        env.push((k.to_owned(), v.to_owned()));
    }
    let server = spawn_server(&env, &dir.path().join("server.log")).await;
    let t = token("acme", "u");
    let http = reqwest::Client::new();
    let connector: Value = http
        .post(format!("{}/v1/connectors", server.base))
        .bearer_auth(&t)
        .json(&json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good_wake"}}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let id = connector["connector_id"].as_str().expect("id").to_owned();
    // Let the worker fall asleep on its long poll.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let store = open_store(&data).await;
    let tenant = TenantId::parse("acme").expect("tenant");
    let run_id = format!("run_elsewhere_{}", std::process::id());
    let now = connector_hub::clock::now_ms();
    let queued = store
        .queue_run(&SyncRunRecord {
            run_id: run_id.clone(),
            tenant_id: tenant.clone(),
            connector_id: connector_id(&id),
            status: RunStatus::Queued,
            trigger: RunTrigger::Manual,
            streams: Vec::new(),
            full_refresh: false,
            created_at: now,
            started_at: None,
            finished_at: None,
            counts: Default::default(),
            error_code: None,
            error_message: None,
            holder: None,
            lease_until: 0,
        })
        .await
        .expect("queue a run");
    assert!(matches!(queued, Queued::New));
    let started = Instant::now();
    let finished = loop {
        let run: Value = http
            .get(format!("{}/v1/connectors/{id}/syncs/{run_id}", server.base))
            .bearer_auth(&t)
            .send()
            .await
            .expect("run")
            .json()
            .await
            .expect("json");
        if run["status"] == "succeeded" || run["status"] == "failed" {
            break run;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the run was not started: {run}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(finished["status"], "succeeded", "{finished}");

    // A delivery queued elsewhere is sent at once too.
    let receiver = Receiver::start().await;
    let endpoint = http
        .post(format!("{}/v1/webhook-endpoints", server.base))
        .bearer_auth(&t)
        .json(&json!({"url": receiver.url}))
        .send()
        .await
        .expect("endpoint");
    assert_eq!(endpoint.status(), 201);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let vault = connector_hub::vault::Vault::from_key_list(
        &connector_hub::secret::SecretString::new(key),
        "K",
    )
    .expect("vault");
    let event_id = format!("msg_elsewhere{}", std::process::id());
    let body =
        json!({"type": "connector.updated", "timestamp": "2026-12-03T00:00:00Z", "data": {}});
    let event = OutboxEvent {
        sealed: vault.seal_for(
            &format!("acme/event/{event_id}"),
            body.to_string().as_bytes(),
        ),
        event_id: event_id.clone(),
        event_type: "connector.updated".into(),
        at: connector_hub::clock::now_ms(),
    };
    store
        .queue_event(&tenant, &event)
        .await
        .expect("queue an event");
    let got = receiver.wait_for(1, 5).await;
    assert_eq!(got.len(), 1, "the event queued elsewhere was delivered");
    assert_eq!(got[0].header("webhook-id"), event_id);
    server.stop();
    // Woken by the change stream itself, not by a stream that broke and was opened again.
    let log = std::fs::read_to_string(dir.path().join("server.log")).expect("log");
    assert!(!log.contains("watching for new work stopped"), "{log}");
}
