//! The connectors REST API end to end: CRUD, tenant isolation, authentication, bad input.

use crate::support::{expect_error, raw, spawn_app, spawn_app_with};
use serde_json::{json, Value};

fn stripe(name: &str) -> Value {
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
    let tenant = connector_hub::auth::TenantId::parse("acme").expect("tenant");
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
async fn tenants_cannot_see_each_other() {
    let app = spawn_app().await;
    let a = app.token("tenant-a", "alice");
    let b = app.token("tenant-b", "bob");
    let id = app.create(&a, stripe("A's Stripe")).await;

    expect_error(
        app.get(&format!("/v1/connectors/{id}"), &b).await,
        404,
        "NOT_FOUND",
    )
    .await;
    expect_error(
        app.post(&format!("/v1/connectors/{id}/test"), &b, &json!({}))
            .await,
        404,
        "NOT_FOUND",
    )
    .await;
    expect_error(
        app.patch(
            &format!("/v1/connectors/{id}"),
            &b,
            &json!({"display_name": "mine"}),
        )
        .await,
        404,
        "NOT_FOUND",
    )
    .await;
    expect_error(
        app.delete(&format!("/v1/connectors/{id}"), &b).await,
        404,
        "NOT_FOUND",
    )
    .await;
    let mut missing = expect_error(
        app.get("/v1/connectors/conn-00000000000000000000", &b)
            .await,
        404,
        "NOT_FOUND",
    )
    .await;
    let mut foreign = expect_error(
        app.get(&format!("/v1/connectors/{id}"), &b).await,
        404,
        "NOT_FOUND",
    )
    .await;
    for e in [&mut missing, &mut foreign] {
        e.as_object_mut().map(|o| o.remove("request_id"));
    }
    assert_eq!(
        missing, foreign,
        "another tenant's connector looks exactly like a missing one"
    );

    let list: Value = app
        .get("/v1/connectors", &b)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list["connectors"], json!([]));
    // A still has it, untouched.
    let still: Value = app
        .get(&format!("/v1/connectors/{id}"), &a)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(still["display_name"], "A's Stripe");
    app.stop().await;
}

