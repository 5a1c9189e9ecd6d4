//! Fake provider APIs on 127.0.0.1, answering the way each provider's documentation says it
//! answers. The credential picks the scenario, as a real key would pick an account:
//! a credential containing `good` succeeds; `expired`, `noperm`, `ratelimit`, `down`, `html`,
//! `hang` and `empty` give those answers; anything else is an invalid credential.

use axum::extract::{Path, Query, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scenario {
    Good,
    Invalid,
    Expired,
    NoPermission,
    RateLimited,
    Down,
    Html,
    Hang,
    Empty,
}

pub fn scenario(credential: &str) -> Scenario {
    let c = credential.to_lowercase();
    if c.contains("expired") {
        Scenario::Expired
    } else if c.contains("noperm") {
        Scenario::NoPermission
    } else if c.contains("ratelimit") {
        Scenario::RateLimited
    } else if c.contains("down") {
        Scenario::Down
    } else if c.contains("html") {
        Scenario::Html
    } else if c.contains("hang") {
        Scenario::Hang
    } else if c.contains("empty") {
        Scenario::Empty
    } else if c.contains("good") {
        Scenario::Good
    } else {
        Scenario::Invalid
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_owned)
}

fn json_status(status: u16, body: serde_json::Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        Json(body),
    )
        .into_response()
}

fn html_page() -> Response {
    (
        StatusCode::OK,
        [("content-type", "text/html; charset=utf-8")],
        "<!doctype html><html><head><title>Log in</title></head><body><form>Sign in</form></body></html>",
    )
        .into_response()
}

async fn hang() -> Response {
    tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    StatusCode::OK.into_response()
}

/// Common answers for scenarios that look the same everywhere.
async fn common(s: Scenario) -> Option<Response> {
    match s {
        Scenario::RateLimited => Some(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "7")],
                Json(json!({"message": "Too many requests"})),
            )
                .into_response(),
        ),
        Scenario::Down => Some(json_status(503, json!({"message": "Service unavailable"}))),
        Scenario::Html => Some(html_page()),
        Scenario::Hang => Some(hang().await),
        _ => None,
    }
}

// ---- Stripe: GET /v1/balance ---------------------------------------------------------------
async fn stripe_balance(headers: HeaderMap) -> Response {
    let key = bearer(&headers).unwrap_or_default();
    let masked = format!(
        "{}****{}",
        &key.chars().take(8).collect::<String>(),
        key.chars().rev().take(4).collect::<String>()
    );
    let s = scenario(&key);
    if let Some(r) = common(s).await {
        return r;
    }
    match s {
        Scenario::Good => json_status(
            200,
            json!({
                "object": "balance", "livemode": key.contains("_live_"),
                "available": [{"amount": 0, "currency": "gbp", "source_types": {"card": 0}}],
                "pending": [{"amount": 0, "currency": "gbp", "source_types": {"card": 0}}]
            }),
        ),
        Scenario::Expired => json_status(
            401,
            json!({"error": {"type": "invalid_request_error", "message": format!("Expired API Key provided: {masked}")}}),
        ),
        Scenario::NoPermission => json_status(
            403,
            json!({"error": {"type": "invalid_request_error",
            "message": format!("The provided key '{masked}' does not have the required permissions for this endpoint on account 'acct_1'.")}}),
        ),
        _ => json_status(
            401,
            json!({"error": {"type": "invalid_request_error", "message": format!("Invalid API Key provided: {masked}")}}),
        ),
    }
}

