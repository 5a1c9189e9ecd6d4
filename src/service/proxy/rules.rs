//! The proxy's rules, apart from any request: where a caller's SDK puts its hub token, and which
//! of its headers go on to the provider and which of the provider's come back.

use crate::outbound::scrub::Scrub;
use base64::Engine;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// The header a caller sets to have a failed idempotent call retried: how many times (at most
/// `MAX_RETRIES`). Without it a call is made once, as the caller sent it.
pub(crate) const RETRY_HEADER: &str = "connector-hub-retries";
pub(crate) const MAX_RETRIES: u32 = 3;

/// The hub tokens a request may carry, where each provider's SDK puts its key: `Authorization:
/// Bearer` (Stripe, Square, HubSpot, Xero, QuickBooks, Google, Sage), `X-Shopify-Access-Token`
/// (Shopify), and either half of HTTP Basic (WooCommerce's consumer key and secret). Never the
/// session cookie: a page on another site cannot make a browser call the proxy as its user.
pub(crate) fn caller_tokens(headers: &HeaderMap) -> Vec<String> {
    let mut tokens = Vec::new();
    if let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value, ""));
        if scheme.eq_ignore_ascii_case("bearer") {
            tokens.push(rest.trim().to_owned());
        } else if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()
                .and_then(|d| String::from_utf8(d).ok());
            if let Some((user, password)) = decoded.as_deref().and_then(|d| d.split_once(':')) {
                tokens.extend([user, password].map(str::to_owned));
            }
        }
    }
    if let Some(value) = headers
        .get("x-shopify-access-token")
        .and_then(|v| v.to_str().ok())
    {
        tokens.push(value.trim().to_owned());
    }
    tokens.retain(|t| !t.is_empty());
    tokens
}

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1), and its length
/// (each leg frames the body anew; the answer may change length when a secret is taken out):
/// never passed on, either way.
const PER_CONNECTION: [&str; 8] = [
    "content-length",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The caller's headers that go on to the provider, by name: what describes the request and its
/// content, conditional reads, idempotency keys, and the providers' own version and
/// account headers. Anything else stays behind — the caller's credentials and cookies, its
/// forwarding trail and the address headers a CDN adds (`CF-Connecting-IP`, `True-Client-IP`),
/// an auth proxy's tokens (`X-Auth-Request-Access-Token`) — and `Accept-Encoding` above all, so
/// the provider answers uncompressed and the answer can be scrubbed as it streams. `Range` too:
/// an echo cut into ranges would hand a secret back a piece at a time, each too short to find.
const FORWARDED: [&str; 15] = [
    "accept",
    "accept-language",
    "cache-control",
    "content-disposition",
    "content-language",
    "content-type",
    "idempotency-key",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-unmodified-since",
    "prefer",
    "user-agent",
    // Sage's business, Xero's organisation (the connector's own is set over it where it has one).
    "x-business",
    "xero-tenant-id",
];

/// Provider header families SDKs send: Stripe's version, account and client headers, Square's
/// version, Google's API client headers.
const FORWARDED_PREFIXES: [&str; 4] = ["stripe-", "x-stripe-", "square-", "x-goog-api-"];

/// The caller's headers that go on to the provider.
pub(crate) fn forwarded(headers: &HeaderMap) -> HeaderMap {
    filtered(headers, |name| {
        !(FORWARDED.contains(&name) || FORWARDED_PREFIXES.iter().any(|p| name.starts_with(p)))
    })
}

/// Cookies the provider would set on the hub's callers, and its authentication challenges, stay
/// behind.
const NOT_RETURNED: [&str; 3] = ["set-cookie", "www-authenticate", "proxy-authenticate"];

/// The provider's headers that go back to the caller, each value scrubbed of the connector's
/// secrets (a redirect's `Location` or a `Link` may carry the query the hub sent), and marked so
/// that a browser never runs what the provider sent as the hub's own page: a proxied answer
/// is served from the hub's origin.
pub(crate) fn returned(headers: &HeaderMap, scrub: &Scrub) -> HeaderMap {
    let mut out = filtered(headers, |name| {
        NOT_RETURNED.contains(&name)
            || name == "content-security-policy"
            || name == "x-content-type-options"
    });
    for value in out.values_mut() {
        let mut bytes = value.as_bytes().to_vec();
        scrub.clean_bytes(&mut bytes);
        if bytes != value.as_bytes() {
            // `[redacted]` is visible ASCII: a value that was valid stays valid.
            *value = HeaderValue::from_bytes(&bytes)
                .unwrap_or_else(|_| HeaderValue::from_static("[redacted]"));
        }
    }
    out.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    out
}

fn filtered(headers: &HeaderMap, dropped: impl Fn(&str) -> bool) -> HeaderMap {
    // Connection may name further per-connection headers.
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .collect();
    let mut out = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let text = name.as_str();
        if dropped(text) || PER_CONNECTION.contains(&text) || named.iter().any(|n| n == text) {
            continue;
        }
        out.append(HeaderName::clone(name), value.clone());
    }
    out
}

