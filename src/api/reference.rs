//! The server function behind the `/api` page: the OpenAPI document, flattened for reading. Trying
//! a call from the page is a plain form post (`api::try_it`), so it costs the browser bundle nothing
//! and works without JavaScript.

use crate::error::ApiError;
use crate::model::api_reference::ApiOperation;
use leptos::prelude::*;

/// Every `/v1` operation, in the document's order of paths.
#[server(endpoint = "api_reference")]
pub async fn api_reference() -> Result<Vec<ApiOperation>, ApiError> {
    let document = serde_json::to_value(crate::api::rest::document())
        .map_err(|_| ApiError::from_code(crate::error::ErrorCode::Internal))?;
    Ok(server::operations(&document))
}

#[cfg(feature = "ssr")]
mod server {
    use crate::model::api_reference::{ApiOperation, ApiParameter};
    use serde_json::Value;

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
}
