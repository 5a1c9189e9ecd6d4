//! Keeping OAuth2 access fresh: a token due for renewal is refreshed under a store lease, so
//! exactly one process spends a refresh token, and the new pair is saved before it is used.

use super::Credentials;
use crate::clock::now_ms;
use crate::error::{Error, ErrorCode};
use crate::model::{AuditAction, AuditOutcome};
use crate::oauth::TokenError;
use crate::outbound::retry::{Answer, Attempts, Next, RetryPolicy};
use crate::secret::{SecretConfig, ACCESS_TOKEN, GRANTED_SCOPES, REFRESH_TOKEN};
use crate::service::Caller;
use crate::store::ConnectorRecord;
use std::time::{Duration, Instant};

/// What a refresh lease adds to the provider call it covers: reading and saving around it.
const REFRESH_LEASE_MARGIN: Duration = Duration::from_secs(10);

/// How soon after a renewal a provider's refusal may renew the token again: a caller asking for
/// a path that always answers 401 must not make the hub renew on every call. Counted per
/// connector in the store, so it holds across processes.
const RENEWAL_PAUSE_MS: i64 = 60_000;

/// How often a provider's refusal may renew a connector's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Renewing {
    /// Each refusal (a sync's page, a check: the hub decides how often they happen).
    OnEachRefusal,
    /// Once a minute per connector at most (the proxy: its callers repeat calls at will).
    AtMostPerMinute,
}

impl Credentials {
    /// The configuration a check should use: when the access token expires within the margin
    /// (or `force`), it is renewed first. Exactly one process renews a connector at a time (a
    /// store lease); the others wait for its result. The new pair is saved with a
    /// compare-and-swap before it is used, keeping the old refresh token when none comes back.
    pub(crate) async fn fresh(
        &self,
        caller: &Caller,
        record: &ConnectorRecord,
        force: bool,
    ) -> Result<SecretConfig, Error> {
        let config = self.open_for_use(record)?;
        let due = self.oauth.due(record.token_expires_at, now_ms());
        if config.get(REFRESH_TOKEN).is_none() || !(force || due) {
            return Ok(config);
        }
        let lease = format!("refresh:{}:{}", record.tenant_id, record.connector_id);
        let holder = crate::random::random_hex(8);
        // The lease outlives the longest provider call it covers (the call is cut off at the
        // client's timeout): it cannot lapse while its holder still waits for new tokens, which
        // would let a second process spend the same refresh token.
        let lease_for = refresh_lease(self.outbound.call_timeout());
        let lease_ms = i64::try_from(lease_for.as_millis()).unwrap_or(i64::MAX);
        let deadline = Instant::now() + lease_for;
        loop {
            if self
                .store
                .lease(&lease, &holder, now_ms(), lease_ms)
                .await?
            {
                let outcome = self.refresh_locked(caller, record, force).await;
                let _ = self.store.release_lease(&lease, &holder, now_ms()).await;
                return outcome;
            }
            // Somebody else is renewing it: use their result once it is saved.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let latest = self
                .store
                .get(caller.tenant(), &record.connector_id)
                .await?
                .ok_or_else(|| Error::new(ErrorCode::NotFound, "This connector was deleted."))?;
            if latest.token_refreshed_at != record.token_refreshed_at {
                return self.open_for_use(&latest);
            }
            if Instant::now() > deadline {
                return Err(Error::new(
                    ErrorCode::Timeout,
                    "Another server is renewing this connection's access and has not finished. Try again in a moment.",
                ));
            }
        }
    }

    /// After a provider refused the access token `refused` carried: the connector as stored now,
    /// with access to send again with — another call's renewal when one happened meanwhile, else
    /// a renewal of its own. With `Renewing::AtMostPerMinute` (calls a caller repeats at will), not
    /// when a refusal renewed this connector a moment ago: then `None`, the refusal being the
    /// path's, not the token's.
    pub(crate) async fn renew_refused(
        &self,
        caller: &Caller,
        record: &ConnectorRecord,
        refused: &SecretConfig,
        renewing: Renewing,
    ) -> Result<Option<(ConnectorRecord, SecretConfig)>, Error> {
        let latest = self
            .store
            .get(caller.tenant(), &record.connector_id)
            .await?
            .ok_or_else(|| Error::new(ErrorCode::NotFound, "This connector was deleted."))?;
        let current = self.open_for_use(&latest)?;
        if current.get(ACCESS_TOKEN) != refused.get(ACCESS_TOKEN) {
            return Ok(Some((latest, current)));
        }
        if renewing == Renewing::AtMostPerMinute {
            // A lease never released: whoever takes it renews, in any process, and nobody else
            // until it lapses.
            let pause = format!("renew-on-401:{}:{}", caller.tenant(), record.connector_id);
            let holder = crate::random::random_hex(8);
            if !self
                .store
                .lease(&pause, &holder, now_ms(), RENEWAL_PAUSE_MS)
                .await?
            {
                return Ok(None);
            }
        }
        let renewed = self.fresh(caller, &latest, true).await?;
        Ok(Some((latest, renewed)))
    }

