//! The store contract for events to tenants (endpoints, the outbox written with the change it
//! reports, deliveries under a lease, attempts), run with the rest of the contract against SQLite
//! always and MongoDB when `TEST_MONGO_URI` is set.

use super::contract::{audit_entry, cid, record, tenant};
use super::*;
use std::sync::Arc;

fn endpoint(t: &TenantId, id: &str, events: &[&str], enabled: bool) -> EndpointRecord {
    EndpointRecord {
        tenant_id: t.clone(),
        endpoint_id: id.into(),
        url: format!("https://hooks.example/{id}"),
        events: events.iter().map(|e| e.to_string()).collect(),
        enabled,
        disabled_reason: None,
        secret: "sealed-secret".into(),
        previous_secret: None,
        previous_until: None,
        created_at: 1,
        updated_at: 1,
    }
}

fn event(id: &str, kind: &str, at: i64) -> OutboxEvent {
    OutboxEvent {
        event_id: id.into(),
        event_type: kind.into(),
        at,
        sealed: format!("sealed-{id}"),
    }
}

/// App-wide provider webhooks: connectors found by (type, account key) across tenants, each
/// tenant's own; a changed key moves the connector, a cleared one takes it out.
async fn account_lookup(store: &Arc<dyn Store>, prefix: &str, key: &crate::vault::AuditKey) {
    let (a, b) = (
        tenant(&format!("{prefix}-acct-a")),
        tenant(&format!("{prefix}-acct-b")),
    );
    let org1 = account_key("xero", "org-1").expect("key");
    let org2 = account_key("xero", "org-2").expect("key");
    assert_ne!(org1, account_key("quickbooks", "org-1").expect("key"));
    assert_eq!(Some(org1.clone()), account_key("xero", " ORG-1 "));
    assert_eq!(account_key("xero", " "), None);
    for (t, id, connector_type, account) in [
        (&a, "x1", "xero", Some(&org1)),
        (&b, "x2", "xero", Some(&org1)),
        (&b, "x3", "xero", Some(&org2)),
        (&a, "x4", "xero", None),
        // The same digest under another type is not a Xero connector.
        (&a, "q1", "quickbooks", Some(&org1)),
    ] {
        let r = ConnectorRecord {
            connector_type: connector_type.into(),
            account_key: account.cloned(),
            ..record(t.as_str(), id, 1)
        };
        let audit = AuditWrite {
            entry: audit_entry(t, "create", id),
            key,
        };
        store.insert(t, &r, &audit, &[]).await.expect("insert");
    }
    let found = |account: String| {
        let store = store.clone();
        async move {
            store
                .find_by_account("xero", &account, 10)
                .await
                .expect("find")
                .into_iter()
                .map(|r| format!("{}/{}", r.tenant_id.as_str(), r.connector_id))
                .collect::<Vec<_>>()
        }
    };
    let (ta, tb) = (a.as_str(), b.as_str());
    assert_eq!(
        found(org1.clone()).await,
        [format!("{ta}/{}", cid("x1")), format!("{tb}/{}", cid("x2"))]
    );
    assert_eq!(found(org2.clone()).await, [format!("{tb}/{}", cid("x3"))]);
    assert!(found(account_key("xero", "org-3").expect("key"))
        .await
        .is_empty());
    assert_eq!(
        store
            .find_by_account("xero", &org1, 1)
            .await
            .expect("find")
            .len(),
        1,
        "at most the limit"
    );
    let x2 = store
        .get(&b, &cid("x2"))
        .await
        .expect("get")
        .expect("there");
    let assert_account = x2.account_key.clone();
    assert_eq!(assert_account.as_deref(), Some(org1.as_str()), "read back");
    // An update moves the connector to its new account, or out of every lookup.
    let moved = ConnectorRecord {
        account_key: Some(org2.clone()),
        version: 2,
        ..x2
    };
    assert!(store
        .update(&b, &moved, 1, None, &[])
        .await
        .expect("update"));
    assert_eq!(found(org1.clone()).await, [format!("{ta}/{}", cid("x1"))]);
    assert_eq!(
        found(org2.clone()).await,
        [format!("{tb}/{}", cid("x2")), format!("{tb}/{}", cid("x3"))]
    );
    let cleared = ConnectorRecord {
        account_key: None,
        version: 3,
        ..moved
    };
    assert!(store
        .update(&b, &cleared, 2, None, &[])
        .await
        .expect("update"));
    assert_eq!(found(org2).await, [format!("{tb}/{}", cid("x3"))]);
}

