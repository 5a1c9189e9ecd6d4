//! Running it for real: rate limits, metrics, request ids, the health monitor's lease, graceful
//! shutdown, the binary serving the site from any directory, and the development sign-in link.
//! The audit log and its fail-closed rule are in `audit_log`.

use crate::support::store::open_store;
use crate::support::{expect_error, raw, spawn_app, spawn_app_with};
use connector_hub::ids::TenantId;
use connector_hub::store::AuditQuery;
use serde_json::{json, Value};
use std::time::Duration;

pub(crate) fn stripe() -> Value {
    json!({"connector_type": "stripe", "display_name": "S", "config": {"api_key": "sk_test_good_4242"}})
}

pub(crate) async fn audit(
    app: &crate::support::TestApp,
    tenant: &str,
) -> Vec<connector_hub::store::AuditRecord> {
    let store = open_store(&app.data_dir).await;
    let tenant = TenantId::parse(tenant).expect("tenant");
    store
        .list_audit(
            &tenant,
            &AuditQuery {
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .expect("audit")
        .0
}

#[tokio::test]
async fn rate_limits_are_per_tenant_and_per_class() {
    let app = spawn_app_with(&[
        ("CONNECTOR_HUB_RATE_READS_PER_MIN", "5"),
        ("CONNECTOR_HUB_RATE_TESTS_PER_MIN", "2"),
    ])
    .await;
    let (a, b) = (app.token("tenant-a", "u"), app.token("tenant-b", "u"));
    for _ in 0..5 {
        assert_eq!(app.get("/v1/connectors", &a).await.status(), 200);
    }
    let limited = app.get("/v1/connectors", &a).await;
    let retry_after: u64 = limited
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=61).contains(&retry_after), "{retry_after}");
    let e = expect_error(limited, 429, "RATE_LIMITED").await;
    assert!(e["retry_after"].is_u64());
    assert_eq!(
        app.get("/v1/connectors", &b).await.status(),
        200,
        "another tenant is unaffected"
    );

    // Connection tests are limited on their own, more tightly.
    for _ in 0..2 {
        let r = app
            .post(
                "/v1/connectors/test",
                &b,
                &json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good_4242"}}),
            )
            .await;
        assert_eq!(r.status(), 200);
    }
    let r = app
        .post(
            "/v1/connectors/test",
            &b,
            &json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good_4242"}}),
        )
        .await;
    expect_error(r, 429, "RATE_LIMITED").await;
    // An invalid config never reaches a provider and does not count.
    let r = app
        .post(
            "/v1/connectors/test",
            &b,
            &json!({"connector_type": "stripe", "config": {"api_key": "nope"}}),
        )
        .await;
    assert_eq!(r.status(), 200);

    let metrics = app.metrics().await;
    assert!(
        metrics.contains("connector_hub_rate_limited_total{class=\"reads\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("connector_hub_rate_limited_total{class=\"tests\"} 1"),
        "{metrics}"
    );
    // A refusal the caller can repeat at will is summarised into the tenant's own log (one entry
    // per address and minute, with the count), written when the minute ends or at shutdown.
    let data_dir = app.data_dir.clone();
    let _keep = app.stop_keeping_data().await;
    let store = open_store(&data_dir).await;
    let entries = store
        .list_audit(
            &TenantId::parse("tenant-a").expect("tenant"),
            &AuditQuery {
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .expect("audit")
        .0;
    assert!(
        entries.iter().any(|e| e.action == "rate_limit:reads"
            && e.outcome == "refused"
            && e.user_id == "u"
            && e.error_code.as_deref() == Some("RATE_LIMITED")
            && e.detail.as_deref() == Some("1 request refused in this minute")),
        "{entries:?}"
    );
}

#[tokio::test]
async fn the_limit_holds_across_two_server_processes_on_one_store() {
    let first = spawn_app_with(&[("CONNECTOR_HUB_RATE_WRITES_PER_MIN", "4")]).await;
    let dir = first.data_dir.display().to_string();
    let second = spawn_app_with(&[
        ("CONNECTOR_HUB_RATE_WRITES_PER_MIN", "4"),
        ("CONNECTOR_HUB_DATA_DIR", &dir),
        ("CONNECTOR_ENCRYPTION_KEY", &first.encryption_key),
    ])
    .await;
    let t = first.token("shared", "u");
    for app in [&first, &second, &first, &second] {
        assert_eq!(
            app.post("/v1/connectors", &t, &stripe()).await.status(),
            201
        );
    }
    expect_error(
        second.post("/v1/connectors", &t, &stripe()).await,
        429,
        "RATE_LIMITED",
    )
    .await;
    expect_error(
        first.post("/v1/connectors", &t, &stripe()).await,
        429,
        "RATE_LIMITED",
    )
    .await;
    second.stop().await;
    first.stop().await;
}

async fn listed(app: &crate::support::TestApp, token: &str) -> usize {
    let page: Value = app
        .get("/v1/connectors", token)
        .await
        .json()
        .await
        .expect("json");
    page["connectors"]
        .as_array()
        .map(Vec::len)
        .expect("connectors")
}

/// A process reusing listing pages sees a change made through another process at once.
#[tokio::test]
async fn a_listing_sees_a_write_made_by_another_process_on_the_store() {
    let first = spawn_app().await;
    let dir = first.data_dir.display().to_string();
    let second = spawn_app_with(&[
        ("CONNECTOR_HUB_DATA_DIR", &dir),
        ("CONNECTOR_ENCRYPTION_KEY", &first.encryption_key),
    ])
    .await;
    let t = first.token("shared", "u");
    let count = |app| listed(app, &t);
    for _ in 0..3 {
        assert_eq!(count(&first).await, 0);
    }
    assert_eq!(
        second.post("/v1/connectors", &t, &stripe()).await.status(),
        201
    );
    assert_eq!(
        count(&first).await,
        1,
        "the other process's create is listed"
    );
    let id = second.create(&t, stripe()).await;
    assert_eq!(count(&first).await, 2);
    assert_eq!(
        second
            .delete(&format!("/v1/connectors/{id}"), &t)
            .await
            .status(),
        204
    );
    assert_eq!(count(&first).await, 1, "and its delete");
    second.stop().await;
    first.stop().await;
}

/// The value of the sample of `name` that has every one of `labels` (in any order).
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .find(|l| labels.iter().all(|label| l.contains(label)))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn metrics_and_request_ids() {
    let app = spawn_app().await;
    let t = app.token("acme", "ana");
    let id = app.create(&t, stripe()).await;
    app.post(&format!("/v1/connectors/{id}/test"), &t, &json!({}))
        .await;
    app.post(
        "/v1/connectors/test",
        &t,
        &json!({"connector_type": "stripe", "config": {"api_key": "sk_test_expired_4242"}}),
    )
    .await;

    let missing = app
        .get("/v1/connectors/conn-00000000000000000000", &t)
        .await;
    let header = missing
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("request id header")
        .to_owned();
    let body = expect_error(missing, 404, "NOT_FOUND").await;
    assert_eq!(
        body["request_id"],
        header.as_str(),
        "the error names the request"
    );
    let echoed = app
        .http
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-abc-12345")
        .send()
        .await
        .expect("healthz");
    assert_eq!(
        echoed
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("trace-abc-12345")
    );

    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics");
    assert!(metrics
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/openmetrics-text; version=1.0.0")));
    let text = metrics.text().await.expect("text");
    assert_eq!(
        sample(
            &text,
            "connector_hub_http_request_duration_seconds_bucket",
            &[
                "route=\"/v1/connectors\"",
                "method=\"POST\"",
                "status=\"201\"",
                "le=\"+Inf\""
            ]
        ),
        Some(1.0),
        "{text}"
    );
    for needle in [
        "connector_hub_http_request_duration_seconds_count{route=\"/v1/connectors/{id}\",method=\"GET\",status=\"404\"} 1",
        "connector_hub_checks_total{provider=\"stripe\",outcome=\"ok\"} 1",
        "connector_hub_checks_total{provider=\"stripe\",outcome=\"EXPIRED_CREDENTIALS\"} 1",
        "connector_hub_store_operation_duration_seconds_count{operation=\"insert\"} 1",
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
    assert!(!text.contains(&id), "metrics never carry ids");
    assert!(
        text.contains("\nconnector_hub_encryption_keys 1\n"),
        "{text}"
    );
    assert!(
        !text.contains("\nconnector_hub_monitor_leader "),
        "no leader sample while the monitor is off"
    );
    app.stop().await;
}

/// The shipped alerting rules (`docs/alerts.yml`) only name metrics this server exports, so no
/// alert silently watches a series that does not exist.
#[tokio::test]
async fn alert_rules_name_only_exported_metrics() {
    let rules = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/alerts.yml"))
        .expect("docs/alerts.yml");
    // Every metric the server records, recorded once (a family without samples is not shown).
    let metrics = connector_hub::metrics::Metrics::new(true);
    let second = std::time::Duration::from_secs(1);
    metrics.request("/v1/connectors".into(), "GET", 200, second);
    metrics.check("stripe", "ok");
    metrics.rate_limited("reads");
    metrics.refused("authenticate");
    metrics.store("insert", second);
    metrics.monitor_leader(true);
    metrics.encryption_keys(1);
    metrics.page_cache(true);
    metrics.refresh("ok");
    let exported: std::collections::BTreeSet<String> = metrics
        .render()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect();
    let mut named = std::collections::BTreeSet::new();
    let mut rest = rules.as_str();
    while let Some(at) = rest.find("connector_hub_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        named.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    assert!(
        named.len() >= 6,
        "the rules use the server's metrics: {named:?}"
    );
    for name in &named {
        // A histogram is named by its family too (its samples are _bucket, _sum, _count).
        assert!(
            exported.contains(name) || exported.contains(&format!("{name}_bucket")),
            "docs/alerts.yml uses {name}, which /metrics does not export ({exported:?})"
        );
    }
    assert_eq!(
        rules.matches("- alert: ").count(),
        rules.matches("severity: ").count(),
        "every alert has a severity"
    );
}

/// How many times the monitor (not a person) tested `id`.
fn monitor_tests(entries: &[connector_hub::store::AuditRecord], id: &str) -> usize {
    entries
        .iter()
        .filter(|e| {
            e.action == "test"
                && e.user_id == "system:monitor"
                && e.connector_id.as_deref() == Some(id)
        })
        .count()
}

/// Polls the audit log (every 100 ms, `tries` times) until the monitor has tested `id`.
async fn wait_for_monitor_test(app: &crate::support::TestApp, id: &str, tries: usize) -> usize {
    for _ in 0..tries {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let tested = monitor_tests(&audit(app, "acme").await, id);
        if tested > 0 {
            return tested;
        }
    }
    0
}

#[tokio::test]
async fn one_health_monitor_runs_across_two_processes_and_the_other_takes_over() {
    let env = [
        ("CONNECTOR_HUB_MONITOR", "true"),
        ("CONNECTOR_HUB_MONITOR_INTERVAL_MS", "300"),
    ];
    let first = spawn_app_with(&env).await;
    let dir = first.data_dir.display().to_string();
    let second = spawn_app_with(&[
        env[0],
        env[1],
        ("CONNECTOR_HUB_DATA_DIR", &dir),
        ("CONNECTOR_ENCRYPTION_KEY", &first.encryption_key),
    ])
    .await;
    let t = first.token("acme", "ana");
    let hourly = json!({"connector_type": "stripe", "display_name": "Hourly", "config": {"api_key": "sk_test_good_4242"}, "sync_frequency": "hourly"});
    let manual = json!({"connector_type": "stripe", "display_name": "Manual", "config": {"api_key": "sk_test_good_4242"}, "sync_frequency": "manual"});
    let due = first.create(&t, hourly.clone()).await;
    let never = first.create(&t, manual).await;

    assert_eq!(
        wait_for_monitor_test(&first, &due, 40).await,
        1,
        "the due connector was re-tested once"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let entries = audit(&first, "acme").await;
    assert_eq!(
        monitor_tests(&entries, &due),
        1,
        "no second process tested it again"
    );
    assert_eq!(
        monitor_tests(&entries, &never),
        0,
        "manual connectors are left alone"
    );
    let view: Value = first
        .get(&format!("/v1/connectors/{due}"), &t)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(view["status"], "active", "recorded like a manual test");

    // Whoever holds the lease, stop it: the other takes over once the lease lapses.
    let holder = raw::lease_holder(&first.data_dir, "health-monitor").await;
    let (stopping, staying) = if holder == first.instance_id {
        (first, second)
    } else {
        (second, first)
    };
    assert_eq!(holder, stopping.instance_id);
    for (app, leader) in [(&stopping, "1"), (&staying, "0")] {
        let text = app.metrics().await;
        assert!(
            text.contains(&format!("\nconnector_hub_monitor_leader {leader}\n")),
            "the lease holder says so in /metrics, the other says not:\n{text}"
        );
    }
    let _shared_dir = stopping.stop_keeping_data().await;
    let later = staying.create(&t, hourly).await;
    assert_eq!(
        wait_for_monitor_test(&staying, &later, 60).await,
        1,
        "the remaining process took the lease over"
    );
    assert!(staying
        .metrics()
        .await
        .contains("\nconnector_hub_monitor_leader 1\n"));
    staying.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_the_request_in_flight() {
    let mut app = spawn_app().await;
    let t = app.token("acme", "ana");
    let http = app.http.clone();
    let url = app.url("/v1/connectors/test");
    // A check that waits on a provider that never answers: about 1.5 s, the configured bound.
    let in_flight = tokio::spawn(async move {
        http.post(url)
            .bearer_auth(t)
            .json(&json!({"connector_type": "stripe", "config": {"api_key": "sk_test_hang_4242"}}))
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let server = app.server.take().expect("server");
    app.stop().await;
    let response = in_flight
        .await
        .expect("join")
        .expect("the request in flight got its answer");
    assert_eq!(response.status(), 200);
    let result: Value = response.json().await.expect("json");
    assert_eq!(result["error_code"], "TIMEOUT");
    assert!(server.await.is_ok());
}

/// The binary started from an unrelated directory, with the site root given by
/// `LEPTOS_SITE_ROOT`, serves the whole site: pages, the hydration bundle, styles and public
/// assets. The data directory's default (`./data`) lands in that working directory.
#[tokio::test]
async fn the_binary_serves_the_whole_site_from_any_directory() {
    let site = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/site");
    assert!(
        site.join("pkg/connector-hub.wasm").is_file(),
        "{} has no built site: run the README's test command (it runs `cargo leptos build` first)",
        site.display()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).expect("working directory");
    let env: Vec<(String, String)> = [
        ("CONNECTOR_HUB_ENV", "production".to_owned()),
        ("JWT_SECRET", crate::support::JWT_SECRET.to_owned()),
        (
            "CONNECTOR_ENCRYPTION_KEY",
            connector_hub::vault::generate_key(),
        ),
        ("LEPTOS_SITE_ROOT", site.display().to_string()),
        ("CONNECTOR_HUB_MONITOR", "false".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let log = dir.path().join("server.log");
    let server = crate::support::process::spawn_server_in(&env, &log, Some(&elsewhere)).await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{}{path}", server.base)).send();

    let page = get("/").await.expect("GET /");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(
        html.contains("Stripe") && html.contains("PostgreSQL"),
        "the marketplace renders"
    );
    assert!(
        html.contains("/pkg/connector-hub.css"),
        "the page links its styles"
    );
    for (path, kind) in [
        ("/pkg/connector-hub.css", "text/css"),
        ("/pkg/connector-hub.js", "javascript"),
        ("/pkg/connector-hub.wasm", "application/wasm"),
        ("/favicon.svg", "image/svg+xml"),
    ] {
        let response = get(path).await.expect("GET asset");
        assert_eq!(response.status(), 200, "{path}");
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(content_type.contains(kind), "{path}: {content_type}");
        assert!(!response.bytes().await.expect("body").is_empty(), "{path}");
    }
    assert!(
        elsewhere.join("data/connector-hub.db").is_file(),
        "the default data directory is ./data of the working directory"
    );
    assert!(server.stop().success());
}

/// The development sign-in link is a valid token for whoever reads the output: it is printed when
/// the JWT secret was made up for development, never with a secret an operator configured.
#[tokio::test]
async fn the_development_sign_in_link_needs_a_development_secret() {
    for (configured, printed) in [(true, false), (false, true)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("server.log");
        let mut env = crate::support::process::server_env(
            "http://127.0.0.1:9",
            &dir.path().join("data"),
            &connector_hub::vault::generate_key(),
        );
        env.retain(|(k, _)| k != "CONNECTOR_HUB_ENV" && (configured || k != "JWT_SECRET"));
        env.push(("CONNECTOR_HUB_ENV".into(), "development".into()));
        env.push(("LEPTOS_SITE_ROOT".into(), "target/site".into()));
        let server = crate::support::process::spawn_server(&env, &log).await;
        let output = std::fs::read_to_string(&log).unwrap_or_default();
        let status = server.stop();
        assert!(
            status.success(),
            "{status}: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        assert_eq!(
            output.contains("Development sign-in link"),
            printed,
            "configured secret: {configured}; output: {output}"
        );
    }
}
