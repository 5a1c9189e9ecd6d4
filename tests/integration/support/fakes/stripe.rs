//! Stripe: GET /v1/balance

use super::*;

pub async fn balance(headers: HeaderMap) -> Response {
    let key = bearer(&headers).unwrap_or_default();
    let masked = format!(
        "{}****{}",
        &key.chars().take(8).collect::<String>(),
        key.chars().rev().take(4).collect::<String>()
    );
    let s = scenario(&key);
    if let Some(r) = common(s).await {
        return r;
    }
    match s {
        Scenario::Good => json_status(
            200,
            json!({
                "object": "balance", "livemode": key.contains("_live_"),
                "available": [{"amount": 0, "currency": "gbp", "source_types": {"card": 0}}],
                "pending": [{"amount": 0, "currency": "gbp", "source_types": {"card": 0}}]
            }),
        ),
        Scenario::Expired => json_status(
            401,
            json!({"error": {"type": "invalid_request_error", "message": format!("Expired API Key provided: {masked}")}}),
        ),
        Scenario::NoPermission => json_status(
            403,
            json!({"error": {"type": "invalid_request_error",
            "message": format!("The provided key '{masked}' does not have the required permissions for this endpoint on account 'acct_1'.")}}),
        ),
        _ => json_status(
            401,
            json!({"error": {"type": "invalid_request_error", "message": format!("Invalid API Key provided: {masked}")}}),
        ),
    }
}
