//! The server functions behind the `/api` page: the OpenAPI document, flattened for reading, and
//! trying one call as the signed-in user.

use crate::error::ApiError;
use crate::model::api_reference::{ApiOperation, ApiTryResult};
use leptos::prelude::*;

/// Every `/v1` operation, in the document's order of paths.
#[server(endpoint = "api_reference")]
pub async fn api_reference() -> Result<Vec<ApiOperation>, ApiError> {
    let document = serde_json::to_value(crate::api::rest::document())
        .map_err(|_| ApiError::from_code(crate::error::ErrorCode::Internal))?;
    Ok(server::operations(&document))
}

/// Calls `method path` on the REST API as the signed-in user (their own session, nothing more)
/// and answers with what it said. Only `/v1` paths; bodies and answers are capped.
#[server(endpoint = "try_api")]
pub async fn try_api(
    method: String,
    path: String,
    body: Option<String>,
) -> Result<ApiTryResult, ApiError> {
    let (state, _principal) = crate::api::extract::require_principal().await?;
    server::call(state, &method, &path, body).await
}

#[cfg(feature = "ssr")]
mod server {
    use crate::api::state::AppState;
    use crate::error::{ApiError, Error, ErrorCode};
    use crate::model::api_reference::{ApiOperation, ApiParameter, ApiTryResult};
    use leptos::prelude::use_context;
    use serde_json::Value;
    use tower::ServiceExt;

    /// Longest body a tried call sends, and longest answer shown.
    const MAX_BODY: usize = 64 * 1024;

    pub fn operations(doc: &Value) -> Vec<ApiOperation> {
        let mut out = Vec::new();
        let Some(paths) = doc["paths"].as_object() else {
            return out;
        };
        for (path, item) in paths {
            for method in ["get", "post", "patch", "delete"] {
                let op = &item[method];
                if op.is_null() {
                    continue;
                }
                let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
                let parameters = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| ApiParameter {
                        name: text(&p["name"]),
                        location: text(&p["in"]),
                        required: p["required"].as_bool().unwrap_or(false),
                        description: text(&p["description"]),
                    })
                    .collect();
                let body_schema = &op["requestBody"]["content"]["application/json"]["schema"];
                let request_example = (!body_schema.is_null()).then(|| {
                    serde_json::to_string_pretty(&example(doc, body_schema, 0)).unwrap_or_default()
                });
                let mut responses: Vec<(u16, String)> = op["responses"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(status, r)| Some((status.parse().ok()?, text(&r["description"]))))
                    .collect();
                responses.sort();
                out.push(ApiOperation {
                    method: method.to_uppercase(),
                    path: path.clone(),
                    tag: op["tags"][0].as_str().unwrap_or("api").to_owned(),
                    summary: text(&op["summary"]),
                    description: text(&op["description"]),
                    parameters,
                    request_example,
                    responses,
                });
            }
        }
        out
    }

    /// A value of `schema`'s shape to start editing from.
    fn example(doc: &Value, schema: &Value, depth: usize) -> Value {
        if depth > 6 {
            return Value::Null;
        }
        if let Some(reference) = schema["$ref"].as_str() {
            let name = reference.trim_start_matches("#/components/schemas/");
            return example(doc, &doc["components"]["schemas"][name], depth + 1);
        }
        if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
            return first.clone();
        }
        for key in ["oneOf", "anyOf", "allOf"] {
            if let Some(first) = schema[key]
                .as_array()
                .and_then(|o| o.iter().find(|s| s["type"] != "null"))
            {
                return example(doc, first, depth + 1);
            }
        }
        let kind = match &schema["type"] {
            Value::Array(types) => types.iter().find(|t| *t != "null").cloned(),
            other => Some(other.clone()),
        };
        match kind.as_ref().and_then(Value::as_str) {
            Some("object") => Value::Object(
                schema["properties"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, s)| (name.clone(), example(doc, s, depth + 1)))
                    .collect(),
            ),
            Some("array") => Value::Array(Vec::new()),
            Some("integer" | "number") => Value::from(0),
            Some("boolean") => Value::Bool(false),
            Some("string") => Value::String(String::new()),
            _ => Value::Null,
        }
    }

    pub async fn call(
        state: AppState,
        method: &str,
        path: &str,
        body: Option<String>,
    ) -> Result<ApiTryResult, ApiError> {
        let refuse = |field: &str, message: &str| -> ApiError {
            Error::new(ErrorCode::InvalidRequest, message)
                .with_field(field)
                .into()
        };
        let method = match method {
            "GET" | "POST" | "PATCH" | "DELETE" => http::Method::from_bytes(method.as_bytes())
                .map_err(|_| refuse("method", "Unknown method."))?,
            _ => return Err(refuse("method", "Only GET, POST, PATCH and DELETE.")),
        };
        // Only this API's own paths: the call never leaves the process.
        if !path.starts_with("/v1/") || path.len() > 2000 || path.contains("://") {
            return Err(refuse("path", "Try a /v1 path of this API."));
        }
        let body = body.unwrap_or_default();
        if body.len() > MAX_BODY {
            return Err(refuse("body", "The body is larger than 64 KB."));
        }
        let parts: http::request::Parts = use_context().ok_or_else(ApiError::unauthenticated)?;
        let mut request = http::Request::builder().method(method).uri(path);
        // The caller's own session, exactly as their browser would send it; nothing else.
        for name in [http::header::COOKIE, http::header::USER_AGENT] {
            if let Some(value) = parts.headers.get(&name) {
                request = request.header(name, value);
            }
        }
        if !body.trim().is_empty() {
            request = request.header(http::header::CONTENT_TYPE, "application/json");
        }
        let mut request = request
            .body(axum::body::Body::from(body))
            .map_err(|_| refuse("path", "That is not a valid path."))?;
        if let Some(peer) = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        {
            request.extensions_mut().insert(*peer);
        }
        let response = crate::api::rest::router()
            .with_state(state)
            .oneshot(request)
            .await
            .map_err(|_| ApiError::from_code(ErrorCode::Internal))?;
        let status = response.status().as_u16();
        let text = match axum::body::to_bytes(response.into_body(), MAX_BODY).await {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(_) => "(The answer is larger than 64 KB: call the API directly to see it.)".into(),
        };
        let body = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or(text);
        Ok(ApiTryResult { status, body })
    }
}
