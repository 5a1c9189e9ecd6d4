//! Sync runs beyond the first read: one run at a time, 429 and 401 in the middle of a run, records
//! paged, scoped by tenant, sealed and gone with their connector; the monitor's schedule; a
//! capped search going on from the newest change; and Stripe's events applying the newest state.

use crate::support::fakes::data::Seen;
use crate::support::{raw, spawn_app_with, TestApp};
use crate::sync::{live_ids, records_since, sync, wait_run, SYNC_ENV};
use serde_json::{json, Value};
use std::time::Duration;

async fn stripe_connector(app: &TestApp, token: &str, customers: u64) -> String {
    app.data.seed("stripe/customers", customers);
    app.create(token, json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good123456"}, "sync_frequency": "manual"}))
        .await
}

/// Where each request for Stripe customers started.
fn after_ids(seen: &[Seen]) -> Vec<Option<String>> {
    seen.iter()
        .filter(|s| s.stream == "stripe/customers")
        .map(|s| s.query.get("starting_after").cloned())
        .collect()
}

#[tokio::test]
async fn one_run_at_a_time_and_providers_in_trouble_mid_run() {
    use crate::support::fakes::data::Trouble;
    let app = spawn_app_with(SYNC_ENV).await;
    let t = app.token("acme", "alice");
    let id = stripe_connector(&app, &t, 300).await;

    // While a run is under way, another is refused with its id.
    app.data.slow(Duration::from_millis(150));
    let first: Value = app
        .post(&format!("/v1/connectors/{id}/sync"), &t, &json!({}))
        .await
        .json()
        .await
        .expect("json");
    let again = app
        .post(&format!("/v1/connectors/{id}/sync"), &t, &json!({}))
        .await;
    assert_eq!(again.status(), 409);
    let again: Value = again.json().await.expect("json");
    assert_eq!(again["error"]["code"], "SYNC_IN_PROGRESS", "{again}");
    assert_eq!(again["error"]["run_id"], first["run_id"], "{again}");
    let run = wait_run(&app, &t, &id, first["run_id"].as_str().expect("id")).await;
    assert_eq!(run["streams"]["customers"]["added"], 300, "{run}");
    app.data.slow(Duration::ZERO);
    app.data.take_requests();

    // 429 on the second page: Retry-After waited out, the page asked again, nothing lost.
    app.data.trouble(1, Trouble::RateLimited, 1);
    let run = sync(&app, &t, &id, json!({"full_refresh": true})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(
        run["streams"]["customers"],
        json!({"added": 0, "updated": 0, "deleted": 0}),
        "{run}"
    );
    let customers: Vec<Seen> = app
        .data
        .take_requests()
        .into_iter()
        .filter(|s| s.stream == "stripe/customers")
        .collect();
    assert_eq!(
        after_ids(&customers),
        [
            None,
            Some("cus_000100".into()),
            Some("cus_000100".into()),
            Some("cus_000200".into())
        ]
    );

    // Two 500s are retried with backoff.
    app.data.trouble(1, Trouble::Failing, 2);
    let run = sync(&app, &t, &id, json!({"full_refresh": true})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(
        after_ids(&app.data.take_requests()),
        [
            None,
            Some("cus_000100".into()),
            Some("cus_000100".into()),
            Some("cus_000100".into()),
            Some("cus_000200".into())
        ]
    );

    // A provider that keeps failing fails the run with the check vocabulary's code, after the
    // pages before it were committed; the connector shows the failure.
    app.data.change("stripe/customers", &[250]);
    app.data.trouble(2, Trouble::Failing, 100);
    let run = sync(&app, &t, &id, json!({"full_refresh": true})).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error_code"], "PROVIDER_ERROR", "{run}");
    let view: Value = app
        .get(&format!("/v1/connectors/{id}"), &t)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(view["status"], "error", "{view}");
    assert!(
        view["error_message"]
            .as_str()
            .is_some_and(|m| m.contains("sync")),
        "{view}"
    );

    // The next run goes on from the last committed page, and finishes the same full read: the
    // records its first part saw are not taken for deletions.
    app.data.calm();
    app.data.take_requests();
    let run = sync(&app, &t, &id, json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(
        after_ids(&app.data.take_requests()),
        [Some("cus_000200".into())]
    );
    assert_eq!(
        run["streams"]["customers"],
        json!({"added": 0, "updated": 1, "deleted": 0}),
        "{run}"
    );
    let view: Value = app
        .get(&format!("/v1/connectors/{id}"), &t)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        view["status"], "active",
        "a successful sync clears the error: {view}"
    );
    let (records, _) = records_since(&app, &t, &id, "customers", None).await;
    assert_eq!(live_ids(&records).len(), 300);
    assert_eq!(records.len(), 300, "each record once");

    let runs: Value = app
        .get(&format!("/v1/connectors/{id}/syncs"), &t)
        .await
        .json()
        .await
        .expect("json");
    let statuses: Vec<&str> = runs["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .filter_map(|r| r["status"].as_str())
        .collect();
    assert_eq!(
        statuses,
        ["succeeded", "failed", "succeeded", "succeeded", "succeeded"],
        "newest first"
    );
}

#[tokio::test]
async fn records_are_paged_scoped_sealed_and_deleted_with_their_connector() {
    let app = spawn_app_with(SYNC_ENV).await;
    let t = app.token("acme", "alice");
    let id = stripe_connector(&app, &t, 30).await;
    let run = sync(&app, &t, &id, json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");

    // Keyset pages: has_more until the end, a next_cursor on every page, the last one included.
    let mut cursor = String::new();
    let mut seen = Vec::new();
    for expected_more in [true, true, true, true, false] {
        let path = format!(
            "/v1/connectors/{id}/records?stream=customers&limit=7{}",
            if cursor.is_empty() {
                String::new()
            } else {
                format!("&cursor={cursor}")
            }
        );
        let page: Value = app.get(&path, &t).await.json().await.expect("json");
        assert_eq!(page["has_more"], expected_more, "{page}");
        cursor = page["next_cursor"].as_str().expect("cursor").to_owned();
        seen.extend(
            page["records"]
                .as_array()
                .expect("records")
                .iter()
                .map(|r| r["id"].clone()),
        );
    }
    assert_eq!(seen.len(), 30);
    let page: Value = app
        .get(
            &format!("/v1/connectors/{id}/records?stream=customers&cursor={cursor}"),
            &t,
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(page["records"], json!([]));
    assert_eq!(
        page["next_cursor"],
        cursor.as_str(),
        "where to resume stays put"
    );

    // Bad input: clear 400s.
    for (path, field) in [
        (format!("/v1/connectors/{id}/records"), "stream"),
        (
            format!("/v1/connectors/{id}/records?stream=customers&limit=0"),
            "limit",
        ),
        (
            format!("/v1/connectors/{id}/records?stream=customers&cursor=42"),
            "cursor",
        ),
        (
            format!("/v1/connectors/{id}/records?stream=customer"),
            "stream",
        ),
    ] {
        let r = app.get(&path, &t).await;
        assert_eq!(r.status(), 400, "{path}");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["error"]["field"], field, "{body}");
    }
    let r = app
        .post(
            &format!("/v1/connectors/{id}/sync"),
            &t,
            &json!({"streams": ["payouts"]}),
        )
        .await;
    assert_eq!(r.status(), 400);
    let r = app
        .http
        .post(app.url(&format!("/v1/connectors/{id}/sync")))
        .bearer_auth(&t)
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);

    // Another tenant sees nothing of it.
    let other = app.token("globex", "gary");
    for path in ["records?stream=customers", "streams", "syncs", "preview"] {
        let r = app
            .get(&format!("/v1/connectors/{id}/{path}"), &other)
            .await;
        assert_eq!(r.status(), 404, "{path}");
    }
    let r = app
        .post(&format!("/v1/connectors/{id}/sync"), &other, &json!({}))
        .await;
    assert_eq!(r.status(), 404);

    // Sealed at rest: the records' content is nowhere in what the store wrote.
    let bytes = raw::stored_bytes(&app.data_dir).await;
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains(&id), "the store's bytes were really read");
    assert!(
        !text.contains("person12@example.com"),
        "a record's content is in the database"
    );
    assert_eq!(raw::count(&app.data_dir, "sync_records").await, 30);

    // Deleted with the connector.
    assert_eq!(
        app.delete(&format!("/v1/connectors/{id}"), &t)
            .await
            .status(),
        204
    );
    // This app's only connector: nothing of its data flows is left anywhere.
    for table in ["sync_records", "sync_streams", "sync_runs"] {
        assert_eq!(raw::count(&app.data_dir, table).await, 0, "{table}");
    }
}

/// The health monitor queues each connector's sync on its schedule — once per interval, never for
/// a manual one — and the run shows as scheduled.
#[tokio::test]
async fn the_monitor_syncs_on_schedule_and_leaves_manual_connectors_alone() {
    let mut env = SYNC_ENV.to_vec();
    env.extend([
        ("CONNECTOR_HUB_MONITOR", "true"),
        ("CONNECTOR_HUB_MONITOR_INTERVAL_MS", "300"),
    ]);
    let app = spawn_app_with(&env).await;
    let t = app.token("acme", "alice");
    app.data.seed("stripe/customers", 20);
    let scheduled = app
        .create(&t, json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good123456"}, "sync_frequency": "hourly"}))
        .await;
    let manual = app
        .create(&t, json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good654321"}, "sync_frequency": "manual"}))
        .await;
    let runs = |id: String| {
        let (app, t) = (&app, &t);
        async move {
            let list: Value = app
                .get(&format!("/v1/connectors/{id}/syncs"), t)
                .await
                .json()
                .await
                .expect("json");
            list["runs"].as_array().cloned().unwrap_or_default()
        }
    };
    let mut found = Vec::new();
    for _ in 0..100 {
        found = runs(scheduled.clone()).await;
        if found.first().is_some_and(|r| r["status"] == "succeeded") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["trigger"], "schedule");
    assert_eq!(found[0]["streams"]["customers"]["added"], 20, "{found:?}");
    // Several more monitor ticks: the next sync is an hour away, and manual means never.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(runs(scheduled).await.len(), 1);
    assert!(runs(manual).await.is_empty());
}

/// HubSpot's search lists at most 10,000 results for one filter: a pass with more changes searches
/// again from the newest change it saw, and every change arrives once.
#[tokio::test]
async fn a_capped_search_goes_on_from_the_newest_change() {
    let app = spawn_app_with(SYNC_ENV).await;
    let t = app.token("acme", "alice");
    app.data.seed("hubspot/deals", 10_050);
    let id = app
        .create(&t, json!({"connector_type": "hubspot", "config": {"access_token": "hubspot-good-token"}, "sync_frequency": "manual"}))
        .await;
    let run = sync(&app, &t, &id, json!({"streams": ["deals"]})).await;
    assert_eq!(run["streams"]["deals"]["added"], 10_050, "{run}");
    let all: Vec<u64> = (1..=10_050).collect();
    app.data.change("hubspot/deals", &all);
    app.data.take_requests();
    let run = sync(&app, &t, &id, json!({"streams": ["deals"]})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(
        run["streams"]["deals"],
        json!({"added": 0, "updated": 10_050, "deleted": 0}),
        "{run}"
    );
    let lower_bounds: Vec<String> = app
        .data
        .take_requests()
        .iter()
        .filter_map(|s| s.query.get("search"))
        .filter_map(|body| serde_json::from_str::<Value>(body).ok())
        .filter(|b| b.get("after").is_none())
        .filter_map(|b| {
            b["filterGroups"][0]["filters"][0]["value"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(
        lower_bounds.len(),
        2,
        "one search, then one from the newest change: {lower_bounds:?}"
    );
    assert!(lower_bounds[1] > lower_bounds[0]);
}

/// Stripe's events come newest first: a record changed twice ends in its newest state, and a
/// deletion arrives as a deletion.
#[tokio::test]
async fn stripe_events_apply_the_newest_state() {
    let app = spawn_app_with(SYNC_ENV).await;
    let t = app.token("acme", "alice");
    let id = stripe_connector(&app, &t, 5).await;
    let run = sync(&app, &t, &id, json!({"streams": ["customers"]})).await;
    assert_eq!(run["streams"]["customers"]["added"], 5, "{run}");
    app.data.change("stripe/customers", &[2]);
    app.data.change("stripe/customers", &[2]);
    app.data.delete("stripe/customers", &[4]);
    app.data.take_requests();
    let run = sync(&app, &t, &id, json!({"streams": ["customers"]})).await;
    assert_eq!(
        run["streams"]["customers"],
        json!({"added": 0, "updated": 1, "deleted": 1}),
        "{run}"
    );
    assert!(app
        .data
        .take_requests()
        .iter()
        .all(|s| s.stream == "stripe/events"));
    let (records, _) = records_since(&app, &t, &id, "customers", None).await;
    let second = records
        .iter()
        .find(|r| r["id"] == "cus_000002")
        .expect("cus_000002");
    assert_eq!(second["data"]["name"], "Person 2 v3", "{second}");
    let fourth = records
        .iter()
        .find(|r| r["id"] == "cus_000004")
        .expect("cus_000004");
    assert_eq!(fourth["deleted"], true);
}
