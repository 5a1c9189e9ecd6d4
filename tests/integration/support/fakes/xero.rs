//! Xero: GET /connections

use super::*;

pub async fn connections(headers: HeaderMap) -> Response {
    let token = bearer(&headers).unwrap_or_default();
    let s = scenario(&token);
    if let Some(r) = common(s).await {
        return r;
    }
    // A token written `…@<tenantId>,<tenantId>` reaches exactly those organisations, as a real
    // token reaches the ones its user chose at consent.
    if let (Scenario::Good, Some((_, orgs))) = (s, token.split_once('@')) {
        let reached: Vec<Value> = orgs
            .split(',')
            .enumerate()
            .map(|(i, org)| json!({"id": format!("c{i}"), "tenantId": org, "tenantType": "ORGANISATION", "tenantName": format!("Organisation {i}")}))
            .collect();
        return json_status(200, Value::Array(reached));
    }
    match s {
        Scenario::Good => json_status(200, json!([
            {"id": "c1", "tenantId": "t-uk", "tenantType": "ORGANISATION", "tenantName": "Demo Company (UK)"},
            {"id": "c2", "tenantId": "t-nz", "tenantType": "ORGANISATION", "tenantName": "Acme Ltd"}
        ])),
        Scenario::Empty => json_status(200, json!([])),
        Scenario::Expired => (
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", "Bearer error=\"invalid_token\", error_description=\"The token expired\"")],
            Json(json!({"Type": null, "Title": "Unauthorized", "Status": 401, "Detail": "TokenExpired: token expired at 11/24/2026 04:00:00"})),
        ).into_response(),
        Scenario::NoPermission => json_status(403, json!({"Type": null, "Title": "Forbidden", "Status": 403, "Detail": "AuthenticationUnsuccessful"})),
        _ => json_status(401, json!({"Type": null, "Title": "Unauthorized", "Status": 401, "Detail": "AuthenticationUnsuccessful"})),
    }
}
