//! The OpenAPI document (`/v1/openapi.json`) is the contract: every route the README lists for a
//! tenant's backend or its providers to call (`/v1`, the proxy, the providers' webhooks) is in it
//! and nothing else, every reference in it resolves, and real answers of the running server match
//! the schemas it gives. `openapi_tools` reads it with independent tools.

use crate::support::spawn_app_with;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// What the document's path items may hold, and so what `ANY` (the proxy) means there.
const METHODS: [&str; 8] = [
    "get", "put", "post", "patch", "delete", "head", "options", "trace",
];

/// `(METHOD, path)` pairs named in the README's REST table for `/v1`, the proxy and the
/// providers' webhooks, query strings dropped; `ANY` is every method.
fn readme_routes() -> BTreeSet<(String, String)> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let mut routes = BTreeSet::new();
    for line in readme.lines().filter(|l| l.starts_with("| `")) {
        let Some(cell) = line.split('`').nth(1) else {
            continue;
        };
        let Some((method, path)) = cell.split_once(' ') else {
            continue;
        };
        let path = path.split('?').next().unwrap_or_default();
        if !["/v1/", "/proxy/", "/webhooks/"]
            .iter()
            .any(|p| path.starts_with(p))
        {
            continue;
        }
        if method == "ANY" {
            for method in METHODS {
                routes.insert((method.to_uppercase(), path.to_owned()));
            }
        } else {
            routes.insert((method.to_owned(), path.to_owned()));
        }
    }
    routes
}

fn document_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

