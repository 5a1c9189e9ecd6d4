//! A tenant's own MCP servers (`mcp_server` connectors) behind the hub's MCP server: their tools
//! are offered to the tenant's agents beside the hub's own, each name prefixed with the
//! connector it comes from, and a call is forwarded with the stored credential — which the
//! agent never sees: the answer comes back with the connector's secrets taken out, as the
//! proxy's does. Egress, the credential's own origin and the audit apply as for any connector.

use super::{Caller, Credentials, Gate, Parts, RateClass};
use crate::catalog::{Catalog, ConnectorDef};
use crate::error::{Error, ErrorCode};
use crate::ids::{ConnectorId, TenantId};
use crate::model::{AuditAction, AuditOutcome, ConnectorStatus};
use crate::outbound::access::Access;
use crate::outbound::mcp::{McpSession, MCP_SERVER};
use crate::outbound::scrub::Scrub;
use crate::outbound::Outbound;
use crate::store::{ConnectorRecord, ListQuery, Store};
use rmcp::model::{CallToolResult, Tool};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a server's tool list is reused before it is asked again.
const TOOLS_FRESH_FOR: Duration = Duration::from_secs(60);

/// Most MCP server connectors of one tenant whose tools are offered.
const MAX_SERVERS: usize = 50;

/// Most tools offered from one server, and from all of a tenant's together: a model is shown a
/// few dozen at most, and a hostile server must not fill the hub's memory.
const MAX_TOOLS_PER_SERVER: usize = 200;
const MAX_TOOLS: usize = 500;

/// How long listing one server's tools may take, however many pages it has.
const LISTING_DEADLINE: Duration = Duration::from_secs(15);

/// How long a server that failed to list its tools is left alone before it is asked again.
const FAILURE_KEPT_FOR: Duration = Duration::from_secs(30);

/// Between a gateway tool's prefix and the server's own tool name.
const SEPARATOR: &str = "__";

/// A server's tools as last listed (its tools, scrubbed, or why they could not be listed), for
/// the connector's version they were listed under.
struct Listed {
    version: i64,
    at: Instant,
    tools: Result<Arc<Vec<Tool>>, (ErrorCode, String)>,
}

impl Listed {
    fn fresh(&self, version: i64) -> bool {
        let keep = if self.tools.is_ok() {
            TOOLS_FRESH_FOR
        } else {
            FAILURE_KEPT_FOR
        };
        self.version == version && self.at.elapsed() < keep
    }
}

pub(crate) struct McpGateway {
    store: Arc<dyn Store>,
    catalog: &'static Catalog,
    gate: Arc<Gate>,
    credentials: Arc<Credentials>,
    outbound: Arc<Outbound>,
    listed: Mutex<HashMap<(TenantId, ConnectorId), Listed>>,
}

impl McpGateway {
    pub(super) fn new(parts: &Parts) -> Self {
        Self {
            store: parts.store.clone(),
            catalog: crate::catalog::catalog(),
            gate: parts.gate.clone(),
            credentials: parts.credentials.clone(),
            outbound: parts.outbound.clone(),
            listed: Mutex::new(HashMap::new()),
        }
    }

    /// The tools of the caller's working MCP servers, named `<connector prefix>__<tool>` and
    /// described as coming from that connector. A server that cannot be reached now is left out
    /// (its connector's status tells why once it is tested).
    pub(crate) async fn tools(&self, caller: &Caller) -> Result<Vec<Tool>, Error> {
        self.gate.limit(caller, RateClass::Reads).await?;
        let servers = self.servers(caller).await?;
        let listings =
            futures_util::future::join_all(servers.iter().map(|record| self.server_tools(record)))
                .await;
        let mut offered = Vec::new();
        for (record, listing) in servers.iter().zip(listings) {
            let Ok(tools) = listing else {
                continue;
            };
            let prefix = prefix(record);
            for tool in tools.iter() {
                let name = format!("{prefix}{SEPARATOR}{}", tool.name);
                if !valid_tool_name(&name) || offered.len() == MAX_TOOLS {
                    continue;
                }
                let mut offered_tool = tool.clone();
                offered_tool.name = name.into();
                let said = tool.description.as_deref().unwrap_or_default();
                offered_tool.description = Some(
                    format!(
                        "From the MCP server “{}” (connector {}): {said}",
                        record.display_name, record.connector_id
                    )
                    .into(),
                );
                offered.push(offered_tool);
            }
        }
        Ok(offered)
    }

