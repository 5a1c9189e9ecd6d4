//! QuickBooks: GET /v3/company/{realm}/companyinfo/{realm}

use super::*;

pub async fn company_info(
    Path((realm, realm2)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let token = bearer(&headers).unwrap_or_default();
    let s = scenario(&token);
    if let Some(r) = common(s).await {
        return r;
    }
    let fault = |status: u16, code: &str, message: &str, detail: &str, kind: &str| {
        json_status(
            status,
            json!({"fault": {"error": [{"message": message, "detail": detail, "code": code}], "type": kind}, "time": "2026-11-24T04:00:00.000-08:00"}),
        )
    };
    match s {
        Scenario::Good if realm == realm2 && realm.starts_with("9130") => json_status(
            200,
            json!({
                "CompanyInfo": {"CompanyName": "Acme Books Inc", "Country": "US", "Id": "1"}, "time": "2026-11-24T04:00:00.000-08:00"
            }),
        ),
        Scenario::Good => fault(
            403,
            "3100",
            "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
            "",
            "AUTHORIZATION",
        ),
        Scenario::Expired => fault(
            401,
            "3200",
            "message=AuthenticationFailed; errorCode=003200; statusCode=401",
            "Token expired: eyJ…",
            "AUTHENTICATION",
        ),
        Scenario::NoPermission => fault(
            403,
            "3100",
            "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
            "",
            "AUTHORIZATION",
        ),
        _ => fault(
            401,
            "3200",
            "message=AuthenticationFailed; errorCode=003200; statusCode=401",
            "",
            "AUTHENTICATION",
        ),
    }
}
