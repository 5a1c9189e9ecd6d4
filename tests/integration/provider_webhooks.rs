//! Provider webhooks: for every provider that signs its webhooks, a correctly signed request is
//! accepted, a wrong signature, a stale timestamp and an unsigned request are refused, a repeated
//! event is accepted once, and a connector without a signing secret refuses everything. An
//! accepted burst becomes one incremental sync of the stream it changed and reaches the tenant as
//! `provider.event`. Routing app-wide webhooks by account is in `provider_webhook_routing`;
//! Google Drive's push channels are in `provider_webhook_channels`.

use crate::support::receiver::Receiver;
use crate::support::{spawn_app_with, TestApp};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

pub(crate) const ENV: &[(&str, &str)] = &[
    ("CONNECTOR_HUB_EGRESS_ALLOW", "127.0.0.0/8"),
    ("CONNECTOR_HUB_DELIVERY_POLL_MS", "50"),
    (
        "CONNECTOR_HUB_WEBHOOK_SECRET_SHOPIFY",
        "shopify-app-secret-1",
    ),
    (
        "CONNECTOR_HUB_WEBHOOK_SECRET_HUBSPOT",
        "hubspot-app-secret-1",
    ),
    (
        "CONNECTOR_HUB_WEBHOOK_SECRET_QUICKBOOKS",
        "qbo-verifier-token-1",
    ),
    ("CONNECTOR_HUB_WEBHOOK_SECRET_XERO", "xero-webhook-key-1"),
];

