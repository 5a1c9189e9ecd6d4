//! Connection checks against fake providers that answer as each provider documents, and the
//! egress policy. PostgreSQL's, against a real server, are in `checks_postgres`.

use crate::support::{spawn_app, spawn_app_with, TestApp};
use serde_json::{json, Value};

pub(crate) fn assert_outcome(result: &Value, code: Option<&str>, field: Option<&str>, label: &str) {
    match code {
        None => assert_eq!(result["success"], true, "{label}: {result}"),
        Some(code) => {
            assert_eq!(result["success"], false, "{label}: {result}");
            assert_eq!(result["error_code"], code, "{label}: {result}");
            assert!(
                result["message"].as_str().is_some_and(|m| m.len() > 10),
                "{label}: {result}"
            );
        }
    }
    if let Some(field) = field {
        assert_eq!(result["field"], field, "{label}: {result}");
    }
    assert!(
        result["tested_at"].is_string() && result["duration_ms"].is_u64(),
        "{label}: {result}"
    );
}

/// The scenarios every bearer-token provider answers, and what each must map to.
async fn bearer_scenarios(app: &TestApp, t: &str, connector: &str, extra: Value) {
    let cases = [
        ("good", None),
        ("wrong", Some("INVALID_CREDENTIALS")),
        ("expired", Some("EXPIRED_CREDENTIALS")),
        ("noperm", Some("INSUFFICIENT_PERMISSIONS")),
        ("ratelimit", Some("RATE_LIMITED")),
        ("down", Some("PROVIDER_ERROR")),
        ("html", Some("UNEXPECTED_RESPONSE")),
    ];
    for (scenario, code) in cases {
        let mut config = extra.clone();
        config["access_token"] = json!(format!("tok_{scenario}_1234567890abcdef"));
        let result = app.check(t, connector, config).await;
        let field = match code {
            Some("INVALID_CREDENTIALS" | "EXPIRED_CREDENTIALS") => Some("access_token"),
            _ => None,
        };
        assert_outcome(&result, code, field, &format!("{connector}/{scenario}"));
        if scenario == "ratelimit" {
            assert_eq!(
                result["retry_after"], 7,
                "{connector}: Retry-After is carried"
            );
        }
    }
}

#[tokio::test]
async fn stripe_mappings() {
    let app = spawn_app().await;
    let t = app.token("acme", "ana");
    let ok = app
        .check(&t, "stripe", json!({"api_key": "sk_test_good_4242"}))
        .await;
    assert_outcome(&ok, None, None, "good");
    assert_eq!(ok["details"]["mode"], "test");
    let live = app
        .check(&t, "stripe", json!({"api_key": "rk_live_good_4242"}))
        .await;
    assert_eq!(live["details"]["mode"], "live");
    assert_eq!(live["details"]["key_type"], "restricted");
    let cases = [
        ("sk_test_wrong_4242", "INVALID_CREDENTIALS"),
        ("sk_test_expired_4242", "EXPIRED_CREDENTIALS"),
        ("rk_test_noperm_4242", "INSUFFICIENT_PERMISSIONS"),
        ("sk_test_ratelimit_4242", "RATE_LIMITED"),
        ("sk_test_down_4242", "PROVIDER_ERROR"),
        ("sk_test_html_4242", "UNEXPECTED_RESPONSE"),
    ];
    for (key, code) in cases {
        let r = app.check(&t, "stripe", json!({"api_key": key})).await;
        assert_outcome(&r, Some(code), None, key);
        assert!(
            !r.to_string().contains(&key[8..]),
            "the key never comes back: {r}"
        );
    }
    let publishable = app
        .check(&t, "stripe", json!({"api_key": "pk_test_abc"}))
        .await;
    assert_outcome(
        &publishable,
        Some("INVALID_CONFIG"),
        Some("api_key"),
        "publishable",
    );
    app.stop().await;
}

