//! Fernet tokens written quickly: a sync seals every record it reads, hundreds of thousands a
//! minute. The `fernet` crate expands the AES and HMAC keys again for every token and asks the
//! kernel for every IV; this keeps both key schedules and draws IVs from a userspace CSPRNG
//! (`rand`'s thread generator: ChaCha12, seeded and periodically reseeded by the OS). The tokens
//! are standard Fernet (version, time, IV, AES-128-CBC with PKCS#7, HMAC-SHA256, URL-safe
//! base64) and the `fernet` crate opens them; reading stays with that crate.

use aes::cipher::{BlockEncryptMut, InnerIvInit, KeyInit};
use base64::Engine;
use hmac::Mac;
use rand::RngCore;
use sha2::Sha256;

const VERSION: u8 = 0x80;
const BLOCK: usize = 16;

#[derive(Clone)]
pub(super) struct Sealer {
    aes: aes::Aes128,
    /// HMAC-SHA256 already keyed: each token clones it rather than hashing the key pads again.
    hmac: hmac::Hmac<Sha256>,
}

impl Sealer {
    /// From a Fernet key (32 URL-safe base64 bytes: the signing half, then the encryption half).
    pub(super) fn new(key: &str) -> Option<Self> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(key.trim_end_matches('='))
            .ok()?;
        let (signing, encryption) = bytes.split_at_checked(16)?;
        if encryption.len() != 16 {
            return None;
        }
        Some(Self {
            aes: aes::Aes128::new_from_slice(encryption).ok()?,
            hmac: <hmac::Hmac<Sha256> as Mac>::new_from_slice(signing).ok()?,
        })
    }

    /// Seals the concatenation of `parts` (an owner line and a record need no copy joining them).
    pub(super) fn seal(&self, parts: &[&[u8]]) -> String {
        base64::engine::general_purpose::URL_SAFE.encode(self.seal_raw(parts))
    }

    /// The token's bytes, before its base64: a quarter smaller, for a store that keeps bytes.
    pub(super) fn seal_raw(&self, parts: &[&[u8]]) -> Vec<u8> {
        let mut iv = [0_u8; BLOCK];
        rand::rng().fill_bytes(&mut iv);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.seal_with(parts, now, iv)
    }

    fn seal_with(&self, parts: &[&[u8]], time: u64, iv: [u8; BLOCK]) -> Vec<u8> {
        let header = 1 + 8 + BLOCK;
        let length: usize = parts.iter().map(|p| p.len()).sum();
        let padded = (length / BLOCK + 1) * BLOCK;
        let mut token = Vec::with_capacity(header + padded + 32);
        token.push(VERSION);
        token.extend_from_slice(&time.to_be_bytes());
        token.extend_from_slice(&iv);
        for part in parts {
            token.extend_from_slice(part);
        }
        token.resize(header + padded, 0);
        let cbc = cbc::Encryptor::<aes::Aes128>::inner_iv_init(self.aes.clone(), &iv.into());
        // The buffer holds the plaintext and a whole block more: padding always fits.
        if cbc
            .encrypt_padded_mut::<aes::cipher::block_padding::Pkcs7>(&mut token[header..], length)
            .is_err()
        {
            return Vec::new();
        }
        let mut mac = self.hmac.clone();
        mac.update(&token);
        token.extend_from_slice(&mac.finalize().into_bytes());
        token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fernet_crate_opens_its_tokens() {
        let key = fernet::Fernet::generate_key();
        let sealer = Sealer::new(&key).expect("a Fernet key");
        let reference = fernet::Fernet::new(&key).expect("a Fernet key");
        for size in [0, 1, 15, 16, 17, 31, 32, 33, 255, 4096] {
            let plaintext: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
            let token = sealer.seal(&[&plaintext]);
            assert_eq!(reference.decrypt(&token).expect("opens"), plaintext);
            let (head, tail) = plaintext.split_at(size / 3);
            let token = sealer.seal(&[head, tail]);
            assert_eq!(reference.decrypt(&token).expect("opens"), plaintext);
        }
    }

    #[test]
    fn same_token_as_the_fernet_crate_for_the_same_time_and_iv() {
        // The specification's own test vector (fernet/spec, generate.json).
        let sealer = Sealer::new("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=").expect("key");
        let iv: [u8; 16] = core::array::from_fn(|i| i as u8);
        assert_eq!(
            base64::engine::general_purpose::URL_SAFE.encode(sealer.seal_with(
                &[b"hel", b"lo"],
                499162800,
                iv
            )),
            "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA=="
        );
    }

    #[test]
    fn every_token_has_its_own_iv() {
        let sealer = Sealer::new(&fernet::Fernet::generate_key()).expect("key");
        assert_ne!(sealer.seal(&[b"same"]), sealer.seal(&[b"same"]));
    }

    #[test]
    fn refuses_what_is_not_a_fernet_key() {
        assert!(Sealer::new("short").is_none());
        assert!(Sealer::new(&"A".repeat(60)).is_none());
    }
}
