//! The setup wizard's state machine. Its state lives on the server, sealed by the vault and tied
//! to the user, so the same flow works hydrated (ActionForm) and without JavaScript (one form post
//! per step), and a secret typed in one step is never sent back in a later page.

use crate::catalog::{AuthKind, AuthMode, ConnectorDef, FieldDef};
use crate::error::ApiError;
use crate::model::{CheckResult, SyncFrequency};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WizardStep {
    Intro,
    Auth,
    Field,
    /// Sign in at the provider (OAuth2).
    Authorize,
    /// Pick the organisation or business the sign-in can reach.
    Choose,
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

/// What the wizard shows of the connector: the definition's fields and OAuth settings stay on the
/// server (the current field travels on its own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorBrief {
    pub id: String,
    pub name: String,
    pub description: String,
    pub auth: AuthKind,
    pub auth_help: String,
    pub docs_url: String,
    pub check_label: String,
    /// The "you will need" line.
    pub needs: String,
    /// Whether the provider offers signing in with OAuth2.
    pub oauth: bool,
}

impl From<&ConnectorDef> for ConnectorBrief {
    fn from(def: &ConnectorDef) -> Self {
        Self {
            id: def.id.clone(),
            name: def.name.clone(),
            description: def.description.clone(),
            auth: def.auth,
            auth_help: def.auth_help.clone(),
            docs_url: def.docs_url.clone(),
            check_label: def.check_label.clone(),
            needs: def.needs(),
            oauth: def.oauth.is_some(),
        }
    }
}

/// Everything the wizard page renders. It holds no secret: it is serialized into the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WizardView {
    pub def: ConnectorBrief,
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
    pub mode: AuthMode,
    /// Whether the operator registered an OAuth2 client for this provider.
    pub oauth_available: bool,
    /// Signed in at the provider; the name of what was chosen there, if anything.
    pub signed_in: Option<String>,
    /// The organisations or businesses to choose from, as (id, name).
    pub choices: Vec<(String, String)>,
}

pub const SECRET_MASK: &str = "•••••••• (hidden)";

