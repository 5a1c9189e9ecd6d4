//! One tenant's connectors stay its own: another tenant cannot see or change them, a stored
//! configuration copied to another tenant does not open, and a stored secret never follows a
//! changed destination to another host.

use crate::api::stripe;
use crate::support::{expect_error, raw, spawn_app, spawn_app_with};
use serde_json::{json, Value};

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