pub(crate) fn hmac(secret: &str, parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// How a provider signs: the headers for a body (with its secret, the address it calls, the
/// event's id, at a time).
type Signer =
    fn(secret: &str, url: &str, body: &[u8], id: &str, at_ms: i64) -> Vec<(String, String)>;

/// A provider as the tests play it: its connector, the body of an event with an id, and the
/// headers it signs that body with (at a given time, with a given secret).
struct Provider {
    connector_type: &'static str,
    config: Value,
    /// The secret the provider signs with (the connector's, or the operator's).
    secret: &'static str,
    body: fn(&str) -> Vec<u8>,
    sign: Signer,
    /// Whether it sends a timestamp a replay can be refused by.
    timestamped: bool,
}

fn providers(app: &TestApp) -> Vec<Provider> {
    vec![
        Provider {
            connector_type: "stripe",
            config: json!({"api_key": "sk_test_good_hooks1", "webhook_secret": "whsec_stripeSigningSecret01"}),
            secret: "whsec_stripeSigningSecret01",
            body: |id| {
                json!({"id": id, "object": "event", "type": "customer.updated", "data": {"object": {"id": "cus_1"}}}).to_string().into_bytes()
            },
            sign: |secret, _, body, _, at| {
                let t = (at / 1000).to_string();
                let v1 = hex::encode(hmac(secret, &[t.as_bytes(), b".", body]));
                vec![("stripe-signature".into(), format!("t={t},v1={v1}"))]
            },
            timestamped: true,
        },
        Provider {
            connector_type: "shopify",
            config: json!({"shop_domain": "acme-good-shop.myshopify.com", "access_token": "shpat_good12345678"}),
            secret: "shopify-app-secret-1",
            body: |_| {
                json!({"id": 820982911946154508_u64, "email": "jon@example.com"})
                    .to_string()
                    .into_bytes()
            },
            sign: |secret, _, body, id, _| {
                vec![
                    (
                        "x-shopify-hmac-sha256".into(),
                        STANDARD.encode(hmac(secret, &[body])),
                    ),
                    ("x-shopify-webhook-id".into(), id.into()),
                    ("x-shopify-topic".into(), "orders/updated".into()),
                    (
                        "x-shopify-shop-domain".into(),
                        "acme-good-shop.myshopify.com".into(),
                    ),
                    ("x-shopify-api-version".into(), "2025-07".into()),
                    (
                        "x-shopify-triggered-at".into(),
                        "2026-11-29T10:00:00.000Z".into(),
                    ),
                ]
            },
            timestamped: false,
        },
        Provider {
            connector_type: "square",
            config: json!({"access_token": "EAAAgood1234567890abcdef", "environment": "production", "webhook_secret": "square-signature-key-1"}),
            secret: "square-signature-key-1",
            body: |id| {
                json!({"merchant_id": "M1", "type": "payment.updated", "event_id": id, "data": {"type": "payment", "id": "P1"}}).to_string().into_bytes()
            },
            sign: |secret, url, body, _, _| {
                vec![(
                    "x-square-hmacsha256-signature".into(),
                    STANDARD.encode(hmac(secret, &[url.as_bytes(), body])),
                )]
            },
            timestamped: false,
        },
        Provider {
            connector_type: "xero",
            config: json!({"access_token": "xero-good-token@t-1", "tenant_id": "t-1"}),
            secret: "xero-webhook-key-1",
            // As Xero documents it: no event id (an event is told by what it says).
            body: |id| {
                json!({"events": [{"resourceUrl": format!("https://api.xero.com/api.xro/2.0/Invoices/{id}"), "resourceId": id,
                "eventDateUtc": "2026-11-29T10:00:00.000", "eventType": "UPDATE", "eventCategory": "INVOICE",
                "tenantId": "t-1", "tenantType": "ORGANISATION"}],
                "firstEventSequence": 1, "lastEventSequence": 1, "entropy": "S0m3r4Nd0mt3xt"}).to_string().into_bytes()
            },
            sign: |secret, _, body, _, _| {
                vec![(
                    "x-xero-signature".into(),
                    STANDARD.encode(hmac(secret, &[body])),
                )]
            },
            timestamped: false,
        },
        Provider {
            connector_type: "hubspot",
            config: json!({"access_token": "hubspot-good-portal-62515"}),
            secret: "hubspot-app-secret-1",
            body: |id| {
                json!([{"eventId": id.parse::<u64>().unwrap_or(1), "subscriptionId": 7, "portalId": 62515, "appId": 54321,
                "occurredAt": 1_764_410_400_000_u64, "subscriptionType": "contact.propertyChange", "attemptNumber": 0,
                "objectId": 123, "changeSource": "CRM", "propertyName": "email", "propertyValue": "a@example.com"}]).to_string().into_bytes()
            },
            sign: |secret, url, body, _, at| {
                let t = at.to_string();
                vec![
                    ("x-hubspot-request-timestamp".into(), t.clone()),
                    (
                        "x-hubspot-signature-v3".into(),
                        STANDARD
                            .encode(hmac(secret, &[b"POST", url.as_bytes(), body, t.as_bytes()])),
                    ),
                ]
            },
            timestamped: true,
        },
        Provider {
            connector_type: "woocommerce",
            config: json!({"store_url": format!("{}/woo", app.fakes), "consumer_key": "ck_good12345", "consumer_secret": "cs_good12345", "webhook_secret": "woo-webhook-secret-1"}),
            secret: "woo-webhook-secret-1",
            body: |_| {
                json!({"id": 727, "status": "processing"})
                    .to_string()
                    .into_bytes()
            },
            sign: |secret, _, body, id, _| {
                vec![
                    (
                        "x-wc-webhook-signature".into(),
                        STANDARD.encode(hmac(secret, &[body])),
                    ),
                    ("x-wc-webhook-delivery-id".into(), id.into()),
                    ("x-wc-webhook-topic".into(), "order.updated".into()),
                ]
            },
            timestamped: false,
        },
        Provider {
            connector_type: "quickbooks",
            config: json!({"access_token": "qbo-good-token", "realm_id": "9130816365"}),
            secret: "qbo-verifier-token-1",
            body: |id| {
                json!({"eventNotifications": [{"realmId": "9130816365", "dataChangeEvent": {"entities": [
                {"name": "Invoice", "id": id, "operation": "Update", "lastUpdated": "2026-11-29T10:00:00.000Z"}]}}]}).to_string().into_bytes()
            },
            sign: |secret, _, body, _, _| {
                vec![(
                    "intuit-signature".into(),
                    STANDARD.encode(hmac(secret, &[body])),
                )]
            },
            timestamped: false,
        },
    ]
}

pub(crate) async fn post(
    app: &TestApp,
    url: &str,
    body: &[u8],
    headers: &[(String, String)],
) -> (u16, Value) {
    let mut request = app
        .http
        .post(url)
        .body(body.to_vec())
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = request.send().await.expect("post");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

pub(crate) async fn webhook_url(app: &TestApp, t: &str, id: &str) -> String {
    let view: Value = app
        .get(&format!("/v1/connectors/{id}"), t)
        .await
        .json()
        .await
        .expect("json");
    let url = view["webhook_url"]
        .as_str()
        .expect("webhook_url")
        .to_owned();
    assert!(url.starts_with(&format!("{}/webhooks/", app.base)), "{url}");
    url
}

/// The connector's runs, once the newest has succeeded (or after ten seconds).
pub(crate) async fn runs_once_one_succeeded(app: &TestApp, t: &str, id: &str) -> Vec<Value> {
    let mut runs = Vec::new();
    for _ in 0..100 {
        let listed: Value = app
            .get(&format!("/v1/connectors/{id}/syncs"), t)
            .await
            .json()
            .await
            .expect("json");
        runs = listed["runs"].as_array().cloned().unwrap_or_default();
        if runs.first().is_some_and(|r| r["status"] == "succeeded") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    runs
}

#[tokio::test]
async fn every_signing_scheme_accepts_the_genuine_and_refuses_the_rest() {
    let app = spawn_app_with(ENV).await;
    let t = app.token("acme", "alice");
    for (n, p) in providers(&app).into_iter().enumerate() {
        let label = p.connector_type;
        let id = app
            .create(&t, json!({"connector_type": p.connector_type, "config": p.config, "sync_frequency": "manual"}))
            .await;
        // A per-app provider's events reach a connector whose account a check has proven.
        let checked: Value = app
            .post(&format!("/v1/connectors/{id}/test"), &t, &json!({}))
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(checked["success"], true, "{label}: {checked}");
        let url = webhook_url(&app, &t, &id).await;
        let event_id = format!("{}", 9000 + n);
        let body = (p.body)(&event_id);
        let good = (p.sign)(p.secret, &url, &body, &event_id, now_ms());

        let (status, answer) = post(&app, &url, &body, &good).await;
        assert_eq!(
            (status, &answer["received"]),
            (200, &json!(1)),
            "{label}: {answer}"
        );
        // The same event again (providers retry): accepted, once.
        let (status, answer) = post(&app, &url, &body, &good).await;
        assert_eq!(
            (status, &answer["repeated"]),
            (200, &json!(1)),
            "{label}: {answer}"
        );

        let wrong = (p.sign)("some-other-secret", &url, &body, &event_id, now_ms());
        let (status, answer) = post(&app, &url, &body, &wrong).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (401, Some("INVALID_SIGNATURE")),
            "{label}"
        );
        // The body changed after signing.
        let mut tampered = body.clone();
        tampered.push(b' ');
        let (status, _) = post(&app, &url, &tampered, &good).await;
        assert_eq!(status, 401, "{label}: tampered");
        // Unsigned: the event's other headers, no signature.
        let unsigned: Vec<(String, String)> = good
            .iter()
            .filter(|(k, _)| {
                !k.contains("signature") && !k.contains("hmac") && k != "stripe-signature"
            })
            .cloned()
            .collect();
        let (status, _) = post(&app, &url, &body, &unsigned).await;
        assert_eq!(status, 401, "{label}: unsigned");
        if p.timestamped {
            let stale_at = now_ms() - 6 * 60 * 1000;
            let stale = (p.sign)(p.secret, &url, &body, &format!("{event_id}1"), stale_at);
            let (status, answer) = post(&app, &url, &body, &stale).await;
            assert_eq!(status, 401, "{label}: stale: {answer}");
        }
    }
    // An address that names no connector.
    let (status, _) = post(
        &app,
        &format!("{}/webhooks/0123456789abcdef0123456789abcdef", app.base),
        b"{}",
        &[],
    )
    .await;
    assert_eq!(status, 404);
    // No app address for a provider that gives each endpoint its own, nor for no provider.
    for kind in ["stripe", "square", "nonesuch"] {
        let url = format!("{}/webhooks/app/{kind}", app.base);
        let (status, answer) = post(&app, &url, b"{}", &[]).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (404, Some("NOT_FOUND")),
            "{kind}"
        );
    }
}

#[tokio::test]
async fn no_secret_refuses_everything_and_xero_intent_to_receive_is_answered() {
    let app = spawn_app_with(&[("CONNECTOR_HUB_EGRESS_ALLOW", "127.0.0.0/8")]).await;
    let t = app.token("acme", "alice");
    // Stripe without its signing secret, Shopify without the operator's: refused, however signed.
    let stripe = app
        .create(
            &t,
            json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good_hooks2"}}),
        )
        .await;
    let shopify = app
        .create(&t, json!({"connector_type": "shopify", "config": {"shop_domain": "good-shop.myshopify.com", "access_token": "shpat_good12345678"}}))
        .await;
    for (id, headers) in [
        (
            &stripe,
            vec![(
                "stripe-signature".to_owned(),
                format!(
                    "t={},v1={}",
                    now_ms() / 1000,
                    hex::encode(hmac("", &[b"x"]))
                ),
            )],
        ),
        (
            &shopify,
            vec![(
                "x-shopify-hmac-sha256".to_owned(),
                STANDARD.encode(hmac("", &[b"{}"])),
            )],
        ),
    ] {
        let url = webhook_url(&app, &t, id).await;
        let (status, answer) = post(&app, &url, b"{}", &headers).await;
        assert_eq!(status, 401, "{answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("No signing secret"),
            "{answer}"
        );
    }

    // Xero without the operator's webhook key: even its intent to receive is refused.
    let xero = app
        .create(&t, json!({"connector_type": "xero", "config": {"access_token": "xero-good-token", "tenant_id": "t-1"}}))
        .await;
    let url = webhook_url(&app, &t, &xero).await;
    assert_eq!(url, format!("{}/webhooks/app/xero", app.base));
    let body = json!({"events": [], "firstEventSequence": 0, "lastEventSequence": 0, "entropy": "S0m3r4Nd0mt3xt"}).to_string();
    let signed = STANDARD.encode(hmac("xero-webhook-key-2", &[body.as_bytes()]));
    let (status, _) = post(
        &app,
        &url,
        body.as_bytes(),
        &[("x-xero-signature".into(), signed)],
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_burst_of_events_is_one_sync_and_each_reaches_the_tenant() {
    let app = spawn_app_with(ENV).await;
    let t = app.token("acme", "alice");
    app.data.seed("stripe/customers", 5);
    let receiver = Receiver::start().await;
    let r = app
        .post(
            "/v1/webhook-endpoints",
            &t,
            &json!({"url": receiver.url, "events": ["provider.event"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let secret = "whsec_stripeSigningSecret02";
    let id = app
        .create(&t, json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good_hooks3", "webhook_secret": secret}, "sync_frequency": "manual"}))
        .await;
    let url = webhook_url(&app, &t, &id).await;
    for n in 0..3 {
        let body =
            json!({"id": format!("evt_burst{n}"), "object": "event", "type": "customer.updated",
            "data": {"object": {"id": format!("cus_00000{}", n + 1)}}})
            .to_string();
        let at = (now_ms() / 1000).to_string();
        let v1 = hex::encode(hmac(secret, &[at.as_bytes(), b".", body.as_bytes()]));
        let (status, _) = post(
            &app,
            &url,
            body.as_bytes(),
            &[("stripe-signature".into(), format!("t={at},v1={v1}"))],
        )
        .await;
        assert_eq!(status, 200);
    }
    // Each event reaches the tenant, with what the provider said.
    let got = receiver.wait_for(3, 10).await;
    let forwarded: Vec<Value> = got.iter().map(|r| r.json()).collect();
    assert!(
        forwarded
            .iter()
            .all(|e| e["type"] == "provider.event" && e["data"]["stream"] == "customers"),
        "{forwarded:?}"
    );
    assert_eq!(forwarded[0]["data"]["event"]["id"], "evt_burst0");
    assert_eq!(
        forwarded[0]["data"]["payload"]["data"]["object"]["id"],
        "cus_000001"
    );
    // One incremental run of the stream they changed.
    let runs = runs_once_one_succeeded(&app, &t, &id).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["trigger"], "webhook");
    assert_eq!(runs[0]["status"], "succeeded");
    assert_eq!(
        runs[0]["streams"]
            .as_object()
            .map(|s| s.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["customers".to_owned()])
    );
}
