//! WooCommerce: GET /wp-json/wc/v3/products

use super::*;

pub async fn products(headers: HeaderMap) -> Response {
    use base64::Engine;
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    let (key, secret) = basic.split_once(':').unwrap_or(("", ""));
    let s = scenario(secret);
    if let Some(r) = common(s).await {
        return r;
    }
    if !key.contains("good") {
        return json_status(
            401,
            json!({"code": "woocommerce_rest_authentication_error", "message": "Consumer key is invalid.", "data": {"status": 401}}),
        );
    }
    match s {
        Scenario::Good => json_status(200, json!([{"id": 1, "name": "Mug"}])),
        Scenario::NoPermission => json_status(
            401,
            json!({"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources.", "data": {"status": 401}}),
        ),
        _ => json_status(
            401,
            json!({"code": "woocommerce_rest_authentication_error", "message": "Consumer secret is invalid.", "data": {"status": 401}}),
        ),
    }
}
