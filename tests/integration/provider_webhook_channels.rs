//! Google Drive's push channels: registered by the hub with a token each notification must carry,
//! renewed before they lapse, and shown as lapsed when they do.

use crate::provider_webhooks::{now_ms, post, runs_once_one_succeeded, webhook_url};
use crate::support::{spawn_app_with, TestApp};
use serde_json::{json, Value};

/// A Google Drive connector with a push channel registered by the hub: its id and view.
async fn drive_with_channel(app: &TestApp, t: &str) -> (String, Value) {
    let id = app
        .create(t, json!({"connector_type": "google_drive", "config": {"access_token": "ya29.good-token"}, "sync_frequency": "manual"}))
        .await;
    let r = app
        .post(
            &format!("/v1/connectors/{id}/webhook-channel"),
            t,
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    (id, r.json().await.expect("json"))
}

#[tokio::test]
async fn a_google_drive_push_channel_is_registered_and_its_token_checked() {
    let app = spawn_app_with(&[("CONNECTOR_HUB_EGRESS_ALLOW", "127.0.0.0/8")]).await;
    let t = app.token("acme", "alice");
    let id = app
        .create(&t, json!({"connector_type": "google_drive", "config": {"access_token": "ya29.good-token"}, "sync_frequency": "manual"}))
        .await;
    let url = webhook_url(&app, &t, &id).await;
    // Before registering, nothing is accepted.
    let (status, _) = post(
        &app,
        &url,
        b"",
        &[("x-goog-channel-token".into(), "guess".into())],
    )
    .await;
    assert_eq!(status, 401);
    app.data.take_requests();
    let r = app
        .post(
            &format!("/v1/connectors/{id}/webhook-channel"),
            &t,
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    let seen = app.data.take_requests();
    let watch: Value = seen
        .iter()
        .find_map(|s| s.query.get("watch"))
        .and_then(|w| serde_json::from_str(w).ok())
        .expect("the channel was opened");
    assert_eq!(watch["address"], url.as_str());
    assert_eq!(watch["type"], "web_hook");
    let token = watch["token"].as_str().expect("token").to_owned();
    assert!(token.len() >= 32);
    let view = app
        .get(&format!("/v1/connectors/{id}"), &t)
        .await
        .text()
        .await
        .expect("text");
    assert!(!view.contains(&token), "the channel's token is a secret");

    let notice = |number: &str, state: &str, token: &str| {
        vec![
            (
                "x-goog-channel-id".to_owned(),
                watch["id"].as_str().unwrap_or_default().to_owned(),
            ),
            ("x-goog-channel-token".to_owned(), token.to_owned()),
            ("x-goog-resource-state".to_owned(), state.to_owned()),
            ("x-goog-message-number".to_owned(), number.to_owned()),
        ]
    };
    let (status, answer) = post(&app, &url, b"", &notice("1", "sync", &token)).await;
    assert_eq!((status, &answer["received"]), (200, &json!(1)), "{answer}");
    let (status, _) = post(&app, &url, b"", &notice("2", "change", "not-the-token")).await;
    assert_eq!(status, 401);
    let (status, answer) = post(&app, &url, b"", &notice("2", "change", &token)).await;
    assert_eq!((status, &answer["received"]), (200, &json!(1)), "{answer}");
    let (_, answer) = post(&app, &url, b"", &notice("2", "change", &token)).await;
    assert_eq!(answer["repeated"], 1);
    // The change notice starts an incremental sync of the files.
    let runs = runs_once_one_succeeded(&app, &t, &id).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["trigger"], "webhook");
    // A provider the person registers by hand is not registered by the hub.
    let stripe = app
        .create(
            &t,
            json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good_hooks9"}}),
        )
        .await;
    let r = app
        .post(
            &format!("/v1/connectors/{stripe}/webhook-channel"),
            &t,
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), 400);
}

/// Drive grants a push channel for a while (here two minutes) and cannot extend it: the health
/// monitor opens the next one, to the same address with the same token, before it lapses.
#[tokio::test]
async fn a_google_drive_push_channel_is_renewed_before_it_lapses() {
    let app = spawn_app_with(&[
        ("CONNECTOR_HUB_EGRESS_ALLOW", "127.0.0.0/8"),
        ("CONNECTOR_HUB_MONITOR", "true"),
        ("CONNECTOR_HUB_MONITOR_INTERVAL_MS", "300"),
    ])
    .await;
    app.data
        .grant_channels_for(std::time::Duration::from_secs(120));
    let t = app.token("acme", "alice");
    let (id, view) = drive_with_channel(&app, &t).await;
    let url = webhook_url(&app, &t, &id).await;
    let lapses = view["webhook_channel_expires_at"]
        .as_str()
        .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
        .expect("the view says when the channel lapses")
        .timestamp_millis();
    assert!(
        (lapses - now_ms() - 120_000).abs() < 10_000,
        "as Drive granted it, not as asked: {view}"
    );

    let watches = |seen: Vec<crate::support::fakes::data::Seen>| -> Vec<Value> {
        seen.iter()
            .filter_map(|s| s.query.get("watch"))
            .filter_map(|w| serde_json::from_str(w).ok())
            .collect()
    };
    let mut opened = watches(app.data.take_requests());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while opened.len() < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        opened.extend(watches(app.data.take_requests()));
    }
    assert!(
        opened.len() >= 2,
        "the monitor renewed the channel: {opened:?}"
    );
    let (first, next) = (&opened[0], &opened[1]);
    assert_eq!(next["address"], url.as_str());
    assert_eq!(
        next["token"], first["token"],
        "the same token: both channels verify"
    );
    assert_ne!(next["id"], first["id"], "each channel has its own id");

    // The renewal is audited (committed just after the provider answered: looked for until it
    // is), and notices of the new channel are accepted.
    let mut audit = String::new();
    for _ in 0..50 {
        audit = app
            .get("/v1/audit?action=webhook_channel", &t)
            .await
            .text()
            .await
            .expect("text");
        if audit.contains("system:monitor") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(audit.contains("system:monitor"), "{audit}");
    let token = next["token"].as_str().expect("token");
    let headers = vec![
        (
            "x-goog-channel-id".to_owned(),
            next["id"].as_str().unwrap_or_default().to_owned(),
        ),
        ("x-goog-channel-token".to_owned(), token.to_owned()),
        ("x-goog-resource-state".to_owned(), "sync".to_owned()),
        ("x-goog-message-number".to_owned(), "1".to_owned()),
    ];
    let (status, _) = post(&app, &url, b"", &headers).await;
    assert_eq!(status, 200);
}

/// A channel that lapsed without being replaced is not shown as open: the data page says so
/// and asks for a new registration.
#[tokio::test]
async fn a_lapsed_push_channel_is_shown_as_lapsed() {
    let app = spawn_app_with(&[("CONNECTOR_HUB_EGRESS_ALLOW", "127.0.0.0/8")]).await;
    app.data.grant_channels_for(std::time::Duration::ZERO);
    let t = app.token("acme", "alice");
    let (id, _) = drive_with_channel(&app, &t).await;
    let cookie = app.session_cookie(&t).await;
    let page = app
        .http
        .get(app.url(&format!("/sources/{id}/data")))
        .header("cookie", cookie)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(page.contains("The push channel lapsed at"), "{page}");
    assert!(!page.contains("Push channel open until"));
}
