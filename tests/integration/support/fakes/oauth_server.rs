//! OAuth2: one fake authorization server per provider path
//!
//! `/oauth/{provider}/authorize` shows a consent page (Allow / Deny) that redirects back with a
//! code; `/oauth/{provider}/token` exchanges codes (checking the client, the redirect URI and the
//! PKCE verifier) and refresh tokens (rotating them, or not, as told). Tests steer it through
//! `POST /oauth/_control` and read what it saw from `GET /oauth/_stats`.

use super::*;

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
    /// What the sign-in asked for, and the person allowed: what its tokens are granted.
    scope: String,
}

/// The scopes each token this fake issued was granted (tokens are random, so one map serves
/// every fake in the process). The providers' fakes refuse a call a token's scopes do not
/// cover, with the provider's own answer.
fn grants() -> &'static std::sync::Mutex<HashMap<String, String>> {
    static GRANTS: std::sync::OnceLock<std::sync::Mutex<HashMap<String, String>>> =
        std::sync::OnceLock::new();
    GRANTS.get_or_init(Default::default)
}

fn record_grant(token: &str, scope: &str) {
    grants()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(token.to_owned(), scope.to_owned());
}

/// The scopes `token` was granted, when this fake issued it.
pub fn granted(token: &str) -> Option<Vec<String>> {
    let grants = grants()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    grants.get(token).map(|scope| {
        scope
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    })
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
                scope: field("scope"),
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
    let scope;
    match grant.as_str() {
        "authorization_code" => {
            let Some(issued) = s.codes.remove(&field("code")) else {
                return oauth_error(400, "invalid_grant");
            };
            if issued.provider != provider || issued.redirect_uri != field("redirect_uri") {
                return oauth_error(400, "invalid_grant");
            }
            scope = issued.scope.clone();
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
            // A renewed token has what the sign-in was granted.
            scope = granted(&presented).unwrap_or_default().join(" ");
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
    record_grant(&access, &scope);
    let mut answer = json!({"access_token": access, "token_type": "Bearer"});
    // Only where the provider's token answer documents `scope`: HubSpot's, Square's and
    // Intuit's do not say what was granted.
    if !matches!(provider.as_str(), "hubspot" | "square" | "quickbooks") {
        answer["scope"] = json!(scope);
    }
    if refresh {
        let rt = format!("rt{n:04}{}{}", control.marker, random_alnum(16));
        record_grant(&rt, &scope);
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
        return super::xero::connections(headers).await;
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
        return super::sage::businesses(headers).await;
    }
    let items: Vec<_> = [("b1", "Acme Trading Ltd"), ("b2", "Acme Holdings Ltd")]
        .iter()
        .take(organisations(&state))
        .map(|(id, name)| json!({"id": id, "name": name, "displayed_as": name}))
        .collect();
    json_status(200, json!(items))
}

pub fn oauth_router() -> Router {
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
