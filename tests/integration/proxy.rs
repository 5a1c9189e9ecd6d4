//! The proxy: a provider's own SDK (Stripe's, for Python) and plain calls in each SDK's way of
//! sending its key (Shopify's header, WooCommerce's Basic) reach the fake providers with the stored
//! credential and never with the caller's token; the answer comes back scrubbed, without the
//! provider's cookies; the caller's retries are honoured for idempotent calls only; every call is
//! audited; other tenants, PostgreSQL and callers without a token are refused.

use crate::support::fakes::data::Trouble;
use crate::support::{expect_error, spawn_app_with, TestApp};
use base64::Engine;
use serde_json::{json, Value};

pub(crate) const ENV: &[(&str, &str)] = &[("CONNECTOR_HUB_EGRESS_ALLOW", "127.0.0.0/8")];

pub(crate) async fn proxied(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    auth: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> reqwest::Response {
    auth(app.http.request(method, app.url(path)))
        .send()
        .await
        .expect("proxy call")
}

/// The proxy's audit entries, once there are at least `n` (they are written beside the answer,
/// so a moment after it).
async fn audit_details(app: &TestApp, token: &str, n: usize) -> Vec<Value> {
    let mut entries = Vec::new();
    for _ in 0..100 {
        let page: Value = app
            .get("/v1/audit?action=proxy", token)
            .await
            .json()
            .await
            .expect("audit json");
        entries = page["entries"].as_array().cloned().unwrap_or_default();
        if entries.len() >= n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    entries
}

#[tokio::test]
async fn stripes_own_sdk_lists_customers_through_the_proxy() {
    let app = spawn_app_with(ENV).await;
    let t = app.token("acme", "alice");
    app.data.seed("stripe/customers", 5);
    let id = app
        .create(
            &t,
            json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good_proxy42"}}),
        )
        .await;
    app.data.take_requests();
    let python =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-venv/bin/python");
    assert!(
        python.exists(),
        "the providers' SDKs are missing: run scripts/setup.sh --test"
    );
    // The SDK as its documentation configures it, given the hub token as its API key and the
    // proxy as its API base.
    let script = r#"
import json, sys, stripe
stripe.api_key = sys.argv[2]
stripe.api_base = sys.argv[1]
listed = stripe.Customer.list(limit=3)
print(json.dumps({"ids": [c.id for c in listed.data], "has_more": listed.has_more}))
"#;
    let out = tokio::process::Command::new(&python)
        .args(["-c", script, &app.url(&format!("/proxy/{id}")), &t])
        .output()
        .await
        .expect("python runs");
    assert!(
        out.status.success(),
        "the SDK failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        listed,
        json!({"ids": ["cus_000001", "cus_000002", "cus_000003"], "has_more": true})
    );
    let seen = app.data.take_requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].query.get("limit").map(String::as_str), Some("3"));
    assert_eq!(
        seen[0].headers.get("authorization").map(String::as_str),
        Some("Bearer sk_test_good_proxy42"),
        "the stored key, never the hub token"
    );
    assert!(
        seen[0]
            .headers
            .get("user-agent")
            .is_some_and(|ua| ua.contains("Stripe/v1 PythonBindings")),
        "the SDK's own headers go on: {seen:?}"
    );
    let entries = audit_details(&app, &t, 1).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["connector_id"], id.as_str());
    let detail = entries[0]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with("GET /v1/customers → 200 in "),
        "method, path without its query, status, duration: {detail}"
    );
}

