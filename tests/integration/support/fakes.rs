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
        .route(
            "/quickbooks/v3/company/{realm}/companyinfo/{realm2}",
            get(quickbooks_company),
        )
        .route("/hubspot/crm/v3/objects/contacts", get(hubspot_contacts))
        .route("/google/drive/v3/about", get(drive_about))
        .route("/woo/wp-json/wc/v3/products", get(woo_products))
        .route(
            "/woo-html/wp-json/wc/v3/products",
            get(|| async { html_page() }),
        )
        .route("/rest/{*rest}", get(rest_any))
        .merge(oauth_router())
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

// ---- OAuth2: one fake authorization server per provider path --------------------------------
//
// `/oauth/{provider}/authorize` shows a consent page (Allow / Deny) that redirects back with a
// code; `/oauth/{provider}/token` exchanges codes (checking the client, the redirect URI and the
// PKCE verifier) and refresh tokens (rotating them, or not, as told). Tests steer it through
// `POST /oauth/_control` and read what it saw from `GET /oauth/_stats`.

/// The client registration the fake accepts for `provider`.
pub fn oauth_client(provider: &str) -> (String, String) {
    (format!("client-{provider}"), format!("secret-{provider}"))
}

#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct OAuthControl {
    /// Refresh answers carry a new refresh token (and the old one dies).
    pub rotate: bool,
    /// Refresh answers carry no refresh token at all.
    pub omit_refresh_token: bool,
    /// Lifetime of issued access tokens.
    pub expires_in: i64,
    /// Delay before answering a refresh (lets concurrent refreshers overlap).
    pub refresh_delay_ms: u64,
    /// Added to every issued token (canary tests).
    pub marker: String,
    /// How many Xero organisations / Sage businesses a token reaches.
    pub organisations: usize,
}

impl Default for OAuthControl {
    fn default() -> Self {
        Self {
            rotate: true,
            omit_refresh_token: false,
            expires_in: 1800,
            refresh_delay_ms: 0,
            marker: String::new(),
            organisations: 2,
        }
    }
}

struct IssuedCode {
    provider: String,
    redirect_uri: String,
    challenge: Option<String>,
}

#[derive(Default)]
struct OAuthServer {
    control: OAuthControl,
    codes: HashMap<String, IssuedCode>,
    /// Live refresh tokens, by token, with their provider.
    refresh_tokens: HashMap<String, String>,
    issued: u64,
    stats: std::collections::BTreeMap<String, u64>,
}

type OAuthState = std::sync::Arc<std::sync::Mutex<OAuthServer>>;

fn oauth_lock(state: &OAuthState) -> std::sync::MutexGuard<'_, OAuthServer> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn random_alnum(n: usize) -> String {
    use rand::Rng;
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

async fn oauth_authorize(
    Path(provider): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    consent_page(&provider, &q)
}

async fn shopify_authorize(
    Path(_shop): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    consent_page("shopify", &q)
}

