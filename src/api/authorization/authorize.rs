//! `GET /oauth/authorize`: the consent page a signed-in person is shown when an application asks
//! to act in their name through `/mcp` (someone not signed in is sent to sign in, and back);
//! `POST /oauth/authorize`: their answer, Allow or Deny. Plain server-written HTML that works
//! without scripts, everything from the request escaped; errors before the client's redirect
//! URI is trusted are shown here, never redirected.

use super::no_store;
use crate::api::extract::{authenticate, body_error, client_addr, query_map};
use crate::api::html::{escape, page as html_page};
use crate::api::state::AppState;
use crate::service::{AgentAuth, AuthorizeRequest, Caller, Consent, Refusal};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use http::request::Parts;
use http::StatusCode;

/// The signed-in person, if any (a session cookie; a bearer hub token also names one).
fn signed_in(state: &AppState, parts: &Parts) -> Option<Caller> {
    authenticate(state, &parts.headers)
        .ok()
        .map(|principal| Caller::new(principal, client_addr(parts)))
}

pub(super) async fn page(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    parts: Parts,
) -> Response {
    let Some(caller) = signed_in(&state, &parts) else {
        // Back here once signed in: the sign-in takes a `next` within the hub.
        let here = format!("{}?{}", super::AUTHORIZE_PATH, raw.unwrap_or_default());
        let next: String = form_urlencoded::byte_serialize(here.as_bytes()).collect();
        return Redirect::to(&format!("/signin?next={next}")).into_response();
    };
    let q = query_map(raw);
    let field = |name: &str| q.get(name).cloned();
    let request = AuthorizeRequest {
        response_type: field("response_type"),
        client_id: field("client_id"),
        redirect_uri: field("redirect_uri"),
        code_challenge: field("code_challenge"),
        code_challenge_method: field("code_challenge_method"),
        state: field("state"),
        scope: field("scope"),
        resource: field("resource"),
    };
    match state.hub.agent_auth.prepare(&caller, &request).await {
        Ok(consent) => private(Html(consent_page(&consent)).into_response()),
        Err(refusal) => refused(refusal),
    }
}

pub(super) async fn answer(
    State(state): State<AppState>,
    parts: Parts,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return body_error(rejection).into_response(),
    };
    let Some(caller) = signed_in(&state, &parts) else {
        return refused(Refusal::Page(
            "You are not signed in to Connector Hub any more. Start again from the application."
                .to_owned(),
        ));
    };
    let form = query_map(Some(String::from_utf8_lossy(&body).into_owned()));
    let token = form
        .get("form_token")
        .map(String::as_str)
        .unwrap_or_default();
    let allow = match form.get("decision").map(String::as_str) {
        Some("allow") => true,
        Some("deny") => false,
        _ => {
            return refused(Refusal::Page(
                "Choose Allow or Deny on the consent page.".to_owned(),
            ))
        }
    };
    match state.hub.agent_auth.decide(&caller, token, allow).await {
        Ok(to) => private(Redirect::to(&to).into_response()),
        Err(refusal) => refused(refusal),
    }
}

/// A refusal: to the client's redirect URI once it is trusted, else a page saying what was wrong.
fn refused(refusal: Refusal) -> Response {
    match refusal {
        Refusal::Redirect(to) => private(Redirect::to(&to).into_response()),
        Refusal::Page(message) => {
            let main = format!(
                r#"<main class="mx-auto mt-24 max-w-md rounded-lg bg-white p-8 shadow">
<h1 class="text-xl font-semibold">This request cannot be answered</h1>
<p class="mt-3 text-slate-600" data-testid="authorize-error">{}</p>
<a href="/" class="mt-6 inline-block rounded px-4 py-2 text-slate-600">Back to Connector Hub</a>
</main>"#,
                escape(&message)
            );
            private(
                (
                    StatusCode::BAD_REQUEST,
                    Html(html_page("Authorization refused", &main)),
                )
                    .into_response(),
            )
        }
    }
}

fn private(mut response: Response) -> Response {
    no_store(&mut response);
    response
}

/// What each scope lets the application do, in plain words.
fn scope_words(scope: &str) -> &'static str {
    match scope {
        "mcp:read" => "See your organisation's connectors, read their synced data, and make read-only calls to the connected services",
        "mcp:write" => "Change data in the connected services (any API call) and start syncs",
        _ => "An unknown permission",
    }
}

/// The consent page: who asks, where the answer goes, what they may do; Allow or Deny.
fn consent_page(consent: &Consent) -> String {
    let scopes: String = consent
        .scopes
        .iter()
        .map(|s| {
            format!(
                r#"<li class="mt-1"><code class="rounded bg-slate-100 px-1">{}</code> — {}</li>"#,
                escape(s),
                escape(scope_words(s))
            )
        })
        .collect();
    let warning = if AgentAuth::writes(&consent.scopes) {
        r#"<p class="mt-3 text-amber-700">This includes changing data in your connected services.</p>"#
    } else {
        ""
    };
    let main = format!(
        r#"<main class="mx-auto mt-24 max-w-md rounded-lg bg-white p-8 shadow">
<h1 class="text-xl font-semibold">Allow <span data-testid="client-name">{name}</span> to use Connector Hub?</h1>
<p class="mt-3 text-slate-600"><span>{name}</span> asks to act in your name through Connector Hub's MCP server. After you answer you will be sent to <strong data-testid="redirect-host">{host}</strong>.</p>
<p class="mt-4 font-medium">It will be able to:</p>
<ul class="mt-1 list-disc pl-6 text-slate-700">{scopes}</ul>{warning}
<p class="mt-4 text-sm text-slate-500">Connector Hub never shows it your credentials. You can revoke it at any time on the Connected apps page.</p>
<form method="post" action="{action}" class="mt-6 flex gap-3">
<input type="hidden" name="form_token" value="{token}">
<button type="submit" name="decision" value="allow" data-testid="allow" class="rounded bg-indigo-600 px-4 py-2 font-medium text-white">Allow</button>
<button type="submit" name="decision" value="deny" data-testid="deny" class="rounded px-4 py-2 text-slate-600">Deny</button>
</form></main>"#,
        name = escape(&consent.client_name),
        host = escape(&consent.redirect_host),
        action = super::AUTHORIZE_PATH,
        token = escape(&consent.form_token),
    );
    html_page("Allow access", &main)
}
