//! The storage port for key rotation beyond connector configurations: the other values the
//! vault sealed that outlive a key — synced records, queued events, endpoint signing secrets —
//! read a batch at a time in a stable order, and rewritten where they are still as read.

use super::StoreError;
use async_trait::async_trait;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedKind {
    Records,
    Events,
    EndpointSecrets,
    /// The secret a rotated endpoint keeps signing with for a day.
    PreviousEndpointSecrets,
}

impl SealedKind {
    pub const ALL: [SealedKind; 4] = [
        Self::Records,
        Self::Events,
        Self::EndpointSecrets,
        Self::PreviousEndpointSecrets,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Records => "synced records",
            Self::Events => "queued events",
            Self::EndpointSecrets => "endpoint signing secrets",
            Self::PreviousEndpointSecrets => "previous endpoint signing secrets",
        }
    }
}

/// A sealed value and where it is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct SealedValue {
    /// Orders a kind's values (`after` continues from here) and names this one.
    pub position: String,
    /// The Fernet token, as text (a store keeping bytes hands them over base64-encoded).
    pub token: String,
    /// For a record: whose it is (`tenant/connector/stream/record id`, the line it is sealed
    /// with), so its change digest can be recomputed.
    pub owner: Option<String>,
}

/// A value's replacement: its new token, and for a record its digest under the new key.
#[derive(Debug, Clone, PartialEq)]
pub struct Reseal {
    pub value: SealedValue,
    pub token: String,
    pub digest: Option<String>,
}

#[async_trait]
pub trait SealedStore {
    /// Up to `limit` values of `kind` after `after`, in `position` order.
    async fn sealed_values(
        &self,
        kind: SealedKind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SealedValue>, StoreError>;

    /// Writes each replacement where its value is still as read, in one transaction; how many
    /// were replaced (a value rewritten meanwhile was written under the current key already).
    async fn reseal(&self, kind: SealedKind, changes: &[Reseal]) -> Result<u64, StoreError>;
}
