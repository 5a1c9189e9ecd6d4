//! The hub as the OAuth 2.1 authorization server of its MCP server: the whole flow driven by the
//! official MCP Python SDK's OAuth client (discovery from the 401, registration, consent, PKCE,
//! `resource`, tokens, a tool call), and the rules over raw HTTP — PKCE and `resource` required,
//! codes single-use (a second use revokes what the first bought), refresh tokens rotated (a
//! reused one revokes the family), read-only tokens refused writes, MCP tokens refused by the
//! REST API and the proxy, revocation from the Connected apps page at once and only by its own
//! person, the consent page escaping what a client chose to be called.

use crate::oauth::get_json;
use crate::support::{spawn_app, TestApp};
use serde_json::{json, Value};
use std::path::Path;

mod consent;
mod tokens;

const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// A PKCE verifier and its S256 challenge.
fn pkce(seed: &str) -> (String, String) {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let verifier = hex::encode(Sha256::digest(format!(
        "{seed}-{:?}",
        std::time::Instant::now()
    )));
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

async fn register(app: &TestApp, body: Value) -> reqwest::Response {
    app.http
        .post(app.url("/oauth/register"))
        .json(&body)
        .send()
        .await
        .expect("register")
}

async fn client_id(app: &TestApp, name: &str) -> String {
    let r = register(app, json!({"client_name": name, "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"})).await;
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.expect("json");
    body["client_id"].as_str().expect("client_id").to_owned()
}

/// The authorization request's query, with `changes` over the good defaults (`None` drops one).
fn authorize_query(
    app: &TestApp,
    client: &str,
    challenge: &str,
    changes: &[(&str, Option<&str>)],
) -> String {
    let resource = app.url("/mcp");
    let mut fields: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", client),
        ("redirect_uri", REDIRECT),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("state", "st-1"),
        ("scope", "mcp:read"),
        ("resource", resource.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (name, value) in changes {
        fields.retain(|(k, _)| k != name);
        if let Some(v) = value {
            fields.push(((*name).to_owned(), (*v).to_owned()));
        }
    }
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &fields {
        q.append_pair(k, v);
    }
    q.finish()
}

async fn consent_page(app: &TestApp, cookie: &str, query: &str) -> reqwest::Response {
    app.http
        .get(app.url(&format!("/oauth/authorize?{query}")))
        .header("cookie", cookie)
        .send()
        .await
        .expect("authorize")
}

fn form_token(page: &str) -> String {
    let marker = r#"name="form_token" value=""#;
    let start = page.find(marker).expect("a consent form") + marker.len();
    let end = start + page[start..].find('"').expect("end");
    page[start..end]
        .replace("&amp;", "&")
        .replace("&quot;", "\"")
}

async fn answer(app: &TestApp, cookie: &str, token: &str, decision: &str) -> reqwest::Response {
    app.http
        .post(app.url("/oauth/authorize"))
        .header("cookie", cookie)
        .header("sec-fetch-site", "same-origin")
        .form(&[("form_token", token), ("decision", decision)])
        .send()
        .await
        .expect("answer")
}

/// The query of a redirect's `Location`.
fn location(r: &reqwest::Response) -> (String, std::collections::BTreeMap<String, String>) {
    let to = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let url = reqwest::Url::parse(&to).unwrap_or_else(|e| panic!("{to}: {e}"));
    let base = to.split('?').next().unwrap_or_default().to_owned();
    (base, url.query_pairs().into_owned().collect())
}

/// A code for `client` allowed by the person with `cookie`, with `scope`.
async fn code(app: &TestApp, cookie: &str, client: &str, challenge: &str, scope: &str) -> String {
    let page = consent_page(
        app,
        cookie,
        &authorize_query(app, client, challenge, &[("scope", Some(scope))]),
    )
    .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("page");
    let allowed = answer(app, cookie, &form_token(&html), "allow").await;
    assert_eq!(allowed.status(), 303, "{:?}", allowed.text().await);
    let (to, q) = location(&allowed);
    assert_eq!(to, REDIRECT);
    assert_eq!(q.get("state").map(String::as_str), Some("st-1"));
    q.get("code").expect("a code").clone()
}

async fn token(app: &TestApp, fields: &[(&str, &str)]) -> (u16, Value) {
    let r = app
        .http
        .post(app.url("/oauth/token"))
        .form(fields)
        .send()
        .await
        .expect("token");
    let status = r.status().as_u16();
    assert_eq!(
        r.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn exchange(app: &TestApp, client: &str, code: &str, verifier: &str) -> (u16, Value) {
    let resource = app.url("/mcp");
    token(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client),
            ("code", code),
            ("code_verifier", verifier),
            ("redirect_uri", REDIRECT),
            ("resource", &resource),
        ],
    )
    .await
}

async fn refresh(app: &TestApp, client: &str, refresh_token: &str) -> (u16, Value) {
    token(
        app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", client),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

/// Tokens for a new client of the person with `cookie`.
async fn tokens(app: &TestApp, cookie: &str, scope: &str) -> (String, Value) {
    let client = client_id(app, "Test agent").await;
    let (verifier, challenge) = pkce("t");
    let code = code(app, cookie, &client, &challenge, scope).await;
    let (status, body) = exchange(app, &client, &code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    (client, body)
}

/// One JSON-RPC call to `/mcp` with `bearer`: its HTTP status and its answer.
async fn rpc(app: &TestApp, bearer: &str, method: &str, params: Value) -> (u16, Value) {
    let r = app
        .http
        .post(app.url("/mcp"))
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2025-11-25")
        .bearer_auth(bearer)
        .json(&json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}))
        .send()
        .await
        .expect("mcp");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn tool(app: &TestApp, bearer: &str, name: &str, arguments: Value) -> Value {
    let (status, body) = rpc(
        app,
        bearer,
        "tools/call",
        json!({"name": name, "arguments": arguments}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["result"].clone()
}

/// A server function called as the page calls it, with the session cookie.
async fn server_fn(
    app: &TestApp,
    cookie: &str,
    name: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    app.http
        .post(app.url(&format!("/api/{name}")))
        .header("cookie", cookie)
        .header("sec-fetch-site", "same-origin")
        .header("accept", "application/json")
        .form(form)
        .send()
        .await
        .expect("server fn")
}

#[tokio::test]
async fn an_agent_gets_its_own_token_through_the_official_sdk_and_lists_connectors() {
    let app = spawn_app().await;
    let hub = app.token("acme", "ana@acme.test");
    let id = app
        .create(&hub, json!({"connector_type": "stripe", "display_name": "Payments", "config": {"api_key": "sk_test_good_oa1"}}))
        .await;
    let cookie = app.session_cookie(&hub).await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join("target/test-venv/bin/python");
    assert!(python.exists(), "run scripts/setup.sh --test");
    let out = tokio::process::Command::new(python)
        .arg(root.join("tests/integration/mcp_oauth_agent.py"))
        .args([&app.url("/mcp"), &cookie, "mcp:read"])
        .output()
        .await
        .expect("the agent runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the agent failed:\n{said}");
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {said}"));
    assert_eq!(seen["asked"]["code_challenge_method"], "S256", "{seen}");
    assert_eq!(
        seen["asked"]["resource"],
        app.url("/mcp").as_str(),
        "{seen}"
    );
    assert_eq!(seen["consent_status"], 200);
    assert_eq!(seen["redirected_to"], REDIRECT);
    assert_eq!(seen["iss"], app.base.as_str());
    // What the SDK asked for (it reads the scopes the resource's metadata lists) is granted.
    assert_eq!(seen["token_scope"], seen["asked"]["scope"], "{seen}");
    assert_eq!(seen["expires_in"], 3600);
    let listed = &seen["listed"];
    assert_eq!(listed["is_error"], false, "{listed}");
    let connectors = listed["structured"]["connectors"].as_array().expect("list");
    assert_eq!(connectors.len(), 1, "{listed}");
    assert_eq!(connectors[0]["connector_id"], id.as_str());

    // The token is for /mcp only: the REST API and the proxy refuse it, and /mcp takes it from
    // the Authorization header only.
    let access = seen["access_token"].as_str().expect("access token");
    assert_eq!(app.get("/v1/connectors", access).await.status(), 401);
    assert_eq!(
        app.get(&format!("/proxy/{id}/v1/customers"), access)
            .await
            .status(),
        401
    );
    let in_query = app
        .http
        .post(app.url(&format!("/mcp?access_token={access}")))
        .header("Accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .expect("mcp");
    assert_eq!(in_query.status(), 401);

    // The person sees the app on the Connected apps page, with its name and what it may do.
    let page = app
        .http
        .get(app.url("/apps"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("apps");
    let html = page.text().await.expect("page");
    assert!(
        html.contains("SDK agent") && html.contains("mcp:read") && html.contains("127.0.0.1"),
        "{html}"
    );

    // Audited, with no secret in any entry.
    let audit: Value = get_json(&app, "/v1/audit?limit=200", &hub).await;
    let text = audit.to_string();
    for action in ["agent_authorize", "agent_token"] {
        assert!(text.contains(action), "{action}: {text}");
    }
    // The agent's tool call names the tool and the app whose token made it.
    assert!(
        audit["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .any(|e| e["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with("mcp:list_connectors app:"))),
        "{text}"
    );
    for secret in [access, seen["refresh_token"].as_str().expect("refresh")] {
        assert!(!text.contains(secret));
    }
}

#[tokio::test]
async fn metadata_and_registration_follow_the_rfcs() {
    let app = spawn_app().await;
    let meta: Value = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("metadata")
        .json()
        .await
        .expect("json");
    assert_eq!(meta["issuer"], app.base.as_str());
    assert_eq!(meta["token_endpoint"], app.url("/oauth/token").as_str());
    assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        meta["token_endpoint_auth_methods_supported"],
        json!(["none"])
    );
    assert_eq!(meta["scopes_supported"], json!(["mcp:read", "mcp:write"]));
    assert_eq!(
        meta["grant_types_supported"],
        json!(["authorization_code", "refresh_token"])
    );

    for (body, error) in [
        (
            json!({"redirect_uris": ["http://evil.example/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://app.example/cb#x"]}),
            "invalid_redirect_uri",
        ),
        (json!({"redirect_uris": []}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_basic"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "client_name": "x".repeat(101)}),
            "invalid_client_metadata",
        ),
        (json!("not an object"), "invalid_client_metadata"),
    ] {
        let r = register(&app, body.clone()).await;
        assert_eq!(r.status(), 400, "{body}");
        let answer: Value = r.json().await.expect("json");
        assert_eq!(answer["error"], error, "{body}");
    }
    let r = register(
        &app,
        json!({"redirect_uris": ["https://app.example/cb", REDIRECT], "client_name": "Fine"}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let answer: Value = r.json().await.expect("json");
    assert_eq!(answer["token_endpoint_auth_method"], "none");
    assert!(answer["client_id"].as_str().expect("id").len() >= 32);
    assert!(answer.get("client_secret").is_none());
}

#[tokio::test]
async fn authorization_requests_need_pkce_a_resource_and_a_registered_redirect() {
    let app = spawn_app().await;
    let hub = app.token("acme", "ana@acme.test");
    let cookie = app.session_cookie(&hub).await;
    let client = client_id(&app, "Agent").await;
    let (_, challenge) = pkce("a");

    // Not signed in: off to sign in, and back here afterwards.
    let anonymous = app
        .http
        .get(app.url(&format!(
            "/oauth/authorize?{}",
            authorize_query(&app, &client, &challenge, &[])
        )))
        .send()
        .await
        .expect("authorize");
    assert_eq!(anonymous.status(), 303);
    let to = anonymous.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(
        to.starts_with("/signin?next=%2Foauth%2Fauthorize%3F"),
        "{to}"
    );

    // Before the redirect URI is trusted, errors are shown here, never redirected.
    for changes in [
        vec![("redirect_uri", Some("http://127.0.0.1:9/other"))],
        vec![("client_id", Some("mcpc_nobody"))],
        vec![("redirect_uri", None)],
    ] {
        let r = consent_page(
            &app,
            &cookie,
            &authorize_query(&app, &client, &challenge, &changes),
        )
        .await;
        assert_eq!(r.status(), 400, "{changes:?}");
        assert!(r.headers().get("location").is_none());
        assert!(r.text().await.expect("page").contains("authorize-error"));
    }
    // After, the client hears what was wrong at its redirect URI, with its state.
    let wrong_resource = app.url("/v1");
    for (changes, error) in [
        (vec![("code_challenge", None)], "invalid_request"),
        (
            vec![("code_challenge_method", Some("plain"))],
            "invalid_request",
        ),
        (vec![("code_challenge_method", None)], "invalid_request"),
        (vec![("resource", None)], "invalid_target"),
        (
            vec![("resource", Some(wrong_resource.as_str()))],
            "invalid_target",
        ),
        (vec![("scope", Some("mcp:read admin"))], "invalid_scope"),
        (
            vec![("response_type", Some("token"))],
            "unsupported_response_type",
        ),
    ] {
        let r = consent_page(
            &app,
            &cookie,
            &authorize_query(&app, &client, &challenge, &changes),
        )
        .await;
        assert_eq!(r.status(), 303, "{changes:?}");
        let (to, q) = location(&r);
        assert_eq!(to, REDIRECT);
        assert_eq!(
            q.get("error").map(String::as_str),
            Some(error),
            "{changes:?}"
        );
        assert_eq!(q.get("state").map(String::as_str), Some("st-1"));
        assert_eq!(q.get("iss").map(String::as_str), Some(app.base.as_str()));
    }
}

#[tokio::test]
async fn the_consent_page_escapes_the_client_name_and_each_form_is_answered_once() {
    let app = spawn_app().await;
    let hub = app.token("acme", "ana@acme.test");
    let cookie = app.session_cookie(&hub).await;
    let client = client_id(&app, "<script>alert(1)</script>Evil \"app\"").await;
    let (_, challenge) = pkce("c");
    let page = consent_page(
        &app,
        &cookie,
        &authorize_query(
            &app,
            &client,
            &challenge,
            &[("scope", Some("mcp:read mcp:write"))],
        ),
    )
    .await;
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let html = page.text().await.expect("page");
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;Evil &quot;app&quot;"),
        "{html}"
    );
    assert!(
        html.contains("127.0.0.1:9") && html.contains("mcp:write"),
        "{html}"
    );
    let form = form_token(&html);

    // Posted from another site: refused by the origin check.
    let cross = app
        .http
        .post(app.url("/oauth/authorize"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "cross-site")
        .form(&[("form_token", form.as_str()), ("decision", "allow")])
        .send()
        .await
        .expect("cross-site");
    assert_eq!(cross.status(), 403);
    // Answered by another person: refused.
    let other = app
        .session_cookie(&app.token("acme", "bob@acme.test"))
        .await;
    assert_eq!(answer(&app, &other, &form, "allow").await.status(), 400);
    // Deny: the client hears access_denied with its state.
    let denied = answer(&app, &cookie, &form, "deny").await;
    assert_eq!(denied.status(), 303);
    let (to, q) = location(&denied);
    assert_eq!(to, REDIRECT);
    assert_eq!(q.get("error").map(String::as_str), Some("access_denied"));
    assert_eq!(q.get("state").map(String::as_str), Some("st-1"));
    assert!(!q.contains_key("code"));
    // The same form again: refused, no code.
    let again = answer(&app, &cookie, &form, "allow").await;
    assert_eq!(again.status(), 400);
    assert!(again.headers().get("location").is_none());
    // A tampered form: refused.
    assert_eq!(
        answer(&app, &cookie, "gAAAAAtampered", "allow")
            .await
            .status(),
        400
    );
}
