//! HubSpot: GET /crm/v3/objects/contacts?limit=1, GET /account-info/v3/details

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
        Scenario::Good => Json(json!({"results": [{"id": "1", "properties": {}}], "paging": null}))
            .into_response(),
        Scenario::Expired => error(401, "EXPIRED_AUTHENTICATION"),
        Scenario::NoPermission => error(403, "MISSING_SCOPES"),
        _ => error(401, "INVALID_AUTHENTICATION"),
    }
}

/// The account behind a good token: `hubspot-good-token` is portal 4242, and
/// `hubspot-good-portal-N` is portal N (so tests can hold several accounts).
pub async fn account_details(headers: HeaderMap) -> Response {
    let token = bearer(&headers).unwrap_or_default();
    if scenario(&token) != Scenario::Good {
        return json_status(
            401,
            json!({"status": "error", "message": "Authentication credentials not found.", "category": "INVALID_AUTHENTICATION"}),
        );
    }
    let portal: u64 = token
        .strip_prefix("hubspot-good-portal-")
        .and_then(|n| n.parse().ok())
        .unwrap_or(4242);
    Json(json!({"portalId": portal, "accountType": "STANDARD", "timeZone": "US/Eastern",
        "companyCurrency": "USD", "additionalCurrencies": [], "utcOffset": "-05:00",
        "utcOffsetMilliseconds": -18000000, "uiDomain": "app.hubspot.com", "dataHostingLocation": "na1"}))
    .into_response()
}
