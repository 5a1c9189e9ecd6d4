//! `/v1/audit`: the tenant's audit log, newest first, filtered and paged.

use super::{ApiResult, ErrorBody};
use crate::api::extract::{Authenticated, QueryParams};
use crate::api::state::AppState;
use crate::model::{AuditAction, AuditOutcome};
use crate::service::audit_query;
use crate::store::AuditRecord;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub(crate) struct AuditLogPage {
    /// Each with its link in the tenant's hash chain (`prev_hash`, `hash`).
    pub(crate) entries: Vec<AuditRecord>,
    /// Pass as `before` for older entries; absent at the start of the log.
    pub(crate) next_before: Option<i64>,
}

/// A page of the audit log. Each page scans at most 5,000 entries, so a filter that matches
/// little still answers quickly, with `next_before` to go on.
#[utoipa::path(get, path = "/v1/audit", tag = "audit",
    params(
        ("connector_id" = Option<String>, Query, description = "Only this connector's entries"),
        ("action" = Option<AuditAction>, Query, description = "Only this action"),
        ("outcome" = Option<AuditOutcome>, Query, description = "Only this outcome"),
        ("before" = Option<i64>, Query, description = "`next_before` of the previous page"),
        ("limit" = Option<i64>, Query, description = "Page size, 1–200 (default 50)"),
    ),
    responses(
        (status = 200, description = "A page of entries", body = AuditLogPage),
        (status = 400, description = "An unknown action or outcome, a connector_id that is not a connector id, or a bad number", body = ErrorBody),
    ))]
pub(crate) async fn audit(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    q: QueryParams,
) -> ApiResult<Json<AuditLogPage>> {
    let limit: i64 = q.parse("limit", "limit must be a number.")?.unwrap_or(50);
    let query = audit_query(
        q.get("connector_id"),
        q.get("action"),
        q.get("outcome"),
        q.parse("before", "before must be a number.")?,
        usize::try_from(limit.clamp(1, 200)).unwrap_or(50),
    )?;
    let (entries, next_before) = state.hub.gate.audit_log(&caller, &query).await?;
    Ok(Json(AuditLogPage {
        entries,
        next_before,
    }))
}