/// Checks `value` against `schema` (the subset of JSON Schema the generator writes): types,
/// required and known properties, items, enums, `$ref`, `oneOf`/`anyOf`/`allOf`. A property the
/// schema does not describe is a mismatch too: the document must say everything that is sent.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return check(doc, &doc["components"]["schemas"][name], value, at);
    }
    if let Some(all) = schema["allOf"].as_array() {
        for s in all {
            check(doc, s, value, at)?;
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema[key].as_array() {
            let matching = options
                .iter()
                .filter(|s| check(doc, s, value, at).is_ok())
                .count();
            if matching == 0 || (key == "oneOf" && matching > 1) {
                return Err(format!("{at}: {value} matches {matching} of {key}"));
            }
        }
    }
    if let Some(options) = schema["enum"].as_array() {
        if !options.contains(value) {
            return Err(format!("{at}: {value} is not one of {options:?}"));
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() {
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let fits = types.contains(&actual) || (actual == "integer" && types.contains(&"number"));
        if !fits {
            return Err(format!("{at}: {actual} where the schema says {types:?}"));
        }
    }
    if let Value::Object(fields) = value {
        let properties = schema["properties"].as_object();
        for required in schema["required"].as_array().into_iter().flatten() {
            let name = required.as_str().unwrap_or_default();
            if !fields.contains_key(name) {
                return Err(format!("{at}: required {name} is missing"));
            }
        }
        for (name, field) in fields {
            let place = format!("{at}.{name}");
            match (
                properties.and_then(|p| p.get(name)),
                &schema["additionalProperties"],
            ) {
                (Some(s), _) => check(doc, s, field, &place)?,
                (None, Value::Object(_)) => {
                    check(doc, &schema["additionalProperties"], field, &place)?
                }
                (None, _) if properties.is_some() => {
                    return Err(format!("{place} is sent but not documented"))
                }
                (None, _) => {}
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            check(doc, item_schema, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

/// Every `$ref` in `value` that names nothing in `doc` (JSON pointers, `~1` and `~0` escaped).
fn dangling_refs(doc: &Value, value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields {
                match (key.as_str(), field.as_str()) {
                    ("$ref", Some(reference)) => {
                        let pointer = reference
                            .strip_prefix('#')
                            .map(|p| p.replace("~1", "/").replace("~0", "~"));
                        if pointer.and_then(|p| doc.pointer(&p)).is_none() {
                            out.insert(reference.to_owned());
                        }
                    }
                    _ => dangling_refs(doc, field, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| dangling_refs(doc, v, out)),
        _ => {}
    }
}

/// The schema the document gives for `method path` answering `status` with JSON.
fn response_schema<'a>(doc: &'a Value, method: &str, path: &str, status: u16) -> &'a Value {
    let schema = &doc["paths"][path][method]["responses"][status.to_string()]["content"]
        ["application/json"]["schema"];
    assert!(
        !schema.is_null(),
        "{method} {path} documents no {status} JSON answer"
    );
    schema
}

#[tokio::test]
async fn the_document_lists_every_route_and_matches_real_answers() {
    // The proxy's calls reach the fake providers on this machine.
    let app = spawn_app_with(crate::proxy::ENV).await;
    let response = app
        .http
        .get(app.url("/v1/openapi.json"))
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.expect("json");
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );

    // The README's table and the document name the same routes.
    let documented = document_routes(&doc);
    let listed = readme_routes();
    assert!(listed.len() >= 10, "{listed:?}");
    assert_eq!(
        documented,
        listed,
        "routes in the document but not the README: {:?}; in the README but not the document: {:?}",
        documented.difference(&listed).collect::<Vec<_>>(),
        listed.difference(&documented).collect::<Vec<_>>()
    );

    // Every reference resolves (the audit log's filters once named schemas nobody defined),
    // and every operation has an id of its own.
    let mut dangling = BTreeSet::new();
    dangling_refs(&doc, &doc, &mut dangling);
    assert!(dangling.is_empty(), "references to nothing: {dangling:?}");
    let mut broken = doc.clone();
    broken["paths"]["/v1/audit"]["get"]["parameters"][0]["schema"] =
        json!({"$ref": "#/components/schemas/Nothing"});
    dangling_refs(&broken, &broken, &mut dangling);
    assert_eq!(dangling.len(), 1, "the check itself finds one");
    let mut operation_ids = BTreeSet::new();
    for (method, path) in &documented {
        let id = doc["paths"][path][method.to_lowercase()]["operationId"]
            .as_str()
            .unwrap_or_default();
        assert!(!id.is_empty(), "{method} {path} has no operation id");
        assert!(
            operation_ids.insert(id.to_owned()),
            "{method} {path}: operation id {id:?} twice"
        );
    }

    // Real answers, checked against their documented schemas.
    let token = app.token("acme", "ana@acme.test");
    let conform = |method: &str, path: &str, status: u16, body: &Value| {
        check(
            &doc,
            response_schema(&doc, method, path, status),
            body,
            &format!("{method} {path}"),
        )
        .unwrap_or_else(|e| panic!("{e}\nbody: {body}"));
    };
    let catalog: Value = app
        .get("/v1/catalog", &token)
        .await
        .json()
        .await
        .expect("json");
    conform("get", "/v1/catalog", 200, &catalog);

    let created = app
        .post(
            "/v1/connectors",
            &token,
            &json!({"connector_type": "stripe", "display_name": "Payments", "config": {"api_key": "sk_test_good_4242"}}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.expect("json");
    conform("post", "/v1/connectors", 201, &created);
    let id = created["connector_id"].as_str().expect("id").to_owned();

    let tested: Value = app
        .post(&format!("/v1/connectors/{id}/test"), &token, &json!({}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(tested["success"], true, "{tested}");
    conform("post", "/v1/connectors/{id}/test", 200, &tested);

    let failed: Value = app
        .post(
            "/v1/connectors/test",
            &token,
            &json!({"connector_type": "stripe", "config": {"api_key": "sk_test_ratelimit_0000"}}),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(failed["success"], false, "{failed}");
    conform("post", "/v1/connectors/test", 200, &failed);

    // Data flows: a preview, a sync, its run, the streams and a records page.
    app.data.seed("stripe/customers", 12);
    let preview: Value = app
        .get(&format!("/v1/connectors/{id}/preview"), &token)
        .await
        .json()
        .await
        .expect("json");
    conform("get", "/v1/connectors/{id}/preview", 200, &preview);
    let queued = app
        .post(&format!("/v1/connectors/{id}/sync"), &token, &json!({}))
        .await;
    assert_eq!(queued.status(), 202);
    let queued: Value = queued.json().await.expect("json");
    conform("post", "/v1/connectors/{id}/sync", 202, &queued);
    let run_id = queued["run_id"].as_str().expect("run id").to_owned();
    let again = app
        .post(&format!("/v1/connectors/{id}/sync"), &token, &json!({}))
        .await;
    if again.status() == 409 {
        let again: Value = again.json().await.expect("json");
        conform("post", "/v1/connectors/{id}/sync", 409, &again);
    }
    let run = crate::sync::wait_run(&app, &token, &id, &run_id).await;
    conform("get", "/v1/connectors/{id}/syncs/{run_id}", 200, &run);
    for (path, template) in [
        (
            format!("/v1/connectors/{id}/syncs"),
            "/v1/connectors/{id}/syncs",
        ),
        (
            format!("/v1/connectors/{id}/streams"),
            "/v1/connectors/{id}/streams",
        ),
        (
            format!("/v1/connectors/{id}/records?stream=customers&limit=5"),
            "/v1/connectors/{id}/records",
        ),
    ] {
        let answer: Value = app.get(&path, &token).await.json().await.expect("json");
        conform("get", template, 200, &answer);
    }

    let read: Value = app
        .get(&format!("/v1/connectors/{id}"), &token)
        .await
        .json()
        .await
        .expect("json");
    conform("get", "/v1/connectors/{id}", 200, &read);
    let listed: Value = app
        .get("/v1/connectors?limit=1", &token)
        .await
        .json()
        .await
        .expect("json");
    conform("get", "/v1/connectors", 200, &listed);
    let audit: Value = app
        .get("/v1/audit", &token)
        .await
        .json()
        .await
        .expect("json");
    assert!(
        audit["entries"].as_array().is_some_and(|e| !e.is_empty()),
        "{audit}"
    );
    conform("get", "/v1/audit", 200, &audit);

    // Errors have the documented shape too.
    let missing = app
        .get("/v1/connectors/conn-00000000000000000000", &token)
        .await;
    assert_eq!(missing.status(), 404);
    conform(
        "get",
        "/v1/connectors/{id}",
        404,
        &missing.json().await.expect("json"),
    );
    let bad_limit = app.get("/v1/connectors?limit=many", &token).await;
    assert_eq!(bad_limit.status(), 400);
    conform(
        "get",
        "/v1/connectors",
        400,
        &bad_limit.json().await.expect("json"),
    );
    let invalid = app
        .post(
            "/v1/connectors",
            &token,
            &json!({"connector_type": "stripe", "config": {"api_key": "nope"}}),
        )
        .await;
    assert_eq!(invalid.status(), 422);
    conform(
        "post",
        "/v1/connectors",
        422,
        &invalid.json().await.expect("json"),
    );

    // The pass-through routes answer in the documented error shape, for every method the
    // document names: the proxy without a hub token, webhook addresses that name nothing.
    let proxy = "/proxy/{connector_id}/{path}";
    for method in METHODS {
        assert!(!doc["paths"][proxy][method].is_null(), "{method} {proxy}");
        let refused = app
            .http
            .request(
                method.to_uppercase().parse().expect("method"),
                app.url(&format!("/proxy/{id}/v1/customers")),
            )
            .send()
            .await
            .expect("proxy call");
        assert_eq!(refused.status(), 401, "{method}");
        if method != "head" {
            conform(method, proxy, 401, &refused.json().await.expect("json"));
        }
    }
    let missing = app
        .get("/proxy/conn-00000000000000000000/v1/customers", &token)
        .await;
    assert_eq!(missing.status(), 404);
    conform("get", proxy, 404, &missing.json().await.expect("json"));
    // With a token, the provider's own answer, as its API gives it.
    let proxied = app
        .get(&format!("/proxy/{id}/v1/customers?limit=1"), &token)
        .await;
    assert_eq!(proxied.status(), 200);
    let proxied: Value = proxied.json().await.expect("json");
    assert_eq!(proxied["object"], "list", "{proxied}");
    let provider_answer =
        &doc["paths"][proxy]["get"]["responses"]["2XX"]["content"]["application/json"]["schema"];
    assert_eq!(
        *provider_answer,
        json!({}),
        "the 2xx body is the provider's, any JSON"
    );
    for (path, template, status) in [
        ("/webhooks/not-a-hook", "/webhooks/{token}", 404),
        (
            "/webhooks/app/stripe",
            "/webhooks/app/{connector_type}",
            404,
        ),
        ("/webhooks/app/xero", "/webhooks/app/{connector_type}", 401),
    ] {
        let answer = app
            .http
            .post(app.url(path))
            .json(&json!({"events": []}))
            .send()
            .await
            .expect("webhook");
        assert_eq!(answer.status(), status, "{path}");
        conform(
            "post",
            template,
            status,
            &answer.json().await.expect("json"),
        );
    }

    // The API page's tried calls: signed in only, this API's own paths only.
    let tried = |token: Option<&str>, path: &str| {
        let mut request = app.http.post(app.url("/api/try")).form(&[
            ("method", "GET"),
            ("path", path),
            ("body", ""),
        ]);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    assert_eq!(
        tried(None, "/v1/connectors").await.expect("try").status(),
        401
    );
    for elsewhere in ["/metrics", "http://169.254.169.254/", "/v1/../metrics"] {
        let refused = tried(Some(&token), elsewhere).await.expect("try");
        if elsewhere.starts_with("/v1/") {
            // Inside the REST router, a path outside /v1 matches nothing.
            let page = refused.text().await.expect("page");
            assert!(
                page.contains("Answered <span class=\"font-mono\">404"),
                "{page}"
            );
        } else {
            assert_eq!(refused.status(), 400, "{elsewhere}");
        }
    }

    // The checker itself finds a shape that differs from the document.
    let wrong = json!({"connector_id": 7});
    assert!(check(
        &doc,
        response_schema(&doc, "get", "/v1/connectors/{id}", 200),
        &wrong,
        "x"
    )
    .is_err());
    let extra = {
        let mut body = read.clone();
        body["credential"] = json!("sk_live_x");
        body
    };
    assert!(check(
        &doc,
        response_schema(&doc, "get", "/v1/connectors/{id}", 200),
        &extra,
        "x"
    )
    .is_err());
}