    /// Sends with `config` and, when `read` calls the answer a refusal of the token (one that
    /// died before its announced expiry), renews it once and sends again — without waiting: a
    /// preview, a connection test or a channel's registration reports what it sees. A renewal that
    /// fails is the answer (signing in again is then the user's remedy).
    pub(crate) async fn send_renewing_once<T, Sent>(
        &self,
        caller: &Caller,
        record: &ConnectorRecord,
        mut config: SecretConfig,
        renewing: Renewing,
        read: impl Fn(&Result<T, Error>) -> Answer,
        send: impl Fn(SecretConfig) -> Sent,
    ) -> Result<T, Error>
    where
        // A plain closure returning a future, not an async closure: the futures of the server
        // functions that await this must be `Send` for every lifetime, which async closures'
        // borrowed futures cannot yet promise.
        Sent: std::future::Future<Output = Result<T, Error>>,
    {
        let mut attempts = Attempts::new(RetryPolicy::NO_WAIT);
        loop {
            let answer = send(config.clone()).await;
            let renewable = config.get(REFRESH_TOKEN).is_some();
            if attempts.after(read(&answer), renewable) != Next::Renew {
                return answer;
            }
            match self
                .renew_refused(caller, record, &config, renewing)
                .await?
            {
                Some((_, renewed)) => config = renewed,
                None => return answer,
            }
        }
    }

    async fn refresh_locked(
        &self,
        caller: &Caller,
        seen: &ConnectorRecord,
        force: bool,
    ) -> Result<SecretConfig, Error> {
        let tenant = caller.tenant();
        let id = &seen.connector_id;
        let gone = || Error::new(ErrorCode::NotFound, "This connector was deleted.");
        // Read again under the lease: another process may have renewed it just before.
        let mut current = self.store.get(tenant, id).await?.ok_or_else(gone)?;
        let config = self.open_for_use(&current)?;
        let renewed_meanwhile = current.token_refreshed_at != seen.token_refreshed_at;
        if renewed_meanwhile || !(force || self.oauth.due(current.token_expires_at, now_ms())) {
            return Ok(config);
        }
        let def = self.catalog.definition(&current.connector_type)?;
        let used = config.get(REFRESH_TOKEN).unwrap_or_default().to_owned();
        let call = self
            .oauth
            .refresh(self.outbound.http(), def, &used, config.get("shop_domain"));
        // Bounded by the same timeout the lease was sized for, whatever the client does.
        let refreshed = tokio::time::timeout(self.outbound.call_timeout(), call)
            .await
            .unwrap_or_else(|_| {
                Err(TokenError::Failed(Error::new(
                    ErrorCode::Timeout,
                    format!("{} did not answer the token renewal in time.", def.name),
                )))
            });
        let tokens = match refreshed {
            Ok(tokens) => tokens,
            Err(error) => {
                let failure = match error {
                    TokenError::InvalidGrant => Error::new(
                        ErrorCode::AuthorizationRequired,
                        format!(
                            "{} no longer accepts this connection's authorization (the refresh was refused: it was revoked, or unused for too long). Reconnect to sign in again.",
                            def.name
                        ),
                    ),
                    TokenError::Failed(f) => f,
                };
                self.metrics.refresh(failure.code.as_str());
                self.gate
                    .audit(
                        caller,
                        AuditAction::Refresh,
                        Some(id),
                        AuditOutcome::Error,
                        Some(failure.code),
                    )
                    .await?;
                return Err(failure);
            }
        };
        let issued_at = now_ms();
        // Save before use: a rotated refresh token that is not stored is a dead connection.
        for _attempt in 0..5 {
            let mut next_config = self.open_for_use(&current)?;
            if next_config.get(REFRESH_TOKEN) != Some(used.as_str()) {
                // The credentials were replaced meanwhile; theirs win.
                return Ok(next_config);
            }
            next_config.set(ACCESS_TOKEN, tokens.access_token.expose().to_owned());
            if let Some(granted) = &tokens.granted {
                next_config.set(GRANTED_SCOPES, granted.clone());
            }
            if let Some(rotated) = &tokens.refresh_token {
                next_config.set(REFRESH_TOKEN, rotated.expose().to_owned());
            }
            let mut next = current.clone();
            self.seal(&mut next, &next_config);
            next.token_expires_at = tokens.expires_at;
            next.token_refreshed_at = Some(issued_at);
            next.version = current.version + 1;
            // Saved and audited together: an entry says `ok` only for tokens that were stored.
            let audit = self.gate.audited(caller, AuditAction::Refresh, id);
            if self
                .store
                .update(tenant, &next, current.version, Some(&audit), &[])
                .await?
            {
                self.metrics.refresh("ok");
                tracing::info!(%tenant, connector_id = %id, rotated = tokens.refresh_token.is_some(), "OAuth2 tokens renewed");
                return Ok(next_config);
            }
            current = self.store.get(tenant, id).await?.ok_or_else(gone)?;
        }
        Err(Error::new(
            ErrorCode::Conflict,
            "The connector kept changing while its access was renewed. Try again.",
        ))
    }
}

/// How long a refresh lease is held: longer than the provider call it covers (which the client
/// cuts off at `call_timeout`), so it never lapses while its holder still waits for new tokens.
fn refresh_lease(call_timeout: Duration) -> Duration {
    call_timeout + REFRESH_LEASE_MARGIN
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// With a 30 s lease and a 60 s call timeout, a second process could take the lease and spend
    /// the same refresh token while the first still waited for its answer.
    #[test]
    pub(super) fn a_refresh_lease_outlives_the_call_it_covers() {
        for secs in [1, 10, 30, 60, 300] {
            let call = Duration::from_secs(secs);
            assert!(refresh_lease(call) > call, "{secs} s");
        }
    }
}
