//! Getting a verified [`Principal`] out of a request, for REST handlers (an axum extractor) and for
//! server functions (which SSR calls in-process, past any router layer, so each one asks itself).

use super::http_error::HttpError;
use super::state::AppState;
use crate::auth::{Principal, SessionCookies};
use crate::error::{ApiError, Error, ErrorCode};
use crate::ids::ConnectorId;
use crate::model::AuditAction;
use crate::service::Caller;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::ConnectInfo;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{AUTHORIZATION, COOKIE, HOST, ORIGIN};
use http::request::Parts;
use http::{HeaderMap, Method, StatusCode};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// Reads the bearer token or, failing that, the session cookie.
fn credential(headers: &HeaderMap, cookie_name: &str) -> Option<(String, bool)> {
    if let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))?;
        return Some((token.trim().to_owned(), false));
    }
    session_cookie(headers, cookie_name).map(|token| (token, true))
}

pub(crate) fn session_cookie(headers: &HeaderMap, cookie_name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == cookie_name)
        .map(|(_, value)| value.to_owned())
}

/// Whether the request carries any credential at all (valid or not).
pub(crate) fn has_credential(state: &AppState, headers: &HeaderMap) -> bool {
    credential(
        headers,
        SessionCookies::for_public_url(&state.settings.public_url).session,
    )
    .is_some()
}

pub(crate) fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Principal, Error> {
    let cookie_name = SessionCookies::for_public_url(&state.settings.public_url).session;
    let (token, via_cookie) =
        credential(headers, cookie_name).ok_or_else(Error::unauthenticated)?;
    let mut principal = state
        .auth
        .verify(&token)
        .ok_or_else(Error::unauthenticated)?;
    principal.via_cookie = via_cookie;
    Ok(principal)
}

/// An authenticated REST caller, with the address the request came from. Handlers that take one
/// cannot run unauthenticated.
pub(crate) struct Authenticated(pub Caller);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = HttpError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let client = client_addr(parts);
        match authenticate(state, &parts.headers) {
            Ok(principal) => Ok(Self(Caller::new(principal, client))),
            Err(error) => Err(state
                .hub
                .gate
                .refuse_anonymous(AuditAction::Authenticate, error, &client)
                .await
                .into()),
        }
    }
}

/// For server functions: the caller, from the request the server function serves.
pub(crate) async fn require_caller() -> Result<(AppState, Caller), ApiError> {
    let state = leptos::prelude::use_context::<AppState>()
        .ok_or_else(|| ApiError::from_code(ErrorCode::Internal))?;
    let parts: Parts = leptos::prelude::use_context().ok_or_else(ApiError::unauthenticated)?;
    match authenticate(&state, &parts.headers) {
        Ok(principal) => Ok((state, Caller::new(principal, client_addr(&parts)))),
        // A page viewed without signing in asks for what it would show a signed-in user (the
        // marketplace asks for the sources list): that is no refusal worth recording.
        Err(error) if !has_credential(&state, &parts.headers) => Err(error.into()),
        Err(error) => {
            let client = client_addr(&parts);
            Err(state
                .hub
                .gate
                .refuse_anonymous(AuditAction::Authenticate, error, &client)
                .await
                .into())
        }
    }
}

/// Refuses cross-site state-changing requests that a browser authenticates by cookie.
///
/// Requests with a bearer token are not at risk (a browser never adds one on its own). For the
/// rest, `Sec-Fetch-Site` must be `same-origin`, or `Origin` must match the host we serve.
pub(crate) async fn origin_guard(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let headers = request.headers();
    let bearer = headers.contains_key(AUTHORIZATION);
    // The MCP endpoint takes no cookie at all: an unauthenticated call there must meet its own
    // 401 challenge, which tells a browser-based agent how to get a token.
    // So do an MCP client's own calls to the authorization server (registration, token,
    // revocation): they take no cookie, and a browser-based client makes them cross-origin.
    let path = request.uri().path();
    let cookieless = path == super::mcp::MCP_PATH || super::authorization::is_cookieless(path);
    if safe || bearer || cookieless || same_origin(headers, &state.settings.public_url) {
        return next.run(request).await;
    }
    let error = Error::new(
        ErrorCode::Forbidden,
        "Cross-site requests are not allowed. Use Connector Hub from its own pages.",
    );
    let (parts, _) = request.into_parts();
    let client = client_addr(&parts);
    // Summarised like any refusal nobody signed in for: a cross-site page can send these
    // without limit, and each must not cost a durable write.
    let error = state
        .hub
        .gate
        .refuse_anonymous(AuditAction::OriginCheck, error, &client)
        .await;
    HttpError::from(error).into_response()
}

fn same_origin(headers: &HeaderMap, public_url: &str) -> bool {
    if headers.contains_key("sec-fetch-site") || headers.contains_key(ORIGIN) {
        return same_origin_evidence(headers, public_url);
    }
    // Neither header: not a browser (browsers send Origin on every POST), so no ambient cookie
    // risk; but a cookie-authenticated call still has to prove it is not cross-site.
    session_cookie(headers, SessionCookies::for_public_url(public_url).session).is_none()
}

