//! Stripe: `GET /v1/balance` with the secret or restricted key as a bearer token.

use super::*;
use crate::error::Error;
use crate::outbound::answers::*;

pub(super) async fn check(ctx: &Ctx<'_>) -> Outcome {
    let key = ctx.field("api_key")?;
    if !(key.starts_with("sk_") || key.starts_with("rk_")) {
        return Err(Error::invalid_config(
            "api_key",
            "This is not a secret key: Stripe secret keys start with sk_ and restricted keys with rk_ (pk_ keys are publishable and cannot read data).",
        ));
    }
    let mode = if key.contains("_live_") {
        "live"
    } else {
        "test"
    };
    let reply = ctx.bearer_get("stripe", "/v1/balance", "api_key").await?;
    if reply.status == 401 && lower_text(&reply).contains("expired api key") {
        return Err(Error::new(
            ErrorCode::ExpiredCredentials,
            "This Stripe key has expired. Roll a new key in the Dashboard.",
        )
        .with_field("api_key"));
    }
    if reply.status == 403 {
        return Err(Error::new(
            ErrorCode::InsufficientPermissions,
            "This restricted key cannot read your balance. Give it read access to Balance in the Dashboard.",
        )
        .with_field("api_key"));
    }
    let body = success_json(&reply, "Stripe", "api_key")?;
    if str_at(&body, "/object").as_deref() != Some("balance") {
        return Err(unexpected("Stripe"));
    }
    let livemode =
        body.get("livemode")
            .and_then(|v| v.as_bool())
            .map(|live| if live { "live" } else { "test" });
    Ok(details([
        ("mode", Some(livemode.unwrap_or(mode).to_owned())),
        (
            "key_type",
            Some(
                if key.starts_with("rk_") {
                    "restricted"
                } else {
                    "secret"
                }
                .to_owned(),
            ),
        ),
    ]))
}