/// Whether a method may be sent twice without doing twice what it does (RFC 9110 §9.2.2).
pub(crate) fn idempotent(method: &http::Method) -> bool {
    use http::Method;
    [
        Method::GET,
        Method::HEAD,
        Method::OPTIONS,
        Method::PUT,
        Method::DELETE,
    ]
    .contains(method)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_tokens_are_found_where_each_sdk_puts_its_key() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer hub.jwt"),
        );
        assert_eq!(caller_tokens(&h), ["hub.jwt"]);
        let basic = base64::engine::general_purpose::STANDARD.encode("ck_user:hub.jwt");
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {basic}")).expect("header"),
        );
        assert_eq!(caller_tokens(&h), ["ck_user", "hub.jwt"]);
        let mut shopify = HeaderMap::new();
        shopify.insert(
            "x-shopify-access-token",
            HeaderValue::from_static("hub.jwt"),
        );
        assert_eq!(caller_tokens(&shopify), ["hub.jwt"]);
        let mut cookie = HeaderMap::new();
        cookie.insert(
            header::COOKIE,
            HeaderValue::from_static("ch_session=hub.jwt"),
        );
        assert!(caller_tokens(&cookie).is_empty(), "never the cookie");
    }

    #[test]
    fn credentials_and_connection_headers_stay_behind() {
        let mut h = HeaderMap::new();
        for (name, value) in [
            ("authorization", "Bearer hub.jwt"),
            ("cookie", "a=b"),
            ("x-forwarded-for", "10.0.0.1"),
            ("connection", "keep-alive, x-hop"),
            ("x-hop", "1"),
            ("accept-encoding", "gzip"),
            ("cf-connecting-ip", "203.0.113.9"),
            ("true-client-ip", "203.0.113.9"),
            ("x-auth-request-access-token", "oidc.jwt"),
            ("host", "attacker.example"),
            ("stripe-version", "2024-06-20"),
            ("idempotency-key", "k1"),
            ("x-stripe-client-user-agent", "{}"),
        ] {
            h.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        let out = forwarded(&h);
        let names: Vec<&str> = out.keys().map(HeaderName::as_str).collect();
        assert_eq!(
            names,
            [
                "stripe-version",
                "idempotency-key",
                "x-stripe-client-user-agent"
            ]
        );
        let mut answer = HeaderMap::new();
        answer.insert("set-cookie", HeaderValue::from_static("s=1"));
        answer.insert("www-authenticate", HeaderValue::from_static("Bearer"));
        answer.insert("request-id", HeaderValue::from_static("req_1"));
        answer.insert(
            "location",
            HeaderValue::from_static("/items/?x=1&api_key=k3y%2BCANARY42"),
        );
        answer.insert("content-security-policy", HeaderValue::from_static("none"));
        let back = returned(&answer, &Scrub::of(["k3y+CANARY42".to_owned()]));
        assert_eq!(
            back.keys().map(HeaderName::as_str).collect::<Vec<_>>(),
            [
                "request-id",
                "location",
                "content-security-policy",
                "x-content-type-options"
            ]
        );
        assert_eq!(back["location"], "/items/?x=1&api_key=[redacted]");
        assert_eq!(back["content-security-policy"], "sandbox");
        assert_eq!(back["x-content-type-options"], "nosniff");
    }
}
