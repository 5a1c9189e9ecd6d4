//! Provider webhooks as they arrive: each provider's signature checked over the raw body, in
//! constant time, with its timestamp tolerance where it sends one (`verify`), and its events read
//! out with their id, kind and the account they name (`events`). Nothing here knows a store or a
//! connector.

use crate::catalog::WebhookScheme;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use http::HeaderMap;
use serde_json::Value;
use sha2::Sha256;

/// Stripe refuses events more than 300 seconds from now; HubSpot, five minutes.
const STRIPE_TOLERANCE_MS: i64 = 300_000;
const HUBSPOT_TOLERANCE_MS: i64 = 300_000;

/// A request to a webhook address.
pub(crate) struct Incoming<'a> {
    pub(crate) method: &'a str,
    /// The address as the provider was given it (the hub's public URL and the path): Square and
    /// HubSpot sign it.
    pub(crate) url: &'a str,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a [u8],
    pub(crate) now_ms: i64,
}

impl Incoming<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No signature where the provider always sends one.
    Unsigned,
    /// A signature that does not match.
    BadSignature,
    /// Signed, but too old (or too far ahead) to be anything but a replay.
    Stale,
    /// Signed, but not the provider's event format.
    Malformed,
}

impl Refusal {
    pub(crate) fn message(self) -> &'static str {
        match self {
            Self::Unsigned => "The request is not signed.",
            Self::BadSignature => "The signature does not match.",
            Self::Stale => "The request's timestamp is too far from now.",
            Self::Malformed => "The request is not an event in the provider's format.",
        }
    }
}

/// One event a request carries: its id, its type, the account it names (a shop domain, a
/// HubSpot portal, a QuickBooks realm, a Xero organisation, a Square merchant, a Stripe Connect
/// account), and what the provider said about it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ProviderEvent {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) account: Option<String>,
    pub(crate) payload: Value,
}

fn mac(secret: &[u8], parts: &[&[u8]]) -> Option<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).ok()?;
    for part in parts {
        mac.update(part);
    }
    Some(mac)
}

/// Whether `expected` is the HMAC-SHA256 of `parts`, compared in constant time.
fn matches(secret: &[u8], parts: &[&[u8]], expected: &[u8]) -> bool {
    mac(secret, parts).is_some_and(|m| m.verify_slice(expected).is_ok())
}

fn base64_matches(secret: &[u8], parts: &[&[u8]], header: Option<&str>) -> Result<(), Refusal> {
    let header = header.ok_or(Refusal::Unsigned)?;
    let expected = STANDARD
        .decode(header.trim())
        .map_err(|_| Refusal::BadSignature)?;
    if matches(secret, parts, &expected) {
        Ok(())
    } else {
        Err(Refusal::BadSignature)
    }
}

