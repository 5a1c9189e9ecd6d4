//! `POST /api/try`: a call tried from the API page (`/api`). The page's form posts the method, the
//! path and a JSON body; the call runs in-process against the REST router as the signed-in user —
//! their own session cookie, nothing more — and the answer comes back as a small page of its own
//! (the form opens it in a new tab). A plain form: no script, nothing added to the browser bundle.

use super::extract::{body_error, client_addr, query_map, Authenticated};
use super::html::escape;
use super::http_error::HttpError;
use super::state::AppState;
use crate::error::{Error, ErrorCode};
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use http::request::Parts;
use http::{header, HeaderValue, Method};
use std::net::SocketAddr;
use tower::ServiceExt;

/// Longest body a tried call sends, and longest answer shown.
const MAX_BODY: usize = 64 * 1024;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/api/try", post(try_call))
}

async fn try_call(
    State(state): State<AppState>,
    Authenticated(_principal): Authenticated,
    parts: Parts,
    form: Result<Bytes, BytesRejection>,
) -> Response {
    let form = match form {
        Ok(form) => query_map(Some(String::from_utf8_lossy(&form).into_owned())),
        Err(rejection) => return body_error(rejection).into_response(),
    };
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    match call(state, &parts, field("method"), field("path"), field("body")).await {
        Ok((status, body)) => answer_page(field("method"), field("path"), status, &body),
        Err(error) => HttpError::from(error).into_response(),
    }
}

async fn call(
    state: AppState,
    parts: &Parts,
    method: &str,
    path: &str,
    body: &str,
) -> Result<(u16, String), Error> {
    let refuse = |field: &str, message: &str| {
        Error::new(ErrorCode::InvalidRequest, message).with_field(field)
    };
    let method = match method {
        "GET" => Method::GET,
        "POST" => Method::POST,
        "PATCH" => Method::PATCH,
        "DELETE" => Method::DELETE,
        _ => return Err(refuse("method", "Only GET, POST, PATCH and DELETE.")),
    };
    // Only this API's own paths: the call never leaves the process.
    if !path.starts_with("/v1/") || path.len() > 2000 || path.contains("://") {
        return Err(refuse("path", "Try a /v1 path of this API."));
    }
    if body.len() > MAX_BODY {
        return Err(refuse("body", "The body is larger than 64 KB."));
    }
    let mut request = http::Request::builder().method(method).uri(path);
    // The caller's own session, exactly as their browser sent it here; nothing else.
    for name in [header::COOKIE, header::USER_AGENT] {
        if let Some(value) = parts.headers.get(&name) {
            request = request.header(name, value);
        }
    }
    if !body.trim().is_empty() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let mut request = request
        .body(Body::from(body.to_owned()))
        .map_err(|_| refuse("path", "That is not a valid path."))?;
    if let Some(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
        request.extensions_mut().insert(*peer);
    }
    let response = super::rest::router()
        .with_state(state)
        .oneshot(request)
        .await
        .map_err(|_| Error::from_code(ErrorCode::Internal))?;
    let status = response.status().as_u16();
    let text = match axum::body::to_bytes(response.into_body(), MAX_BODY).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => "(The answer is larger than 64 KB: call the API directly to see it.)".into(),
    };
    let shown = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or(text);
    tracing::debug!(client = %client_addr(parts), status, "API call tried from the API page");
    Ok((status, shown))
}

/// The answer, escaped: it can hold whatever a tenant typed into a name.
fn answer_page(method: &str, path: &str, status: u16, body: &str) -> Response {
    let main = format!(
        r#"<main class="mx-auto max-w-4xl p-6" data-testid="api-answer">
<p class="font-mono text-sm text-slate-600">{method} {path}</p>
<h1 class="mt-1 text-xl font-semibold">Answered <span class="font-mono">{status}</span></h1>
<pre class="mt-4 overflow-auto rounded-lg bg-slate-900 p-4 text-xs text-slate-100">{body}</pre>
<p class="mt-4"><a class="text-indigo-700 underline" href="/api">Back to the API reference</a></p>
</main>"#,
        method = escape(method),
        path = escape(path),
        body = escape(body),
    );
    let page = super::html::page(&format!("{method} {path}"), &main);
    let mut response = Html(page).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
