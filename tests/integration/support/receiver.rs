//! A tenant's webhook endpoint: it keeps every request (headers and body) and answers each with
//! the next scripted status (then 200), so a test can make deliveries fail, be rate limited or
//! be told the endpoint is gone.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    script: VecDeque<(u16, Option<&'static str>)>,
    /// How long each answer takes (a slow endpoint).
    delay: std::time::Duration,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl Receiver {
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0").await
    }

    pub async fn start_on(addr: &str) -> Self {
        let state: Arc<Mutex<State>> = Arc::default();
        let shared = state.clone();
        let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
            let shared = shared.clone();
            async move {
                let delay = shared.lock().map(|s| s.delay).unwrap_or_default();
                tokio::time::sleep(delay).await;
                let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
                s.received.push(Received { headers, body });
                let (status, retry_after) = s.script.pop_front().unwrap_or((200, None));
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
                match retry_after {
                    Some(after) => (status, [("retry-after", after)]).into_response(),
                    None => status.into_response(),
                }
            }
        });
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("receiver listens");
        let local = listener.local_addr().expect("receiver addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{local}/hooks"),
            state,
        }
    }

    /// Makes every answer take `delay` (kept as received once answered).
    pub fn slow(&self, delay: std::time::Duration) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).delay = delay;
    }

    /// The next answers, in order: a status and an optional `Retry-After`.
    pub fn script(&self, answers: &[(u16, Option<&'static str>)]) {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .script
            .extend(answers.iter().copied());
    }

    pub fn received(&self) -> Vec<Received> {
        self.state
            .lock()
            .map(|s| s.received.clone())
            .unwrap_or_default()
    }

    /// Waits until `n` requests arrived (or panics after `secs`).
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Received> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "only {} of {n} requests arrived: {got:?}",
                got.len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