#[tokio::test]
async fn each_sdks_key_placement_is_swapped_for_the_stored_credential() {
    let app = spawn_app_with(ENV).await;
    let t = app.token("acme", "alice");
    app.data.seed("shopify/orders", 3);
    app.data.seed("woocommerce/orders", 4);
    let shop = app
        .create(&t, json!({"connector_type": "shopify", "config": {"shop_domain": "good-shop.myshopify.com", "access_token": "shpat_good12345678"}}))
        .await;
    let woo = app
        .create(&t, json!({"connector_type": "woocommerce", "config": {"store_url": format!("{}/woo", app.fakes), "consumer_key": "ck_good12345", "consumer_secret": "cs_good12345"}}))
        .await;
    app.data.take_requests();

    // Shopify's SDKs send the token in X-Shopify-Access-Token; a cookie and a forwarding trail
    // stay behind.
    let r = proxied(
        &app,
        reqwest::Method::GET,
        &format!("/proxy/{shop}/admin/api/2024-07/orders.json?status=any&limit=2"),
        |b| {
            b.header("x-shopify-access-token", &t)
                .header("cookie", "ch_session=something")
                .header("x-forwarded-for", "10.1.2.3")
        },
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers().get("link").is_some(),
        "the provider's paging header comes back"
    );
    let orders: Value = r.json().await.expect("json");
    assert_eq!(orders["orders"].as_array().map(Vec::len), Some(2));
    let seen = app.data.take_requests();
    assert_eq!(
        seen[0]
            .headers
            .get("x-shopify-access-token")
            .map(String::as_str),
        Some("shpat_good12345678")
    );
    assert!(!seen[0].headers.contains_key("cookie"), "{seen:?}");
    assert!(!seen[0].headers.contains_key("x-forwarded-for"), "{seen:?}");

    // QuickBooks paths name the company: `{realm_id}` is filled in from the connector.
    app.data.seed("quickbooks/invoices", 2);
    let qbo = app
        .create(&t, json!({"connector_type": "quickbooks", "config": {"access_token": "qbo-good-token", "realm_id": "4620816365"}}))
        .await;
    app.data.take_requests();
    let r = proxied(
        &app,
        reqwest::Method::GET,
        &format!("/proxy/{qbo}/v3/company/{{realm_id}}/query?query=select%20*%20from%20Invoice%20startposition%201%20maxresults%2010&minorversion=75"),
        |b| b.bearer_auth(&t),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    assert_eq!(app.data.take_requests().len(), 1);

    // WooCommerce's SDKs send consumer key and secret as HTTP Basic: the hub token may be either.
    for (user, password) in [(t.as_str(), "anything"), ("ck_anything", t.as_str())] {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let r = proxied(
            &app,
            reqwest::Method::GET,
            &format!("/proxy/{woo}/wp-json/wc/v3/orders?per_page=3"),
            |b| b.header("authorization", format!("Basic {basic}")),
        )
        .await;
        assert_eq!(r.status(), 200);
        let orders: Value = r.json().await.expect("json");
        assert_eq!(orders.as_array().map(Vec::len), Some(3), "{orders}");
        let seen = app.data.take_requests();
        let stored = base64::engine::general_purpose::STANDARD.encode("ck_good12345:cs_good12345");
        assert_eq!(
            seen[0].headers.get("authorization"),
            Some(&format!("Basic {stored}"))
        );
    }
}

#[tokio::test]
async fn answers_are_scrubbed_and_stripped_and_calls_refused_where_they_must_be() {
    let app = spawn_app_with(ENV).await;
    let t = app.token("acme", "alice");
    let other = app.token("globex", "gina");
    app.data.seed("rest/items", 3);
    let secret = "rest-good-CANARYpx7";
    let rest = app
        .create(&t, json!({"connector_type": "rest_api", "config": {"base_url": app.fakes.clone(), "auth_type": "api_key_query",
            "header_name": "api_key", "api_key": secret, "test_path": "/restdata/items"}}))
        .await;

    // The fake echoes its URL, key included, into every record: the answer comes back without it,
    // and the caller cannot set the key parameter itself.
    let r = proxied(
        &app,
        reqwest::Method::GET,
        &format!("/proxy/{rest}/restdata/items?api_key=mine&page=1"),
        |b| b.bearer_auth(&t),
    )
    .await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.expect("body");
    assert!(!body.contains(secret), "{body}");
    assert!(
        !body.contains("mine"),
        "the caller's own key parameter is replaced: {body}"
    );
    assert!(
        body.contains("[redacted]"),
        "the echo was there to scrub: {body}"
    );

    // Another tenant's connector is not found; PostgreSQL has no HTTP API; no token, a cookie
    // only, or a bad token: unauthenticated.
    let r = proxied(
        &app,
        reqwest::Method::GET,
        &format!("/proxy/{rest}/restdata/items"),
        |b| b.bearer_auth(&other),
    )
    .await;
    expect_error(r, 404, "NOT_FOUND").await;
    let pg = app
        .create(
            &t,
            json!({"connector_type": "postgresql", "config": {"host": "127.0.0.1", "port": "5432",
            "database": "db", "username": "u", "password": "pw-secret-1", "sslmode": "require"}}),
        )
        .await;
    let r = proxied(
        &app,
        reqwest::Method::GET,
        &format!("/proxy/{pg}/anything"),
        |b| b.bearer_auth(&t),
    )
    .await;
    expect_error(r, 400, "NO_HTTP_API").await;
    for auth in [
        None,
        Some(("cookie", format!("ch_session={t}"))),
        Some(("authorization", "Bearer not-a-token".to_owned())),
    ] {
        let r = proxied(
            &app,
            reqwest::Method::GET,
            &format!("/proxy/{rest}/restdata/items"),
            |b| match &auth {
                Some((name, value)) => b.header(*name, value),
                None => b,
            },
        )
        .await;
        expect_error(r, 401, "UNAUTHENTICATED").await;
    }
    let r = proxied(
        &app,
        reqwest::Method::GET,
        &format!("/proxy/{rest}/restdata/items"),
        |b| b.bearer_auth(&t).header("connector-hub-retries", "9"),
    )
    .await;
    expect_error(r, 400, "INVALID_REQUEST").await;

    // The provider's cookies and auth challenges stay behind.
    let r = proxied(
        &app,
        reqwest::Method::GET,
        &format!("/proxy/{rest}/rest/set-cookie"),
        |b| b.bearer_auth(&t),
    )
    .await;
    assert!(r.headers().get("set-cookie").is_none(), "{:?}", r.headers());
    assert!(
        r.headers().get("www-authenticate").is_none(),
        "{:?}",
        r.headers()
    );
    assert_eq!(
        r.headers().get("x-fake").map(|v| v.as_bytes()),
        Some(&b"kept"[..])
    );

    // Requests go to the connector's own address whatever the path says.
    let attacker = crate::support::attacker::Attacker::start().await;
    let host = attacker.base.trim_start_matches("http://");
    for path in [
        format!("/proxy/{rest}//{host}/steal"),
        format!("/proxy/{rest}/@{host}/steal"),
    ] {
        let r = proxied(&app, reqwest::Method::GET, &path, |b| b.bearer_auth(&t)).await;
        assert_ne!(r.status(), 200, "{path}");
    }
    assert!(attacker.requests().is_empty(), "{:?}", attacker.requests());
}

#[tokio::test]
async fn retries_are_the_callers_choice_and_only_for_idempotent_calls() {
    let app = spawn_app_with(ENV).await;
    let t = app.token("acme", "alice");
    app.data.seed("stripe/customers", 3);
    app.data.seed("square/customers", 3);
    let id = app
        .create(
            &t,
            json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good_retry1"}}),
        )
        .await;
    let path = format!("/proxy/{id}/v1/customers");

    // Asked for: a 429 with Retry-After is waited out, then the call succeeds.
    app.data.trouble(0, Trouble::RateLimited, 1);
    let r = proxied(&app, reqwest::Method::GET, &path, |b| {
        b.bearer_auth(&t).header("connector-hub-retries", "2")
    })
    .await;
    assert_eq!(r.status(), 200);
    // Not asked for: the provider's 429 is the caller's, Retry-After and all.
    app.data.trouble(0, Trouble::RateLimited, 1);
    let r = proxied(&app, reqwest::Method::GET, &path, |b| b.bearer_auth(&t)).await;
    assert_eq!(r.status(), 429);
    assert_eq!(
        r.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"1"[..])
    );
    // A POST is never sent twice, even when asked.
    let square = app
        .create(&t, json!({"connector_type": "square", "config": {"access_token": "EAAAgood1234567890abcdef", "environment": "production"}}))
        .await;
    app.data.take_requests();
    app.data.trouble(0, Trouble::Failing, 1);
    let r = proxied(
        &app,
        reqwest::Method::POST,
        &format!("/proxy/{square}/v2/customers/search"),
        |b| {
            b.bearer_auth(&t)
                .header("connector-hub-retries", "3")
                .json(&json!({"limit": 10}))
        },
    )
    .await;
    assert_eq!(r.status(), 500, "the provider's own answer");
    assert_eq!(app.data.take_requests().len(), 1, "sent once");
    let r = proxied(
        &app,
        reqwest::Method::POST,
        &format!("/proxy/{square}/v2/customers/search"),
        |b| b.bearer_auth(&t).json(&json!({"limit": 2})),
    )
    .await;
    assert_eq!(r.status(), 200);
    let found: Value = r.json().await.expect("json");
    assert_eq!(
        found["customers"].as_array().map(Vec::len),
        Some(2),
        "{found}"
    );
    let seen = app.data.take_requests();
    assert_eq!(
        seen[0].query.get("search").map(String::as_str),
        Some(r#"{"limit":2}"#),
        "the body went on as sent"
    );
    let entries = audit_details(&app, &t, 4).await;
    let details: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["detail"].as_str())
        .collect();
    assert!(
        details
            .iter()
            .any(|d| d.contains("→ 200") && d.ends_with("2 attempts")),
        "{details:?}"
    );
    assert!(
        details
            .iter()
            .any(|d| d.contains("→ 429") && !d.contains("attempts")),
        "{details:?}"
    );
}

