//! HubSpot: GET /crm/v3/objects/contacts?limit=1

use super::*;

pub async fn contacts(headers: HeaderMap) -> Response {
    let token = bearer(&headers).unwrap_or_default();
    let s = scenario(&token);
    if let Some(r) = common(s).await {
        return r;
    }
    let error = |status: u16, category: &str| {
        json_status(
            status,
            json!({"status": "error", "message": "Authentication credentials not found.", "correlationId": "c0ffee", "category": category}),
        )
    };
    match s {
        Scenario::Good => (
            [("x-hubspot-portal-id", "4242")],
            Json(json!({"results": [{"id": "1", "properties": {}}], "paging": null})),
        )
            .into_response(),
        Scenario::Expired => error(401, "EXPIRED_AUTHENTICATION"),
        Scenario::NoPermission => error(403, "MISSING_SCOPES"),
        _ => error(401, "INVALID_AUTHENTICATION"),
    }
}
