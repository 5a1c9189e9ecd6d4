//! The server's assembly: start-up (settings, store, vault, router), the operator's command line
//! and the health monitor. Nothing else in the crate imports it.

pub mod cli;
pub mod monitor;
pub mod startup;
