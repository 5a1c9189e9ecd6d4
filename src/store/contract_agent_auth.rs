//! The store contract for agents' OAuth records: clients by id, grants per tenant and user,
//! single-use tokens used once however many race, and a revoked grant dead with its tokens.

use super::contract::tenant;
use super::*;
use std::sync::Arc;

fn grant(prefix: &str, id: &str, t: &TenantId, user: &str, at: i64) -> AgentGrantRecord {
    AgentGrantRecord {
        grant_id: format!("{prefix}-{id}"),
        tenant_id: t.clone(),
        user_id: user.into(),
        client_id: format!("{prefix}-client"),
        client_name: "Claude".into(),
        redirect_uri: "http://127.0.0.1:9/callback".into(),
        code_challenge: "challenge".into(),
        scopes: "mcp:read".into(),
        resource: "https://hub.test/mcp".into(),
        created_at: at,
        last_used_at: None,
        revoked_at: None,
    }
}

fn token(prefix: &str, hash: &str, kind: AgentTokenKind, g: &AgentGrantRecord) -> AgentTokenRecord {
    AgentTokenRecord {
        token_hash: format!("{prefix}-{hash}"),
        kind,
        grant_id: g.grant_id.clone(),
        tenant_id: g.tenant_id.clone(),
        expires_at: crate::clock::now_ms() + 60_000,
        used_at: None,
    }
}