#[tokio::test]
async fn jwt_attacks_are_refused_with_401() {
    use base64::Engine;
    let app = spawn_app().await;
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let exp = connector_hub::auth::now_secs() + 600;
    let sign = |alg: jsonwebtoken::Algorithm, claims: Value, secret: &str| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(alg),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .expect("sign")
    };
    let good_claims = json!({"sub": "u", "tenant_id": "t", "exp": exp});
    let attacks = [
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(json!({"alg": "none", "typ": "JWT"})),
                b64(good_claims.clone())
            ),
        ),
        (
            "wrong algorithm",
            sign(
                jsonwebtoken::Algorithm::HS384,
                good_claims.clone(),
                crate::support::JWT_SECRET,
            ),
        ),
        (
            "bad signature",
            sign(
                jsonwebtoken::Algorithm::HS256,
                good_claims.clone(),
                "not-the-secret-not-the-secret-123",
            ),
        ),
        (
            "expired",
            sign(
                jsonwebtoken::Algorithm::HS256,
                json!({"sub": "u", "tenant_id": "t", "exp": exp - 3600}),
                crate::support::JWT_SECRET,
            ),
        ),
        (
            "not yet valid",
            sign(
                jsonwebtoken::Algorithm::HS256,
                json!({"sub": "u", "tenant_id": "t", "exp": exp, "nbf": exp}),
                crate::support::JWT_SECRET,
            ),
        ),
        (
            "no tenant",
            sign(
                jsonwebtoken::Algorithm::HS256,
                json!({"sub": "u", "exp": exp}),
                crate::support::JWT_SECRET,
            ),
        ),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (name, token) in attacks {
        let r = app.get("/v1/connectors", &token).await;
        assert_eq!(r.status(), 401, "{name}");
        let e = expect_error(r, 401, "UNAUTHENTICATED").await;
        assert!(e["message"].is_string(), "{name}");
    }
    let none = app
        .http
        .get(app.url("/v1/connectors"))
        .send()
        .await
        .expect("request");
    expect_error(none, 401, "UNAUTHENTICATED").await;
    let control = sign(
        jsonwebtoken::Algorithm::HS256,
        good_claims,
        crate::support::JWT_SECRET,
    );
    assert_eq!(app.get("/v1/connectors", &control).await.status(), 200);
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
async fn browser_session_cookie_flow_and_origin_check() {
    let app = spawn_app().await;
    let token = app.token("acme", "ana");
    let signin = app
        .http
        .get(app.url(&format!("/session?token={token}")))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("signin");
    assert!(signin.status().is_redirection());
    assert_eq!(
        signin
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some("/")
    );
    let cookie = signin
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("cookie")
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().expect("pair").to_owned();

    let bad = app
        .http
        .get(app.url("/session?token=forged"))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("bad signin");
    assert_eq!(
        bad.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("/signin?error=invalid")
    );
    assert!(bad.headers().get("set-cookie").is_none());

    // Cookie-authenticated reads work.
    let list = app
        .http
        .get(app.url("/v1/connectors"))
        .header("cookie", &pair)
        .send()
        .await
        .expect("list");
    assert_eq!(list.status(), 200);
    // Cookie-authenticated writes must come from our own origin.
    let body = stripe("x");
    let cross = app
        .http
        .post(app.url("/v1/connectors"))
        .header("cookie", &pair)
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .json(&body)
        .send()
        .await
        .expect("cross");
    expect_error(cross, 403, "FORBIDDEN").await;
    let no_origin = app
        .http
        .post(app.url("/v1/connectors"))
        .header("cookie", &pair)
        .json(&body)
        .send()
        .await
        .expect("none");
    expect_error(no_origin, 403, "FORBIDDEN").await;
    let same = app
        .http
        .post(app.url("/v1/connectors"))
        .header("cookie", &pair)
        .header("origin", &app.base)
        .header("sec-fetch-site", "same-origin")
        .json(&body)
        .send()
        .await
        .expect("same");
    assert_eq!(same.status(), 201);

    let logout = app
        .http
        .post(app.url("/session/logout"))
        .header("cookie", &pair)
        .header("origin", &app.base)
        .send()
        .await
        .expect("logout");
    let cleared = logout
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    app.stop().await;
}

