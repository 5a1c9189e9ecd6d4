//! Unit tests of the SQLite store's plumbing.

use super::*;

/// A cached statement runs again without being compiled again, however often its
/// parameters are bound (see `stable_plans`).
#[test]
fn cached_statements_are_not_prepared_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("connector-hub.db");
    let _writer = open_writer(&path).expect("writer");
    let reader = open_reader(&path, false).expect("reader");
    // The first page of a listing, as `list` runs it: status and cursor bound as NULL.
    let sql = list_sql(false, false);
    for _ in 0..3 {
        let mut stmt = reader.prepare_cached(sql).expect("prepare");
        let none: Option<String> = None;
        let mut rows = stmt
            .query(params!["acme", none, none, none, 100_i64])
            .expect("query");
        while rows.next().expect("row").is_some() {}
    }
    let stmt = reader.prepare_cached(sql).expect("prepare");
    assert_eq!(stmt.get_status(rusqlite::StatementStatus::RePrepare), 0);
}