// ---- Shopify: GET /{shop}/admin/api/{version}/shop.json ------------------------------------
async fn shopify_shop(
    Path((shop, _version)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !shop.starts_with("acme") {
        return json_status(404, json!({"errors": "Not Found"}));
    }
    let token = headers
        .get("x-shopify-access-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let s = scenario(token);
    if let Some(r) = common(s).await {
        return r;
    }
    match s {
        Scenario::Good => json_status(
            200,
            json!({"shop": {"id": 1, "name": "Acme Goods", "myshopify_domain": shop, "plan_name": "basic"}}),
        ),
        Scenario::NoPermission => json_status(
            403,
            json!({"errors": "[API] This action requires merchant approval for read_products scope."}),
        ),
        _ => json_status(
            401,
            json!({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}),
        ),
    }
}

// ---- Square: GET /v2/locations -------------------------------------------------------------
async fn square_locations(headers: HeaderMap) -> Response {
    if headers.get("square-version").is_none() {
        return json_status(
            400,
            json!({"errors": [{"category": "INVALID_REQUEST_ERROR", "code": "BAD_REQUEST"}]}),
        );
    }
    let token = bearer(&headers).unwrap_or_default();
    let s = scenario(&token);
    if let Some(r) = common(s).await {
        return r;
    }
    let error = |status: u16, category: &str, code: &str| {
        json_status(
            status,
            json!({"errors": [{"category": category, "code": code, "detail": "This request could not be authorized."}]}),
        )
    };
    match s {
        Scenario::Good => json_status(
            200,
            json!({"locations": [{"id": "L1", "name": "High Street", "business_name": "Acme Coffee", "status": "ACTIVE"}]}),
        ),
        Scenario::Expired => error(401, "AUTHENTICATION_ERROR", "ACCESS_TOKEN_EXPIRED"),
        Scenario::NoPermission => error(403, "AUTHENTICATION_ERROR", "INSUFFICIENT_SCOPES"),
        _ => error(401, "AUTHENTICATION_ERROR", "UNAUTHORIZED"),
    }
}

// ---- Xero: GET /connections ----------------------------------------------------------------
async fn xero_connections(headers: HeaderMap) -> Response {
    let token = bearer(&headers).unwrap_or_default();
    let s = scenario(&token);
    if let Some(r) = common(s).await {
        return r;
    }
    match s {
        Scenario::Good => json_status(200, json!([
            {"id": "c1", "tenantId": "t-uk", "tenantType": "ORGANISATION", "tenantName": "Demo Company (UK)"},
            {"id": "c2", "tenantId": "t-nz", "tenantType": "ORGANISATION", "tenantName": "Acme Ltd"}
        ])),
        Scenario::Empty => json_status(200, json!([])),
        Scenario::Expired => (
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", "Bearer error=\"invalid_token\", error_description=\"The token expired\"")],
            Json(json!({"Type": null, "Title": "Unauthorized", "Status": 401, "Detail": "TokenExpired: token expired at 11/24/2026 04:00:00"})),
        ).into_response(),
        Scenario::NoPermission => json_status(403, json!({"Type": null, "Title": "Forbidden", "Status": 403, "Detail": "AuthenticationUnsuccessful"})),
        _ => json_status(401, json!({"Type": null, "Title": "Unauthorized", "Status": 401, "Detail": "AuthenticationUnsuccessful"})),
    }
}

