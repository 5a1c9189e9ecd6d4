//! The wizard's flow: opening a draft, moving between steps, and keeping the answers consistent
//! with each other and with how the user signs in.

use super::draft::Draft;
use crate::catalog::{catalog, Ask, AuthMode, ConnectorDef, FieldDef};
use crate::error::{ApiError, Error, ErrorCode};
use crate::ids::{ConnectorId, DisplayName, DraftId};
use crate::model::wizard::{WizardAction, WizardStep};
use crate::model::SyncFrequency;
use crate::secret::ACCESS_TOKEN;
use crate::service::{Caller, Hub};

/// One wizard, opened for one request: the draft as stored, and what it needs to move on.
pub(crate) struct Flow<'a> {
    pub(super) hub: &'a Hub,
    pub(super) caller: &'a Caller,
    pub(super) def: &'static ConnectorDef,
    pub(super) id: Option<DraftId>,
    /// The connector whose credentials this wizard replaces.
    pub(super) replace: Option<ConnectorId>,
    pub(super) draft: Draft,
}

impl<'a> Flow<'a> {
    pub(crate) async fn open(
        hub: &'a Hub,
        caller: &'a Caller,
        connector_type: &str,
        draft_id: Option<&str>,
        replace: Option<&str>,
    ) -> Result<Flow<'a>, Error> {
        let def = catalog().get(connector_type).ok_or_else(|| {
            Error::new(
                ErrorCode::UnknownConnectorType,
                "There is no connector of that type.",
            )
            .with_field("connector_type")
        })?;
        let draft_id = draft_id.and_then(DraftId::parse);
        let stored = match &draft_id {
            Some(id) => hub.connectors.load_draft(caller, id).await?,
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
        let id = if expired { None } else { draft_id };
        let replace = match replace {
            Some(given) => ConnectorId::parse(given),
            None => draft.replace.clone(),
        };
        Ok(Flow {
            hub,
            caller,
            def,
            id,
            replace,
            draft,
        })
    }
}