/// Whether the browser says this request came from one of our own pages: `Sec-Fetch-Site:
/// same-origin`, or (browsers without it) an `Origin` that is ours. No header is no evidence.
pub(crate) fn same_origin_evidence(headers: &HeaderMap, public_url: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "same-origin";
    }
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
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

/// A connector id from outside (a server function's argument): one that is not an id names no
/// connector, and is answered like a connector that is not the caller's.
pub(crate) fn connector_id(text: &str) -> Result<ConnectorId, Error> {
    ConnectorId::parse(text).ok_or_else(Error::not_found)
}

/// The peer address of the connection (proxies' headers are not trusted).
pub(crate) fn client_addr(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The client's address as an extractor: what rate limits and audit entries name the caller by.
pub(crate) struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(client_addr(parts)))
    }
}

/// A JSON request body parsed into `T`, refused in our error shape. serde's messages can quote the
/// offending value (which may be a secret), so only its category and position are reported.
pub(crate) struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = HttpError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(body_error)?;
        parse_json(&bytes).map(Self)
    }
}

/// Like [`JsonBody`], for bodies that may be left out: an empty body is `T::default()`.
pub(crate) struct OptionalJsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = HttpError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(body_error)?;
        if bytes.trim_ascii().is_empty() {
            return Ok(Self(T::default()));
        }
        parse_json(&bytes).map(Self)
    }
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, HttpError> {
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        let what = match e.classify() {
            Category::Syntax | Category::Eof => "The body is not valid JSON",
            Category::Data => {
                "The body has a field of the wrong type, or is missing a required field"
            }
            Category::Io => "The body could not be read",
        };
        HttpError::from(Error::new(
            ErrorCode::InvalidRequest,
            format!("{what} (line {}, column {}).", e.line(), e.column()),
        ))
    })
}

/// The fields of a posted HTML form (`application/x-www-form-urlencoded`), in order; a field
/// may repeat (a group of checkboxes).
pub(crate) fn form_fields(form: &[u8]) -> Vec<(String, String)> {
    // A form body is a query string: the URL parser decodes it as browsers encode it.
    reqwest::Url::parse(&format!("http://form/?{}", String::from_utf8_lossy(form)))
        .map(|url| {
            url.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// A body that could not be read (too large, cut off), in our error shape.
pub(crate) fn body_error(rejection: BytesRejection) -> HttpError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        HttpError::from(Error::new(
            ErrorCode::PayloadTooLarge,
            "The request body is larger than this server accepts.",
        ))
    } else {
        HttpError::from(Error::new(
            ErrorCode::InvalidRequest,
            "The request body could not be read.",
        ))
    }
}

/// The query string's (or a form body's) parameters; a repeated name keeps its last value.
pub(crate) fn query_map(raw: Option<String>) -> BTreeMap<String, String> {
    let raw = raw.unwrap_or_default();
    reqwest::Url::parse(&format!("http://q/?{raw}"))
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

/// The query string's parameters as an extractor (never refuses: each handler checks its own).
pub(crate) struct QueryParams(pub BTreeMap<String, String>);

impl QueryParams {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Parameter `name` read as a `T` (absent: `None`); otherwise a 400 blaming it with `message`.
    pub(crate) fn parse<T: std::str::FromStr>(
        &self,
        name: &str,
        message: &str,
    ) -> Result<Option<T>, HttpError> {
        self.get(name)
            .map(|v| {
                v.parse().map_err(|_| {
                    HttpError::from(Error::new(ErrorCode::InvalidRequest, message).with_field(name))
                })
            })
            .transpose()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(query_map(parts.uri.query().map(str::to_owned))))
    }
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
        // Starting a session needs positive evidence; no header at all is none.
        assert!(!same_origin_evidence(&headers(&[]), public));
        assert!(same_origin_evidence(
            &headers(&[("sec-fetch-site", "same-origin")]),
            public
        ));
        assert!(!same_origin_evidence(
            &headers(&[("sec-fetch-site", "none")]),
            public
        ));
    }

    #[test]
    fn cookie_parsing() {
        let h = headers(&[("cookie", "a=1; ch_session=tok.en.sig; b=2")]);
        assert_eq!(
            session_cookie(&h, "ch_session").as_deref(),
            Some("tok.en.sig")
        );
        assert_eq!(
            session_cookie(&headers(&[("cookie", "ch_sessionx=1")]), "ch_session"),
            None
        );
        // Over https only the __Host- cookie counts: a sibling domain cannot set that one.
        assert_eq!(session_cookie(&h, "__Host-ch_session"), None);
        let host = headers(&[("cookie", "__Host-ch_session=t.o.k")]);
        assert_eq!(
            session_cookie(
                &host,
                SessionCookies::for_public_url("https://hub.example").session
            )
            .as_deref(),
            Some("t.o.k")
        );
    }
}
