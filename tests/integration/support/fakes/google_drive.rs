//! Google Drive: GET /drive/v3/about?fields=user

use super::*;

pub async fn about(Query(q): Query<HashMap<String, String>>, headers: HeaderMap) -> Response {
    if !q.contains_key("fields") {
        return json_status(
            400,
            json!({"error": {"code": 400, "message": "The 'fields' parameter is required for this method.", "status": "INVALID_ARGUMENT"}}),
        );
    }
    let token = bearer(&headers).unwrap_or_default();
    let s = scenario(&token);
    if let Some(r) = common(s).await {
        return r;
    }
    match s {
        Scenario::Good => json_status(
            200,
            json!({"user": {"kind": "drive#user", "displayName": "Ana Acme", "emailAddress": "ana@acme.test"}}),
        ),
        Scenario::NoPermission => json_status(
            403,
            json!({"error": {"code": 403, "message": "Request had insufficient authentication scopes.", "status": "PERMISSION_DENIED",
            "errors": [{"reason": "insufficientPermissions"}]}}),
        ),
        _ => json_status(
            401,
            json!({"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}}),
        ),
    }
}
