//! Events to tenants: signed as Standard Webhooks (verified with the reference library), queued
//! with the change they report, retried on 500 and 429 (honouring `Retry-After`), stopped by 410,
//! filtered by type, shown with every attempt, replayed; secrets shown once and rotated with an
//! overlap; and delivered exactly once across a kill -9 and across two processes on one store.

use crate::support::process::{free_port, server_env, spawn_server, token};
use crate::support::receiver::{Received, Receiver};
use crate::support::{expect_error, spawn_app_with, TestApp};
use serde_json::{json, Value};

const ENV: &[(&str, &str)] = &[
    ("CONNECTOR_HUB_EGRESS_ALLOW", "127.0.0.0/8"),
    ("CONNECTOR_HUB_DELIVERY_SCHEDULE_MS", "100,100,100"),
    ("CONNECTOR_HUB_DELIVERY_POLL_MS", "50"),
];

async fn create_endpoint(app: &TestApp, t: &str, body: Value) -> Value {
    let r = app.post("/v1/webhook-endpoints", t, &body).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    r.json().await.expect("json")
}

/// Verifies `received` with the Standard Webhooks reference library (Python), as a consumer
/// would: `Ok(body)` or the library's complaint.
async fn verify(secret: &str, received: &Received) -> Result<Value, String> {
    let python =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-venv/bin/python");
    assert!(python.exists(), "run scripts/setup.sh --test");
    let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
headers = json.loads(sys.argv[2])
body = sys.stdin.read()
print(json.dumps(Webhook(sys.argv[1]).verify(body, headers)))
"#;
    let headers = json!({
        "webhook-id": received.header("webhook-id"),
        "webhook-timestamp": received.header("webhook-timestamp"),
        "webhook-signature": received.header("webhook-signature"),
    });
    let mut child = tokio::process::Command::new(python)
        .args(["-c", script, secret, &headers.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(&received.body).await.expect("write");
    }
    let out = child.wait_with_output().await.expect("python ends");
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap_or_default())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

async fn deliveries(app: &TestApp, t: &str, endpoint: &str) -> Vec<Value> {
    let list: Value = app
        .get(&format!("/v1/webhook-endpoints/{endpoint}/deliveries"), t)
        .await
        .json()
        .await
        .expect("json");
    list["deliveries"].as_array().cloned().unwrap_or_default()
}

async fn wait_until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn events_are_signed_as_standard_webhooks_and_each_change_sends_one() {
    let app = spawn_app_with(ENV).await;
    let t = app.token("acme", "alice");
    let receiver = Receiver::start().await;
    let endpoint = create_endpoint(&app, &t, json!({"url": receiver.url})).await;
    let secret = endpoint["secret"]
        .as_str()
        .expect("secret shown at creation")
        .to_owned();
    assert!(secret.starts_with("whsec_"));
    let id = endpoint["endpoint_id"].as_str().expect("id").to_owned();
    // Never again: not in the endpoint, its list, or the audit log.
    let shown: Value = app
        .get(&format!("/v1/webhook-endpoints/{id}"), &t)
        .await
        .json()
        .await
        .expect("json");
    assert!(shown.get("secret").is_none(), "{shown}");
    let listed = app
        .get("/v1/webhook-endpoints", &t)
        .await
        .text()
        .await
        .expect("text");
    let audit = app.get("/v1/audit", &t).await.text().await.expect("text");
    for text in [&listed, &audit] {
        assert!(!text.contains(&secret[6..]), "{text}");
    }

    let connector = app
        .create(
            &t,
            json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good_events1"}}),
        )
        .await;
    let got = receiver.wait_for(1, 10).await;
    let body = verify(&secret, &got[0])
        .await
        .expect("the reference library verifies it");
    assert_eq!(body["type"], "connector.created");
    assert_eq!(
        body["data"]["connector"]["connector_id"],
        connector.as_str()
    );
    assert!(
        !got[0].json().to_string().contains("sk_test_good_events1"),
        "never a credential in an event"
    );
    // A wrong secret or a changed body does not verify.
    assert!(verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &got[0])
        .await
        .is_err());
    let mut tampered = got[0].clone();
    tampered.body = tampered.body.slice(1..);
    assert!(verify(&secret, &tampered).await.is_err());

    // A change, then the deletion: one event each, in order of the changes.
    let r = app
        .patch(
            &format!("/v1/connectors/{connector}"),
            &t,
            &json!({"display_name": "Billing"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app.delete(&format!("/v1/connectors/{connector}"), &t).await;
    assert_eq!(r.status(), 204);
    let got = receiver.wait_for(3, 10).await;
    let types: Vec<String> = got
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        types,
        [
            "connector.created",
            "connector.updated",
            "connector.deleted"
        ]
    );
    let ids: std::collections::HashSet<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids.len(), 3, "each event its own id");
    // A change refused queues nothing.
    let r = app.delete(&format!("/v1/connectors/{connector}"), &t).await;
    assert_eq!(r.status(), 404);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 3);

    // A test that fails is news once; a sync's outcome comes with its counts.
    app.data.seed("stripe/customers", 3);
    let expired = app
        .create(
            &t,
            json!({"connector_type": "stripe", "config": {"api_key": "sk_test_expired_events"}}),
        )
        .await;
    for _ in 0..2 {
        let r = app
            .post(&format!("/v1/connectors/{expired}/test"), &t, &json!({}))
            .await;
        assert_eq!(r.status(), 200);
    }
    let good = app
        .create(
            &t,
            json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good_events6"}}),
        )
        .await;
    crate::sync::sync(&app, &t, &good, json!({"streams": ["customers"]})).await;
    let got = receiver.wait_for(7, 10).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let bodies: Vec<Value> = receiver.received()[3..]
        .iter()
        .map(Received::json)
        .collect();
    let types: Vec<&str> = bodies
        .iter()
        .map(|b| b["type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        types,
        [
            "connector.created",
            "connector.test_failed",
            "connector.created",
            "sync.succeeded"
        ],
        "{bodies:?}"
    );
    assert_eq!(
        bodies[1]["data"]["connector"]["error_code"],
        "EXPIRED_CREDENTIALS"
    );
    assert_eq!(
        bodies[3]["data"]["run"]["streams"]["customers"]["added"], 3,
        "{}",
        bodies[3]
    );
    assert_eq!(got.len(), 7);

    // Another tenant sees none of it.
    let other = app.token("globex", "gina");
    let r = app
        .get(&format!("/v1/webhook-endpoints/{id}"), &other)
        .await;
    expect_error(r, 404, "NOT_FOUND").await;
    let r = app
        .get(&format!("/v1/webhook-endpoints/{id}/deliveries"), &other)
        .await;
    expect_error(r, 404, "NOT_FOUND").await;
}

#[tokio::test]
async fn failures_are_retried_429_waited_out_410_stops_and_filters_apply() {
    let app = spawn_app_with(ENV).await;
    let t = app.token("acme", "alice");
    let receiver = Receiver::start().await;
    let endpoint = create_endpoint(
        &app,
        &t,
        json!({"url": receiver.url, "events": ["connector.created"]}),
    )
    .await;
    let id = endpoint["endpoint_id"].as_str().expect("id").to_owned();

    // 500, then 429 asking for a second, then 200: three attempts of the same message.
    receiver.script(&[(500, None), (429, Some("1"))]);
    let started = std::time::Instant::now();
    let connector = app
        .create(
            &t,
            json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good_events2"}}),
        )
        .await;
    let got = receiver.wait_for(3, 10).await;
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(1000),
        "Retry-After was waited out"
    );
    assert_eq!(
        got.iter()
            .map(|r| r.header("webhook-id"))
            .collect::<std::collections::HashSet<_>>()
            .len(),
        1
    );
    wait_until("the delivery to be recorded as succeeded", async || {
        deliveries(&app, &t, &id)
            .await
            .first()
            .is_some_and(|d| d["status"] == "succeeded")
    })
    .await;
    let listed = deliveries(&app, &t, &id).await;
    let attempts: Vec<Value> = listed[0]["attempts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        attempts
            .iter()
            .map(|a| a["status"].clone())
            .collect::<Vec<_>>(),
        [json!(500), json!(429), json!(200)]
    );
    assert!(attempts.iter().all(|a| a["duration_ms"].is_i64()));

    // Filtered: an update is not a type this endpoint asked for.
    app.patch(
        &format!("/v1/connectors/{connector}"),
        &t,
        &json!({"display_name": "Other"}),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 3);

    // Replay: the same message again, the same webhook-id.
    let delivery = listed[0]["delivery_id"]
        .as_str()
        .expect("delivery id")
        .to_owned();
    let r = app
        .post(
            &format!("/v1/webhook-endpoints/{id}/deliveries/{delivery}/replay"),
            &t,
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), 202);
    let got = receiver.wait_for(4, 10).await;
    assert_eq!(got[3].header("webhook-id"), got[0].header("webhook-id"));

    // 410 Gone: the endpoint is turned off, and says why.
    receiver.script(&[(410, None)]);
    app.create(
        &t,
        json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good_events3"}}),
    )
    .await;
    receiver.wait_for(5, 10).await;
    wait_until("the endpoint to be turned off", async || {
        let shown: Value = app
            .get(&format!("/v1/webhook-endpoints/{id}"), &t)
            .await
            .json()
            .await
            .expect("json");
        shown["enabled"] == false && shown["disabled_reason"].is_string()
    })
    .await;
    app.create(
        &t,
        json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good_events4"}}),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        receiver.received().len(),
        5,
        "nothing more to a gone endpoint"
    );

    // Bad input: unknown event types, private or non-http addresses.
    let r = app
        .post(
            "/v1/webhook-endpoints",
            &t,
            &json!({"url": receiver.url, "events": ["connector.exploded"]}),
        )
        .await;
    assert_eq!(
        expect_error(r, 400, "INVALID_REQUEST").await["field"],
        "events"
    );
    let r = app
        .post(
            "/v1/webhook-endpoints",
            &t,
            &json!({"url": "ftp://hooks.example/x"}),
        )
        .await;
    expect_error(r, 422, "INVALID_CONFIG").await;
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_old_one_for_a_day() {
    let app = spawn_app_with(ENV).await;
    let t = app.token("acme", "alice");
    let receiver = Receiver::start().await;
    let endpoint = create_endpoint(&app, &t, json!({"url": receiver.url})).await;
    let old = endpoint["secret"].as_str().expect("secret").to_owned();
    let id = endpoint["endpoint_id"].as_str().expect("id").to_owned();
    let rotated: Value = app
        .post(
            &format!("/v1/webhook-endpoints/{id}/rotate-secret"),
            &t,
            &json!({}),
        )
        .await
        .json()
        .await
        .expect("json");
    let new = rotated["secret"].as_str().expect("new secret").to_owned();
    assert_ne!(new, old);
    assert!(rotated["previous_secret_until"].is_string());
    app.create(
        &t,
        json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good_events5"}}),
    )
    .await;
    let got = receiver.wait_for(1, 10).await;
    assert_eq!(got[0].header("webhook-signature").split(' ').count(), 2);
    verify(&new, &got[0])
        .await
        .expect("the new secret verifies");
    verify(&old, &got[0])
        .await
        .expect("the old one too, for now");
}

