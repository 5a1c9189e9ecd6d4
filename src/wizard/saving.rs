//! The wizard's end: test the answers, then create the connector (or replace the credentials of
//! the one being reconnected), recording the test's outcome on it.

use super::Flow;
use crate::error::{ApiError, Error, ErrorCode};
use crate::model::wizard::WizardStep;
use crate::model::CheckResult;
use crate::service::{ConnectorChanges, NewConnector, TokenTimes};

impl Flow<'_> {
    pub(super) async fn test_and_save(&mut self) -> Result<(), Error> {
        let result = self
            .hub
            .connectors
            .test_unsaved(
                self.caller,
                &self.def.id,
                &self.draft.answers,
                self.replace.as_ref(),
            )
            .await?;
        self.draft.result = Some(result.clone());
        if result.success {
            return self.save(Some(result)).await;
        }
        // Take the user back to the field to blame, keeping every other answer.
        let blamed = result
            .field
            .as_deref()
            .and_then(|name| self.applicable().into_iter().find(|f| f.name == name));
        match blamed {
            Some(field) => {
                self.goto_field(Some(field));
                self.show(ApiError {
                    code: result.error_code.unwrap_or(ErrorCode::InvalidConfig),
                    message: result.message.clone(),
                    field: result.field.clone(),
                    hint: result.hint.clone(),
                    retry_after: result.retry_after,
                    run_id: None,
                    request_id: None,
                });
            }
            None => self.draft.step = Some(WizardStep::Test),
        }
        Ok(())
    }

    pub(super) async fn save(&mut self, result: Option<CheckResult>) -> Result<(), Error> {
        let answers = std::mem::take(&mut self.draft.answers);
        // The wizard checked exactly these answers: a success proves the account they name.
        let tested_account = self.hub.credentials.account_named(&self.def.id, &answers);
        let tokens = self
            .draft
            .tokens
            .map(|(expires_at, refreshed_at)| TokenTimes {
                expires_at,
                refreshed_at,
            });
        let id = match &self.replace {
            Some(id) => {
                let changes = ConnectorChanges {
                    display_name: self.draft.display_name.clone(),
                    sync_frequency: Some(self.draft.sync_frequency),
                    config: Some(answers),
                    tokens,
                    ..ConnectorChanges::default()
                };
                self.hub.connectors.update(self.caller, id, changes).await?;
                id.clone()
            }
            None => {
                let input = NewConnector {
                    connector_type: self.def.id.clone(),
                    display_name: self.draft.display_name.clone(),
                    config: answers,
                    sync_frequency: Some(self.draft.sync_frequency),
                    tokens,
                };
                self.hub
                    .connectors
                    .create_record(self.caller, input)
                    .await?
                    .connector_id
            }
        };
        if let Some(result) = &result {
            self.hub
                .connectors
                .record_test(self.caller, &id, result, tested_account)
                .await?;
        }
        self.draft.saved = Some(id);
        self.draft.step = Some(WizardStep::Done);
        self.draft.field = None;
        Ok(())
    }
}