// ---- QuickBooks: GET /v3/company/{realm}/companyinfo/{realm} --------------------------------
async fn quickbooks_company(
    Path((realm, realm2)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let token = bearer(&headers).unwrap_or_default();
    let s = scenario(&token);
    if let Some(r) = common(s).await {
        return r;
    }
    let fault = |status: u16, code: &str, message: &str, detail: &str, kind: &str| {
        json_status(
            status,
            json!({"fault": {"error": [{"message": message, "detail": detail, "code": code}], "type": kind}, "time": "2026-11-24T04:00:00.000-08:00"}),
        )
    };
    match s {
        Scenario::Good if realm == realm2 && realm.starts_with("9130") => json_status(
            200,
            json!({
                "CompanyInfo": {"CompanyName": "Acme Books Inc", "Country": "US", "Id": "1"}, "time": "2026-11-24T04:00:00.000-08:00"
            }),
        ),
        Scenario::Good => fault(
            403,
            "3100",
            "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
            "",
            "AUTHORIZATION",
        ),
        Scenario::Expired => fault(
            401,
            "3200",
            "message=AuthenticationFailed; errorCode=003200; statusCode=401",
            "Token expired: eyJ…",
            "AUTHENTICATION",
        ),
        Scenario::NoPermission => fault(
            403,
            "3100",
            "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
            "",
            "AUTHORIZATION",
        ),
        _ => fault(
            401,
            "3200",
            "message=AuthenticationFailed; errorCode=003200; statusCode=401",
            "",
            "AUTHENTICATION",
        ),
    }
}

// ---- Sage: GET /v3.1/businesses -----------------------------------------------------------
async fn sage_businesses(headers: HeaderMap) -> Response {
    let token = bearer(&headers).unwrap_or_default();
    let s = scenario(&token);
    if let Some(r) = common(s).await {
        return r;
    }
    match s {
        Scenario::Good => json_status(
            200,
            json!([{"id": "b1", "name": "Acme Trading Ltd", "displayed_as": "Acme Trading Ltd"}]),
        ),
        Scenario::Empty => json_status(200, json!([])),
        Scenario::Expired => json_status(
            401,
            json!([{"$severity": "error", "$dataCode": "ExpiredToken", "$message": "The access token has expired"}]),
        ),
        Scenario::NoPermission => json_status(
            403,
            json!([{"$severity": "error", "$dataCode": "Forbidden", "$message": "Not allowed"}]),
        ),
        _ => json_status(
            401,
            json!([{"$severity": "error", "$dataCode": "InvalidToken", "$message": "Invalid token"}]),
        ),
    }
}

// ---- HubSpot: GET /crm/v3/objects/contacts?limit=1 ------------------------------------------
async fn hubspot_contacts(headers: HeaderMap) -> Response {
    let token = bearer(&headers).unwrap_or_default();
    let s = scenario(&token);
    if let Some(r) = common(s).await {
        return r;
    }
    let error = |status: u16, category: &str| {
        json_status(
            status,
            json!({"status": "error", "message": "Authentication credentials not found.", "correlationId": "c0ffee", "category": category}),
        )
    };
    match s {
        Scenario::Good => (
            [("x-hubspot-portal-id", "4242")],
            Json(json!({"results": [{"id": "1", "properties": {}}], "paging": null})),
        )
            .into_response(),
        Scenario::Expired => error(401, "EXPIRED_AUTHENTICATION"),
        Scenario::NoPermission => error(403, "MISSING_SCOPES"),
        _ => error(401, "INVALID_AUTHENTICATION"),
    }
}

// ---- Google Drive: GET /drive/v3/about?fields=user -------------------------------------------
async fn drive_about(Query(q): Query<HashMap<String, String>>, headers: HeaderMap) -> Response {
    if !q.contains_key("fields") {
        return json_status(
            400,
            json!({"error": {"code": 400, "message": "The 'fields' parameter is required for this method.", "status": "INVALID_ARGUMENT"}}),
        );
    }
    let token = bearer(&headers).unwrap_or_default();
    let s = scenario(&token);
    if let Some(r) = common(s).await {
        return r;
    }
    match s {
        Scenario::Good => json_status(
            200,
            json!({"user": {"kind": "drive#user", "displayName": "Ana Acme", "emailAddress": "ana@acme.test"}}),
        ),
        Scenario::NoPermission => json_status(
            403,
            json!({"error": {"code": 403, "message": "Request had insufficient authentication scopes.", "status": "PERMISSION_DENIED",
            "errors": [{"reason": "insufficientPermissions"}]}}),
        ),
        _ => json_status(
            401,
            json!({"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}}),
        ),
    }
}

// ---- WooCommerce: GET /wp-json/wc/v3/products ------------------------------------------------
async fn woo_products(headers: HeaderMap) -> Response {
    use base64::Engine;
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    let (key, secret) = basic.split_once(':').unwrap_or(("", ""));
    let s = scenario(secret);
    if let Some(r) = common(s).await {
        return r;
    }
    if !key.contains("good") {
        return json_status(
            401,
            json!({"code": "woocommerce_rest_authentication_error", "message": "Consumer key is invalid.", "data": {"status": 401}}),
        );
    }
    match s {
        Scenario::Good => json_status(200, json!([{"id": 1, "name": "Mug"}])),
        Scenario::NoPermission => json_status(
            401,
            json!({"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources.", "data": {"status": 401}}),
        ),
        _ => json_status(
            401,
            json!({"code": "woocommerce_rest_authentication_error", "message": "Consumer secret is invalid.", "data": {"status": 401}}),
        ),
    }
}

// ---- A generic REST API: GET /rest/... ---------------------------------------------------------
async fn rest_any(Query(q): Query<HashMap<String, String>>, request: Request) -> Response {
    let headers = request.headers();
    let path = request.uri().path().to_owned();
    if path.ends_with("/missing") {
        return json_status(404, json!({"error": "not found"}));
    }
    let presented = [
        headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        q.get("api_key").cloned(),
        bearer(headers),
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.starts_with("Basic "))
            .map(str::to_owned),
    ];
    let open = path.contains("/open");
    let credential = presented.into_iter().flatten().next();
    let s = match (&credential, open) {
        (_, true) => Scenario::Good,
        (Some(c), false) if c.starts_with("Basic ") => {
            use base64::Engine;
            let decoded = c
                .strip_prefix("Basic ")
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_default();
            scenario(&decoded)
        }
        (Some(c), false) => scenario(c),
        (None, false) => Scenario::Invalid,
    };
    if let Some(r) = common(s).await {
        return r;
    }
    match s {
        Scenario::Good => json_status(200, json!({"ok": true})),
        Scenario::NoPermission => json_status(403, json!({"error": "forbidden"})),
        _ => json_status(401, json!({"error": "unauthorized"})),
    }
}

pub fn router() -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/stripe/v1/balance", get(stripe_balance))
        .route(
            "/shopify/{shop}/admin/api/{version}/shop.json",
            get(shopify_shop),
        )
        .route("/square/v2/locations", get(square_locations))
        .route("/square-sandbox/v2/locations", get(square_locations))
        .route("/xero/connections", get(xero_connections))
        .route(
            "/quickbooks/v3/company/{realm}/companyinfo/{realm2}",
            get(quickbooks_company),
        )
        .route("/sage/v3.1/businesses", get(sage_businesses))
        .route("/hubspot/crm/v3/objects/contacts", get(hubspot_contacts))
        .route("/google/drive/v3/about", get(drive_about))
        .route("/woo/wp-json/wc/v3/products", get(woo_products))
        .route(
            "/woo-html/wp-json/wc/v3/products",
            get(|| async { html_page() }),
        )
        .route("/rest/{*rest}", get(rest_any))
}

/// Starts the fakes on `addr` (port 0 for any free port) and returns where they listen.
pub async fn start(addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, router()).await;
    });
    Ok(local)
}

/// The provider URL settings that point the server at fakes listening on `base`.
pub fn provider_env(base: &str) -> Vec<(String, String)> {
    [
        ("STRIPE", "/stripe"),
        ("SHOPIFY", "/shopify/{shop}"),
        ("SQUARE", "/square"),
        ("SQUARE_SANDBOX", "/square-sandbox"),
        ("XERO", "/xero"),
        ("QUICKBOOKS", "/quickbooks"),
        ("SAGE", "/sage"),
        ("HUBSPOT", "/hubspot"),
        ("GOOGLE_DRIVE", "/google"),
    ]
    .into_iter()
    .map(|(name, path)| {
        (
            format!("CONNECTOR_HUB_PROVIDER_{name}_URL"),
            format!("{base}{path}"),
        )
    })
    .collect()
}
