//! Sage Business Cloud Accounting: `GET /v3.1/businesses` (also the business picker).

use super::*;

pub async fn check(ctx: &Ctx<'_>) -> Outcome {
    let reply = ctx
        .bearer_get("sage", "/v3.1/businesses", "access_token")
        .await?;
    if reply.status == 401 && lower_text(&reply).contains("expired") {
        return Err(Failure::new(
            ErrorCode::ExpiredCredentials,
            "This Sage access token has expired (they last five minutes).",
        )
        .field("access_token"));
    }
    let body = success_json(&reply, "Sage", "access_token")?;
    let businesses = match &body {
        serde_json::Value::Array(items) => items.clone(),
        serde_json::Value::Object(map) => match map.get("$items") {
            Some(serde_json::Value::Array(items)) => items.clone(),
            _ => return Err(unexpected("Sage")),
        },
        _ => return Err(unexpected("Sage")),
    };
    let names: Vec<String> = businesses
        .iter()
        .filter_map(|b| str_at(b, "/name"))
        .collect();
    if names.is_empty() {
        return Err(Failure::new(
            ErrorCode::InsufficientPermissions,
            "This token works but reaches no Sage business.",
        )
        .field("access_token"));
    }
    Ok(details([("businesses", Some(names.join(", ")))]))
}
