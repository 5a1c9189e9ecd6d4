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
}

impl Caller {
    pub(crate) fn new(principal: Principal, client: impl Into<String>) -> Self {
        Self {
            principal,
            client: client.into(),
            tool: None,
        }
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
