//! The API surfaces: server functions (for the UI, both builds), the REST API and the MCP server
//! for AI agents (server), and the OAuth authorization server agents get their tokens from.

#[cfg(feature = "ssr")]
pub mod authorization;
pub mod connected_apps;
#[cfg(feature = "ssr")]
pub mod docs;
#[cfg(feature = "ssr")]
pub mod extract;
pub mod functions;
#[cfg(feature = "ssr")]
pub mod health;
#[cfg(feature = "ssr")]
mod html;
#[cfg(feature = "ssr")]
pub mod http_error;
#[cfg(feature = "ssr")]
pub mod mcp;
#[cfg(feature = "ssr")]
pub mod oauth;
#[cfg(feature = "ssr")]
pub mod provider_webhooks;
#[cfg(feature = "ssr")]
pub mod proxy;
#[cfg(feature = "ssr")]
pub mod rest;
#[cfg(feature = "ssr")]
pub mod session;
pub mod source_data;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod table_choice;
#[cfg(feature = "ssr")]
pub mod try_it;
#[cfg(feature = "ssr")]
pub mod webhook_forms;
pub mod webhook_overview;
pub mod wizard;
