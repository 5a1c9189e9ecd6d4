//! Every integration test, in one binary: one link step instead of ten on a two-core machine.
//! Each module is one area; `support` starts the real server, the fake providers, PostgreSQL
//! clients and browsers they share.

// Not every test module uses every helper.
#![allow(dead_code)]

mod support;

mod api;
mod api_sessions;
mod api_tenants;
mod architecture;
mod audit_log;
mod build_id;
mod canary;
mod checks;
mod checks_postgres;
mod events;
mod failover;
mod fuzz;
mod jwt_keys;
mod mcp;
mod mcp_gateway;
mod mcp_oauth;
mod oauth;
mod oauth_refresh;
mod openapi;
mod openapi_tools;
mod operations;
mod provider_webhook_channels;
mod provider_webhook_routing;
mod provider_webhooks;
mod proxy;
mod proxy_safety;
mod readme;
mod reliability;
mod rotation;
mod scale_out;
mod scopes;
mod sync;
mod sync_crash;
mod sync_postgres;
mod sync_runs;
