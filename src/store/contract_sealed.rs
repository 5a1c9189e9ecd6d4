//! The store contract for what outlives a key or a lease elsewhere: provider push channels
//! lapsing, and the sealed values key rotation re-seals (endpoint secrets, queued events; records
//! are in `contract_sync`).

use super::contract::{audit_entry, cid, record, tenant};
use super::*;
use std::sync::Arc;

/// Every value of `kind` in the store, read two at a time (so the paging is exercised).
pub(super) async fn all_sealed(store: &Arc<dyn Store>, kind: SealedKind) -> Vec<SealedValue> {
    let mut found = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let batch = store
            .sealed_values(kind, after.as_deref(), 2)
            .await
            .expect("sealed values");
        let Some(last) = batch.last() else {
            return found;
        };
        after = Some(last.position.clone());
        found.extend(batch);
    }
}

pub async fn run(store: Arc<dyn Store>, prefix: &str) {
    let vault = crate::vault::Vault::from_key_list(
        &crate::secret::SecretString::new(crate::vault::generate_key()),
        "K",
    )
    .expect("vault");
    let key = vault.audit_key();
    let g = tenant(&format!("{prefix}-g"));
    let audit = AuditWrite {
        entry: audit_entry(&g, "create", "-"),
        key: &key,
    };
    // Push channels lapsing before a time, soonest first; an update moves a channel's lapse.
    for (id, lapses) in [
        ("soon", Some(2_000)),
        ("sooner", Some(1_500)),
        ("later", Some(90_000)),
        ("none", None),
    ] {
        let r = ConnectorRecord {
            connector_type: "google_drive".into(),
            channel_expires_at: lapses,
            ..record(g.as_str(), id, 1)
        };
        store.insert(&g, &r, &audit, &[]).await.expect("insert");
    }
    let lapsing = |before: i64| {
        let store = store.clone();
        let g = g.clone();
        async move {
            store
                .channels_expiring(before, 100)
                .await
                .expect("channels")
                .into_iter()
                .filter(|r| r.tenant_id == g)
                .map(|r| r.connector_id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(lapsing(5_000).await, [cid("sooner"), cid("soon")]);
    let mut renewed = store
        .get(&g, &cid("sooner"))
        .await
        .expect("get")
        .expect("there");
    renewed.channel_expires_at = Some(95_000);
    renewed.version += 1;
    assert!(store
        .update(&g, &renewed, 1, None, &[])
        .await
        .expect("update"));
    assert_eq!(lapsing(5_000).await, [cid("soon")]);
    assert_eq!(
        lapsing(100_000).await,
        [cid("soon"), cid("later"), cid("sooner")]
    );

    // Endpoint secrets (current and previous) and queued events, read and re-sealed where
    // they are still as read. (Tokens carry the prefix: a MongoDB database is shared by runs.)
    let t = tenant(&format!("{prefix}-sealed"));
    let token = |name: &str| format!("{prefix}-{name}");
    store
        .put_endpoint(&EndpointRecord {
            tenant_id: t.clone(),
            endpoint_id: "ep-1".into(),
            url: "https://hooks.example/1".into(),
            events: Vec::new(),
            enabled: true,
            disabled_reason: None,
            secret: token("old-secret"),
            previous_secret: Some(token("older-secret")),
            previous_until: Some(5_000),
            created_at: 1,
            updated_at: 1,
        })
        .await
        .expect("put");
    store
        .queue_event(
            &t,
            &OutboxEvent {
                event_id: token("sealed-msg"),
                event_type: "connector.created".into(),
                at: 1,
                sealed: token("old-event"),
            },
        )
        .await
        .expect("queue");
    let find = |kind: SealedKind, wanted: String| {
        let store = store.clone();
        async move {
            let mut found = all_sealed(&store, kind).await;
            found.retain(|v| v.token == wanted);
            found
        }
    };
    for (kind, old, new) in [
        (SealedKind::EndpointSecrets, "old-secret", "new-secret"),
        (
            SealedKind::PreviousEndpointSecrets,
            "older-secret",
            "new-previous",
        ),
        (SealedKind::Events, "old-event", "new-event"),
    ] {
        let values = find(kind, token(old)).await;
        assert_eq!(values.len(), 1, "{kind:?}: {values:?}");
        let change = Reseal {
            value: values[0].clone(),
            token: token(new),
            digest: None,
        };
        assert_eq!(
            store
                .reseal(kind, std::slice::from_ref(&change))
                .await
                .expect("reseal"),
            1
        );
        assert_eq!(store.reseal(kind, &[change]).await.expect("again"), 0);
        assert_eq!(find(kind, token(new)).await.len(), 1, "{kind:?}");
    }
    let ep = store
        .get_endpoint(&t, "ep-1")
        .await
        .expect("get")
        .expect("there");
    assert_eq!(
        (ep.secret, ep.previous_secret),
        (token("new-secret"), Some(token("new-previous")))
    );
}
