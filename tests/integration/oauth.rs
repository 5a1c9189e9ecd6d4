//! OAuth2 connect flows against a fake authorization server: the consent round trip for every
//! OAuth2 provider, PKCE, refused and replayed states, refresh with rotation, refresh without a
//! new refresh token, `invalid_grant`, reconnect, and two server processes refreshing at once.

use crate::support::oauth_flow::{params, Browser};
use crate::support::{fakes, raw, TestApp};
use connector_hub::secret::SecretString;
use connector_hub::vault::Vault;
use serde_json::{json, Value};

async fn app() -> TestApp {
    crate::support::spawn_app_configured(&[], true).await
}

fn browser(app: &TestApp, tenant: &str, user: &str) -> Browser {
    Browser::new(&app.base, &app.fakes, &app.token(tenant, user))
}

/// A stored connector's decrypted configuration and token times, read from the store directly.
async fn stored(app: &TestApp, id: &str) -> (Value, Option<i64>, Option<i64>) {
    let row = raw::connector(&app.data_dir, id).await;
    let vault =
        Vault::from_key_list(&SecretString::new(app.encryption_key.clone()), "KEY").expect("key");
    let config = vault
        .decrypt(
            &row.encrypted_config,
            &row.tenant_id,
            &crate::support::store::connector_id(id),
        )
        .expect("decrypts");
    (
        serde_json::to_value(config.expose()).expect("json"),
        row.token_expires_at,
        row.token_refreshed_at,
    )
}

/// Sets a stored connector's token times behind the service's back.
async fn set_token_times(app: &TestApp, id: &str, refreshed: Option<i64>, expires: Option<i64>) {
    let fields = [
        ("token_refreshed_at", raw::Field::Int(refreshed)),
        ("token_expires_at", raw::Field::Int(expires)),
    ];
    let changed = raw::set_connector(&app.data_dir, id, &fields).await;
    assert_eq!(changed, 1, "the token times of {id} set");
}

async fn get_json(app: &TestApp, path: &str, token: &str) -> Value {
    app.get(path, token).await.json().await.expect("json")
}

async fn test_saved(app: &TestApp, id: &str, token: &str) -> Value {
    app.post(&format!("/v1/connectors/{id}/test"), token, &json!({}))
        .await
        .json()
        .await
        .expect("json")
}

async fn connect(b: &Browser, connector_type: &str, answers: &[&str]) -> String {
    let draft = b.begin(connector_type, None, answers).await;
    let consent = b.authorize(connector_type, &draft).await;
    let callback = b.consent(&consent, true).await;
    let landed = b.callback(&callback).await;
    assert_eq!(landed, draft, "the callback finishes the same wizard");
    draft
}

