//! Agents' OAuth clients, grants and tokens in MongoDB (see `store::agent_auth`).

use super::super::agent_auth::*;
use super::*;
use mongodb::options::IndexOptions;
use mongodb::IndexModel;

/// Tokens a day past their expiry are of no use even as evidence of reuse, so writing new ones
/// clears them out (as SQLite does).
const KEEP_EXPIRED_MS: i64 = 86_400_000;

fn opt_i64(d: &Document, field: &str) -> Option<i64> {
    d.get_i64(field).ok()
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Unavailable(format!("a stored {what} is corrupt"))
}

fn grant_of(d: &Document) -> Result<AgentGrantRecord, StoreError> {
    let s = |f: &str| {
        d.get_str(f)
            .map(str::to_owned)
            .map_err(|_| corrupt("agent grant"))
    };
    Ok(AgentGrantRecord {
        grant_id: s("grant_id")?,
        tenant_id: tenant_of(d)?,
        user_id: s("user_id")?,
        client_id: s("client_id")?,
        client_name: s("client_name")?,
        redirect_uri: s("redirect_uri")?,
        code_challenge: s("code_challenge")?,
        scopes: s("scopes")?,
        resource: s("resource")?,
        created_at: d
            .get_i64("created_at")
            .map_err(|_| corrupt("agent grant"))?,
        last_used_at: opt_i64(d, "last_used_at"),
        revoked_at: opt_i64(d, "revoked_at"),
    })
}

fn token_of(d: &Document) -> Result<AgentTokenRecord, StoreError> {
    let s = |f: &str| {
        d.get_str(f)
            .map(str::to_owned)
            .map_err(|_| corrupt("agent token"))
    };
    Ok(AgentTokenRecord {
        token_hash: s("token_hash")?,
        kind: AgentTokenKind::parse(&s("kind")?).ok_or_else(|| corrupt("agent token"))?,
        grant_id: s("grant_id")?,
        tenant_id: tenant_of(d)?,
        expires_at: d
            .get_i64("expires_at")
            .map_err(|_| corrupt("agent token"))?,
        used_at: opt_i64(d, "used_at"),
    })
}

fn token_doc(t: &AgentTokenRecord) -> Document {
    doc! {
        "token_hash": &t.token_hash, "kind": t.kind.as_str(), "grant_id": &t.grant_id,
        "tenant_id": &t.tenant_id, "expires_at": t.expires_at,
        "used_at": t.used_at.map_or(Bson::Null, Bson::Int64),
    }
}

impl MongoStore {
    /// Removes (a batch of) clients registered before `before` that nobody allowed.
    async fn remove_unused_clients(&self, before: i64) -> Result<(), StoreError> {
        let mut old = self
            .agent_clients
            .find(doc! {"created_at": {"$lt": before}})
            .projection(doc! {"client_id": 1})
            .limit(UNUSED_CLIENTS_PER_REGISTRATION)
            .await
            .map_err(map_error)?;
        let mut ids = Vec::new();
        while let Some(d) = old.try_next().await.map_err(map_error)? {
            if let Ok(id) = d.get_str("client_id") {
                ids.push(id.to_owned());
            }
        }
        if ids.is_empty() {
            return Ok(());
        }
        let allowed = self
            .agent_grants
            .distinct("client_id", doc! {"client_id": {"$in": &ids}})
            .await
            .map_err(map_error)?;
        let unused: Vec<&String> = ids
            .iter()
            .filter(|id| !allowed.iter().any(|a| a.as_str() == Some(id.as_str())))
            .collect();
        if !unused.is_empty() {
            self.agent_clients
                .delete_many(doc! {"client_id": {"$in": unused}})
                .await
                .map_err(map_error)?;
        }
        Ok(())
    }

    /// Clients, grants and tokens each by their id or hash; a user's grants by user.
    pub(super) async fn create_agent_auth_indexes(&self) -> Result<(), StoreError> {
        let unique = |keys: Document| {
            IndexModel::builder()
                .keys(keys)
                .options(IndexOptions::builder().unique(true).build())
                .build()
        };
        self.agent_clients
            .create_index(unique(doc! {"client_id": 1}))
            .await
            .map_err(map_error)?;
        self.agent_clients
            .create_index(IndexModel::builder().keys(doc! {"created_at": 1}).build())
            .await
            .map_err(map_error)?;
        self.agent_grants
            .create_indexes([
                unique(doc! {"grant_id": 1}),
                IndexModel::builder().keys(doc! {"client_id": 1}).build(),
                IndexModel::builder()
                    .keys(doc! {"tenant_id": 1, "user_id": 1, "created_at": -1})
                    .build(),
            ])
            .await
            .map_err(map_error)?;
        self.agent_tokens
            .create_indexes([
                unique(doc! {"token_hash": 1}),
                IndexModel::builder().keys(doc! {"grant_id": 1}).build(),
                IndexModel::builder().keys(doc! {"expires_at": 1}).build(),
            ])
            .await
            .map_err(map_error)?;
        Ok(())
    }
}

#[async_trait]
impl AgentAuthStore for MongoStore {
    async fn put_agent_client(&self, c: &AgentClientRecord) -> Result<(), StoreError> {
        self.remove_unused_clients(c.created_at - UNUSED_CLIENT_KEPT_MS)
            .await?;
        self.agent_clients
            .insert_one(doc! {
                "client_id": &c.client_id, "client_name": &c.client_name,
                "redirect_uris": &c.redirect_uris, "created_at": c.created_at,
            })
            .await
            .map(|_| ())
            .map_err(map_error)
    }

