//! Clients for tenant-chosen hosts, each pinned to the addresses the egress policy checked, kept
//! for reuse: the next call to the same host at the same addresses (a webhook delivery, a REST
//! API page) reuses the client's open connections instead of a new TCP and TLS handshake. The
//! addresses are checked on every call all the same; a different DNS answer is another client.

use reqwest::Client;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A client unused this long is dropped (its idle connections with it).
const KEEP: Duration = Duration::from_secs(300);
/// The most clients kept.
const MAX: usize = 256;

type Key = (String, Vec<SocketAddr>);

#[derive(Default)]
pub(super) struct PinnedClients {
    clients: Mutex<HashMap<Key, (Client, Instant)>>,
}

impl PinnedClients {
    /// The client for `host` pinned to exactly `addrs`, built by `build` if there is none.
    pub(super) fn get_or_build(
        &self,
        host: &str,
        addrs: &[SocketAddr],
        build: impl FnOnce() -> Option<Client>,
    ) -> Option<Client> {
        let mut pinned = addrs.to_vec();
        pinned.sort();
        let key = (host.to_owned(), pinned);
        let now = Instant::now();
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((client, used)) = clients.get_mut(&key) {
            *used = now;
            return Some(client.clone());
        }
        let client = build()?;
        if clients.len() >= MAX {
            clients.retain(|_, (_, used)| now.duration_since(*used) < KEEP);
            if clients.len() >= MAX {
                clients.clear();
            }
        }
        clients.insert(key, (client.clone(), now));
        Some(client)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.clients.lock().map(|c| c.len()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_client_per_host_and_address_set() {
        let clients = PinnedClients::default();
        let a: SocketAddr = "10.0.0.1:443".parse().expect("addr");
        let b: SocketAddr = "10.0.0.2:443".parse().expect("addr");
        let built = std::cell::Cell::new(0);
        let get = |host: &str, addrs: &[SocketAddr]| {
            clients.get_or_build(host, addrs, || {
                built.set(built.get() + 1);
                Some(Client::new())
            })
        };
        assert!(get("hooks.example", &[a, b]).is_some());
        assert!(get("hooks.example", &[b, a]).is_some());
        assert_eq!(
            built.get(),
            1,
            "the same addresses in another order: the same client"
        );
        get("hooks.example", &[a]);
        get("other.example", &[a, b]);
        assert_eq!(
            built.get(),
            3,
            "other addresses, or another host: another client"
        );
        assert_eq!(clients.len(), 3);
    }
}