pub async fn run(store: Arc<dyn Store>, prefix: &str) {
    account_lookup(
        &store,
        prefix,
        &crate::vault::Vault::from_key_list(
            &crate::secret::SecretString::new(crate::vault::generate_key()),
            "K",
        )
        .expect("vault")
        .audit_key(),
    )
    .await;
    let t = tenant(&format!("{prefix}-events"));
    let other = tenant(&format!("{prefix}-events-other"));
    let vault = crate::vault::Vault::from_key_list(
        &crate::secret::SecretString::new(crate::vault::generate_key()),
        "K",
    )
    .expect("vault");
    let key = vault.audit_key();
    let w = |action: &str, id: &str| AuditWrite {
        entry: audit_entry(&t, action, id),
        key: &key,
    };

    // Endpoints, scoped by tenant.
    store
        .put_endpoint(&endpoint(&t, "ep-all", &[], true))
        .await
        .expect("put");
    store
        .put_endpoint(&endpoint(&t, "ep-deleted", &["connector.deleted"], true))
        .await
        .expect("put");
    store
        .put_endpoint(&endpoint(&t, "ep-off", &[], false))
        .await
        .expect("put");
    assert_eq!(store.list_endpoints(&t).await.expect("list").len(), 3);
    assert!(store.list_endpoints(&other).await.expect("list").is_empty());
    assert!(store
        .get_endpoint(&other, "ep-all")
        .await
        .expect("get")
        .is_none());

    // An event is queued with the change it reports: one delivery per enabled endpoint that
    // wants it.
    let c = "events";
    let conn = &cid(c);
    store
        .insert(
            &t,
            &record(t.as_str(), c, 1),
            &w("create", c),
            &[event("msg_1", "connector.created", 1_000)],
        )
        .await
        .expect("insert");
    // A change that did not happen queues nothing.
    assert!(!store
        .update(
            &t,
            &record(t.as_str(), c, 1),
            99,
            Some(&w("update", c)),
            &[event("msg_never", "connector.updated", 1_000)],
        )
        .await
        .expect("update"));

    // Claimed under a lease: nobody else takes it meanwhile.
    let jobs = store
        .claim_deliveries("p1", 1_000, 30_000, 10, &ClaimShare::default())
        .await
        .expect("claim");
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let job = &jobs[0];
    assert_eq!(
        (
            job.endpoint.endpoint_id.as_str(),
            job.event.event_id.as_str(),
            job.event.sealed.as_str()
        ),
        ("ep-all", "msg_1", "sealed-msg_1")
    );
    assert!(store
        .claim_deliveries("p2", 2_000, 30_000, 10, &ClaimShare::default())
        .await
        .expect("claim")
        .is_empty());
    let attempt = |at, status| AttemptRecord {
        at,
        status,
        duration_ms: 12,
        error: None,
    };
    let id = job.delivery.delivery_id.clone();
    assert!(
        !store
            .finish_attempt(
                &id,
                "p2",
                &attempt(2_000, Some(500)),
                AttemptOutcome::RetryAt(5_000)
            )
            .await
            .expect("finish"),
        "not p2's"
    );
    assert!(store
        .finish_attempt(
            &id,
            "p1",
            &attempt(2_000, Some(500)),
            AttemptOutcome::RetryAt(5_000)
        )
        .await
        .expect("finish"));
    assert!(store
        .claim_deliveries("p2", 4_999, 30_000, 10, &ClaimShare::default())
        .await
        .expect("claim")
        .is_empty());
    // A holder that died: its lease lapses and another process takes the delivery.
    let again = store
        .claim_deliveries("p2", 5_000, 1_000, 10, &ClaimShare::default())
        .await
        .expect("claim");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].delivery.attempts, 1);
    let taken_over = store
        .claim_deliveries("p3", 6_000, 30_000, 10, &ClaimShare::default())
        .await
        .expect("claim");
    assert_eq!(taken_over.len(), 1, "p2's lease lapsed at 6,000");
    assert!(store
        .finish_attempt(
            &id,
            "p3",
            &attempt(6_000, Some(200)),
            AttemptOutcome::Delivered
        )
        .await
        .expect("finish"));
    assert!(
        !store
            .finish_attempt(
                &id,
                "p2",
                &attempt(6_001, Some(200)),
                AttemptOutcome::Delivered
            )
            .await
            .expect("finish"),
        "the slow holder records nothing over it"
    );
    let listed = store
        .list_deliveries(&t, "ep-all", 10)
        .await
        .expect("deliveries");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0.status, DeliveryStatus::Succeeded);
    assert_eq!(
        listed[0].1.iter().map(|a| a.status).collect::<Vec<_>>(),
        [Some(500), Some(200)]
    );
    assert!(store
        .list_deliveries(&other, "ep-all", 10)
        .await
        .expect("deliveries")
        .is_empty());

    // A replay is a new delivery of the same event.
    assert!(store
        .replay_delivery(&t, "ep-all", &id, "replayed-1", 7_000)
        .await
        .expect("replay"));
    assert!(!store
        .replay_delivery(&other, "ep-all", &id, "replayed-2", 7_000)
        .await
        .expect("replay"));
    let replayed = store
        .claim_deliveries("p1", 7_000, 30_000, 10, &ClaimShare::default())
        .await
        .expect("claim");
    assert_eq!(replayed.len(), 1);
    assert_eq!(
        (
            replayed[0].delivery.delivery_id.as_str(),
            replayed[0].event.event_id.as_str()
        ),
        ("replayed-1", "msg_1")
    );

    // 410 Gone turns the endpoint off; what waits for it is not sent.
    assert!(store
        .finish_attempt(
            "replayed-1",
            "p1",
            &attempt(7_000, Some(410)),
            AttemptOutcome::EndpointGone
        )
        .await
        .expect("finish"));
    let gone = store
        .get_endpoint(&t, "ep-all")
        .await
        .expect("get")
        .expect("endpoint");
    assert!(!gone.enabled && gone.disabled_reason.is_some());
    store
        .queue_event(&t, &event("msg_2", "connector.deleted", 8_000))
        .await
        .expect("queue");
    let jobs = store
        .claim_deliveries("p1", 8_000, 30_000, 10, &ClaimShare::default())
        .await
        .expect("claim");
    assert_eq!(
        jobs.iter()
            .map(|j| j.endpoint.endpoint_id.as_str())
            .collect::<Vec<_>>(),
        ["ep-deleted"],
        "only the enabled endpoint that wants it"
    );

    // Deleting an endpoint deletes its deliveries.
    assert!(store
        .delete_endpoint(&t, "ep-deleted")
        .await
        .expect("delete"));
    assert!(!store
        .delete_endpoint(&t, "ep-deleted")
        .await
        .expect("delete"));
    assert!(store
        .list_deliveries(&t, "ep-deleted", 10)
        .await
        .expect("deliveries")
        .is_empty());

    // Retention: finished deliveries and their events go; what still waits stays.
    store
        .queue_event(&t, &event("msg_waiting", "connector.deleted", 8_500))
        .await
        .expect("queue");
    // A disabled endpoint's deliveries wait for nothing and go too, pending or not; an enabled
    // endpoint's pending one stays.
    for id in ["ep-paused", "ep-live"] {
        store
            .put_endpoint(&endpoint(&t, id, &["connector.updated"], true))
            .await
            .expect("put");
    }
    store
        .queue_event(&t, &event("msg_paused", "connector.updated", 8_200))
        .await
        .expect("queue");
    store
        .put_endpoint(&endpoint(&t, "ep-paused", &["connector.updated"], false))
        .await
        .expect("disable");
    assert!(store.prune_events(8_600).await.expect("prune") > 0);
    assert!(store
        .list_deliveries(&t, "ep-all", 10)
        .await
        .expect("deliveries")
        .is_empty());
    assert!(
        store
            .list_deliveries(&t, "ep-paused", 10)
            .await
            .expect("deliveries")
            .is_empty(),
        "a disabled endpoint's pending delivery is forgotten"
    );
    let live = store
        .list_deliveries(&t, "ep-live", 10)
        .await
        .expect("deliveries");
    assert_eq!(
        live.len(),
        1,
        "an enabled endpoint's pending delivery stays"
    );
    assert!(store.delete_endpoint(&t, "ep-live").await.expect("delete"));
    // (ep-all is off, so msg_waiting waits for no one: only an enabled endpoint gets a delivery.)

    // Provider webhooks: a connector found by its address token; each provider event accepted
    // once, its forward to the tenant queued with it.
    let found = store
        .find_by_hook(&format!("hook-{}-{c}", t.as_str()))
        .await
        .expect("find")
        .expect("the connector");
    assert_eq!(
        (found.tenant_id.as_str(), found.connector_id.as_str()),
        (t.as_str(), conn.as_str())
    );
    assert!(store
        .find_by_hook("hook-unknown")
        .await
        .expect("find")
        .is_none());
    store
        .put_endpoint(&endpoint(&t, "ep-provider", &["provider.event"], true))
        .await
        .expect("put");
    let forward = event("msg_p1", "provider.event", 9_000);
    assert!(store
        .record_provider_event(&t, conn, "evt_1", "customer.updated", 9_000, &forward)
        .await
        .expect("record"));
    assert!(
        !store
            .record_provider_event(
                &t,
                conn,
                "evt_1",
                "customer.updated",
                9_001,
                &event("msg_p2", "provider.event", 9_001)
            )
            .await
            .expect("record"),
        "a delivery again of the same event is accepted once"
    );
    let jobs = store
        .claim_deliveries("p1", 9_001, 30_000, 10, &ClaimShare::default())
        .await
        .expect("claim");
    assert_eq!(
        jobs.iter()
            .map(|j| j.event.event_id.as_str())
            .collect::<Vec<_>>(),
        ["msg_p1"]
    );
    // Deleted with the connector: the same id from a connector of that id later is new.
    assert!(store
        .delete(&t, conn, &w("delete", c), &[])
        .await
        .expect("delete"));
    store
        .insert(&t, &record(t.as_str(), c, 2), &w("create", c), &[])
        .await
        .expect("insert");
    assert!(store
        .record_provider_event(
            &t,
            conn,
            "evt_1",
            "customer.updated",
            9_002,
            &event("msg_p3", "provider.event", 9_002)
        )
        .await
        .expect("record"));
}

