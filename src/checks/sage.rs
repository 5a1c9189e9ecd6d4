//! Sage Business Cloud Accounting: `GET /v3.1/businesses` (also the business picker).

use super::*;
use crate::error::Error;
use crate::outbound::answers::*;
use crate::secret::ACCESS_TOKEN;

pub(super) async fn check(ctx: &Ctx<'_>) -> Outcome {
    let reply = ctx
        .bearer_get("sage", "/v3.1/businesses", ACCESS_TOKEN)
        .await?;
    if reply.status == 401 && lower_text(&reply).contains("expired") {
        return Err(Error::new(
            ErrorCode::ExpiredCredentials,
            "This Sage access token has expired (they last five minutes).",
        )
        .with_field(ACCESS_TOKEN));
    }
    let body = success_json(&reply, "Sage", ACCESS_TOKEN)?;
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
        return Err(Error::new(
            ErrorCode::InsufficientPermissions,
            "This token works but reaches no Sage business.",
        )
        .with_field(ACCESS_TOKEN));
    }
    Ok(details([("businesses", Some(names.join(", ")))]))
}
