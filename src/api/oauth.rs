//! The browser side of OAuth2: `POST /oauth/start` sends the user to the provider's consent page;
//! the provider sends them back to `GET /oauth/callback`, which hands over to `GET /oauth/finish`.
//!
//! Why two hops back: the session cookie is `SameSite=Strict`, so the browser leaves it off the
//! provider's cross-site redirect. The callback answers with a page of ours that moves on to
//! `/oauth/finish`; that navigation starts on our own site and carries the cookie. The callback
//! itself trusts nothing and does nothing.
//!
//! Every outcome, including a declined consent or a replayed `state`, ends in the wizard with a
//! message, never on an error page.

use crate::api::extract::authenticate;
use crate::api::extract::client_addr;
use crate::api::extract::{body_error, query_map};
use crate::api::http_error::HttpError;
use crate::api::state::AppState;
use crate::service::Caller;
use crate::service::ProviderAnswer;
use crate::wizard::{Flow, SignIn};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use http::request::Parts;
use http::{header, HeaderValue};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/oauth/start", post(start))
        .route("/oauth/callback", get(callback))
        .route("/oauth/finish", get(finish))
}

/// Where a browser without a session goes: the sign-in page.
fn sign_in_first() -> Response {
    Redirect::to("/signin").into_response()
}

async fn start(
    State(state): State<AppState>,
    parts: Parts,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Ok(p) = authenticate(&state, &parts.headers) else {
        return sign_in_first();
    };
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return body_error(rejection).into_response(),
    };
    let form = query_map(Some(String::from_utf8_lossy(&body).into_owned()));
    let connector_type = form
        .get("connector_type")
        .map(String::as_str)
        .unwrap_or_default();
    let draft = form.get("draft").map(String::as_str);
    let caller = Caller::new(p, client_addr(&parts));
    let opened = Flow::open(&state.hub, &caller, connector_type, draft, None).await;
    let mut flow = match opened {
        Ok(flow) => flow,
        Err(error) => return HttpError::from(error).into_response(),
    };
    let target = match flow.authorize().await {
        Ok(provider_url) => provider_url,
        Err(error) => match flow.finish_sign_in(SignIn::Refused(error)).await {
            Ok(wizard_url) => wizard_url,
            Err(error) => return HttpError::from(error).into_response(),
        },
    };
    Redirect::to(&target).into_response()
}

/// The provider's redirect lands here; only the parameters we use are passed on.
async fn callback(RawQuery(q): RawQuery) -> Response {
    let q = query_map(q);
    let mut next = match reqwest::Url::parse("http://local/oauth/finish") {
        Ok(url) => url,
        Err(_) => return sign_in_first(),
    };
    {
        let mut pairs = next.query_pairs_mut();
        let passed_on = ["code", "state", "error"]
            .into_iter()
            .chain(crate::catalog::catalog().redirect_params());
        for key in passed_on {
            if let Some(value) = q.get(key) {
                pairs.append_pair(key, value);
            }
        }
    }
    let href = super::html::escape(&format!(
        "/oauth/finish?{}",
        next.query().unwrap_or_default()
    ));
    let page = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><meta http-equiv="refresh" content="0;url={href}"><title>Finishing sign-in…</title></head><body><p>Finishing sign-in… <a href="{href}">Continue</a></p></body></html>"#
    );
    let mut response = Html(page).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

async fn finish(State(state): State<AppState>, parts: Parts, RawQuery(q): RawQuery) -> Response {
    let Ok(p) = authenticate(&state, &parts.headers) else {
        return sign_in_first();
    };
    let q = query_map(q);
    let param = |name: &str| q.get(name).map(String::as_str);
    let answer = ProviderAnswer {
        state: param("state").unwrap_or_default(),
        code: param("code"),
        error: param("error"),
    };
    let caller = Caller::new(p, client_addr(&parts));
    let answer = state.hub.sign_in.oauth_finish(&caller, answer).await;
    let outcome = match answer.tokens {
        Ok(tokens) => SignIn::Tokens {
            tokens,
            redirect: crate::catalog::catalog()
                .redirect_params()
                .filter_map(|name| Some((name.to_owned(), q.get(name)?.clone())))
                .collect(),
        },
        Err(error) => SignIn::Refused(error),
    };
    let (connector_type, draft) = (answer.connector_type, answer.draft_id);
    let opened = Flow::open(&state.hub, &caller, &connector_type, draft.as_deref(), None).await;
    let mut flow = match opened {
        Ok(flow) => flow,
        Err(_) => return Redirect::to("/").into_response(),
    };
    match flow.finish_sign_in(outcome).await {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(error) => HttpError::from(error).into_response(),
    }
}
