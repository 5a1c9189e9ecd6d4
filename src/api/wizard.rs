//! The setup wizard's state machine. Its state lives on the server, sealed by the vault and tied
//! to the user, so the same flow works hydrated (ActionForm) and without JavaScript (one form post
//! per step), and a secret typed in one step is never sent back in a later page.

use crate::catalog::{ConnectorDef, FieldDef};
use crate::error::ApiError;
use crate::model::{CheckResult, SyncFrequency};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WizardStep {
    Intro,
    Auth,
    Field,
    Name,
    Test,
    Done,
}

/// An answer as the conversation shows it: secrets are masked, always the same width.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShownAnswer {
    pub field: String,
    pub label: String,
    pub question: String,
    pub shown: String,
}

/// Everything the wizard page renders. It holds no secret: it is serialized into the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WizardView {
    pub def: ConnectorDef,
    pub draft_id: Option<String>,
    pub revision: u32,
    pub replace: Option<String>,
    pub step: WizardStep,
    pub field: Option<FieldDef>,
    /// The current non-secret answer, when going back to a field.
    pub prefill: Option<String>,
    /// The current field is a secret that already has an answer (leave empty to keep it).
    pub has_secret_answer: bool,
    pub answered: Vec<ShownAnswer>,
    pub error: Option<ApiError>,
    pub result: Option<CheckResult>,
    pub saved_connector: Option<String>,
    pub display_name: String,
    pub sync_frequency: SyncFrequency,
}

pub const SECRET_MASK: &str = "•••••••• (hidden)";

#[server(endpoint = "wizard_view")]
pub async fn load_wizard(
    connector_type: String,
    draft: Option<String>,
    replace: Option<String>,
) -> Result<WizardView, ApiError> {
    let (state, p) = crate::auth::require_principal().await?;
    let flow = server::Flow::open(
        &state,
        &p,
        &connector_type,
        draft.as_deref(),
        replace.as_deref(),
    )
    .await?;
    Ok(flow.view())
}

/// Applies one step and answers with the URL of the next page (also sent as a redirect).
#[server(endpoint = "wizard_step")]
pub async fn advance_wizard(
    connector_type: String,
    draft: Option<String>,
    replace: Option<String>,
    action: String,
    value: Option<String>,
    display_name: Option<String>,
    sync_frequency: Option<String>,
) -> Result<String, ApiError> {
    let (state, p) = crate::auth::require_principal().await?;
    let mut flow = server::Flow::open(
        &state,
        &p,
        &connector_type,
        draft.as_deref(),
        replace.as_deref(),
    )
    .await?;
    let url = flow
        .apply(&action, value, display_name, sync_frequency)
        .await?;
    leptos_axum::redirect(&url);
    Ok(url)
}

#[cfg(feature = "ssr")]
mod server {
    use super::*;
    use crate::api::functions::client;
    use crate::auth::Principal;
    use crate::catalog::catalog;
    use crate::error::ErrorCode;
    use crate::server::AppState;
    use crate::service::{ConnectorChanges, NewConnector};
    use std::collections::BTreeMap;

    /// The sealed part: may hold secrets, never leaves the server in clear.
    #[derive(Serialize, Deserialize, Default)]
    struct Draft {
        step: Option<WizardStep>,
        field: Option<String>,
        answers: BTreeMap<String, String>,
        display_name: Option<String>,
        sync_frequency: SyncFrequency,
        error: Option<ApiError>,
        result: Option<CheckResult>,
        saved: Option<String>,
        revision: u32,
    }

