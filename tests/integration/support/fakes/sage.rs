//! Sage: GET /v3.1/businesses

use super::*;

pub async fn businesses(headers: HeaderMap) -> Response {
    let token = bearer(&headers).unwrap_or_default();
    let s = scenario(&token);
    if let Some(r) = common(s).await {
        return r;
    }
    match s {
        Scenario::Good => json_status(
            200,
            json!([{"id": "b1", "name": "Acme Trading Ltd", "displayed_as": "Acme Trading Ltd"}]),
        ),
        Scenario::Empty => json_status(200, json!([])),
        Scenario::Expired => json_status(
            401,
            json!([{"$severity": "error", "$dataCode": "ExpiredToken", "$message": "The access token has expired"}]),
        ),
        Scenario::NoPermission => json_status(
            403,
            json!([{"$severity": "error", "$dataCode": "Forbidden", "$message": "Not allowed"}]),
        ),
        _ => json_status(
            401,
            json!([{"$severity": "error", "$dataCode": "InvalidToken", "$message": "Invalid token"}]),
        ),
    }
}
