//! The connectors REST API end to end: CRUD, bad input, pagination, the catalog, listings and
//! their cache, metrics' labels. Tenant isolation is in `api_tenants`, authentication and the
//! browser's session in `api_sessions`.

use crate::support::{expect_error, spawn_app, spawn_app_with};
use serde_json::{json, Value};

pub(crate) fn stripe(name: &str) -> Value {
    json!({"connector_type": "stripe", "display_name": name, "config": {"api_key": "sk_test_good_4242"}, "sync_frequency": "hourly"})
}

#[tokio::test]
async fn full_crud_round_trip() {
    let app = spawn_app().await;
    let t = app.token("acme", "ana@acme.test");

    let created = app.post("/v1/connectors", &t, &stripe("Main Stripe")).await;
    assert_eq!(created.status(), 201);
    let location = created
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let view: Value = created.json().await.expect("json");
    let id = view["connector_id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("conn-"));
    assert_eq!(
        location.as_deref(),
        Some(format!("/v1/connectors/{id}").as_str())
    );
    assert_eq!(view["status"], "pending");
    assert_eq!(view["sync_frequency"], "hourly");
    assert_eq!(view["created_by"], "ana@acme.test");
    assert!(view.get("config").is_none() && view.get("encrypted_config").is_none());

    let got: Value = app
        .get(&format!("/v1/connectors/{id}"), &t)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(got["display_name"], "Main Stripe");

    let list: Value = app
        .get("/v1/connectors", &t)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list["connectors"].as_array().map(Vec::len), Some(1));
    let pending: Value = app
        .get("/v1/connectors?status=pending", &t)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(pending["connectors"].as_array().map(Vec::len), Some(1));
    let active: Value = app
        .get("/v1/connectors?status=active", &t)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(active["connectors"].as_array().map(Vec::len), Some(0));

    let patched = app
        .patch(
            &format!("/v1/connectors/{id}"),
            &t,
            &json!({"display_name": "Stripe — UK 🇬🇧", "sync_frequency": "weekly"}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.expect("json");
    assert_eq!(patched["display_name"], "Stripe — UK 🇬🇧");
    assert_eq!(patched["sync_frequency"], "weekly");

    let deleted = app.delete(&format!("/v1/connectors/{id}"), &t).await;
    assert_eq!(deleted.status(), 204);
    expect_error(
        app.get(&format!("/v1/connectors/{id}"), &t).await,
        404,
        "NOT_FOUND",
    )
    .await;
    expect_error(
        app.delete(&format!("/v1/connectors/{id}"), &t).await,
        404,
        "NOT_FOUND",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn replacing_credentials_keeps_secrets_left_out() {
    let app = spawn_app().await;
    let t = app.token("acme", "ana");
    let id = app
        .create(&t, json!({"connector_type": "rest_api", "config": {
            "base_url": format!("{}/rest", app.fakes), "auth_type": "api_key_header", "header_name": "X-API-Key", "api_key": "good-key-1"}}))
        .await;
    // Change only the non-secret path; the stored key must survive.
    let r = app.patch(&format!("/v1/connectors/{id}"), &t, &json!({"config": {
        "base_url": format!("{}/rest", app.fakes), "auth_type": "api_key_header", "header_name": "X-API-Key", "test_path": "/v2"}})).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    let store = crate::support::store::open_store(&app.data_dir).await;
    let tenant = connector_hub::ids::TenantId::parse("acme").expect("tenant");
    let record = store
        .get(&tenant, &crate::support::store::connector_id(&id))
        .await
        .expect("get")
        .expect("exists");
    let vault = connector_hub::vault::Vault::from_key_list(
        &connector_hub::secret::SecretString::new(app.encryption_key.clone()),
        "K",
    )
    .expect("vault");
    let config = vault
        .decrypt(
            &record.encrypted_config,
            record.tenant_id.as_str(),
            &record.connector_id,
        )
        .expect("decrypts");
    assert_eq!(config.get("api_key"), Some("good-key-1"));
    assert_eq!(config.get("test_path"), Some("/v2"));
    app.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx() {
    let app = spawn_app_with(&[("CONNECTOR_HUB_MAX_BODY_BYTES", "8192")]).await;
    let t = app.token("acme", "ana");
    let raw = |body: &'static str| {
        app.http
            .post(app.url("/v1/connectors"))
            .bearer_auth(&t)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    expect_error(raw("{not json").await.expect("r"), 400, "INVALID_REQUEST").await;
    // An id that does not decode to text (found by the property tests).
    for method in [
        reqwest::Method::GET,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
    ] {
        let r = app
            .http
            .request(method, app.url("/v1/connectors/%FF%FE"))
            .bearer_auth(&t)
            .json(&json!({}))
            .send()
            .await
            .expect("r");
        let error = expect_error(r, 400, "INVALID_REQUEST").await;
        assert_eq!(error["field"], "id");
    }
    expect_error(raw("[]").await.expect("r"), 400, "INVALID_REQUEST").await;
    expect_error(
        raw(r#"{"connector_type": 5}"#).await.expect("r"),
        400,
        "INVALID_REQUEST",
    )
    .await;
    let e = expect_error(
        raw(r#"{"connector_type": "stripe", "config": "sk_live_SECRETSTRING"}"#)
            .await
            .expect("r"),
        400,
        "INVALID_REQUEST",
    )
    .await;
    assert!(
        !e.to_string().contains("SECRETSTRING"),
        "serde must not echo values: {e}"
    );
    expect_error(
        raw(r#"{"connector_type": "stripe", "config": {}, "extra": 1}"#)
            .await
            .expect("r"),
        400,
        "INVALID_REQUEST",
    )
    .await;

    let unknown = app
        .post(
            "/v1/connectors",
            &t,
            &json!({"connector_type": "../../etc/passwd", "config": {}}),
        )
        .await;
    let e = expect_error(unknown, 422, "UNKNOWN_CONNECTOR_TYPE").await;
    assert_eq!(e["field"], "connector_type");

    let missing = app
        .post(
            "/v1/connectors",
            &t,
            &json!({"connector_type": "stripe", "config": {}}),
        )
        .await;
    assert_eq!(
        expect_error(missing, 422, "INVALID_CONFIG").await["field"],
        "api_key"
    );
    let bad_key = app
        .post(
            "/v1/connectors",
            &t,
            &json!({"connector_type": "stripe", "config": {"api_key": "pk_live_abc"}}),
        )
        .await;
    assert_eq!(
        expect_error(bad_key, 422, "INVALID_CONFIG").await["field"],
        "api_key"
    );
    let nested = app
        .post(
            "/v1/connectors",
            &t,
            &json!({"connector_type": "stripe", "config": {"api_key": {"a": 1}}}),
        )
        .await;
    assert_eq!(
        expect_error(nested, 422, "INVALID_CONFIG").await["field"],
        "api_key"
    );
    let unknown_field = app.post("/v1/connectors", &t, &json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good", "admin": "1"}})).await;
    assert_eq!(
        expect_error(unknown_field, 422, "INVALID_CONFIG").await["field"],
        "admin"
    );
    let freq = app.post("/v1/connectors", &t, &json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good"}, "sync_frequency": "yearly"})).await;
    expect_error(freq, 400, "INVALID_REQUEST").await;
    let empty_name = app.post("/v1/connectors", &t, &json!({"connector_type": "stripe", "display_name": "  ", "config": {"api_key": "sk_test_good"}})).await;
    expect_error(empty_name, 400, "INVALID_REQUEST").await;
    let long_name = app.post("/v1/connectors", &t, &json!({"connector_type": "stripe", "display_name": "é".repeat(101), "config": {"api_key": "sk_test_good"}})).await;
    expect_error(long_name, 400, "INVALID_REQUEST").await;

    let huge = json!({"connector_type": "stripe", "config": {"api_key": "x".repeat(20_000)}});
    expect_error(
        app.post("/v1/connectors", &t, &huge).await,
        413,
        "PAYLOAD_TOO_LARGE",
    )
    .await;

    expect_error(
        app.get("/v1/connectors?status=bogus", &t).await,
        400,
        "INVALID_REQUEST",
    )
    .await;
    expect_error(
        app.get("/v1/connectors?limit=-3", &t).await,
        400,
        "INVALID_REQUEST",
    )
    .await;
    expect_error(
        app.get("/v1/connectors?cursor=%%%", &t).await,
        400,
        "INVALID_REQUEST",
    )
    .await;
    expect_error(
        app.get("/v1/connectors/..%2F..%2Fetc", &t).await,
        404,
        "NOT_FOUND",
    )
    .await;
    expect_error(
        app.get("/v1/connectors/conn-%00", &t).await,
        404,
        "NOT_FOUND",
    )
    .await;

    // Unicode names are fine.
    let ok = app.post("/v1/connectors", &t, &json!({"connector_type": "stripe", "display_name": "Ñandú 支付 ✓", "config": {"api_key": "sk_test_good"}})).await;
    assert_eq!(ok.status(), 201);
    app.stop().await;
}

#[tokio::test]
async fn pagination_walks_every_connector_once() {
    let app = spawn_app().await;
    let t = app.token("acme", "ana");
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(app.create(&t, stripe(&format!("S{i}"))).await);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/connectors?limit=3&cursor={c}"),
            None => "/v1/connectors?limit=3".into(),
        };
        let page: Value = app.get(&path, &t).await.json().await.expect("json");
        for c in page["connectors"].as_array().expect("array") {
            seen.push(c["connector_id"].as_str().expect("id").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    seen.sort();
    created.sort();
    assert_eq!(seen, created);
    app.stop().await;
}

#[tokio::test]
async fn catalog_lists_twelve_connectors_with_secret_fields_flagged() {
    let app = spawn_app().await;
    let catalog: Value = app
        .http
        .get(app.url("/v1/catalog"))
        .send()
        .await
        .expect("catalog")
        .json()
        .await
        .expect("json");
    let entries = catalog["connectors"].as_array().expect("array");
    assert_eq!(entries.len(), 12);
    let stripe = entries
        .iter()
        .find(|e| e["id"] == "stripe")
        .expect("stripe");
    assert_eq!(stripe["fields"][0]["name"], "api_key");
    assert_eq!(stripe["fields"][0]["secret"], true);
    let pg = entries
        .iter()
        .find(|e| e["id"] == "postgresql")
        .expect("pg");
    let host = pg["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["name"] == "host")
        .expect("host");
    assert_eq!(host["secret"], false);
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("h")
            .status(),
        200
    );
    let ready: Value = app
        .http
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("r")
        .json()
        .await
        .expect("json");
    let store = if crate::support::store::on_mongo() {
        "mongodb"
    } else {
        "sqlite"
    };
    assert_eq!(ready["store"], store);

    // The marketplace gets cards, not definitions: its page (and the hydration data in it) carries
    // no field definitions, help texts or OAuth settings.
    let cards: Value = app
        .http
        .post(app.url("/api/catalog_entries"))
        .header("origin", app.url(""))
        .send()
        .await
        .expect("server fn")
        .json()
        .await
        .expect("json");
    let cards = cards.as_array().expect("cards");
    assert_eq!(cards.len(), 12);
    let stripe = cards.iter().find(|c| c["id"] == "stripe").expect("stripe");
    assert_eq!(stripe["needs"], "Secret or restricted key");
    assert!(cards
        .iter()
        .all(|c| c.get("fields").is_none() && c.get("oauth").is_none()));
    let page = app
        .http
        .get(app.url("/"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(
        page.contains("Secret or restricted key"),
        "the card shows what it needs"
    );
    assert!(
        !page.contains("auth_help") && !page.contains("\\\"fields\\\""),
        "no definitions in the page"
    );
    app.stop().await;
}

async fn names(app: &crate::support::TestApp, path: &str, token: &str) -> Vec<String> {
    let page: Value = app.get(path, token).await.json().await.expect("json");
    page["connectors"]
        .as_array()
        .expect("connectors")
        .iter()
        .map(|c| c["display_name"].as_str().expect("name").to_owned())
        .collect()
}

/// Listing pages are reused while the store has not changed: a write is seen by the very next
/// listing, and one tenant's page is never another's.
#[tokio::test]
async fn a_repeated_listing_is_never_stale_nor_another_tenants() {
    let app = spawn_app().await;
    let (a, b) = (app.token("tenant-a", "alice"), app.token("tenant-b", "bob"));
    for _ in 0..3 {
        assert!(names(&app, "/v1/connectors", &a).await.is_empty());
        assert!(names(&app, "/v1/connectors", &b).await.is_empty());
    }
    let id = app.create(&a, stripe("First")).await;
    assert_eq!(names(&app, "/v1/connectors", &a).await, ["First"]);
    assert!(names(&app, "/v1/connectors", &b).await.is_empty());

    let renamed = app
        .patch(
            &format!("/v1/connectors/{id}"),
            &a,
            &json!({"display_name": "Renamed"}),
        )
        .await;
    assert_eq!(renamed.status(), 200);
    assert_eq!(names(&app, "/v1/connectors", &a).await, ["Renamed"]);

    app.create(&b, stripe("B's")).await;
    assert_eq!(names(&app, "/v1/connectors", &b).await, ["B's"]);
    assert_eq!(names(&app, "/v1/connectors", &a).await, ["Renamed"]);
    // Each address is a page of its own.
    app.create(&a, stripe("Second")).await;
    assert_eq!(names(&app, "/v1/connectors?limit=1", &a).await, ["Second"]);
    assert_eq!(
        names(&app, "/v1/connectors", &a).await,
        ["Second", "Renamed"]
    );
    assert!(names(&app, "/v1/connectors?status=error", &a)
        .await
        .is_empty());

    assert_eq!(
        app.delete(&format!("/v1/connectors/{id}"), &a)
            .await
            .status(),
        204
    );
    assert_eq!(names(&app, "/v1/connectors", &a).await, ["Second"]);

    let metrics = app.metrics().await;
    let hits: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("connector_hub_listing_pages_total{result=\"hit\"} "))
        .and_then(|n| n.parse().ok())
        .expect("page cache hits in /metrics");
    if crate::support::store::on_mongo() {
        // No marker on MongoDB is both exact across processes and cheaper than the read.
        assert_eq!(hits, 0, "MongoDB's listings are always read:\n{metrics}");
    } else {
        assert!(
            hits >= 4,
            "the repeated listings were answered from the cache:\n{metrics}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn with_the_page_cache_off_every_listing_is_read() {
    let app = spawn_app_with(&[("CONNECTOR_HUB_PAGE_CACHE", "off")]).await;
    let t = app.token("acme", "ana");
    app.create(&t, stripe("Only")).await;
    for _ in 0..3 {
        assert_eq!(names(&app, "/v1/connectors", &t).await, ["Only"]);
    }
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("connector_hub_listing_pages_total{result=\"hit\"} 0\n")
            && metrics.contains("connector_hub_listing_pages_total{result=\"miss\"} 0\n"),
        "{metrics}"
    );
    app.stop().await;
}

/// Made-up HTTP methods are counted under `other`, so they cannot grow `/metrics`.
#[tokio::test]
async fn metrics_labels_stay_bounded() {
    let app = spawn_app().await;
    let _ = app.metrics().await;
    let send = |method: String| {
        let http = app.http.clone();
        let url = app.url("/v1/connectors");
        async move {
            let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
            http.request(method, url).send().await.expect("request")
        }
    };
    let _ = send("FOO0".into()).await;
    // Request series only: the sync worker's polling adds store series in the background.
    let requests = |text: &str| {
        text.lines()
            .filter(|l| l.starts_with("connector_hub_http_request"))
            .count()
    };
    let before = requests(&app.metrics().await);
    for i in 0..300 {
        let r = send(format!("MADEUP{i}")).await;
        assert!(r.status().is_client_error(), "{}", r.status());
    }
    let after = app.metrics().await;
    assert_eq!(requests(&after), before, "{after}");
    assert!(after.contains("method=\"other\""));
    app.stop().await;
}
