//! The API reference page (`GET /api`): every operation of the OpenAPI document with its
//! parameters and answers, and a form to try it as the signed-in user (`api::try_it`). Written on
//! the server as plain HTML — it needs no script, and adds nothing to the browser bundle.

use super::html::escape;
use super::state::AppState;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::Value;
use std::fmt::Write;
use std::sync::OnceLock;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/api", get(page))
}

struct Parameter {
    name: String,
    /// `path` or `query`.
    location: String,
    required: bool,
    description: String,
}

struct Operation {
    /// One method, or several (`GET | PUT | …`) where they share one description (the proxy).
    method: String,
    path: String,
    tag: String,
    summary: String,
    description: String,
    parameters: Vec<Parameter>,
    /// A JSON body to start from, for operations that take one.
    request_example: Option<String>,
    /// (status, what it means): `200`, or a range (`2XX`) or `default` for a provider's answer.
    responses: Vec<(String, String)>,
}

/// The page, written once: it only changes with the document, which only changes with the code.
static PAGE: OnceLock<String> = OnceLock::new();

async fn page() -> Response {
    Html(PAGE.get_or_init(render).as_str()).into_response()
}

fn render() -> String {
    let document: Value = serde_json::from_slice(&super::rest::document_json()).unwrap_or_default();
    let mut sections = String::new();
    for op in operations(&document) {
        let _ = write!(sections, "{}", section(&op));
    }
    format!(
        r#"<!DOCTYPE html>
<html lang="en" class="h-full"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>API · Connector Hub</title><link rel="stylesheet" href="/pkg/connector-hub.css"><link rel="icon" type="image/svg+xml" href="/favicon.svg"></head>
<body class="h-full bg-slate-50 text-slate-900 antialiased">
<header class="border-b border-slate-200 bg-white"><div class="mx-auto flex max-w-6xl items-center gap-6 px-4 py-3 sm:px-6">
<a href="/" class="flex items-center gap-2 text-lg font-semibold"><img src="/favicon.svg" alt="" class="h-7 w-7">Connector Hub</a>
<nav aria-label="Main" class="flex gap-1 text-sm font-medium"><a class="rounded-md px-3 py-2 text-slate-700 hover:bg-slate-100" href="/">Marketplace</a><a class="rounded-md px-3 py-2 text-slate-700 hover:bg-slate-100" href="/sources">Connected sources</a><a class="rounded-md px-3 py-2 text-slate-700 hover:bg-slate-100" href="/webhooks">Webhooks</a><a class="rounded-md px-3 py-2 text-slate-700 hover:bg-slate-100" href="/audit">Audit log</a><a class="rounded-md bg-indigo-50 px-3 py-2 text-indigo-800" href="/api" aria-current="page">API</a></nav>
</div></header>
<main id="main" class="mx-auto w-full max-w-6xl px-4 pb-16 pt-6 sm:px-6">
<h1 class="text-2xl font-semibold tracking-tight sm:text-3xl">REST API</h1>
<p class="mt-1 max-w-3xl text-slate-600">Everything the pages do, your backend can do with a tenant JWT as a bearer token. The <a class="underline" href="/v1/openapi.json">OpenAPI 3.1 document</a> describes it for generators and tools; calls tried here run as you, with your session, and their answers open in a new tab. The proxy and the providers' webhook addresses are listed too: they pass calls through, so they are not tried from here.</p>
<div class="mt-6 flex flex-col gap-4">{sections}</div>
</main></body></html>"#
    )
}

fn method_colour(method: &str) -> &'static str {
    match method {
        "GET" => "bg-sky-100 text-sky-900",
        "POST" => "bg-emerald-100 text-emerald-900",
        "PATCH" => "bg-amber-100 text-amber-900",
        several if several.contains('|') => "bg-slate-100 text-slate-900",
        _ => "bg-red-100 text-red-900",
    }
}

