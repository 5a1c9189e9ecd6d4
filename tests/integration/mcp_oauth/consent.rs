//! The person's side of the MCP authorization: signing in and coming back to the request,
//! and a denial recorded; registrations limited per address.

use super::*;
use crate::oauth::get_json;

/// Someone not signed in signs in with a link carrying `next` and lands back on the consent
/// page; a `next` elsewhere is ignored (no open redirect).
#[tokio::test]
async fn signing_in_comes_back_to_the_pending_authorization() {
    let app = spawn_app().await;
    let hub = app.token("acme", "ana@acme.test");
    let client = client_id(&app, "Agent").await;
    let (_, challenge) = pkce("n");
    let pending = format!(
        "/oauth/authorize?{}",
        authorize_query(&app, &client, &challenge, &[])
    );
    let next: String = form_urlencoded::byte_serialize(pending.as_bytes()).collect();
    for (asked, lands) in [
        (next.as_str(), pending.as_str()),
        ("https%3A%2F%2Fevil.example%2F", "/"),
        ("%2F%2Fevil.example", "/"),
    ] {
        let signed_in = app
            .http
            .get(app.url(&format!("/session?token={hub}&next={asked}")))
            .header("sec-fetch-site", "same-origin")
            .send()
            .await
            .expect("sign in");
        assert_eq!(signed_in.status(), 303);
        assert_eq!(signed_in.headers()["location"], lands);
    }
}

#[tokio::test]
async fn a_denial_is_audited_and_registrations_are_limited_per_address() {
    let app =
        crate::support::spawn_app_with(&[("CONNECTOR_HUB_RATE_ANONYMOUS_PER_MIN", "5")]).await;
    let hub = app.token("acme", "ana@acme.test");
    let cookie = app.session_cookie(&hub).await;
    let client = client_id(&app, "Agent").await;
    let (_, challenge) = pkce("d");
    let page = consent_page(
        &app,
        &cookie,
        &authorize_query(&app, &client, &challenge, &[]),
    )
    .await;
    let html = page.text().await.expect("page");
    assert_eq!(
        answer(&app, &cookie, &form_token(&html), "deny")
            .await
            .status(),
        303
    );
    let audit: Value = get_json(
        &app,
        "/v1/audit?action=agent_authorize&outcome=denied",
        &hub,
    )
    .await;
    let entries = audit["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 1, "{audit}");
    assert!(entries[0]["detail"]
        .as_str()
        .unwrap_or_default()
        .contains(&client));

    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(
            register(&app, json!({"redirect_uris": [REDIRECT]}))
                .await
                .status()
                .as_u16(),
        );
    }
    assert!(statuses.contains(&429), "{statuses:?}");
}

/// A browser-based client on another origin may discover, register and trade its code: the
/// endpoints it calls itself answer CORS (never with credentials), preflights included.
#[tokio::test]
async fn a_browser_based_client_may_call_the_endpoints_it_calls_itself() {
    let app = spawn_app().await;
    let preflight = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/oauth/token"))
        .header("origin", "https://agent.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .expect("preflight");
    assert_eq!(preflight.status(), 204);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    assert!(preflight
        .headers()
        .get("access-control-allow-credentials")
        .is_none());
    let registered = app
        .http
        .post(app.url("/oauth/register"))
        .header("origin", "https://agent.example")
        .json(&json!({"redirect_uris": ["https://agent.example/cb"]}))
        .send()
        .await
        .expect("register");
    assert_eq!(registered.status(), 201);
    assert_eq!(registered.headers()["access-control-allow-origin"], "*");
    let metadata = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server"))
        .header("origin", "https://agent.example")
        .send()
        .await
        .expect("metadata");
    assert_eq!(metadata.headers()["access-control-allow-origin"], "*");
    // The consent page is a person's, in their own browser tab: no CORS there.
    let consent = app
        .http
        .get(app.url("/oauth/authorize"))
        .header("origin", "https://agent.example")
        .send()
        .await
        .expect("authorize");
    assert!(consent
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}