/// A claim shares the slots: a tenant with no room left is skipped while another has work, and
/// within one claim each tenant takes no more than its room. Run before the rest of the
/// contract: everything it queues is left leased far ahead, out of the other claims' way.
pub async fn run_fair_claim(store: Arc<dyn Store>, prefix: &str) {
    let busy = TenantId::parse(&format!("{prefix}-fair-busy")).expect("tenant");
    let quiet = TenantId::parse(&format!("{prefix}-fair-quiet")).expect("tenant");
    for t in [&busy, &quiet] {
        store
            .put_endpoint(&endpoint(t, "ep-fair", &["connector.updated"], true))
            .await
            .expect("put");
    }
    for n in 0..4 {
        store
            .queue_event(
                &busy,
                &event(&format!("msg_busy_{n}"), "connector.updated", 10 + n),
            )
            .await
            .expect("queue");
    }
    store
        .queue_event(&quiet, &event("msg_quiet", "connector.updated", 20))
        .await
        .expect("queue");
    let tenants = |jobs: &[DeliveryJob]| {
        jobs.iter()
            .map(|j| j.delivery.tenant_id.to_string())
            .collect::<Vec<_>>()
    };
    // The busy tenant has one under way and a share of one: the quiet one goes first.
    let share = ClaimShare {
        per_tenant: Some(1),
        in_flight: vec![(busy.clone(), 1)],
    };
    let jobs = store
        .claim_deliveries("fair", 30, 1_000_000_000, 4, &share)
        .await
        .expect("claim");
    assert_eq!(tenants(&jobs), [quiet.to_string()]);
    // With room for two, two of the busy tenant's oldest, not all four.
    let share = ClaimShare {
        per_tenant: Some(2),
        in_flight: Vec::new(),
    };
    let jobs = store
        .claim_deliveries("fair", 30, 1_000_000_000, 4, &share)
        .await
        .expect("claim");
    assert_eq!(tenants(&jobs), [busy.to_string(), busy.to_string()]);
    // No cap: the rest.
    let jobs = store
        .claim_deliveries("fair", 30, 1_000_000_000, 4, &ClaimShare::default())
        .await
        .expect("claim");
    assert_eq!(jobs.len(), 2);
}
