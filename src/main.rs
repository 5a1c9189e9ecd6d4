//! The `connector-hub` binary: the server, and the operator's commands.

use clap::{Parser, Subcommand};
use connector_hub::config::{LogFormat, Settings};
use connector_hub::server::startup::{self, Application};
use std::process::ExitCode;

/// A quarter of a listing's CPU time went to glibc's malloc and free (perf, `bench/run.sh`);
/// mimalloc's thread-local free lists suit a request-per-task server better.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "connector-hub", version, about = "Self-hosted connector hub")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server (the default).
    Serve,
    /// Print a new Fernet key for CONNECTOR_ENCRYPTION_KEY.
    Keygen,
    /// Re-encrypt every stored credential under the first configured key.
    RotateKeys,
    /// Print a sign-in token (development mode, HS256 only).
    MintToken {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        user: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 12 * 3600)]
        ttl: u64,
    },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check every tenant's hash chain and report the first broken link.
    Verify,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Keygen) = cli.command {
        println!("{}", connector_hub::vault::generate_key());
        return ExitCode::SUCCESS;
    }
    let settings = match Settings::from_environment() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("connector-hub: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(settings.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("connector-hub: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(settings).await,
            Command::RotateKeys => connector_hub::server::cli::rotate_keys(&settings).await,
            Command::MintToken { tenant, user, ttl } => {
                connector_hub::server::cli::mint_token(&settings, &tenant, &user, ttl)
            }
            Command::Audit {
                command: AuditCommand::Verify,
            } => connector_hub::server::cli::audit_verify(&settings).await,
            Command::Keygen => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("connector-hub: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CONNECTOR_HUB_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn,hyper=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

async fn serve(settings: Settings) -> Result<(), String> {
    // The link is a valid token for anyone who reads the output: printed only when the signing
    // secret itself was made up for development, never with a secret an operator configured.
    let development_secret = settings.is_development()
        && settings.auth.jwt_secret.is_none()
        && settings.auth.jwt_public_key_file.is_none();
    let app = Application::build(settings)
        .await
        .map_err(|e| e.to_string())?;
    let addr = app.local_addr();
    let state = app.state.clone();
    if app.created_dev_key {
        tracing::warn!(
            path = %state.settings.data_dir.join("encryption.key").display(),
            "development mode: created a new encryption key (mode 0600). Set CONNECTOR_ENCRYPTION_KEY in production."
        );
    }
    tracing::info!(%addr, store = state.hub.maintenance.store_name(), "Connector Hub is listening");
    println!("Connector Hub is running at http://{addr}");
    if development_secret {
        if let Some(token) = state.auth.mint("demo", "demo@example.com", 12 * 3600) {
            println!(
                "Development sign-in link (tenant \"demo\"): http://{addr}/session?token={token}"
            );
        }
    }
    app.run_until(startup::shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!("stopped cleanly");
    Ok(())
}