/// Checks the request's signature as its provider signs it.
pub(crate) fn verify(
    scheme: WebhookScheme,
    secret: &[u8],
    r: &Incoming<'_>,
) -> Result<(), Refusal> {
    match scheme {
        WebhookScheme::Stripe => {
            let header = r.header("stripe-signature").ok_or(Refusal::Unsigned)?;
            let mut timestamp = None;
            let mut signatures = Vec::new();
            for item in header.split(',') {
                match item.trim().split_once('=') {
                    Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
                    Some(("v1", v)) => signatures.extend(hex::decode(v).ok()),
                    _ => {}
                }
            }
            let t = timestamp.ok_or(Refusal::Unsigned)?;
            let signed_at = t.saturating_mul(1000);
            let good = signatures
                .iter()
                .any(|s| matches(secret, &[t.to_string().as_bytes(), b".", r.body], s));
            if !good {
                return Err(Refusal::BadSignature);
            }
            if (r.now_ms - signed_at).abs() > STRIPE_TOLERANCE_MS {
                return Err(Refusal::Stale);
            }
            Ok(())
        }
        WebhookScheme::HubSpot => {
            let timestamp = r
                .header("x-hubspot-request-timestamp")
                .ok_or(Refusal::Unsigned)?;
            base64_matches(
                secret,
                &[
                    r.method.as_bytes(),
                    r.url.as_bytes(),
                    r.body,
                    timestamp.as_bytes(),
                ],
                r.header("x-hubspot-signature-v3"),
            )?;
            let at = timestamp
                .trim()
                .parse::<i64>()
                .map_err(|_| Refusal::Stale)?;
            if (r.now_ms - at).abs() > HUBSPOT_TOLERANCE_MS {
                return Err(Refusal::Stale);
            }
            Ok(())
        }
        WebhookScheme::Square => base64_matches(
            secret,
            &[r.url.as_bytes(), r.body],
            r.header("x-square-hmacsha256-signature"),
        ),
        WebhookScheme::Shopify => {
            base64_matches(secret, &[r.body], r.header("x-shopify-hmac-sha256"))
        }
        WebhookScheme::Xero => base64_matches(secret, &[r.body], r.header("x-xero-signature")),
        WebhookScheme::WooCommerce => {
            base64_matches(secret, &[r.body], r.header("x-wc-webhook-signature"))
        }
        WebhookScheme::QuickBooks => {
            base64_matches(secret, &[r.body], r.header("intuit-signature"))
        }
        WebhookScheme::GoogleDrive => {
            // The channel's token, compared in constant time (as MACs of both under the secret).
            let sent = r.header("x-goog-channel-token").ok_or(Refusal::Unsigned)?;
            let expected = mac(secret, &[secret]).map(|m| m.finalize().into_bytes());
            match expected {
                Some(expected) if matches(secret, &[sent.as_bytes()], &expected) => Ok(()),
                _ => Err(Refusal::BadSignature),
            }
        }
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn array(v: &Value) -> Result<&Vec<Value>, Refusal> {
    v.as_array().ok_or(Refusal::Malformed)
}

/// The events a verified request carries (none: Xero's intent-to-receive).
pub(crate) fn events(
    scheme: WebhookScheme,
    r: &Incoming<'_>,
) -> Result<Vec<ProviderEvent>, Refusal> {
    let from_headers = |id: &str, kind: &str, account: Option<&str>| {
        Ok::<_, Refusal>(vec![ProviderEvent {
            id: r.header(id).ok_or(Refusal::Malformed)?.to_owned(),
            kind: r.header(kind).ok_or(Refusal::Malformed)?.to_owned(),
            account: account.map(str::to_owned),
            payload: serde_json::from_slice(r.body).unwrap_or(Value::Null),
        }])
    };
    match scheme {
        // One app's webhooks for every shop: the shop is named by a header Shopify always sends.
        WebhookScheme::Shopify => {
            let shop = r
                .header("x-shopify-shop-domain")
                .ok_or(Refusal::Malformed)?;
            return from_headers("x-shopify-webhook-id", "x-shopify-topic", Some(shop));
        }
        WebhookScheme::WooCommerce => {
            return from_headers("x-wc-webhook-delivery-id", "x-wc-webhook-topic", None)
        }
        // A notice that something changed (`change`), or the channel's first message (`sync`);
        // its number counts up per channel.
        WebhookScheme::GoogleDrive => {
            let channel = r.header("x-goog-channel-id").ok_or(Refusal::Malformed)?;
            let number = r
                .header("x-goog-message-number")
                .ok_or(Refusal::Malformed)?;
            let state = r
                .header("x-goog-resource-state")
                .ok_or(Refusal::Malformed)?;
            return Ok(vec![ProviderEvent {
                id: format!("{channel}:{number}"),
                kind: state.to_owned(),
                account: None,
                payload: serde_json::json!({"channel_id": channel, "message_number": number,
                    "resource_state": state}),
            }]);
        }
        _ => {}
    }
    let body: Value = serde_json::from_slice(r.body).map_err(|_| Refusal::Malformed)?;
    // Stripe names a Connect account only on events about one; Square names the merchant always.
    let one = |id: &str, kind: &str, account: &str| -> Result<Vec<ProviderEvent>, Refusal> {
        Ok(vec![ProviderEvent {
            id: text(&body[id]).ok_or(Refusal::Malformed)?,
            kind: text(&body[kind]).ok_or(Refusal::Malformed)?,
            account: text(&body[account]),
            payload: body.clone(),
        }])
    };
    match scheme {
        WebhookScheme::Stripe => one("id", "type", "account"),
        WebhookScheme::Square => one("event_id", "type", "merchant_id"),
        WebhookScheme::Xero => array(&body["events"])?
            .iter()
            .map(|e| {
                // Xero gives no event id: an event is what it says happened, to what, when,
                // in which organisation.
                let field = |f: &str| text(&e[f]).ok_or(Refusal::Malformed);
                let (tenant, category) = (field("tenantId")?, field("eventCategory")?);
                let id = format!(
                    "{tenant}:{category}:{}:{}:{}",
                    field("eventType")?,
                    field("resourceId")?,
                    field("eventDateUtc")?
                );
                Ok(ProviderEvent {
                    id,
                    kind: category,
                    account: Some(tenant),
                    payload: e.clone(),
                })
            })
            .collect(),
        WebhookScheme::HubSpot => array(&body)?
            .iter()
            .map(|e| {
                Ok(ProviderEvent {
                    id: text(&e["eventId"]).ok_or(Refusal::Malformed)?,
                    kind: text(&e["subscriptionType"]).ok_or(Refusal::Malformed)?,
                    account: Some(text(&e["portalId"]).ok_or(Refusal::Malformed)?),
                    payload: e.clone(),
                })
            })
            .collect(),
        WebhookScheme::QuickBooks => {
            // No event ids: an entity's change is named by its company, type, id and time.
            let mut events = Vec::new();
            for notification in body["eventNotifications"]
                .as_array()
                .ok_or(Refusal::Malformed)?
            {
                let realm = text(&notification["realmId"]).ok_or(Refusal::Malformed)?;
                for entity in notification["dataChangeEvent"]["entities"]
                    .as_array()
                    .ok_or(Refusal::Malformed)?
                {
                    let name = text(&entity["name"]).ok_or(Refusal::Malformed)?;
                    let id = text(&entity["id"]).ok_or(Refusal::Malformed)?;
                    let at = text(&entity["lastUpdated"]).unwrap_or_default();
                    events.push(ProviderEvent {
                        id: format!("{realm}:{name}:{id}:{at}"),
                        kind: name,
                        account: Some(realm.clone()),
                        payload: serde_json::json!({"realmId": realm, "entity": entity}),
                    });
                }
            }
            Ok(events)
        }
        WebhookScheme::Shopify | WebhookScheme::WooCommerce | WebhookScheme::GoogleDrive => {
            Ok(Vec::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn incoming<'a>(headers: &'a HeaderMap, body: &'a [u8], now_ms: i64) -> Incoming<'a> {
        Incoming {
            method: "POST",
            url: "https://hub.example/webhooks/abc",
            headers,
            body,
            now_ms,
        }
    }

    #[test]
    fn stripe_signatures_any_v1_within_five_minutes() {
        let secret = b"whsec_test";
        let body = br#"{"id":"evt_1","type":"customer.updated"}"#;
        let t = 1_700_000_000_i64;
        let sig = hex::encode(
            mac(secret, &[t.to_string().as_bytes(), b".", body])
                .expect("mac")
                .finalize()
                .into_bytes(),
        );
        let mut h = HeaderMap::new();
        h.insert(
            "stripe-signature",
            HeaderValue::from_str(&format!("t={t},v1=00ff,v1={sig}")).expect("header"),
        );
        let now = t * 1000 + 10_000;
        assert_eq!(
            verify(WebhookScheme::Stripe, secret, &incoming(&h, body, now)),
            Ok(())
        );
        assert_eq!(
            verify(
                WebhookScheme::Stripe,
                secret,
                &incoming(&h, body, now + 301_000)
            ),
            Err(Refusal::Stale)
        );
        assert_eq!(
            verify(
                WebhookScheme::Stripe,
                b"whsec_other",
                &incoming(&h, body, now)
            ),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            verify(
                WebhookScheme::Stripe,
                secret,
                &incoming(&HeaderMap::new(), body, now)
            ),
            Err(Refusal::Unsigned)
        );
        assert_eq!(
            events(WebhookScheme::Stripe, &incoming(&h, body, now)),
            Ok(vec![ProviderEvent {
                id: "evt_1".into(),
                kind: "customer.updated".into(),
                account: None,
                payload: serde_json::json!({"id": "evt_1", "type": "customer.updated"}),
            }])
        );
    }

    #[test]
    fn each_event_names_its_account_and_xero_events_are_told_by_what_they_say() {
        let h = HeaderMap::new();
        // Xero's documented payload: no event id.
        let xero = serde_json::json!({"events": [{
            "resourceUrl": "https://api.xero.com/api.xro/2.0/Contacts/717f2bfc",
            "resourceId": "717f2bfc", "eventDateUtc": "2025-10-21T01:15:39.902",
            "eventType": "UPDATE", "eventCategory": "CONTACT",
            "tenantId": "c2cc9b6e", "tenantType": "ORGANISATION"}],
            "firstEventSequence": 1, "lastEventSequence": 1, "entropy": "X"})
        .to_string();
        let got = events(WebhookScheme::Xero, &incoming(&h, xero.as_bytes(), 0)).expect("events");
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].id.as_str(), got[0].kind.as_str()),
            (
                "c2cc9b6e:CONTACT:UPDATE:717f2bfc:2025-10-21T01:15:39.902",
                "CONTACT"
            )
        );
        assert_eq!(got[0].account.as_deref(), Some("c2cc9b6e"));
        let without_tenant = xero.replace("\"tenantId\"", "\"tenant\"");
        assert_eq!(
            events(
                WebhookScheme::Xero,
                &incoming(&h, without_tenant.as_bytes(), 0)
            ),
            Err(Refusal::Malformed)
        );

        let hubspot = br#"[{"eventId": 1, "portalId": 62515, "subscriptionType": "contact.creation", "occurredAt": 1}]"#;
        let got = events(WebhookScheme::HubSpot, &incoming(&h, hubspot, 0)).expect("events");
        assert_eq!(got[0].account.as_deref(), Some("62515"));

        let qbo = br#"{"eventNotifications": [{"realmId": "4620816365", "dataChangeEvent": {"entities": [{"name": "Invoice", "id": "7", "operation": "Update", "lastUpdated": "2026-11-29T10:00:00.000Z"}]}}]}"#;
        let got = events(WebhookScheme::QuickBooks, &incoming(&h, qbo, 0)).expect("events");
        assert_eq!(got[0].account.as_deref(), Some("4620816365"));

        let square =
            br#"{"merchant_id": "M1", "type": "payment.updated", "event_id": "e1", "data": {}}"#;
        let got = events(WebhookScheme::Square, &incoming(&h, square, 0)).expect("events");
        assert_eq!(got[0].account.as_deref(), Some("M1"));

        // Shopify names the shop in a header; without it the event is no one's.
        let mut shopify = HeaderMap::new();
        shopify.insert("x-shopify-webhook-id", HeaderValue::from_static("w1"));
        shopify.insert(
            "x-shopify-topic",
            HeaderValue::from_static("orders/updated"),
        );
        assert_eq!(
            events(WebhookScheme::Shopify, &incoming(&shopify, b"{}", 0)),
            Err(Refusal::Malformed)
        );
        shopify.insert(
            "x-shopify-shop-domain",
            HeaderValue::from_static("acme.myshopify.com"),
        );
        let got = events(WebhookScheme::Shopify, &incoming(&shopify, b"{}", 0)).expect("events");
        assert_eq!(got[0].account.as_deref(), Some("acme.myshopify.com"));
    }
}
