//! The REST API connector's one stream, `records`, described by its own configuration: where the
//! list is, where the records are in each answer, how it pages, and how it is asked for changes.

use crate::catalog::{Incremental, Paging, StreamDef, TimeFormat};
use crate::secret::SecretConfig;
use std::collections::BTreeMap;

pub(super) const STREAM: &str = "records";
/// Page size assumed for numbered pages: a shorter page is the last.
const PAGE_SIZE: u32 = 100;

pub(super) fn stream(config: &SecretConfig) -> StreamDef {
    let get = |name: &str| config.get(name).filter(|v| !v.is_empty());
    let path = get("records_path")
        .or_else(|| get("test_path"))
        .unwrap_or("/")
        .to_owned();
    let (mut path, query_text) = match path.split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned()),
        None => (path, String::new()),
    };
    if path.is_empty() {
        path.push('/');
    }
    let mut query: BTreeMap<String, String> =
        reqwest::Url::parse(&format!("http://x/?{query_text}"))
            .map(|u| {
                u.query_pairs()
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
    let paging = match get("paging").unwrap_or("none") {
        "link_header" => Paging::LinkHeader,
        "page" => {
            query.insert(
                get("paging_param").unwrap_or("page").to_owned(),
                "{page}".into(),
            );
            Paging::Numbered
        }
        "cursor" => Paging::Cursor {
            param: get("paging_param").unwrap_or("cursor").to_owned(),
            from: get("next_cursor_pointer")
                .unwrap_or("/next_cursor")
                .to_owned(),
        },
        _ => Paging::None,
    };
    let updated = get("updated_field").map(str::to_owned);
    let incremental = match (get("since_param"), &updated) {
        (Some(param), Some(_)) => Some(Incremental {
            param: Some(param.to_owned()),
            header: None,
            clause: None,
            search: None,
            events: None,
            feed: None,
            format: TimeFormat::Rfc3339,
            overlap_seconds: 0,
        }),
        _ => None,
    };
    StreamDef {
        name: STREAM.into(),
        path,
        query,
        records: get("records_pointer").unwrap_or_default().to_owned(),
        id: "/id".into(),
        updated,
        deleted_flag: None,
        page_size: PAGE_SIZE,
        paging,
        incremental,
        // A tenant's own API: its key's permissions are its own business.
        scopes: Vec::new(),
    }
}
