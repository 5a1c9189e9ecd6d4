//! The audit log: every operation and refusal recorded, nothing done whose entry cannot be
//! written (the fail-closed rule), and anonymous traffic summarised so it cannot fill the disk or
//! the log.

use crate::operations::{audit, stripe};
use crate::support::store::open_store;
use crate::support::{expect_error, raw, spawn_app};
use connector_hub::ids::TenantId;
use connector_hub::store::AuditQuery;
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn every_operation_and_refusal_is_audited() {
    let app = spawn_app().await;
    let (a, b) = (app.token("acme", "ana"), app.token("other", "olga"));
    let id = app.create(&a, stripe()).await;
    app.get(&format!("/v1/connectors/{id}"), &a).await;
    app.patch(
        &format!("/v1/connectors/{id}"),
        &a,
        &json!({"display_name": "Renamed"}),
    )
    .await;
    app.patch(
        &format!("/v1/connectors/{id}"),
        &a,
        &json!({"config": {"api_key": "sk_test_good_9999"}}),
    )
    .await;
    app.post(&format!("/v1/connectors/{id}/test"), &a, &json!({}))
        .await;
    app.post(
        "/v1/connectors/test",
        &a,
        &json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good_4242"}}),
    )
    .await;
    app.post(&format!("/v1/connectors/{id}/clear-error"), &a, &json!({}))
        .await;
    // Refusals: another tenant's 404, a forged token, a cross-site cookie post.
    expect_error(
        app.get(&format!("/v1/connectors/{id}"), &b).await,
        404,
        "NOT_FOUND",
    )
    .await;
    expect_error(
        app.get("/v1/connectors", "forged").await,
        401,
        "UNAUTHENTICATED",
    )
    .await;
    let cookie = format!("ch_session={a}");
    let cross = app
        .http
        .delete(app.url(&format!("/v1/connectors/{id}")))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("cross");
    expect_error(cross, 403, "FORBIDDEN").await;
    assert_eq!(
        app.delete(&format!("/v1/connectors/{id}"), &a)
            .await
            .status(),
        204
    );

    let entries = audit(&app, "acme").await;
    for action in [
        "create",
        "read",
        "update",
        "replace_credentials",
        "test",
        "test_unsaved",
        "clear_error",
        "delete",
    ] {
        let e = entries
            .iter()
            .find(|e| e.action == action)
            .unwrap_or_else(|| panic!("{action} audited"));
        assert_eq!(e.user_id, "ana");
        assert_eq!(e.outcome, "ok");
        assert_eq!(e.client, "127.0.0.1");
    }
    // Refusals a cross-site page or an anonymous caller can repeat at will are summarised (one
    // entry per address and minute), never written one by one into a tenant's log.
    assert!(!entries.iter().any(|e| e.action == "origin_check"));
    let other = audit(&app, "other").await;
    assert!(other.iter().any(|e| e.action == "read"
        && e.outcome == "refused"
        && e.error_code.as_deref() == Some("NOT_FOUND")));

    // The tenant reads its own log through the API, filtered.
    let log: Value = app
        .get(&format!("/v1/audit?connector_id={id}&action=delete"), &a)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(log["entries"].as_array().map(Vec::len), Some(1));
    let theirs: Value = app.get("/v1/audit", &b).await.json().await.expect("json");
    assert!(theirs["entries"]
        .as_array()
        .expect("array")
        .iter()
        .all(|e| e["tenant_id"] == "other"));
    // The summaries are written when their minute ends, and all of them at shutdown.
    let data_dir = app.data_dir.clone();
    let _keep = app.stop_keeping_data().await;
    let store = open_store(&data_dir).await;
    let anonymous = store
        .list_audit(
            &TenantId::unauthenticated(),
            &AuditQuery {
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .expect("audit")
        .0;
    let summary = |action: &str, code: &str| {
        anonymous.iter().any(|e| {
            e.action == action
                && e.error_code.as_deref() == Some(code)
                && e.detail
                    .as_deref()
                    .is_some_and(|d| d.contains("refused in this minute"))
        })
    };
    // One summary per address and minute, named after its first refusal (here the bad token,
    // then the cross-site delete): both counted.
    assert!(
        summary("authenticate", "UNAUTHENTICATED") || summary("origin_check", "FORBIDDEN"),
        "{anonymous:?}"
    );
    assert!(
        anonymous.iter().any(|e| e
            .detail
            .as_deref()
            .is_some_and(|d| !d.starts_with("1 request "))),
        "{anonymous:?}"
    );
    assert!(
        anonymous
            .iter()
            .any(|e| e.error_code.as_deref() == Some("UNAUTHENTICATED")),
        "{anonymous:?}"
    );
}

#[tokio::test]
async fn an_operation_whose_audit_entry_cannot_be_written_does_not_happen() {
    let app = spawn_app().await;
    let t = app.token("acme", "ana");
    let id = app.create(&t, stripe()).await;
    raw::break_audit_log(&app.data_dir).await;
    expect_error(
        app.post("/v1/connectors", &t, &stripe()).await,
        503,
        "STORAGE_UNAVAILABLE",
    )
    .await;
    expect_error(
        app.delete(&format!("/v1/connectors/{id}"), &t).await,
        503,
        "STORAGE_UNAVAILABLE",
    )
    .await;
    raw::repair_audit_log(&app.data_dir).await;
    let list: Value = app
        .get("/v1/connectors", &t)
        .await
        .json()
        .await
        .expect("json");
    let ids: Vec<&str> = list["connectors"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|c| c["connector_id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [id.as_str()],
        "nothing was created and nothing deleted while the audit log was down"
    );
    app.stop().await;
}

/// Requests nobody signed in for cost no durable write each: 1,000 of them (bad tokens, no token,
/// anonymous page views, cross-site posts) against the real server add a handful of audit entries
/// — one summary per address and minute, with the count — and under 100 KB to the database.
#[tokio::test]
async fn anonymous_traffic_cannot_fill_the_disk_or_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut env = crate::support::process::server_env(
        "http://127.0.0.1:9",
        &data,
        &connector_hub::vault::generate_key(),
    );
    env.retain(|(k, _)| k != "CONNECTOR_HUB_RATE_ANONYMOUS_PER_MIN");
    env.push(("CONNECTOR_HUB_RATE_ANONYMOUS_PER_MIN".into(), "200".into()));
    env.push(("LEPTOS_SITE_ROOT".into(), "target/site".into()));
    let server = crate::support::process::spawn_server(&env, &dir.path().join("server.log")).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let url = |path: &str| format!("{}{path}", server.base);
    // Warm up (first pages) before measuring.
    let _ = http.get(url("/")).send().await;
    let before_size = raw::stored_size(&data).await;
    let before_rows = raw::count(&data, "audit_log").await;
    let mut limited = 0;
    for i in 0..1000 {
        let request = match i % 4 {
            0 => http
                .get(url("/v1/connectors"))
                .bearer_auth("forged.token.here"),
            1 => http.get(url("/v1/connectors")),
            2 => http.get(url("/")),
            _ => http
                .post(url("/api/list_sources"))
                .header("sec-fetch-site", "cross-site")
                .header("cookie", "ch_session=x"),
        };
        let r = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert!(r.status().as_u16() < 500, "{}", r.status());
        if r.status() == 429 {
            limited += 1;
        }
    }
    assert!(limited > 0, "one address is limited past its allowance");
    let metrics = http
        .get(url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("connector_hub_anonymous_refusals_total{action=\"authenticate\"}"),
        "{metrics}"
    );
    // The summaries are written once their minute has ended; at shutdown, all of them.
    assert!(server.stop().success());
    let added = raw::count(&data, "audit_log").await - before_rows;
    assert!(
        (1..=6).contains(&added),
        "{added} audit entries for 1,000 refused requests"
    );
    // The burst may straddle a minute: one of its summaries then covers only a few requests.
    let details = raw::audit_details(&data, "_unauthenticated").await;
    assert!(
        details
            .iter()
            .any(|d| d.contains("requests refused in this minute")),
        "{details:?}"
    );
    let grown = raw::stored_size(&data).await.saturating_sub(before_size);
    assert!(grown < 100 * 1024, "the database grew by {grown} bytes");
}