    async fn get_agent_client(&self, id: &str) -> Result<Option<AgentClientRecord>, StoreError> {
        let found = self
            .agent_clients
            .find_one(doc! {"client_id": id})
            .await
            .map_err(map_error)?;
        found
            .map(|d| {
                let uris = d
                    .get_array("redirect_uris")
                    .map_err(|_| corrupt("agent client"))?
                    .iter()
                    .map(|u| u.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| corrupt("agent client"))?;
                Ok(AgentClientRecord {
                    client_id: d
                        .get_str("client_id")
                        .map_err(|_| corrupt("agent client"))?
                        .to_owned(),
                    client_name: d
                        .get_str("client_name")
                        .map_err(|_| corrupt("agent client"))?
                        .to_owned(),
                    redirect_uris: uris,
                    created_at: d
                        .get_i64("created_at")
                        .map_err(|_| corrupt("agent client"))?,
                })
            })
            .transpose()
    }

    async fn put_agent_grant(
        &self,
        g: &AgentGrantRecord,
        code: &AgentTokenRecord,
    ) -> Result<(), StoreError> {
        // The grant first: a code is only ever found with its grant beside it. A grant whose code
        // failed to be written has no token and is never shown as allowed to anything but its
        // person, who can revoke it.
        self.agent_grants
            .insert_one(doc! {
                "grant_id": &g.grant_id, "tenant_id": &g.tenant_id, "user_id": &g.user_id,
                "client_id": &g.client_id, "client_name": &g.client_name,
                "redirect_uri": &g.redirect_uri, "code_challenge": &g.code_challenge,
                "scopes": &g.scopes, "resource": &g.resource, "created_at": g.created_at,
                "last_used_at": g.last_used_at.map_or(Bson::Null, Bson::Int64),
                "revoked_at": g.revoked_at.map_or(Bson::Null, Bson::Int64),
            })
            .await
            .map_err(map_error)?;
        self.agent_tokens
            .insert_one(token_doc(code))
            .await
            .map(|_| ())
            .map_err(map_error)
    }

    async fn get_agent_grant(&self, id: &str) -> Result<Option<AgentGrantRecord>, StoreError> {
        let found = self
            .agent_grants
            .find_one(doc! {"grant_id": id})
            .await
            .map_err(map_error)?;
        found.as_ref().map(grant_of).transpose()
    }

    async fn list_agent_grants(
        &self,
        tenant: &TenantId,
        user: &str,
    ) -> Result<Vec<AgentGrantRecord>, StoreError> {
        let docs: Vec<Document> = self
            .agent_grants
            .find(doc! {"tenant_id": tenant, "user_id": user, "revoked_at": Bson::Null})
            .sort(doc! {"created_at": -1, "grant_id": -1})
            .await
            .map_err(map_error)?
            .try_collect()
            .await
            .map_err(map_error)?;
        docs.iter().map(grant_of).collect()
    }

    async fn revoke_agent_grant(
        &self,
        tenant: &TenantId,
        user: &str,
        grant_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let revoked = self
            .agent_grants
            .update_one(
                doc! {"tenant_id": tenant, "user_id": user, "grant_id": grant_id,
                "revoked_at": Bson::Null},
                doc! {"$set": {"revoked_at": now}},
            )
            .await
            .map_err(map_error)?;
        if revoked.modified_count == 0 {
            return Ok(false);
        }
        // Dead already by the grant's mark (every use checks it); the tokens go for tidiness.
        self.agent_tokens
            .delete_many(doc! {"grant_id": grant_id})
            .await
            .map_err(map_error)?;
        Ok(true)
    }

    async fn touch_agent_grant(&self, grant_id: &str, now: i64) -> Result<(), StoreError> {
        self.agent_grants
            .update_one(
                doc! {"grant_id": grant_id},
                doc! {"$set": {"last_used_at": now}},
            )
            .await
            .map(|_| ())
            .map_err(map_error)
    }

    async fn put_agent_tokens(&self, tokens: &[AgentTokenRecord]) -> Result<(), StoreError> {
        self.agent_tokens
            .delete_many(doc! {"expires_at": {"$lt": crate::clock::now_ms() - KEEP_EXPIRED_MS}})
            .await
            .map_err(map_error)?;
        if tokens.is_empty() {
            return Ok(());
        }
        self.agent_tokens
            .insert_many(tokens.iter().map(token_doc))
            .await
            .map(|_| ())
            .map_err(map_error)
    }

    async fn get_agent_token(&self, hash: &str) -> Result<Option<AgentTokenRecord>, StoreError> {
        let found = self
            .agent_tokens
            .find_one(doc! {"token_hash": hash})
            .await
            .map_err(map_error)?;
        found.as_ref().map(token_of).transpose()
    }

    async fn use_agent_token(
        &self,
        hash: &str,
        now: i64,
    ) -> Result<Option<AgentTokenRecord>, StoreError> {
        // One atomic find-and-update on an unused token: of two racing uses, one finds it unused
        // (and gets it as it was); the other finds it used below.
        let fresh = self
            .agent_tokens
            .find_one_and_update(
                doc! {"token_hash": hash, "used_at": Bson::Null},
                doc! {"$set": {"used_at": now}},
            )
            .await
            .map_err(map_error)?;
        if let Some(before) = fresh {
            return token_of(&before).map(Some);
        }
        self.get_agent_token(hash).await
    }
}