/// A proxied call has its own time limit, not a connection test's: a provider slower than a
/// test may be is still waited for, up to `CONNECTOR_HUB_PROXY_TIMEOUT_MS`.
#[tokio::test]
async fn a_proxied_call_has_its_own_time_limit() {
    let app = spawn_app_with(&[
        ("CONNECTOR_HUB_EGRESS_ALLOW", "127.0.0.0/8"),
        ("CONNECTOR_HUB_CHECK_TIMEOUT_MS", "300"),
        ("CONNECTOR_HUB_PROXY_TIMEOUT_MS", "1500"),
    ])
    .await;
    let t = app.token("acme", "alice");
    app.data.seed("stripe/customers", 3);
    let id = app
        .create(
            &t,
            json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good_slow42"}}),
        )
        .await;
    let call = || {
        app.http
            .get(app.url(&format!("/proxy/{id}/v1/customers?limit=2")))
            .bearer_auth(&t)
            .send()
    };
    app.data.slow(std::time::Duration::from_millis(600));
    let slow = call().await.expect("answer");
    assert_eq!(
        slow.status(),
        200,
        "longer than a test may take, within the proxy's limit"
    );
    app.data.slow(std::time::Duration::from_millis(2500));
    let too_slow = call().await.expect("answer");
    let status = too_slow.status().as_u16();
    let body: Value = too_slow.json().await.expect("json");
    assert_eq!(
        (status, &body["error"]["code"]),
        (504, &json!("PROVIDER_TIMEOUT")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("did not answer in time")),
        "{body}"
    );
    app.data.slow(std::time::Duration::ZERO);
}
