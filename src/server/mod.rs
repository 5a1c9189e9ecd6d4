//! The server's assembly: start-up (settings, store, vault, router, the workers) and the
//! operator's command line. Nothing else in the crate imports it.

pub mod cli;
pub mod startup;
