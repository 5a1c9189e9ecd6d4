//! A server standing in for an attacker: it answers every request with 200 and `{}` (as an API
//! that accepts anything would) and keeps what it was sent, so a test can prove a secret never
//! reached it.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct Attacker {
    pub base: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Attacker {
    pub async fn start() -> Self {
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let log = seen.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let log = log.clone();
                async move {
                    let mut request = format!("{method} {uri}\n");
                    for (name, value) in &headers {
                        request.push_str(&format!(
                            "{name}: {}\n",
                            String::from_utf8_lossy(value.as_bytes())
                        ));
                    }
                    request.push_str(&String::from_utf8_lossy(&body));
                    if let Ok(mut seen) = log.lock() {
                        seen.push(request);
                    }
                    ([("content-type", "application/json")], "{}")
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("attacker listens");
        let addr = listener.local_addr().expect("attacker addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base: format!("http://{addr}"),
            seen,
        }
    }

    /// Every request received so far: request line, headers and body.
    pub fn requests(&self) -> Vec<String> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Panics if any request it received carried `secret` (in the address, a header — Basic
    /// credentials decoded too — or the body).
    pub fn assert_never_received(&self, secret: &str) {
        use base64::Engine;
        for request in self.requests() {
            let decoded: String = request
                .lines()
                .filter_map(|l| l.strip_prefix("authorization: Basic "))
                .filter_map(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .collect();
            assert!(
                !request.contains(secret) && !decoded.contains(secret),
                "the attacker received the secret: {request}"
            );
        }
    }
}