    pub struct Flow<'a> {
        state: &'a AppState,
        p: &'a Principal,
        def: &'static ConnectorDef,
        id: Option<String>,
        replace: Option<String>,
        draft: Draft,
    }

    impl<'a> Flow<'a> {
        pub async fn open(
            state: &'a AppState,
            p: &'a Principal,
            connector_type: &str,
            draft_id: Option<&str>,
            replace: Option<&str>,
        ) -> Result<Flow<'a>, ApiError> {
            let def = catalog().get(connector_type).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::UnknownConnectorType,
                    "There is no connector of that type.",
                )
                .with_field("connector_type")
            })?;
            let draft_id =
                draft_id.filter(|d| d.len() == 32 && d.bytes().all(|b| b.is_ascii_hexdigit()));
            let stored = match draft_id {
                Some(id) => state.service.load_draft(p, id).await?,
                None => None,
            };
            let expired = draft_id.is_some() && stored.is_none();
            let mut draft: Draft = stored
                .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                .unwrap_or_default();
            if expired {
                draft.error = Some(ApiError::new(
                    ErrorCode::InvalidRequest,
                    "This setup was left for a while, so its answers were discarded. Let's start again.",
                ));
            }
            let id = if expired {
                None
            } else {
                draft_id.map(str::to_owned)
            };
            Ok(Flow {
                state,
                p,
                def,
                id,
                replace: replace.map(str::to_owned),
                draft,
            })
        }

        fn step(&self) -> WizardStep {
            self.draft.step.unwrap_or(WizardStep::Intro)
        }

        fn applicable(&self) -> Vec<&'static FieldDef> {
            self.def
                .fields
                .iter()
                .filter(|f| f.applies(&self.draft.answers))
                .collect()
        }

        fn current_field(&self) -> Option<&'static FieldDef> {
            let name = self.draft.field.as_deref()?;
            self.def.fields.iter().find(|f| f.name == name)
        }

        pub fn view(&self) -> WizardView {
            let step = self.step();
            let current = self.current_field();
            let fields = self.applicable();
            // Answers shown: every applicable answered field before the current one.
            let upto = match (step, current) {
                (WizardStep::Field, Some(f)) => fields
                    .iter()
                    .position(|x| x.name == f.name)
                    .unwrap_or(fields.len()),
                (WizardStep::Intro | WizardStep::Auth, _) => 0,
                _ => fields.len(),
            };
            let answered = fields
                .iter()
                .take(upto)
                .filter_map(|f| {
                    let value = self.draft.answers.get(&f.name)?;
                    Some(ShownAnswer {
                        field: f.name.clone(),
                        label: f.label.clone(),
                        question: question(f),
                        shown: if f.secret {
                            SECRET_MASK.to_owned()
                        } else {
                            value.clone()
                        },
                    })
                })
                .collect();
            let prefill = current.filter(|f| !f.secret).and_then(|f| {
                self.draft
                    .answers
                    .get(&f.name)
                    .cloned()
                    .or_else(|| f.default.clone())
            });
            WizardView {
                def: self.def.clone(),
                draft_id: self.id.clone(),
                revision: self.draft.revision,
                replace: self.replace.clone(),
                step,
                field: current.cloned(),
                prefill,
                has_secret_answer: current
                    .is_some_and(|f| f.secret && self.draft.answers.contains_key(&f.name)),
                answered,
                error: self.draft.error.clone(),
                result: self.draft.result.clone(),
                saved_connector: self.draft.saved.clone(),
                display_name: self
                    .draft
                    .display_name
                    .clone()
                    .unwrap_or_else(|| self.def.name.clone()),
                sync_frequency: self.draft.sync_frequency,
            }
        }

        fn goto_field(&mut self, field: Option<&FieldDef>) {
            match field {
                Some(f) => {
                    self.draft.step = Some(WizardStep::Field);
                    self.draft.field = Some(f.name.clone());
                }
                None => {
                    self.draft.step = Some(WizardStep::Name);
                    self.draft.field = None;
                }
            }
        }

        async fn start_replacing(&mut self) -> Result<(), ApiError> {
            if let Some(id) = self.replace.clone() {
                let (record, config) = self.state.service.stored_config(self.p, &id).await?;
                if record.connector_type != self.def.id {
                    return Err(ApiError::not_found());
                }
                self.draft.answers = config.into_inner();
                self.draft.display_name = Some(record.display_name);
                self.draft.sync_frequency = record.sync_frequency;
            }
            Ok(())
        }

        pub async fn apply(
            &mut self,
            action: &str,
            value: Option<String>,
            display_name: Option<String>,
            sync_frequency: Option<String>,
        ) -> Result<String, ApiError> {
            if self.draft.saved.is_some() && action != "restart" {
                return Ok(self.url());
            }
            self.draft.error = None;
            match action {
                "start" => {
                    if self.id.is_none() {
                        self.start_replacing().await?;
                    }
                    self.draft.step = Some(WizardStep::Auth);
                }
                "continue" => {
                    let first = self.applicable().first().copied();
                    self.goto_field(first);
                }
                "answer" => self.answer(value.unwrap_or_default()),
                "back" => self.back(),
                "name" => {
                    let name = display_name.unwrap_or_default();
                    let name = name.trim();
                    if name.is_empty() || name.chars().count() > 100 {
                        self.draft.error = Some(
                            ApiError::new(
                                ErrorCode::InvalidRequest,
                                "Give the connection a name of 1 to 100 characters.",
                            )
                            .with_field("display_name"),
                        );
                    } else {
                        self.draft.display_name = Some(name.to_owned());
                        self.draft.sync_frequency = sync_frequency
                            .as_deref()
                            .and_then(SyncFrequency::parse)
                            .unwrap_or_default();
                        self.test_and_save().await?;
                    }
                }
                "retry" => self.test_and_save().await?,
                "save_anyway" => self.save(None).await?,
                "restart" => {
                    if let Some(id) = &self.id {
                        self.state.service.drop_draft(self.p, id).await?;
                    }
                    return Ok(format!("/connect/{}", self.def.id));
                }
                edit if edit.starts_with("edit:") => {
                    let name = &edit["edit:".len()..];
                    let field = self.applicable().into_iter().find(|f| f.name == name);
                    if field.is_some() {
                        self.goto_field(field);
                    }
                }
                _ => {
                    return Err(
                        ApiError::new(ErrorCode::InvalidRequest, "Unknown wizard action.")
                            .with_field("action"),
                    )
                }
            }
            self.persist().await?;
            Ok(self.url())
        }

        fn answer(&mut self, value: String) {
            let Some(field) = self.current_field() else {
                let first = self.applicable().first().copied();
                return self.goto_field(first);
            };
            let keep_secret = field.secret
                && value.trim().is_empty()
                && self.draft.answers.contains_key(&field.name);
            if !keep_secret {
                match catalog().validate_field(self.def, field, &value) {
                    Ok(valid) if valid.is_empty() => {
                        self.draft.answers.remove(&field.name);
                    }
                    Ok(valid) => {
                        self.draft.answers.insert(field.name.clone(), valid);
                    }
                    Err(e) => {
                        self.draft.error = Some(e);
                        return;
                    }
                }
            }
            // Answers to fields that no longer apply (another auth type chosen) are dropped.
            let applicable: Vec<String> =
                self.applicable().iter().map(|f| f.name.clone()).collect();
            self.draft.answers.retain(|k, _| applicable.contains(k));
            // On to the first field still unanswered: after a correction the user goes straight
            // back to the test instead of walking through answers that are already there.
            let next = self
                .applicable()
                .into_iter()
                .find(|f| !self.draft.answers.contains_key(&f.name));
            self.goto_field(next);
        }

        fn back(&mut self) {
            let fields = self.applicable();
            match self.step() {
                WizardStep::Intro | WizardStep::Auth => self.draft.step = Some(WizardStep::Intro),
                WizardStep::Field => {
                    let index = self
                        .current_field()
                        .and_then(|f| fields.iter().position(|x| x.name == f.name))
                        .unwrap_or(0);
                    if index == 0 {
                        self.draft.step = Some(WizardStep::Auth);
                        self.draft.field = None;
                    } else {
                        self.goto_field(fields.get(index - 1).copied());
                    }
                }
                WizardStep::Name | WizardStep::Test | WizardStep::Done => {
                    self.goto_field(fields.last().copied())
                }
            }
        }

        async fn test_and_save(&mut self) -> Result<(), ApiError> {
            let result = self
                .state
                .service
                .test_unsaved(self.p, &self.def.id, &self.draft.answers, &client())
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
                    self.draft.error = Some(ApiError {
                        code: result.error_code.unwrap_or(ErrorCode::InvalidConfig),
                        message: result.message.clone(),
                        field: result.field.clone(),
                        hint: result.hint.clone(),
                        retry_after: result.retry_after,
                        request_id: None,
                    });
                }
                None => self.draft.step = Some(WizardStep::Test),
            }
            Ok(())
        }

        async fn save(&mut self, result: Option<CheckResult>) -> Result<(), ApiError> {
            let client = client();
            let answers = std::mem::take(&mut self.draft.answers);
            let id = match &self.replace {
                Some(id) => {
                    let changes = ConnectorChanges {
                        display_name: self.draft.display_name.clone(),
                        sync_frequency: Some(self.draft.sync_frequency),
                        config: Some(answers),
                    };
                    self.state
                        .service
                        .update(self.p, id, changes, &client)
                        .await?
                        .connector_id
                }
                None => {
                    let input = NewConnector {
                        connector_type: self.def.id.clone(),
                        display_name: self.draft.display_name.clone(),
                        config: answers,
                        sync_frequency: Some(self.draft.sync_frequency),
                    };
                    self.state
                        .service
                        .create(self.p, input, &client)
                        .await?
                        .connector_id
                }
            };
            if let Some(result) = &result {
                self.state.service.record_test(self.p, &id, result).await?;
            }
            self.draft.saved = Some(id);
            self.draft.step = Some(WizardStep::Done);
            self.draft.field = None;
            Ok(())
        }

        async fn persist(&mut self) -> Result<(), ApiError> {
            self.draft.revision += 1;
            let id = self
                .id
                .get_or_insert_with(|| crate::server::random_hex(16))
                .clone();
            let bytes = serde_json::to_vec(&self.draft)
                .map_err(|_| ApiError::from_code(ErrorCode::Internal))?;
            self.state.service.save_draft(self.p, &id, &bytes).await
        }

        fn url(&self) -> String {
            let mut url = format!(
                "/connect/{}?draft={}&at={}",
                self.def.id,
                self.id.as_deref().unwrap_or_default(),
                self.draft.revision
            );
            if let Some(replace) = &self.replace {
                url.push_str(&format!("&replace={replace}"));
            }
            url
        }
    }

    fn question(field: &FieldDef) -> String {
        format!("What is your {}?", field.label.to_lowercase())
    }
}