    /// Whether `name` is a gateway tool's name (a prefix, then the server's tool).
    pub(crate) fn is_gateway_tool(name: &str) -> bool {
        valid_tool_name(name)
            && name
                .split_once(SEPARATOR)
                .is_some_and(|(prefix, tool)| !prefix.is_empty() && !tool.is_empty())
    }

    /// Calls gateway tool `name` with `arguments`. A tool its server does not mark read-only
    /// needs `may_write`.
    pub(crate) async fn call(
        &self,
        caller: &Caller,
        name: &str,
        arguments: serde_json::Map<String, serde_json::Value>,
        may_write: bool,
    ) -> Result<CallToolResult, Error> {
        self.gate.limit(caller, RateClass::Proxy).await?;
        let no_tool = || {
            Error::new(
                ErrorCode::NotFound,
                format!("There is no tool named {name}."),
            )
        };
        let (wanted_prefix, tool_name) = name.split_once(SEPARATOR).ok_or_else(no_tool)?;
        let servers = self.servers(caller).await?;
        let Some(record) = servers.iter().find(|r| prefix(r) == wanted_prefix) else {
            let refused = no_tool();
            self.gate
                .audit_refusal(caller, AuditAction::Proxy, &refused)
                .await;
            return Err(refused);
        };
        let tools = self.server_tools(record).await?;
        let tool = tools
            .iter()
            .find(|t| t.name == tool_name)
            .ok_or_else(no_tool)?;
        let read_only = tool
            .annotations
            .as_ref()
            .and_then(|a| a.read_only_hint)
            .unwrap_or(false);
        if !read_only && !may_write {
            return Err(Error::new(
                ErrorCode::Forbidden,
                format!("{name} may change data (its server does not mark it read-only), so it needs the mcp:write scope, which this token was not granted."),
            ));
        }
        let (def, config) = self.opened(record)?;
        let scrub = Scrub::new(def, &config)?;
        let access = Access::resolve(def, &config, self.outbound.providers())?;
        let started = Instant::now();
        let called = async {
            let mut session = McpSession::open(self.outbound.http(), &access).await?;
            session
                .call_tool(tool_name, serde_json::Value::Object(arguments))
                .await
        }
        .await;
        let mut entry = Gate::entry(
            caller,
            AuditAction::Proxy,
            Some(&record.connector_id),
            if called.is_ok() {
                AuditOutcome::Ok
            } else {
                AuditOutcome::Error
            },
            called.as_ref().err().map(|e| e.code),
        );
        Gate::add_detail(
            &mut entry,
            scrub
                .clean(&format!(
                    "tools/call {} in {} ms",
                    tool_name.chars().take(100).collect::<String>(),
                    started.elapsed().as_millis()
                ))
                .into_owned(),
        );
        self.gate.append(entry).await?;
        let result =
            called.map_err(|e| Error::new(e.code, scrub.clean(&e.message).into_owned()))?;
        // The server's answer, whatever it holds, with the credential taken out.
        let value =
            serde_json::to_value(&result).map_err(|_| Error::from_code(ErrorCode::Internal))?;
        serde_json::from_value(scrub.clean_value(value))
            .map_err(|_| Error::from_code(ErrorCode::Internal))
    }

    /// The caller's MCP server connectors that passed their last test, newest first.
    async fn servers(&self, caller: &Caller) -> Result<Vec<ConnectorRecord>, Error> {
        let listed = self
            .store
            .list(
                caller.tenant(),
                &ListQuery {
                    status: Some(ConnectorStatus::Active),
                    limit: 1000,
                    before: None,
                },
            )
            .await?;
        let mut servers = Vec::new();
        for record in listed
            .into_iter()
            .filter(|r| r.connector_type == MCP_SERVER)
        {
            // A listing holds no settings: the connector is read whole to reach its server.
            if let Some(full) = self
                .store
                .get(caller.tenant(), &record.connector_id)
                .await?
            {
                servers.push(full);
            }
            if servers.len() == MAX_SERVERS {
                break;
            }
        }
        Ok(servers)
    }