fn consent_page(provider: &str, q: &HashMap<String, String>) -> Response {
    let (client_id, _) = oauth_client(provider);
    let param = |k: &str| q.get(k).cloned().unwrap_or_default();
    if param("client_id") != client_id || param("redirect_uri").is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            "invalid_request: unknown client or missing redirect_uri",
        )
            .into_response();
    }
    let hidden: String = [
        "redirect_uri",
        "state",
        "code_challenge",
        "code_challenge_method",
        "scope",
    ]
    .iter()
    .map(|k| {
        format!(
            r#"<input type="hidden" name="{k}" value="{}">"#,
            html_escape(&param(k))
        )
    })
    .collect();
    let page = format!(
        r#"<!doctype html><html><head><title>Sign in to {provider}</title></head><body>
<h1>Fake {provider} wants to know</h1><p>Connector Hub asks to read your data ({scope}).</p>
<form method="post" action="/oauth/{provider}/decide">{hidden}
<button name="decision" value="allow">Allow access</button>
<button name="decision" value="deny">Deny</button></form></body></html>"#,
        scope = html_escape(&param("scope"))
    );
    (
        StatusCode::OK,
        [("content-type", "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}

async fn oauth_decide(
    axum::extract::State(state): axum::extract::State<OAuthState>,
    Path(provider): Path<String>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let field = |k: &str| form.get(k).cloned().unwrap_or_default();
    let Ok(mut back) = reqwest::Url::parse(&field("redirect_uri")) else {
        return (StatusCode::BAD_REQUEST, "invalid redirect_uri").into_response();
    };
    if field("decision") == "allow" {
        let code = format!("code{}", random_alnum(24));
        let challenge = Some(field("code_challenge")).filter(|c| !c.is_empty());
        oauth_lock(&state).codes.insert(
            code.clone(),
            IssuedCode {
                provider: provider.clone(),
                redirect_uri: field("redirect_uri"),
                challenge,
            },
        );
        back.query_pairs_mut().append_pair("code", &code);
        if provider == "quickbooks" {
            back.query_pairs_mut()
                .append_pair("realmId", "9130355478302457");
        }
    } else {
        back.query_pairs_mut().append_pair("error", "access_denied");
    }
    back.query_pairs_mut().append_pair("state", &field("state"));
    (StatusCode::SEE_OTHER, [("location", back.to_string())]).into_response()
}

fn oauth_error(status: u16, error: &str) -> Response {
    json_status(status, json!({"error": error}))
}

async fn oauth_token(
    axum::extract::State(state): axum::extract::State<OAuthState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    token_endpoint(state, provider, headers, body).await
}

async fn shopify_token(
    axum::extract::State(state): axum::extract::State<OAuthState>,
    Path(_shop): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    token_endpoint(state, "shopify".into(), headers, body).await
}

async fn token_endpoint(
    state: OAuthState,
    provider: String,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    use base64::Engine;
    let json_body = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let fields: HashMap<String, String> = if json_body {
        serde_json::from_slice(&body).unwrap_or_default()
    } else {
        reqwest::Url::parse(&format!("http://f/?{}", String::from_utf8_lossy(&body)))
            .map(|u| u.query_pairs().into_owned().collect())
            .unwrap_or_default()
    };
    let field = |k: &str| fields.get(k).cloned().unwrap_or_default();
    // Client authentication: HTTP Basic or the body, as the provider documents.
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(a, b)| (a.to_owned(), b.to_owned())));
    let presented = basic.unwrap_or_else(|| (field("client_id"), field("client_secret")));
    if presented != oauth_client(&provider) {
        return oauth_error(401, "invalid_client");
    }
    let grant = field("grant_type");
    let delay = {
        let mut s = oauth_lock(&state);
        *s.stats.entry(format!("{grant}:{provider}")).or_default() += 1;
        if grant == "refresh_token" {
            s.control.refresh_delay_ms
        } else {
            0
        }
    };
    tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    let mut s = oauth_lock(&state);
    let control = s.control.clone();
    let mut refresh = true;
    match grant.as_str() {
        "authorization_code" => {
            let Some(issued) = s.codes.remove(&field("code")) else {
                return oauth_error(400, "invalid_grant");
            };
            if issued.provider != provider || issued.redirect_uri != field("redirect_uri") {
                return oauth_error(400, "invalid_grant");
            }
            if let Some(challenge) = issued.challenge {
                use sha2::Digest;
                let verifier = field("code_verifier");
                let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(sha2::Sha256::digest(verifier.as_bytes()));
                if verifier.is_empty() || computed != challenge {
                    *s.stats.entry("pkce_mismatch".into()).or_default() += 1;
                    return oauth_error(400, "invalid_grant");
                }
                *s.stats.entry("pkce_verified".into()).or_default() += 1;
            }
        }
        "refresh_token" => {
            let presented = field("refresh_token");
            if s.refresh_tokens.get(&presented) != Some(&provider) {
                return oauth_error(400, "invalid_grant");
            }
            if control.omit_refresh_token {
                refresh = false;
            } else if control.rotate {
                s.refresh_tokens.remove(&presented);
            } else {
                refresh = false;
            }
        }
        _ => return oauth_error(400, "unsupported_grant_type"),
    }
    s.issued += 1;
    let n = s.issued;
    let prefix = if provider == "shopify" { "shpca_" } else { "" };
    let access = format!(
        "{prefix}goodoauth{n:04}{}{}",
        control.marker,
        random_alnum(12)
    );
    let mut answer = json!({"access_token": access, "token_type": "Bearer", "scope": "read"});
    if refresh {
        let rt = format!("rt{n:04}{}{}", control.marker, random_alnum(16));
        s.refresh_tokens.insert(rt.clone(), provider.clone());
        answer["refresh_token"] = json!(rt);
    }
    if provider == "square" {
        let at = chrono::Utc::now() + chrono::Duration::seconds(control.expires_in);
        answer["expires_at"] = json!(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    } else {
        answer["expires_in"] = json!(control.expires_in);
    }
    json_status(200, answer)
}

async fn oauth_control(
    axum::extract::State(state): axum::extract::State<OAuthState>,
    Json(control): Json<OAuthControl>,
) -> Response {
    oauth_lock(&state).control = control;
    StatusCode::NO_CONTENT.into_response()
}

async fn oauth_revoke(axum::extract::State(state): axum::extract::State<OAuthState>) -> Response {
    oauth_lock(&state).refresh_tokens.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn oauth_stats(axum::extract::State(state): axum::extract::State<OAuthState>) -> Response {
    let s = oauth_lock(&state);
    Json(json!({"stats": s.stats, "live_refresh_tokens": s.refresh_tokens.len()})).into_response()
}

/// Organisations (Xero) and businesses (Sage) for tokens the fake issued.
fn organisations(state: &OAuthState) -> usize {
    oauth_lock(state).control.organisations
}

async fn xero_connections_oauth(
    axum::extract::State(state): axum::extract::State<OAuthState>,
    headers: HeaderMap,
) -> Response {
    let token = bearer(&headers).unwrap_or_default();
    if !token.contains("goodoauth") {
        return xero_connections(headers).await;
    }
    let orgs: Vec<_> = [
        ("t-uk", "Demo Company (UK)"),
        ("t-nz", "Acme Ltd"),
        ("t-au", "Koala Trading Pty"),
    ]
    .iter()
    .take(organisations(&state))
    .enumerate()
    .map(|(i, (id, name))| json!({"id": format!("c{i}"), "tenantId": id, "tenantType": "ORGANISATION", "tenantName": name}))
    .collect();
    json_status(200, json!(orgs))
}

async fn sage_businesses_oauth(
    axum::extract::State(state): axum::extract::State<OAuthState>,
    headers: HeaderMap,
) -> Response {
    let token = bearer(&headers).unwrap_or_default();
    if !token.contains("goodoauth") {
        return sage_businesses(headers).await;
    }
    let items: Vec<_> = [("b1", "Acme Trading Ltd"), ("b2", "Acme Holdings Ltd")]
        .iter()
        .take(organisations(&state))
        .map(|(id, name)| json!({"id": id, "name": name, "displayed_as": name}))
        .collect();
    json_status(200, json!(items))
}

fn oauth_router() -> Router {
    let state = OAuthState::default();
    Router::new()
        .route("/oauth/{provider}/authorize", get(oauth_authorize))
        .route(
            "/oauth/{provider}/decide",
            axum::routing::post(oauth_decide),
        )
        .route("/oauth/{provider}/token", axum::routing::post(oauth_token))
        .route(
            "/shopify/{shop}/admin/oauth/authorize",
            get(shopify_authorize),
        )
        .route(
            "/shopify/{shop}/admin/oauth/access_token",
            axum::routing::post(shopify_token),
        )
        .route("/oauth/_control", axum::routing::post(oauth_control))
        .route("/oauth/_revoke", axum::routing::post(oauth_revoke))
        .route("/oauth/_stats", get(oauth_stats))
        .route("/xero/connections", get(xero_connections_oauth))
        .route("/sage/v3.1/businesses", get(sage_businesses_oauth))
        .with_state(state)
}

/// The OAuth2 settings that register the fake's clients and point every provider's OAuth2
/// endpoints at fakes listening on `base`.
pub fn oauth_env(base: &str) -> Vec<(String, String)> {
    let mut env = Vec::new();
    for provider in [
        "google_drive",
        "xero",
        "quickbooks",
        "sage",
        "shopify",
        "square",
        "hubspot",
    ] {
        let (id, secret) = oauth_client(provider);
        let upper = provider.to_uppercase();
        let (authorize, token) = if provider == "shopify" {
            (
                format!("{base}/shopify/{{shop}}/admin/oauth/authorize"),
                format!("{base}/shopify/{{shop}}/admin/oauth/access_token"),
            )
        } else {
            (
                format!("{base}/oauth/{provider}/authorize"),
                format!("{base}/oauth/{provider}/token"),
            )
        };
        for (name, value) in [
            ("CLIENT_ID", id),
            ("CLIENT_SECRET", secret),
            ("AUTHORIZE_URL", authorize),
            ("TOKEN_URL", token),
        ] {
            env.push((format!("CONNECTOR_HUB_OAUTH_{upper}_{name}"), value));
        }
    }
    env
}
