//! OAuth scopes: a sign-in asks for every scope its connector's streams read with, so each
//! stream syncs after a real sign-in; where the operator asked for fewer, the stream the
//! provider refuses says which permission it needs (the fake authorization server grants what
//! was asked, and the fake providers refuse, as the providers do, what a token was not granted).

use crate::support::oauth_flow::Browser;
use crate::support::{spawn_app_configured, TestApp};
use crate::sync::{sync, SYNC_ENV};
use serde_json::{json, Value};

async fn signed_in_hubspot(app: &TestApp) -> (String, String) {
    let t = app.token("acme", "ana");
    let b = Browser::new(&app.base, &app.fakes, &t);
    let draft = b.begin("hubspot", None, &[]).await;
    let consent = b.authorize("hubspot", &draft).await;
    let callback = b.consent(&consent, true).await;
    b.callback(&callback).await;
    let id = b.save("hubspot", &draft, None).await.expect("saved");
    (t, id)
}

#[tokio::test]
async fn every_hubspot_stream_syncs_after_a_sign_in() {
    let app = spawn_app_configured(SYNC_ENV, true).await;
    // (The fake answers contacts with the one record the connection check reads.)
    for stream in ["hubspot/companies", "hubspot/deals"] {
        app.data.seed(stream, 3);
    }
    let (t, id) = signed_in_hubspot(&app).await;
    let run = sync(&app, &t, &id, json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["streams"]["contacts"]["added"], 1, "{run}");
    for stream in ["companies", "deals"] {
        assert_eq!(run["streams"][stream]["added"], 3, "{stream}: {run}");
    }
}

#[tokio::test]
async fn a_stream_whose_scope_was_not_granted_names_it() {
    // The operator's registration asks for contacts only.
    let app = spawn_app_configured(
        &[
            SYNC_ENV[0],
            SYNC_ENV[1],
            SYNC_ENV[2],
            (
                "CONNECTOR_HUB_OAUTH_HUBSPOT_SCOPES",
                "oauth crm.objects.contacts.read",
            ),
        ],
        true,
    )
    .await;
    app.data.seed("hubspot/deals", 3);
    let (t, id) = signed_in_hubspot(&app).await;
    // What HubSpot granted is kept, and the data page says at once what it does not cover.
    let cookie = app.session_cookie(&t).await;
    let data_page = || async {
        app.http
            .get(app.url(&format!("/sources/{id}/data")))
            .header("cookie", cookie.clone())
            .send()
            .await
            .expect("data page")
            .text()
            .await
            .expect("html")
    };
    let page = data_page().await;
    assert!(page.contains(r#"data-testid="needs-permission""#), "{page}");
    assert!(
        page.contains("deals needs the crm.objects.deals.read permission"),
        "{page}"
    );
    assert!(page.contains(&format!("/connect/hubspot?replace={id}")));
    // Every stream: what may be read is; what was not granted is not even asked for, and is
    // named.
    app.data.take_requests();
    let run = sync(&app, &t, &id, json!({})).await;
    let asked: Vec<String> = app
        .data
        .take_requests()
        .into_iter()
        .map(|s| s.stream)
        .collect();
    assert!(
        !asked
            .iter()
            .any(|s| s == "hubspot/deals" || s == "hubspot/companies"),
        "{asked:?}"
    );
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["streams"]["contacts"]["added"], 1, "{run}");
    assert_eq!(run["error_code"], "INSUFFICIENT_PERMISSIONS", "{run}");
    let skipped = run["error_message"].as_str().unwrap_or_default();
    for scope in ["crm.objects.companies.read", "crm.objects.deals.read"] {
        assert!(skipped.contains(scope), "{skipped}");
    }
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
