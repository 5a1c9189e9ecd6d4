//! Unit tests of the stream reader's pieces: search bodies, ids as objects, next links.

use super::*;
use reqwest::header::{HeaderMap, HeaderValue};

#[test]
fn search_bodies_are_filled_in_place_and_ids_become_objects() {
    let mut body = serde_json::json!({"limit": "{page_size}", "query": {"filter": {"updated_at": {"start_at": "{since}"}}},
        "sorts": [{"propertyName": "p", "value": "{since} is not a whole placeholder"}]});
    fill_search(&mut body, "2026-11-29T08:00:00Z", 100);
    assert_eq!(body["limit"], 100);
    assert_eq!(
        body["query"]["filter"]["updated_at"]["start_at"],
        "2026-11-29T08:00:00Z"
    );
    assert_eq!(
        body["sorts"][0]["value"],
        "{since} is not a whole placeholder"
    );
    assert_eq!(
        value_at("/id", "f1".into()),
        serde_json::json!({"id": "f1"})
    );
    assert_eq!(
        value_at("/meta/a~1b", "f1".into()),
        serde_json::json!({"meta": {"a/b": "f1"}})
    );
}

#[test]
fn link_headers_are_read_as_rfc_8288_says() {
    let mut headers = HeaderMap::new();
    headers.insert(
        "link",
        HeaderValue::from_static("<https://s.example/a?page_info=p1>; rel=\"previous\", <https://s.example/a?page_info=p3&limit=2>; rel=\"next\""),
    );
    let reply = Reply {
        status: 200,
        headers,
        body: Vec::new(),
        truncated: false,
    };
    let request = Url::parse("https://s.example/a").expect("url");
    assert_eq!(
        next_link(&reply, &request)
            .map(|u| u.to_string())
            .as_deref(),
        Some("https://s.example/a?page_info=p3&limit=2")
    );
    let mut relative = HeaderMap::new();
    relative.insert(
        "link",
        HeaderValue::from_static("</items?page=2>; rel=next"),
    );
    let reply = Reply {
        status: 200,
        headers: relative,
        body: Vec::new(),
        truncated: false,
    };
    assert_eq!(
        next_link(&reply, &request)
            .map(|u| u.to_string())
            .as_deref(),
        Some("https://s.example/items?page=2")
    );
}