#[tokio::test]
async fn xero_connects_with_pkce_and_an_organisation_choice() {
    let app = app().await;
    let b = browser(&app, "acme", "ana");
    let draft = b.begin("xero", None, &[]).await;
    let view = b.view("xero", &draft).await;
    assert_eq!(view["step"], "Authorize");
    assert_eq!(view["oauth_available"], true);

    let consent = b.authorize("xero", &draft).await;
    let q = params(&consent);
    assert!(consent.starts_with(&format!("{}/oauth/xero/authorize?", app.fakes)));
    assert_eq!(q["client_id"], "client-xero");
    assert_eq!(q["redirect_uri"], format!("{}/oauth/callback", app.base));
    assert_eq!(q["response_type"], "code");
    assert!(q["scope"].split(' ').any(|s| s == "offline_access"));
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    assert!(q["state"].starts_with(&format!("xero.{draft}.")));
    assert!(
        q["state"].len() > 60,
        "the state carries 32 random bytes: {}",
        q["state"]
    );

    let callback = b.consent(&consent, true).await;
    assert!(callback.starts_with(&format!("{}/oauth/callback?", app.base)));
    let landed = b.callback(&callback).await;
    assert_eq!(landed, draft);
    let view = b.view("xero", &draft).await;
    assert_eq!(view["step"], "Choose", "{view}");
    let names: Vec<&str> = view["choices"]
        .as_array()
        .expect("choices")
        .iter()
        .filter_map(|c| c[1].as_str())
        .collect();
    assert_eq!(names, ["Demo Company (UK)", "Acme Ltd"]);

    b.step("xero", Some(&draft), None, "pick", &[("value", "t-nz")])
        .await;
    let view = b.view("xero", &draft).await;
    assert_eq!(view["step"], "Name");
    assert_eq!(view["display_name"], "Xero – Acme Ltd");
    assert_eq!(view["signed_in"], "Acme Ltd");
    let page = view.to_string();
    assert!(
        !page.contains("goodoauth") && !page.contains("\"rt0"),
        "no token in the wizard view: {page}"
    );

    let id = b.save("xero", &draft, None).await.expect("saved");
    let stats = b.stats().await;
    assert_eq!(stats["authorization_code:xero"], 1);
    assert_eq!(
        stats["pkce_verified"], 1,
        "the fake checked our PKCE verifier"
    );
    let (config, expires, refreshed) = stored(&app, &id).await;
    assert_eq!(config["tenant_id"], "t-nz");
    assert!(config["access_token"]
        .as_str()
        .is_some_and(|t| t.contains("goodoauth")));
    assert!(config["refresh_token"].as_str().is_some());
    assert!(expires.is_some() && refreshed.is_some());

    let token = app.token("acme", "ana");
    let view = get_json(&app, &format!("/v1/connectors/{id}"), &token).await;
    assert_eq!(view["status"], "active", "{view}");
    let tested: Value = app
        .post(&format!("/v1/connectors/{id}/test"), &token, &json!({}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(tested["success"], true, "{tested}");
    assert_eq!(tested["details"]["organisation"], "Acme Ltd");

    let audit = get_json(&app, "/v1/audit?action=oauth_connect", &token).await;
    assert_eq!(audit["entries"][0]["outcome"], "ok", "{audit}");
}

#[tokio::test]
async fn every_oauth_provider_connects_end_to_end() {
    let app = app().await;
    let b = browser(&app, "acme", "ana");
    b.control(json!({"organisations": 1})).await;
    for (connector_type, answers) in [
        ("google_drive", vec![]),
        ("quickbooks", vec![]),
        ("sage", vec![]),
        ("shopify", vec!["acme-goods.myshopify.com"]),
        ("square", vec!["production"]),
        ("hubspot", vec![]),
        ("xero", vec![]),
    ] {
        let draft = connect(&b, connector_type, &answers).await;
        let view = b.view(connector_type, &draft).await;
        assert_eq!(view["step"], "Name", "{connector_type}: {view}");
        let id = b
            .save(connector_type, &draft, None)
            .await
            .unwrap_or_else(|| panic!("{connector_type} saved: {}", view));
        let (config, expires, _) = stored(&app, &id).await;
        assert!(expires.is_some(), "{connector_type}: expiry kept");
        match connector_type {
            "quickbooks" => assert_eq!(config["realm_id"], "9130355478302457"),
            "sage" => assert_eq!(config["business_id"], "b1"),
            "xero" => assert_eq!(config["tenant_id"], "t-uk"),
            "shopify" => assert_eq!(config["shop_domain"], "acme-goods.myshopify.com"),
            _ => {}
        }
    }
    let stats = b.stats().await;
    for provider in [
        "google_drive",
        "quickbooks",
        "sage",
        "shopify",
        "square",
        "hubspot",
        "xero",
    ] {
        assert_eq!(
            stats[format!("authorization_code:{provider}")],
            1,
            "{stats}"
        );
    }
    // PKCE where the catalog says the provider supports it: Google, Xero, HubSpot.
    assert_eq!(stats["pkce_verified"], 3, "{stats}");
}

#[tokio::test]
async fn refused_replayed_expired_and_foreign_states_end_in_the_wizard() {
    let app = app().await;
    let ana = browser(&app, "acme", "ana");

    // Denied consent.
    let draft = ana.begin("google_drive", None, &[]).await;
    let consent = ana.authorize("google_drive", &draft).await;
    let denied = ana.consent(&consent, false).await;
    assert_eq!(params(&denied)["error"], "access_denied");
    assert_eq!(ana.callback(&denied).await, draft);
    let view = ana.view("google_drive", &draft).await;
    assert_eq!(view["step"], "Authorize");
    assert_eq!(view["error"]["code"], "AUTHORIZATION_REQUIRED");
    assert!(view["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("declined")));

    // Replayed: the same answer twice; the second is refused without a token request.
    let consent = ana.authorize("google_drive", &draft).await;
    let callback = ana.consent(&consent, true).await;
    ana.callback(&callback).await;
    assert_eq!(ana.view("google_drive", &draft).await["step"], "Name");
    ana.callback(&callback).await;
    let view = ana.view("google_drive", &draft).await;
    assert_eq!(view["error"]["field"], "state", "{view}");
    assert!(view["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("already used")));
    assert_eq!(ana.stats().await["authorization_code:google_drive"], 1);

    // Unknown state, naming this draft: refused, in the same wizard.
    let forged = format!(
        "{}/oauth/callback?code=abc&state=google_drive.{draft}.forged",
        app.base
    );
    assert_eq!(ana.callback(&forged).await, draft);
    assert_eq!(
        ana.view("google_drive", &draft).await["error"]["field"],
        "state"
    );

    // Another user's state: refused, and it cannot finish in their session either.
    let bo = browser(&app, "acme", "bo");
    let draft = ana.begin("google_drive", None, &[]).await;
    let consent = ana.authorize("google_drive", &draft).await;
    let callback = ana.consent(&consent, true).await;
    let bo_landed = bo.callback(&callback).await;
    assert_ne!(bo_landed, draft, "ana's draft is not bo's");
    let view = bo.view("google_drive", &bo_landed).await;
    assert!(
        view["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("someone else")),
        "{view}"
    );
    // Another tenant's state: the same.
    let eve = browser(&app, "evil", "ana");
    let consent = ana.authorize("google_drive", &draft).await;
    let callback = ana.consent(&consent, true).await;
    let eve_landed = eve.callback(&callback).await;
    assert!(
        eve.view("google_drive", &eve_landed).await["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("someone else"))
    );
    assert_eq!(ana.stats().await["authorization_code:google_drive"], 1);

    // Expired: a state older than ten minutes.
    let consent = ana.authorize("google_drive", &draft).await;
    let callback = ana.consent(&consent, true).await;
    assert_eq!(
        raw::age_oauth_states(&app.data_dir).await,
        1,
        "the state aged"
    );
    ana.callback(&callback).await;
    let view = ana.view("google_drive", &draft).await;
    assert!(
        view["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("ten minutes")),
        "{view}"
    );

    // A tampered PKCE challenge: the provider refuses our verifier, the wizard says so.
    let consent = ana.authorize("google_drive", &draft).await;
    let tampered = consent.replace(
        &params(&consent)["code_challenge"],
        "E9Melhoa2OwvFr-Z8wTs2ZNHgWfGgAjCjJHNjnc3D0E",
    );
    let callback = ana.consent(&tampered, true).await;
    ana.callback(&callback).await;
    let view = ana.view("google_drive", &draft).await;
    assert_eq!(view["step"], "Authorize");
    assert_eq!(view["error"]["code"], "AUTHORIZATION_REQUIRED", "{view}");
    assert_eq!(ana.stats().await["pkce_mismatch"], 1);

    // An oversized form gets the error shape, like every other endpoint.
    let r = ana
        .post("/oauth/start")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("connector_type=xero&draft={}", "a".repeat(100_000)))
        .send()
        .await
        .expect("start");
    crate::support::expect_error(r, 413, "PAYLOAD_TOO_LARGE").await;

    // No session at all: the sign-in page, not an error.
    let r = app
        .http
        .get(format!("{}/oauth/finish?code=x&state=y", app.base))
        .send()
        .await
        .expect("finish");
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/signin");
}

#[tokio::test]
async fn refresh_rotates_keeps_and_fails_precisely() {
    let app = app().await;
    let b = browser(&app, "acme", "ana");
    let token = app.token("acme", "ana");
    // Tokens that live a minute are inside the five-minute margin: every use renews them.
    b.control(json!({"expires_in": 60})).await;
    let draft = connect(&b, "google_drive", &[]).await;
    let id = b.save("google_drive", &draft, None).await.expect("saved");
    let (before, _, refreshed_before) = stored(&app, &id).await;

    // Refresh on expiry, the rotated refresh token saved.
    let result = test_saved(&app, &id, &token).await;
    assert_eq!(result["success"], true, "{result}");
    assert_eq!(b.stats().await["refresh_token:google_drive"], 1);
    let (after, _, refreshed_after) = stored(&app, &id).await;
    assert_ne!(after["access_token"], before["access_token"]);
    assert_ne!(
        after["refresh_token"], before["refresh_token"],
        "rotation saved"
    );
    assert!(refreshed_after > refreshed_before);

    // A refresh answer without a refresh token keeps the one we have.
    b.control(json!({"expires_in": 60, "omit_refresh_token": true}))
        .await;
    assert_eq!(test_saved(&app, &id, &token).await["success"], true);
    let (kept, _, _) = stored(&app, &id).await;
    assert_ne!(kept["access_token"], after["access_token"]);
    assert_eq!(
        kept["refresh_token"], after["refresh_token"],
        "old one kept"
    );
    assert_eq!(
        test_saved(&app, &id, &token).await["success"],
        true,
        "and it still works"
    );
    assert_eq!(b.stats().await["refresh_token:google_drive"], 3);

    // Revoked at the provider: invalid_grant puts the connector in authorization_required.
    let revoked = app
        .http
        .post(format!("{}/oauth/_revoke", app.fakes))
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status(), 204);
    let result = test_saved(&app, &id, &token).await;
    assert_eq!(result["success"], false);
    assert_eq!(result["error_code"], "AUTHORIZATION_REQUIRED", "{result}");
    let view = get_json(&app, &format!("/v1/connectors/{id}"), &token).await;
    assert_eq!(view["status"], "authorization_required");
    let audit = get_json(
        &app,
        &format!("/v1/audit?connector_id={id}&action=refresh"),
        &token,
    )
    .await;
    let outcomes: Vec<&str> = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["outcome"].as_str())
        .collect();
    assert_eq!(outcomes, ["error", "ok", "ok", "ok"], "{audit}");
    // Every outcome the log records can be filtered for; one it never records is a 400.
    let failed = get_json(
        &app,
        &format!("/v1/audit?connector_id={id}&outcome=error"),
        &token,
    )
    .await;
    assert_eq!(
        failed["entries"].as_array().map(Vec::len),
        Some(1),
        "{failed}"
    );
    assert_eq!(failed["entries"][0]["action"], "refresh", "{failed}");
    let unknown = app
        .http
        .get(format!("{}/v1/audit?outcome=failed", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("audit");
    assert_eq!(unknown.status(), 400);
    let body: serde_json::Value = unknown.json().await.expect("json");
    assert_eq!(body["error"]["field"], "outcome", "{body}");

    // Reconnect: the same wizard with `replace`, keeping id, name and schedule.
    b.control(json!({"expires_in": 3600})).await;
    app.patch(
        &format!("/v1/connectors/{id}"),
        &token,
        &json!({"sync_frequency": "weekly"}),
    )
    .await;
    let draft = b.begin("google_drive", Some(&id), &[]).await;
    let consent = b.authorize("google_drive", &draft).await;
    let callback = b.consent(&consent, true).await;
    assert_eq!(b.callback(&callback).await, draft);
    let view = b.view("google_drive", &draft).await;
    assert_eq!(view["replace"], id.as_str(), "{view}");
    b.step(
        "google_drive",
        Some(&draft),
        Some(&id),
        "name",
        &[("display_name", "Signed in"), ("sync_frequency", "weekly")],
    )
    .await;
    let view = get_json(&app, &format!("/v1/connectors/{id}"), &token).await;
    assert_eq!(view["status"], "active", "{view}");
    assert_eq!(view["sync_frequency"], "weekly");
    let listed = get_json(&app, "/v1/connectors", &token).await;
    assert_eq!(listed["connectors"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_provider_without_a_client_offers_only_tokens() {
    let app = crate::support::spawn_app().await;
    let b = Browser::new(&app.base, &app.fakes, &app.token("acme", "ana"));
    let draft = b.step("xero", None, None, "start", &[]).await;
    let view = b.view("xero", &draft).await;
    assert_eq!(view["oauth_available"], false);
    let r = b
        .post("/api/wizard_step")
        .header("accept", "application/json")
        .form(&[
            ("connector_type", "xero"),
            ("draft", draft.as_str()),
            ("action", "oauth"),
        ])
        .send()
        .await
        .expect("step");
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .await
        .unwrap_or_default()
        .contains("INVALID_REQUEST"));
    // The pasted-token path is unchanged.
    b.step("xero", Some(&draft), None, "continue", &[]).await;
    assert_eq!(
        b.view("xero", &draft).await["field"]["name"],
        "access_token"
    );
}

/// Two server processes on one store, both told to use a connector whose token is due: one
/// refresh request reaches the provider, and both use the pair it returned.
#[tokio::test]
async fn two_processes_refresh_a_connector_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fakes_addr = fakes::start("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("fakes");
    let fakes = format!("http://{fakes_addr}");
    let key = connector_hub::vault::generate_key();
    let data = dir.path().join("data");
    let mut env = crate::support::process::server_env(&fakes, &data, &key);
    env.extend(fakes::oauth_env(&fakes));
    let one = crate::support::process::spawn_server(&env, &dir.path().join("one.log")).await;
    let two = crate::support::process::spawn_server(&env, &dir.path().join("two.log")).await;
    let jwt = crate::support::process::token("acme", "ana");
    let b = Browser::new(&one.base, &fakes, &jwt);
    b.control(json!({"expires_in": 60, "refresh_delay_ms": 400}))
        .await;
    let draft = b.begin("google_drive", None, &[]).await;
    let consent = b.authorize("google_drive", &draft).await;
    let callback = b.consent(&consent, true).await;
    b.callback(&callback).await;
    let id = b.save("google_drive", &draft, None).await.expect("saved");

    let test = |base: String| {
        let http = b.http.clone();
        let jwt = jwt.clone();
        let id = id.clone();
        async move {
            http.post(format!("{base}/v1/connectors/{id}/test"))
                .bearer_auth(&jwt)
                .send()
                .await
                .expect("test")
                .json::<Value>()
                .await
                .expect("json")
        }
    };
    let (a, c) = tokio::join!(test(one.base.clone()), test(two.base.clone()));
    assert_eq!(a["success"], true, "{a}");
    assert_eq!(c["success"], true, "{c}");
    assert_eq!(
        b.stats().await["refresh_token:google_drive"],
        1,
        "exactly one token request"
    );
    let live: Value = b
        .http
        .get(format!("{fakes}/oauth/_stats"))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    assert_eq!(
        live["live_refresh_tokens"], 1,
        "one pair alive at the provider"
    );
    let _ = one.stop();
    let _ = two.stop();
}

/// The sources page warns before a sign-in dies: a refresh token near the provider's idle
/// limit, or an access token that expires and cannot be renewed.
#[tokio::test]
async fn sign_ins_about_to_die_are_flagged() {
    let app = app().await;
    let b = browser(&app, "acme", "ana");
    let token = app.token("acme", "ana");
    b.control(json!({"organisations": 1})).await;
    let draft = connect(&b, "xero", &[]).await;
    let id = b.save("xero", &draft, None).await.expect("saved");
    let warnings = |view: &Value| view["warnings"].as_array().cloned().unwrap_or_default();
    let view = get_json(&app, &format!("/v1/connectors/{id}"), &token).await;
    assert!(warnings(&view).is_empty(), "fresh: {view}");
    assert!(view["token_expires_at"].as_str().is_some());

    let day = 86_400_000_i64;
    let now = chrono::Utc::now().timestamp_millis();
    let set = |refreshed: Option<i64>, expires: Option<i64>| {
        set_token_times(&app, &id, refreshed, expires)
    };
    let path = format!("/v1/connectors/{id}");
    let read = || get_json(&app, &path, &token);
    // Xero revokes refresh tokens unused for 60 days: at 50 days, a warning with the date.
    set(Some(now - 50 * day), Some(now + 1_800_000)).await;
    let view = read().await;
    let w = warnings(&view);
    assert_eq!(w.len(), 1, "{view}");
    assert!(w[0].as_str().is_some_and(|m| m.contains("60 days")));
    // Past the limit: reconnect.
    set(Some(now - 61 * day), Some(now + 1_800_000)).await;
    assert!(warnings(&read().await)[0]
        .as_str()
        .is_some_and(|m| m.contains("Reconnect")));
    // No refresh token, expiring within a day.
    set(None, Some(now + 3_600_000)).await;
    assert!(warnings(&read().await)[0]
        .as_str()
        .is_some_and(|m| m.contains("cannot be renewed")));
    // The sources page shows it.
    let html = app
        .http
        .get(app.url("/sources"))
        .header("cookie", format!("ch_session={token}"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(html.contains("source-warning") && html.contains("cannot be renewed"));
}

/// Pasting a token over a signed-in connector drops what the sign-in left: its refresh token
/// would otherwise renew the old grant over the pasted token.
#[tokio::test]
async fn a_pasted_token_replaces_the_whole_sign_in() {
    let app = app().await;
    let b = browser(&app, "acme", "ana");
    let draft = connect(&b, "google_drive", &[]).await;
    let id = b.save("google_drive", &draft, None).await.expect("saved");
    assert!(stored(&app, &id).await.0["refresh_token"].is_string());

    let draft = b.step("google_drive", None, Some(&id), "start", &[]).await;
    b.step("google_drive", Some(&draft), Some(&id), "continue", &[])
        .await;
    let view = b.view("google_drive", &draft).await;
    assert_eq!(view["field"]["name"], "access_token");
    assert_eq!(view["has_secret_answer"], true);
    b.step(
        "google_drive",
        Some(&draft),
        Some(&id),
        "answer",
        &[("value", "ya29.goodpasted123456")],
    )
    .await;
    b.save("google_drive", &draft, Some(&id)).await;
    let (config, expires, refreshed) = stored(&app, &id).await;
    assert_eq!(config["access_token"], "ya29.goodpasted123456");
    assert!(config.get("refresh_token").is_none(), "{config}");
    assert_eq!((expires, refreshed), (None, None));
}

/// The monitor tests sign-ins that are halfway to their provider's idle limit, whatever their
/// schedule: the test renews the tokens and keeps the refresh token alive.
#[tokio::test]
async fn the_monitor_keeps_idle_sign_ins_alive() {
    let app = crate::support::spawn_app_configured(
        &[
            ("CONNECTOR_HUB_MONITOR", "true"),
            ("CONNECTOR_HUB_MONITOR_INTERVAL_MS", "200"),
        ],
        true,
    )
    .await;
    let b = browser(&app, "acme", "ana");
    b.control(json!({"organisations": 1})).await;
    let draft = connect(&b, "xero", &[]).await;
    b.step(
        "xero",
        Some(&draft),
        None,
        "name",
        &[("display_name", "Books"), ("sync_frequency", "manual")],
    )
    .await;
    let id = b.view("xero", &draft).await["saved_connector"]
        .as_str()
        .expect("saved")
        .to_owned();
    // Last used 31 days ago: past half of Xero's 60.
    let day = 86_400_000_i64;
    let now = chrono::Utc::now().timestamp_millis();
    set_token_times(
        &app,
        &id,
        Some(now - 31 * day),
        Some(now - 31 * day + 1_800_000),
    )
    .await;
    let mut renewed = None;
    for _ in 0..100 {
        let (_, _, refreshed) = stored(&app, &id).await;
        if refreshed.is_some_and(|r| r > now - 60_000) {
            renewed = refreshed;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(renewed.is_some(), "the monitor renewed the idle sign-in");
    assert_eq!(b.stats().await["refresh_token:xero"], 1);
    let audit = get_json(
        &app,
        &format!("/v1/audit?connector_id={id}&action=refresh"),
        &app.token("acme", "ana"),
    )
    .await;
    assert_eq!(audit["entries"][0]["user_id"], "system:monitor", "{audit}");
}

/// A token the provider refuses in the middle of a sync is renewed once and the page asked again;
/// refused again after renewal, the connector needs the person to reconnect.
#[tokio::test]
async fn a_token_refused_mid_sync_is_renewed_once() {
    use crate::support::fakes::data::Trouble;
    let app = crate::support::spawn_app_configured(crate::sync::SYNC_ENV, true).await;
    let b = browser(&app, "acme", "ana");
    let token = app.token("acme", "ana");
    let draft = connect(&b, "google_drive", &[]).await;
    let id = b.save("google_drive", &draft, None).await.expect("saved");
    app.data.seed("google/files", 2500);
    let refreshes = |stats: Value| stats["refresh_token:google_drive"].as_i64().unwrap_or(0);
    let before = refreshes(b.stats().await);

    app.data.trouble(1, Trouble::Unauthorized, 1);
    let run = crate::sync::sync(&app, &token, &id, json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["streams"]["files"]["added"], 2500, "{run}");
    assert_eq!(refreshes(b.stats().await), before + 1, "one renewal");
    let (_, access_after, _) = stored(&app, &id).await;
    assert!(
        access_after.is_some(),
        "the renewed token's expiry is saved"
    );

    app.data.trouble(0, Trouble::Unauthorized, 10);
    let run = crate::sync::sync(&app, &token, &id, json!({})).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error_code"], "AUTHORIZATION_REQUIRED", "{run}");
    assert_eq!(
        refreshes(b.stats().await),
        before + 2,
        "renewed once more, not in a loop"
    );
    let view: Value = app
        .get(&format!("/v1/connectors/{id}"), &token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(view["status"], "authorization_required", "{view}");
    app.data.calm();
}

#[tokio::test]
async fn a_token_refused_through_the_proxy_is_renewed_once_and_the_call_sent_again() {
    use crate::support::fakes::data::Trouble;
    let app = crate::support::spawn_app_configured(crate::sync::SYNC_ENV, true).await;
    let b = browser(&app, "acme", "ana");
    let token = app.token("acme", "ana");
    let draft = connect(&b, "google_drive", &[]).await;
    let id = b.save("google_drive", &draft, None).await.expect("saved");
    app.data.seed("google/files", 3);
    let refreshes = |stats: Value| stats["refresh_token:google_drive"].as_i64().unwrap_or(0);
    let before = refreshes(b.stats().await);
    let call = || async {
        app.http
            .get(app.url(&format!(
                "/proxy/{id}/drive/v3/files?pageSize=10&fields=files(id)"
            )))
            .bearer_auth(&token)
            .send()
            .await
            .expect("proxy")
    };

    // Refused once (the token died early): renewed, sent again, answered.
    app.data.trouble(0, Trouble::Unauthorized, 1);
    let r = call().await;
    assert_eq!(r.status(), 200);
    assert_eq!(refreshes(b.stats().await), before + 1, "one renewal");
    // Refused again with a token renewed a moment ago: the provider's 401 is the path's, not
    // the token's. A caller asking again and again for what answers 401 renews nothing more.
    app.data.trouble(0, Trouble::Unauthorized, 10);
    for _ in 0..5 {
        let r = call().await;
        assert_eq!(r.status(), 401);
    }
    assert_eq!(
        refreshes(b.stats().await),
        before + 1,
        "no renewal within a minute of the last"
    );
    app.data.calm();
}
