//! The vault: Fernet encryption of connector configurations.
//!
//! Several keys can be loaded at once (MultiFernet semantics): the first encrypts, every key
//! decrypts. Each ciphertext is stored with the id of the key that wrote it, so the store can tell
//! which records a key rotation still has to rewrite, and the list view can flag records that no
//! loaded key opens without decrypting anything.

mod sealer;

use crate::ids::ConnectorId;
use crate::secret::{SecretConfig, SecretString};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

pub struct Vault {
    keys: Vec<VaultKey>,
}

struct VaultKey {
    id: String,
    /// Opens tokens.
    fernet: fernet::Fernet,
    /// Writes them (the same format, faster).
    sealer: sealer::Sealer,
    /// Keys the audit chain's hashes (see `AuditKey`), derived from the Fernet key.
    audit: AuditKey,
}

/// What a sealed configuration holds: the configuration and whose it is. A ciphertext names its
/// owner, so a row copied to another tenant or connector does not open there.
#[derive(serde::Serialize, serde::Deserialize)]
struct Sealed {
    owner: String,
    config: BTreeMap<String, String>,
}

fn owner(tenant: &str, connector_id: &ConnectorId) -> String {
    format!("{tenant}/{connector_id}")
}

/// The key that makes the audit chain tamper-evident: rewriting an entry, or forging a chain
/// head, needs it, and it is derived from an encryption key that never reaches the database.
#[derive(Clone)]
pub struct AuditKey {
    /// The vault key it was derived from.
    pub(crate) id: String,
    /// HMAC-SHA256 already keyed: each use clones it (a sync digests every record).
    keyed: hmac::Hmac<Sha256>,
}

impl AuditKey {
    fn new(id: String, key: &[u8; 32]) -> Option<Self> {
        use hmac::Mac;
        let keyed = <hmac::Hmac<Sha256> as Mac>::new_from_slice(key).ok()?;
        Some(Self { id, keyed })
    }

    fn digest(&self, parts: &[&str]) -> [u8; 32] {
        use hmac::Mac;
        let mut mac = self.keyed.clone();
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }

    /// HMAC-SHA256 of `parts` (each length-prefixed), hex.
    pub(crate) fn mac(&self, parts: &[&str]) -> String {
        hex::encode(self.digest(parts))
    }

    /// The first 128 bits of `mac`, hex: enough to tell a change from a repeat.
    pub(crate) fn short_mac(&self, parts: &[&str]) -> String {
        hex::encode(&self.digest(parts)[..16])
    }
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditKey({})", self.id)
    }
}

