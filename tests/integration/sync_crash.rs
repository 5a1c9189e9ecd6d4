//! Syncs across process deaths and processes: `kill -9` in the middle of a run, then another
//! process on the same store finishes it from the last committed page, every record stored exactly
//! once; and two processes polling one store never run the same run twice.

use crate::support::fakes::{self, data::Dataset};
use crate::support::process::{server_env, spawn_server, token};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn get(http: &reqwest::Client, url: String, t: &str) -> Value {
    http.get(url)
        .bearer_auth(t)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json")
}

async fn wait_finished(http: &reqwest::Client, base: &str, t: &str, id: &str, run: &str) -> Value {
    let started = Instant::now();
    loop {
        let r = get(http, format!("{base}/v1/connectors/{id}/syncs/{run}"), t).await;
        if r["status"] == "succeeded" || r["status"] == "failed" {
            return r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "run did not finish: {r}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_run_resumes_exactly_once_and_one_process_runs_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    let data = Arc::new(Dataset::default());
    data.seed("stripe/customers", 2000);
    let fakes = format!(
        "http://{}",
        fakes::start_with("127.0.0.1:0".parse().expect("addr"), data.clone())
            .await
            .expect("fakes")
    );
    let key = connector_hub::vault::generate_key();
    let mut env = server_env(&fakes, &data_dir, &key);
    env.push(("CONNECTOR_HUB_SYNC_LEASE_MS".into(), "1500".into()));
    env.push(("CONNECTOR_HUB_SYNC_POLL_MS".into(), "100".into()));
    let t = token("crash", "u");
    let http = reqwest::Client::new();

    let first = spawn_server(&env, &dir.path().join("a.log")).await;
    let r = http
        .post(format!("{}/v1/connectors", first.base))
        .bearer_auth(&t)
        .json(&json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good123456"}, "sync_frequency": "manual"}))
        .send()
        .await
        .expect("create");
    let id = r.json::<Value>().await.expect("json")["connector_id"]
        .as_str()
        .expect("id")
        .to_owned();
    data.slow(Duration::from_millis(120));
    let queued: Value = http
        .post(format!("{}/v1/connectors/{id}/sync", first.base))
        .bearer_auth(&t)
        .json(&json!({"streams": ["customers"]}))
        .send()
        .await
        .expect("sync")
        .json()
        .await
        .expect("json");
    let run = queued["run_id"].as_str().expect("run").to_owned();

    // Killed with some pages committed and more to go.
    let started = Instant::now();
    let committed = loop {
        let streams = get(
            &http,
            format!("{}/v1/connectors/{id}/streams", first.base),
            &t,
        )
        .await;
        let stored = streams["streams"][0]["record_count"].as_i64().unwrap_or(0);
        if stored >= 500 {
            assert!(stored < 2000, "the run should still be going: {streams}");
            break stored;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no progress: {streams}"
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    };
    first.kill();
    let before_restart: Vec<Option<String>> = data
        .take_requests()
        .iter()
        .map(|s| s.query.get("starting_after").cloned())
        .collect();

    // Two processes on the store: the run is picked up once its lease lapses, by one of them.
    let second = spawn_server(&env, &dir.path().join("b.log")).await;
    let third = spawn_server(&env, &dir.path().join("c.log")).await;
    let finished = wait_finished(&http, &second.base, &t, &id, &run).await;
    assert_eq!(finished["status"], "succeeded", "{finished}");
    assert_eq!(
        finished["streams"]["customers"]["added"], 2000,
        "counts stay exact across the crash: {finished}"
    );

    let after: Vec<Option<String>> = data
        .take_requests()
        .iter()
        .map(|s| s.query.get("starting_after").cloned())
        .collect();
    assert!(!after.is_empty());
    assert!(
        after.iter().all(Option::is_some),
        "the resumed run did not start over: {after:?}"
    );
    // From a committed page's end: one the crashed process asked for the next page after, or
    // the one it had committed last when it died (before asking), never before what was seen
    // committed.
    let resumed_at = after[0].clone();
    let resumed_n: i64 = resumed_at
        .as_deref()
        .and_then(|id| id.strip_prefix("cus_"))
        .and_then(|n| n.parse().ok())
        .expect("a Stripe customer id");
    assert!(
        before_restart.contains(&resumed_at) || resumed_n >= committed,
        "it goes on from a committed page ({committed} were stored at the crash): {resumed_at:?}, asked before: {before_restart:?}"
    );
    let unique: HashSet<&Option<String>> = after.iter().collect();
    assert_eq!(
        unique.len(),
        after.len(),
        "no page read twice after the restart (one process ran it): {after:?}"
    );
    // The finisher logs once the run is marked finished, which the poll above may see first.
    let finishers = || {
        ["b.log", "c.log"]
            .iter()
            .map(|f| std::fs::read_to_string(dir.path().join(f)).unwrap_or_default())
            .filter(|l| l.contains("sync run finished"))
            .count()
    };
    let logged = Instant::now();
    while finishers() == 0 && logged.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(finishers(), 1, "exactly one process ran the run to its end");

    // Every record exactly once.
    let mut ids = HashSet::new();
    let mut cursor = String::new();
    loop {
        let page = get(
            &http,
            format!(
                "{}/v1/connectors/{id}/records?stream=customers&limit=1000{}",
                third.base,
                if cursor.is_empty() {
                    String::new()
                } else {
                    format!("&cursor={cursor}")
                }
            ),
            &t,
        )
        .await;
        for r in page["records"].as_array().expect("records") {
            assert!(
                ids.insert(r["id"].as_str().expect("id").to_owned()),
                "stored twice: {}",
                r["id"]
            );
        }
        cursor = page["next_cursor"].as_str().expect("cursor").to_owned();
        if page["has_more"] != true {
            break;
        }
    }
    assert_eq!(ids.len(), 2000);
    second.stop();
    third.stop();
}
