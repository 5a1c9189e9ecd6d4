//! What an AI agent sees of a tenant's connections at a glance: each connector with the streams
//! it offers, in one call (an agent's first question, before it reads anything). The rest of an
//! agent's work goes through the services a person's does (`Syncs`, `Proxy`), its caller naming
//! the MCP tool it came through.

use super::connectors::page_size;
use super::{Caller, Connectors, Credentials, Gate, Parts, RateClass};
use crate::catalog::Catalog;
use crate::clock::rfc3339;
use crate::error::Error;
use crate::ids::ConnectorId;
use crate::model::{AuditAction, AuditOutcome, ConnectorStatus};
use crate::store::{ConnectorRecord, Store};
use crate::sync;
use serde::Serialize;
use std::sync::Arc;

/// A connector as an agent is told of it: enough to choose one and a stream to read.
#[derive(Debug, Serialize)]
pub(crate) struct AgentConnector {
    pub(crate) connector_id: ConnectorId,
    pub(crate) connector_type: String,
    pub(crate) display_name: String,
    pub(crate) status: ConnectorStatus,
    pub(crate) last_sync_at: Option<String>,
    /// Why the connector does not work now, when it does not (an `ErrorCode`).
    pub(crate) error_code: Option<String>,
    /// The streams `read_records` and `sync_now` take.
    pub(crate) streams: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct AgentConnectors {
    pub(crate) connectors: Vec<AgentConnector>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub(crate) next_cursor: Option<String>,
}

pub(crate) struct Agents {
    store: Arc<dyn Store>,
    catalog: &'static Catalog,
    gate: Arc<Gate>,
    credentials: Arc<Credentials>,
    connectors: Arc<Connectors>,
}

impl Agents {
    pub(super) fn new(parts: &Parts, connectors: Arc<Connectors>) -> Self {
        Self {
            store: parts.store.clone(),
            catalog: crate::catalog::catalog(),
            gate: parts.gate.clone(),
            credentials: parts.credentials.clone(),
            connectors,
        }
    }

    /// A page of the caller's connectors with their streams, newest first.
    pub(crate) async fn connectors(
        &self,
        caller: &Caller,
        status: Option<ConnectorStatus>,
        limit: Option<usize>,
        cursor: Option<&str>,
    ) -> Result<AgentConnectors, Error> {
        self.gate.limit(caller, RateClass::Reads).await?;
        let (records, next_cursor) = self
            .connectors
            .records_page(caller, status, page_size(limit), cursor)
            .await?;
        self.gate
            .audit(caller, AuditAction::Read, None, AuditOutcome::Ok, None)
            .await?;
        let mut connectors = Vec::with_capacity(records.len());
        for r in &records {
            connectors.push(AgentConnector {
                connector_id: r.connector_id.clone(),
                connector_type: r.connector_type.clone(),
                display_name: r.display_name.clone(),
                status: r.status,
                last_sync_at: r.last_sync_at.map(rfc3339),
                error_code: r.error_code.clone(),
                streams: self.stream_names(r).await,
            });
        }
        Ok(AgentConnectors {
            connectors,
            next_cursor,
        })
    }

    /// The streams a connector offers: the catalog's or the REST API connector's one, known
    /// from its type; the PostgreSQL tables chosen, from its settings (a listing reads records
    /// without them, so that one is read whole; none when they do not open: its status says why).
    async fn stream_names(&self, listed: &ConnectorRecord) -> Vec<String> {
        let Ok(def) = self.catalog.definition(&listed.connector_type) else {
            return Vec::new();
        };
        if let Some(known) = sync::known_streams(def) {
            return known.into_iter().map(str::to_owned).collect();
        }
        let Ok(Some(record)) = self
            .store
            .get(&listed.tenant_id, &listed.connector_id)
            .await
        else {
            return Vec::new();
        };
        match self.credentials.open_for_use(&record) {
            Ok(config) => sync::postgres::selections(&config)
                .into_iter()
                .map(|s| s.stream)
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}
