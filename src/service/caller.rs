//! Who is asking: the verified principal and the address the request came from, built once at
//! the edge (a REST extractor, a server function, a worker acting for a tenant) and handed to
//! every use case, which rate-limits and audits by it. An AI agent's call through the hub's MCP
//! server names the tool it came through: it counts against the tenant's MCP rate, whatever it
//! does, and every audit entry it writes says which tool.

use crate::auth::Principal;
use crate::ids::TenantId;

#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) principal: Principal,
    /// The client's address as the audit log names it (the role, for the hub's own work).
    pub(crate) client: String,
    /// The MCP tool the call came through, if it did.
    tool: Option<Box<str>>,
    /// The OAuth client (an MCP app a person allowed) whose token made the call, if one did.
    app: Option<Box<str>>,
}

impl Caller {
    pub(crate) fn new(principal: Principal, client: impl Into<String>) -> Self {
        Self {
            principal,
            client: client.into(),
            tool: None,
            app: None,
        }
    }

    /// This caller acting through the MCP client `client_id` a person allowed.
    pub(crate) fn through_app(mut self, client_id: &str) -> Self {
        self.app = Some(client_id.into());
        self
    }

    /// What the audit log says of the way the call came in: the MCP tool, and the app whose
    /// token made it (`mcp:<tool> app:<client id>`); none for a person's or backend's call.
    pub(crate) fn via(&self) -> Option<String> {
        let tool = self.tool.as_deref()?;
        Some(match &self.app {
            Some(app) => format!("mcp:{tool} app:{app}"),
            None => format!("mcp:{tool}"),
        })
    }

    /// This caller acting through the hub's MCP tool `tool`.
    pub(crate) fn through_tool(mut self, tool: &str) -> Self {
        self.tool = Some(tool.into());
        self
    }

    /// The MCP tool the call came through, if it did.
    pub(crate) fn tool(&self) -> Option<&str> {
        self.tool.as_deref()
    }

    /// The hub acting on its own for `tenant` (the monitor, a sync, key rotation), audited as
    /// user `system:<role>` from client `<role>`.
    pub(crate) fn system(tenant: TenantId, role: &str) -> Self {
        Self::new(Principal::system(tenant, role), role)
    }

    pub(crate) fn tenant(&self) -> &TenantId {
        &self.principal.tenant
    }

    pub(crate) fn user(&self) -> &str {
        &self.principal.user
    }
}
