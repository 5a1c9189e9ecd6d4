//! Google Drive: `GET /drive/v3/about?fields=user` (`fields` is required by the API).

use super::*;
use crate::error::Error;
use crate::outbound::answers::*;
use crate::secret::ACCESS_TOKEN;

pub(super) async fn check(ctx: &Ctx<'_>) -> Outcome {
    let reply = ctx
        .bearer_get("google_drive", "/drive/v3/about?fields=user", ACCESS_TOKEN)
        .await?;
    if reply.status == 401 {
        return Err(Error::new(
            ErrorCode::InvalidCredentials,
            "Google did not accept this access token. Google access tokens expire after one hour.",
        )
        .with_field(ACCESS_TOKEN));
    }
    if reply.status == 403 {
        let text = lower_text(&reply);
        if text.contains("ratelimitexceeded") || text.contains("userratelimitexceeded") {
            return Err(Error {
                retry_after: reply.retry_after(),
                ..Error::new(
                    ErrorCode::RateLimited,
                    "Google Drive is limiting requests right now.",
                )
            });
        }
        return Err(Error::new(
            ErrorCode::InsufficientPermissions,
            "This token was not granted Google Drive access. Authorise again with the drive.readonly scope.",
        )
        .with_field(ACCESS_TOKEN));
    }
    let body = success_json(&reply, "Google Drive", ACCESS_TOKEN)?;
    let user = body.get("user").ok_or_else(|| unexpected("Google Drive"))?;
    Ok(details([
        ("account", str_at(user, "/emailAddress")),
        ("name", str_at(user, "/displayName")),
    ]))
}
