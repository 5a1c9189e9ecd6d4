//! A tool call carried out: its arguments parsed into types (unknown or ill-typed ones refused,
//! as the tools' schemas say), the agent's scopes checked, and the work done by the services a
//! person's request goes through — under the agent's own caller, which names the tool, so the
//! tenant's MCP rate applies and every audit entry says which tool. Results are the services'
//! own views; a refusal is a tool error with the hub's stable code, for the model to read.

use super::auth::Agent;
use super::tools::{writes, CALL_API, LIST_CONNECTORS, LIST_STREAMS, READ_RECORDS, SYNC_NOW};
use crate::api::state::AppState;
use crate::error::{Error, ErrorCode};
use crate::ids::ConnectorId;
use crate::model::ConnectorStatus;
use crate::service::{Caller, ProxyAnswer, ProxyCall, SyncRequest, DEFAULT_RECORDS};
use rmcp::model::{CallToolResult, JsonObject};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

/// The largest provider answer `call_api` hands a model: more would not fit its context, and a
/// list that big should be narrowed with the provider's own paging.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// The tools this server has (the gateway's are told apart by their prefix).
pub(super) fn is_hub_tool(name: &str) -> bool {
    [
        LIST_CONNECTORS,
        LIST_STREAMS,
        READ_RECORDS,
        CALL_API,
        SYNC_NOW,
    ]
    .contains(&name)
}

/// Carries out hub tool `name` for `agent`.
pub(super) async fn call(
    state: &AppState,
    agent: &Agent,
    name: &str,
    arguments: Option<JsonObject>,
) -> CallToolResult {
    let caller = agent.caller.clone().through_tool(name);
    let arguments = Value::Object(arguments.unwrap_or_default());
    let outcome = match name {
        _ if writes(name, Some(&arguments)) && !agent.scopes.write => Err(Error::new(
            ErrorCode::Forbidden,
            format!("This {name} call changes data, which needs the mcp:write scope; this token was not granted it."),
        )),
        LIST_CONNECTORS => list_connectors(state, &caller, arguments).await,
        LIST_STREAMS => list_streams(state, &caller, arguments).await,
        READ_RECORDS => read_records(state, &caller, arguments).await,
        CALL_API => call_api(state, &caller, arguments).await,
        SYNC_NOW => sync_now(state, &caller, arguments).await,
        _ => Err(Error::new(ErrorCode::NotFound, "No such tool.")),
    };
    match outcome {
        Ok(value) => CallToolResult::structured(value),
        Err(error) => {
            tracing::info!(tenant = %caller.tenant(), tool = name, code = %error.code, "MCP tool refused");
            CallToolResult::structured_error(error_body(&error))
        }
    }
}

/// Forwards gateway tool `name` (a tenant's own MCP server's) for `agent`: its server's result,
/// the credential taken out; a refusal of the hub's as a tool error.
pub(super) async fn forward(
    state: &AppState,
    agent: &Agent,
    name: &str,
    arguments: Option<JsonObject>,
) -> CallToolResult {
    let caller = agent.caller.clone().through_tool(name);
    let forwarded = state
        .hub
        .mcp_gateway
        .call(
            &caller,
            name,
            arguments.unwrap_or_default(),
            agent.scopes.write,
        )
        .await;
    match forwarded {
        Ok(result) => result,
        Err(error) => {
            tracing::info!(tenant = %caller.tenant(), tool = name, code = %error.code, "MCP gateway call refused");
            CallToolResult::structured_error(error_body(&error))
        }
    }
}

/// A refusal as a model reads it: the hub's stable code, what went wrong, and what to do.
fn error_body(error: &Error) -> Value {
    json!({
        "code": error.code.as_str(),
        "message": error.message,
        "field": error.field,
        "hint": error.code.hint(),
        "retry_after": error.retry_after,
        "run_id": error.run_id.as_deref(),
    })
}

/// Arguments read into `T`, or `INVALID_REQUEST` naming what did not fit.
fn arguments<T: DeserializeOwned>(value: Value) -> Result<T, Error> {
    serde_json::from_value(value).map_err(|e| {
        Error::new(
            ErrorCode::InvalidRequest,
            format!("The arguments do not fit this tool's schema: {e}."),
        )
    })
}