/// Events waiting when a process is killed with -9 are delivered after a restart, each once;
/// two processes on one store never deliver the same attempt twice.
#[tokio::test]
async fn deliveries_survive_kill_9_and_two_processes_send_each_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = std::sync::Arc::new(crate::support::fakes::data::Dataset::default());
    let fakes = format!(
        "http://{}",
        crate::support::fakes::start_with("127.0.0.1:0".parse().expect("addr"), data)
            .await
            .expect("fakes")
    );
    let key = connector_hub::vault::generate_key();
    let mut env = server_env(&fakes, &dir.path().join("data"), &key);
    for (k, v) in [
        ("CONNECTOR_HUB_EGRESS_ALLOW", "127.0.0.0/8"),
        (
            "CONNECTOR_HUB_DELIVERY_SCHEDULE_MS",
            "300,300,300,300,300,300",
        ),
        ("CONNECTOR_HUB_DELIVERY_POLL_MS", "50"),
        ("CONNECTOR_HUB_DELIVERY_LEASE_MS", "2000"),
        ("CONNECTOR_HUB_DELIVERY_TIMEOUT_MS", "1500"),
    ] {
        env.push((k.to_owned(), v.to_owned()));
    }
    let t = token("acme", "alice");
    let http = reqwest::Client::new();
    let post = |base: String, path: &str, body: Value| {
        let (http, t, path) = (http.clone(), t.clone(), path.to_owned());
        async move {
            http.post(format!("{base}{path}"))
                .bearer_auth(t)
                .json(&body)
                .send()
                .await
                .expect("post")
        }
    };

    // The endpoint is down (nothing listens on its port) while the first server queues events.
    let port = free_port();
    let first = spawn_server(&env, &dir.path().join("first.log")).await;
    let r = post(
        first.base.clone(),
        "/v1/webhook-endpoints",
        json!({"url": format!("http://127.0.0.1:{port}/hooks")}),
    )
    .await;
    assert_eq!(r.status(), 201);
    for n in 0..5 {
        let r = post(first.base.clone(), "/v1/connectors", json!({"connector_type": "stripe", "config": {"api_key": format!("sk_test_good_kill{n}")}})).await;
        assert_eq!(r.status(), 201);
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    first.kill();

    // It comes up; two servers share the store; each event arrives once.
    let receiver = Receiver::start_on(&format!("127.0.0.1:{port}")).await;
    let second = spawn_server(&env, &dir.path().join("second.log")).await;
    let third = spawn_server(&env, &dir.path().join("third.log")).await;
    for n in 5..15 {
        let base = if n % 2 == 0 {
            &second.base
        } else {
            &third.base
        };
        let r = post(base.clone(), "/v1/connectors", json!({"connector_type": "stripe", "config": {"api_key": format!("sk_test_good_two{n}")}})).await;
        assert_eq!(r.status(), 201);
    }
    let got = receiver.wait_for(15, 30).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let got_now = receiver.received();
    let mut ids: Vec<&str> = got_now.iter().map(|r| r.header("webhook-id")).collect();
    ids.sort();
    let before = ids.len();
    ids.dedup();
    assert_eq!((before, ids.len()), (15, 15), "every event once: {ids:?}");
    assert!(got.len() >= 15);
    second.stop();
    third.stop();
}

