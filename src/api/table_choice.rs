//! `POST /sources/{id}/tables`: the PostgreSQL table choice from the data page. One `table` field
//! per table found, each a select whose value is empty (not synced), `schema.table` (every row,
//! each sync) or `schema.table:column` (changes by that column): a plain form, so it works without
//! JavaScript, answered with a redirect back to the page.

use super::extract::{body_error, form_fields, Authenticated};
use super::state::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::Router;
use std::collections::BTreeMap;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/sources/{id}/tables", post(choose_tables))
}

async fn choose_tables(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    form: Result<Bytes, BytesRejection>,
) -> Response {
    let form = match form {
        Ok(form) => form,
        Err(rejection) => return body_error(rejection).into_response(),
    };
    let chosen: Vec<String> = form_fields(&form)
        .into_iter()
        .filter(|(k, v)| k == "table" && !v.trim().is_empty())
        .map(|(_, v)| v.trim().to_owned())
        .collect();
    let Some(id) = crate::ids::ConnectorId::parse(&id) else {
        return Redirect::to("/sources").into_response();
    };
    let page = format!("/sources/{id}/data");
    // Choosing nothing would mean "every table": refuse it rather than guess.
    if chosen.is_empty() {
        return Redirect::to(&format!("{page}?tables_error=EMPTY")).into_response();
    }
    let settings = BTreeMap::from([("tables".to_owned(), chosen.join(", "))]);
    match state
        .hub
        .syncs
        .change_data_settings(&caller, &id, &settings)
        .await
    {
        Ok(_) => Redirect::to(&format!("{page}?saved=tables")).into_response(),
        Err(e) => Redirect::to(&format!("{page}?tables_error={}", e.code.as_str())).into_response(),
    }
}