fn to_value(value: impl serde::Serialize) -> Result<Value, Error> {
    serde_json::to_value(value).map_err(|e| {
        tracing::error!(error = %e, "a tool result could not be encoded");
        Error::from_code(ErrorCode::Internal)
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListConnectors {
    status: Option<ConnectorStatus>,
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn list_connectors(state: &AppState, caller: &Caller, args: Value) -> Result<Value, Error> {
    let args: ListConnectors = arguments(args)?;
    let page = state
        .hub
        .agents
        .connectors(caller, args.status, args.limit, args.cursor.as_deref())
        .await?;
    to_value(page)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OneConnector {
    connector_id: ConnectorId,
}

async fn list_streams(state: &AppState, caller: &Caller, args: Value) -> Result<Value, Error> {
    let args: OneConnector = arguments(args)?;
    let streams = state.hub.syncs.streams(caller, &args.connector_id).await?;
    to_value(streams)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadRecords {
    connector_id: ConnectorId,
    stream: String,
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn read_records(state: &AppState, caller: &Caller, args: Value) -> Result<Value, Error> {
    let args: ReadRecords = arguments(args)?;
    let page = state
        .hub
        .syncs
        .records(
            caller,
            &args.connector_id,
            &args.stream,
            args.limit.unwrap_or(DEFAULT_RECORDS),
            args.cursor.as_deref(),
        )
        .await?;
    to_value(page)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SyncNow {
    connector_id: ConnectorId,
    #[serde(default)]
    streams: Vec<String>,
    #[serde(default)]
    full_refresh: bool,
}

async fn sync_now(state: &AppState, caller: &Caller, args: Value) -> Result<Value, Error> {
    let args: SyncNow = arguments(args)?;
    let queued = state
        .hub
        .syncs
        .request_sync(
            caller,
            &args.connector_id,
            SyncRequest {
                streams: args.streams,
                full_refresh: args.full_refresh,
            },
        )
        .await?;
    to_value(queued)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallApi {
    connector_id: ConnectorId,
    method: String,
    path: String,
    #[serde(default)]
    query: serde_json::Map<String, Value>,
    body: Option<Value>,
    content_type: Option<String>,
}

async fn call_api(state: &AppState, caller: &Caller, args: Value) -> Result<Value, Error> {
    let args: CallApi = arguments(args)?;
    let method = match args.method.to_ascii_uppercase().as_str() {
        "GET" => http::Method::GET,
        "HEAD" => http::Method::HEAD,
        "POST" => http::Method::POST,
        "PUT" => http::Method::PUT,
        "PATCH" => http::Method::PATCH,
        "DELETE" => http::Method::DELETE,
        _ => {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                "method must be GET, HEAD, POST, PUT, PATCH or DELETE.",
            )
            .with_field("method"))
        }
    };
    let path_and_query = path_and_query(&args.path, &args.query)?;
    let (body, content_type) = match args.body {
        None | Some(Value::Null) => (bytes::Bytes::new(), None),
        Some(Value::String(text)) => (
            bytes::Bytes::from(text),
            Some(
                args.content_type
                    .unwrap_or_else(|| "application/x-www-form-urlencoded".to_owned()),
            ),
        ),
        Some(json) => (
            bytes::Bytes::from(json.to_string()),
            Some("application/json".to_owned()),
        ),
    };
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::ACCEPT,
        http::HeaderValue::from_static("application/json"),
    );
    if let Some(content_type) = content_type {
        let value = http::HeaderValue::from_str(&content_type).map_err(|_| {
            Error::new(
                ErrorCode::InvalidRequest,
                "content_type is not a header value.",
            )
            .with_field("content_type")
        })?;
        headers.insert(http::header::CONTENT_TYPE, value);
    }
    let proxy = &state.hub.proxy;
    let target = proxy.admit_proxy(caller, &args.connector_id).await?;
    let call = ProxyCall {
        method,
        path_and_query,
        headers,
        body,
        retries: 0,
    };
    let answer = proxy.proxy(caller, target, call).await?;
    read_answer(answer).await
}

/// `path` with `query` appended, as the proxy sends it on under the provider's API base.
fn path_and_query(path: &str, query: &serde_json::Map<String, Value>) -> Result<String, Error> {
    let path = path.trim();
    if path.is_empty()
        || path.contains("://")
        || path.contains('#')
        || path.chars().any(|c| c.is_control() || c == ' ')
    {
        return Err(Error::new(
            ErrorCode::InvalidRequest,
            "path is a path under the provider's API base, such as /v1/customers.",
        )
        .with_field("path"));
    }
    let mut out = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    if !query.is_empty() {
        let mut encoded = form_urlencoded::Serializer::new(String::new());
        for (name, value) in query {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => {
                    return Err(Error::new(
                        ErrorCode::InvalidRequest,
                        "query values are strings, numbers or booleans.",
                    )
                    .with_field("query"))
                }
            };
            encoded.append_pair(name, &text);
        }
        out.push(if out.contains('?') { '&' } else { '?' });
        out.push_str(&encoded.finish());
    }
    Ok(out)
}

/// The provider's answer, read whole up to `MAX_ANSWER_BYTES` and scrubbed of the credential as
/// the proxy's is: the bytes as they came, and again once parsed (an encoding the provider added
/// on top of one of the hub's is undone by the parse). JSON when it parses, text otherwise.
async fn read_answer(answer: ProxyAnswer) -> Result<Value, Error> {
    let ProxyAnswer {
        status,
        headers,
        mut response,
        scrub,
        slot,
    } = answer;
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(Error::new(
                        ErrorCode::PayloadTooLarge,
                        "The provider's answer is over 1 MB. Ask for less: a smaller page (the provider's limit parameter) or fewer fields.",
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(_) => {
                return Err(Error::new(
                    ErrorCode::ProviderUnreachable,
                    "The provider's answer broke off.",
                ))
            }
        }
    }
    drop(slot);
    scrub.clean_bytes(&mut body);
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| scrub.clean(v).into_owned());
    let body = match serde_json::from_slice::<Value>(&body) {
        Ok(json) => scrub.clean_value(json),
        Err(_) if body.is_empty() => Value::Null,
        Err(_) => Value::String(scrub.clean(&String::from_utf8_lossy(&body)).into_owned()),
    };
    Ok(json!({"status": status, "content_type": content_type, "body": body}))
}
