//! OAuth scopes: a sign-in asks for every scope its connector's streams read with, so each
//! stream syncs after a real sign-in. Where the operator asked for fewer, what the provider says
//! it granted (Shopify) tells at once which streams are not covered, and a stream the provider
//! refuses (HubSpot, which does not say) is skipped and named; the fake authorization server
//! grants what was asked, and the fake providers refuse, as the providers do, the rest.

use crate::support::oauth_flow::Browser;
use crate::support::{spawn_app_configured, TestApp};
use crate::sync::{sync, SYNC_ENV};
use serde_json::{json, Value};

async fn signed_in(app: &TestApp, connector_type: &str, answers: &[&str]) -> (String, String) {
    let t = app.token("acme", "ana");
    let b = Browser::new(&app.base, &app.fakes, &t);
    let draft = b.begin(connector_type, None, answers).await;
    let consent = b.authorize(connector_type, &draft).await;
    let callback = b.consent(&consent, true).await;
    b.callback(&callback).await;
    let id = b.save(connector_type, &draft, None).await.expect("saved");
    (t, id)
}

async fn data_page(app: &TestApp, t: &str, id: &str) -> String {
    let cookie = app.session_cookie(t).await;
    app.http
        .get(app.url(&format!("/sources/{id}/data")))
        .header("cookie", cookie)
        .send()
        .await
        .expect("data page")
        .text()
        .await
        .expect("html")
}

fn limited(var: &'static str, scopes: &'static str) -> Vec<(&'static str, &'static str)> {
    let mut env = SYNC_ENV.to_vec();
    env.push((var, scopes));
    env
}

#[tokio::test]
async fn every_hubspot_stream_syncs_after_a_sign_in() {
    let app = spawn_app_configured(SYNC_ENV, true).await;
    // (The fake answers contacts with the one record the connection check reads.)
    for stream in ["hubspot/companies", "hubspot/deals"] {
        app.data.seed(stream, 3);
    }
    let (t, id) = signed_in(&app, "hubspot", &[]).await;
    let run = sync(&app, &t, &id, json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["streams"]["contacts"]["added"], 1, "{run}");
    for stream in ["companies", "deals"] {
        assert_eq!(run["streams"][stream]["added"], 3, "{stream}: {run}");
    }
}

/// HubSpot does not say what it granted: the streams it refuses are skipped and named.
#[tokio::test]
async fn streams_a_provider_refuses_for_a_permission_are_skipped_and_named() {
    let app = spawn_app_configured(
        &limited(
            "CONNECTOR_HUB_OAUTH_HUBSPOT_SCOPES",
            "oauth crm.objects.contacts.read",
        ),
        true,
    )
    .await;
    app.data.seed("hubspot/deals", 3);
    let (t, id) = signed_in(&app, "hubspot", &[]).await;
    let run = sync(&app, &t, &id, json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["streams"]["contacts"]["added"], 1, "{run}");
    assert_eq!(run["error_code"], "INSUFFICIENT_PERMISSIONS", "{run}");
    let skipped = run["error_message"].as_str().unwrap_or_default();
    for scope in ["crm.objects.companies.read", "crm.objects.deals.read"] {
        assert!(skipped.contains(scope), "{skipped}");
    }
    let page = data_page(&app, &t, &id).await;
    assert!(page.contains(r#"data-testid="needs-permission""#), "{page}");
    assert!(page.contains("crm.objects.deals.read"));
    assert!(page.contains(&format!("/connect/hubspot?replace={id}")));
    // Only a stream that may not be read: the run fails, saying why.
    let run = sync(&app, &t, &id, json!({"streams": ["deals"]})).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error_code"], "INSUFFICIENT_PERMISSIONS", "{run}");
    let message = run["error_message"].as_str().unwrap_or_default();
    assert!(message.contains("crm.objects.deals.read"), "{message}");
    // The preview says the same.
    let preview: Value = app
        .get(&format!("/v1/connectors/{id}/preview?stream=deals"), &t)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        preview["error"]["code"], "INSUFFICIENT_PERMISSIONS",
        "{preview}"
    );
    assert!(
        preview["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("crm.objects.deals.read")),
        "{preview}"
    );
}

/// Shopify says what it granted: it is kept, the data page names what it does not cover before
/// any sync, and a sync does not ask for it.
#[tokio::test]
async fn what_a_provider_granted_is_kept_and_tells_at_once() {
    let app = spawn_app_configured(
        &limited("CONNECTOR_HUB_OAUTH_SHOPIFY_SCOPES", "read_orders"),
        true,
    )
    .await;
    app.data.seed("shopify/orders", 2);
    let (t, id) = signed_in(&app, "shopify", &["acme-goods.myshopify.com"]).await;
    let page = data_page(&app, &t, &id).await;
    assert!(page.contains(r#"data-testid="needs-permission""#), "{page}");
    for (stream, scope) in [
        ("products", "read_products"),
        ("customers", "read_customers"),
    ] {
        assert!(
            page.contains(&format!("{stream} needs the {scope} permission")),
            "{page}"
        );
    }
    assert!(!page.contains("orders needs the"), "{page}");
    app.data.take_requests();
    let run = sync(&app, &t, &id, json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["streams"]["orders"]["added"], 2, "{run}");
    assert_eq!(run["error_code"], "INSUFFICIENT_PERMISSIONS", "{run}");
    let asked: Vec<String> = app
        .data
        .take_requests()
        .into_iter()
        .map(|s| s.stream)
        .collect();
    assert!(
        !asked
            .iter()
            .any(|s| s == "shopify/products" || s == "shopify/customers"),
        "{asked:?}"
    );
}
