//! Identifiers the hub hands out — connector ids, wizard draft ids — parsed once at the edge so
//! nothing below has to wonder whether a string is one, and the randomness that makes them.

use rand::RngCore;
use std::fmt;

/// `bytes` random bytes as URL-safe base64.
pub fn random_token(bytes: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes(bytes))
}

/// `bytes` random bytes as lower-case hex.
pub fn random_hex(bytes: usize) -> String {
    hex::encode(random_bytes(bytes))
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    rand::rng().fill_bytes(&mut buf);
    buf
}

fn lower_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// A connector's id: `conn-` and 20 lower-case hex digits. Anything else cannot name one, so a
/// malformed id is answered like a missing one without asking the store.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectorId(String);

impl ConnectorId {
    pub fn generate() -> Self {
        Self(format!("conn-{}", random_hex(10)))
    }

    pub fn parse(s: &str) -> Option<Self> {
        s.strip_prefix("conn-")
            .is_some_and(|rest| lower_hex(rest, 20))
            .then(|| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConnectorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ConnectorId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A setup-wizard draft's id: 32 lower-case hex digits, random.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DraftId(String);

impl DraftId {
    pub fn generate() -> Self {
        Self(random_hex(16))
    }

    pub fn parse(s: &str) -> Option<Self> {
        lower_hex(s, 32).then(|| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DraftId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_ids_parse() {
        let id = ConnectorId::generate();
        assert_eq!(ConnectorId::parse(id.as_str()), Some(id));
        for bad in [
            "",
            "conn-",
            "conn-0123456789ABCDEF0123",
            "conn-0123456789abcdef012",
            "xonn-0123456789abcdef0123",
            "conn-0123456789abcdef0123 ",
        ] {
            assert_eq!(ConnectorId::parse(bad), None, "{bad:?}");
        }
        let draft = DraftId::generate();
        assert_eq!(DraftId::parse(draft.as_str()), Some(draft));
        assert_eq!(DraftId::parse("0123456789abcdef0123456789ABCDEF"), None);
        assert_eq!(DraftId::parse("../../etc"), None);
    }
}