impl Flow<'_> {
    /// Shows `error` on the page the user lands on next.
    pub(super) fn show(&mut self, error: impl Into<ApiError>) {
        self.draft.error = Some(error.into());
    }

    pub(super) fn step(&self) -> WizardStep {
        self.draft.step.unwrap_or(WizardStep::Intro)
    }

    /// The fields the user is asked for, in order, given the answers and how they sign in.
    pub(super) fn applicable(&self) -> Vec<&'static FieldDef> {
        self.def
            .fields
            .iter()
            .filter(|f| f.applies(&self.draft.answers) && f.ask.asked_in(self.draft.mode))
            .collect()
    }

    pub(super) fn oauth_available(&self) -> bool {
        self.hub.sign_in.oauth_configured(self.def)
    }

    pub(super) fn current_field(&self) -> Option<&'static FieldDef> {
        let name = self.draft.field.as_deref()?;
        self.def.fields.iter().find(|f| f.name == name)
    }

    pub(super) fn goto_field(&mut self, field: Option<&FieldDef>) {
        match field {
            Some(f) => {
                self.draft.step = Some(WizardStep::Field);
                self.draft.field = Some(f.name.clone());
            }
            None => {
                self.draft.field = None;
                self.draft.step = Some(if self.needs_sign_in() {
                    WizardStep::Authorize
                } else if !self.draft.choices.is_empty() {
                    WizardStep::Choose
                } else {
                    WizardStep::Name
                });
            }
        }
    }

    pub(super) fn needs_sign_in(&self) -> bool {
        self.draft.mode == AuthMode::OAuth && !self.answered(ACCESS_TOKEN)
    }

    /// Forgets what signing in gave (tokens, choices), e.g. when the shop it was for changes.
    pub(super) fn forget_sign_in(&mut self) {
        for field in &self.def.fields {
            if matches!(field.ask, Ask::Manual | Ask::Never) {
                self.draft.answers.remove(&field.name);
                self.draft.kept.remove(&field.name);
            }
        }
        self.forget_filled_by_sign_in();
    }

    /// Forgets only what nobody types: the refresh token and the choice made at sign-in.
    pub(super) fn forget_filled_by_sign_in(&mut self) {
        for field in &self.def.fields {
            if field.ask == Ask::Never {
                self.draft.answers.remove(&field.name);
                self.draft.kept.remove(&field.name);
            }
        }
        self.draft.tokens = None;
        self.draft.signed_in = None;
        self.draft.choices.clear();
    }

    pub(super) async fn start_replacing(&mut self) -> Result<(), Error> {
        if let Some(id) = self.replace.clone() {
            let stored = self
                .hub
                .connectors
                .stored_settings(self.caller, &id)
                .await?;
            if stored.record.connector_type != self.def.id {
                return Err(Error::not_found());
            }
            self.draft.answers = stored.settings;
            self.draft.kept = stored.secrets;
            self.draft.display_name = DisplayName::parse(&stored.record.display_name).ok();
            self.draft.sync_frequency = stored.record.sync_frequency;
        }
        Ok(())
    }

    /// Whether a field has an answer: typed in this wizard, or a stored secret kept.
    pub(super) fn answered(&self, field: &str) -> bool {
        self.draft.answers.contains_key(field) || self.draft.kept.contains(field)
    }

    pub(crate) async fn apply(
        &mut self,
        action: WizardAction,
        value: Option<String>,
        display_name: Option<String>,
        sync_frequency: Option<String>,
    ) -> Result<String, Error> {
        if self.draft.saved.is_some() && action != WizardAction::Restart {
            return Ok(self.url());
        }
        self.draft.error = None;
        match action {
            WizardAction::Start => {
                if self.id.is_none() {
                    self.start_replacing().await?;
                }
                self.draft.step = Some(WizardStep::Auth);
            }
            WizardAction::EnterByHand => {
                if self.draft.mode == AuthMode::OAuth {
                    self.forget_sign_in();
                }
                self.draft.mode = AuthMode::Manual;
                let first = self.applicable().first().copied();
                self.goto_field(first);
            }
            WizardAction::SignIn => {
                if !self.oauth_available() {
                    return Err(Error::new(
                        ErrorCode::InvalidRequest,
                        format!("Signing in with {} is not set up on this server, so paste a token instead.", self.def.name),
                    ));
                }
                if self.draft.mode != AuthMode::OAuth {
                    self.forget_sign_in();
                }
                self.draft.mode = AuthMode::OAuth;
                let next = self
                    .applicable()
                    .into_iter()
                    .find(|f| !self.answered(&f.name));
                self.goto_field(next);
            }
            WizardAction::Pick => self.pick(value.unwrap_or_default()),
            WizardAction::Answer => self.answer(value.unwrap_or_default()),
            WizardAction::Back => self.back(),
            WizardAction::Name => match DisplayName::parse(&display_name.unwrap_or_default()) {
                Err(error) => self.show(error),
                Ok(name) => {
                    self.draft.display_name = Some(name);
                    self.draft.sync_frequency = sync_frequency
                        .as_deref()
                        .and_then(SyncFrequency::parse)
                        .unwrap_or_default();
                    self.test_and_save().await?;
                }
            },
            WizardAction::Retry => self.test_and_save().await?,
            WizardAction::SaveAnyway => self.save(None).await?,
            WizardAction::Restart => {
                if let Some(id) = &self.id {
                    self.hub.connectors.drop_draft(self.caller, id).await?;
                }
                return Ok(format!("/connect/{}", self.def.id));
            }
            WizardAction::Edit(name) => {
                let field = self.applicable().into_iter().find(|f| f.name == name);
                if field.is_some() {
                    self.goto_field(field);
                }
            }
        }
        self.persist().await?;
        Ok(self.url())
    }

    pub(super) fn answer(&mut self, value: String) {
        let Some(field) = self.current_field() else {
            let first = self.applicable().first().copied();
            return self.goto_field(first);
        };
        let keep_secret = field.secret && value.trim().is_empty() && self.answered(&field.name);
        if !keep_secret {
            match catalog().validate_field(self.def, field, &value) {
                Ok(valid) if valid.is_empty() => {
                    self.draft.answers.remove(&field.name);
                }
                Ok(valid) => {
                    let changed = self.draft.answers.get(&field.name) != Some(&valid);
                    // A sign-in belongs to the shop (or environment) it was made for, and
                    // what it left (refresh token, organisation) to the token it came with.
                    if changed && self.draft.mode == AuthMode::OAuth {
                        self.forget_sign_in();
                    } else if changed && field.ask == Ask::Manual {
                        self.forget_filled_by_sign_in();
                    }
                    self.draft.answers.insert(field.name.clone(), valid);
                }
                Err(e) => {
                    self.show(e);
                    return;
                }
            }
        }
        // Answers to fields that no longer apply (another auth type chosen) are dropped.
        let applicable: Vec<String> = self
            .def
            .fields
            .iter()
            .filter(|f| f.applies(&self.draft.answers))
            .map(|f| f.name.clone())
            .collect();
        self.draft.answers.retain(|k, _| applicable.contains(k));
        // On to the first field still unanswered: after a correction the user goes straight
        // back to the test instead of walking through answers that are already there.
        let next = self
            .applicable()
            .into_iter()
            .find(|f| !self.answered(&f.name));
        self.goto_field(next);
    }

    pub(super) fn back(&mut self) {
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
            WizardStep::Authorize | WizardStep::Choose => match fields.last() {
                Some(last) => self.goto_field(Some(last)),
                None => self.draft.step = Some(WizardStep::Auth),
            },
            WizardStep::Name | WizardStep::Test | WizardStep::Done => {
                if self.draft.mode == AuthMode::OAuth {
                    // Back from naming goes to the sign-in, not to fields it filled in.
                    self.draft.step = Some(if self.draft.choices.len() > 1 {
                        WizardStep::Choose
                    } else {
                        WizardStep::Authorize
                    });
                } else {
                    self.goto_field(fields.last().copied())
                }
            }
        }
    }
}

impl Flow<'_> {
    pub(super) async fn persist(&mut self) -> Result<(), Error> {
        self.draft.revision += 1;
        self.draft.replace = self.replace.clone();
        let id = self.id.get_or_insert_with(DraftId::generate).clone();
        let bytes =
            serde_json::to_vec(&self.draft).map_err(|_| Error::from_code(ErrorCode::Internal))?;
        self.hub
            .connectors
            .save_draft(self.caller, &id, &bytes)
            .await
    }

    pub(super) fn url(&self) -> String {
        let mut url = format!(
            "/connect/{}?draft={}&at={}",
            self.def.id,
            self.id.as_ref().map(DraftId::as_str).unwrap_or_default(),
            self.draft.revision
        );
        if let Some(replace) = &self.replace {
            url.push_str(&format!("&replace={replace}"));
        }
        url
    }
}
