//! Xero: `GET /connections` lists the organisations the token reaches (it also feeds the
//! organisation picker).

use super::*;
use crate::error::Error;
use crate::outbound::answers::*;
use crate::secret::ACCESS_TOKEN;

pub(super) async fn check(ctx: &Ctx<'_>) -> Outcome {
    let reply = ctx.bearer_get("xero", "/connections", ACCESS_TOKEN).await?;
    if reply.status == 401 {
        let expired = lower_text(&reply).contains("tokenexpired")
            || reply
                .header("www-authenticate")
                .is_some_and(|h| h.to_lowercase().contains("expired"));
        return Err(if expired {
            Error::new(
                ErrorCode::ExpiredCredentials,
                "This Xero access token has expired (they last 30 minutes).",
            )
            .with_field(ACCESS_TOKEN)
        } else {
            Error::new(
                ErrorCode::InvalidCredentials,
                "Xero did not accept this access token.",
            )
            .with_field(ACCESS_TOKEN)
        });
    }
    let body = success_json(&reply, "Xero", ACCESS_TOKEN)?;
    let serde_json::Value::Array(connections) = body else {
        return Err(unexpected("Xero"));
    };
    let organisations: Vec<String> = connections
        .iter()
        .filter(|c| str_at(c, "/tenantType").as_deref() == Some("ORGANISATION"))
        .filter_map(|c| str_at(c, "/tenantName"))
        .collect();
    if organisations.is_empty() {
        return Err(Error::new(
            ErrorCode::InsufficientPermissions,
            "This token works but reaches no Xero organisation. Connect an organisation when you authorise.",
        )
        .with_field(ACCESS_TOKEN));
    }
    // Signed in through the wizard: the chosen organisation must still be reachable.
    if let Some(chosen) = ctx.config.get("tenant_id") {
        let Some(found) = connections
            .iter()
            .find(|c| str_at(c, "/tenantId").as_deref() == Some(chosen))
        else {
            return Err(Error::new(
                ErrorCode::InsufficientPermissions,
                "This sign-in no longer reaches the Xero organisation chosen for this connection (it was disconnected in Xero). Reconnect and choose it again.",
            ));
        };
        return Ok(details([
            ("organisation", str_at(found, "/tenantName")),
            ("organisation_count", Some(organisations.len().to_string())),
        ]));
    }
    Ok(details([
        ("organisations", Some(organisations.join(", "))),
        ("organisation_count", Some(organisations.len().to_string())),
    ]))
}