/// A change queues its event and wakes this process's delivery worker: the event goes out at
/// once, not at the worker's next poll (half a minute here).
#[tokio::test]
async fn a_change_is_delivered_at_once_not_at_the_next_poll() {
    let app = spawn_app_with(&[
        ("CONNECTOR_HUB_EGRESS_ALLOW", "127.0.0.0/8"),
        ("CONNECTOR_HUB_DELIVERY_POLL_MS", "30000"),
    ])
    .await;
    let t = app.token("acme", "alice");
    let receiver = Receiver::start().await;
    create_endpoint(
        &app,
        &t,
        json!({"url": receiver.url, "events": ["connector.created"]}),
    )
    .await;
    // Let the worker fall asleep on its long poll first.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    app.create(
        &t,
        json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good_wake42"}}),
    )
    .await;
    let received = receiver.wait_for(1, 5).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].json()["type"], "connector.created");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "delivered in {:?}",
        started.elapsed()
    );
}

/// One tenant's slow endpoint cannot hold every delivery slot: with two slots and a share of
/// one per tenant, another tenant's event goes out while the slow endpoint still holds its
/// backlog (on today's oldest-first claim it waited behind all of it).
#[tokio::test]
async fn a_slow_tenant_cannot_hold_every_delivery_slot() {
    let app = spawn_app_with(&[
        ("CONNECTOR_HUB_EGRESS_ALLOW", "127.0.0.0/8"),
        ("CONNECTOR_HUB_DELIVERY_POLL_MS", "50"),
        ("CONNECTOR_HUB_DELIVERY_CONCURRENCY", "2"),
        ("CONNECTOR_HUB_DELIVERY_PER_TENANT", "1"),
    ])
    .await;
    let (slow_t, quick_t) = (app.token("slowco", "sam"), app.token("quickco", "quinn"));
    let (slow, quick) = (Receiver::start().await, Receiver::start().await);
    slow.slow(std::time::Duration::from_secs(3));
    for (t, receiver) in [(&slow_t, &slow), (&quick_t, &quick)] {
        create_endpoint(
            &app,
            t,
            json!({"url": receiver.url, "events": ["connector.created"]}),
        )
        .await;
    }
    // Four changes of the slow tenant first: its endpoint takes 3 s each.
    for n in 0..4 {
        app.create(
            &slow_t,
            json!({"connector_type": "stripe", "config": {"api_key": format!("sk_test_good_slow{n}42")}}),
        )
        .await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    app.create(
        &quick_t,
        json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good_quick42"}}),
    )
    .await;
    // Oldest-first, both slots would hold the slow tenant's first two for 3 s, then the next
    // two: the quick tenant's event would wait at least 3 s.
    let received = quick.wait_for(1, 2).await;
    assert_eq!(received[0].json()["type"], "connector.created");
    assert!(
        slow.received().is_empty(),
        "the slow endpoint had not answered even its first yet"
    );
    // And the slow tenant's events all arrive in the end.
    assert_eq!(slow.wait_for(4, 20).await.len(), 4);
}