#[tokio::test]
async fn catalog_lists_eleven_connectors_with_secret_fields_flagged() {
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
    assert_eq!(entries.len(), 11);
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
    assert_eq!(cards.len(), 11);
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

/// A stored secret never follows a changed destination: pointing a connector at another host (or
/// switching how its key is sent) without giving the secrets again is refused, through PATCH and
/// through the wizard's "replace credentials", and the attacker's server never hears the secret.
#[tokio::test]
async fn a_stored_secret_never_follows_a_changed_destination() {
    const SECRET: &str = "good-CANARYretarget1";
    let app = spawn_app_with(&[("CONNECTOR_HUB_EGRESS_ALLOW", "127.0.0.0/8")]).await;
    let attacker = crate::support::attacker::Attacker::start().await;
    let t = app.token("acme", "mallory@acme.test");
    let rest = format!("{}/rest", app.fakes);
    let id = app
        .create(
            &t,
            json!({"connector_type": "rest_api", "config": {
            "base_url": rest, "auth_type": "bearer", "api_key": SECRET, "test_path": "/me"}}),
        )
        .await;
    let path = format!("/v1/connectors/{id}");

    // PATCH to the attacker's host, the secret left out: refused, naming the secret to give.
    let r = app
        .patch(&path, &t, &json!({"config": {"base_url": attacker.base, "auth_type": "bearer", "test_path": "/me"}}))
        .await;
    let error = expect_error(r, 422, "INVALID_CONFIG").await;
    assert_eq!(error["field"], "api_key");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Base URL"),
        "{error}"
    );
    // Same host, but the key moved from a bearer header into the query string: refused too.
    let r = app
        .patch(&path, &t, &json!({"config": {"base_url": rest, "auth_type": "api_key_query", "header_name": "key"}}))
        .await;
    assert_eq!(
        expect_error(r, 422, "INVALID_CONFIG").await["field"],
        "api_key"
    );
    // Nothing moved: a change elsewhere keeps the stored secret, as before.
    let r = app
        .patch(
            &path,
            &t,
            &json!({"config": {"base_url": rest, "auth_type": "bearer", "test_path": "/v2"}}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    let r = app.post(&format!("{path}/test"), &t, &json!({})).await;
    assert_eq!(r.status(), 200);

    // The wizard's "replace credentials": a new base URL, the secret left blank.
    let browser = crate::support::oauth_flow::Browser::new(&app.base, &app.fakes, &t);
    let draft = browser
        .step("rest_api", None, Some(&id), "start", &[])
        .await;
    browser
        .step("rest_api", Some(&draft), Some(&id), "continue", &[])
        .await;
    browser
        .step(
            "rest_api",
            Some(&draft),
            Some(&id),
            "answer",
            &[("value", &attacker.base)],
        )
        .await;
    let view = browser.view("rest_api", &draft).await;
    assert_eq!(view["step"], "Name", "every other answer is kept: {view}");
    browser
        .step(
            "rest_api",
            Some(&draft),
            Some(&id),
            "name",
            &[("display_name", "Mine now")],
        )
        .await;
    let view = browser.view("rest_api", &draft).await;
    assert_eq!(view["step"], "Field", "{view}");
    assert_eq!(view["field"]["name"], "api_key", "{view}");
    assert_eq!(view["error"]["code"], "INVALID_CONFIG", "{view}");
    assert!(!view.to_string().contains(SECRET));

    // The other connectors whose secrets are bound to a host.
    let woo = app
        .create(&t, json!({"connector_type": "woocommerce", "config": {"store_url": "https://shop.example.com",
            "consumer_key": "ck_0123456789abcdef0123456789abcdef01234567", "consumer_secret": "cs_0123456789abcdef0123456789abcdef01234567"}}))
        .await;
    let r = app
        .patch(
            &format!("/v1/connectors/{woo}"),
            &t,
            &json!({"config": {"store_url": attacker.base}}),
        )
        .await;
    assert_eq!(
        expect_error(r, 422, "INVALID_CONFIG").await["field"],
        "consumer_key"
    );
    let pg = app
        .create(
            &t,
            json!({"connector_type": "postgresql", "config": {"host": "127.0.0.1", "port": "5432",
            "database": "db", "username": "u", "password": SECRET, "sslmode": "require"}}),
        )
        .await;
    let attacker_port = attacker
        .base
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    let r = app
        .patch(
            &format!("/v1/connectors/{pg}"),
            &t,
            &json!({"config": {"host": "127.0.0.1", "port": attacker_port,
            "database": "db", "username": "u", "sslmode": "require"}}),
        )
        .await;
    assert_eq!(
        expect_error(r, 422, "INVALID_CONFIG").await["field"],
        "password"
    );
    // Giving the secret again is how a connector moves.
    let r = app
        .patch(&format!("/v1/connectors/{woo}"), &t, &json!({"config": {"store_url": "https://other.example.com",
            "consumer_key": "ck_1123456789abcdef0123456789abcdef01234567", "consumer_secret": "cs_1123456789abcdef0123456789abcdef01234567"}}))
        .await;
    assert_eq!(r.status(), 200);

    attacker.assert_never_received(SECRET);
    assert!(attacker.requests().is_empty(), "{:?}", attacker.requests());
    app.stop().await;
}

/// A sign-in link followed from elsewhere never sets a session on its own (login CSRF): it shows
/// a page that asks, and only a same-origin POST continues. Over https the cookie is `__Host-`.
#[tokio::test]
async fn signing_in_cannot_be_forced_on_someone() {
    let app = spawn_app().await;
    let token = app.token("attacker-tenant", "eve");
    let cookies = |r: &reqwest::Response| -> Vec<String> {
        r.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    };
    for site in [Some("cross-site"), Some("same-site"), Some("none"), None] {
        let mut request = app.http.get(app.url(&format!("/session?token={token}")));
        if let Some(site) = site {
            request = request.header("sec-fetch-site", site);
        }
        let r = request.send().await.expect("link");
        assert_eq!(r.status(), 200, "{site:?}");
        assert!(
            cookies(&r).is_empty(),
            "{site:?} set a session: {:?}",
            cookies(&r)
        );
        assert_eq!(
            r.headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("no-store")
        );
        assert_eq!(
            r.headers()
                .get("x-frame-options")
                .and_then(|v| v.to_str().ok()),
            Some("DENY")
        );
        let page = r.text().await.unwrap_or_default();
        assert!(
            page.contains(r#"<form method="post" action="/session""#),
            "{page}"
        );
    }
    // A cross-site form posting the token (the attacker's page) is refused too.
    let r = app
        .http
        .post(app.url("/session"))
        .header("sec-fetch-site", "cross-site")
        .header("origin", "https://evil.example")
        .form(&[("token", token.as_str())])
        .send()
        .await
        .expect("cross-site post");
    assert!(cookies(&r).is_empty(), "{:?}", cookies(&r));
    // Continuing from our own page signs in, with the principal cookie for the offline copy.
    let r = app
        .http
        .post(app.url("/session"))
        .header("sec-fetch-site", "same-origin")
        .header("origin", &app.base)
        .form(&[("token", token.as_str())])
        .send()
        .await
        .expect("continue");
    assert_eq!(r.status(), 303);
    let set = cookies(&r);
    assert!(
        set.iter()
            .any(|c| c.starts_with("ch_session=") && c.contains("HttpOnly")),
        "{set:?}"
    );
    assert!(
        set.iter()
            .any(|c| c.starts_with("ch_who=") && !c.contains("HttpOnly")),
        "{set:?}"
    );
    // Signing out clears both cookies and the browser's stored copies.
    let r = app
        .http
        .post(app.url("/session/logout"))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("logout");
    let set = cookies(&r);
    assert!(set.iter().any(|c| c.starts_with("ch_session=;")), "{set:?}");
    assert!(set.iter().any(|c| c.starts_with("ch_who=;")), "{set:?}");
    assert!(r.headers().get("clear-site-data").is_some());
    app.stop().await;

    let https = spawn_app_with(&[("CONNECTOR_HUB_PUBLIC_URL", "https://hub.example")]).await;
    let token = https.token("acme", "ana");
    let r = https
        .http
        .get(https.url(&format!("/session?token={token}")))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("https sign-in");
    let set = cookies(&r);
    let session = set
        .iter()
        .find(|c| c.contains("ch_session="))
        .expect("a session");
    assert!(
        session.starts_with("__Host-ch_session=")
            && session.contains("Secure")
            && session.contains("Path=/"),
        "{session}"
    );
    // Only the __Host- cookie authenticates there: one a sibling domain could plant does not.
    let r = https
        .http
        .get(https.url("/v1/connectors"))
        .header("cookie", format!("ch_session={token}"))
        .send()
        .await
        .expect("plain cookie");
    assert_eq!(r.status(), 401);
    let r = https
        .http
        .get(https.url("/v1/connectors"))
        .header("cookie", format!("__Host-ch_session={token}"))
        .send()
        .await
        .expect("host cookie");
    assert_eq!(r.status(), 200);
    https.stop().await;
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

/// A ciphertext names its owner: a configuration copied to another tenant's row does not open.
#[tokio::test]
async fn a_configuration_copied_to_another_tenant_does_not_open() {
    let app = spawn_app().await;
    let (ta, tb) = (app.token("acme", "ana"), app.token("globex", "gus"));
    let a = app.create(&ta, stripe("Acme's")).await;
    let b = app
        .create(
            &tb,
            json!({"connector_type": "stripe", "config": {"api_key": "sk_test_expired_4242"}}),
        )
        .await;
    let sealed = raw::connector(&app.data_dir, &a).await.encrypted_config;
    let copied = raw::set_connector(
        &app.data_dir,
        &b,
        &[("encrypted_config", raw::Field::Text(Some(sealed)))],
    )
    .await;
    assert_eq!(copied, 1, "copied");
    let r: Value = app
        .post(&format!("/v1/connectors/{b}/test"), &tb, &json!({}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(r["error_code"], "DECRYPTION_FAILED", "{r}");
    let r: Value = app
        .post(&format!("/v1/connectors/{a}/test"), &ta, &json!({}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(r["success"], true, "the owner's own row still opens: {r}");
    app.stop().await;
}