pub async fn run(store: Arc<dyn Store>, prefix: &str) {
    let a = tenant(&format!("{prefix}-oa"));
    let b = tenant(&format!("{prefix}-ob"));

    // Clients, by id; a second registration under the same id is refused.
    let client = AgentClientRecord {
        client_id: format!("{prefix}-client"),
        client_name: "Claude".into(),
        redirect_uris: vec![
            "http://127.0.0.1:9/callback".into(),
            "https://x.test/cb".into(),
        ],
        created_at: 5,
    };
    store.put_agent_client(&client).await.expect("client");
    assert_eq!(
        store
            .get_agent_client(&client.client_id)
            .await
            .expect("get"),
        Some(client.clone())
    );
    assert!(matches!(
        store.put_agent_client(&client).await,
        Err(StoreError::Duplicate)
    ));
    assert!(store
        .get_agent_client(&format!("{prefix}-nobody"))
        .await
        .expect("get")
        .is_none());

    // A grant with its code; the user's grants newest first, nobody else's.
    let older = grant(prefix, "g1", &a, "ana", 10);
    let newer = grant(prefix, "g2", &a, "ana", 20);
    let theirs = grant(prefix, "g3", &b, "ana", 30);
    let code = token(prefix, "code1", AgentTokenKind::Code, &older);
    store.put_agent_grant(&older, &code).await.expect("grant");
    store
        .put_agent_grant(
            &newer,
            &token(prefix, "code2", AgentTokenKind::Code, &newer),
        )
        .await
        .expect("grant");
    store
        .put_agent_grant(
            &theirs,
            &token(prefix, "code3", AgentTokenKind::Code, &theirs),
        )
        .await
        .expect("grant");
    let listed = store.list_agent_grants(&a, "ana").await.expect("list");
    assert_eq!(listed, vec![newer.clone(), older.clone()]);
    assert!(store
        .list_agent_grants(&a, "bob")
        .await
        .expect("list")
        .is_empty());
    assert_eq!(
        store.get_agent_grant(&older.grant_id).await.expect("get"),
        Some(older.clone())
    );

    // A code is used once: the first use sees it unused, every later one sees it used.
    let first = store
        .use_agent_token(&code.token_hash, 100)
        .await
        .expect("use")
        .expect("found");
    assert_eq!(first, code);
    let again = store
        .use_agent_token(&code.token_hash, 200)
        .await
        .expect("use")
        .expect("found");
    assert_eq!(again.used_at, Some(100));
    assert!(store
        .use_agent_token(&format!("{prefix}-none"), 1)
        .await
        .expect("use")
        .is_none());
    // Racing uses: exactly one finds it unused.
    let racing = token(prefix, "race", AgentTokenKind::Refresh, &older);
    store
        .put_agent_tokens(std::slice::from_ref(&racing))
        .await
        .expect("tokens");
    let uses = futures_util::future::join_all(
        (0..8).map(|i| store.use_agent_token(&racing.token_hash, 1_000 + i)),
    )
    .await;
    let unused = uses
        .into_iter()
        .map(|u| u.expect("use").expect("found"))
        .filter(|t| t.used_at.is_none())
        .count();
    assert_eq!(unused, 1);

    // Tokens by hash; last use recorded.
    let access = token(prefix, "access", AgentTokenKind::Access, &older);
    store
        .put_agent_tokens(std::slice::from_ref(&access))
        .await
        .expect("tokens");
    assert_eq!(
        store
            .get_agent_token(&access.token_hash)
            .await
            .expect("get"),
        Some(access.clone())
    );
    store
        .touch_agent_grant(&older.grant_id, 555)
        .await
        .expect("touch");
    let touched = store
        .get_agent_grant(&older.grant_id)
        .await
        .expect("get")
        .expect("found");
    assert_eq!(touched.last_used_at, Some(555));

    // Revocation: only by its own tenant and user, once; the grant is marked and its tokens gone.
    assert!(!store
        .revoke_agent_grant(&b, "ana", &older.grant_id, 600)
        .await
        .expect("revoke"));
    assert!(!store
        .revoke_agent_grant(&a, "bob", &older.grant_id, 600)
        .await
        .expect("revoke"));
    assert!(store
        .revoke_agent_grant(&a, "ana", &older.grant_id, 600)
        .await
        .expect("revoke"));
    assert!(!store
        .revoke_agent_grant(&a, "ana", &older.grant_id, 700)
        .await
        .expect("revoke twice"));
    let revoked = store
        .get_agent_grant(&older.grant_id)
        .await
        .expect("get")
        .expect("found");
    assert_eq!(revoked.revoked_at, Some(600));
    assert!(store
        .get_agent_token(&access.token_hash)
        .await
        .expect("get")
        .is_none());
    assert!(store
        .get_agent_token(&racing.token_hash)
        .await
        .expect("get")
        .is_none());
    assert_eq!(
        store.list_agent_grants(&a, "ana").await.expect("list"),
        vec![newer]
    );

    // A client nobody allowed goes once a registration comes a day after it; one with a grant,
    // or younger than a day, stays.
    let registered = |id: &str, at: i64| AgentClientRecord {
        client_id: format!("{prefix}-{id}"),
        created_at: at,
        ..client.clone()
    };
    let day = super::agent_auth::UNUSED_CLIENT_KEPT_MS;
    let (unused, allowed, young) = (
        registered("unused", 100),
        registered("allowed", 100),
        registered("young", day),
    );
    for c in [&unused, &allowed, &young] {
        store.put_agent_client(c).await.expect("client");
    }
    let mut kept_grant = grant(prefix, "g-kept", &a, "ana", 100);
    kept_grant.client_id = allowed.client_id.clone();
    store
        .put_agent_grant(
            &kept_grant,
            &token(prefix, "kept-code", AgentTokenKind::Code, &kept_grant),
        )
        .await
        .expect("grant");
    store
        .put_agent_client(&registered("later", day + 101))
        .await
        .expect("client");
    let still = |c: &AgentClientRecord| {
        let id = c.client_id.clone();
        let store = store.clone();
        async move { store.get_agent_client(&id).await.expect("get").is_some() }
    };
    assert!(!still(&unused).await, "an unused client a day old is gone");
    assert!(still(&allowed).await, "a client someone allowed stays");
    assert!(still(&young).await, "a client younger than a day stays");
    assert!(
        still(&client).await,
        "the first client, allowed above (its grant revoked since), stays"
    );
}
