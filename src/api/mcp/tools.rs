//! The hub's MCP tools as a model sees them: names, what each is for, and the JSON Schemas of
//! their arguments and of their structured results. Kept few (clients cap how many tools they
//! show a model) and described well enough to be used without reading our docs.

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde_json::{json, Value};
use std::sync::Arc;

pub(super) const LIST_CONNECTORS: &str = "list_connectors";
pub(super) const LIST_STREAMS: &str = "list_streams";
pub(super) const READ_RECORDS: &str = "read_records";
pub(super) const CALL_API: &str = "call_api";
pub(super) const SYNC_NOW: &str = "sync_now";

/// Whether calling hub tool `name` with `arguments` changes data, and so needs `mcp:write`:
/// `sync_now`, and `call_api` with a method other than `GET` or `HEAD`. The one rule both the
/// HTTP scope challenge (`auth`) and the tool itself (`calls`) apply.
pub(super) fn writes(name: &str, arguments: Option<&Value>) -> bool {
    match name {
        SYNC_NOW => true,
        CALL_API => {
            let method = arguments
                .and_then(|a| a.get("method"))
                .and_then(Value::as_str);
            method
                .is_some_and(|m| !m.eq_ignore_ascii_case("GET") && !m.eq_ignore_ascii_case("HEAD"))
        }
        _ => false,
    }
}

