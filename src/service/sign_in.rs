//! Signing in at a provider (OAuth2): the single-use `state` bound to a user and draft, the code
//! exchange, and the organisations or businesses a new token can reach.

use super::{Caller, Gate, Parts, RateClass};
use crate::catalog::{Catalog, ConnectorDef};
use crate::clock::now_ms;
use crate::error::{Error, ErrorCode};
use crate::model::{AuditAction, AuditOutcome};
use crate::oauth::OAuth;
use crate::oauth::{state_hash, Pkce, TokenError, TokenSet, STATE_TTL_MS};
use crate::outbound::Outbound;
use crate::random::random_token;
use crate::store::{OAuthStateRecord, Store};
use crate::vault::Vault;
use std::sync::Arc;

/// A started sign-in, read back from its `state`.
pub(super) struct PendingAuthorization {
    connector_type: String,
    draft_id: String,
    verifier: Option<String>,
    shop: Option<String>,
}

/// The sealed part of a stored `state`.
#[derive(serde::Serialize, serde::Deserialize)]
struct PendingSecrets {
    verifier: Option<String>,
    shop: Option<String>,
}

/// What the provider's answer to a sign-in comes to, and which wizard it belongs to.
pub(crate) struct SignInAnswer {
    pub(crate) connector_type: String,
    /// The wizard draft the sign-in was started from, when it could be told.
    pub(crate) draft_id: Option<String>,
    pub(crate) tokens: Result<TokenSet, Error>,
}

/// What the provider's redirect back carried.
pub(crate) struct ProviderAnswer<'a> {
    pub(crate) state: &'a str,
    pub(crate) code: Option<&'a str>,
    /// The provider's `error` parameter (the person declined, or the provider failed).
    pub(crate) error: Option<&'a str>,
}

pub(crate) struct SignIn {
    store: Arc<dyn Store>,
    vault: Arc<Vault>,
    catalog: &'static Catalog,
    gate: Arc<Gate>,
    oauth: Arc<OAuth>,
    /// The provider client the code exchange goes through.
    outbound: Arc<Outbound>,
}

impl SignIn {
    pub(super) fn new(parts: &Parts, oauth: Arc<OAuth>) -> Self {
        Self {
            store: parts.store.clone(),
            vault: parts.vault.clone(),
            catalog: crate::catalog::catalog(),
            gate: parts.gate.clone(),
            oauth,
            outbound: parts.outbound.clone(),
        }
    }

    /// Whether the operator registered an OAuth2 client for this connector type.
    pub(crate) fn oauth_configured(&self, def: &ConnectorDef) -> bool {
        self.oauth.is_configured(def)
    }

    /// Finishes a sign-in from the provider's answer: the `state` is taken (it works once) and
    /// checked, a declined consent is audited, and an approval code traded for tokens. Every
    /// outcome names the wizard to return to, so even a refusal lands there with a message.
    pub(crate) async fn oauth_finish(
        &self,
        caller: &Caller,
        answer: ProviderAnswer<'_>,
    ) -> SignInAnswer {
        // `<connector type>.<draft id>.<random>`: the first two only route the answer to a
        // wizard; the store decides whether the state is genuine.
        let mut hint = answer.state.splitn(3, '.');
        let hinted_type = hint.next().unwrap_or_default().to_owned();
        let hinted_draft = hint.next().map(str::to_owned);
        let pending = match self.oauth_take_state(caller, answer.state).await {
            Ok(pending) => pending,
            Err(error) => {
                return SignInAnswer {
                    connector_type: hinted_type,
                    draft_id: hinted_draft,
                    tokens: Err(error),
                }
            }
        };
        let name = self
            .catalog
            .get(&pending.connector_type)
            .map(|d| d.name.clone())
            .unwrap_or_default();
        let tokens = match (answer.error, answer.code) {
            (Some(error), _) => {
                let refused = provider_refusal(&name, error);
                let _ = self
                    .gate
                    .audit(
                        caller,
                        AuditAction::OAuthConnect,
                        None,
                        AuditOutcome::Denied,
                        Some(refused.code),
                    )
                    .await;
                Err(refused)
            }
            (None, Some(code)) => self.oauth_exchange(caller, &pending, code).await,
            (None, None) => Err(Error::new(
                ErrorCode::UnexpectedResponse,
                format!("{name} sent you back without an approval code. Try again."),
            )),
        };
        SignInAnswer {
            connector_type: pending.connector_type,
            draft_id: Some(pending.draft_id),
            tokens,
        }
    }

