//! Shopify: GET /{shop}/admin/api/{version}/shop.json

use super::*;

pub async fn shop(Path((shop, _version)): Path<(String, String)>, headers: HeaderMap) -> Response {
    if !shop.starts_with("acme") {
        return json_status(404, json!({"errors": "Not Found"}));
    }
    let token = headers
        .get("x-shopify-access-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let s = scenario(token);
    if let Some(r) = common(s).await {
        return r;
    }
    match s {
        Scenario::Good => json_status(
            200,
            json!({"shop": {"id": 1, "name": "Acme Goods", "myshopify_domain": shop, "plan_name": "basic"}}),
        ),
        Scenario::NoPermission => json_status(
            403,
            json!({"errors": "[API] This action requires merchant approval for read_products scope."}),
        ),
        _ => json_status(
            401,
            json!({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}),
        ),
    }
}
