//! A connector's data page in one call: the connector, its streams, its runs, a page of one
//! stream's records and its data settings — read under one rate-limit hit and one audit entry
//! (a page that follows a running sync asks every second).

use super::data_settings::data_settings;
use super::{parse_cursor, RUN_HISTORY};
use super::{run_view, Syncs};
use crate::clock::now_ms;
use crate::error::Error;
use crate::ids::ConnectorId;
use crate::model::data::{DataView, StreamPermission};
use crate::model::{AuditAction, AuditOutcome};
use crate::secret::GRANTED_SCOPES;
use crate::service::{Caller, RateClass};

/// Columns the page's table shows (the rest are in each record's JSON).
pub(crate) const TABLE_COLUMNS: usize = 8;

impl Syncs {
    /// `stream` (default: the first with records, else the first) from `cursor`, `rows` a page.
    pub(crate) async fn data_view(
        &self,
        caller: &Caller,
        id: &ConnectorId,
        stream: Option<&str>,
        cursor: Option<&str>,
        rows: usize,
    ) -> Result<DataView, Error> {
        self.gate.limit(caller, RateClass::Reads).await?;
        let after = cursor.map(parse_cursor).transpose()?.unwrap_or(0);
        let record = self
            .gate
            .connector(caller, id, AuditAction::ReadRecords)
            .await?;
        self.gate
            .audit(
                caller,
                AuditAction::ReadRecords,
                Some(id),
                AuditOutcome::Ok,
                None,
            )
            .await?;
        let config = self.credentials.open_for_use(&record)?;
        let def = self.catalog.definition(&record.connector_type)?;
        let streams = self.stream_views(&record, &config).await?;
        let runs = self
            .store
            .list_runs(caller.tenant(), &record.connector_id, None, RUN_HISTORY)
            .await?;
        // The connector as it is after the runs were read: a run's outcome is put on the
        // connector before the run is marked finished, so a run shown finished shows its last
        // sync too (read before them, a run finishing in between left "never" on a done page).
        let shown = self
            .store
            .get(caller.tenant(), &record.connector_id)
            .await?
            .unwrap_or_else(|| record.clone());
        let stream = stream
            .filter(|s| streams.iter().any(|v| v.name == *s))
            .map(str::to_owned)
            .or_else(|| {
                streams
                    .iter()
                    .find(|s| s.record_count > 0)
                    .map(|s| s.name.clone())
            })
            .or_else(|| streams.first().map(|s| s.name.clone()));
        let page = match &stream {
            Some(name) => Some(self.record_page(&record, name, rows, after).await?),
            None => None,
        };
        let mut columns: Vec<String> = Vec::new();
        for r in page.iter().flat_map(|p| &p.records) {
            if let serde_json::Value::Object(fields) = &r.data {
                for name in fields.keys() {
                    if !columns.contains(name) {
                        columns.push(name.clone());
                    }
                }
            }
        }
        if let Some(at) = columns.iter().position(|c| c == "id") {
            let id = columns.remove(at);
            columns.insert(0, id);
        }
        columns.truncate(TABLE_COLUMNS);
        Ok(DataView {
            connector: self.views.view(&shown),
            streams,
            runs: runs.into_iter().map(run_view).collect(),
            stream,
            page,
            columns,
            settings: data_settings(def, &config),
            needs_permission: config
                .get(GRANTED_SCOPES)
                .map(|granted| {
                    def.streams
                        .iter()
                        .filter_map(|s| {
                            let missing = def.ungranted_scopes(s, granted);
                            (!missing.is_empty()).then(|| StreamPermission {
                                stream: s.name.clone(),
                                scopes: missing.into_iter().map(str::to_owned).collect(),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default(),
            webhook_setup: def.webhooks.as_ref().map(|w| w.setup.clone()),
            webhook_takes_secret: def
                .webhooks
                .as_ref()
                .is_some_and(|w| w.secret_field.is_some() && w.channel.is_none()),
            webhook_registers: def.webhooks.as_ref().is_some_and(|w| w.channel.is_some()),
            now_ms: now_ms(),
        })
    }
}
