//! A connector's secrets taken out of everything that comes back from its provider — proxied
//! answers (headers and body), previews, synced records, forwarded events — in every form the hub
//! itself sent them: as given, percent-encoded (`%2B` or `+` for a space, either case of hex, any
//! mix), HTTP Basic's base64 of `user:password`, and JSON-escaped (`\"`, `\\`, `\/`, `\uXXXX`).
//! An API that echoes its request, or redirects with it in `Location`, hands back the credential
//! in one of those forms.
//!
//! Each form is found by decoding the text once per kind of encoding into a canonical copy that
//! remembers where each byte came from, and searching that for the secret as given: one linear
//! pass per encoding, taken only when the text holds its escape character.

use crate::catalog::ConnectorDef;
use crate::error::Error;
use crate::secret::SecretConfig;
use base64::Engine;
use memchr::memmem;
use std::borrow::Cow;

const REDACTED: &[u8] = b"[redacted]";

/// The longest any one byte of a secret becomes once encoded (`a` → `\u0061`).
const MAX_EXPANSION: usize = 6;

/// The values to take out, longest first.
pub struct Scrub {
    secrets: Vec<Vec<u8>>,
    /// Whether a secret holds a space, which a query string may carry as `+`.
    has_space: bool,
}

impl Scrub {
    /// The secrets of `config` and the Basic credential made of them; refuses a configuration
    /// whose secret is too short to be found safely (stored before the hub required
    /// `catalog::MIN_SECRET_LEN`), naming the field.
    pub(crate) fn new(def: &ConnectorDef, config: &SecretConfig) -> Result<Self, Error> {
        let mut secrets = Vec::new();
        for field in def.fields.iter().filter(|f| f.secret) {
            let Some(value) = config.get(&field.name).filter(|v| !v.is_empty()) else {
                continue;
            };
            // Stored before the catalog required a length: refused the same way now.
            crate::catalog::check_secret_length(&field.name, &field.label, value)?;
            secrets.push(value.to_owned());
        }
        let basic = def.basic_fields(config.get("auth_type"));
        if let Some((user, password)) =
            basic.and_then(|(user, password)| Some((config.get(user)?, config.get(password)?)))
        {
            secrets.push(
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")),
            );
        }
        Ok(Self::of(secrets))
    }

    /// Takes out exactly `secrets` (and their encodings).
    pub(crate) fn of(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<Vec<u8>> = secrets
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(String::into_bytes)
            .collect();
        // Longest first, so a secret containing another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        let has_space = secrets.iter().any(|s| s.contains(&b' '));
        Self { secrets, has_space }
    }

    /// How many bytes an encoded secret may span: a stream holds back one less than this.
    pub(crate) fn longest_encoded(&self) -> usize {
        self.secrets.first().map_or(0, |s| s.len() * MAX_EXPANSION)
    }

