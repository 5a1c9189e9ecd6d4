//! PostgreSQL connection checks against the real server the test command starts
//! (`scripts/test-postgres.sh`): good and bad credentials, TLS modes, and no password sent
//! unencrypted across a network.

use crate::checks::assert_outcome;
use crate::support::{spawn_app, spawn_app_with};
use serde_json::json;

/// A PostgreSQL server started by the test command (`scripts/test-postgres.sh`).
pub fn postgres() -> Option<(String, String, String, String)> {
    let var = |k: &str| std::env::var(k).ok();
    match (
        var("TEST_PG_PORT"),
        var("TEST_PG_USER"),
        var("TEST_PG_PASSWORD"),
        var("TEST_PG_DATABASE"),
    ) {
        (Some(port), Some(user), Some(password), Some(db)) => Some((port, user, password, db)),
        _ => {
            assert!(
                var("CONNECTOR_HUB_REQUIRE_PG").is_none(),
                "CONNECTOR_HUB_REQUIRE_PG is set but no TEST_PG_* server was given"
            );
            eprintln!("SKIPPED postgres checks: no TEST_PG_PORT (run through `make test`, which starts PostgreSQL)");
            None
        }
    }
}

#[tokio::test]
async fn postgresql_against_a_real_server() {
    let Some((port, user, password, db)) = postgres() else {
        return;
    };
    let app = spawn_app_with(&[("CONNECTOR_HUB_EGRESS_ALLOW", "127.0.0.0/8")]).await;
    let t = app.token("acme", "ana");
    let config = |password: &str, db: &str, port: &str, sslmode: &str| {
        json!({
        "host": "127.0.0.1", "port": port, "database": db, "username": user, "password": password, "sslmode": sslmode})
    };

    let ok = app
        .check(&t, "postgresql", config(&password, &db, &port, "disable"))
        .await;
    assert_outcome(&ok, None, None, "good");
    assert!(
        ok["details"]["server_version"]
            .as_str()
            .is_some_and(|v| v.starts_with(char::is_numeric)),
        "{ok}"
    );
    // `prefer` fell back to plaintext when TLS was declined (by the server, or by someone in
    // between): it is no longer offered, and the default is `require`.
    assert_outcome(
        &app.check(&t, "postgresql", config(&password, &db, &port, "prefer"))
            .await,
        Some("INVALID_CONFIG"),
        Some("sslmode"),
        "prefer is gone",
    );
    let mut defaulted = config(&password, &db, &port, "");
    defaulted.as_object_mut().map(|c| c.remove("sslmode"));
    assert_outcome(
        &app.check(&t, "postgresql", defaulted).await,
        Some("TLS_ERROR"),
        Some("sslmode"),
        "the default never falls back to plaintext on a server without TLS",
    );
    assert_outcome(
        &app.check(
            &t,
            "postgresql",
            config("wrong-password", &db, &port, "disable"),
        )
        .await,
        Some("INVALID_CREDENTIALS"),
        Some("password"),
        "wrong password",
    );
    assert_outcome(
        &app.check(
            &t,
            "postgresql",
            config(&password, "no_such_db", &port, "disable"),
        )
        .await,
        Some("NOT_FOUND"),
        Some("database"),
        "missing database",
    );
    assert_outcome(
        &app.check(&t, "postgresql", config(&password, &db, &port, "require"))
            .await,
        Some("TLS_ERROR"),
        Some("sslmode"),
        "require without TLS",
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
        .to_string();
    assert_outcome(
        &app.check(&t, "postgresql", config(&password, &db, &closed, "disable"))
            .await,
        Some("HOST_UNREACHABLE"),
        Some("host"),
        "closed port",
    );
    app.stop().await;

    let strict = spawn_app().await;
    let t = strict.token("acme", "ana");
    assert_outcome(
        &strict
            .check(&t, "postgresql", config(&password, &db, &port, "disable"))
            .await,
        Some("EGRESS_BLOCKED"),
        Some("host"),
        "loopback database blocked by default",
    );
    strict.stop().await;
}

/// sslmode disable sends the password in the clear: refused for any database not on this
/// machine, before a connection is opened.
#[tokio::test]
async fn postgresql_never_sends_a_password_unencrypted_across_a_network() {
    let app = spawn_app_with(&[("CONNECTOR_HUB_EGRESS_ALLOW", "192.0.2.0/24")]).await;
    let t = app.token("acme", "ana");
    let result = app
        .check(
            &t,
            "postgresql",
            json!({"host": "192.0.2.10", "port": "5432", "database": "db",
            "username": "u", "password": "pw-CANARYpg", "sslmode": "disable"}),
        )
        .await;
    assert_outcome(
        &result,
        Some("INVALID_CONFIG"),
        Some("sslmode"),
        "disable over a network",
    );
    assert!(!result.to_string().contains("CANARYpg"));
    app.stop().await;
}
