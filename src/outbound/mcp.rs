//! Talking to a tenant's own MCP server (the `mcp_server` connector), as a Streamable HTTP client:
//! `initialize`, then `tools/list` or one `tools/call`, each a JSON-RPC message POSTed to the
//! server's one URL. It goes out the one way every provider call does (`http`: the egress policy,
//! timeouts, a size cap, the credential only to its own origin), which the SDK's own HTTP client
//! would not; the messages are the SDK's types (`rmcp::model`), so their shapes are the spec's.
//!
//! A server answers a POST with JSON, or with a short event stream that carries the answer; both
//! are read here. Each use opens its own session: the hub keeps no state between an agent's calls.

use super::access::Access;
use super::answers::status_failure;
use super::http::{Http, Probe, Reply};
use crate::error::{Error, ErrorCode};
use rmcp::model::{CallToolResult, InitializeResult, Tool};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

/// The protocol version the hub asks a tenant's server for (the newest of the handshake
/// generation, which servers of every SDK still speak).
const ASKED_VERSION: &str = "2025-11-25";

/// The connector type of a tenant's own MCP server.
pub(crate) const MCP_SERVER: &str = "mcp_server";

/// Where the blame goes when the server refuses the credential.
const CREDENTIAL_FIELD: &str = "token";

/// An initialized session with a tenant's MCP server.
pub(crate) struct McpSession<'a> {
    http: &'a Http,
    access: &'a Access,
    url: reqwest::Url,
    session_id: Option<String>,
    version: String,
    /// What the server said of itself.
    pub(crate) server: InitializeResult,
    next_id: u64,
}

impl<'a> McpSession<'a> {
    /// Opens a session: `initialize`, then the `initialized` notification.
    pub(crate) async fn open(http: &'a Http, access: &'a Access) -> Result<Self, Error> {
        let url = access.url("")?;
        let mut session = Self {
            http,
            access,
            url,
            session_id: None,
            version: ASKED_VERSION.to_owned(),
            server: InitializeResult::new(Default::default()),
            next_id: 1,
        };
        let (reply, answer) = session
            .request(
                "initialize",
                json!({
                    "protocolVersion": ASKED_VERSION,
                    "capabilities": {},
                    "clientInfo": {"name": "connector-hub", "version": env!("CARGO_PKG_VERSION")}
                }),
            )
            .await?;
        session.session_id = reply
            .headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .filter(|id| id.len() <= 256 && id.chars().all(|c| c.is_ascii_graphic()))
            .map(str::to_owned);
        session.server = result_of(answer)?;
        session.version = session.server.protocol_version.to_string();
        // A notification has no answer to wait for; a server that refuses it is noticed at the
        // next request.
        let _ = session
            .post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        Ok(session)
    }

    /// The tools the server offers, `max` at most (following its pages, 5 at most).
    pub(crate) async fn list_tools(&mut self, max: usize) -> Result<Vec<Tool>, Error> {
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        for _page in 0..5 {
            let params = match &cursor {
                Some(c) => json!({"cursor": c}),
                None => json!({}),
            };
            let (_, answer) = self.request("tools/list", params).await?;
            let mut page: Value = result_of(answer)?;
            let listed: Vec<Tool> = match page.get_mut("tools").map(Value::take) {
                Some(list) => serde_json::from_value(list)
                    .map_err(|_| not_mcp("its tool list is not in MCP's form"))?,
                None => Vec::new(),
            };
            tools.extend(listed.into_iter().take(max - tools.len()));
            cursor = page
                .get("nextCursor")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if cursor.is_none() || tools.len() == max {
                break;
            }
        }
        Ok(tools)
    }

    /// Calls tool `name` with `arguments`; the server's result, an error result included.
    pub(crate) async fn call_tool(
        &mut self,
        name: &str,
        arguments: Value,
    ) -> Result<CallToolResult, Error> {
        let (_, answer) = self
            .request("tools/call", json!({"name": name, "arguments": arguments}))
            .await?;
        result_of(answer)
    }

