//! A tenant's own MCP server: a session started (`initialize`) and its tools listed, over the
//! same client the gateway calls it with. The destination is the tenant's, so the egress policy
//! applies; a server that answers but not as MCP does is `UNEXPECTED_RESPONSE`. What the server
//! says of itself, or in a refusal, is shown with the token taken out.

use super::*;
use crate::outbound::access::Access;
use crate::outbound::mcp::{McpSession, MCP_SERVER};
use crate::outbound::scrub::Scrub;

pub(super) async fn check(ctx: &Ctx<'_>) -> Outcome {
    let def = crate::catalog::catalog().definition(MCP_SERVER)?;
    let scrub = Scrub::new(def, ctx.config)?;
    let listed = async {
        let access = Access::resolve(def, ctx.config, ctx.providers)?;
        let mut session = McpSession::open(ctx.http, &access).await?;
        // Counted up to a thousand: a number to show, not a list to keep.
        let tools = session.list_tools(1000).await?;
        Ok::<_, Error>((session.server, tools.len()))
    };
    let (server, tools) = listed.await.map_err(|mut e| {
        e.message = scrub.clean(&e.message).into_owned();
        e
    })?;
    let said = |text: &str, max: usize| Some(scrub.clean(text).chars().take(max).collect());
    Ok(details([
        ("server_name", said(&server.server_info.name, 100)),
        ("server_version", said(&server.server_info.version, 40)),
        (
            "protocol_version",
            Some(server.protocol_version.to_string()),
        ),
        ("tool_count", Some(tools.to_string())),
    ]))
}
