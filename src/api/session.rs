//! Browser sessions: trading a token for the HttpOnly session cookie, and signing out.
//!
//! A session is only ever started by a same-origin request. A link from elsewhere (another site,
//! an e-mail, the address bar) shows a page that asks the person to continue, and continuing is a
//! same-origin POST: otherwise an attacker could sign a victim into the attacker's tenant with a
//! link, and whatever the victim then connected would land there.

use crate::api::extract::client_addr;
use crate::api::extract::same_origin_evidence;
use crate::api::extract::{body_error, query_map};
use crate::api::state::AppState;
use crate::auth::{principal_tag, SessionCookies};
use crate::error::Error;
use crate::model::AuditAction;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use http::request::Parts;
use http::{header, HeaderName, HeaderValue};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/session", get(sign_in_link).post(sign_in))
        .route("/session/logout", post(sign_out))
}

/// `GET /session?token=<JWT>`: signs in at once when the browser says the link was followed
/// from one of our own pages; from anywhere else, asks first.
async fn sign_in_link(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
    parts: Parts,
) -> Response {
    let mut q = query_map(q);
    let token = q.remove("token").unwrap_or_default();
    let next = safe_next(q.get("next").map(String::as_str));
    if same_origin_evidence(&parts.headers, &state.settings.public_url) {
        return start_session(&state, &token, &parts, next).await;
    }
    if state.auth.verify(&token).is_none() {
        return refused(&state, &parts).await;
    }
    let mut response = Html(continue_page(&token, next)).into_response();
    private(&mut response);
    response
}

/// `POST /session` (form field `token`): the "Continue" of the page above. Only a same-origin
/// form may post it.
async fn sign_in(
    State(state): State<AppState>,
    parts: Parts,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return body_error(rejection).into_response(),
    };
    if !same_origin_evidence(&parts.headers, &state.settings.public_url) {
        return refused(&state, &parts).await;
    }
    let mut form = query_map(Some(String::from_utf8_lossy(&body).into_owned()));
    let token = form.remove("token").unwrap_or_default();
    let next = safe_next(form.get("next").map(String::as_str));
    start_session(&state, &token, &parts, next).await
}

/// Where to go once signed in, when asked: only back to an MCP client's pending authorization
/// request (a path on this hub), so the parameter is no open redirect.
pub(crate) fn safe_next(next: Option<&str>) -> Option<&str> {
    next.filter(|n| {
        n.strip_prefix(crate::api::authorization::AUTHORIZE_PATH)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('?'))
            && !n.contains(['\\', '\r', '\n'])
    })
}

async fn refused(state: &AppState, parts: &Parts) -> Response {
    let error = state
        .hub
        .gate
        .refuse_anonymous(
            AuditAction::SignIn,
            Error::unauthenticated(),
            &client_addr(parts),
        )
        .await;
    let reason = if error.code == crate::error::ErrorCode::RateLimited {
        "rate_limited"
    } else {
        "invalid"
    };
    Redirect::to(&format!("/signin?error={reason}")).into_response()
}

/// Verifies the token, sets the session cookie, and redirects to `/` so the token leaves the
/// address bar and the history.
async fn start_session(
    state: &AppState,
    token: &str,
    parts: &Parts,
    next: Option<&str>,
) -> Response {
    let Some(principal) = state.auth.verify(token) else {
        return refused(state, parts).await;
    };
    let max_age = principal
        .expires_at
        .saturating_sub(crate::auth::now_secs())
        .min(state.settings.auth.session_hours * 3600);
    let names = SessionCookies::for_public_url(&state.settings.public_url);
    let secure = names.secure;
    let cookie = format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}",
        names.session
    );
    // Readable by scripts, and no credential: who is signed in, for the offline copy.
    let who = format!(
        "{}={}; Path=/; SameSite=Strict; Max-Age={max_age}{secure}",
        names.principal,
        principal_tag(&principal)
    );
    let mut response = Redirect::to(next.unwrap_or("/")).into_response();
    for cookie in [cookie, who] {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    private(&mut response);
    response
}

/// Neither cached nor passed on in a Referer: these pages carry a token.
fn private(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// A plain page (it must work before any script loads, and it is never framed: the server sends
/// `X-Frame-Options: DENY` on every response) asking the person to continue.
fn continue_page(token: &str, next: Option<&str>) -> String {
    let token = super::html::escape(token);
    let next = next
        .map(|n| {
            format!(
                r#"<input type="hidden" name="next" value="{}">"#,
                super::html::escape(n)
            )
        })
        .unwrap_or_default();
    let main = format!(
        r#"<main class="mx-auto mt-24 max-w-md rounded-lg bg-white p-8 shadow">
<h1 class="text-xl font-semibold">Continue signing in?</h1>
<p class="mt-3 text-slate-600">You followed a sign-in link to Connector Hub. Continue only if you asked for this link yourself: anything you connect afterwards is saved to the organisation the link signs you in to.</p>
<form method="post" action="/session" class="mt-6 flex gap-3">
<input type="hidden" name="token" value="{token}">{next}
<button type="submit" data-testid="continue-sign-in" class="rounded bg-indigo-600 px-4 py-2 font-medium text-white">Continue</button>
<a href="/" class="rounded px-4 py-2 text-slate-600">Cancel</a>
</form></main>"#
    );
    super::html::page("Continue signing in", &main)
}

async fn sign_out(State(state): State<AppState>) -> Response {
    let mut response = Redirect::to("/signin?signed_out=1").into_response();
    let names = SessionCookies::for_public_url(&state.settings.public_url);
    for name in [names.session, names.principal] {
        let cookie = format!(
            "{name}=; Path=/; SameSite=Strict; Max-Age=0{}",
            names.secure
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    // The browser's copies of the signed-in pages (the offline sources list) go with the session.
    response.headers_mut().insert(
        HeaderName::from_static("clear-site-data"),
        HeaderValue::from_static("\"cache\", \"storage\""),
    );
    response
}
