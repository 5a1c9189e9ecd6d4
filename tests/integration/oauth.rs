//! OAuth2 connect flows against a fake authorization server: the consent round trip for every
//! OAuth2 provider, PKCE, refused and replayed states, a provider without a client, and a pasted
//! token replacing a sign-in. Keeping sign-ins alive (refresh, renewal) is in `oauth_refresh`.

use crate::support::oauth_flow::{params, Browser};
use crate::support::{raw, TestApp};
use connector_hub::secret::SecretString;
use connector_hub::vault::Vault;
use serde_json::{json, Value};

pub(crate) async fn app() -> TestApp {
    crate::support::spawn_app_configured(&[], true).await
}

pub(crate) fn browser(app: &TestApp, tenant: &str, user: &str) -> Browser {
    Browser::new(&app.base, &app.fakes, &app.token(tenant, user))
}

/// A stored connector's decrypted configuration and token times, read from the store directly.
pub(crate) async fn stored(app: &TestApp, id: &str) -> (Value, Option<i64>, Option<i64>) {
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
pub(crate) async fn set_token_times(
    app: &TestApp,
    id: &str,
    refreshed: Option<i64>,
    expires: Option<i64>,
) {
    let fields = [
        ("token_refreshed_at", raw::Field::Int(refreshed)),
        ("token_expires_at", raw::Field::Int(expires)),
    ];
    let changed = raw::set_connector(&app.data_dir, id, &fields).await;
    assert_eq!(changed, 1, "the token times of {id} set");
}

pub(crate) async fn get_json(app: &TestApp, path: &str, token: &str) -> Value {
    app.get(path, token).await.json().await.expect("json")
}

pub(crate) async fn test_saved(app: &TestApp, id: &str, token: &str) -> Value {
    app.post(&format!("/v1/connectors/{id}/test"), token, &json!({}))
        .await
        .json()
        .await
        .expect("json")
}

pub(crate) async fn connect(b: &Browser, connector_type: &str, answers: &[&str]) -> String {
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
