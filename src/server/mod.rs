//! The server's assembly: start-up (settings, store, vault, router), the operator's command line
//! the health monitor and the sync worker. Nothing else in the crate imports it.

pub mod cli;
pub mod delivery_worker;
pub mod monitor;
pub mod startup;
pub mod sync_worker;
pub mod webhook_syncs;
