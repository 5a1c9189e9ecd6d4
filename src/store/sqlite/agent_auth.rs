//! Agents' OAuth clients, grants and tokens in SQLite (see `store::agent_auth`).

use super::super::agent_auth::*;
use super::*;

/// Tokens a day past their expiry are of no use even as evidence of reuse (a refresh token's
/// family outlives none of them by that much), so writing new ones clears them out.
const KEEP_EXPIRED_MS: i64 = 86_400_000;

const GRANT_COLUMNS: &str = "grant_id, tenant_id, user_id, client_id, client_name, redirect_uri,
    code_challenge, scopes, resource, created_at, last_used_at, revoked_at";

const TOKEN_COLUMNS: &str = "token_hash, kind, grant_id, tenant_id, expires_at, used_at";

fn grant_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AgentGrantRecord> {
    Ok(AgentGrantRecord {
        grant_id: r.get(0)?,
        tenant_id: r.get(1)?,
        user_id: r.get(2)?,
        client_id: r.get(3)?,
        client_name: r.get(4)?,
        redirect_uri: r.get(5)?,
        code_challenge: r.get(6)?,
        scopes: r.get(7)?,
        resource: r.get(8)?,
        created_at: r.get(9)?,
        last_used_at: r.get(10)?,
        revoked_at: r.get(11)?,
    })
}

fn token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AgentTokenRecord> {
    let kind: String = r.get(1)?;
    Ok(AgentTokenRecord {
        token_hash: r.get(0)?,
        kind: AgentTokenKind::parse(&kind).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                1,
                rusqlite::types::Type::Text,
                format!("unknown token kind {kind}").into(),
            )
        })?,
        grant_id: r.get(2)?,
        tenant_id: r.get(3)?,
        expires_at: r.get(4)?,
        used_at: r.get(5)?,
    })
}