    /// `text` with every secret, in any of its forms, replaced by `[redacted]`.
    pub(crate) fn clean<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let ranges = self.find(text.as_bytes());
        if ranges.is_empty() {
            return Cow::Borrowed(text);
        }
        let bytes = replaced(text.as_bytes(), &ranges);
        // Whole UTF-8 sequences are replaced by ASCII, except where an encoded secret was cut
        // in the middle of a character's escapes; lossy keeps the text valid either way.
        Cow::Owned(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// `bytes` cleaned the same way, in place.
    pub(crate) fn clean_bytes(&self, bytes: &mut Vec<u8>) {
        let ranges = self.find(bytes);
        if !ranges.is_empty() {
            *bytes = replaced(bytes, &ranges);
        }
    }

    /// A JSON value cleaned the same way (parsed again only when something was replaced).
    pub(crate) fn clean_value(&self, value: serde_json::Value) -> serde_json::Value {
        let text = value.to_string();
        match self.clean(&text) {
            Cow::Borrowed(_) => value,
            Cow::Owned(clean) => serde_json::from_str(&clean).unwrap_or(serde_json::Value::Null),
        }
    }

    /// Where secrets are in `hay`: sorted, merged byte ranges of the original text.
    fn find(&self, hay: &[u8]) -> Vec<(usize, usize)> {
        if self.secrets.is_empty() {
            return Vec::new();
        }
        let mut ranges = Vec::new();
        for secret in &self.secrets {
            ranges.extend(memmem::find_iter(hay, secret).map(|at| (at, at + secret.len())));
        }
        let mut decodings = Vec::new();
        if memchr::memchr(b'%', hay).is_some() || (self.has_space && hay.contains(&b'+')) {
            decodings.push(percent_decoded(hay, false));
            if self.has_space {
                decodings.push(percent_decoded(hay, true));
            }
        }
        if memchr::memchr(b'\\', hay).is_some() {
            decodings.push(json_unescaped(hay));
        }
        for decoded in &decodings {
            for secret in &self.secrets {
                for at in memmem::find_iter(&decoded.bytes, secret) {
                    ranges.push(decoded.original(at, at + secret.len()));
                }
            }
        }
        ranges.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
        for (start, end) in ranges {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        merged
    }
}

fn replaced(bytes: &[u8], ranges: &[(usize, usize)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut from = 0;
    for &(start, end) in ranges {
        out.extend_from_slice(&bytes[from..start]);
        out.extend_from_slice(REDACTED);
        from = end;
    }
    out.extend_from_slice(&bytes[from..]);
    out
}

/// A text with one kind of encoding undone, and where each of its bytes came from.
struct Decoded {
    bytes: Vec<u8>,
    /// For each decoded byte, where its escape starts in the original; one more entry, the
    /// original's length, closes the last.
    starts: Vec<usize>,
}

impl Decoded {
    fn with_capacity(n: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(n),
            starts: Vec::with_capacity(n + 1),
        }
    }

    fn push(&mut self, byte: u8, from: usize) {
        self.bytes.push(byte);
        self.starts.push(from);
    }

    fn finish(mut self, len: usize) -> Self {
        self.starts.push(len);
        self
    }

    /// The original range the decoded range `start..end` came from.
    fn original(&self, start: usize, end: usize) -> (usize, usize) {
        // A range ending inside one escape (the first byte of `\u00e9`) covers all of it.
        let mut end_at = end;
        while end_at < self.bytes.len() && self.starts[end_at] == self.starts[end - 1] {
            end_at += 1;
        }
        (self.starts[start], self.starts[end_at])
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// `%XX` (either case) decoded; with `plus_is_space`, `+` too (form encoding).
fn percent_decoded(hay: &[u8], plus_is_space: bool) -> Decoded {
    let mut out = Decoded::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        let b = hay[i];
        if b == b'%' {
            if let (Some(h), Some(l)) = (
                hay.get(i + 1).copied().and_then(hex),
                hay.get(i + 2).copied().and_then(hex),
            ) {
                out.push(h << 4 | l, i);
                i += 3;
                continue;
            }
        }
        out.push(if plus_is_space && b == b'+' { b' ' } else { b }, i);
        i += 1;
    }
    out.finish(hay.len())
}

/// JSON string escapes decoded: `\"`, `\\`, `\/`, `\b\f\n\r\t` and `\uXXXX` (surrogate pairs
/// joined), the characters written as UTF-8.
fn json_unescaped(hay: &[u8]) -> Decoded {
    let mut out = Decoded::with_capacity(hay.len());
    let mut i = 0;
    let unit = |at: usize| -> Option<u32> {
        if hay.get(at) != Some(&b'\\') || hay.get(at + 1) != Some(&b'u') {
            return None;
        }
        let digits = hay.get(at + 2..at + 6)?;
        digits
            .iter()
            .try_fold(0u32, |n, &d| hex(d).map(|d| n << 4 | u32::from(d)))
    };
    while i < hay.len() {
        if hay[i] == b'\\' {
            let simple = match hay.get(i + 1) {
                Some(b'"') => Some(b'"'),
                Some(b'\\') => Some(b'\\'),
                Some(b'/') => Some(b'/'),
                Some(b'b') => Some(0x08),
                Some(b'f') => Some(0x0c),
                Some(b'n') => Some(b'\n'),
                Some(b'r') => Some(b'\r'),
                Some(b't') => Some(b'\t'),
                _ => None,
            };
            if let Some(b) = simple {
                out.push(b, i);
                i += 2;
                continue;
            }
            if let Some(first) = unit(i) {
                let (ch, len) = match (first, unit(i + 6)) {
                    (0xd800..=0xdbff, Some(low @ 0xdc00..=0xdfff)) => (
                        char::from_u32(0x10000 + ((first - 0xd800) << 10) + (low - 0xdc00)),
                        12,
                    ),
                    _ => (char::from_u32(first), 6),
                };
                if let Some(ch) = ch {
                    let mut buf = [0u8; 4];
                    for b in ch.encode_utf8(&mut buf).bytes() {
                        out.push(b, i);
                    }
                    i += len;
                    continue;
                }
            }
        }
        out.push(hay[i], i);
        i += 1;
    }
    out.finish(hay.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn config(pairs: &[(&str, &str)]) -> SecretConfig {
        SecretConfig::decrypted(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    #[test]
    fn secret_values_are_taken_out_of_provider_data() {
        let def = crate::catalog::catalog().get("rest_api").expect("rest_api");
        let config = config(&[
            ("base_url", "https://api.example.com"),
            ("auth_type", "api_key_query"),
            ("header_name", "key"),
            ("api_key", "s3cret-key-42"),
        ]);
        let scrub = Scrub::new(def, &config).expect("long enough");
        assert_eq!(
            scrub.clean(r#"{"self":"/items?key=s3cret-key-42","name":"key"}"#),
            r#"{"self":"/items?key=[redacted]","name":"key"}"#,
            "the secret goes, a field named like the header stays"
        );
        assert!(matches!(scrub.clean("nothing here"), Cow::Borrowed(_)));
        let value = serde_json::json!({"echo": "s3cret-key-42", "n": 1});
        assert_eq!(
            scrub.clean_value(value),
            serde_json::json!({"echo": "[redacted]", "n": 1})
        );
    }

    #[test]
    fn every_encoding_the_hub_sends_a_secret_in_is_taken_out() {
        let secret = r#"k3y+CANARY/"\é 9"#;
        let scrub = Scrub::of([secret.to_owned()]);
        let json = serde_json::to_string(secret).expect("json");
        for (form, text) in [
            ("as given", secret.to_owned()),
            ("form-encoded", "k3y%2BCANARY%2F%22%5C%C3%A9+9".to_owned()),
            ("percent %20", "k3y%2BCANARY%2F%22%5C%C3%A9%209".to_owned()),
            (
                "lower-case hex",
                "k3y%2bCANARY%2f%22%5c%c3%a9%209".to_owned(),
            ),
            ("partly encoded", "k3y+CANARY/%22%5C%C3%A9%209".to_owned()),
            ("JSON", json.trim_matches('"').to_owned()),
            ("JSON \\/", r#"k3y+CANARY\/\"\\é 9"#.to_owned()),
            (
                "JSON \\u",
                r#"\u006b3y\u002BCANARY/\u0022\u005c\u00e9\u00209"#.to_owned(),
            ),
        ] {
            let body = format!("before {text} after");
            assert_eq!(scrub.clean(&body), "before [redacted] after", "{form}");
        }
        let basic = base64::engine::general_purpose::STANDARD.encode("user:p@ss w0rd!");
        let scrub = Scrub::of([basic.clone()]);
        assert_eq!(
            scrub.clean(&format!("Authorization: Basic {basic}")),
            "Authorization: Basic [redacted]"
        );
    }

    #[test]
    fn ordinary_escapes_are_left_as_they_are() {
        let scrub = Scrub::of(["s3cret-key-42".to_owned()]);
        for text in [
            r#"{"a":"100%","b":"x\"y","c":"%zz","d":"\u12"}"#,
            "phone +44 20 7946 0000",
        ] {
            assert!(matches!(scrub.clean(text), Cow::Borrowed(_)), "{text}");
        }
    }

    #[test]
    fn a_basic_credential_is_taken_out_as_the_hub_sent_it() {
        let def = crate::catalog::catalog().get("rest_api").expect("rest_api");
        let config = config(&[
            ("base_url", "https://api.example.com"),
            ("auth_type", "basic"),
            ("username", "reporting"),
            ("password", "pw-CANARY-1"),
        ]);
        let scrub = Scrub::new(def, &config).expect("long enough");
        let sent = base64::engine::general_purpose::STANDARD.encode("reporting:pw-CANARY-1");
        assert_eq!(
            scrub.clean(&format!("{{\"authorization\":\"Basic {sent}\"}}")),
            "{\"authorization\":\"Basic [redacted]\"}"
        );
    }

    #[test]
    fn a_stored_secret_too_short_to_find_is_refused_by_name() {
        let def = crate::catalog::catalog().get("stripe").expect("stripe");
        let refused = Scrub::new(def, &config(&[("api_key", "sk_1")]))
            .err()
            .expect("too short");
        assert_eq!(refused.code, crate::error::ErrorCode::InvalidConfig);
        assert_eq!(refused.field.as_deref(), Some("api_key"));
    }
}