/// Every tool, in the order a model would use them.
pub(super) fn definitions() -> Vec<Tool> {
    vec![
        tool(
            LIST_CONNECTORS,
            "List connectors",
            "List the data sources (connectors) this organisation has connected to Connector Hub: \
             Stripe, Shopify, HubSpot, a PostgreSQL database and so on. Each comes with its id, \
             type, name, status and the streams (kinds of records) it offers. Start here: every \
             other tool takes a connector_id from this list. Pages of up to 100; pass \
             next_cursor back as cursor for the next.",
            json!({
                "type": "object",
                "properties": {
                    "status": {"type": "string", "enum": ["pending", "active", "error", "authorization_required"],
                        "description": "Only connectors in this state."},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 100, "description": "Connectors per page (25 if left out)."},
                    "cursor": {"type": "string", "description": "next_cursor of the page before."}
                },
                "additionalProperties": false
            }),
            json!({
                "type": "object",
                "properties": {
                    "connectors": {"type": "array", "items": {
                        "type": "object",
                        "properties": {
                            "connector_id": {"type": "string"},
                            "connector_type": {"type": "string"},
                            "display_name": {"type": "string"},
                            "status": {"type": "string"},
                            "last_sync_at": {"type": ["string", "null"]},
                            "error_code": {"type": ["string", "null"]},
                            "streams": {"type": "array", "items": {"type": "string"}}
                        },
                        "required": ["connector_id", "connector_type", "display_name", "status", "streams"]
                    }},
                    "next_cursor": {"type": ["string", "null"]}
                },
                "required": ["connectors"]
            }),
            ToolAnnotations::new().read_only(true).open_world(false),
        ),
        tool(
            LIST_STREAMS,
            "List a connector's streams",
            "The streams of one connector with how many records of each Connector Hub has \
             synced and when it last synced them. Records are read with read_records; a stream \
             with no records yet needs a sync first (sync_now).",
            json!({
                "type": "object",
                "properties": {"connector_id": CONNECTOR_ID_ARG.clone()},
                "required": ["connector_id"],
                "additionalProperties": false
            }),
            json!({
                "type": "object",
                "properties": {"streams": {"type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "record_count": {"type": "integer"},
                        "last_synced_at": {"type": ["string", "null"]},
                        "cursor_field": {"type": ["string", "null"]}
                    },
                    "required": ["name", "record_count"]
                }}},
                "required": ["streams"]
            }),
            ToolAnnotations::new().read_only(true).open_world(false),
        ),
        tool(
            READ_RECORDS,
            "Read synced records",
            "Read the records Connector Hub has synced from one stream of a connector (for \
             example Stripe's customers), in the order they last changed, oldest change first. \
             This reads the hub's copy and costs the provider nothing. Each record is the \
             provider's own JSON; a record the provider deleted comes with deleted: true. Pass \
             next_cursor back as cursor to go on; has_more says whether more are waiting. Keep \
             a next_cursor to read only what changed since.",
            json!({
                "type": "object",
                "properties": {
                    "connector_id": CONNECTOR_ID_ARG.clone(),
                    "stream": {"type": "string", "description": "A stream name from list_connectors or list_streams."},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "description": "Records per page (100 if left out)."},
                    "cursor": {"type": "string", "description": "next_cursor of the page before."}
                },
                "required": ["connector_id", "stream"],
                "additionalProperties": false
            }),
            json!({
                "type": "object",
                "properties": {
                    "records": {"type": "array", "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string"},
                            "data": {"type": "object"},
                            "updated_at": {"type": "string"},
                            "deleted": {"type": "boolean"}
                        },
                        "required": ["id", "data", "updated_at", "deleted"]
                    }},
                    "next_cursor": {"type": "string"},
                    "has_more": {"type": "boolean"}
                },
                "required": ["records", "next_cursor", "has_more"]
            }),
            ToolAnnotations::new().read_only(true).open_world(false),
        ),
        tool(
            CALL_API,
            "Call the provider's API",
            "Call the provider's own REST API for a connector, live, with the credential the \
             organisation stored (you never see it). path is relative to the provider's API base \
             as its documentation gives it (Stripe: /v1/customers; Shopify: \
             /admin/api/2025-07/products.json). GET and HEAD only read; any other method changes \
             data at the provider and needs the mcp:write scope. The answer is the provider's \
             status and body (JSON when it sent JSON), up to 1 MB: narrow big lists with the \
             provider's own limit parameters.",
            json!({
                "type": "object",
                "properties": {
                    "connector_id": CONNECTOR_ID_ARG.clone(),
                    "method": {"type": "string", "enum": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]},
                    "path": {"type": "string", "description": "Path under the provider's API base, starting with /."},
                    "query": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]},
                        "description": "Query parameters."},
                    "body": {"description": "Request body: a JSON value is sent as JSON; a string is sent as it is, with content_type."},
                    "content_type": {"type": "string", "description": "Content-Type of a string body (application/x-www-form-urlencoded if left out, as Stripe expects)."}
                },
                "required": ["connector_id", "method", "path"],
                "additionalProperties": false
            }),
            json!({
                "type": "object",
                "properties": {
                    "status": {"type": "integer"},
                    "content_type": {"type": ["string", "null"]},
                    "body": {"description": "The provider's answer: parsed JSON, or text."}
                },
                "required": ["status"]
            }),
            ToolAnnotations::new()
                .read_only(false)
                .destructive(true)
                .open_world(true),
        ),
        tool(
            SYNC_NOW,
            "Sync now",
            "Ask Connector Hub to sync a connector now: it reads what changed at the provider \
             since the last sync (or everything, with full_refresh) into the records \
             read_records reads. It runs in the background; the answer is the run's id. Only \
             one sync of a connector runs at a time: asking while one is under way answers \
             SYNC_IN_PROGRESS. Needs the mcp:write scope.",
            json!({
                "type": "object",
                "properties": {
                    "connector_id": CONNECTOR_ID_ARG.clone(),
                    "streams": {"type": "array", "items": {"type": "string"}, "description": "Only these streams (all if left out)."},
                    "full_refresh": {"type": "boolean", "description": "Read everything again, not only what changed."}
                },
                "required": ["connector_id"],
                "additionalProperties": false
            }),
            json!({
                "type": "object",
                "properties": {"run_id": {"type": "string"}, "status": {"type": "string"}},
                "required": ["run_id", "status"]
            }),
            ToolAnnotations::new()
                .read_only(false)
                .destructive(false)
                .idempotent(true)
                .open_world(true),
        ),
    ]
}

static CONNECTOR_ID_ARG: std::sync::LazyLock<Value> = std::sync::LazyLock::new(
    || json!({"type": "string", "description": "A connector_id from list_connectors."}),
);

fn tool(
    name: &'static str,
    title: &str,
    description: &'static str,
    input: Value,
    output: Value,
    annotations: ToolAnnotations,
) -> Tool {
    Tool::new(name, description, object(input))
        .with_title(title)
        .with_raw_output_schema(object(output))
        .with_annotations(annotations)
}

fn object(value: Value) -> Arc<JsonObject> {
    match value {
        Value::Object(map) => Arc::new(map),
        // Every schema above is an object literal.
        _ => Arc::new(JsonObject::new()),
    }
}