#[server(endpoint = "wizard_view")]
pub async fn load_wizard(
    connector_type: String,
    draft: Option<String>,
    replace: Option<String>,
) -> Result<WizardView, ApiError> {
    let (state, p) = crate::api::extract::require_principal().await?;
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
    let (state, p) = crate::api::extract::require_principal().await?;
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
pub(crate) mod server {
    use super::*;
    use crate::api::functions::client;
    use crate::api::state::AppState;
    use crate::auth::Principal;
    use crate::catalog::catalog;
    use crate::error::ErrorCode;
    use crate::oauth::TokenSet;
    use crate::service::{ConnectorChanges, NewConnector, TokenTimes};
    use std::collections::{BTreeMap, BTreeSet};

    /// The sealed part: may hold secrets, never leaves the server in clear.
    #[derive(Serialize, Deserialize, Default)]
    struct Draft {
        #[serde(default)]
        mode: AuthMode,
        #[serde(default)]
        replace: Option<String>,
        /// After signing in: when the access token expires, when the refresh token was issued.
        #[serde(default)]
        tokens: Option<(Option<i64>, Option<i64>)>,
        #[serde(default)]
        signed_in: Option<String>,
        #[serde(default)]
        choices: Vec<(String, String)>,
        step: Option<WizardStep>,
        field: Option<String>,
        answers: BTreeMap<String, String>,
        /// Replacing credentials: the secret fields whose stored value stays unless the user
        /// types a new one. The values never enter the draft; the service adds them, and refuses
        /// to when a field that decides where they go has changed.
        #[serde(default)]
        kept: BTreeSet<String>,
        display_name: Option<String>,
        sync_frequency: SyncFrequency,
        error: Option<ApiError>,
        result: Option<CheckResult>,
        saved: Option<String>,
        revision: u32,
    }

    /// What came back from the provider's consent page.
    pub enum SignIn {
        /// Declined, refused or failed: the message says which.
        Refused(ApiError),
        Tokens {
            tokens: TokenSet,
            realm_id: Option<String>,
        },
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
            let replace = replace.map(str::to_owned).or_else(|| draft.replace.clone());
            Ok(Flow {
                state,
                p,
                def,
                id,
                replace,
                draft,
            })
        }

        fn step(&self) -> WizardStep {
            self.draft.step.unwrap_or(WizardStep::Intro)
        }

        /// The fields the user is asked for, in order, given the answers and how they sign in.
        fn applicable(&self) -> Vec<&'static FieldDef> {
            self.def
                .fields
                .iter()
                .filter(|f| f.applies(&self.draft.answers) && f.ask.asked_in(self.draft.mode))
                .collect()
        }

        fn oauth_available(&self) -> bool {
            self.state.service.oauth_configured(self.def)
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
                (WizardStep::Authorize, _) if self.draft.mode == AuthMode::OAuth => fields.len(),
                _ => fields.len(),
            };
            let answered = fields
                .iter()
                .take(upto)
                .filter(|f| self.answered(&f.name))
                .map(|f| ShownAnswer {
                    field: f.name.clone(),
                    label: f.label.clone(),
                    question: question(f),
                    shown: if f.secret {
                        SECRET_MASK.to_owned()
                    } else {
                        self.draft.answers.get(&f.name).cloned().unwrap_or_default()
                    },
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
                def: ConnectorBrief::from(self.def),
                draft_id: self.id.clone(),
                revision: self.draft.revision,
                replace: self.replace.clone(),
                step,
                field: current.cloned(),
                prefill,
                has_secret_answer: current.is_some_and(|f| f.secret && self.answered(&f.name)),
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
                mode: self.draft.mode,
                oauth_available: self.oauth_available(),
                signed_in: self.draft.signed_in.clone(),
                choices: self.draft.choices.clone(),
            }
        }

        fn goto_field(&mut self, field: Option<&FieldDef>) {
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

        fn needs_sign_in(&self) -> bool {
            self.draft.mode == AuthMode::OAuth && !self.answered("access_token")
        }

        /// Forgets what signing in gave (tokens, choices), e.g. when the shop it was for changes.
        fn forget_sign_in(&mut self) {
            for field in &self.def.fields {
                if field.ask != crate::catalog::Ask::Always {
                    self.draft.answers.remove(&field.name);
                    self.draft.kept.remove(&field.name);
                }
            }
            self.forget_filled_by_sign_in();
        }

        /// Forgets only what nobody types: the refresh token and the choice made at sign-in.
        fn forget_filled_by_sign_in(&mut self) {
            for field in &self.def.fields {
                if field.ask == crate::catalog::Ask::Never {
                    self.draft.answers.remove(&field.name);
                    self.draft.kept.remove(&field.name);
                }
            }
            self.draft.tokens = None;
            self.draft.signed_in = None;
            self.draft.choices.clear();
        }

        async fn start_replacing(&mut self) -> Result<(), ApiError> {
            if let Some(id) = self.replace.clone() {
                let stored = self.state.service.stored_settings(self.p, &id).await?;
                if stored.record.connector_type != self.def.id {
                    return Err(ApiError::not_found());
                }
                self.draft.answers = stored.settings;
                self.draft.kept = stored.secrets;
                self.draft.display_name = Some(stored.record.display_name);
                self.draft.sync_frequency = stored.record.sync_frequency;
            }
            Ok(())
        }

        /// Whether a field has an answer: typed in this wizard, or a stored secret kept.
        fn answered(&self, field: &str) -> bool {
            self.draft.answers.contains_key(field) || self.draft.kept.contains(field)
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
                    if self.draft.mode == AuthMode::OAuth {
                        self.forget_sign_in();
                    }
                    self.draft.mode = AuthMode::Manual;
                    let first = self.applicable().first().copied();
                    self.goto_field(first);
                }
                "oauth" => {
                    if !self.oauth_available() {
                        return Err(ApiError::new(
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
                "pick" => self.pick(value.unwrap_or_default()),
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
                        } else if changed && field.ask == crate::catalog::Ask::Manual {
                            self.forget_filled_by_sign_in();
                        }
                        self.draft.answers.insert(field.name.clone(), valid);
                    }
                    Err(e) => {
                        self.draft.error = Some(e);
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

        async fn test_and_save(&mut self) -> Result<(), ApiError> {
            let result = self
                .state
                .service
                .test_unsaved(
                    self.p,
                    &self.def.id,
                    &self.draft.answers,
                    self.replace.as_deref(),
                    &client(),
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
                        tokens,
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

        fn pick(&mut self, id: String) {
            let Some((id, name)) = self.draft.choices.iter().find(|(c, _)| *c == id).cloned()
            else {
                self.draft.error = Some(
                    ApiError::new(
                        ErrorCode::InvalidRequest,
                        "Choose one of the listed options.",
                    )
                    .with_field("value"),
                );
                return;
            };
            if let Some(field) = self.choice_field() {
                self.draft.answers.insert(field.to_owned(), id);
            }
            if self.draft.display_name.is_none() {
                self.draft.display_name = Some(format!("{} – {name}", self.def.name));
            }
            self.draft.signed_in = Some(name);
            self.draft.step = Some(WizardStep::Name);
        }

        fn choice_field(&self) -> Option<&'static str> {
            use crate::catalog::FollowUp;
            match self.def.oauth.as_ref()?.follow_up? {
                FollowUp::XeroOrganisation => Some("tenant_id"),
                FollowUp::SageBusiness => Some("business_id"),
                FollowUp::QuickbooksRealm => None,
            }
        }

        /// The provider's consent page for this draft (stored first, so the callback finds it).
        pub async fn authorize(&mut self, client: &str) -> Result<String, ApiError> {
            if self.draft.mode != AuthMode::OAuth || self.draft.saved.is_some() {
                return Err(ApiError::new(
                    ErrorCode::InvalidRequest,
                    "This setup is not waiting for a sign-in.",
                ));
            }
            self.draft.error = None;
            self.persist().await?;
            let draft_id = self.id.clone().unwrap_or_default();
            let shop = self.draft.answers.get("shop_domain").cloned();
            self.state
                .service
                .oauth_start(self.p, &self.def.id, &draft_id, shop.as_deref(), client)
                .await
        }

        /// Records the outcome of a sign-in and moves on: choose an organisation or business,
        /// or name the connection. Failures land on the sign-in step with their message.
        pub async fn finish_sign_in(&mut self, outcome: SignIn) -> Result<String, ApiError> {
            if self.draft.saved.is_some() {
                return Ok(self.url());
            }
            self.draft.error = None;
            self.draft.mode = AuthMode::OAuth;
            match outcome {
                SignIn::Refused(error) => {
                    self.draft.step = Some(WizardStep::Authorize);
                    self.draft.error = Some(error);
                }
                SignIn::Tokens { tokens, realm_id } => {
                    if let Err(error) = self.accept_tokens(tokens, realm_id).await {
                        self.forget_sign_in();
                        self.draft.step = Some(WizardStep::Authorize);
                        self.draft.error = Some(error);
                    }
                }
            }
            self.persist().await?;
            Ok(self.url())
        }

        async fn accept_tokens(
            &mut self,
            tokens: TokenSet,
            realm_id: Option<String>,
        ) -> Result<(), ApiError> {
            self.forget_sign_in();
            let access = tokens.access_token.expose().to_owned();
            self.draft
                .answers
                .insert("access_token".into(), access.clone());
            if let Some(refresh) = &tokens.refresh_token {
                self.draft
                    .answers
                    .insert("refresh_token".into(), refresh.expose().to_owned());
            }
            let refreshed_at = tokens.refresh_token.is_some().then(crate::clock::now_ms);
            self.draft.tokens = Some((tokens.expires_at, refreshed_at));
            let follow_up = self.def.oauth.as_ref().and_then(|o| o.follow_up);
            if follow_up == Some(crate::catalog::FollowUp::QuickbooksRealm) {
                let field = self.def.field("realm_id").ok_or_else(ApiError::not_found)?;
                let realm = catalog()
                    .validate_field(self.def, field, realm_id.as_deref().unwrap_or_default())
                    .map_err(|_| {
                        ApiError::new(
                            ErrorCode::UnexpectedResponse,
                            "QuickBooks approved access but did not say which company (realmId). Sign in again and pick a company.",
                        )
                    })?;
                self.draft.answers.insert("realm_id".into(), realm);
            }
            if self.choice_field().is_some() {
                let choices = self
                    .state
                    .service
                    .oauth_choices(&self.def.id, &access)
                    .await?;
                let only = match choices.as_slice() {
                    [] => {
                        return Err(ApiError::new(
                            ErrorCode::NotFound,
                            format!("You signed in, but {} shows this sign-in nothing to connect (no organisation or business). Sign in with another user, or ask for access.", self.def.name),
                        ))
                    }
                    [(id, _)] => Some(id.clone()),
                    _ => None,
                };
                self.draft.choices = choices;
                if let Some(id) = only {
                    // Nothing to choose: take it and go on to naming.
                    self.pick(id);
                    return Ok(());
                }
            }
            self.goto_field(None);
            if self.draft.signed_in.is_none() {
                self.draft.signed_in = Some(String::new());
            }
            Ok(())
        }

        async fn persist(&mut self) -> Result<(), ApiError> {
            self.draft.revision += 1;
            self.draft.replace.clone_from(&self.replace);
            let id = self
                .id
                .get_or_insert_with(|| crate::ids::random_hex(16))
                .clone();
            let bytes = serde_json::to_vec(&self.draft)
                .map_err(|_| ApiError::from_code(ErrorCode::Internal))?;
            self.state
                .service
                .save_draft(self.p, &id, &bytes, &client())
                .await
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
        format!("What is your {}?", field.label.to_ascii_lowercase())
    }
}
