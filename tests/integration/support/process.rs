//! The real `connector-hub` binary as a child process, for tests that need its logs, its CLI or
//! restarts.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_connector-hub");

pub struct ServerProcess {
    child: Child,
    pub base: String,
    pub log: PathBuf,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Starts the server with `env` (plus a fresh port) and waits until `/healthz` answers.
pub async fn spawn_server(env: &[(String, String)], log: &Path) -> ServerProcess {
    spawn_server_in(env, log, None).await
}

/// [`spawn_server`], started from the working directory `cwd` when given.
pub async fn spawn_server_in(
    env: &[(String, String)],
    log: &Path,
    cwd: Option<&Path>,
) -> ServerProcess {
    // A port from `free_port` may be taken by a parallel test before the server binds it: then
    // the server exits, and it is started again on another.
    for _attempt in 0..5 {
        if let Some(server) = try_spawn_server(env, log, cwd).await {
            return server;
        }
    }
    panic!(
        "server did not start; log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// Starts the server on a free port; `None` when it exited first (its port was taken).
async fn try_spawn_server(
    env: &[(String, String)],
    log: &Path,
    cwd: Option<&Path>,
) -> Option<ServerProcess> {
    let port = free_port();
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let err = out.try_clone().expect("log file");
    let mut command = Command::new(BIN);
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    let mut child = command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .expect("spawn server");
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let client = reqwest::Client::new();
    loop {
        if child.try_wait().ok().flatten().is_some() {
            return None;
        }
        let healthy = client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        // The server prints where it listens once it has bound the port: an answer on that port
        // before it says so may come from another test's server.
        let bound = std::fs::read_to_string(log)
            .is_ok_and(|out| out.contains(&format!("running at {base}")));
        if healthy && bound {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "server did not start; log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Some(ServerProcess {
        child,
        base,
        log: log.to_owned(),
    })
}

impl ServerProcess {
    /// SIGTERM, then wait for a clean exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().expect("wait")
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Runs a CLI subcommand with `env`; returns (success, stdout + stderr).
pub fn run_cli(env: &[(String, String)], args: &[&str]) -> (bool, String) {
    let output = Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args(args)
        .output()
        .expect("run cli");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// A production-mode server on `data` with `key`, pointed at the fake providers at `fakes`; the
/// monitor off and limits out of the way unless a test adds its own settings.
pub fn server_env(fakes: &str, data: &Path, key: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("CONNECTOR_HUB_ENV", "production"),
        ("JWT_SECRET", super::JWT_SECRET),
        ("CONNECTOR_HUB_MONITOR", "false"),
        ("CONNECTOR_HUB_RATE_READS_PER_MIN", "1000000"),
        ("CONNECTOR_HUB_RATE_WRITES_PER_MIN", "1000000"),
        ("CONNECTOR_HUB_RATE_TESTS_PER_MIN", "1000000"),
        ("CONNECTOR_HUB_RATE_ANONYMOUS_PER_MIN", "1000000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    env.push(("CONNECTOR_HUB_DATA_DIR".into(), data.display().to_string()));
    // No WASM bundle unless a test gives one (LEPTOS_SITE_ROOT): a bundle built from other
    // sources (target/site after an edit) would stop the server from starting (src/build_id.rs).
    env.push(("LEPTOS_SITE_ROOT".into(), "target/no-site".into()));
    env.push(("CONNECTOR_ENCRYPTION_KEY".into(), key.to_owned()));
    env.extend(super::fakes::provider_env(fakes));
    env.extend(super::store::store_env(data));
    env
}

/// A token for `tenant` signed with the tests' JWT secret.
pub fn token(tenant: &str, user: &str) -> String {
    let settings = connector_hub::config::Settings::load(None, &|_: &str| None).expect("defaults");
    connector_hub::auth::Authenticator::from_secret(
        &connector_hub::secret::SecretString::new(super::JWT_SECRET),
        &settings.auth,
    )
    .mint(tenant, user, 600)
    .expect("token")
}
