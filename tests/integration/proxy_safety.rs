//! The proxy hands nothing back and lets nobody flood it (issue #23): the stored credential
//! never returns in a header or in any encoding the hub sent it in, a compressed answer is
//! refused, short secrets and framing headers are refused where they are entered, only the
//! caller's headers a provider needs go on, and a tenant's calls are bounded and refused before
//! their body is read.

use crate::proxy::{proxied, ENV};
use crate::support::{expect_error, spawn_app_with};
use base64::Engine;
use serde_json::json;

/// Everything a proxied call hands back — status, every header, the body — as one text, for
/// looking for a secret in it.
async fn everything(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let mut text = String::new();
    for (name, value) in r.headers() {
        text.push_str(&format!(
            "{name}: {}\n",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    text.push_str(&r.text().await.unwrap_or_default());
    (status, text)
}

/// An API that hands back what it was sent — a redirect with the query in `Location` and `Link`,
/// an echo of the query and headers in its body and headers — never gets the stored credential
/// back to the caller, in any form the hub sent it in: percent-encoded in the query, as Basic's
/// base64, JSON-escaped. A compressed answer, which could not be checked, is not passed on.
#[tokio::test]
async fn the_credential_never_comes_back_in_any_header_or_encoding() {
    let app = spawn_app_with(ENV).await;
    let t = app.token("acme", "alice");
    let base = format!("{}/rest", app.fakes);
    // Characters each encoding changes: `+` and `/` (percent), `"` and `\` (JSON), a space.
    let key = r#"k3y+CANARY"\/q9"#;
    let password = r#"pw CANARY"\ 7"#;
    let by_query = app
        .create(&t, json!({"connector_type": "rest_api", "config": {"base_url": base, "auth_type": "api_key_query",
            "header_name": "api_key", "api_key": key, "test_path": "/open"}}))
        .await;
    let by_header = app
        .create(&t, json!({"connector_type": "rest_api", "config": {"base_url": base, "auth_type": "api_key_header",
            "header_name": "X-API-Key", "api_key": key, "test_path": "/open"}}))
        .await;
    let by_basic = app
        .create(
            &t,
            json!({"connector_type": "rest_api", "config": {"base_url": base, "auth_type": "basic",
            "username": "reporting", "password": password, "test_path": "/open"}}),
        )
        .await;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("reporting:{password}"));
    let leaks = |text: &str| text.contains("CANARY") || text.contains(&basic);

    let mut seen = Vec::new();
    for id in [&by_query, &by_header, &by_basic] {
        for path in ["moved?x=1", "echo?x=1", "echo"] {
            let r = proxied(
                &app,
                reqwest::Method::GET,
                &format!("/proxy/{id}/{path}"),
                |b| b.bearer_auth(&t),
            )
            .await;
            let (status, text) = everything(r).await;
            assert!(!leaks(&text), "{path}: {text}");
            seen.push((status, text));
        }
    }
    // The echoes were there to scrub: the redirect kept its place, the query its other values.
    let moved = &seen[0];
    assert_eq!(moved.0, 301, "{}", moved.1);
    assert!(
        moved
            .1
            .contains("location: /rest/items/?x=1&api_key=[redacted]"),
        "{}",
        moved.1
    );
    // Each connector's echo carried its key — in the query, a header, Basic — to take out.
    assert!(seen[1].1.contains("api_key=[redacted]"), "{}", seen[1].1);
    assert!(
        seen[4].1.contains("x-echo-key: [redacted]"),
        "{}",
        seen[4].1
    );
    assert!(
        seen[7].1.contains("\"authorization\":\"Basic [redacted]\""),
        "{}",
        seen[7].1
    );
    // A proxied answer is the provider's, served from the hub's origin: never run as its page.
    assert!(
        seen[1].1.contains("content-security-policy: sandbox"),
        "{}",
        seen[1].1
    );
    assert!(
        seen[1].1.contains("x-content-type-options: nosniff"),
        "{}",
        seen[1].1
    );

    // Compressed, the answer could hold the key where no scrub finds it: refused.
    let r = proxied(
        &app,
        reqwest::Method::GET,
        &format!("/proxy/{by_query}/gzip"),
        |b| b.bearer_auth(&t),
    )
    .await;
    let (status, text) = everything(r).await;
    assert_eq!(status, 502, "{text}");
    assert!(text.contains("UNREADABLE_ANSWER"), "{text}");
    assert!(!leaks(&text), "{text}");
}

/// A secret too short to find in an answer is refused where it is entered, by name; headers
/// that frame or route the request cannot carry a key.
#[tokio::test]
async fn short_secrets_and_framing_headers_are_refused_by_name() {
    let app = spawn_app_with(ENV).await;
    let t = app.token("acme", "alice");
    let base = format!("{}/rest", app.fakes);
    // The REST API takes any key its pattern allows: one character was accepted before.
    for (config, field) in [
        (
            json!({"base_url": base, "auth_type": "bearer", "api_key": "k"}),
            "api_key",
        ),
        (
            json!({"base_url": base, "auth_type": "basic", "username": "u", "password": "pw1"}),
            "password",
        ),
    ] {
        let r = app
            .post(
                "/v1/connectors",
                &t,
                &json!({"connector_type": "rest_api", "config": config}),
            )
            .await;
        let body = expect_error(r, 422, "INVALID_CONFIG").await;
        assert_eq!(body["field"], field, "{body}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("too short")),
            "{body}"
        );
    }
    for header in [
        "Host",
        "Content-Length",
        "transfer-encoding",
        "Connection",
        "TE",
    ] {
        let r = app
            .post(
                "/v1/connectors",
                &t,
                &json!({"connector_type": "rest_api", "config": {"base_url": base,
                "auth_type": "api_key_header", "header_name": header, "api_key": "good-key-long"}}),
            )
            .await;
        let body = expect_error(r, 422, "INVALID_CONFIG").await;
        assert_eq!(body["field"], "header_name", "{header}: {body}");
    }
}

/// The caller's headers go on by an allowlist: an address a CDN vouched for, an auth proxy's
/// token, a Host of the caller's choosing stay behind; a hub token put in the query is taken out.
#[tokio::test]
async fn only_the_request_headers_a_provider_needs_go_on_and_no_hub_token() {
    let app = spawn_app_with(ENV).await;
    let t = app.token("acme", "alice");
    app.data.seed("stripe/customers", 2);
    let id = app
        .create(
            &t,
            json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good_allow42"}}),
        )
        .await;
    app.data.take_requests();
    let r = proxied(
        &app,
        reqwest::Method::GET,
        &format!("/proxy/{id}/v1/customers?limit=1&access_token={t}&expand=x"),
        |b| {
            b.bearer_auth(&t)
                .header("cf-connecting-ip", "203.0.113.9")
                .header("true-client-ip", "203.0.113.9")
                .header("x-auth-request-access-token", "oidc-token-of-the-caller")
                .header("x-forwarded-host", "attacker.example")
                .header("stripe-version", "2024-06-20")
                .header("idempotency-key", "k-1")
        },
    )
    .await;
    assert_eq!(r.status(), 200);
    let seen = app.data.take_requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let headers = &seen[0].headers;
    for gone in [
        "cf-connecting-ip",
        "true-client-ip",
        "x-auth-request-access-token",
        "x-forwarded-host",
    ] {
        assert!(!headers.contains_key(gone), "{gone}: {headers:?}");
    }
    assert_eq!(
        headers.get("stripe-version").map(String::as_str),
        Some("2024-06-20")
    );
    assert_eq!(
        headers.get("idempotency-key").map(String::as_str),
        Some("k-1")
    );
    assert!(
        !seen[0].query.contains_key("access_token"),
        "{:?}",
        seen[0].query
    );
    assert_eq!(seen[0].query.get("limit").map(String::as_str), Some("1"));
    assert!(
        !format!("{seen:?}").contains(&t),
        "the hub token went nowhere: {seen:?}"
    );
}

/// A refused call costs no upload and one tenant cannot hold every connection: the rate limit
/// and the connector are checked before the body is read, and a tenant's calls in flight are
/// bounded.
#[tokio::test]
async fn calls_are_refused_before_their_body_and_a_tenant_has_bounded_slots() {
    let app = spawn_app_with(&[
        ("CONNECTOR_HUB_EGRESS_ALLOW", "127.0.0.0/8"),
        ("CONNECTOR_HUB_PROXY_IN_FLIGHT_PER_TENANT", "2"),
    ])
    .await;
    let t = app.token("acme", "alice");
    let other = app.token("globex", "gina");
    app.data.seed("stripe/customers", 2);
    let id = app
        .create(
            &t,
            json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good_slots42"}}),
        )
        .await;
    let theirs = app
        .create(
            &other,
            json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good_slots43"}}),
        )
        .await;

    // A 30 MB body announced and never sent, to a connector that does not exist: answered 404
    // at once, without waiting for the body.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app
        .url("")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let head = format!(
        "POST /proxy/no-such-connector/v1/customers HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer {t}\r\nContent-Length: 30000000\r\n\r\nfirst bytes"
    );
    conn.write_all(head.as_bytes()).await.expect("send");
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), conn.read(&mut answer))
        .await
        .expect("answered without waiting for the body")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");

    // Two slow calls hold the tenant's two slots: a third is refused, another tenant is not.
    app.data.slow(std::time::Duration::from_millis(1500));
    let call = |id: String, token: String| {
        let http = app.http.clone();
        let url = app.url(&format!("/proxy/{id}/v1/customers?limit=1"));
        tokio::spawn(async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .map(|r| r.status().as_u16())
        })
    };
    let held = [call(id.clone(), t.clone()), call(id.clone(), t.clone())];
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let third = call(id.clone(), t.clone())
        .await
        .expect("task")
        .expect("answer");
    assert_eq!(third, 429, "the tenant's slots are taken");
    let elsewhere = call(theirs, other.clone())
        .await
        .expect("task")
        .expect("answer");
    assert_eq!(elsewhere, 200, "another tenant has slots of its own");
    for h in held {
        assert_eq!(h.await.expect("task").expect("answer"), 200);
    }
    app.data.slow(std::time::Duration::ZERO);
    let again = call(id, t).await.expect("task").expect("answer");
    assert_eq!(again, 200, "the slots came back with their answers");
}