#[tokio::test]
async fn timeouts_and_closed_ports() {
    // A port found free on 127.0.0.2, where nothing else in the suite listens: one found free on
    // 127.0.0.1 and let go is soon taken by another test's server (a webhook receiver once
    // answered this "closed" port, and got a HubSpot check as its event).
    let closed = std::net::TcpListener::bind("127.0.0.2:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let closed_url = format!("http://{closed}");
    let app = spawn_app_with(&[("CONNECTOR_HUB_PROVIDER_HUBSPOT_URL", &closed_url)]).await;
    let t = app.token("acme", "ana");
    let started = std::time::Instant::now();
    let hang = app
        .check(&t, "stripe", json!({"api_key": "sk_test_hang_4242"}))
        .await;
    assert_outcome(&hang, Some("TIMEOUT"), None, "hang");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "the configured 1.5 s bound holds"
    );
    let refused = app
        .check(&t, "hubspot", json!({"access_token": "pat-good-1234567"}))
        .await;
    assert_outcome(&refused, Some("HOST_UNREACHABLE"), None, "closed port");
    app.stop().await;
}

#[tokio::test]
async fn bearer_token_providers_map_every_documented_answer() {
    let app = spawn_app().await;
    let t = app.token("acme", "ana");
    bearer_scenarios(&app, &t, "square", json!({"environment": "production"})).await;
    bearer_scenarios(&app, &t, "xero", json!({})).await;
    bearer_scenarios(
        &app,
        &t,
        "quickbooks",
        json!({"realm_id": "9130355478302457"}),
    )
    .await;
    bearer_scenarios(&app, &t, "sage", json!({})).await;
    bearer_scenarios(&app, &t, "hubspot", json!({})).await;
    app.stop().await;
}

/// One check and what it must come to: a detail it learned, or the error code and field to blame.
struct Case {
    label: &'static str,
    connector: &'static str,
    config: Value,
    code: Option<&'static str>,
    field: Option<&'static str>,
    detail: Option<(&'static str, &'static str)>,
}

/// A check that succeeds and learns `detail` (key, value).
fn learns(
    label: &'static str,
    connector: &'static str,
    config: Value,
    detail: (&'static str, &'static str),
) -> Case {
    Case {
        label,
        connector,
        config,
        code: None,
        field: None,
        detail: Some(detail),
    }
}

/// A check that fails with `code`, blaming `field`.
fn fails(
    label: &'static str,
    connector: &'static str,
    config: Value,
    code: &'static str,
    field: Option<&'static str>,
) -> Case {
    Case {
        label,
        connector,
        config,
        code: Some(code),
        field,
        detail: None,
    }
}

async fn run_cases(app: &TestApp, t: &str, cases: Vec<Case>) {
    for case in cases {
        let result = app.check(t, case.connector, case.config).await;
        assert_outcome(&result, case.code, case.field, case.label);
        if let Some((key, value)) = case.detail {
            assert_eq!(result["details"][key], value, "{}: {result}", case.label);
        }
    }
}

