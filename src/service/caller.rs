//! Who is asking: the verified principal and the address the request came from, built once at
//! the edge (a REST extractor, a server function, a worker acting for a tenant) and handed to
//! every use case, which rate-limits and audits by it.

use crate::auth::Principal;
use crate::ids::TenantId;

#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    /// The client's address as the audit log names it (the role, for the hub's own work).
    pub client: String,
}

impl Caller {
    pub fn new(principal: Principal, client: impl Into<String>) -> Self {
        Self {
            principal,
            client: client.into(),
        }
    }

    /// The hub acting on its own for `tenant` (the monitor, a sync, key rotation), audited as
    /// user `system:<role>` from client `<role>`.
    pub fn system(tenant: TenantId, role: &str) -> Self {
        Self::new(Principal::system(tenant, role), role)
    }

    pub fn tenant(&self) -> &TenantId {
        &self.principal.tenant
    }

    pub fn user(&self) -> &str {
        &self.principal.user
    }
}
