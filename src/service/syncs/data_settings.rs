//! Settings for reading data, changed once a connection works: the REST API connector's records
//! location and paging, PostgreSQL's table choice. They are the catalog's `ask = "later"` fields;
//! changing them keeps the credentials and the connector's status.

use super::Syncs;
use crate::catalog::{Ask, ConnectorDef, StreamsFrom};
use crate::error::{Error, ErrorCode};
use crate::ids::ConnectorId;
use crate::model::data::TableChoice;
use crate::model::{AuditAction, ConnectorView};
use crate::secret::SecretConfig;
use crate::service::{Caller, RateClass};
use crate::sync::postgres;
use std::collections::BTreeMap;

impl Syncs {
    /// Sets the given data settings (an empty value clears one); other fields are kept.
    pub(crate) async fn change_data_settings(
        &self,
        caller: &Caller,
        id: &ConnectorId,
        settings: &BTreeMap<String, String>,
    ) -> Result<ConnectorView, Error> {
        self.gate.limit(caller, RateClass::Writes).await?;
        self.edits
            .edit(caller, id, AuditAction::Update, |current, next| {
                let def = self.catalog.definition(&current.connector_type)?;
                if let Some(name) = settings
                    .keys()
                    .find(|name| def.field(name).is_none_or(|f| f.ask != Ask::Later))
                {
                    return Err(Error::new(
                        ErrorCode::InvalidRequest,
                        format!(
                            "“{}” is not a data setting of {}.",
                            name.chars().take(64).collect::<String>(),
                            def.name
                        ),
                    )
                    .with_field(name.as_str()));
                }
                let mut merged = self.credentials.open_for_use(current)?.expose().clone();
                for (name, value) in settings {
                    if value.trim().is_empty() {
                        merged.remove(name);
                    } else {
                        merged.insert(name.clone(), value.trim().to_owned());
                    }
                }
                let valid = self.catalog.validate(def, &merged)?;
                self.credentials.seal(next, &SecretConfig::from(valid));
                Ok(())
            })
            .await
    }

    /// PostgreSQL: the tables this user can read, what each could be synced by, and what is
    /// chosen now.
    pub(crate) async fn table_choices(
        &self,
        caller: &Caller,
        id: &ConnectorId,
    ) -> Result<Vec<TableChoice>, Error> {
        self.gate.limit(caller, RateClass::Tests).await?;
        let record = self
            .gate
            .connector(caller, id, AuditAction::Preview)
            .await?;
        if self
            .catalog
            .definition(&record.connector_type)?
            .streams_from
            != StreamsFrom::Discovery
        {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                "Only a PostgreSQL connector has tables to choose.",
            )
            .with_field("connector_id"));
        }
        self.gate
            .audit(
                caller,
                AuditAction::Preview,
                Some(id),
                crate::model::AuditOutcome::Ok,
                None,
            )
            .await?;
        let config = self.credentials.fresh(caller, &record, false).await?;
        let ctx = crate::checks::Ctx::new(&self.outbound, &config);
        let tables = crate::checks::postgresql::within_timeout(&ctx, async {
            let client = postgres::open(&self.outbound, &config).await?;
            postgres::discover(&client).await
        })
        .await?;
        let chosen = postgres::selections(&config);
        Ok(tables
            .iter()
            .map(|t| {
                let name = t.stream();
                let pick = chosen.iter().find(|s| s.stream == name);
                TableChoice {
                    cursor_candidates: t.cursor_candidates().map(|c| c.name.clone()).collect(),
                    has_key: !t.key.is_empty(),
                    chosen: pick.is_some() || (chosen.is_empty() && !t.key.is_empty()),
                    cursor: pick.and_then(|s| s.cursor.clone()),
                    name,
                }
            })
            .collect())
    }
}

/// A connector's data settings and their values in `config`.
pub(super) fn data_settings(
    def: &ConnectorDef,
    config: &SecretConfig,
) -> Vec<crate::model::data::DataSetting> {
    def.fields
        .iter()
        .filter(|f| f.ask == Ask::Later && !f.secret)
        .map(|f| crate::model::data::DataSetting {
            name: f.name.clone(),
            label: f.label.clone(),
            help: f.help.clone(),
            options: f.options.clone(),
            example: f.example.clone(),
            value: config.get(&f.name).map(str::to_owned),
        })
        .collect()
}
