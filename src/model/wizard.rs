//! The setup wizard as the browser sees it: what a page shows (`WizardView`) and the actions a form
//! can take (`WizardAction`). The state machine is server-only, in `crate::wizard`; the server
//! functions that drive it are in `api::wizard`.

use crate::catalog::{AuthKind, AuthMode, ConnectorDef, FieldDef};
use crate::error::ApiError;
use crate::model::{CheckResult, SyncFrequency};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum WizardStep {
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
pub(crate) struct ShownAnswer {
    pub(crate) field: String,
    pub(crate) label: String,
    pub(crate) question: String,
    pub(crate) shown: String,
}

/// What the wizard shows of the connector: the definition's fields and OAuth settings stay on the
/// server (the current field travels on its own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ConnectorBrief {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) auth: AuthKind,
    pub(crate) auth_help: String,
    pub(crate) docs_url: String,
    pub(crate) check_label: String,
    /// The "you will need" line.
    pub(crate) needs: String,
    /// Whether the provider offers signing in with OAuth2.
    pub(crate) oauth: bool,
    /// What a sign-in's reach is chosen among, where it is ("organisation", "business").
    pub(crate) choice_called: Option<String>,
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
            choice_called: def
                .oauth
                .as_ref()
                .and_then(|o| o.choose.as_ref())
                .map(|c| c.called.clone()),
        }
    }
}

/// Everything the wizard page renders. It holds no secret: it is serialized into the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WizardView {
    pub(crate) def: ConnectorBrief,
    pub(crate) draft_id: Option<String>,
    pub(crate) revision: u32,
    pub(crate) replace: Option<String>,
    pub(crate) step: WizardStep,
    pub(crate) field: Option<FieldDef>,
    /// The current non-secret answer, when going back to a field.
    pub(crate) prefill: Option<String>,
    /// The current field is a secret that already has an answer (leave empty to keep it).
    pub(crate) has_secret_answer: bool,
    pub(crate) answered: Vec<ShownAnswer>,
    pub(crate) error: Option<ApiError>,
    pub(crate) result: Option<CheckResult>,
    pub(crate) saved_connector: Option<String>,
    pub(crate) display_name: String,
    pub(crate) sync_frequency: SyncFrequency,
    pub(crate) mode: AuthMode,
    /// Whether the operator registered an OAuth2 client for this provider.
    pub(crate) oauth_available: bool,
    /// Signed in at the provider; the name of what was chosen there, if anything.
    pub(crate) signed_in: Option<String>,
    /// The organisations or businesses to choose from, as (id, name).
    pub(crate) choices: Vec<(String, String)>,
}

#[cfg(feature = "ssr")]
pub(crate) const SECRET_MASK: &str = "•••••••• (hidden)";

/// What a wizard form asks for: the `action` its submit button sends. Forms post these as text
/// (so they work without JavaScript); both sides spell them through this type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WizardAction {
    /// Leave the introduction.
    Start,
    /// Type or paste the credentials.
    EnterByHand,
    /// Sign in at the provider (OAuth2).
    SignIn,
    /// Answer the current question.
    Answer,
    /// Choose one of the organisations or businesses a sign-in can reach.
    Pick,
    /// One step back.
    Back,
    /// Name the connection, then test and save it.
    Name,
    /// Test again after a failure.
    Retry,
    /// Save although the test failed.
    SaveAnyway,
    /// Drop this setup and begin again. No page sends it (so the browser's build has no use for
    /// it); the server still honours a form that does.
    #[cfg(feature = "ssr")]
    Restart,
    /// Go back to one answered field.
    Edit(String),
}

impl WizardAction {
    const EDIT: &'static str = "edit:";

    /// The text the form sends.
    pub(crate) fn value(&self) -> String {
        match self {
            Self::Start => "start".into(),
            Self::EnterByHand => "continue".into(),
            Self::SignIn => "oauth".into(),
            Self::Answer => "answer".into(),
            Self::Pick => "pick".into(),
            Self::Back => "back".into(),
            Self::Name => "name".into(),
            Self::Retry => "retry".into(),
            Self::SaveAnyway => "save_anyway".into(),
            #[cfg(feature = "ssr")]
            Self::Restart => "restart".into(),
            Self::Edit(field) => format!("{}{field}", Self::EDIT),
        }
    }

    #[cfg(feature = "ssr")]
    pub(crate) fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "start" => Self::Start,
            "continue" => Self::EnterByHand,
            "oauth" => Self::SignIn,
            "answer" => Self::Answer,
            "pick" => Self::Pick,
            "back" => Self::Back,
            "name" => Self::Name,
            "retry" => Self::Retry,
            "save_anyway" => Self::SaveAnyway,
            "restart" => Self::Restart,
            other => Self::Edit(other.strip_prefix(Self::EDIT)?.to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::WizardAction;

    #[test]
    fn every_action_reads_back_as_itself() {
        let all = [
            WizardAction::Start,
            WizardAction::EnterByHand,
            WizardAction::SignIn,
            WizardAction::Answer,
            WizardAction::Pick,
            WizardAction::Back,
            WizardAction::Name,
            WizardAction::Retry,
            WizardAction::SaveAnyway,
            WizardAction::Restart,
            WizardAction::Edit("api_key".into()),
        ];
        for action in all {
            assert_eq!(WizardAction::parse(&action.value()), Some(action));
        }
        assert_eq!(WizardAction::parse("finish"), None);
        assert_eq!(WizardAction::parse(""), None);
    }
}
