//! Previews: the first page of a stream, read from the provider with a saved connector's
//! credential or with a configuration not saved yet, shown and never stored.

use super::Syncs;
use crate::catalog::{ConnectorDef, StreamDef, StreamsFrom};
use crate::error::Error;
use crate::ids::ConnectorId;
use crate::model::data::{Column, Preview};
use crate::model::{AuditAction, AuditOutcome};
use crate::outbound::access::Access;
use crate::outbound::retry::Answer;
use crate::outbound::scrub::Scrub;
use crate::secret::SecretConfig;
use crate::service::credentials::Renewing;
use crate::service::{Caller, RateClass};
use crate::sync::pages::{Page, PageToken, StreamReader};
use crate::sync::{self, values, PREVIEW_RECORDS};
use std::collections::BTreeMap;

impl Syncs {
    /// The first records of `stream` (the connector's main stream when `None`).
    pub(crate) async fn preview_saved(
        &self,
        caller: &Caller,
        id: &ConnectorId,
        stream: Option<&str>,
    ) -> Result<Preview, Error> {
        self.gate.limit(caller, RateClass::Tests).await?;
        let record = self
            .gate
            .connector(caller, id, AuditAction::Preview)
            .await?;
        let def = self.catalog.definition(&record.connector_type)?;
        self.gate
            .audit(
                caller,
                AuditAction::Preview,
                Some(id),
                AuditOutcome::Ok,
                None,
            )
            .await?;
        let config = self.credentials.fresh(caller, &record, false).await?;
        self.credentials
            .send_renewing_once(
                caller,
                &record,
                config,
                Renewing::AtMostPerMinute,
                Answer::of_result,
                |config| async move { self.preview(def, &config, stream).await },
            )
            .await
    }

    /// The first records a configuration not saved yet would read.
    pub(crate) async fn preview_unsaved(
        &self,
        caller: &Caller,
        connector_type: &str,
        config: &BTreeMap<String, String>,
        stream: Option<&str>,
    ) -> Result<Preview, Error> {
        let def = self.catalog.definition(connector_type)?;
        let valid = self.catalog.validate(def, config)?;
        self.gate.limit(caller, RateClass::Tests).await?;
        self.gate
            .audit(caller, AuditAction::Preview, None, AuditOutcome::Ok, None)
            .await?;
        self.preview(def, &SecretConfig::from(valid), stream).await
    }

    pub(super) async fn preview(
        &self,
        def: &'static ConnectorDef,
        config: &SecretConfig,
        stream: Option<&str>,
    ) -> Result<Preview, Error> {
        if def.streams_from == StreamsFrom::Discovery {
            return sync::postgres::preview(def, config, &self.outbound, stream).await;
        }
        let streams = sync::http_streams(def, config);
        let chosen = sync::choose(&streams, stream)?;
        // Refused before the provider is asked: a secret too short to find in its answer.
        let scrub = Scrub::new(def, config)?;
        let page = self
            .read_stream(def, config, chosen, &PageToken::Start, None)
            .await?;
        let has_more = page.records.len() > PREVIEW_RECORDS || page.next.is_some();
        let records: Vec<serde_json::Value> = page
            .records
            .into_iter()
            .take(PREVIEW_RECORDS)
            .map(|r| scrub.clean_value(r))
            .collect();
        Ok(Preview {
            stream: chosen.name.clone(),
            streams: streams.iter().map(|s| s.name.clone()).collect(),
            columns: columns(&records),
            records,
            has_more,
        })
    }
}

impl Syncs {
    /// One page of `stream` of a connector, read with `config`: the call placed and authorised
    /// as the connector's access says, a refusal blamed on the field that carries the credential.
    pub(super) async fn read_stream(
        &self,
        def: &ConnectorDef,
        config: &SecretConfig,
        stream: &StreamDef,
        token: &PageToken,
        since: Option<i64>,
    ) -> Result<Page, Error> {
        let access = Access::resolve(def, config, self.outbound.providers())?;
        let reader = StreamReader {
            http: self.outbound.http(),
            access: &access,
            stream,
            config,
            provider: &def.name,
            credential_field: def.credential_field(),
        };
        reader.read(token, since).await
    }
}

pub(super) fn columns(records: &[serde_json::Value]) -> Vec<Column> {
    values::columns(records)
        .into_iter()
        .map(|(name, column_type)| Column { name, column_type })
        .collect()
}
