//! HubSpot: `GET /crm/v3/objects/contacts?limit=1`, then `GET /account-info/v3/details` for the
//! account (portal) the token belongs to, which the app's webhooks name as `portalId`.

use super::*;
use crate::error::Error;
use crate::outbound::answers::*;
use crate::secret::ACCESS_TOKEN;

pub(super) async fn check(ctx: &Ctx<'_>) -> Outcome {
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
    Ok(details([("portal_id", portal_id(ctx).await)]))
}

/// The account's id, or `None` when HubSpot will not say (the check still passed: reading
/// contacts is what it is about; webhooks wait until a later check learns the account).
async fn portal_id(ctx: &Ctx<'_>) -> Option<String> {
    let reply = ctx
        .bearer_get("hubspot", "/account-info/v3/details", ACCESS_TOKEN)
        .await
        .ok()?;
    if !(200..300).contains(&reply.status) {
        return None;
    }
    let body = reply.json()?;
    let id = body.get("portalId")?.as_u64()?;
    Some(id.to_string())
}
