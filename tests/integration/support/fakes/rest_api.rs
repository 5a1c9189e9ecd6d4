//! A generic REST API: GET /rest/...

use super::*;

pub async fn any_path(Query(q): Query<HashMap<String, String>>, request: Request) -> Response {
    let headers = request.headers();
    let path = request.uri().path().to_owned();
    if path.ends_with("/set-cookie") {
        return (
            [
                ("set-cookie", "session=provider"),
                ("www-authenticate", "Basic realm=\"api\""),
                ("x-fake", "kept"),
            ],
            Json(json!({"ok": true})),
        )
            .into_response();
    }
    // An API that hands back what it was sent: a redirect carrying the query on (as a trailing
    // slash redirect does), an echo of the query and headers, and a compressed answer.
    let raw_query = request.uri().query().unwrap_or_default().to_owned();
    if path.ends_with("/moved") {
        return (
            StatusCode::MOVED_PERMANENTLY,
            [
                ("location", format!("/rest/items/?{raw_query}")),
                (
                    "link",
                    format!("</rest/items/?{raw_query}>; rel=\"canonical\""),
                ),
                ("x-echo-query", raw_query.clone()),
            ],
        )
            .into_response();
    }
    if path.ends_with("/echo") {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        return (
            [
                ("x-echo-authorization", header("authorization")),
                ("x-echo-key", header("x-api-key")),
            ],
            Json(json!({
                "query": raw_query,
                "decoded": q,
                "authorization": header("authorization"),
                "x_api_key": header("x-api-key"),
            })),
        )
            .into_response();
    }
    if path.ends_with("/gzip") {
        return (
            [
                ("content-encoding", "gzip"),
                ("content-type", "application/json"),
            ],
            format!("{{\"query\":\"{raw_query}\"}}"),
        )
            .into_response();
    }
    if path.ends_with("/missing") {
        return json_status(404, json!({"error": "not found"}));
    }
    let presented = [
        headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        q.get("api_key").cloned(),
        bearer(headers),
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.starts_with("Basic "))
            .map(str::to_owned),
    ];
    let open = path.contains("/open");
    let credential = presented.into_iter().flatten().next();
    let s = match (&credential, open) {
        (_, true) => Scenario::Good,
        (Some(c), false) if c.starts_with("Basic ") => {
            use base64::Engine;
            let decoded = c
                .strip_prefix("Basic ")
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_default();
            scenario(&decoded)
        }
        (Some(c), false) => scenario(c),
        (None, false) => Scenario::Invalid,
    };
    if let Some(r) = common(s).await {
        return r;
    }
    match s {
        Scenario::Good => json_status(200, json!({"ok": true})),
        Scenario::NoPermission => json_status(403, json!({"error": "forbidden"})),
        _ => json_status(401, json!({"error": "unauthorized"})),
    }
}