    /// Sends request `method` and reads its answer (a JSON-RPC response with the request's id).
    async fn request(&mut self, method: &str, params: Value) -> Result<(Reply, Value), Error> {
        let id = self.next_id;
        self.next_id += 1;
        let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let reply = self.post(&message).await?;
        let answer = answer_with_id(&reply, id)?;
        Ok((reply, answer))
    }

    async fn post(&self, message: &Value) -> Result<Reply, Error> {
        let mut probe: Probe = self.access.post_json(self.url.clone(), message.clone())?;
        probe.headers.retain(|(name, _)| *name != "accept");
        probe
            .headers
            .push(("accept", "application/json, text/event-stream".into()));
        probe
            .headers
            .push(("mcp-protocol-version", self.version.clone()));
        if let Some(id) = &self.session_id {
            probe
                .custom_headers
                .push(("mcp-session-id".into(), id.clone()));
        }
        let reply = self.http.send(probe).await?;
        if !(200..300).contains(&reply.status) {
            return Err(status_failure(&reply, "The MCP server", CREDENTIAL_FIELD));
        }
        Ok(reply)
    }
}

/// The JSON-RPC response to request `id` in `reply`: the body itself, or one of the events of
/// an event stream.
fn answer_with_id(reply: &Reply, id: u64) -> Result<Value, Error> {
    let content_type = reply
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let messages: Vec<Value> = if content_type.starts_with("text/event-stream") {
        events(&reply.body)
    } else {
        serde_json::from_slice::<Value>(&reply.body)
            .map(|v| match v {
                Value::Array(batch) => batch,
                one => vec![one],
            })
            .unwrap_or_default()
    };
    messages
        .into_iter()
        .find(|m| m.get("id").and_then(Value::as_u64) == Some(id))
        .ok_or_else(|| not_mcp("it did not answer as an MCP server does"))
}

/// The JSON messages of an event stream's `data:` lines (one event may span several).
fn events(body: &[u8]) -> Vec<Value> {
    let text = String::from_utf8_lossy(body);
    let mut out = Vec::new();
    for event in text.split("\n\n") {
        let data: Vec<&str> = event
            .lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .map(|d| d.strip_prefix(' ').unwrap_or(d))
            .collect();
        if let Ok(value) = serde_json::from_str(&data.join("\n")) {
            out.push(value);
        }
    }
    out
}

/// The `result` of a JSON-RPC response read as `T`; its `error`, as the server's refusal.
fn result_of<T: DeserializeOwned>(answer: Value) -> Result<T, Error> {
    if let Some(error) = answer.get("error") {
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("an error")
            .chars()
            .take(300)
            .collect::<String>();
        return Err(Error::new(
            ErrorCode::ProviderError,
            format!("The MCP server refused: {message}"),
        ));
    }
    let result = answer
        .get("result")
        .cloned()
        .ok_or_else(|| not_mcp("its answer has no result"))?;
    serde_json::from_value(result).map_err(|_| not_mcp("its answer is not in MCP's form"))
}

fn not_mcp(why: &str) -> Error {
    Error::new(
        ErrorCode::UnexpectedResponse,
        format!("The address does not behave like an MCP server: {why}."),
    )
    .with_field("url")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_stream_answer_is_found_among_its_events() {
        // A notification first, then the answer split over two `data:` lines.
        let body = b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":2,\ndata: \"result\":{\"ok\":true}}\n\n";
        let found = events(body);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[1]["result"]["ok"], true);
    }

    #[test]
    fn a_refusal_is_the_servers_and_a_missing_result_is_not_mcp() {
        let refused = result_of::<Value>(
            json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "no"}}),
        );
        assert_eq!(refused.map_err(|e| e.code), Err(ErrorCode::ProviderError));
        let empty = result_of::<Value>(json!({"jsonrpc": "2.0", "id": 1}));
        assert_eq!(
            empty.map_err(|e| e.code),
            Err(ErrorCode::UnexpectedResponse)
        );
    }
}
