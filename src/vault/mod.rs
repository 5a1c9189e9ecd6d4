//! The vault: Fernet encryption of connector configurations.
//!
//! Several keys can be loaded at once (MultiFernet semantics): the first encrypts, every key
//! decrypts. Each ciphertext is stored with the id of the key that wrote it, so the store can tell
//! which records a key rotation still has to rewrite, and the list view can flag records that no
//! loaded key opens without decrypting anything.

use crate::secret::{SecretConfig, SecretString};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

pub struct Vault {
    keys: Vec<VaultKey>,
}

struct VaultKey {
    id: String,
    fernet: fernet::Fernet,
}

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("{var} is not set. Generate a key with `connector-hub keygen` and set {var}=<key> (or CONNECTOR_ENCRYPTION_KEY_FILE=<path to a file holding it>).")]
    Missing { var: &'static str },
    #[error("{var}: key number {position} is not a valid Fernet key (32 url-safe base64-encoded bytes). Generate one with `connector-hub keygen`.")]
    Malformed { var: &'static str, position: usize },
    #[error("cannot read or write the key file {path}: {message}")]
    File { path: String, message: String },
}

/// No loaded key opens this ciphertext.
#[derive(Debug, thiserror::Error)]
#[error("no configured encryption key opens this credential")]
pub struct DecryptionFailed;

pub fn generate_key() -> String {
    fernet::Fernet::generate_key()
}

impl Vault {
    /// Parses a comma-separated key list; the first key encrypts.
    pub fn from_key_list(list: &SecretString, var: &'static str) -> Result<Self, VaultError> {
        let mut keys = Vec::new();
        for (index, key) in list
            .expose()
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .enumerate()
        {
            let fernet = fernet::Fernet::new(key).ok_or(VaultError::Malformed {
                var,
                position: index + 1,
            })?;
            keys.push(VaultKey {
                id: key_id(key),
                fernet,
            });
        }
        if keys.is_empty() {
            return Err(VaultError::Missing { var });
        }
        Ok(Self { keys })
    }

    /// Reads the key list from a file (container secrets).
    pub fn from_key_file(path: &Path) -> Result<Self, VaultError> {
        let text = std::fs::read_to_string(path).map_err(|e| VaultError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::from_key_list(
            &SecretString::new(text.replace('\n', ",")),
            "CONNECTOR_ENCRYPTION_KEY_FILE",
        )
    }

    /// Development only: the key kept in the data directory, created (mode 0600) on first start.
    /// Returns the vault and whether the key was just created.
    pub fn development_key(data_dir: &Path) -> Result<(Self, bool), VaultError> {
        let path = data_dir.join("encryption.key");
        let file_error = |e: std::io::Error| VaultError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        if path.exists() {
            return Ok((Self::from_key_file(&path)?, false));
        }
        std::fs::create_dir_all(data_dir).map_err(file_error)?;
        write_private_file(&path, &format!("{}\n", generate_key())).map_err(file_error)?;
        Ok((Self::from_key_file(&path)?, true))
    }

    pub fn encrypting_key_id(&self) -> &str {
        &self.keys[0].id
    }

    /// How many keys are loaded (the first encrypts, all decrypt).
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    pub fn has_key(&self, id: &str) -> bool {
        self.keys.iter().any(|k| k.id == id)
    }

    /// Encrypts a configuration under the first key; returns the token and that key's id.
    pub fn encrypt(&self, config: &SecretConfig) -> (String, String) {
        // A map of strings always serializes.
        let plaintext = serde_json::to_vec(config.expose()).unwrap_or_default();
        let key = &self.keys[0];
        (key.fernet.encrypt(&plaintext), key.id.clone())
    }

    pub fn decrypt(&self, token: &str) -> Result<SecretConfig, DecryptionFailed> {
        let plaintext = self
            .keys
            .iter()
            .find_map(|k| k.fernet.decrypt(token).ok())
            .ok_or(DecryptionFailed)?;
        let values: BTreeMap<String, String> =
            serde_json::from_slice(&plaintext).map_err(|_| DecryptionFailed)?;
        Ok(SecretConfig::new(values))
    }

    /// Encrypts arbitrary bytes (wizard drafts, OAuth verifiers) under the first key.
    pub fn seal(&self, plaintext: &[u8]) -> String {
        self.keys[0].fernet.encrypt(plaintext)
    }

    pub fn open(&self, token: &str) -> Result<Vec<u8>, DecryptionFailed> {
        self.keys
            .iter()
            .find_map(|k| k.fernet.decrypt(token).ok())
            .ok_or(DecryptionFailed)
    }
}

/// A short, stable, non-reversible name for a key.
fn key_id(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    hex::encode(&digest[..6])
}

/// Writes a file readable by its owner only.
pub fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SecretConfig {
        SecretConfig::new(BTreeMap::from([(
            "api_key".into(),
            "sk_test_CANARY".into(),
        )]))
    }

    #[test]
    fn round_trip_and_ciphertext_hides_the_secret() {
        let vault = Vault::from_key_list(&SecretString::new(generate_key()), "K").expect("key");
        let (token, id) = vault.encrypt(&config());
        assert!(!token.contains("CANARY"));
        assert_eq!(id, vault.encrypting_key_id());
        assert_eq!(vault.decrypt(&token).expect("decrypts"), config());
    }

    #[test]
    fn first_key_encrypts_every_key_decrypts() {
        let (k1, k2) = (generate_key(), generate_key());
        let old = Vault::from_key_list(&SecretString::new(k1.clone()), "K").expect("k1");
        let (token, old_id) = old.encrypt(&config());
        let both =
            Vault::from_key_list(&SecretString::new(format!("{k2}, {k1}")), "K").expect("k2,k1");
        assert!(both.decrypt(&token).is_ok());
        assert!(both.has_key(&old_id));
        assert_ne!(both.encrypting_key_id(), old_id);
        let only_new = Vault::from_key_list(&SecretString::new(k2), "K").expect("k2");
        assert!(only_new.decrypt(&token).is_err());
        assert!(!only_new.has_key(&old_id));
    }

    #[test]
    fn malformed_and_missing_keys_are_explained() {
        let err = Vault::from_key_list(&SecretString::new("not-a-key"), "CONNECTOR_ENCRYPTION_KEY")
            .err()
            .expect("malformed");
        let msg = err.to_string();
        assert!(
            msg.contains("CONNECTOR_ENCRYPTION_KEY") && msg.contains("keygen"),
            "{msg}"
        );
        assert!(!msg.contains("not-a-key"));
        let err = Vault::from_key_list(&SecretString::new(" , "), "CONNECTOR_ENCRYPTION_KEY")
            .err()
            .expect("empty");
        assert!(err.to_string().contains("keygen"));
    }

    #[test]
    fn development_key_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (first, created) = Vault::development_key(dir.path()).expect("created");
        assert!(created);
        let (second, created_again) = Vault::development_key(dir.path()).expect("reused");
        assert!(!created_again);
        assert_eq!(first.encrypting_key_id(), second.encrypting_key_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("encryption.key"))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
