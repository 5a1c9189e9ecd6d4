//! The wizard's draft: everything a setup has gathered, sealed by the vault while it is stored
//! (it may hold secrets) and never sent to the browser.

use crate::catalog::AuthMode;
use crate::error::ApiError;
use crate::ids::{ConnectorId, DisplayName};
use crate::model::wizard::WizardStep;
use crate::model::{CheckResult, SyncFrequency};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The sealed part: may hold secrets, never leaves the server in clear.
#[derive(Serialize, Deserialize, Default)]
pub(super) struct Draft {
    #[serde(default)]
    pub(super) mode: AuthMode,
    #[serde(default)]
    pub(super) replace: Option<ConnectorId>,
    /// After signing in: when the access token expires, when the refresh token was issued.
    #[serde(default)]
    pub(super) tokens: Option<(Option<i64>, Option<i64>)>,
    #[serde(default)]
    pub(super) signed_in: Option<String>,
    #[serde(default)]
    pub(super) choices: Vec<(String, String)>,
    pub(super) step: Option<WizardStep>,
    pub(super) field: Option<String>,
    pub(super) answers: BTreeMap<String, String>,
    /// Replacing credentials: the secret fields whose stored value stays unless the user
    /// types a new one. The values never enter the draft; the service adds them, and refuses
    /// to when a field that decides where they go has changed.
    #[serde(default)]
    pub(super) kept: BTreeSet<String>,
    pub(super) display_name: Option<DisplayName>,
    pub(super) sync_frequency: SyncFrequency,
    pub(super) error: Option<ApiError>,
    pub(super) result: Option<CheckResult>,
    pub(super) saved: Option<ConnectorId>,
    pub(super) revision: u32,
}
