//! A tenant's own MCP server: a session started (`initialize`) and its tools listed, over the
//! same client the gateway calls it with. The destination is the tenant's, so the egress policy
//! applies; a server that answers but not as MCP does is `UNEXPECTED_RESPONSE`.

use super::*;
use crate::outbound::access::Access;
use crate::outbound::mcp::{McpSession, MCP_SERVER};

pub(super) async fn check(ctx: &Ctx<'_>) -> Outcome {
    let def = crate::catalog::catalog().definition(MCP_SERVER)?;
    let access = Access::resolve(def, ctx.config, ctx.providers)?;
    let mut session = McpSession::open(ctx.http, &access).await?;
    let tools = session.list_tools().await?;
    let info = &session.server.server_info;
    Ok(details([
        ("server_name", Some(info.name.chars().take(100).collect())),
        (
            "server_version",
            Some(info.version.chars().take(40).collect()),
        ),
        (
            "protocol_version",
            Some(session.server.protocol_version.to_string()),
        ),
        ("tool_count", Some(tools.len().to_string())),
    ]))
}
