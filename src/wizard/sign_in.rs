//! Signing in at the provider from the wizard: sending the user to the consent page, taking the
//! tokens that come back, and the choice of organisation or business a sign-in can reach.

use super::Flow;
use crate::catalog::{catalog, AuthMode, ChooseAfterSignIn};
use crate::error::{Error, ErrorCode};
use crate::ids::{DisplayName, DraftId};
use crate::model::wizard::WizardStep;
use crate::oauth::TokenSet;
use crate::secret::{ACCESS_TOKEN, GRANTED_SCOPES, REFRESH_TOKEN};
use std::collections::BTreeMap;

/// What came back from the provider's consent page.
pub(crate) enum SignIn {
    /// Declined, refused or failed: the message says which.
    Refused(Error),
    Tokens {
        tokens: TokenSet,
        /// The redirect's extra parameters the catalog names (`FromRedirect`).
        redirect: BTreeMap<String, String>,
    },
}

impl Flow<'_> {
    /// What the user chooses after signing in, for providers where a sign-in reaches several.
    fn choice(&self) -> Option<&'static ChooseAfterSignIn> {
        self.def.oauth.as_ref()?.choose.as_ref()
    }

    pub(super) fn pick(&mut self, id: String) {
        let Some((id, name)) = self.draft.choices.iter().find(|(c, _)| *c == id).cloned() else {
            self.show(
                Error::new(
                    ErrorCode::InvalidRequest,
                    "Choose one of the listed options.",
                )
                .with_field("value"),
            );
            return;
        };
        if let Some(choose) = self.choice() {
            self.draft.answers.insert(choose.fills.clone(), id);
        }
        if self.draft.display_name.is_none() {
            // A long organisation name leaves the name to the user (the step offers the default).
            self.draft.display_name =
                DisplayName::parse(&format!("{} – {name}", self.def.name)).ok();
        }
        self.draft.signed_in = Some(name);
        self.draft.step = Some(WizardStep::Name);
    }

    /// The provider's consent page for this draft (stored first, so the callback finds it).
    pub(crate) async fn authorize(&mut self) -> Result<String, Error> {
        if self.draft.mode != AuthMode::OAuth || self.draft.saved.is_some() {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                "This setup is not waiting for a sign-in.",
            ));
        }
        self.draft.error = None;
        self.persist().await?;
        let draft_id = self.id.as_ref().map(DraftId::as_str).unwrap_or_default();
        let shop = self.draft.answers.get("shop_domain").cloned();
        self.hub
            .sign_in
            .oauth_start(self.caller, &self.def.id, draft_id, shop.as_deref())
            .await
    }

    /// Records the outcome of a sign-in and moves on: choose an organisation or business,
    /// or name the connection. Failures land on the sign-in step with their message.
    pub(crate) async fn finish_sign_in(&mut self, outcome: SignIn) -> Result<String, Error> {
        if self.draft.saved.is_some() {
            return Ok(self.url());
        }
        self.draft.error = None;
        self.draft.mode = AuthMode::OAuth;
        match outcome {
            SignIn::Refused(error) => {
                self.draft.step = Some(WizardStep::Authorize);
                self.show(error);
            }
            SignIn::Tokens { tokens, redirect } => {
                if let Err(error) = self.accept_tokens(tokens, redirect).await {
                    self.forget_sign_in();
                    self.draft.step = Some(WizardStep::Authorize);
                    self.show(error);
                }
            }
        }
        self.persist().await?;
        Ok(self.url())
    }

    async fn accept_tokens(
        &mut self,
        tokens: TokenSet,
        redirect: BTreeMap<String, String>,
    ) -> Result<(), Error> {
        self.forget_sign_in();
        let access = tokens.access_token.expose().to_owned();
        self.draft
            .answers
            .insert(ACCESS_TOKEN.into(), access.clone());
        if let Some(refresh) = &tokens.refresh_token {
            self.draft
                .answers
                .insert(REFRESH_TOKEN.into(), refresh.expose().to_owned());
        }
        if let Some(granted) = &tokens.granted {
            self.draft
                .answers
                .insert(GRANTED_SCOPES.into(), granted.clone());
        }
        let refreshed_at = tokens.refresh_token.is_some().then(crate::clock::now_ms);
        self.draft.tokens = Some((tokens.expires_at, refreshed_at));
        if let Some(from) = self
            .def
            .oauth
            .as_ref()
            .and_then(|o| o.from_redirect.as_ref())
        {
            let field = self.def.field(&from.fills).ok_or_else(Error::not_found)?;
            let given = redirect.get(&from.param).map(String::as_str);
            let value = catalog()
                .validate_field(self.def, field, given.unwrap_or_default())
                .map_err(|_| {
                    Error::new(
                        ErrorCode::UnexpectedResponse,
                        format!(
                            "{} approved access but did not say which {} ({}). Sign in again and pick a {}.",
                            self.def.name, from.called, from.param, from.called
                        ),
                    )
                })?;
            self.draft.answers.insert(from.fills.clone(), value);
        }
        if self.choice().is_some() {
            let choices = self
                .hub
                .sign_in
                .oauth_choices(&self.def.id, &access)
                .await?;
            let only = match choices.as_slice() {
                [] => {
                    return Err(Error::new(
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
}