fn derive_audit_key(key: &str) -> [u8; 32] {
    use hmac::Mac;
    let mut out = [0u8; 32];
    if let Ok(mut mac) = hmac::Hmac::<Sha256>::new_from_slice(key.as_bytes()) {
        mac.update(b"connector-hub audit chain v1");
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
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
            let malformed = VaultError::Malformed {
                var,
                position: index + 1,
            };
            let (Some(fernet), Some(sealer), Some(audit)) = (
                fernet::Fernet::new(key),
                sealer::Sealer::new(key),
                AuditKey::new(key_id(key), &derive_audit_key(key)),
            ) else {
                return Err(malformed);
            };
            keys.push(VaultKey {
                id: key_id(key),
                fernet,
                sealer,
                audit,
            });
        }
        if keys.is_empty() {
            return Err(VaultError::Missing { var });
        }
        Ok(Self { keys })
    }

    /// Reads the key list from a file (container secrets).
    pub(crate) fn from_key_file(path: &Path) -> Result<Self, VaultError> {
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
    pub(crate) fn development_key(data_dir: &Path) -> Result<(Self, bool), VaultError> {
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

    pub(crate) fn encrypting_key_id(&self) -> &str {
        &self.keys[0].id
    }

    /// How many keys are loaded (the first encrypts, all decrypt).
    pub(crate) fn key_count(&self) -> usize {
        self.keys.len()
    }

    pub(crate) fn has_key(&self, id: &str) -> bool {
        self.keys.iter().any(|k| k.id == id)
    }

    /// Encrypts a configuration under the first key, sealed to its tenant and connector;
    /// returns the token and that key's id.
    pub fn encrypt(
        &self,
        config: &SecretConfig,
        tenant: &str,
        connector_id: &ConnectorId,
    ) -> (String, String) {
        let sealed = Sealed {
            owner: owner(tenant, connector_id),
            config: config.expose().clone(),
        };
        // Strings only: this always serializes.
        let plaintext = serde_json::to_vec(&sealed).unwrap_or_default();
        let key = &self.keys[0];
        (key.sealer.seal(&[&plaintext]), key.id.clone())
    }

    /// Opens a configuration sealed by `encrypt` for this tenant and connector. A ciphertext of
    /// another owner fails like one no key opens. (Configurations written before ciphertexts named
    /// their owner hold a bare map; they open anywhere until re-sealed by `rotate-keys`.)
    pub fn decrypt(
        &self,
        token: &str,
        tenant: &str,
        connector_id: &ConnectorId,
    ) -> Result<SecretConfig, DecryptionFailed> {
        let plaintext = self.open(token)?;
        if let Ok(sealed) = serde_json::from_slice::<Sealed>(&plaintext) {
            return if sealed.owner == owner(tenant, connector_id) {
                Ok(SecretConfig::decrypted(sealed.config))
            } else {
                Err(DecryptionFailed)
            };
        }
        let values: BTreeMap<String, String> =
            serde_json::from_slice(&plaintext).map_err(|_| DecryptionFailed)?;
        Ok(SecretConfig::decrypted(values))
    }

    /// Whether a configuration's ciphertext names its owner; `false` for one written before
    /// ciphertexts did (a bare map, which opens anywhere) or one no key opens.
    pub fn names_owner(&self, token: &str) -> bool {
        self.open(token)
            .is_ok_and(|plaintext| serde_json::from_slice::<Sealed>(&plaintext).is_ok())
    }

    /// The audit chain's key: derived from the encrypting key.
    pub(crate) fn audit_key(&self) -> AuditKey {
        self.keys[0].audit.clone()
    }

    /// The audit key derived from the loaded key `id`, to verify entries written under it.
    pub(crate) fn audit_key_by_id(&self, id: &str) -> Option<AuditKey> {
        self.keys
            .iter()
            .find(|k| k.id == id)
            .map(|k| k.audit.clone())
    }

    /// Encrypts arbitrary bytes (wizard drafts, OAuth verifiers) under the first key.
    pub fn seal(&self, plaintext: &[u8]) -> String {
        self.keys[0].sealer.seal(&[plaintext])
    }

    pub(crate) fn open(&self, token: &str) -> Result<Vec<u8>, DecryptionFailed> {
        self.keys
            .iter()
            .find_map(|k| k.fernet.decrypt(token).ok())
            .ok_or(DecryptionFailed)
    }

    /// Encrypts `plaintext` bound to `owner`, a line naming whose it is (a tenant's record, event
    /// or endpoint secret): copied anywhere else, it does not open as theirs.
    pub fn seal_for(&self, owner: &str, plaintext: &[u8]) -> String {
        self.keys[0]
            .sealer
            .seal(&[owner.as_bytes(), b"\n", plaintext])
    }

    /// `seal_for` as the token's bytes rather than its base64 text (a quarter smaller: synced
    /// records, which a store keeps by the million).
    pub fn seal_bytes_for(&self, owner: &str, plaintext: &[u8]) -> Vec<u8> {
        self.keys[0]
            .sealer
            .seal_raw(&[owner.as_bytes(), b"\n", plaintext])
    }

    /// Opens what `seal_bytes_for` sealed for `owner`.
    pub(crate) fn open_bytes_for(&self, owner: &str, token: &[u8]) -> Option<Vec<u8>> {
        use base64::Engine;
        self.open_for(
            owner,
            &base64::engine::general_purpose::URL_SAFE.encode(token),
        )
    }

    /// Opens what `seal_for` sealed for `owner`; `None` when it does not open, or is another's.
    pub(crate) fn open_for(&self, owner: &str, token: &str) -> Option<Vec<u8>> {
        let opened = self.open(token).ok()?;
        let rest = opened.strip_prefix(owner.as_bytes())?.strip_prefix(b"\n")?;
        Some(rest.to_vec())
    }
}

/// What key rotation makes of a sealed value.
pub(crate) enum Resealed {
    /// Sealed under the encrypting key already.
    Current,
    /// Opened with an older key and sealed again under the encrypting key.
    Rewritten { token: String, plaintext: Vec<u8> },
    /// No loaded key opens it.
    Unopenable,
}

impl Vault {
    /// Seals `token` again under the encrypting key if an older key sealed it.
    pub(crate) fn reseal(&self, token: &str) -> Resealed {
        if self.keys[0].fernet.decrypt(token).is_ok() {
            return Resealed::Current;
        }
        match self.keys[1..]
            .iter()
            .find_map(|k| k.fernet.decrypt(token).ok())
        {
            Some(plaintext) => Resealed::Rewritten {
                token: self.seal(&plaintext),
                plaintext,
            },
            None => Resealed::Unopenable,
        }
    }
}

/// A short, stable, non-reversible name for a key.
fn key_id(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    hex::encode(&digest[..6])
}

/// Writes a file readable by its owner only.
pub(crate) fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
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

    fn conn(n: u8) -> ConnectorId {
        ConnectorId::parse(&format!("conn-{n:020x}")).expect("id")
    }

    fn config() -> SecretConfig {
        SecretConfig::decrypted(BTreeMap::from([(
            "api_key".into(),
            "sk_test_CANARY".into(),
        )]))
    }

    #[test]
    fn round_trip_and_ciphertext_hides_the_secret() {
        let vault = Vault::from_key_list(&SecretString::new(generate_key()), "K").expect("key");
        let (token, id) = vault.encrypt(&config(), "acme", &conn(1));
        assert!(!token.contains("CANARY"));
        assert_eq!(id, vault.encrypting_key_id());
        assert_eq!(
            vault.decrypt(&token, "acme", &conn(1)).expect("decrypts"),
            config()
        );
    }

    #[test]
    fn bytes_sealed_for_an_owner_open_only_for_it() {
        let vault = Vault::from_key_list(&SecretString::new(generate_key()), "K").expect("key");
        let token = vault.seal_for("acme/conn-1/customers/cus\n1", b"{\"a\":1}");
        assert_eq!(
            vault
                .open_for("acme/conn-1/customers/cus\n1", &token)
                .as_deref(),
            Some(&b"{\"a\":1}"[..]),
            "an owner holding a line break included"
        );
        assert_eq!(
            vault.open_for("globex/conn-1/customers/cus\n1", &token),
            None
        );
        assert_eq!(vault.open_for("acme/conn-2/customers/cus\n1", &token), None);
    }

    #[test]
    fn a_ciphertext_opens_only_for_its_owner() {
        let vault = Vault::from_key_list(&SecretString::new(generate_key()), "K").expect("key");
        let (token, _) = vault.encrypt(&config(), "acme", &conn(1));
        assert!(
            vault.decrypt(&token, "globex", &conn(1)).is_err(),
            "another tenant"
        );
        assert!(
            vault.decrypt(&token, "acme", &conn(2)).is_err(),
            "another connector"
        );
        assert!(vault.decrypt(&token, "acme", &conn(1)).is_ok());
    }

    #[test]
    fn the_audit_key_follows_the_encryption_key() {
        let (k1, k2) = (generate_key(), generate_key());
        let one = Vault::from_key_list(&SecretString::new(k1.clone()), "K").expect("k1");
        let both =
            Vault::from_key_list(&SecretString::new(format!("{k2},{k1}")), "K").expect("both");
        let old = one.audit_key();
        assert_eq!(
            both.audit_key_by_id(&old.id).map(|k| k.mac(&["x"])),
            Some(old.mac(&["x"]))
        );
        assert_ne!(both.audit_key().mac(&["x"]), old.mac(&["x"]));
        assert_ne!(
            old.mac(&["ab", "c"]),
            old.mac(&["a", "bc"]),
            "parts are delimited"
        );
    }

    #[test]
    fn first_key_encrypts_every_key_decrypts() {
        let (k1, k2) = (generate_key(), generate_key());
        let old = Vault::from_key_list(&SecretString::new(k1.clone()), "K").expect("k1");
        let (token, old_id) = old.encrypt(&config(), "t", &conn(3));
        let both =
            Vault::from_key_list(&SecretString::new(format!("{k2}, {k1}")), "K").expect("k2,k1");
        assert!(both.decrypt(&token, "t", &conn(3)).is_ok());
        assert!(both.has_key(&old_id));
        assert_ne!(both.encrypting_key_id(), old_id);
        let only_new = Vault::from_key_list(&SecretString::new(k2), "K").expect("k2");
        assert!(only_new.decrypt(&token, "t", &conn(3)).is_err());
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
