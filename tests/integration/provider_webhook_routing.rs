//! Provider webhooks configured per app (Xero, HubSpot, QuickBooks, Shopify) arrive at one
//! operator address per provider and are routed by the account each event names: to every
//! connector holding that account, each in its own tenant's stream, and for an account nobody
//! connected, acknowledged and dropped. Per-endpoint providers (Square, Stripe) drop an event
//! naming an account other than the connector's.

use crate::provider_webhooks::{hmac, now_ms, post, webhook_url, ENV};
use crate::support::receiver::Receiver;
use crate::support::{raw, spawn_app_with, TestApp};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

/// A receiver of the tenant's `provider.event`s.
async fn tenant_stream(app: &TestApp, t: &str) -> Receiver {
    let receiver = Receiver::start().await;
    let r = app
        .post(
            "/v1/webhook-endpoints",
            t,
            &json!({"url": receiver.url, "events": ["provider.event"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    receiver
}

/// The `provider.event`s a tenant got, as (connector, what the provider said), once `n` arrived
/// and a moment passed in which no more did.
async fn forwarded(receiver: &Receiver, n: usize) -> Vec<(String, Value)> {
    if n > 0 {
        receiver.wait_for(n, 10).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let mut got: Vec<(String, Value)> = receiver
        .received()
        .iter()
        .map(|r| r.json())
        .filter(|e| e["type"] == "provider.event")
        .map(|e| {
            let connector = e["data"]["connector_id"].as_str().unwrap_or_default();
            (connector.to_owned(), e["data"]["payload"].clone())
        })
        .collect();
    got.sort_by_key(|(c, p)| format!("{c}{p}"));
    got
}

/// Tests the connector, which must pass: only a check the credential passes proves the account
/// its settings name, and only a proven account gets the provider's app webhooks.
async fn proven(app: &TestApp, t: &str, id: &str) {
    let result: Value = app
        .post(&format!("/v1/connectors/{id}/test"), t, &json!({}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(result["success"], true, "{result}");
}

fn xero_event(tenant: &str, category: &str, resource: &str) -> Value {
    json!({"resourceUrl": format!("https://api.xero.com/api.xro/2.0/Invoices/{resource}"),
        "resourceId": resource, "eventDateUtc": "2026-11-29T10:00:00.000", "eventType": "UPDATE",
        "eventCategory": category, "tenantId": tenant, "tenantType": "ORGANISATION"})
}

fn xero_signed(secret: &str, body: &str) -> Vec<(String, String)> {
    vec![(
        "x-xero-signature".into(),
        STANDARD.encode(hmac(secret, &[body.as_bytes()])),
    )]
}

const ORG_A: &str = "2f7b7c4e-7d1a-4e0c-9a55-1a2b3c4d5e6f";
const ORG_B: &str = "c2cc9b6e-9458-4c7d-93cc-f02b81b0594f";
const ORG_NOBODY: &str = "717f2bfc-c6d4-41fd-b238-3f2f0c0cf777";

#[tokio::test]
async fn xero_app_webhooks_reach_only_the_tenants_holding_each_organisation() {
    let app = spawn_app_with(ENV).await;
    let (acme, globex) = (app.token("acme", "alice"), app.token("globex", "gina"));
    let (acme_stream, globex_stream) = (
        tenant_stream(&app, &acme).await,
        tenant_stream(&app, &globex).await,
    );
    let xero = |org: &str| json!({"connector_type": "xero", "config": {"access_token": format!("xero-good-token@{org}"), "tenant_id": org}, "sync_frequency": "manual"});
    let acme_a = app.create(&acme, xero(ORG_A)).await;
    let globex_b = app.create(&globex, xero(ORG_B)).await;
    // Two tenants may connect the same organisation: each gets its events.
    let globex_a = app.create(&globex, xero(ORG_A)).await;
    for (t, id) in [(&acme, &acme_a), (&globex, &globex_b), (&globex, &globex_a)] {
        proven(&app, t, id).await;
    }
    // A tenant naming an organisation its token does not reach gets none of its events: one
    // never tested, and one whose check fails (Xero lists only the organisations it reaches).
    let mallory = app.token("mallory", "mal");
    let mallory_stream = tenant_stream(&app, &mallory).await;
    app.create(&mallory, xero(ORG_B)).await;
    let claimed = app
        .create(&mallory, json!({"connector_type": "xero", "config": {"access_token": format!("xero-good-token@{ORG_NOBODY}"), "tenant_id": ORG_A}, "sync_frequency": "manual"}))
        .await;
    let result: Value = app
        .post(
            &format!("/v1/connectors/{claimed}/test"),
            &mallory,
            &json!({}),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(result["success"], false, "{result}");
    let url = webhook_url(&app, &acme, &acme_a).await;
    assert_eq!(url, format!("{}/webhooks/app/xero", app.base));
    assert_eq!(webhook_url(&app, &globex, &globex_b).await, url);

    // Xero's intent to receive: an empty batch, 200 when signed with the app's key.
    let intent = json!({"events": [], "firstEventSequence": 0, "lastEventSequence": 0, "entropy": "S0m3r4Nd0mt3xt"}).to_string();
    let (status, _) = post(
        &app,
        &url,
        intent.as_bytes(),
        &xero_signed("xero-webhook-key-1", &intent),
    )
    .await;
    assert_eq!(status, 200);

    // One post for three organisations, as Xero documents it (no event ids).
    let body = json!({"events": [
        xero_event(ORG_A, "INVOICE", "inv-1"),
        xero_event(ORG_B, "CONTACT", "con-1"),
        xero_event(ORG_NOBODY, "INVOICE", "inv-9"),
    ], "firstEventSequence": 1, "lastEventSequence": 3, "entropy": "K2dWq9T"})
    .to_string();
    let signed = xero_signed("xero-webhook-key-1", &body);
    let (status, answer) = post(&app, &url, body.as_bytes(), &signed).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (&answer["received"], &answer["dropped"]),
        (&json!(3), &json!(1)),
        "organisation A to two connectors, B to one, the unknown one dropped: {answer}"
    );
    // Delivered again (Xero retries): told apart by what the events say, and not forwarded twice.
    let (status, answer) = post(&app, &url, body.as_bytes(), &signed).await;
    assert_eq!(status, 200);
    assert_eq!(
        (&answer["received"], &answer["repeated"], &answer["dropped"]),
        (&json!(0), &json!(3), &json!(1)),
        "{answer}"
    );

    let acme_got = forwarded(&acme_stream, 1).await;
    assert_eq!(acme_got.len(), 1, "{acme_got:?}");
    assert_eq!(acme_got[0].0, acme_a);
    assert_eq!(acme_got[0].1["tenantId"], ORG_A);
    let globex_got = forwarded(&globex_stream, 2).await;
    assert_eq!(globex_got.len(), 2, "{globex_got:?}");
    let mut by_connector: Vec<(String, Value)> = globex_got
        .iter()
        .map(|(c, p)| (c.clone(), p["tenantId"].clone()))
        .collect();
    by_connector.sort_by_key(|(c, _)| c.clone());
    let mut expected = vec![(globex_a, json!(ORG_A)), (globex_b, json!(ORG_B))];
    expected.sort_by_key(|(c, _)| c.clone());
    assert_eq!(by_connector, expected);
    assert!(
        mallory_stream.received().is_empty(),
        "a tenant that only named the organisations got nothing"
    );

    // Signed with anything but the app's key: refused at the app address.
    let (status, answer) = post(
        &app,
        &url,
        body.as_bytes(),
        &xero_signed("xero-webhook-key-2", &body),
    )
    .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (401, Some("INVALID_SIGNATURE"))
    );
}

#[tokio::test]
async fn hubspot_quickbooks_and_shopify_app_webhooks_are_routed_by_account() {
    let app = spawn_app_with(ENV).await;
    let (acme, globex) = (app.token("acme", "alice"), app.token("globex", "gina"));
    let (acme_stream, globex_stream) = (
        tenant_stream(&app, &acme).await,
        tenant_stream(&app, &globex).await,
    );

    // HubSpot: acme's account is learned by its connection check (HubSpot's account details),
    // globex's was given.
    let acme_hub = app
        .create(&acme, json!({"connector_type": "hubspot", "config": {"access_token": "hubspot-good-portal-111"}, "sync_frequency": "manual"}))
        .await;
    let tested = app
        .post(
            &format!("/v1/connectors/{acme_hub}/test"),
            &acme,
            &json!({}),
        )
        .await;
    assert_eq!(tested.status(), 200);
    // globex names portal 111 itself, but its token reaches portal 222: its check learns 222.
    let globex_hub = app
        .create(&globex, json!({"connector_type": "hubspot", "config": {"access_token": "hubspot-good-portal-222", "portal_id": "111"}, "sync_frequency": "manual"}))
        .await;
    proven(&app, &globex, &globex_hub).await;
    let url = webhook_url(&app, &acme, &acme_hub).await;
    assert_eq!(url, format!("{}/webhooks/app/hubspot", app.base));
    let event = |id: u64, portal: u64| {
        json!({"eventId": id, "subscriptionId": 7, "portalId": portal, "appId": 54321,
            "occurredAt": 1_764_410_400_000_u64, "subscriptionType": "contact.creation",
            "attemptNumber": 0, "objectId": 900 + id, "changeFlag": "CREATED", "changeSource": "CRM"})
    };
    let body = json!([event(1, 111), event(2, 222), event(3, 333)]).to_string();
    let t = now_ms().to_string();
    let signature = STANDARD.encode(hmac(
        "hubspot-app-secret-1",
        &[b"POST", url.as_bytes(), body.as_bytes(), t.as_bytes()],
    ));
    let (status, answer) = post(
        &app,
        &url,
        body.as_bytes(),
        &[
            ("x-hubspot-request-timestamp".into(), t),
            ("x-hubspot-signature-v3".into(), signature),
        ],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (&answer["received"], &answer["dropped"]),
        (&json!(2), &json!(1))
    );

    // QuickBooks: each company's notification to the connector of that realm.
    let qbo = |realm: &str| json!({"connector_type": "quickbooks", "config": {"access_token": "qbo-good-token", "realm_id": realm}, "sync_frequency": "manual"});
    let acme_qbo = app.create(&acme, qbo("9130816365")).await;
    let globex_qbo = app.create(&globex, qbo("9130355478302457")).await;
    proven(&app, &acme, &acme_qbo).await;
    proven(&app, &globex, &globex_qbo).await;
    let url = webhook_url(&app, &acme, &acme_qbo).await;
    assert_eq!(url, format!("{}/webhooks/app/quickbooks", app.base));
    let notification = |realm: &str, id: &str| {
        json!({"realmId": realm, "dataChangeEvent": {"entities": [
            {"name": "Customer", "id": id, "operation": "Update", "lastUpdated": "2026-11-29T10:00:00.000Z"}]}})
    };
    let body = json!({"eventNotifications": [
        notification("9130816365", "11"),
        notification("9130355478302457", "12"),
        notification("1111111111", "13"),
    ]})
    .to_string();
    let signature = STANDARD.encode(hmac("qbo-verifier-token-1", &[body.as_bytes()]));
    let (status, answer) = post(
        &app,
        &url,
        body.as_bytes(),
        &[("intuit-signature".into(), signature)],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (&answer["received"], &answer["dropped"]),
        (&json!(2), &json!(1))
    );

    // Shopify: the shop is named by X-Shopify-Shop-Domain.
    let shop = |domain: &str| json!({"connector_type": "shopify", "config": {"shop_domain": domain, "access_token": "shpat_good12345678"}, "sync_frequency": "manual"});
    let acme_shop = app.create(&acme, shop("acme-goods.myshopify.com")).await;
    let globex_shop = app.create(&globex, shop("acme-west.myshopify.com")).await;
    proven(&app, &acme, &acme_shop).await;
    proven(&app, &globex, &globex_shop).await;
    let url = webhook_url(&app, &acme, &acme_shop).await;
    assert_eq!(url, format!("{}/webhooks/app/shopify", app.base));
    for (domain, id, expect_received) in [
        (
            "acme-goods.myshopify.com",
            "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
            1,
        ),
        (
            "acme-west.myshopify.com",
            "b54557e4-bdd9-4b37-8a5f-bf7d70bcd044",
            1,
        ),
        (
            "nobody.myshopify.com",
            "b54557e4-bdd9-4b37-8a5f-bf7d70bcd045",
            0,
        ),
    ] {
        let body = json!({"id": 820982911946154508_u64, "email": "jon@example.com"}).to_string();
        let signature = STANDARD.encode(hmac("shopify-app-secret-1", &[body.as_bytes()]));
        let headers: Vec<(String, String)> = [
            ("x-shopify-hmac-sha256", signature.as_str()),
            ("x-shopify-topic", "orders/updated"),
            ("x-shopify-shop-domain", domain),
            ("x-shopify-webhook-id", id),
            ("x-shopify-api-version", "2025-07"),
            ("x-shopify-triggered-at", "2026-11-29T10:00:00.000Z"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let (status, answer) = post(&app, &url, body.as_bytes(), &headers).await;
        assert_eq!(status, 200, "{domain}: {answer}");
        assert_eq!(
            answer["received"],
            json!(expect_received),
            "{domain}: {answer}"
        );
        assert_eq!(
            answer["dropped"],
            json!(1 - expect_received),
            "{domain}: {answer}"
        );
    }

    // Each tenant got its own accounts' events, on its own connectors.
    let connectors = |got: Vec<(String, Value)>| {
        let mut c: Vec<String> = got.into_iter().map(|(c, _)| c).collect();
        c.sort();
        c
    };
    let mut acme_expected = vec![acme_hub, acme_qbo, acme_shop];
    acme_expected.sort();
    let mut globex_expected = vec![globex_hub, globex_qbo, globex_shop];
    globex_expected.sort();
    assert_eq!(connectors(forwarded(&acme_stream, 3).await), acme_expected);
    assert_eq!(
        connectors(forwarded(&globex_stream, 3).await),
        globex_expected
    );
}

#[tokio::test]
async fn a_per_endpoint_event_for_another_account_is_not_accepted() {
    let app = spawn_app_with(ENV).await;
    let t = app.token("acme", "alice");
    let stream = tenant_stream(&app, &t).await;

    // Square: the connection check learns the merchant (from its locations), and saving the
    // signature key afterwards (as the data page does) keeps it.
    let key = "square-signature-key-1";
    let square = app
        .create(&t, json!({"connector_type": "square", "config": {"access_token": "EAAAgood1234567890abcdef", "environment": "production"}, "sync_frequency": "manual"}))
        .await;
    let tested = app
        .post(&format!("/v1/connectors/{square}/test"), &t, &json!({}))
        .await;
    assert_eq!(tested.status(), 200);
    let saved = app
        .patch(
            &format!("/v1/connectors/{square}"),
            &t,
            &json!({"config": {"webhook_secret": key}}),
        )
        .await;
    assert_eq!(saved.status(), 200);
    let url = webhook_url(&app, &t, &square).await;
    assert!(!url.contains("/webhooks/app/"), "{url}");
    let square_event = |merchant: &str, id: &str| {
        json!({"merchant_id": merchant, "type": "payment.updated", "event_id": id,
            "created_at": "2026-11-29T10:00:00.000Z", "data": {"type": "payment", "id": "P1", "object": {"payment": {"id": "P1"}}}})
        .to_string()
    };
    for (merchant, id, accepted) in [
        ("M2", "6a8f5f28-54a1-4eb0-a98a-3111513fd4fc", false),
        ("M1", "6a8f5f28-54a1-4eb0-a98a-3111513fd4fd", true),
    ] {
        let body = square_event(merchant, id);
        let signature = STANDARD.encode(hmac(key, &[url.as_bytes(), body.as_bytes()]));
        let (status, answer) = post(
            &app,
            &url,
            body.as_bytes(),
            &[("x-square-hmacsha256-signature".into(), signature)],
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            answer["received"],
            json!(usize::from(accepted)),
            "{merchant}: {answer}"
        );
        assert_eq!(
            answer["dropped"],
            json!(usize::from(!accepted)),
            "{merchant}: {answer}"
        );
    }

    // Stripe: a Connect event naming another account than the connector's.
    let secret = "whsec_stripeSigningSecret09";
    let stripe = app
        .create(&t, json!({"connector_type": "stripe", "config": {"api_key": "sk_test_good_hooks9", "webhook_secret": secret, "account_id": "acct_1Mine"}, "sync_frequency": "manual"}))
        .await;
    let url = webhook_url(&app, &t, &stripe).await;
    let body = json!({"id": "evt_connect1", "object": "event", "type": "customer.updated",
        "account": "acct_1Theirs", "data": {"object": {"id": "cus_1"}}})
    .to_string();
    let at = (now_ms() / 1000).to_string();
    let v1 = hex::encode(hmac(secret, &[at.as_bytes(), b".", body.as_bytes()]));
    let (status, answer) = post(
        &app,
        &url,
        body.as_bytes(),
        &[("stripe-signature".into(), format!("t={at},v1={v1}"))],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (&answer["received"], &answer["dropped"]),
        (&json!(0), &json!(1))
    );

    // Only the event for the connector's own merchant reached the tenant.
    let got = forwarded(&stream, 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        (got[0].0.as_str(), &got[0].1["merchant_id"]),
        (square.as_str(), &json!("M1"))
    );
}

#[tokio::test]
async fn a_connector_saved_before_routing_by_account_is_found_once_a_server_starts() {
    let first = spawn_app_with(ENV).await;
    let t = first.token("acme", "alice");
    let id = first
        .create(&t, json!({"connector_type": "xero", "config": {"access_token": format!("xero-good-token@{ORG_A}"), "tenant_id": ORG_A}, "sync_frequency": "manual"}))
        .await;
    // Its last check passed: the organisation its settings name is the one its token reaches.
    proven(&first, &t, &id).await;
    // As an older version left it: no lookup value beside its settings.
    let cleared = raw::set_connector(
        &first.data_dir,
        &id,
        &[("account_key", raw::Field::Text(None))],
    )
    .await;
    assert_eq!(cleared, 1);
    let body = json!({"events": [xero_event(ORG_A, "INVOICE", "inv-old")],
        "firstEventSequence": 1, "lastEventSequence": 1, "entropy": "P0o1x"})
    .to_string();
    let signed = xero_signed("xero-webhook-key-1", &body);
    let url = webhook_url(&first, &t, &id).await;
    let (status, answer) = post(&first, &url, body.as_bytes(), &signed).await;
    assert_eq!((status, &answer["dropped"]), (200, &json!(1)), "{answer}");

    // A server starting on the same store fills it in from the sealed settings.
    let dir = first.data_dir.display().to_string();
    let mut env = ENV.to_vec();
    env.extend([
        ("CONNECTOR_HUB_DATA_DIR", dir.as_str()),
        ("CONNECTOR_ENCRYPTION_KEY", first.encryption_key.as_str()),
    ]);
    let second = spawn_app_with(&env).await;
    let url = format!("{}/webhooks/app/xero", second.base);
    let mut answer = Value::Null;
    for _ in 0..50 {
        let (status, got) = post(&second, &url, body.as_bytes(), &signed).await;
        assert_eq!(status, 200, "{got}");
        answer = got;
        if answer["received"] == json!(1) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(answer["received"], json!(1), "{answer}");
}

/// Outsiders cannot flood the webhook addresses: forged posts from one address are answered 401
/// (or 404) until the address is past the limit on requests without a valid credential, then 429
/// before any work is done. (They are counted as every anonymous refusal is, and summarised into
/// the audit log the same way: `operations::anonymous_traffic_cannot_fill_the_disk_or_the_log`.)
#[tokio::test]
async fn forged_webhooks_from_one_address_are_limited() {
    let mut env = ENV.to_vec();
    env.push(("CONNECTOR_HUB_RATE_ANONYMOUS_PER_MIN", "10"));
    let app = spawn_app_with(&env).await;
    let forged = br#"{"events":[],"firstEventSequence":1,"lastEventSequence":1,"entropy":"x"}"#;
    let headers = vec![(
        "x-xero-signature".to_owned(),
        "bm90IGEgc2lnbmF0dXJl".to_owned(),
    )];
    let mut statuses = Vec::new();
    for n in 0..12 {
        let url = if n % 2 == 0 {
            app.url("/webhooks/app/xero")
        } else {
            app.url("/webhooks/no-such-address-token")
        };
        statuses.push(post(&app, &url, forged, &headers).await.0);
    }
    assert!(
        statuses[..10].iter().all(|s| matches!(s, 401 | 404)),
        "{statuses:?}"
    );
    assert_eq!(&statuses[10..], &[429, 429], "{statuses:?}");
}