/// One operation: what it does, its parameters and answers, and its "Try it" form.
fn section(op: &Operation) -> String {
    let (method, path) = (escape(&op.method), escape(&op.path));
    let mut out = format!(
        r#"<section class="rounded-xl border border-slate-200 bg-white p-4 shadow-sm" data-testid="api-operation" data-tag="{tag}">
<h2 class="flex flex-wrap items-baseline gap-2 font-mono text-sm"><span class="rounded px-2 py-0.5 font-semibold {colour}">{method}</span><span class="font-semibold text-slate-900">{path}</span></h2>
<p class="mt-2 text-slate-800">{summary}</p>"#,
        tag = escape(&op.tag),
        colour = method_colour(&op.method),
        summary = escape(&op.summary),
    );
    if !op.description.is_empty() {
        let _ = write!(
            out,
            r#"<p class="mt-1 text-sm text-slate-600">{}</p>"#,
            escape(&op.description)
        );
    }
    if !op.parameters.is_empty() {
        out.push_str(
            r#"<dl class="mt-3 grid gap-x-4 gap-y-1 text-sm sm:grid-cols-[max-content_1fr]">"#,
        );
        for p in &op.parameters {
            let _ = write!(
                out,
                r#"<dt class="font-mono text-slate-900">{}<span class="ml-1 text-xs text-slate-500">({}{})</span></dt><dd class="text-slate-600">{}</dd>"#,
                escape(&p.name),
                escape(&p.location),
                if p.required { ", required" } else { "" },
                escape(&p.description)
            );
        }
        out.push_str("</dl>");
    }
    out.push_str(r#"<p class="mt-3 text-sm text-slate-600">"#);
    for (status, what) in &op.responses {
        let _ = write!(
            out,
            r#"<span class="mr-3 inline-block"><span class="font-mono font-medium text-slate-900">{}</span> {}</span>"#,
            escape(status),
            escape(what)
        );
    }
    out.push_str("</p>");
    let ours = op.path.starts_with("/v1/");
    if op.method == "GET" && ours && !op.path.contains('{') {
        let _ = write!(
            out,
            r#"<a class="mt-2 inline-block text-sm text-indigo-700 underline" href="{path}">Open the answer</a>"#
        );
    }
    if !ours {
        out.push_str("</section>");
        return out;
    }
    let _ = write!(
        out,
        r#"<details class="mt-3"><summary class="cursor-pointer text-sm font-medium text-indigo-700">Try it</summary>
<form method="post" action="/api/try" target="_blank" class="mt-3 flex flex-col gap-2">
<input type="hidden" name="method" value="{method}">
<label class="flex flex-col gap-1 text-sm font-medium text-slate-700">Path<input name="path" class="input font-mono" value="{path}"></label>"#
    );
    if let Some(example) = &op.request_example {
        let _ = write!(
            out,
            r#"<label class="flex flex-col gap-1 text-sm font-medium text-slate-700">JSON body<textarea name="body" rows="6" class="input font-mono text-xs">{}</textarea></label>"#,
            escape(example)
        );
    }
    out.push_str(r#"<div><button type="submit" class="btn-primary">Send</button></div></form></details></section>"#);
    out
}

fn operations(doc: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    let Some(paths) = doc["paths"].as_object() else {
        return out;
    };
    for (path, item) in paths {
        for method in [
            "get", "put", "post", "patch", "delete", "head", "options", "trace",
        ] {
            let op = &item[method];
            if op.is_null() {
                continue;
            }
            let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            let parameters = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| Parameter {
                    name: text(&p["name"]),
                    location: text(&p["in"]),
                    required: p["required"].as_bool().unwrap_or(false),
                    description: text(&p["description"]),
                })
                .collect();
            let body_schema = &op["requestBody"]["content"]["application/json"]["schema"];
            let request_example = (!body_schema.is_null()).then(|| {
                serde_json::to_string_pretty(&example(doc, body_schema, 0)).unwrap_or_default()
            });
            // Statuses are three characters (`200`, `2XX`), so they sort as text, `default` last.
            let mut responses: Vec<(String, String)> = op["responses"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(status, r)| (status.clone(), text(&r["description"])))
                .collect();
            responses.sort();
            let summary = text(&op["summary"]);
            if let Some(same) = out
                .last_mut()
                .filter(|o: &&mut Operation| o.path == *path && o.summary == summary)
            {
                let _ = write!(same.method, " | {}", method.to_uppercase());
                continue;
            }
            out.push(Operation {
                method: method.to_uppercase(),
                path: path.clone(),
                tag: op["tags"][0].as_str().unwrap_or("api").to_owned(),
                summary,
                description: text(&op["description"]),
                parameters,
                request_example,
                responses,
            });
        }
    }
    // The `/v1` API first, then what passes through (the proxy, the providers' webhooks).
    out.sort_by_key(|op| !op.path.starts_with("/v1/"));
    out
}

/// A value of `schema`'s shape to start editing from.
fn example(doc: &Value, schema: &Value, depth: usize) -> Value {
    if depth > 6 {
        return Value::Null;
    }
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return example(doc, &doc["components"]["schemas"][name], depth + 1);
    }
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(first) = schema[key]
            .as_array()
            .and_then(|o| o.iter().find(|s| s["type"] != "null"))
        {
            return example(doc, first, depth + 1);
        }
    }
    let kind = match &schema["type"] {
        Value::Array(types) => types.iter().find(|t| *t != "null").cloned(),
        other => Some(other.clone()),
    };
    match kind.as_ref().and_then(Value::as_str) {
        Some("object") => Value::Object(
            schema["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(name, s)| (name.clone(), example(doc, s, depth + 1)))
                .collect(),
        ),
        Some("array") => Value::Array(Vec::new()),
        Some("integer" | "number") => Value::from(0),
        Some("boolean") => Value::Bool(false),
        Some("string") => Value::String(String::new()),
        _ => Value::Null,
    }
}
