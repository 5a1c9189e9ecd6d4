//! A three-member replica set under a write load: the primary steps down, then the new primary
//! is killed with SIGKILL. The hub keeps answering through both elections without a restart,
//! every write it acknowledged is there afterwards, and the audit log verifies. (MongoDB only:
//! the suite's MongoDB run, `TEST_STORE=mongodb`, with `TEST_MONGOD` naming the binary.)

use crate::support::process::{free_port, run_cli, server_env, spawn_server, token};
use crate::support::store::on_mongo;
use mongodb::bson::{doc, Document};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SET: &str = "hub-failover";

struct Member {
    port: u16,
    child: Option<Child>,
}

impl Drop for Member {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn start_member(mongod: &str, dir: &Path, n: usize) -> Member {
    let port = free_port();
    let data = dir.join(format!("member{n}"));
    std::fs::create_dir_all(&data).expect("member dir");
    let child = Command::new(mongod)
        .args([
            "--replSet",
            SET,
            "--bind_ip",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        .arg("--dbpath")
        .arg(&data)
        .arg("--logpath")
        .arg(dir.join(format!("member{n}.log")))
        .args(["--wiredTigerCacheSizeGB", "0.25"])
        .stdout(Stdio::null())
        .spawn()
        .expect("start mongod");
    Member {
        port,
        child: Some(child),
    }
}

async fn direct(port: u16) -> mongodb::Client {
    mongodb::Client::with_uri_str(format!(
        "mongodb://127.0.0.1:{port}/?directConnection=true&serverSelectionTimeoutMS=2000"
    ))
    .await
    .expect("client")
}

/// The member that is primary now, once one is (waiting up to 60 s).
async fn primary(members: &[Member]) -> usize {
    let started = Instant::now();
    loop {
        for (n, m) in members.iter().enumerate() {
            if m.child.is_none() {
                continue;
            }
            let hello = direct(m.port)
                .await
                .database("admin")
                .run_command(doc! {"hello": 1})
                .await;
            if hello.is_ok_and(|h| h.get_bool("isWritablePrimary").unwrap_or(false)) {
                return n;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no primary was elected"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What the writers saw: every acknowledged create's id, and every other answer.
#[derive(Default)]
struct Outcomes {
    created: Vec<String>,
    refused: Vec<(u16, String)>,
}

/// Prints the end of each log when the test fails anywhere, so CI's log shows what the servers
/// saw.
struct LogsOnFailure(Vec<PathBuf>);

impl Drop for LogsOnFailure {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for log in &self.0 {
                eprintln!("--- {} (end)\n{}", log.display(), tail(log));
            }
        }
    }
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_hub_rides_out_a_step_down_and_a_killed_primary_losing_nothing() {
    if !on_mongo() {
        eprintln!("the_hub_rides_out_a_step_down…: a MongoDB replica set's behaviour; runs in the suite's MongoDB run");
        return;
    }
    let mongod = std::env::var("TEST_MONGOD").expect("TEST_MONGOD names the mongod binary");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut members: Vec<Member> = (0..3)
        .map(|n| start_member(&mongod, dir.path(), n))
        .collect();
    let hub_log: PathBuf = dir.path().join("hub.log");
    let _logs = LogsOnFailure(
        (0..3)
            .map(|n| dir.path().join(format!("member{n}.log")))
            .chain([hub_log.clone()])
            .collect(),
    );
    let hosts: Vec<String> = members
        .iter()
        .map(|m| format!("127.0.0.1:{}", m.port))
        .collect();
    // Elections after 2 s without a primary instead of 10 s, to keep the test short; the hub
    // waits for the election either way (see README, "Running more than one server").
    let config = doc! {"_id": SET, "members": hosts.iter().enumerate().map(|(n, h)| doc! {"_id": n as i32, "host": h}).collect::<Vec<Document>>(),
    "settings": {"electionTimeoutMillis": 2000, "heartbeatIntervalMillis": 500}};
    let started = Instant::now();
    loop {
        let initiated = direct(members[0].port)
            .await
            .database("admin")
            .run_command(doc! {"replSetInitiate": config.clone()})
            .await;
        match initiated {
            Ok(_) => break,
            Err(e) if started.elapsed() < Duration::from_secs(30) => {
                eprintln!("replSetInitiate: {e}; again");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(e) => panic!("replSetInitiate: {e}"),
        }
    }
    primary(&members).await;

    let fakes = crate::support::fakes::start_local().await;
    let key = connector_hub::vault::generate_key();
    let mut env = server_env(&fakes, &dir.path().join("data"), &key);
    env.retain(|(k, _)| k != "MONGO_URI" && k != "MONGO_DB");
    env.push((
        "MONGO_URI".into(),
        // As README's "Running more than one server" recommends (these are also the defaults).
        format!(
            "mongodb://{}/?replicaSet={SET}&w=majority&readPreference=primary&retryWrites=true&serverSelectionTimeoutMS=30000",
            hosts.join(",")
        ),
    ));
    env.push(("MONGO_DB".into(), "hub_failover".into()));
    let hub = spawn_server(&env, &hub_log).await;

    let outcomes: Arc<Mutex<Outcomes>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let t = token("failover", "u");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(90))
        .build()
        .expect("client");
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let (http, base, t, outcomes, stop) = (
                http.clone(),
                hub.base.clone(),
                t.clone(),
                outcomes.clone(),
                stop.clone(),
            );
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let body = json!({"connector_type": "stripe", "display_name": format!("w{w}-{i}"),
                        "config": {"api_key": format!("sk_test_good_fo{w}x{i}")}});
                    let answer = http
                        .post(format!("{base}/v1/connectors"))
                        .bearer_auth(&t)
                        .json(&body)
                        .send()
                        .await;
                    let Ok(r) = answer else {
                        outcomes.lock().expect("lock").refused.push((0, "no answer".into()));
                        continue;
                    };
                    let status = r.status().as_u16();
                    let v: Value = r.json().await.unwrap_or_default();
                    let mut o = outcomes.lock().expect("lock");
                    match v["connector_id"].as_str() {
                        Some(id) if status == 201 => o.created.push(id.to_owned()),
                        _ => o.refused.push((status, v["error"]["code"].to_string())),
                    }
                }
            })
        })
        .collect();
    let created = || outcomes.lock().expect("lock").created.len();
    // Writes go on for a while after each election before the next.
    let settle = |before: usize| async move {
        let started = Instant::now();
        while created() < before + 20 {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "writes did not resume after the election"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    settle(0).await;

    // 1. The primary steps down (as for maintenance).
    let first = primary(&members).await;
    let _ = direct(members[first].port)
        .await
        .database("admin")
        .run_command(doc! {"replSetStepDown": 10, "secondaryCatchUpPeriodSecs": 5})
        .await;
    let after_step_down = created();
    let second = primary(&members).await;
    settle(after_step_down).await;

    // 2. The new primary dies without a word.
    if let Some(mut child) = members[second].child.take() {
        child.kill().expect("kill -9 the primary");
        let _ = child.wait();
    }
    let after_kill = created();
    let third = primary(&members).await;
    assert_ne!(third, second);
    settle(after_kill).await;

    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.expect("writer");
    }
    let outcomes = std::mem::take(&mut *outcomes.lock().expect("lock"));
    eprintln!(
        "failover: {} creates acknowledged ({after_step_down} before the step-down, {after_kill} before the kill), {} refused",
        outcomes.created.len(),
        outcomes.refused.len()
    );
    // Writes waited for each election instead of failing.
    assert!(
        outcomes.refused.is_empty(),
        "writes failed during the elections: {:?}",
        outcomes.refused
    );

    // Nothing acknowledged was lost: each create is there, read from the new primary.
    let mut listed = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("{}/v1/connectors?limit=100&cursor={c}", hub.base),
            None => format!("{}/v1/connectors?limit=100", hub.base),
        };
        let page: Value = http
            .get(path)
            .bearer_auth(&t)
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json");
        for c in page["connectors"].as_array().expect("connectors") {
            listed.insert(c["connector_id"].as_str().expect("id").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let lost: Vec<&String> = outcomes
        .created
        .iter()
        .filter(|id| !listed.contains(*id))
        .collect();
    assert!(lost.is_empty(), "acknowledged creates lost: {lost:?}");
    assert_eq!(
        listed.len(),
        outcomes.created.len(),
        "nothing unacknowledged either"
    );
    hub.stop();
    let (ok, out) = run_cli(&env, &["audit", "verify"]);
    assert!(ok && out.contains("audit log intact"), "{out}");
    assert!(
        out.contains(&format!("{} entries verified", outcomes.created.len())),
        "one entry per create: {out}"
    );
}
