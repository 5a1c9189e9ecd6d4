//! HubSpot: `GET /crm/v3/objects/contacts?limit=1`.

use super::*;
use crate::error::Error;
use crate::secret::ACCESS_TOKEN;

pub async fn check(ctx: &Ctx<'_>) -> Outcome {
    let reply = ctx
        .bearer_get("hubspot", "/crm/v3/objects/contacts?limit=1", ACCESS_TOKEN)
        .await?;
    if !(200..300).contains(&reply.status) {
        let category = reply
            .json()
            .and_then(|b| str_at(&b, "/category"))
            .unwrap_or_default();
        return Err(match category.as_str() {
            "EXPIRED_AUTHENTICATION" => Error::new(
                ErrorCode::ExpiredCredentials,
                "This HubSpot access token has expired.",
            )
            .with_field(ACCESS_TOKEN),
            "INVALID_AUTHENTICATION" => Error::new(
                ErrorCode::InvalidCredentials,
                "HubSpot did not accept this token.",
            )
            .with_field(ACCESS_TOKEN),
            "MISSING_SCOPES" => Error::new(
                ErrorCode::InsufficientPermissions,
                "This token lacks the crm.objects.contacts.read scope.",
            )
            .with_field(ACCESS_TOKEN),
            _ => status_failure(&reply, "HubSpot", ACCESS_TOKEN),
        });
    }
    let body = reply.json().ok_or_else(|| unexpected("HubSpot"))?;
    if !body.get("results").is_some_and(|r| r.is_array()) {
        return Err(unexpected("HubSpot"));
    }
    Ok(details([(
        "portal",
        reply.header("x-hubspot-portal-id").map(str::to_owned),
    )]))
}
