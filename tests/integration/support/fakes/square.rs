//! Square: GET /v2/locations

use super::*;

pub async fn locations(headers: HeaderMap) -> Response {
    if headers.get("square-version").is_none() {
        return json_status(
            400,
            json!({"errors": [{"category": "INVALID_REQUEST_ERROR", "code": "BAD_REQUEST"}]}),
        );
    }
    let token = bearer(&headers).unwrap_or_default();
    let s = scenario(&token);
    if let Some(r) = common(s).await {
        return r;
    }
    let error = |status: u16, category: &str, code: &str| {
        json_status(
            status,
            json!({"errors": [{"category": category, "code": code, "detail": "This request could not be authorized."}]}),
        )
    };
    match s {
        Scenario::Good => json_status(
            200,
            json!({"locations": [{"id": "L1", "name": "High Street", "business_name": "Acme Coffee", "status": "ACTIVE", "merchant_id": "M1"}]}),
        ),
        Scenario::Expired => error(401, "AUTHENTICATION_ERROR", "ACCESS_TOKEN_EXPIRED"),
        Scenario::NoPermission => error(403, "AUTHENTICATION_ERROR", "INSUFFICIENT_SCOPES"),
        _ => error(401, "AUTHENTICATION_ERROR", "UNAUTHORIZED"),
    }
}
