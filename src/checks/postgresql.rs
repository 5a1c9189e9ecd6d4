//! PostgreSQL: a real connection and `SELECT 1`, with TLS as `sslmode` asks, to an address the
//! egress policy checked (the connection goes to that exact address).

use super::*;
use crate::error::Error;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;

pub(super) async fn check(ctx: &Ctx<'_>) -> Outcome {
    let database = ctx.field("database")?.to_owned();
    let attempt = async {
        let client = connect(ctx).await?;
        client
            .query_one("SELECT 1, current_setting('server_version')", &[])
            .await
            .map_err(|e| classify(&e, ""))
    };
    let row = within_timeout(ctx, attempt).await?;
    let version: Option<String> = row.try_get(1).ok();
    Ok(details([
        ("server_version", version),
        ("database", Some(database)),
    ]))
}

/// `work` cut off at the checks' timeout, as a timeout blaming the host.
pub(crate) async fn within_timeout<T>(
    ctx: &Ctx<'_>,
    work: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    tokio::time::timeout(ctx.settings.timeout, work)
        .await
        .unwrap_or_else(|_| {
            Err(
                Error::new(ErrorCode::Timeout, "The database did not answer in time.")
                    .with_field("host"),
            )
        })
}

/// A connection to the configured database, with TLS as `sslmode` asks, to an address the egress
/// policy checked (the connection goes to that exact address).
pub(crate) async fn connect(ctx: &Ctx<'_>) -> Result<tokio_postgres::Client, Error> {
    let host = ctx.field("host")?.trim_matches(['[', ']']).to_owned();
    let port: u16 = ctx
        .config
        .get("port")
        .unwrap_or("5432")
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| {
            Error::invalid_config("port", "The port must be a number between 1 and 65535.")
        })?;
    let database = ctx.field("database")?;
    let user = ctx.field("username")?;
    let password = ctx.field("password")?;
    // `prefer` (offered before) fell back to plaintext when the server, or someone in between,
    // declined TLS: it is now `require`. The password never travels unencrypted on a network.
    let sslmode = match ctx.config.get("sslmode") {
        None | Some("prefer") => "require",
        Some(mode) => mode,
    };

    let addrs = ctx.http.resolve_checked(&host, port, Some("host")).await?;
    let addr = addrs.first().copied().ok_or_else(|| {
        Error::new(ErrorCode::HostUnreachable, "The host name has no address.").with_field("host")
    })?;
    if sslmode == "disable" && !addr.ip().is_loopback() {
        return Err(Error::invalid_config(
            "sslmode",
            "sslmode disable would send the password unencrypted across the network, so it is only allowed for a database on this same machine. Choose require or verify-full.",
        ));
    }

    let mut config = tokio_postgres::Config::new();
    config
        .host(&host)
        .hostaddr(addr.ip())
        .port(port)
        .dbname(database)
        .user(user)
        .password(password)
        .application_name("connector-hub")
        .connect_timeout(ctx.settings.connect_timeout);

    let attempt = async {
        match sslmode {
            "disable" => {
                config.ssl_mode(SslMode::Disable);
                let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
                tokio::spawn(connection);
                Ok(client)
            }
            mode => {
                config.ssl_mode(SslMode::Require);
                let tls = if mode == "verify-full" {
                    verifying_tls()
                } else {
                    encrypting_only_tls()
                };
                let (client, connection) = config.connect(tls).await?;
                tokio::spawn(connection);
                Ok(client)
            }
        }
    };
    within_timeout(ctx, async {
        attempt
            .await
            .map_err(|e: tokio_postgres::Error| classify(&e, sslmode))
    })
    .await
}

/// A PostgreSQL error in the check vocabulary (matched on, never quoted).
pub(crate) fn classify(e: &tokio_postgres::Error, sslmode: &str) -> Error {
    if let Some(code) = e.code() {
        return match code {
            c if *c == SqlState::INVALID_PASSWORD => {
                Error::new(ErrorCode::InvalidCredentials, "The database rejected this user name and password.").with_field("password")
            }
            c if *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION => Error::new(
                ErrorCode::InvalidCredentials,
                "The database does not let this user connect from here (the role may not exist, or pg_hba.conf refuses it).",
            )
            .with_field("username"),
            c if *c == SqlState::INVALID_CATALOG_NAME => {
                Error::new(ErrorCode::NotFound, "There is no database with this name on the server.").with_field("database")
            }
            c if *c == SqlState::INSUFFICIENT_PRIVILEGE => Error::new(
                ErrorCode::InsufficientPermissions,
                "This user is not allowed to connect to the database.",
            )
            .with_field("username"),
            c if *c == SqlState::TOO_MANY_CONNECTIONS => {
                Error::new(ErrorCode::RateLimited, "The database has too many connections right now.")
            }
            _ => Error::new(ErrorCode::ProviderError, "The database reported an error while connecting."),
        };
    }
    // tokio-postgres exposes the kind only through its message; it is matched, never shown.
    let text = e.to_string().to_lowercase();
    let source = std::error::Error::source(e)
        .map(|s| s.to_string().to_lowercase())
        .unwrap_or_default();
    if text.contains("does not support tls")
        || text.contains("tls")
        || source.contains("certificate")
    {
        let message = if text.contains("does not support tls") {
            format!("The server does not offer TLS, but sslmode is {sslmode}. Enable SSL on the server or choose another SSL mode.")
        } else {
            "A secure (TLS) connection to the database could not be established.".to_owned()
        };
        return Error::new(ErrorCode::TlsError, message).with_field("sslmode");
    }
    if text.contains("timeout") || text.contains("timed out") {
        return Error::new(ErrorCode::Timeout, "The database did not answer in time.")
            .with_field("host");
    }
    if text.contains("connect") || source.contains("refused") {
        return Error::new(
            ErrorCode::HostUnreachable,
            "Nothing accepted the connection at this host and port.",
        )
        .with_field("host");
    }
    Error::new(
        ErrorCode::UnexpectedResponse,
        "The server at this address did not talk like PostgreSQL.",
    )
    .with_field("host")
}

fn verifying_tls() -> tokio_postgres_rustls::MakeRustlsConnect {
    tokio_postgres_rustls::MakeRustlsConnect::new((*crate::outbound::http::tls_config()).clone())
}

/// libpq's `require`: encrypt, but do not verify the certificate. Built once.
fn encrypting_only_tls() -> tokio_postgres_rustls::MakeRustlsConnect {
    static CONFIG: std::sync::OnceLock<rustls::ClientConfig> = std::sync::OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        rustls::ClientConfig::builder()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate))
            .with_no_client_auth()
    });
    tokio_postgres_rustls::MakeRustlsConnect::new(config.clone())
}

#[derive(Debug)]
struct AcceptAnyCertificate;

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let schemes = rustls::crypto::ring::default_provider().signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, &schemes)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let schemes = rustls::crypto::ring::default_provider().signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, &schemes)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
