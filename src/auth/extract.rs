//! Getting a verified [`Principal`] out of a request, for REST handlers (an axum extractor) and for
//! server functions (which SSR calls in-process, past any router layer, so each one asks itself).

use super::{Principal, SESSION_COOKIE};
use crate::error::{ApiError, ErrorCode};
use crate::server::http_error::HttpError;
use crate::server::AppState;
use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{AUTHORIZATION, COOKIE, HOST, ORIGIN};
use http::request::Parts;
use http::{HeaderMap, Method};

/// Reads the bearer token or, failing that, the session cookie.
fn credential(headers: &HeaderMap) -> Option<(String, bool)> {
    if let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))?;
        return Some((token.trim().to_owned(), false));
    }
    session_cookie(headers).map(|token| (token, true))
}

pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

pub fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let (token, via_cookie) = credential(headers).ok_or_else(ApiError::unauthenticated)?;
    let mut principal = state
        .auth
        .verify(&token)
        .ok_or_else(ApiError::unauthenticated)?;
    principal.via_cookie = via_cookie;
    Ok(principal)
}

/// An authenticated REST caller. Handlers that take one cannot run unauthenticated.
pub struct Authenticated(pub Principal);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = HttpError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match authenticate(state, &parts.headers) {
            Ok(principal) => Ok(Self(principal)),
            Err(error) => {
                let client = crate::server::client_addr(parts);
                state
                    .service
                    .audit_refusal(None, "authenticate", &error, &client, parts.uri.path())
                    .await;
                Err(HttpError(error))
            }
        }
    }
}

/// For server functions: the caller's principal, from the request the server function serves.
pub async fn require_principal() -> Result<(AppState, Principal), ApiError> {
    let state = leptos::prelude::use_context::<AppState>()
        .ok_or_else(|| ApiError::from_code(ErrorCode::Internal))?;
    let parts: Parts = leptos::prelude::use_context().ok_or_else(ApiError::unauthenticated)?;
    match authenticate(&state, &parts.headers) {
        Ok(principal) => Ok((state, principal)),
        Err(error) => {
            let client = crate::server::client_addr(&parts);
            state
                .service
                .audit_refusal(None, "authenticate", &error, &client, parts.uri.path())
                .await;
            Err(error)
        }
    }
}

/// Refuses cross-site state-changing requests that a browser authenticates by cookie.
///
/// Requests with a bearer token are not at risk (a browser never adds one on its own). For the
/// rest, `Sec-Fetch-Site` must be `same-origin`, or `Origin` must match the host we serve.
pub async fn origin_guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let headers = request.headers();
    let bearer = headers.contains_key(AUTHORIZATION);
    if safe || bearer || same_origin(headers, &state.settings.public_url) {
        return next.run(request).await;
    }
    let error = ApiError::new(
        ErrorCode::Forbidden,
        "Cross-site requests are not allowed. Use Connector Hub from its own pages.",
    );
    let (parts, _) = request.into_parts();
    let client = crate::server::client_addr(&parts);
    let tenant = authenticate(&state, &parts.headers).ok();
    state
        .service
        .audit_refusal(
            tenant.as_ref(),
            "origin_check",
            &error,
            &client,
            parts.uri.path(),
        )
        .await;
    HttpError(error).into_response()
}

fn same_origin(headers: &HeaderMap, public_url: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "same-origin";
    }
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else {
        // Neither header: not a browser (browsers send Origin on every POST), so no ambient cookie
        // risk; but a cookie-authenticated call still has to prove it is not cross-site.
        return session_cookie(headers).is_none();
    };
    if origin == public_url {
        return true;
    }
    let host = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|rest| !host.is_empty() && rest == host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, v.parse().expect("header"));
        }
        map
    }

    #[test]
    fn origin_rules() {
        let public = "http://127.0.0.1:3000";
        assert!(same_origin(
            &headers(&[("sec-fetch-site", "same-origin")]),
            public
        ));
        assert!(!same_origin(
            &headers(&[("sec-fetch-site", "cross-site")]),
            public
        ));
        assert!(!same_origin(
            &headers(&[("sec-fetch-site", "same-site")]),
            public
        ));
        assert!(same_origin(
            &headers(&[("origin", "http://127.0.0.1:3000")]),
            public
        ));
        assert!(same_origin(
            &headers(&[
                ("origin", "http://hub.local:8080"),
                ("host", "hub.local:8080")
            ]),
            public
        ));
        assert!(!same_origin(
            &headers(&[("origin", "https://evil.example"), ("host", "hub.local")]),
            public
        ));
        assert!(!same_origin(
            &headers(&[("cookie", "ch_session=x")]),
            public
        ));
        assert!(same_origin(&headers(&[]), public));
    }

    #[test]
    fn cookie_parsing() {
        let h = headers(&[("cookie", "a=1; ch_session=tok.en.sig; b=2")]);
        assert_eq!(session_cookie(&h).as_deref(), Some("tok.en.sig"));
        assert_eq!(
            session_cookie(&headers(&[("cookie", "ch_sessionx=1")])),
            None
        );
    }
}
