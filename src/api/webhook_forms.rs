//! The Webhooks page's forms, plain POSTs so they work without JavaScript: add an endpoint, turn
//! one on or off, rotate its secret, delete it, replay a delivery. Adding and rotating answer with
//! a page that shows the new signing secret this once (never in an address, never cached); the
//! others go back to the page, with the outcome in its query string.

use super::extract::{body_error, form_fields, Authenticated};
use super::html::escape;
use super::state::AppState;
use crate::model::webhooks::EndpointView;
use crate::service::EndpointChanges;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::Router;
use http::{header, HeaderValue};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks/endpoints", post(add))
        .route("/webhooks/endpoints/{id}/{action}", post(act))
        .route(
            "/webhooks/endpoints/{id}/deliveries/{delivery_id}/replay",
            post(replay),
        )
        .route("/sources/{id}/webhook-secret", post(save_signing_secret))
        .route("/sources/{id}/webhook-channel", post(register_channel))
}

/// The data page's form: the signing secret the provider shows for the connector's webhook
/// address, saved like any secret (sealed, never shown back).
async fn save_signing_secret(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    form: Result<Bytes, BytesRejection>,
) -> Response {
    let form = match form {
        Ok(form) => form_fields(&form),
        Err(rejection) => return body_error(rejection).into_response(),
    };
    // An id is letters, digits and dashes; anything else names no connector (and no page).
    let Some(id) = crate::ids::ConnectorId::parse(&id) else {
        return Redirect::to("/sources").into_response();
    };
    let page = format!("/sources/{}/data", id.as_str());
    let secret = form
        .iter()
        .find(|(k, _)| k == "webhook_secret")
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty());
    let Some(secret) = secret else {
        return Redirect::to(&format!("{page}?webhook_error=EMPTY")).into_response();
    };
    let changes = crate::service::ConnectorChanges {
        config: Some(std::collections::BTreeMap::from([(
            "webhook_secret".to_owned(),
            secret,
        )])),
        ..Default::default()
    };
    match state.hub.connectors.update(&caller, &id, changes).await {
        Ok(_) => Redirect::to(&format!("{page}?saved=webhook_secret")).into_response(),
        Err(e) => {
            Redirect::to(&format!("{page}?webhook_error={}", e.code.as_str())).into_response()
        }
    }
}

async fn add(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    form: Result<Bytes, BytesRejection>,
) -> Response {
    let form = match form {
        Ok(form) => form_fields(&form),
        Err(rejection) => return body_error(rejection).into_response(),
    };
    let url = form
        .iter()
        .find(|(k, _)| k == "url")
        .map(|(_, v)| v.clone());
    let events: Vec<String> = form
        .iter()
        .filter(|(k, v)| k == "events" && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect();
    let changes = EndpointChanges {
        url,
        events: Some(events),
        enabled: Some(true),
    };
    match state.hub.events.create_endpoint(&caller, changes).await {
        Ok(view) => secret_page(&view, "Endpoint added"),
        Err(e) => back(&format!("error={}", e.code.as_str())),
    }
}

async fn act(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let events = &state.hub.events;
    let outcome = match action.as_str() {
        "rotate" => {
            return match events.rotate_endpoint_secret(&caller, &id).await {
                Ok(view) => secret_page(&view, "Secret rotated"),
                Err(e) => back(&format!("error={}", e.code.as_str())),
            }
        }
        "enable" | "disable" => {
            let changes = EndpointChanges {
                enabled: Some(action == "enable"),
                ..EndpointChanges::default()
            };
            events
                .change_endpoint(&caller, &id, changes)
                .await
                .map(|_| ())
        }
        "delete" => events.delete_endpoint(&caller, &id).await,
        _ => return back("error=NOT_FOUND"),
    };
    match outcome {
        Ok(()) => back(&format!("done={action}")),
        Err(e) => back(&format!("error={}", e.code.as_str())),
    }
}

async fn replay(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Response {
    match state
        .hub
        .events
        .replay_delivery(&caller, &id, &delivery_id)
        .await
    {
        Ok(()) => back("done=replay"),
        Err(e) => back(&format!("error={}", e.code.as_str())),
    }
}

fn back(query: &str) -> Response {
    Redirect::to(&format!("/webhooks?{query}")).into_response()
}

/// The one time a signing secret is shown: a page of its own, not stored by the browser.
fn secret_page(view: &EndpointView, title: &str) -> Response {
    let secret = view.secret.as_deref().unwrap_or_default();
    let main = format!(
        r#"<main class="mx-auto max-w-3xl p-6" data-testid="endpoint-secret">
<h1 class="text-2xl font-semibold">{title}</h1>
<p class="mt-2 text-slate-700">Events to <span class="font-mono">{url}</span> are signed with this secret. Copy it now: Connector Hub will not show it again.</p>
<p class="mt-4"><code class="block break-all rounded-lg bg-slate-900 p-4 font-mono text-sm text-slate-100" data-testid="secret">{secret}</code></p>
<p class="mt-4 text-sm text-slate-600">Verify each event with your Standard Webhooks library (for example <code>new Webhook(secret).verify(body, headers)</code>): it checks <code>webhook-signature</code> over <code>webhook-id</code>, <code>webhook-timestamp</code> and the raw body.</p>
<p class="mt-6"><a class="btn-primary inline-flex" href="/webhooks">Back to webhooks</a></p>
</main>"#,
        title = escape(title),
        url = escape(&view.url),
        secret = escape(secret),
    );
    let mut response = Html(super::html::page(title, &main)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The data page's "Register with the provider" button (a push channel, for Google Drive).
async fn register_channel(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Response {
    let Some(id) = crate::ids::ConnectorId::parse(&id) else {
        return Redirect::to("/sources").into_response();
    };
    let page = format!("/sources/{}/data", id.as_str());
    match state
        .hub
        .provider_webhooks
        .register_webhook_channel(&caller, &id)
        .await
    {
        Ok(_) => Redirect::to(&format!("{page}?saved=webhook_channel")).into_response(),
        Err(e) => {
            Redirect::to(&format!("{page}?webhook_error={}", e.code.as_str())).into_response()
        }
    }
}
