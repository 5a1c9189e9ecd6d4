//! The two API surfaces: server functions (for the UI, both builds) and the REST API (server).

pub mod functions;
#[cfg(feature = "ssr")]
pub mod oauth;
#[cfg(feature = "ssr")]
pub mod rest;
#[cfg(feature = "ssr")]
pub mod session;
pub mod wizard;
