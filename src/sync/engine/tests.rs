//! The engine's rules, with a scripted run: pages handed out in order, commits recorded.

use super::*;
use crate::catalog::{catalog, StreamDef};
use serde_json::json;
use std::collections::VecDeque;
use std::sync::Mutex;

/// A stored record as the scripted run seals it: its id, whether it is a deletion, its text.
type Sealed = (String, bool, String);

#[derive(Default)]
struct Scripted {
    pages: VecDeque<Page>,
    /// The tokens each read asked for.
    asked: Vec<PageToken>,
    commits: Mutex<Vec<Committed<Sealed>>>,
}

impl Scripted {
    fn new(pages: Vec<Page>) -> Self {
        Self {
            pages: pages.into(),
            ..Self::default()
        }
    }

    fn commits(self) -> Vec<Committed<Sealed>> {
        self.commits.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

impl RunIo for Scripted {
    type Record = Sealed;

    async fn read(&mut self, _stream: &StreamDef, pass: &Pass) -> Result<Page, Stop> {
        self.asked.push(pass.next.clone());
        self.pages
            .pop_front()
            .ok_or_else(|| Stop::Failed(Error::from_code(ErrorCode::Internal)))
    }

    fn seal(&self, _stream: &str, id: String, data: &Value, deleted: bool) -> Sealed {
        (id, deleted, data.to_string())
    }

    fn seal_text(&self, _stream: &str, id: String, text: &str) -> Sealed {
        (id, false, text.to_owned())
    }

    async fn commit(&self, _stream: &str, page: Committed<Sealed>) -> Result<(), Stop> {
        self.commits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(page);
        Ok(())
    }
}

fn stream(updated: Option<&str>, deleted_flag: Option<&str>) -> StreamDef {
    let mut stream = catalog()
        .get("stripe")
        .and_then(|d| d.streams.first())
        .cloned()
        .expect("stripe has streams");
    stream.id = "/id".to_owned();
    stream.updated = updated.map(str::to_owned);
    stream.deleted_flag = deleted_flag.map(str::to_owned);
    stream
}

fn pass(full: bool) -> Pass {
    Pass {
        id: "run-1:items".to_owned(),
        full,
        since: None,
        next: PageToken::Start,
        high_water: None,
        feed: None,
    }
}

fn page(records: Vec<Value>, next: Option<PageToken>) -> Page {
    Page {
        records,
        next,
        deleted: Vec::new(),
        newest: None,
        newest_first: false,
        feed: None,
    }
}

fn ids(commit: &Committed<Sealed>) -> Vec<(&str, bool)> {
    commit
        .records
        .iter()
        .map(|(id, deleted, _)| (id.as_str(), *deleted))
        .collect()
}

#[tokio::test]
async fn the_cursor_is_the_newest_change_seen_and_is_kept_only_when_the_pass_ends() {
    let stream = stream(Some("/updated"), None);
    let mut run = Scripted::new(vec![
        page(
            vec![
                json!({"id": "a", "updated": 300}),
                json!({"id": "b", "updated": 100}),
            ],
            Some(PageToken::Cursor("b".into())),
        ),
        page(vec![json!({"id": "c", "updated": 200})], None),
    ]);
    run_stream(&mut run, &stream, pass(true), "Stripe")
        .await
        .expect("ran");
    assert_eq!(
        run.asked,
        [PageToken::Start, PageToken::Cursor("b".into())],
        "each page is asked for where the last one pointed"
    );
    let commits = run.commits();
    assert_eq!(commits.len(), 2);
    let going = Pass::decode(match &commits[0].position {
        Position::Going(encoded) => encoded,
        ended => panic!("the first page ended the pass: {ended:?}"),
    })
    .expect("a pass");
    assert_eq!(going.next, PageToken::Cursor("b".into()));
    assert_eq!(going.high_water, Some(300_000), "seconds are read as such");
    assert_eq!(
        commits[1].position,
        Position::Ended {
            cursor: Some(300_000),
            feed: None,
            full_read: true
        }
    );
    assert!(commits.iter().all(|c| c.pass_id == "run-1:items"));
}

#[tokio::test]
async fn deletions_come_from_the_page_or_from_the_records_own_flag() {
    let flagged = stream(None, Some("/trashed"));
    let mut run = Scripted::new(vec![page(
        vec![
            json!({"id": "kept", "trashed": false}),
            json!({"id": "gone", "trashed": true}),
        ],
        None,
    )]);
    run_stream(&mut run, &flagged, pass(false), "Drive")
        .await
        .expect("ran");
    assert_eq!(ids(&run.commits()[0]), [("kept", false), ("gone", true)]);

    // An event log says it beside each record, whatever the record holds.
    let mut events = page(
        vec![json!({"id": "x", "trashed": true}), json!({"id": "y"})],
        None,
    );
    events.deleted = vec![false, true];
    events.newest = Some(5_000);
    let mut run = Scripted::new(vec![events]);
    run_stream(&mut run, &flagged, pass(false), "Drive")
        .await
        .expect("ran");
    let commits = run.commits();
    assert_eq!(ids(&commits[0]), [("x", false), ("y", true)]);
    assert!(matches!(
        commits[0].position,
        Position::Ended {
            cursor: Some(5_000),
            ..
        }
    ));
}

#[tokio::test]
async fn newest_first_pages_write_each_record_once_in_its_newest_state() {
    let stream = stream(None, None);
    let mut newest_first = page(
        vec![
            json!({"id": "a", "v": 3}),
            json!({"id": "b", "v": 1}),
            json!({"id": "a", "v": 2}),
        ],
        None,
    );
    newest_first.newest_first = true;
    let mut run = Scripted::new(vec![newest_first]);
    run_stream(&mut run, &stream, pass(false), "Square")
        .await
        .expect("ran");
    let commits = run.commits();
    assert_eq!(ids(&commits[0]), [("a", false), ("b", false)]);
    assert!(commits[0].records[0].2.contains("\"v\":3"));
    assert!(commits[0].newest_first);

    // The same records in a page in change order are all written (the store keeps the last).
    let mut run = Scripted::new(vec![page(
        vec![json!({"id": "a", "v": 2}), json!({"id": "a", "v": 3})],
        None,
    )]);
    run_stream(&mut run, &stream, pass(false), "Square")
        .await
        .expect("ran");
    assert_eq!(run.commits()[0].records.len(), 2);
}

#[tokio::test]
async fn a_page_sent_again_stops_the_run_before_it_loops() {
    let stream = stream(None, None);
    let again = PageToken::Cursor("same".into());
    let mut run = Scripted::new(vec![
        page(vec![json!({"id": "a"})], Some(again.clone())),
        page(vec![json!({"id": "b"})], Some(again)),
    ]);
    let stopped = run_stream(&mut run, &stream, pass(false), "Xero").await;
    match stopped {
        Err(Stop::Failed(e)) => {
            assert_eq!(e.code, ErrorCode::UnexpectedResponse);
            assert!(e.message.starts_with("Xero sent the same page again"));
        }
        other => panic!("the run went on: {other:?}"),
    }
    assert_eq!(run.commits().len(), 1, "the repeated page is not written");
}

#[tokio::test]
async fn a_search_at_its_cap_goes_on_as_a_new_search_from_a_later_time() {
    let stream = stream(Some("/updated"), None);
    let mut run = Scripted::new(vec![
        page(
            vec![json!({"id": "a", "updated": 10})],
            Some(PageToken::Restart(10_000)),
        ),
        page(vec![json!({"id": "b", "updated": 20})], None),
    ]);
    run_stream(&mut run, &stream, pass(false), "HubSpot")
        .await
        .expect("ran");
    assert_eq!(run.asked, [PageToken::Start, PageToken::Start]);
    let commits = run.commits();
    let Position::Going(encoded) = &commits[0].position else {
        panic!("the capped search ended the pass");
    };
    let going = Pass::decode(encoded).expect("a pass");
    assert_eq!((going.since, going.next), (Some(10_000), PageToken::Start));
}

#[tokio::test]
async fn a_change_feed_position_given_by_a_page_is_kept_when_the_pass_ends() {
    let stream = stream(None, None);
    let mut first = page(vec![json!({"id": "a"})], Some(PageToken::Feed("p1".into())));
    first.feed = Some("p2".into());
    let mut run = Scripted::new(vec![first, page(Vec::new(), None)]);
    run_stream(&mut run, &stream, pass(true), "Drive")
        .await
        .expect("ran");
    let commits = run.commits();
    assert!(matches!(
        &commits[1].position,
        Position::Ended { feed: Some(feed), full_read: true, .. } if feed == "p2"
    ));
    assert!(commits[1].records.is_empty());
}
