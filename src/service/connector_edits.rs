//! A change to a stored connector, saved the one way every service saves one: read within the
//! caller's tenant, changed, stamped (who, when, the next version), and written with its audit
//! entry and its `connector.updated` event in one store transaction. When another writer got there
//! first (the version moved), the change is made again on what they saved.

use super::{Caller, Gate, Outbox, Views};
use crate::clock::now_ms;
use crate::error::{Error, ErrorCode};
use crate::ids::ConnectorId;
use crate::model::webhooks::EventType;
use crate::model::{AuditAction, ConnectorView};
use crate::store::{ConnectorRecord, Store};
use std::sync::Arc;

/// How often a change is made again on a newer version before the caller hears of a conflict.
const ATTEMPTS: usize = 3;

pub(crate) struct ConnectorEdits {
    store: Arc<dyn Store>,
    gate: Arc<Gate>,
    outbox: Arc<Outbox>,
    views: Arc<Views>,
}

impl ConnectorEdits {
    pub(super) fn new(
        store: Arc<dyn Store>,
        gate: Arc<Gate>,
        outbox: Arc<Outbox>,
        views: Arc<Views>,
    ) -> Self {
        Self {
            store,
            gate,
            outbox,
            views,
        }
    }

    /// Saves `change` (given the connector as stored and the copy to change) as `action`, and
    /// answers with the connector as saved. A change that fails (bad input) saves nothing.
    pub(crate) async fn edit(
        &self,
        caller: &Caller,
        id: &ConnectorId,
        action: AuditAction,
        mut change: impl FnMut(&ConnectorRecord, &mut ConnectorRecord) -> Result<(), Error>,
    ) -> Result<ConnectorView, Error> {
        for _attempt in 0..ATTEMPTS {
            let current = self.gate.connector(caller, id, action).await?;
            let mut next = current.clone();
            change(&current, &mut next)?;
            next.updated_at = now_ms();
            next.updated_by = caller.user().to_owned();
            next.version = current.version + 1;
            let audit = self.gate.audited(caller, action, id);
            let updated = self
                .outbox
                .connector_event(EventType::ConnectorUpdated, &next);
            if self
                .store
                .update(
                    caller.tenant(),
                    &next,
                    current.version,
                    Some(&audit),
                    &[updated],
                )
                .await?
            {
                self.outbox.queued();
                return Ok(self.views.view(&next));
            }
        }
        Err(Error::from_code(ErrorCode::Conflict))
    }
}
