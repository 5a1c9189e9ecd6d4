//! PostgreSQL as a source, against the real server the test command starts: discovery, the table
//! choice with a cursor column, incremental reads by `updated_at`, deletions by full read, and the
//! JSON each row becomes (numeric as text, timestamps in RFC 3339, bytea as base64).

use crate::support::spawn_app_with;
use crate::sync::{records_since, sync};
use serde_json::{json, Value};

#[tokio::test]
async fn postgresql_tables_sync_incrementally_and_notice_deletions() {
    let Some((port, user, password, db)) = crate::checks_postgres::postgres() else {
        return;
    };
    let (client, connection) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user={user} password={password} dbname={db}"),
        tokio_postgres::NoTls,
    )
    .await
    .expect("connect");
    tokio::spawn(connection);
    let schema = format!("sync_{}", connector_hub::random::random_hex(4));
    client
        .batch_execute(&format!(
            "CREATE SCHEMA {schema};
             CREATE TABLE {schema}.orders (id serial PRIMARY KEY, customer text NOT NULL, total numeric(12,2) NOT NULL,
                 paid boolean NOT NULL DEFAULT false, details jsonb, raw bytea, updated_at timestamptz NOT NULL DEFAULT now() - interval '1 day');
             INSERT INTO {schema}.orders (customer, total, details, raw, updated_at)
                 SELECT 'customer ' || n, n + 0.25, jsonb_build_object('n', n), '\\x0102'::bytea, now() - interval '1 day' + n * interval '1 second'
                 FROM generate_series(1, 2500) AS n;
             CREATE TABLE {schema}.notes (id int PRIMARY KEY, body text);
             INSERT INTO {schema}.notes SELECT n, 'note ' || n FROM generate_series(1, 30) AS n;
             CREATE VIEW {schema}.order_totals AS SELECT customer, total FROM {schema}.orders;"
        ))
        .await
        .expect("tables");
    let app = spawn_app_with(crate::sync::SYNC_ENV).await;
    let t = app.token("acme", "ana");
    let config = json!({"host": "127.0.0.1", "port": port, "database": db, "username": user, "password": password, "sslmode": "disable"});
    let orders = format!("{schema}.orders");
    let notes = format!("{schema}.notes");

    // Discovery and a preview before saving: the tables found, the first rows, typed columns.
    let r = app
        .post(
            "/v1/connectors/preview",
            &t,
            &json!({"connector_type": "postgresql", "config": config, "stream": orders}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    let preview: Value = r.json().await.expect("json");
    let streams: Vec<&str> = preview["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for table in [&orders, &notes, &format!("{schema}.order_totals")] {
        assert!(
            streams.contains(&table.as_str()),
            "{table} found: {streams:?}"
        );
    }
    assert_eq!(preview["records"].as_array().map(Vec::len), Some(10));
    assert_eq!(preview["has_more"], true);
    let types: std::collections::BTreeMap<String, String> = preview["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default().to_owned(),
                c["type"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(types["id"], "integer");
    assert_eq!(
        types["total"], "string",
        "numeric keeps its precision as text"
    );
    assert_eq!(types["updated_at"], "timestamp");
    assert_eq!(types["paid"], "boolean");
    assert_eq!(types["details"], "object");
    let row = &preview["records"][0];
    assert_eq!(row["total"], "1.25");
    assert_eq!(row["raw"], "AQI=", "bytea as base64");
    assert!(
        row["updated_at"]
            .as_str()
            .is_some_and(|t| t.ends_with("+00:00")),
        "{row}"
    );

    // The table choice: orders by updated_at, notes by full read.
    let mut saved = config.clone();
    saved["tables"] = json!(format!("{orders}:updated_at, {notes}"));
    let id = app
        .create(
            &t,
            json!({"connector_type": "postgresql", "config": saved, "sync_frequency": "manual"}),
        )
        .await;
    let run = sync(&app, &t, &id, json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["streams"][orders.as_str()]["added"], 2500, "{run}");
    assert_eq!(run["streams"][notes.as_str()]["added"], 30, "{run}");
    let (all, cursor) = records_since(&app, &t, &id, &orders, None).await;
    assert_eq!(all.len(), 2500);

    // Changes: three orders updated, one added, two deleted; two notes deleted.
    client
        .batch_execute(&format!(
            "UPDATE {schema}.orders SET paid = true, updated_at = now() WHERE id IN (5, 1500, 2500);
             INSERT INTO {schema}.orders (customer, total, updated_at) VALUES ('new', 9.99, now());
             DELETE FROM {schema}.orders WHERE id IN (7, 8);
             DELETE FROM {schema}.notes WHERE id IN (1, 2);"
        ))
        .await
        .expect("changes");
    let run = sync(&app, &t, &id, json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(
        run["streams"][orders.as_str()],
        json!({"added": 1, "updated": 3, "deleted": 0}),
        "incremental by updated_at: {run}"
    );
    assert_eq!(
        run["streams"][notes.as_str()],
        json!({"added": 0, "updated": 0, "deleted": 2}),
        "full read: {run}"
    );
    let (changes, _) = records_since(&app, &t, &id, &orders, Some(&cursor)).await;
    assert_eq!(changes.len(), 4, "{changes:?}");
    assert!(
        changes
            .iter()
            .filter(|r| r["id"] != "2501")
            .all(|r| r["data"]["paid"] == true),
        "{changes:?}"
    );

    // A full refresh finds the deleted orders gone.
    let run = sync(
        &app,
        &t,
        &id,
        json!({"full_refresh": true, "streams": [orders]}),
    )
    .await;
    assert_eq!(
        run["streams"][orders.as_str()],
        json!({"added": 0, "updated": 0, "deleted": 2}),
        "{run}"
    );

    // A table without a primary key cannot be chosen.
    let r = app
        .patch(
            &format!("/v1/connectors/{id}"),
            &t,
            &json!({"config": {"host": "127.0.0.1", "port": port, "database": db,
            "username": user, "sslmode": "disable", "tables": format!("{schema}.order_totals")}}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    let run = sync(&app, &t, &id, json!({})).await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["error_code"], "INVALID_CONFIG", "{run}");
    assert!(
        run["error_message"]
            .as_str()
            .is_some_and(|m| m.contains("primary key")),
        "{run}"
    );
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .expect("drop");
}