    /// A server's tools: as listed within the last minute for this version of its connector,
    /// or asked for now (within `LISTING_DEADLINE`). What the server said — its tools, or its
    /// refusal — comes back with the connector's secrets taken out: a server that put its token
    /// in a description, a schema or an error message hands it to nobody. A tool whose name held
    /// a secret is left out.
    async fn server_tools(&self, record: &ConnectorRecord) -> Result<Arc<Vec<Tool>>, Error> {
        let key = (record.tenant_id.clone(), record.connector_id.clone());
        {
            let listed = self.listed.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(l) = listed.get(&key).filter(|l| l.fresh(record.version)) {
                return l
                    .tools
                    .clone()
                    .map_err(|(code, message)| Error::new(code, message));
            }
        }
        let (def, config) = self.opened(record)?;
        let scrub = Scrub::new(def, &config)?;
        let listing = async {
            let access = Access::resolve(def, &config, self.outbound.providers())?;
            let mut session = McpSession::open(self.outbound.http(), &access).await?;
            session.list_tools(MAX_TOOLS_PER_SERVER).await
        };
        let tools = match tokio::time::timeout(LISTING_DEADLINE, listing).await {
            Ok(Ok(tools)) => Ok(Arc::new(
                tools
                    .into_iter()
                    .filter_map(|tool| scrubbed(&scrub, tool))
                    .collect(),
            )),
            Ok(Err(e)) => Err((e.code, scrub.clean(&e.message).into_owned())),
            Err(_) => Err((
                ErrorCode::ProviderTimeout,
                "The MCP server did not list its tools in time.".to_owned(),
            )),
        };
        let mut listed = self.listed.lock().unwrap_or_else(PoisonError::into_inner);
        // Whatever is no longer fresh goes as the next listing comes in: the map holds what
        // was listed within the last minute.
        listed.retain(|_, l| l.at.elapsed() < TOOLS_FRESH_FOR);
        listed.insert(
            key,
            Listed {
                version: record.version,
                at: Instant::now(),
                tools: tools.clone(),
            },
        );
        tools.map_err(|(code, message)| Error::new(code, message))
    }

    fn opened(
        &self,
        record: &ConnectorRecord,
    ) -> Result<(&'static ConnectorDef, crate::secret::SecretConfig), Error> {
        let def = self.catalog.definition(&record.connector_type)?;
        Ok((def, self.credentials.open_for_use(record)?))
    }
}

/// `tool` with the connector's secrets taken out of everything it says; none when its name held
/// one (or it no longer reads as a tool once cleaned).
fn scrubbed(scrub: &Scrub, tool: Tool) -> Option<Tool> {
    let name = tool.name.clone();
    let value = serde_json::to_value(tool).ok()?;
    let clean: Tool = serde_json::from_value(scrub.clean_value(value)).ok()?;
    (clean.name == name).then_some(clean)
}

/// A connector's prefix for its tools: its name in the characters tool names allow, and the
/// start of its id (two servers of the same name stay apart).
fn prefix(record: &ConnectorRecord) -> String {
    let mut slug = String::new();
    for c in record.display_name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('_') && !slug.is_empty() {
            slug.push('_');
        }
        if slug.len() >= 20 {
            break;
        }
    }
    let slug = slug.trim_end_matches('_');
    let id = record.connector_id.as_str();
    let short: String = id
        .rsplit('-')
        .next()
        .unwrap_or(id)
        .chars()
        .take(6)
        .collect();
    if slug.is_empty() {
        format!("mcp_{short}")
    } else {
        format!("{slug}_{short}")
    }
}

/// Within the MCP specification's rule for tool names: 1 to 128 of `A-Z a-z 0-9 _ - .`.
fn valid_tool_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_keep_to_the_specifications_characters() {
        assert!(valid_tool_name("crm_tools_a1b2c3__search.v2"));
        assert!(!valid_tool_name("crm tools__search"));
        assert!(!valid_tool_name(&"x".repeat(129)));
        assert!(McpGateway::is_gateway_tool("crm_a1b2c3__search"));
        assert!(!McpGateway::is_gateway_tool("list_connectors"));
        assert!(!McpGateway::is_gateway_tool("__search"));
        assert!(!McpGateway::is_gateway_tool(&format!(
            "a__{}",
            "b".repeat(200)
        )));
    }
}