#[tokio::test]
async fn provider_specific_details_and_cases() {
    let app = spawn_app().await;
    let t = app.token("acme", "ana");
    let shop = |domain: &str, token: &str| json!({"shop_domain": domain, "access_token": token});
    let books = |realm: &str| json!({"access_token": "tok_good_123456", "realm_id": realm});
    run_cases(
        &app,
        &t,
        vec![
            learns(
                "xero organisations",
                "xero",
                json!({"access_token": "tok_good_123456"}),
                ("organisations", "Demo Company (UK), Acme Ltd"),
            ),
            fails(
                "xero without organisations",
                "xero",
                json!({"access_token": "tok_empty_123456"}),
                "INSUFFICIENT_PERMISSIONS",
                Some("access_token"),
            ),
            learns(
                "square sandbox",
                "square",
                json!({"access_token": "EAAA_good_sandbox_token_123", "environment": "sandbox"}),
                ("environment", "sandbox"),
            ),
            learns(
                "square business",
                "square",
                json!({"access_token": "EAAA_good_sandbox_token_123", "environment": "sandbox"}),
                ("business", "Acme Coffee"),
            ),
            fails(
                "quickbooks wrong realm",
                "quickbooks",
                books("1234567"),
                "INSUFFICIENT_PERMISSIONS",
                Some("realm_id"),
            ),
            learns(
                "quickbooks company",
                "quickbooks",
                books("9130355478302457"),
                ("company", "Acme Books Inc"),
            ),
            learns(
                "drive account",
                "google_drive",
                json!({"access_token": "ya29.good_token_123"}),
                ("account", "ana@acme.test"),
            ),
            fails(
                "drive bad",
                "google_drive",
                json!({"access_token": "ya29.bad_token_123"}),
                "INVALID_CREDENTIALS",
                Some("access_token"),
            ),
            fails(
                "drive scope",
                "google_drive",
                json!({"access_token": "ya29.noperm_token_123"}),
                "INSUFFICIENT_PERMISSIONS",
                None,
            ),
            learns(
                "shopify shop",
                "shopify",
                shop("acme-goods.myshopify.com", "shpat_good12345"),
                ("shop", "Acme Goods"),
            ),
            fails(
                "unknown shop",
                "shopify",
                shop("nobody.myshopify.com", "shpat_good12345"),
                "NOT_FOUND",
                Some("shop_domain"),
            ),
            fails(
                "shopify token",
                "shopify",
                shop("acme-goods.myshopify.com", "shpat_wrong12345"),
                "INVALID_CREDENTIALS",
                Some("access_token"),
            ),
            fails(
                "shop domain format",
                "shopify",
                shop("acme.example.com", "shpat_good12345"),
                "INVALID_CONFIG",
                Some("shop_domain"),
            ),
            learns(
                "hubspot portal",
                "hubspot",
                json!({"access_token": "pat-na1-good-123"}),
                ("portal_id", "4242"),
            ),
        ],
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn woocommerce_and_rest_api_respect_the_egress_policy() {
    let app = spawn_app().await;
    let t = app.token("acme", "ana");
    // Tenant-chosen destinations on loopback are refused by default.
    let woo = app.check(&t, "woocommerce", json!({
        "store_url": format!("{}/woo", app.fakes), "consumer_key": "ck_good12345", "consumer_secret": "cs_good12345"})).await;
    assert_outcome(
        &woo,
        Some("EGRESS_BLOCKED"),
        Some("store_url"),
        "woo on loopback",
    );
    for host in [
        "127.0.0.1",
        "10.0.0.1",
        "169.254.169.254",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "localhost",
        "2130706433",
    ] {
        let r = app
            .check(
                &t,
                "rest_api",
                json!({"base_url": format!("http://{host}:9"), "auth_type": "none"}),
            )
            .await;
        assert_outcome(&r, Some("EGRESS_BLOCKED"), Some("base_url"), host);
    }
    app.stop().await;

    // Allowed once the operator lists the network.
    let app = spawn_app_with(&[("CONNECTOR_HUB_EGRESS_ALLOW", "127.0.0.0/8,::1/128")]).await;
    let t = app.token("acme", "ana");
    let store = |path: &str| format!("{}{path}", app.fakes);
    let woo = |key: &str, secret: &str, path: &str| json!({"store_url": store(path), "consumer_key": key, "consumer_secret": secret});
    run_cases(
        &app,
        &t,
        vec![
            Case {
                label: "woo good",
                connector: "woocommerce",
                config: woo("ck_good12345", "cs_good12345", "/woo"),
                code: None,
                field: None,
                detail: None,
            },
            fails(
                "woo key",
                "woocommerce",
                woo("ck_wrong12345", "cs_good12345", "/woo"),
                "INVALID_CREDENTIALS",
                Some("consumer_key"),
            ),
            fails(
                "woo secret",
                "woocommerce",
                woo("ck_good12345", "cs_wrong12345", "/woo"),
                "INVALID_CREDENTIALS",
                Some("consumer_secret"),
            ),
            fails(
                "woo cannot view",
                "woocommerce",
                woo("ck_good12345", "cs_noperm12345", "/woo"),
                "INSUFFICIENT_PERMISSIONS",
                None,
            ),
            fails(
                "woo permalinks",
                "woocommerce",
                woo("ck_good12345", "cs_good12345", "/woo-html"),
                "UNEXPECTED_RESPONSE",
                Some("store_url"),
            ),
        ],
    )
    .await;

    let rest = |auth: Value, path: &str| {
        let mut c = json!({"base_url": format!("{}/rest", app.fakes), "test_path": path});
        for (k, v) in auth.as_object().expect("object") {
            c[k] = v.clone();
        }
        c
    };
    let passes = |label, config| Case {
        label,
        connector: "rest_api",
        config,
        code: None,
        field: None,
        detail: None,
    };
    run_cases(&app, &t, vec![
        passes("no auth", rest(json!({"auth_type": "none"}), "/open")),
        passes("header key", rest(json!({"auth_type": "api_key_header", "header_name": "X-API-Key", "api_key": "good-key"}), "/me")),
        passes("query key", rest(json!({"auth_type": "api_key_query", "header_name": "api_key", "api_key": "good-key"}), "/me")),
        passes("bearer", rest(json!({"auth_type": "bearer", "api_key": "good-token"}), "/me")),
        passes("basic", rest(json!({"auth_type": "basic", "username": "reporting", "password": "good-pass"}), "/me")),
        fails("rest bad key", "rest_api", rest(json!({"auth_type": "bearer", "api_key": "wrong-key-1"}), "/me"), "INVALID_CREDENTIALS", Some("api_key")),
        fails("rest forbidden", "rest_api", rest(json!({"auth_type": "basic", "username": "u", "password": "noperm-pass"}), "/me"), "INSUFFICIENT_PERMISSIONS", Some("password")),
        fails("rest 404", "rest_api", rest(json!({"auth_type": "none"}), "/missing"), "NOT_FOUND", Some("test_path")),
        // A login page answering 200 is not an API (before, this counted as a working connection).
        fails("rest html page", "rest_api", rest(json!({"auth_type": "bearer", "api_key": "good-html"}), "/me"), "UNEXPECTED_RESPONSE", Some("test_path")),
    ])
    .await;
    app.stop().await;
}

#[tokio::test]
async fn secrets_never_travel_over_plain_http_to_hosts_the_operator_did_not_allow() {
    let app = spawn_app().await;
    let t = app.token("acme", "ana");
    // A public address (documentation range excluded): allowed by the egress policy, but plain
    // http with a credential is refused before any connection is made.
    let with_secret = app
        .check(
            &t,
            "rest_api",
            json!({"base_url": "http://93.184.216.34", "auth_type": "bearer", "api_key": "good-token"}),
        )
        .await;
    assert_outcome(
        &with_secret,
        Some("HTTPS_REQUIRED"),
        Some("base_url"),
        "bearer over http",
    );
    let query_key = app
        .check(&t, "woocommerce", json!({"store_url": "http://93.184.216.34", "consumer_key": "ck_good12345", "consumer_secret": "cs_good12345"}))
        .await;
    assert_outcome(
        &query_key,
        Some("HTTPS_REQUIRED"),
        Some("store_url"),
        "basic over http",
    );
    app.stop().await;
}

#[tokio::test]
async fn saved_connector_tests_update_its_status() {
    let app = spawn_app().await;
    let t = app.token("acme", "ana");
    let id = app
        .create(
            &t,
            json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good_4242"}}),
        )
        .await;
    let r: Value = app
        .post(&format!("/v1/connectors/{id}/test"), &t, &json!({}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(r["success"], true);
    let view: Value = app
        .get(&format!("/v1/connectors/{id}"), &t)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(view["status"], "active");
    assert!(view["last_tested_at"].is_string());
    assert!(view["error_code"].is_null());

    let bad = app
        .create(
            &t,
            json!({"connector_type": "stripe", "config": {"api_key": "sk_test_expired_4242"}}),
        )
        .await;
    let r: Value = app
        .post(&format!("/v1/connectors/{bad}/test"), &t, &json!({}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(r["error_code"], "EXPIRED_CREDENTIALS");
    let view: Value = app
        .get(&format!("/v1/connectors/{bad}"), &t)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(view["status"], "error");
    assert_eq!(view["error_code"], "EXPIRED_CREDENTIALS");
    assert!(view["error_message"]
        .as_str()
        .is_some_and(|m| m.contains("expired")));

    let cleared: Value = app
        .post(&format!("/v1/connectors/{bad}/clear-error"), &t, &json!({}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(cleared["status"], "pending");
    assert!(cleared["error_code"].is_null());
    app.stop().await;
}