    /// Begins signing in at the provider: stores a single-use `state`, bound to this user and
    /// wizard draft, with its PKCE verifier, and returns the provider's consent page address.
    pub(crate) async fn oauth_start(
        &self,
        caller: &Caller,
        connector_type: &str,
        draft_id: &str,
        shop: Option<&str>,
    ) -> Result<String, Error> {
        self.gate.limit(caller, RateClass::Writes).await?;
        let def = self.catalog.definition(connector_type)?;
        let pkce = def.oauth.as_ref().is_some_and(|o| o.pkce).then(Pkce::new);
        // The draft id rides along so that a refused callback can still land in its wizard;
        // the random part is what proves the callback.
        let state = format!("{}.{draft_id}.{}", def.id, random_token(32));
        let url = self.oauth.authorize_url(def, &state, pkce.as_ref(), shop)?;
        let pending = PendingSecrets {
            verifier: pkce.map(|p| p.verifier),
            shop: shop.map(str::to_owned),
        };
        let sealed =
            serde_json::to_vec(&pending).map_err(|_| Error::from_code(ErrorCode::Internal))?;
        self.gate
            .audit(
                caller,
                AuditAction::OAuthStart,
                None,
                AuditOutcome::Ok,
                None,
            )
            .await?;
        let record = OAuthStateRecord {
            state_hash: state_hash(&state),
            tenant_id: caller.tenant().clone(),
            user_id: caller.user().to_owned(),
            connector_type: def.id.clone(),
            draft_id: draft_id.to_owned(),
            sealed: self.vault.seal(&sealed),
            expires_at: now_ms() + STATE_TTL_MS,
        };
        self.store.put_oauth_state(&record).await?;
        Ok(url.to_string())
    }

    /// Takes a callback's `state` (it works once) and checks it belongs to this user and is
    /// still fresh.
    pub(super) async fn oauth_take_state(
        &self,
        caller: &Caller,
        state: &str,
    ) -> Result<PendingAuthorization, Error> {
        let refused =
            |message: &str| Error::new(ErrorCode::InvalidRequest, message).with_field("state");
        let taken = self.store.take_oauth_state(&state_hash(state)).await?;
        let Some(record) = taken else {
            return Err(refused(
                "This sign-in answer was already used, or was never asked for here. Start the sign-in again.",
            ));
        };
        if &record.tenant_id != caller.tenant() || record.user_id != caller.user() {
            return Err(refused(
                "This sign-in was started by someone else, so it cannot finish in your session. Start the sign-in again.",
            ));
        }
        if record.expires_at < now_ms() {
            return Err(refused(
                "This sign-in took longer than ten minutes, so it was cancelled. Start the sign-in again.",
            ));
        }
        let secrets: PendingSecrets = self
            .vault
            .open(&record.sealed)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| Error::from_code(ErrorCode::DecryptionFailed))?;
        Ok(PendingAuthorization {
            connector_type: record.connector_type,
            draft_id: record.draft_id,
            verifier: secrets.verifier,
            shop: secrets.shop,
        })
    }

    /// Trades the authorization code for tokens.
    pub(super) async fn oauth_exchange(
        &self,
        caller: &Caller,
        pending: &PendingAuthorization,
        code: &str,
    ) -> Result<TokenSet, Error> {
        let def = self.catalog.definition(&pending.connector_type)?;
        self.gate.limit(caller, RateClass::Tests).await?;
        let exchanged = self
            .oauth
            .exchange_code(
                self.outbound.http(),
                def,
                code,
                pending.verifier.as_deref(),
                pending.shop.as_deref(),
            )
            .await;
        let error = match exchanged {
            Ok(tokens) => {
                self.gate.audit(caller, AuditAction::OAuthConnect, None, AuditOutcome::Ok, None)
                    .await?;
                return Ok(tokens);
            }
            Err(TokenError::InvalidGrant) => Error::new(
                ErrorCode::AuthorizationRequired,
                format!(
                    "{} did not accept the approval (it was already used or has expired). Sign in again.",
                    def.name
                ),
            ),
            Err(TokenError::Failed(f)) => f,
        };
        tracing::info!(tenant = %caller.tenant(), connector_type = %def.id, code = %error.code, "OAuth2 code exchange failed");
        self.gate
            .audit(
                caller,
                AuditAction::OAuthConnect,
                None,
                AuditOutcome::Error,
                Some(error.code),
            )
            .await?;
        Err(error)
    }

    /// The organisations or businesses a new token can reach (Xero, Sage), as (id, name).
    pub(crate) async fn oauth_choices(
        &self,
        connector_type: &str,
        access_token: &str,
    ) -> Result<Vec<(String, String)>, Error> {
        let def = self.catalog.definition(connector_type)?;
        self.oauth
            .choices(
                self.outbound.http(),
                self.outbound.providers(),
                def,
                access_token,
            )
            .await
    }
}

/// The provider's `error` parameter, in our words. Only its documented codes are repeated.
fn provider_refusal(name: &str, error: &str) -> Error {
    match error {
        "access_denied" => Error::new(
            ErrorCode::AuthorizationRequired,
            format!("You declined access at {name}, so nothing was connected. Connect again when you are ready, or paste a token instead."),
        ),
        "invalid_scope" | "unauthorized_client" | "invalid_request" | "server_error"
        | "temporarily_unavailable" => Error::new(
            ErrorCode::AuthorizationRequired,
            format!("{name} did not complete the sign-in ({error}). Try again; if it keeps happening, the operator should check the OAuth app's settings."),
        ),
        _ => Error::new(
            ErrorCode::AuthorizationRequired,
            format!("{name} did not complete the sign-in. Try again."),
        ),
    }
}