fn insert_token(c: &Connection, t: &AgentTokenRecord) -> rusqlite::Result<()> {
    c.prepare_cached(&format!(
        "INSERT INTO agent_tokens ({TOKEN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    ))?
    .execute(params![
        t.token_hash,
        t.kind.as_str(),
        t.grant_id,
        t.tenant_id,
        t.expires_at,
        t.used_at
    ])
    .map(|_| ())
}

#[async_trait]
impl AgentAuthStore for SqliteStore {
    async fn put_agent_client(&self, client: &AgentClientRecord) -> Result<(), StoreError> {
        let client = client.clone();
        let uris = serde_json::to_string(&client.redirect_uris)
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        self.write(move |c| {
            c.prepare_cached(
                "DELETE FROM agent_clients WHERE client_id IN (
                     SELECT a.client_id FROM agent_clients a
                     WHERE a.created_at < ?1
                       AND NOT EXISTS (SELECT 1 FROM agent_grants g WHERE g.client_id = a.client_id)
                     LIMIT ?2)",
            )?
            .execute(params![
                client.created_at - UNUSED_CLIENT_KEPT_MS,
                UNUSED_CLIENTS_PER_REGISTRATION
            ])?;
            c.prepare_cached(
                "INSERT INTO agent_clients (client_id, client_name, redirect_uris, created_at)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                client.client_id,
                client.client_name,
                uris,
                client.created_at
            ])
            .map(|_| ())
        })
        .await
    }

    async fn get_agent_client(&self, id: &str) -> Result<Option<AgentClientRecord>, StoreError> {
        let id = id.to_owned();
        let row = self
            .read(move |c| {
                c.prepare_cached(
                    "SELECT client_id, client_name, redirect_uris, created_at
                     FROM agent_clients WHERE client_id = ?1",
                )?
                .query_row(params![id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })
                .optional()
            })
            .await?;
        row.map(|(client_id, client_name, uris, created_at)| {
            let redirect_uris = serde_json::from_str(&uris).map_err(|_| {
                StoreError::Unavailable("a stored client's redirect URIs are corrupt".into())
            })?;
            Ok(AgentClientRecord {
                client_id,
                client_name,
                redirect_uris,
                created_at,
            })
        })
        .transpose()
    }

    async fn put_agent_grant(
        &self,
        g: &AgentGrantRecord,
        code: &AgentTokenRecord,
    ) -> Result<(), StoreError> {
        let (g, code) = (g.clone(), code.clone());
        self.write(move |c| {
            c.prepare_cached(&format!(
                "INSERT INTO agent_grants ({GRANT_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
            ))?
            .execute(params![
                g.grant_id,
                g.tenant_id,
                g.user_id,
                g.client_id,
                g.client_name,
                g.redirect_uri,
                g.code_challenge,
                g.scopes,
                g.resource,
                g.created_at,
                g.last_used_at,
                g.revoked_at
            ])?;
            insert_token(c, &code)
        })
        .await
    }

    async fn get_agent_grant(&self, id: &str) -> Result<Option<AgentGrantRecord>, StoreError> {
        let id = id.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {GRANT_COLUMNS} FROM agent_grants WHERE grant_id = ?1"
            ))?
            .query_row(params![id], grant_row)
            .optional()
        })
        .await
    }

    async fn list_agent_grants(
        &self,
        tenant: &TenantId,
        user: &str,
    ) -> Result<Vec<AgentGrantRecord>, StoreError> {
        let (tenant, user) = (tenant.clone(), user.to_owned());
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {GRANT_COLUMNS} FROM agent_grants
                 WHERE tenant_id = ?1 AND user_id = ?2 AND revoked_at IS NULL
                 ORDER BY created_at DESC, grant_id DESC"
            ))?;
            let rows = stmt.query_map(params![tenant, user], grant_row)?;
            rows.collect()
        })
        .await
    }

    async fn revoke_agent_grant(
        &self,
        tenant: &TenantId,
        user: &str,
        grant_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (tenant, user, id) = (tenant.clone(), user.to_owned(), grant_id.to_owned());
        self.write(move |c| {
            let revoked = c
                .prepare_cached(
                    "UPDATE agent_grants SET revoked_at = ?4
                     WHERE tenant_id = ?1 AND user_id = ?2 AND grant_id = ?3 AND revoked_at IS NULL",
                )?
                .execute(params![tenant, user, id, now])?;
            if revoked > 0 {
                c.prepare_cached("DELETE FROM agent_tokens WHERE grant_id = ?1")?
                    .execute(params![id])?;
            }
            Ok(revoked > 0)
        })
        .await
    }

    async fn touch_agent_grant(&self, grant_id: &str, now: i64) -> Result<(), StoreError> {
        let id = grant_id.to_owned();
        self.write(move |c| {
            c.prepare_cached("UPDATE agent_grants SET last_used_at = ?2 WHERE grant_id = ?1")?
                .execute(params![id, now])
                .map(|_| ())
        })
        .await
    }

    async fn put_agent_tokens(&self, tokens: &[AgentTokenRecord]) -> Result<(), StoreError> {
        let tokens = tokens.to_vec();
        self.write(move |c| {
            c.prepare_cached("DELETE FROM agent_tokens WHERE expires_at < ?1")?
                .execute(params![crate::clock::now_ms() - KEEP_EXPIRED_MS])?;
            for t in &tokens {
                insert_token(c, t)?;
            }
            Ok(())
        })
        .await
    }

    async fn get_agent_token(&self, hash: &str) -> Result<Option<AgentTokenRecord>, StoreError> {
        let hash = hash.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {TOKEN_COLUMNS} FROM agent_tokens WHERE token_hash = ?1"
            ))?
            .query_row(params![hash], token_row)
            .optional()
        })
        .await
    }

    async fn use_agent_token(
        &self,
        hash: &str,
        now: i64,
    ) -> Result<Option<AgentTokenRecord>, StoreError> {
        let hash = hash.to_owned();
        // One writer, and this in one savepoint: read-then-mark cannot interleave with another.
        self.write(move |c| {
            let before = c
                .prepare_cached(&format!(
                    "SELECT {TOKEN_COLUMNS} FROM agent_tokens WHERE token_hash = ?1"
                ))?
                .query_row(params![hash], token_row)
                .optional()?;
            if before.as_ref().is_some_and(|t| t.used_at.is_none()) {
                c.prepare_cached("UPDATE agent_tokens SET used_at = ?2 WHERE token_hash = ?1")?
                    .execute(params![hash, now])?;
            }
            Ok(before)
        })
        .await
    }
}
