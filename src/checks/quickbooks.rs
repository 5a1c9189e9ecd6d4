//! QuickBooks Online: `GET /v3/company/{realmId}/companyinfo/{realmId}`.

use super::*;
use crate::error::Error;
use crate::outbound::answers::*;
use crate::secret::ACCESS_TOKEN;

pub(super) async fn check(ctx: &Ctx<'_>) -> Outcome {
    let realm = ctx.field("realm_id")?;
    if !realm.chars().all(|c| c.is_ascii_digit()) {
        return Err(Error::invalid_config(
            "realm_id",
            "The Realm ID is a number.",
        ));
    }
    let reply = ctx
        .bearer_get(
            "quickbooks",
            &format!("/v3/company/{realm}/companyinfo/{realm}"),
            ACCESS_TOKEN,
        )
        .await?;
    if !(200..300).contains(&reply.status) {
        let body = reply.json().unwrap_or_default();
        let code = str_at(&body, "/fault/error/0/code")
            .or_else(|| str_at(&body, "/Fault/Error/0/code"))
            .unwrap_or_default();
        let text = lower_text(&reply);
        return Err(match (reply.status, code.as_str()) {
            (401, _) | (_, "3200") if text.contains("expired") => {
                Error::new(ErrorCode::ExpiredCredentials, "This QuickBooks access token has expired (they last one hour).")
                    .with_field(ACCESS_TOKEN)
            }
            (401, _) | (_, "3200") => {
                Error::new(ErrorCode::InvalidCredentials, "QuickBooks did not accept this access token.").with_field(ACCESS_TOKEN)
            }
            (403, _) | (_, "3100") => Error::new(
                ErrorCode::InsufficientPermissions,
                "This token is not authorised for that company. Check the Realm ID, or authorise the company again.",
            )
            .with_field("realm_id"),
            (404, _) => Error::new(ErrorCode::NotFound, "QuickBooks has no company with this Realm ID.").with_field("realm_id"),
            _ => status_failure(&reply, "QuickBooks", ACCESS_TOKEN),
        });
    }
    let body = reply.json().ok_or_else(|| unexpected("QuickBooks"))?;
    let name = str_at(&body, "/CompanyInfo/CompanyName").ok_or_else(|| unexpected("QuickBooks"))?;
    Ok(details([
        ("company", Some(name)),
        ("country", str_at(&body, "/CompanyInfo/Country")),
    ]))
}
