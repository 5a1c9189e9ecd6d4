//! Square: `GET /v2/locations` with a bearer token and a pinned `Square-Version`.

use super::*;
use crate::error::Error;
use crate::outbound::answers::*;
use crate::secret::ACCESS_TOKEN;

const SQUARE_VERSION: &str = "2025-07-16";

pub(super) async fn check(ctx: &Ctx<'_>) -> Outcome {
    let provider = match ctx.config.get("environment") {
        Some("sandbox") => "square_sandbox",
        _ => "square",
    };
    let mut probe = Probe::get(
        ctx.provider_url(provider, "/v2/locations")?,
        Destination::Operator,
    );
    probe.bearer = Some(ctx.field(ACCESS_TOKEN)?.to_owned());
    probe
        .headers
        .push(("square-version", SQUARE_VERSION.into()));
    probe.headers.push(("accept", "application/json".into()));
    let reply = ctx.http.send(probe).await?;
    if !(200..300).contains(&reply.status) {
        let code = reply
            .json()
            .and_then(|b| str_at(&b, "/errors/0/code"))
            .unwrap_or_default();
        return Err(match code.as_str() {
            "ACCESS_TOKEN_EXPIRED" => Error::new(ErrorCode::ExpiredCredentials, "This Square access token has expired.")
                .with_field(ACCESS_TOKEN),
            "ACCESS_TOKEN_REVOKED" => Error::new(ErrorCode::InvalidCredentials, "This Square access token was revoked.")
                .with_field(ACCESS_TOKEN),
            "INSUFFICIENT_SCOPES" => Error::new(
                ErrorCode::InsufficientPermissions,
                "This token lacks the MERCHANT_PROFILE_READ permission needed to list locations.",
            )
            .with_field(ACCESS_TOKEN),
            _ if reply.status == 401 => Error::new(
                ErrorCode::InvalidCredentials,
                "Square did not accept this access token. Check that it belongs to the environment you chose.",
            )
            .with_field(ACCESS_TOKEN),
            _ => status_failure(&reply, "Square", ACCESS_TOKEN),
        });
    }
    let body = reply.json().ok_or_else(|| unexpected("Square"))?;
    let locations = match body.get("locations") {
        Some(serde_json::Value::Array(items)) => items.clone(),
        None if body.is_object() => Vec::new(),
        _ => return Err(unexpected("Square")),
    };
    Ok(details([
        // The merchant the token acts for: Square's webhooks name it as `merchant_id`.
        (
            "merchant_id",
            locations.first().and_then(|l| str_at(l, "/merchant_id")),
        ),
        (
            "business",
            locations.first().and_then(|l| str_at(l, "/business_name")),
        ),
        ("locations", Some(locations.len().to_string())),
        (
            "environment",
            Some(
                ctx.config
                    .get("environment")
                    .unwrap_or("production")
                    .to_owned(),
            ),
        ),
    ]))
}
