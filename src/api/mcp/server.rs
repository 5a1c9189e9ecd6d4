//! The MCP server's answers to the protocol: who it is, which versions it speaks, its tools, and
//! a tool call handed to `calls` with the agent `auth` let in.

use super::auth::Agent;
use super::{calls, tools};
use crate::api::state::AppState;
use crate::service::McpGateway;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult,
    PaginatedRequestParams, ProtocolVersion, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use std::borrow::Cow;

/// The versions of the MCP specification this server speaks, newest first.
const VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V_2026_07_28,
    ProtocolVersion::V_2025_11_25,
    ProtocolVersion::V_2025_06_18,
];

const INSTRUCTIONS: &str = "Connector Hub holds this organisation's connections to its business \
    systems (payments, shops, accounting, CRM, files, databases). Call list_connectors first; \
    read synced data with read_records (cheap, from the hub's copy), or ask the provider itself \
    with call_api. Credentials are never shown to you: the hub adds them.";

#[derive(Clone)]
pub(super) struct HubServer {
    state: AppState,
}

impl HubServer {
    pub(super) fn new(state: AppState) -> Self {
        Self { state }
    }
}

impl ServerHandler for HubServer {
    fn get_info(&self) -> ServerConfig {
        let mut implementation = Implementation::default();
        implementation.name = "connector-hub".to_owned();
        implementation.title = Some("Connector Hub".to_owned());
        implementation.version = env!("CARGO_PKG_VERSION").to_owned();
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(implementation)
            .with_instructions(INSTRUCTIONS)
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Owned(VERSIONS.to_vec())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let agent = agent(&context)?;
        let mut tools = tools::definitions();
        // The tenant's own MCP servers' tools after the hub's; a listing that fails (the rate,
        // the store) leaves the hub's own.
        let caller = agent.caller.through_tool("tools/list");
        match self.state.hub.mcp_gateway.tools(&caller).await {
            Ok(theirs) => tools.extend(theirs),
            Err(e) => {
                tracing::info!(tenant = %caller.tenant(), code = %e.code, "MCP servers' tools not listed")
            }
        }
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let agent = agent(&context)?;
        if calls::is_hub_tool(&request.name) {
            return Ok(
                calls::call(&self.state, &agent, &request.name, request.arguments)
                    .await
                    .into(),
            );
        }
        if McpGateway::is_gateway_tool(&request.name) {
            return Ok(
                calls::forward(&self.state, &agent, &request.name, request.arguments)
                    .await
                    .into(),
            );
        }
        Err(ErrorData::invalid_params(
            format!("There is no tool named {}.", request.name),
            None,
        ))
    }
}

/// The agent `auth::require_agent` let in, put on the request before the SDK read it; a
/// request without one never gets this far.
fn agent(context: &RequestContext<RoleServer>) -> Result<Agent, ErrorData> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Agent>())
        .cloned()
        .ok_or_else(|| ErrorData::internal_error("the caller is unknown", None))
}
